"""Each fine-tuning recipe, end to end, as a user runs it: a subprocess on
tiny files the test writes. `--init_from` must load the pretrained weights:
with a learning rate of 0 the fine-tuned backbone computes exactly what the
pretrained one does, and not what a fresh initialization does."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from hub_presets import bert_preset
from hub_presets import gpt2_preset
from recipe_runner import TINY
from recipe_runner import assert_png
from recipe_runner import run_recipe

import zoo  # noqa: F401  (registers the classes model.keras needs)
from zoo.data import labelled
from zoo.data import numbers

SHORT = ["--batch_size=4", "--steps=2", "--checkpoint_every=2", "--warmup_steps=1"]
# As good as frozen (a learning rate must be above 0): Adam moves each
# weight by about 1e-12.
FROZEN = ["--learning_rate=1e-12", "--dropout=0.0"]


def load(model_dir):
    return keras.saving.load_model(os.path.join(model_dir, "model.keras"))


def evaluation(model_dir):
    return json.load(open(os.path.join(model_dir, "evaluation.json")))


def assert_same_backbone(tuned, pretrained, inputs):
    """`tuned` computes what `pretrained` does, unlike a fresh init."""
    fresh = type(pretrained).from_config(pretrained.get_config())

    def output(backbone):
        result = backbone(inputs)
        result = result["sequence_output"] if isinstance(result, dict) else result
        return np.asarray(result)

    np.testing.assert_allclose(output(tuned), output(pretrained), atol=1e-5)
    assert not np.allclose(output(fresh), output(pretrained), atol=1e-3)


# Translation ------------------------------------------------------------------


@pytest.fixture(scope="module")
def parallel_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("parallel")
    paths = {}
    for split, values in zip(("train", "val", "test"),
                             numbers.splits((60, 8, 8), seed=1)):
        for side, spell in (("en", numbers.english), ("de", numbers.german)):
            path = folder / f"{split}.{side}"
            path.write_text("\n".join(spell(n) for n in values) + "\n")
            paths[f"{split}.{side}"] = str(path)
    return paths


def translation_flags(files):
    return [f"--train_source={files['train.en']}",
            f"--train_target={files['train.de']}",
            f"--validation_source={files['val.en']}",
            f"--validation_target={files['val.de']}",
            f"--test_source={files['test.en']}",
            f"--test_target={files['test.de']}"]


def test_transformer_finetune_from_scratch(parallel_files, tmp_path):
    model_dir = str(tmp_path / "run")
    run_recipe("transformer_finetune", f"--model_dir={model_dir}", *TINY,
               *SHORT, "--vocabulary_size=200", "--num_beams=2",
               *translation_flags(parallel_files))
    results = evaluation(model_dir)
    for sampler in ("greedy", "beam"):
        assert 0.0 <= results[sampler]["bleu"] <= 100.0
        assert "tok:13a" in results[sampler]["signature"]
    assert results["examples"] == 8
    buckets = results["greedy"]["bleu_by_length"]
    assert sum(b["sentences"] for b in buckets) == 8
    assert_png(os.path.join(model_dir, "evaluation.png"))
    lines = open(os.path.join(model_dir, "translations.txt")).read()
    assert lines.count("reference: ") == 8
    task = load(model_dir)
    assert task.label_smoothing == 0.1
    assert isinstance(task.generate(["one"], max_new_tokens=4), list)


def test_transformer_finetune_init_from_pretraining(parallel_files, pretrained,
                                                     tmp_path):
    pretrained_dir = pretrained("transformer_pretrain")
    model_dir = str(tmp_path / "tuned")
    flags = [f"--model_dir={model_dir}", *SHORT, *FROZEN, "--num_beams=2",
             "--test_examples=2", *translation_flags(parallel_files)]
    refused = run_recipe("transformer_finetune", *flags,
                         f"--init_from={pretrained_dir}",
                         "--override=num_layers=2", check=False)
    assert refused.returncode != 0
    assert "brings its own architecture and tokenizer; drop --override" \
        in refused.stderr
    run_recipe("transformer_finetune", *flags, f"--init_from={pretrained_dir}")
    pretrained, tuned = load(pretrained_dir), load(model_dir)
    assert tuned.tokenizer.proto == pretrained.tokenizer.proto
    ids = np.array([[20, 30, 40, 3], [50, 60, 3, 0]], "int32")
    inputs = {"encoder_token_ids": ids, "encoder_padding_mask": ids > 0,
              "decoder_token_ids": ids, "decoder_padding_mask": ids > 0}
    assert_same_backbone(tuned.backbone, pretrained.backbone, inputs)


@pytest.mark.parametrize("text, message", [
    ("eins\nzwei\n", "train.en has 60 lines but {path} has 2"),
    ("eins\n\n" + "zwei\n" * 58, "{path}, line 2: empty line"),
])
def test_transformer_finetune_bad_parallel_files(parallel_files, tmp_path,
                                                 text, message):
    path = tmp_path / "bad.de"
    path.write_text(text)
    result = run_recipe(
        "transformer_finetune", f"--model_dir={tmp_path / 'run'}", *SHORT,
        *translation_flags({**parallel_files, "train.de": str(path)}),
        check=False)
    assert result.returncode != 0
    assert message.format(path=path) in result.stderr


# BERT -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def conll_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("conll")
    sentence = ("Empire\tB-location\nState\tI-location\nBuilding\tI-location\n"
                "by\tO\nApple\tB-corporation\n")
    paths = {}
    for split, count in (("train", 12), ("dev", 3)):
        path = folder / f"{split}.conll"
        path.write_text("\t\n".join([sentence] * count))  # tab separator lines
        paths[split] = str(path)
    return paths


def test_bert_finetune_classify_from_scratch_and_resume(tsv_files, tmp_path):
    model_dir = str(tmp_path / "run")
    flags = [f"--model_dir={model_dir}", *TINY, *SHORT,
             "--vocabulary_size=100", f"--train_file={tsv_files['train']}",
             f"--validation_file={tsv_files['dev']}"]
    run_recipe("bert_finetune", *flags, "--steps=4", "--stop_after=2")
    run_recipe("bert_finetune", *flags, "--steps=4", "--resume")
    metrics = json.load(open(os.path.join(model_dir, "metrics.json")))
    assert metrics["steps"] == 4 and metrics["resumed_from_step"] == 2
    results = evaluation(model_dir)
    assert results["validation"]["examples"] == 3
    assert set(results["validation"]) >= {"accuracy", "f1"}
    assert np.sum(results["validation"]["confusion"]) == 3
    assert_png(os.path.join(model_dir, "evaluation.png"))
    assert json.load(open(os.path.join(model_dir, "labels.json"))) == ["0", "1"]
    task = load(model_dir)
    assert task.num_classes == 2

    # The run exports as a SavedModel that classifies text, with its labels.
    export_dir = str(tmp_path / "export")
    result = run_recipe("export", f"--model_dir={model_dir}",
                        f"--export_dir={export_dir}")
    assert '"classify"' in result.stdout
    served = tf.saved_model.load(export_dir)
    texts = ["a fine film", "dull"]
    outputs = served.signatures["serving_default"](text=tf.constant(texts))
    examples = labelled.encode_texts(task.tokenizer, [(t,) for t in texts],
                                     128, False, "x", [1, 2])
    logits = [np.asarray(task.predict_on_batch(
        {"token_ids": ids[None], "segment_ids": segments[None],
         "padding_mask": np.ones_like(ids)[None]}))[0]
        for ids, segments in examples]
    np.testing.assert_allclose(outputs["probabilities"],
                               [np.exp(x) / np.exp(x).sum() for x in logits],
                               atol=1e-5)
    assert set(outputs["label"].numpy()) <= {b"0", b"1"}
    again = run_recipe("export", f"--model_dir={model_dir}",
                       f"--export_dir={export_dir}", check=False)
    assert again.returncode != 0 and "--overwrite" in again.stderr


def test_bert_finetune_tag_init_from_pretraining(conll_files, pretrained,
                                                 tmp_path):
    pretrained_dir = pretrained("bert_pretrain")
    model_dir = str(tmp_path / "tuned")
    run_recipe("bert_finetune", f"--model_dir={model_dir}", "--task=tag",
               f"--init_from={pretrained_dir}", *SHORT, *FROZEN,
               f"--train_file={conll_files['train']}",
               f"--validation_file={conll_files['dev']}",
               f"--test_file={conll_files['dev']}")
    results = evaluation(model_dir)
    assert results["labels"] == ["O", "B-corporation", "I-corporation",
                                 "B-location", "I-location"]
    assert results["test"]["true_entities"] == 6
    assert_png(os.path.join(model_dir, "evaluation.png"))
    assert 0.0 <= results["test"]["f1"] <= 1.0
    pretrained, tuned = load(pretrained_dir), load(model_dir)
    ids = np.array([[2, 30, 40, 50, 3], [2, 60, 3, 0, 0]], "int32")
    inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids),
              "padding_mask": ids > 0}
    assert_same_backbone(tuned.backbone, pretrained.backbone, inputs)


def test_bert_finetune_init_from_a_keras_hub_preset(tsv_files, tmp_path):
    hub_backbone, _ = bert_preset(tmp_path / "preset")
    model_dir = str(tmp_path / "tuned")
    run_recipe("bert_finetune", f"--model_dir={model_dir}",
               f"--init_from={tmp_path / 'preset'}", *SHORT, *FROZEN,
               f"--train_file={tsv_files['train']}",
               f"--validation_file={tsv_files['dev']}")
    ids = np.array([[2, 10, 20, 30, 3], [2, 40, 3, 0, 0]], "int32")
    inputs = {"token_ids": ids, "segment_ids": np.zeros_like(ids),
              "padding_mask": ids > 0}
    np.testing.assert_allclose(
        load(model_dir).backbone(inputs)["sequence_output"],
        hub_backbone(inputs)["sequence_output"], atol=1e-5)


@pytest.mark.parametrize("task, train, dev, message", [
    ("classify", "sentence\tlabel\ngood\t1\nbad\t0\t?\n", None,
     "train.tsv, line 3: 3 tab-separated columns"),
    ("classify", None, "sentence\tlabel\ngood\t1\nmeh\t2\n",
     "dev.tsv, line 3: label '2' was not seen in the training data"),
    ("tag", None, "New\tB-location\n\nSmith\tB-person\n",
     "dev.conll, line 3: tag 'B-person' was not seen in the training data"),
    ("tag", "New\tB-location\nYork\tE-location\n", None,
     "train.conll, line 2: tag 'E-location' is not in the BIO scheme"),
])
def test_bert_finetune_bad_files(tsv_files, conll_files, tmp_path, task,
                                 train, dev, message):
    paths = dict(tsv_files if task == "classify" else conll_files)
    suffix = "tsv" if task == "classify" else "conll"
    for name, text in (("train", train), ("dev", dev)):
        if text is not None:
            paths[name] = str(tmp_path / f"{name}.{suffix}")
            open(paths[name], "w").write(text)
    result = run_recipe("bert_finetune", f"--model_dir={tmp_path / 'run'}",
                        f"--task={task}", f"--train_file={paths['train']}",
                        f"--validation_file={paths['dev']}", check=False)
    assert result.returncode != 0 and message in result.stderr


# GPT ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jsonl_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jsonl")
    paths = {}
    for split, values in zip(("train", "dev"),
                             numbers.splits((40, 6), seed=2)):
        path = folder / f"{split}.jsonl"
        path.write_text("".join(
            json.dumps({"prompt": f"{n} in words:",
                        "completion": f" {numbers.english(n)}"}) + "\n"
            for n in values))
        paths[split] = str(path)
    return paths


GPT_TINY = TINY + ["--override=max_sequence_length=48",
                   "--vocabulary_size=300"]


def test_gpt_finetune_completion_from_scratch(jsonl_files, tmp_path):
    model_dir = str(tmp_path / "run")
    result = run_recipe("gpt_finetune", f"--model_dir={model_dir}",
                        *GPT_TINY, *SHORT, "--samples=2",
                        f"--train_files={jsonl_files['train']}",
                        f"--validation_files={jsonl_files['dev']}")
    results = evaluation(model_dir)
    assert 0.0 <= results["exact_match"] <= 1.0
    samples = open(os.path.join(model_dir, "samples.txt")).read()
    assert samples.count("before: ") == 2 and samples.count("after: ") == 2
    assert "exact greedy completions of validation prompts" in result.stdout

    # Exported, it generates what the model generates in Python.
    export_dir = str(tmp_path / "export")
    run_recipe("export", f"--model_dir={model_dir}",
               f"--export_dir={export_dir}")
    served = tf.saved_model.load(export_dir)
    prompts = ["12 in words:", "7 in words:"]
    outputs = served.signatures["generate"](
        prompt=tf.constant(prompts), max_new_tokens=tf.constant(6))
    assert [t.decode() for t in outputs["text"].numpy()] == load(
        model_dir).generate(prompts, max_new_tokens=6)


def test_gpt_finetune_text_init_from_pretraining(text_file, pretrained,
                                                 tmp_path):
    pretrained_dir = pretrained("gpt_pretrain")
    model_dir = str(tmp_path / "tuned")
    run_recipe("gpt_finetune", f"--model_dir={model_dir}", "--task=text",
               f"--init_from={pretrained_dir}", *SHORT, *FROZEN,
               "--samples=1", f"--train_files={text_file}",
               f"--validation_files={text_file}")
    pretrained, tuned = load(pretrained_dir), load(model_dir)
    ids = np.array([[5, 6, 7, 8], [9, 10, 0, 0]], "int32")
    assert_same_backbone(tuned.backbone, pretrained.backbone,
                         {"token_ids": ids, "padding_mask": ids > 0})


def test_gpt_finetune_init_from_a_keras_hub_preset(jsonl_files, tmp_path):
    hub_backbone, _ = gpt2_preset(tmp_path / "preset")
    model_dir = str(tmp_path / "tuned")
    run_recipe("gpt_finetune", f"--model_dir={model_dir}",
               f"--init_from={tmp_path / 'preset'}", *SHORT, *FROZEN,
               "--samples=1", f"--train_files={jsonl_files['train']}",
               f"--validation_files={jsonl_files['dev']}")
    ids = np.array([[5, 6, 7, 8], [9, 10, 0, 0]], "int32")
    inputs = {"token_ids": ids, "padding_mask": ids > 0}
    np.testing.assert_allclose(load(model_dir).backbone(inputs),
                               hub_backbone(inputs), atol=1e-5)


def test_gpt_finetune_bad_jsonl_and_wrong_family(jsonl_files, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "1 in words:", "completion": " one"}\n'
                   '{"prompt": "2 in words:"}\n')
    result = run_recipe("gpt_finetune", f"--model_dir={tmp_path / 'a'}",
                        f"--train_files={bad}",
                        f"--validation_files={jsonl_files['dev']}",
                        check=False)
    assert result.returncode != 0
    assert "bad.jsonl, line 2: expected an object with" in result.stderr
    bert_dir = tmp_path / "bert"
    bert_preset(bert_dir)
    result = run_recipe("gpt_finetune", f"--model_dir={tmp_path / 'b'}",
                        f"--init_from={bert_dir}", check=False)
    assert result.returncode != 0
    assert "has a BertEncoder backbone; this recipe fine-tunes a GPTDecoder" \
        in result.stderr
