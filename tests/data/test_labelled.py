"""GLUE-style TSV and CoNLL BIO files: strict reading and encoding."""

import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from zoo.data import labelled
from zoo.data import tokenizers


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_read_tsv_one_and_two_sentence_columns(tmp_path):
    path = write(tmp_path / "sst.tsv", "sentence\tlabel\ngood film \t1\nbad\t0\n")
    texts, labels, lines, columns = labelled.read_tsv(path)
    assert texts == [("good film ",), ("bad",)] and labels == ["1", "0"]
    assert lines == [2, 3] and columns == ["sentence"]
    path = write(tmp_path / "rte.tsv",
                 "index\tsentence1\tsentence2\tlabel\n0\tA\tB\tentailment\n")
    texts, labels, _, columns = labelled.read_tsv(path)
    assert texts == [("A", "B")] and columns == ["sentence1", "sentence2"]


@pytest.mark.parametrize("text, message", [
    ("sentence\tlabel\ngood\t1\nbad\t0\textra\n",
     r"train.tsv, line 3: 3 tab-separated columns, but the header has 2"),
    ("sentence\tlabel\ngood\t\n", r"train.tsv, line 2: empty label"),
    ("text\tgold\ngood\t1\n", r"train.tsv, line 1: no 'label' column"),
    ("a\tb\tc\tlabel\nx\ty\tz\t1\n", r"3 sentence columns"),
    ("sentence\tlabel\n", r"header but no examples"),
])
def test_read_tsv_errors_name_file_and_line(tmp_path, text, message):
    path = write(tmp_path / "train.tsv", text)
    with pytest.raises(ValueError, match=message):
        labelled.read_tsv(path)


def test_label_order_and_labels_unseen_in_training():
    names = labelled.sort_labels(["10", "0", "2", "2"])
    assert names == ["0", "2", "10"]  # numeric order
    assert labelled.sort_labels(["neg", "pos", "nan"]) == ["nan", "neg", "pos"]
    with pytest.raises(ValueError, match="train.tsv has only the label"):
        labelled.sort_labels(["1", "1"], "train.tsv")
    with pytest.raises(ValueError, match="train.conll tags no entity"):
        labelled.tag_names([["O", "O"]], "train.conll")
    np.testing.assert_array_equal(
        labelled.label_ids(["2", "0"], names, "dev.tsv", [2, 3]), [1, 0])
    with pytest.raises(ValueError, match=r"dev.tsv, line 3: label '1' was "
                       "not seen in the training data"):
        labelled.label_ids(["2", "1"], names, "dev.tsv", [2, 3])


def wordpiece():
    return tokenizers.train_wordpiece(
        ["the cat sat on the mat in new york city " * 50], vocabulary_size=80)


def test_encode_texts_packs_pairs_and_refuses_or_truncates_long_ones():
    tokenizer = wordpiece()
    [(ids, segments)] = labelled.encode_texts(
        tokenizer, [("the cat", "the mat")], 16, False, "x.tsv", [2])
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    assert ids[0] == cls and list(ids).count(sep) == 2 and ids[-1] == sep
    assert list(segments) == [0] * (list(ids).index(sep) + 1) + [1] * (
        len(ids) - list(ids).index(sep) - 1)
    long = [("the cat sat on the mat", "the cat")]
    with pytest.raises(ValueError, match=r"x.tsv, line 7: .* --truncate"):
        labelled.encode_texts(tokenizer, long, 6, False, "x.tsv", [7])
    [(ids, segments)] = labelled.encode_texts(tokenizer, long, 6, True,
                                              "x.tsv", [7])
    assert len(ids) == 6 and list(ids).count(sep) == 2



@pytest.mark.parametrize("first, second, length", [
    (10, 3, 11), (3, 10, 11), (10, 10, 10), (10, 10, 11), (2, 2, 9), (0, 5, 6),
])
def test_truncation_keeps_what_keras_hubs_round_robin_packer_keeps(
        first, second, length):
    a, b = list(range(1, first + 1)), list(range(100, 100 + second))
    packer = keras_hub.layers.MultiSegmentPacker(
        sequence_length=length, start_value=-1, end_value=-2, pad_value=0,
        truncate="round_robin")
    ids, _ = packer((tf.ragged.constant([a], "int32"),
                     tf.ragged.constant([b], "int32")))
    kept = [i for i in np.asarray(ids)[0].tolist() if i > 0]
    cut = labelled.round_robin([a, b], length - 3)
    assert kept == cut[0] + cut[1]


CONLL = ("-DOCSTART-\tO\n\n"
         "Empire\tB-location\nState\tI-location\nis\tO\n\t\n"  # a tab line
         "New\tB-location\nYork\tI-location\n \n\n"
         "cats\tO\n")


def test_read_conll_treats_whitespace_lines_as_separators(tmp_path):
    path = write(tmp_path / "train.conll", CONLL)
    sentences, tags, lines = labelled.read_conll(path)
    assert sentences == [["Empire", "State", "is"], ["New", "York"], ["cats"]]
    assert tags[0] == ["B-location", "I-location", "O"]
    assert lines[1] == [7, 8]
    assert labelled.tag_names(tags) == ["O", "B-location", "I-location"]


@pytest.mark.parametrize("text, message", [
    ("Empire\tB-location\nState\tE-location\n",
     r"train.conll, line 2: tag 'E-location' is not in the BIO scheme"),
    ("Empire\tB-location\nState\tNNP\tI-location\n",
     r"train.conll, line 2: 3 columns, but the file's first token line has 2"),
    ("Empire\n", r"train.conll, line 1: 'Empire' has one column"),
    ("\n\n", r"holds no tagged tokens"),
])
def test_read_conll_errors_name_file_and_line(tmp_path, text, message):
    path = write(tmp_path / "train.conll", text)
    with pytest.raises(ValueError, match=message):
        labelled.read_conll(path)


def test_tags_unseen_in_training_are_errors():
    names = ["O", "B-location", "I-location"]
    with pytest.raises(ValueError, match=r"test.conll, line 5: tag 'B-person' "
                       "was not seen"):
        labelled.tag_ids([["O", "B-person"]], names, "test.conll", [[4, 5]])


def test_encode_words_marks_the_first_piece_of_each_word():
    tokenizer = wordpiece()
    words = [["the", "catsat", "york"]]
    [(ids, first)] = labelled.encode_words(tokenizer, words, 32, "x", [[1, 2, 3]])
    pieces = [len(np.asarray(tokenizer.tokenize(w))) for w in words[0]]
    assert pieces[1] > 1  # "catsat" splits into several pieces
    assert first.sum() == 3 and not first[0] and not first[-1]
    starts = 1 + np.cumsum([0] + pieces[:-1])
    assert list(np.flatnonzero(first)) == list(starts)
    with pytest.raises(ValueError, match=r"x, lines 1-3: the sentence is \d+ "
                       "tokens"):
        labelled.encode_words(tokenizer, words, 4, "x", [[1, 2, 3]])
