"""`--init_from`: pretrained backbones from zoo model dirs and keras-hub
presets, and clear errors for anything else."""

import json
import os

import keras
import numpy as np
import pytest
from hub_presets import bert_preset
from hub_presets import gpt2_preset

from zoo.data import tokenizers
from zoo.models import BertEncoder
from zoo.models import GPTDecoder
from zoo.models import Transformer
from zoo.tasks import SequenceClassifier
from zoo.training import finetune

IDS = np.array([[2, 5, 7, 9, 3, 0], [2, 8, 8, 3, 0, 0]], "int32")


def bert_inputs():
    return {"token_ids": IDS, "segment_ids": np.zeros_like(IDS),
            "padding_mask": IDS > 0}


def test_loads_a_zoo_model_dir(tmp_path):
    tokenizer = tokenizers.train_wordpiece(["a cat sat on a mat " * 30], 60)
    backbone = BertEncoder(vocabulary_size=tokenizer.vocabulary_size(),
                           num_layers=1, hidden_dim=16, num_heads=2,
                           intermediate_dim=32, max_sequence_length=32)
    task = SequenceClassifier(backbone, 2, tokenizer=tokenizer)
    task(bert_inputs())
    task.save(str(tmp_path / "model.keras"))
    loaded, loaded_tokenizer, _ = finetune.load_pretrained(
        str(tmp_path), BertEncoder, "bert_pretrain")
    np.testing.assert_allclose(
        loaded(bert_inputs())["sequence_output"],
        backbone(bert_inputs())["sequence_output"], atol=1e-6)
    assert loaded_tokenizer.get_vocabulary() == tokenizer.get_vocabulary()

    with pytest.raises(ValueError, match="has a BertEncoder backbone; this "
                       "recipe fine-tunes a GPTDecoder"):
        finetune.load_pretrained(str(tmp_path), GPTDecoder, "gpt_pretrain")


def test_loads_a_keras_hub_bert_preset(tmp_path):
    hub_backbone, hub_tokenizer = bert_preset(tmp_path)
    backbone, tokenizer, _ = finetune.load_pretrained(
        str(tmp_path), BertEncoder, "bert_pretrain")
    assert isinstance(backbone, BertEncoder)
    np.testing.assert_allclose(
        backbone(bert_inputs())["sequence_output"],
        hub_backbone(bert_inputs())["sequence_output"], atol=1e-5)
    assert tokenizer.get_vocabulary() == hub_tokenizer.get_vocabulary()


def test_loads_a_keras_hub_gpt2_preset(tmp_path):
    hub_backbone, _ = gpt2_preset(tmp_path)
    backbone, _, _ = finetune.load_pretrained(str(tmp_path), GPTDecoder,
                                           "gpt_pretrain")
    inputs = {"token_ids": IDS, "padding_mask": IDS > 0}
    np.testing.assert_allclose(backbone(inputs), hub_backbone(inputs),
                               atol=1e-5)


def test_rebuild_changes_dropout_and_keeps_weights(tmp_path):
    backbone = BertEncoder(vocabulary_size=50, num_layers=1, hidden_dim=16,
                           num_heads=2, intermediate_dim=32,
                           max_sequence_length=32, dropout=0.1)
    copy = finetune.rebuild(backbone, dropout=0.3)
    assert copy.dropout == 0.3
    np.testing.assert_allclose(copy(bert_inputs())["sequence_output"],
                               backbone(bert_inputs())["sequence_output"],
                               atol=1e-6)
    assert finetune.rebuild(backbone, dropout=0.1) is backbone


def test_rebuild_in_another_precision_keeps_weights():
    backbone = BertEncoder(vocabulary_size=50, num_layers=1, hidden_dim=16,
                           num_heads=2, intermediate_dim=32,
                           max_sequence_length=32)
    copy = finetune.rebuild(backbone, dtype="mixed_bfloat16")
    assert copy.compute_dtype == "bfloat16"
    assert copy.variable_dtype == "float32"
    for a, b in zip(copy.get_weights(), backbone.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(
        np.asarray(copy(bert_inputs())["sequence_output"], "float32"),
        backbone(bert_inputs())["sequence_output"], atol=0.1)


@pytest.mark.parametrize("name, content, width", [
    ("run.json", {"backbone": {"class": "GPTDecoder", "hidden_dim": 128}},
     128),
    ("config.json", {"model_type": "bert", "hidden_size": 768}, 768),
    ("config.json", {"model_type": "gpt2", "n_embd": 1024}, 1024),
    ("config.json", {"model_type": "marian", "d_model": 512}, 512),
    ("config.json", {"module": "keras_hub.src.models",
                     "config": {"hidden_dim": 256}}, 256),
    ("bert_config.json", {"hidden_size": 312}, 312),
    ("hparams.json", {"n_embd": 768}, 768),
    ("config.json", {"model_type": "bert"}, None),
    ("config.json", "not json", None),
    ("notes.txt", "", None),
])
def test_pretrained_width_from_each_kind_of_directory(tmp_path, name,
                                                      content, width):
    (tmp_path / name).write_text(
        content if isinstance(content, str) else json.dumps(content))
    assert finetune.pretrained_width(str(tmp_path)) == width


@pytest.mark.parametrize("setup, message", [
    (lambda d: None, "holds neither model.keras"),
    (lambda d: (d / "run.json").write_text("{}"), "has not finished"),
])
def test_directories_that_hold_no_model(tmp_path, setup, message):
    setup(tmp_path)
    with pytest.raises(ValueError, match=message):
        finetune.load_pretrained(str(tmp_path), BertEncoder, "bert_pretrain")


def test_a_missing_directory_and_a_hub_preset_for_the_transformer(tmp_path):
    with pytest.raises(ValueError, match="is not a directory"):
        finetune.load_pretrained(str(tmp_path / "nope"), BertEncoder,
                                 "bert_pretrain")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ValueError, match="no encoder-decoder Transformer"):
        finetune.load_pretrained(str(tmp_path), Transformer,
                                 "transformer_pretrain")


def test_a_tokenizer_larger_than_the_embedding_is_refused(tmp_path):
    tokenizer = tokenizers.train_wordpiece(["a cat sat on a mat " * 30], 60)
    backbone = BertEncoder(vocabulary_size=tokenizer.vocabulary_size() - 5,
                           num_layers=1, hidden_dim=16, num_heads=2,
                           intermediate_dim=32, max_sequence_length=32)
    task = SequenceClassifier(backbone, 2, tokenizer=tokenizer)
    task(bert_inputs())
    task.save(str(tmp_path / "model.keras"))
    with pytest.raises(ValueError, match="tokenizer has .* tokens but the "
                       "backbone's embedding only"):
        finetune.load_pretrained(str(tmp_path), BertEncoder, "bert_pretrain")
