"""Hugging Face model directories -> zoo tasks, and back.

A Hugging Face directory holds `config.json` (the sizes, `model_type` and
`architectures`), the weights in `model.safetensors` (or shards named by
`model.safetensors.index.json`) and the tokenizer's files. This module
reads one that is already on disk (it never downloads) into the zoo task
of the same architecture, with the keras-hub tokenizer the zoo uses, and
writes a zoo task as a directory that `transformers`' `from_pretrained`
loads:

| `architectures[0]` | zoo model |
|---|---|
| `BertModel` | `BertEncoder` |
| `BertForMaskedLM` | `MaskedLM` |
| `BertForPreTraining` | `MaskedLM(next_sentence_prediction=True)` |
| `BertForSequenceClassification` | `SequenceClassifier` |
| `BertForTokenClassification` | `TokenClassifier` |
| `GPT2Model`, `GPT2LMHeadModel` | `CausalLM` (the head is the tied embedding) |
| `MarianMTModel` | `Seq2SeqLM` on a `Transformer` with MarianMT's options (swish, sin-then-cos positions, a final logits bias) |

Which tensor is which weight is `zoo.convert.layouts`, which arguments
each `config.json` gives `zoo.convert.configs`; the tokenizers are
`zoo.convert.hf_tokenizers`. Weights are read from safetensors only: a
`pytorch_model.bin` is a pickle, and unpickling runs whatever code it
holds.
"""

import json
import os
import shutil
import warnings

import numpy as np
from keras import ops

from zoo import files
from zoo.convert import hf_tokenizers
from zoo.convert import layouts
from zoo.convert.configs import MODEL_TYPES
from zoo.convert.configs import build
from zoo.convert.configs import check_config
from zoo.convert.configs import hf_config

WEIGHTS = "model.safetensors"
INDEX = "model.safetensors.index.json"
PREFIXES = ("bert.", "transformer.", "model.")
# Buffers that are not weights: position ids and GPT-2's causal-mask biases.
# MarianMT's sinusoids are stored too; the zoo computes them.
BUFFERS = (".position_ids", ".attn.bias", ".attn.masked_bias",
           ".embed_positions.weight")


# Reading -----------------------------------------------------------------------


def read_config(path):
    """`config.json` of the Hugging Face directory `path`, checked."""
    if not os.path.isdir(path):
        raise ValueError(f"{path!r} is not a directory.")
    file = os.path.join(path, "config.json")
    if not os.path.isfile(file):
        raise ValueError(
            f"{path!r} has no config.json: it is not a Hugging Face model "
            "directory (save one with `model.save_pretrained(path)`).")
    config = hf_tokenizers.load_json(file)
    model_type = config.get("model_type")
    if model_type not in MODEL_TYPES:
        raise ValueError(
            f"{file}: model_type {model_type!r} is not supported; "
            f"zoo.convert reads {', '.join(MODEL_TYPES)}.")
    return config


def read_tensors(path):
    """{name: NumPy array} of the directory's safetensors weights."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    index = os.path.join(path, INDEX)
    if os.path.isfile(os.path.join(path, WEIGHTS)):
        names = [WEIGHTS]
    elif os.path.isfile(index):
        weight_map = hf_tokenizers.load_json(index).get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise ValueError(f"{index} has no weight_map: it does not say "
                             "which file holds which tensor.")
        names = sorted(set(weight_map.values()))
    elif any(os.path.isfile(os.path.join(path, name))
             for name in ("pytorch_model.bin", "tf_model.h5")):
        raise ValueError(
            f"{path!r} has its weights only as pytorch_model.bin (or "
            "tf_model.h5). zoo.convert reads safetensors only: loading a .bin "
            "unpickles it, which can run arbitrary code. If you trust the "
            "file, convert it with `transformers`: "
            "AutoModel.from_pretrained(path).save_pretrained(path) writes "
            "model.safetensors.")
    else:
        raise ValueError(f"{path!r} has no weights ({WEIGHTS}).")
    tensors = {}
    for name in names:
        file = os.path.join(path, name)
        try:
            tensors.update(load_file(file))
        except (SafetensorError, OSError, ValueError) as error:
            raise ValueError(
                f"{file} is not a readable safetensors file ({error}); it may "
                "be truncated or still downloading.") from error
    return tensors


def normalize_names(tensors, family):
    """Drop the model prefix (`bert.`, `transformer.`, `model.`), rename
    the legacy `LayerNorm.gamma`/`.beta`, drop buffers, split GPT-2's fused
    attention projection."""
    out = {}
    for name, value in tensors.items():
        for prefix in PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix):]
                break
        name = name.replace("LayerNorm.gamma", "LayerNorm.weight").replace(
            "LayerNorm.beta", "LayerNorm.bias")
        if not name.endswith(BUFFERS):
            out[name] = value
    if family == "marian":
        if "shared.weight" not in out and "encoder.embed_tokens.weight" in out:
            out["shared.weight"] = out.pop("encoder.embed_tokens.weight")
        if "final_logits_bias" in out:  # (1, V) -> (V,)
            out["final_logits_bias"] = out["final_logits_bias"].reshape(-1)
        elif "shared.weight" in out:  # transformers' default: zeros
            out["final_logits_bias"] = np.zeros(
                out["shared.weight"].shape[:1], "float32")
    return layouts.split_fused(out) if family == "gpt2" else out


TIED = [  # (copy, original) pairs that `transformers` may keep as two tensors
    ("cls.predictions.decoder.weight", "embeddings.word_embeddings.weight"),
    ("cls.predictions.decoder.bias", "cls.predictions.bias"),
    ("lm_head.weight", "wte.weight"),
    ("lm_head.weight", "shared.weight"),
    ("encoder.embed_tokens.weight", "shared.weight"),
    ("decoder.embed_tokens.weight", "shared.weight"),
]


def _check_tied(tensors, source):
    """A tied copy (an output projection, bias or per-stack embedding that
    `transformers` keeps as its own tensor) must equal the weight it is
    tied to: the zoo has one."""
    for copy, original in TIED:
        if copy in tensors and original in tensors:
            if not np.array_equal(tensors.pop(copy), tensors[original]):
                raise ValueError(
                    f"{source}: {copy} differs from {original}; the zoo ties "
                    "them (one matrix), so these weights cannot be converted "
                    "exactly.")


def assign(model, layout, tensors, source):
    """Set `model`'s weights from `tensors` (normalized names) by `layout`.
    Raises if a tensor is missing or of the wrong shape; warns of tensors
    left unused (for example the NSP head of a checkpoint whose
    architecture is `BertForMaskedLM`)."""
    tensors = dict(tensors)
    _check_tied(tensors, source)
    variables = layouts.zoo_weights(model)
    for hf_name, zoo_name, transpose in layout:
        if hf_name not in tensors:
            raise ValueError(f"{source} lacks the tensor {hf_name!r}, which "
                             f"the zoo needs for {zoo_name}.")
        value = tensors.pop(hf_name)
        variable = variables[zoo_name]
        shape = tuple(variable.shape)[::-1] if transpose else tuple(
            variable.shape)
        if tuple(value.shape) != shape:
            raise ValueError(
                f"{source}: {hf_name} has shape {tuple(value.shape)}, but "
                f"config.json makes it {shape} (the zoo's {zoo_name}).")
        if value.dtype.kind in "biu":  # quantized, or not weights
            raise ValueError(
                f"{source}: {hf_name} holds {value.dtype} values; the zoo "
                "reads floating-point weights (float32, float16, bfloat16).")
        value = np.asarray(value.T if transpose else value, variable.dtype)
        if not np.all(np.isfinite(value)):
            raise ValueError(
                f"{source}: {hf_name} holds NaN or infinite values "
                f"({int(np.sum(~np.isfinite(value))):,} of {value.size:,}); "
                "the checkpoint is damaged, or was saved after training "
                "diverged.")
        variable.assign(value)
    if tensors:
        warnings.warn(f"{source}: tensors not used by {type(model).__name__}:"
                      f" {sorted(tensors)}", stacklevel=3)


def from_huggingface(path):
    """The zoo model of a local Hugging Face directory, with its tokenizer.

    Args:
        path: a directory as `transformers`' `save_pretrained` writes it:
            `config.json`, `model.safetensors` and tokenizer files
            (`vocab.txt`; `vocab.json` + `merges.txt`).

    Returns:
        The zoo task of `config.json`'s architecture (module docstring),
        its `tokenizer` read from the same directory (None if it has no
        tokenizer files); for `BertModel` the `BertEncoder` alone (read its
        tokenizer with `zoo.convert.read_tokenizer(path)`).

    Example:

    >>> lm = zoo.convert.from_huggingface("/models/gpt2")
    >>> lm.generate(["The Transformer"], max_new_tokens=20)
    """
    config = read_config(path)
    return from_parts(config, read_tensors(path),
                      hf_tokenizers.read_tokenizer(path, config), path)


def from_parts(config, tensors, tokenizer, source):
    """The zoo model of a Hugging Face `config` (dict), its `tensors`
    ({Hugging Face name: array}) and `tokenizer` (or None), read from
    `source` (for messages)."""
    check_config(config, source)
    if tokenizer is not None:
        hf_tokenizers.check_fits(tokenizer, config["vocab_size"], source)
    model = build(config, tokenizer)
    family, layout = layouts.layout_of(model)
    assign(model, layout, normalize_names(tensors, family), source)
    return model


# Writing -----------------------------------------------------------------------


def hf_tensors(model, family, layout):
    """{Hugging Face name: NumPy array} of `model`'s weights, prefixed as
    the architecture's `save_pretrained` names them."""
    variables = layouts.zoo_weights(model)
    tensors = {}
    for hf_name, zoo_name, transpose in layout:
        value = ops.convert_to_numpy(variables[zoo_name]).astype("float32")
        tensors[hf_name] = np.ascontiguousarray(value.T if transpose else value)
    if family == "gpt2":
        tensors = layouts.fuse(tensors)
    if family == "marian":
        bias = tensors.pop("final_logits_bias", None)
        tensors = {"model." + name: value for name, value in tensors.items()}
        if bias is not None:
            tensors["final_logits_bias"] = bias[None]  # (1, V)
        return tensors
    if not hasattr(model, "backbone"):  # a backbone: no prefix
        return tensors
    prefix = "transformer." if family == "gpt2" else "bert."
    return {(name if name.startswith(("cls.", "classifier."))
             else prefix + name): value for name, value in tensors.items()}


def to_huggingface(model, path, labels=None, overwrite=False):
    """Write `model` as a Hugging Face directory `transformers` loads.

    Args:
        model: a zoo task or backbone of the table in the module docstring
            (`CausalLM` -> `GPT2LMHeadModel`, ...).
        path: the directory to write. It appears whole or not at all: the
            files are written beside it first and moved into place.
        labels: a classifier's or tagger's label names, in id order
            (`id2label`); default `LABEL_0`, `LABEL_1`, ...
        overwrite: replace an existing `path`.

    The tokenizer (`model.tokenizer`, if any) is written as the files
    `transformers`' tokenizer of the family reads: `vocab.txt` for BERT's
    WordPiece, `vocab.json` and `merges.txt` for GPT-2's byte-level BPE,
    `source.spm`, `target.spm` and `vocab.json` for MarianMT's.
    """
    from safetensors.numpy import save_file

    family, layout = layouts.layout_of(model)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path!r} exists; pass overwrite=True to "
                              "replace it.")
    config = hf_config(model, labels)
    tokenizer_files = hf_tokenizers.tokenizer_files(
        getattr(model, "tokenizer", None), config)
    tensors = hf_tensors(model, family, layout)
    staging = files.staging_directory(path)
    try:
        save_file(tensors, os.path.join(staging, WEIGHTS),
                  metadata={"format": "pt"})
        with open(os.path.join(staging, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
        for name, content in tokenizer_files.items():
            binary = isinstance(content, bytes)
            with open(os.path.join(staging, name), "wb" if binary else "w",
                      **({} if binary else {"encoding": "utf-8"})) as f:
                f.write(content)
        files.publish(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path
