"""Pretrained weights into the zoo, and back out.

- `from_huggingface(path)` / `to_huggingface(model, path)`: a local
  Hugging Face model directory (BERT, GPT-2, MarianMT) <-> the zoo task of
  the same architecture, with its tokenizer;
- `read_tokenizer(path)`: the tokenizer of such a directory alone;
- `from_bert_checkpoint(dir)`, `from_gpt2_checkpoint(dir)`: the original
  TensorFlow 1 releases of google-research/bert and OpenAI's GPT-2;
- `from_directory(path)`: any of those, told apart by their files;
- `from_keras_hub(backbone)`: a loaded keras-hub BERT or GPT-2 backbone ->
  the zoo backbone.

`zoo.convert.layouts` says which tensor is which zoo weight.
"""

from zoo.convert.huggingface import from_huggingface
from zoo.convert.huggingface import read_config
from zoo.convert.huggingface import to_huggingface
from zoo.convert.hf_tokenizers import load_json as _load_json
from zoo.convert.hf_tokenizers import read_tokenizer as _read_tokenizer
from zoo.convert.keras_hub_backbones import copy_weights
from zoo.convert.keras_hub_backbones import from_keras_hub
from zoo.convert.originals import from_bert_checkpoint
from zoo.convert.originals import from_gpt2_checkpoint
from zoo.convert.originals import detect as _release


def is_huggingface(path):
    """Whether `path` is a Hugging Face model directory (a `config.json`
    with a `model_type`; keras-hub presets have a `config.json` too)."""
    import os

    file = os.path.join(path, "config.json")
    if not os.path.isfile(file):
        return False
    return "model_type" in _load_json(file)


def is_pretrained(path):
    """Whether `path` is a directory `from_directory` reads."""
    return _release(path) is not None or is_huggingface(path)


def from_directory(path):
    """The zoo model of a Hugging Face directory or an original release,
    told apart by their files (`bert_config.json`, `hparams.json`, else
    `config.json`)."""
    release = _release(path)
    if release == "bert":
        return from_bert_checkpoint(path)
    if release == "gpt2":
        return from_gpt2_checkpoint(path)
    return from_huggingface(path)


def labels(path):
    """The label names of a Hugging Face classifier directory, in id order
    (`id2label`), or None."""
    if not is_huggingface(path):
        return None
    names = read_config(path).get("id2label")
    if not names:
        return None
    ids = sorted(names, key=lambda key: int(key) if key.isdigit() else -1)
    if ids != [str(i) for i in range(len(names))]:
        raise ValueError(
            f"{path}: config.json's id2label must have the ids 0 to "
            f"{len(names) - 1}, one label each; it has {ids[:8]}.")
    return [names[str(i)] for i in range(len(names))]


def read_tokenizer(path):
    """The keras-hub tokenizer of the Hugging Face directory `path` (None
    if it has no tokenizer files)."""
    return _read_tokenizer(path, read_config(path))


__all__ = ["copy_weights", "from_bert_checkpoint", "from_directory",
           "from_gpt2_checkpoint", "from_huggingface", "from_keras_hub",
           "is_huggingface", "is_pretrained", "labels", "read_config",
           "read_tokenizer", "to_huggingface"]
