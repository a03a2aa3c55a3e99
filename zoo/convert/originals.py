"""The original releases: google-research/bert's and OpenAI's GPT-2's
TensorFlow 1 checkpoints.

Both are renamed to the Hugging Face names (`zoo.convert.layouts`) and go
the Hugging Face route from there, so one layout serves all three
sources. Checkpoints are read with `tf.train.load_checkpoint` (no graph,
no TensorFlow 1 code); optimizer slots (`adam_m`, `adam_v`) and
`global_step` are skipped.

| release | files | zoo model |
|---|---|---|
| BERT (`uncased_L-12_H-768_A-12`, ...) | `bert_model.ckpt.*`, `bert_config.json`, `vocab.txt` | `MaskedLM` with NSP (the `cls/` heads), or `BertEncoder` without them |
| GPT-2 (`124M`, ...) | `model.ckpt.*`, `hparams.json`, `encoder.json`, `vocab.bpe` | `CausalLM` |
"""

import glob
import os
import re

import keras_hub

from zoo.convert import hf_tokenizers
from zoo.convert import huggingface

SKIPPED = ("adam_m", "adam_v", "global_step")


def _read_checkpoint(directory, prefix_name):
    import tensorflow as tf

    matches = glob.glob(os.path.join(directory, prefix_name + ".index"))
    if not matches:
        raise ValueError(f"{directory!r} has no {prefix_name}.index (a "
                         "TensorFlow 1 checkpoint).")
    prefix = matches[0][: -len(".index")]
    try:
        reader = tf.train.load_checkpoint(prefix)
        names = reader.get_variable_to_shape_map()
        return {name: reader.get_tensor(name) for name in names
                if not any(part in name for part in SKIPPED)}
    except (tf.errors.OpError, ValueError) as error:
        raise ValueError(f"{prefix}: not a readable TensorFlow checkpoint "
                         f"({error}).") from error


def _read_json(directory, name):
    file = os.path.join(directory, name)
    if not os.path.isfile(file):
        raise ValueError(f"{directory!r} has no {name}.")
    return hf_tokenizers.load_json(file)


# BERT ------------------------------------------------------------------------


def bert_name(name):
    """A google-research/bert variable name -> `(Hugging Face name,
    transpose)`: `bert/encoder/layer_0/attention/self/query/kernel` ->
    `encoder.layer.0.attention.self.query.weight`, transposed (TensorFlow
    keeps kernels as (in, out), PyTorch as (out, in))."""
    name = re.sub(r"^bert/", "", name)
    name = re.sub(r"layer_(\d+)", r"layer.\1", name)
    name = name.replace("cls/predictions/output_bias", "cls/predictions/bias")
    name = name.replace("cls/seq_relationship/output_weights",
                        "cls/seq_relationship/weight")
    name = name.replace("cls/seq_relationship/output_bias",
                        "cls/seq_relationship/bias")
    transpose = name.endswith("/kernel")
    name = re.sub(r"/kernel$", "/weight", name)
    name = re.sub(r"/gamma$", "/weight", name)
    name = re.sub(r"/beta$", "/bias", name)
    if name.startswith("embeddings/") and not name.startswith(
            "embeddings/LayerNorm"):
        name += "/weight"  # word_, position_, token_type_embeddings
    return name.replace("/", "."), transpose


def from_bert_checkpoint(directory, lowercase=None):
    """The zoo model of a google-research/bert release directory.

    Args:
        directory: holds `bert_model.ckpt.index` and `.data-*`,
            `bert_config.json` and `vocab.txt`.
        lowercase: whether the WordPiece tokenizer lowercases and strips
            accents; the release does not say it in a file, so by default
            it is True unless the directory's name says "cased" without
            "uncased" (as Google's release names do).

    Returns:
        `MaskedLM(next_sentence_prediction=True)` with the `cls/` heads when
        the checkpoint has them, else the `BertEncoder`; with the
        tokenizer (`.tokenizer`) on the task.
    """
    config = _read_json(directory, "bert_config.json")
    variables = _read_checkpoint(directory, "bert_model.ckpt")
    tensors = {}
    for name, value in variables.items():
        hf_name, transpose = bert_name(name)
        tensors[hf_name] = value.T if transpose else value
    has_heads = any(name.startswith("cls.") for name in tensors)
    config = {**config, "model_type": "bert", "layer_norm_eps": 1e-12,
              "architectures": ["BertForPreTraining" if has_heads
                                else "BertModel"]}
    if lowercase is None:
        base = os.path.basename(os.path.normpath(directory)).lower()
        lowercase = not ("cased" in base and "uncased" not in base)
    vocabulary_file = os.path.join(directory, "vocab.txt")
    if not os.path.isfile(vocabulary_file):
        raise ValueError(f"{directory!r} has no vocab.txt.")
    vocabulary = hf_tokenizers.check_bert_vocabulary(
        hf_tokenizers.read_lines(vocabulary_file), vocabulary_file)
    tokenizer = keras_hub.models.BertTokenizer(
        vocabulary=vocabulary, lowercase=lowercase, strip_accents=lowercase)
    return huggingface.from_parts(config, tensors, tokenizer, directory)


# GPT-2 -----------------------------------------------------------------------


def gpt2_name(name):
    """An OpenAI GPT-2 variable name -> its Hugging Face name:
    `model/h0/attn/c_attn/w` -> `h.0.attn.c_attn.weight`."""
    name = re.sub(r"^model/", "", name)
    name = re.sub(r"^h(\d+)/", r"h.\1/", name)
    name = re.sub(r"/[wg]$", "/weight", name)
    name = re.sub(r"/b$", "/bias", name)
    if name in ("wte", "wpe"):
        name += "/weight"
    return name.replace("/", ".")


def from_gpt2_checkpoint(directory):
    """The `CausalLM` of an OpenAI GPT-2 release directory (`model.ckpt.*`,
    `hparams.json`, `encoder.json`, `vocab.bpe`), with its tokenizer."""
    hparams = _read_json(directory, "hparams.json")
    missing = [key for key in ("n_vocab", "n_ctx", "n_embd", "n_layer",
                               "n_head") if key not in hparams]
    if missing:
        raise ValueError(f"{directory}/hparams.json lacks {missing}, which "
                         "a GPT-2 release gives.")
    variables = _read_checkpoint(directory, "model.ckpt")
    # Conv1D weights are stored (1, in, out): the leading 1 goes.
    tensors = {gpt2_name(name): value[0] if value.ndim == 3 else value
               for name, value in variables.items()}
    config = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"],
              "vocab_size": hparams["n_vocab"], "n_positions": hparams["n_ctx"],
              "n_embd": hparams["n_embd"], "n_layer": hparams["n_layer"],
              "n_head": hparams["n_head"]}
    vocabulary = _read_json(directory, "encoder.json")
    merges_file = os.path.join(directory, "vocab.bpe")
    if not os.path.isfile(merges_file):
        raise ValueError(f"{directory!r} has no vocab.bpe.")
    merges = hf_tokenizers.read_merges(merges_file)
    tokenizer = keras_hub.models.GPT2Tokenizer(vocabulary=vocabulary,
                                               merges=merges)
    return huggingface.from_parts(config, tensors, tokenizer, directory)


def detect(directory):
    """"bert" or "gpt2" for a release directory, else None."""
    if os.path.isfile(os.path.join(directory, "bert_config.json")):
        return "bert"
    if os.path.isfile(os.path.join(directory, "hparams.json")):
        return "gpt2"
    return None
