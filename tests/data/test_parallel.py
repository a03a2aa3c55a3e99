"""Line-aligned parallel files: strict reading and length-checked encoding."""

import numpy as np
import pytest

from zoo.data import parallel
from zoo.data import tokenizers


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_reads_aligned_lines(tmp_path):
    source = write(tmp_path / "a.de", "Ein Hund.\r\nZwei Katzen.\n")
    target = write(tmp_path / "a.en", "A dog.\nTwo cats.")
    assert parallel.read_parallel(source, target) == (
        ["Ein Hund.", "Zwei Katzen."], ["A dog.", "Two cats."])


def test_mismatched_line_counts_name_both_files(tmp_path):
    source = write(tmp_path / "a.de", "Ein Hund.\nZwei Katzen.\n")
    target = write(tmp_path / "a.en", "A dog.\n")
    with pytest.raises(ValueError, match=r"a.de has 2 lines but .*a.en has 1"):
        parallel.read_parallel(source, target)


def test_an_empty_line_names_its_file_and_line(tmp_path):
    source = write(tmp_path / "a.de", "Ein Hund.\nZwei Katzen.\nDrei.\n")
    target = write(tmp_path / "a.en", "A dog.\n  \nThree.\n")
    with pytest.raises(ValueError, match=r"a.en, line 2: empty line"):
        parallel.read_parallel(source, target)


def test_encode_pairs_appends_the_end_token_and_refuses_long_pairs():
    tokenizer = tokenizers.train_sentence_piece(
        ["a dog runs\nein hund läuft\n" * 20], vocabulary_size=60,
        num_sentinels=0)
    pairs = parallel.encode_pairs(tokenizer, ["ein hund"], ["a dog"], 16,
                                  ("x.de", "x.en"))
    source, target = pairs[0]
    assert target[-1] == tokenizer.end_token_id
    assert tokenizer.end_token_id not in source
    with pytest.raises(ValueError, match=r"x.en, line 2: \d+ tokens with the "
                       r"start and end tokens, more than --sequence_length=5"):
        parallel.encode_pairs(tokenizer, ["a", "a"],
                              ["a", "a dog runs a dog runs"], 5,
                              ("x.de", "x.en"))


def test_slices_yield_dense_rows_that_batch():
    rows = parallel.ragged([np.arange(3), np.arange(1)])
    dataset = parallel.slices(({"ids": rows}, rows)).padded_batch(2)
    x, y = next(iter(dataset))
    np.testing.assert_array_equal(x["ids"], [[0, 1, 2], [0, 0, 0]])
    np.testing.assert_array_equal(y, x["ids"])


def test_a_tokenizer_that_ends_texts_keeps_one_end_token(tmp_path):
    """MarianMT's tokenizer ends every text with </s>: sources keep it,
    targets get no second one."""
    from marian_files import write_tokenizer

    from zoo.convert import read_tokenizer

    write_tokenizer(tmp_path)
    (tmp_path / "config.json").write_text('{"model_type": "marian"}')
    tokenizer = read_tokenizer(str(tmp_path))
    [(source, target)] = parallel.encode_pairs(
        tokenizer, ["a small frog"], ["ein kleiner Frosch"], 32)
    end = tokenizer.end_token_id
    assert source[-1] == end and target[-1] == end
    assert list(source).count(end) == list(target).count(end) == 1
