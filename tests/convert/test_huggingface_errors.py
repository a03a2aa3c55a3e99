"""Bad Hugging Face directories get errors that say what is wrong, and a
failed `to_huggingface` leaves nothing behind."""

import json
import os

import numpy as np
import pytest

import pytorch_process as pt
import zoo.convert
from zoo.data import tokenizers
from zoo.models import BertEncoder
from zoo.models import GPTDecoder
from zoo.tasks import CausalLM
from zoo.tasks import MaskedLM

safetensors_numpy = pytest.importorskip("safetensors.numpy")


@pytest.fixture
def bert_dir(tmp_path):
    """A valid BERT directory written by zoo.convert itself."""
    model = MaskedLM(BertEncoder.from_preset(
        "bert_tiny", vocabulary_size=64, num_layers=1, max_sequence_length=16))
    return zoo.convert.to_huggingface(model, tmp_path / "bert")


def edit_config(path, **changes):
    file = os.path.join(path, "config.json")
    with open(file) as f:
        config = json.load(f)
    config.update(changes)
    with open(file, "w") as f:
        json.dump(config, f)


def test_a_directory_without_config_or_weights(tmp_path, bert_dir):
    with pytest.raises(ValueError, match="not a directory"):
        zoo.convert.from_huggingface(str(tmp_path / "missing"))
    os.makedirs(tmp_path / "empty")
    with pytest.raises(ValueError, match="no config.json"):
        zoo.convert.from_huggingface(str(tmp_path / "empty"))
    os.remove(os.path.join(bert_dir, "model.safetensors"))
    with pytest.raises(ValueError, match="has no weights"):
        zoo.convert.from_huggingface(bert_dir)


def test_an_unsupported_model_type_or_architecture(bert_dir):
    edit_config(bert_dir, model_type="roberta")
    with pytest.raises(ValueError, match="'roberta' is not supported.*bert, gpt2"):
        zoo.convert.from_huggingface(bert_dir)
    edit_config(bert_dir, model_type="bert",
                architectures=["BertForQuestionAnswering"])
    with pytest.raises(ValueError, match="BertForQuestionAnswering.*BertModel"):
        zoo.convert.from_huggingface(bert_dir)
    edit_config(bert_dir, architectures=["BertModel"],
                position_embedding_type="relative_key")
    with pytest.raises(ValueError, match="absolute learned positions only"):
        zoo.convert.from_huggingface(bert_dir)
    edit_config(bert_dir, position_embedding_type="absolute",
                hidden_act="mish")
    with pytest.raises(ValueError, match="hidden_act='mish' is not supported"):
        zoo.convert.from_huggingface(bert_dir)


def test_a_multi_label_classifier_is_refused(bert_dir):
    edit_config(bert_dir, architectures=["BertForSequenceClassification"],
                problem_type="multi_label_classification")
    with pytest.raises(ValueError, match="multi_label_classification.*one "
                                         "softmax"):
        zoo.convert.from_huggingface(bert_dir)


def test_a_pickle_is_refused(bert_dir):
    os.rename(os.path.join(bert_dir, "model.safetensors"),
              os.path.join(bert_dir, "pytorch_model.bin"))
    with pytest.raises(ValueError, match="safetensors only.*save_pretrained"):
        zoo.convert.from_huggingface(bert_dir)


def test_shapes_that_do_not_match_the_config(bert_dir):
    edit_config(bert_dir, intermediate_size=100)
    with pytest.raises(ValueError, match=r"intermediate.dense.weight has shape "
                                         r"\(512, 128\), but config.json makes it \(100, 128\)"):
        zoo.convert.from_huggingface(bert_dir)


def test_a_truncated_file(bert_dir):
    file = os.path.join(bert_dir, "model.safetensors")
    with open(file, "rb") as f:
        data = f.read()
    with open(file, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        zoo.convert.from_huggingface(bert_dir)


def test_bfloat16_weights_are_read_as_float32(bert_dir):
    """NumPy knows bfloat16 once ml_dtypes (TensorFlow's, JAX's) has
    registered it."""
    from keras import ops

    file = os.path.join(bert_dir, "model.safetensors")
    tensors = safetensors_numpy.load_file(file)
    pt.call(pt.to_bfloat16, file)
    model = zoo.convert.from_huggingface(bert_dir)
    embeddings = ops.convert_to_numpy(model.backbone.token_embedding.embeddings)
    assert embeddings.dtype == np.float32
    expected = tensors["bert.embeddings.word_embeddings.weight"]
    np.testing.assert_allclose(embeddings, expected, rtol=1e-2, atol=1e-6)
    assert not np.array_equal(embeddings, expected)  # rounded to bfloat16


def test_a_missing_tensor_is_named(bert_dir):
    file = os.path.join(bert_dir, "model.safetensors")
    tensors = safetensors_numpy.load_file(file)
    del tensors["bert.encoder.layer.0.attention.self.key.bias"]
    safetensors_numpy.save_file(tensors, file, metadata={"format": "pt"})
    with pytest.raises(ValueError, match="lacks the tensor "
                                         "'encoder.layer.0.attention.self.key.bias'"):
        zoo.convert.from_huggingface(bert_dir)


def test_an_untied_copy_is_refused(bert_dir):
    file = os.path.join(bert_dir, "model.safetensors")
    tensors = safetensors_numpy.load_file(file)
    tensors["cls.predictions.decoder.weight"] = np.zeros_like(
        tensors["bert.embeddings.word_embeddings.weight"])
    safetensors_numpy.save_file(tensors, file, metadata={"format": "pt"})
    with pytest.raises(ValueError, match="decoder.weight differs"):
        zoo.convert.from_huggingface(bert_dir)


def test_a_tokenizer_larger_than_the_embedding(bert_dir):
    with open(os.path.join(bert_dir, "vocab.txt"), "w") as f:
        f.writelines(t + "\n" for t in
                     tokenizers.BERT_SPECIAL_TOKENS + [f"w{i}" for i in range(80)])
    with pytest.raises(ValueError, match="85 tokens but the embedding only 64"):
        zoo.convert.from_huggingface(bert_dir)


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    characters = tokenizers.train_characters(["hello world"])
    model = CausalLM(GPTDecoder.from_preset("gpt_nano", vocabulary_size=16,
                                            num_layers=1), tokenizer=characters)
    target = tmp_path / "out"
    with pytest.raises(ValueError, match="CharacterTokenizer has no Hugging "
                                         "Face gpt2 tokenizer"):
        zoo.convert.to_huggingface(model, target)
    assert os.listdir(tmp_path) == []
    model.tokenizer = None
    import safetensors.numpy

    def disk_full(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(safetensors.numpy, "save_file", disk_full)
    with pytest.raises(OSError, match="No space left"):
        zoo.convert.to_huggingface(model, target)
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    zoo.convert.to_huggingface(model, target)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        zoo.convert.to_huggingface(model, target)
    monkeypatch.setattr(safetensors.numpy, "save_file", disk_full)
    with pytest.raises(OSError):  # the earlier directory survives
        zoo.convert.to_huggingface(model, target, overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["out"]
    assert sorted(os.listdir(target)) == ["config.json", "model.safetensors"]
