"""`zoo.show.attention` and `python -m zoo.show attention`: the arrays are
the model's, the picture a PNG."""

import os
import subprocess
import sys

import numpy as np
import pytest
from backends import ROOT
from backends import backend_env
from matplotlib import image

import zoo.show
from zoo.data.tokenizers import tokenize_lines

TEXT = "the cat sat on the mat"


def check_rows(probabilities, queries, keys, num_heads=2):
    assert probabilities.shape == (num_heads, len(queries), len(keys))
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)


def test_bert_reads_cls_text_sep(bert_task):
    maps = zoo.show.attention(bert_task, TEXT)
    found = maps["self_attention"]
    assert found.queries[0] == "[CLS]" and found.queries[-1] == "[SEP]"
    assert found.queries == found.keys
    check_rows(found.probabilities, found.queries, found.keys)
    assert np.all(found.probabilities > 0)  # no mask on one text


def test_gpt_attention_is_the_causal_triangle(gpt_task):
    maps = zoo.show.attention(gpt_task, TEXT, layer=0)
    found = maps["self_attention"]
    assert "".join(found.queries) == TEXT.replace(" ", "␣")  # characters
    check_rows(found.probabilities, found.queries, found.keys)
    assert np.all(np.triu(found.probabilities, k=1) == 0)
    # The arrays are the backbone's own, layer 0.
    ids = tokenize_lines(gpt_task.tokenizer, [TEXT])[0][None]
    _, scores = gpt_task.backbone({"token_ids": ids},
                                  return_attention_scores=True)
    np.testing.assert_allclose(found.probabilities,
                               np.asarray(scores["self_attention"][0])[0],
                               atol=1e-6)


def test_transformer_translates_then_shows_three_kinds(transformer_task):
    maps = zoo.show.attention(transformer_task, TEXT, max_new_tokens=5)
    assert list(maps) == ["encoder_self_attention", "decoder_self_attention",
                          "cross_attention"]
    source = maps["encoder_self_attention"].keys
    target = maps["decoder_self_attention"].queries
    assert target[0] == "<s>" and 1 <= len(target) <= 6
    assert maps["cross_attention"].queries == target
    assert maps["cross_attention"].keys == source
    for found in maps.values():
        check_rows(found.probabilities, found.queries, found.keys)
    decoder = maps["decoder_self_attention"].probabilities
    assert np.all(np.triu(decoder, k=1) == 0)


def test_layer_out_of_range_is_refused(gpt_task):
    with pytest.raises(ValueError, match="0 to 1"):
        zoo.show.attention(gpt_task, TEXT, layer=2)


def check_png(path, min_size=200):
    with open(path, "rb") as file:
        assert file.read(8) == b"\x89PNG\r\n\x1a\n"
    pixels = image.imread(path)
    assert pixels.ndim == 3 and min(pixels.shape[:2]) >= min_size
    assert pixels.std() > 0  # not blank


def test_draw_writes_a_png(transformer_task, tmp_path):
    maps = zoo.show.attention(transformer_task, TEXT, max_new_tokens=5)
    path = zoo.show.draw(maps, str(tmp_path / "maps.png"), "a title")
    check_png(path)


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "zoo.show", *args], cwd=ROOT,
        env=backend_env(os.environ.get("KERAS_BACKEND", "tensorflow")),
        capture_output=True, text=True, timeout=300)


def test_command_line_draws_a_saved_model(gpt_task, tmp_path):
    gpt_task.save(str(tmp_path / "model.keras"))
    output = tmp_path / "gpt.png"
    result = run_cli("attention", f"--model_dir={tmp_path}", f"--text={TEXT}",
                     f"--output={output}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"Wrote {output}" in result.stdout
    check_png(output)


def test_command_line_errors_are_one_line(tmp_path):
    result = run_cli("attention", f"--model_dir={tmp_path / 'missing'}",
                     "--text=hi")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"zoo.show: error: No model dir at {tmp_path / 'missing'}.")


def test_command_line_generates_what_the_task_generates(gpt_task, bert_task,
                                                        tmp_path):
    gpt_task.save(str(tmp_path / "model.keras"))
    result = run_cli("generate", f"--model_dir={tmp_path}", f"--text={TEXT}",
                     "--sampler=greedy", "--max_new_tokens=5")
    assert result.returncode == 0, result.stderr[-2000:]
    expected = gpt_task.generate([TEXT], max_new_tokens=5, sampler="greedy")
    assert result.stdout == expected[0] + "\n"
    bert_task.save(str(tmp_path / "bert.keras"))
    result = run_cli("generate", f"--model_dir={tmp_path / 'bert.keras'}",
                     "--text=hi")
    assert result.returncode == 1
    assert "which does not generate" in result.stderr.strip().splitlines()[-1]
