"""Prompt -> completion JSONL: strict reading, loss only on completions."""

import json

import numpy as np
import pytest

from zoo.data import completions
from zoo.data import tokenizers


def write(path, lines):
    path.write_text("\ufeff" + "".join(lines), encoding="utf-8")  # with a BOM
    return str(path)


def test_read_jsonl_skips_blank_lines_and_names_bad_ones(tmp_path):
    good = write(tmp_path / "a.jsonl", [
        json.dumps({"prompt": "2 in words:", "completion": " two"}) + "\n",
        "\n",
        json.dumps({"prompt": "", "completion": " x", "extra": 1}) + "\n"])
    pairs, lines = completions.read_jsonl([good])
    assert pairs == [("2 in words:", " two"), ("", " x")]
    assert lines == [(good, 1), (good, 3)]
    for line, message in [
        ('{"prompt": "a"', "not valid JSON"),
        ('["a", "b"]', 'expected an object with "prompt" and "completion"'),
        ('{"prompt": 1, "completion": "b"}', '"prompt" and "completion" must be strings'),
        ('{"prompt": "a", "completion": ""}', "the completion is empty"),
    ]:
        bad = write(tmp_path / "bad.jsonl", [
            json.dumps({"prompt": "a", "completion": "b"}) + "\n", line + "\n"])
        with pytest.raises(ValueError, match=f"bad.jsonl, line 2: {message}"):
            completions.read_jsonl([bad])


@pytest.fixture(scope="module")
def tokenizer():
    return tokenizers.train_characters(["0123456789 abcdefghijklmnopqrstuvwxyz:"])


def test_loss_weights_cover_the_completion_and_end_token_only(tokenizer):
    pairs = [("12:", " ab"), ("7:", " c")]
    encoded = completions.encode_completions(
        tokenizer, pairs, 16, [("f", 1), ("f", 2)])
    prompt, completion = encoded[0]
    assert len(prompt) == 3 and len(completion) == 4  # " ab" + end
    assert completion[-1] == tokenizer.end_token_id
    x, labels, weights = next(iter(
        completions.completion_batches(encoded, 2, training=False)))
    tokens = np.concatenate(encoded[0])
    np.testing.assert_array_equal(x["token_ids"][0], tokens[:-1])
    np.testing.assert_array_equal(labels[0], tokens[1:])
    # Labels 0..5 are tokens 1..6: "2", ":" (prompt), " ", "a", "b", end.
    np.testing.assert_array_equal(weights[0], [0, 0, 1, 1, 1, 1])
    # The shorter example is padded; padding has weight 0 and mask False.
    np.testing.assert_array_equal(weights[1], [0, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(x["padding_mask"][1],
                                  [True] * 4 + [False] * 2)


def test_too_long_examples_name_their_line(tokenizer):
    with pytest.raises(ValueError, match=r"f, line 9: 8 tokens with the end "
                       r"token, more than --sequence_length=6"):
        completions.encode_completions(tokenizer, [("12:", " ab ")], 6,
                                       [("f", 9)])
