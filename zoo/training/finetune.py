"""Where a fine-tuning run starts: `--init_from`.

A fine-tuning recipe starts from one of

- a model dir written by the matching zoo pretraining recipe: its
  `model.keras` holds the pretrained task, whose backbone and tokenizer
  are reused;
- a local Hugging Face model directory (`config.json` with a
  `model_type`, `model.safetensors`, tokenizer files) or an original
  google-research/bert or OpenAI GPT-2 release, converted by
  `zoo.convert.from_directory`: its head, if any, is left behind, except
  MarianMT's final logits bias, which is part of a translator's output;
- a local keras-hub preset directory (`config.json`, `model.weights.h5`,
  `tokenizer.json`, `assets/`, as `keras_hub.models.Backbone.save_to_preset`
  writes it, or a downloaded Kaggle/Hugging Face preset), converted by
  `zoo.convert`;
- nothing: a new backbone from `--preset`, trained from scratch.
"""

import json
import os

import keras
import keras_hub

from zoo import convert
from zoo import saving
from zoo.data import tokenizers


def load_pretrained(path, backbone_class, pretrain_recipe):
    """`(backbone, tokenizer, head)` from a zoo model dir, a pretrained
    directory or a keras-hub preset; `head` holds the task's weights that
    a fine-tuning task keeps: {"final_logits_bias": (V,) array} for a
    `Seq2SeqLM` with one (MarianMT), else {}.

    Args:
        path: a directory.
        backbone_class: the zoo backbone class the recipe fine-tunes.
        pretrain_recipe: the name of the matching pretraining recipe, for
            messages.

    Raises:
        ValueError: if `path` holds neither, holds another family's model,
            or its tokenizer does not fit its backbone's vocabulary.
    """
    if not os.path.isdir(path):
        raise ValueError(
            f"--init_from={path!r} is not a directory. Give a model dir "
            f"written by recipes/{pretrain_recipe}.py or a local keras-hub "
            "preset directory."
        )
    model_file = os.path.join(path, "model.keras")
    if os.path.exists(model_file):
        model = saving.load_model(model_file, compile=False)
        backbone, tokenizer = model.backbone, model.tokenizer
        source = f"{model_file} ({type(model).__name__})"
    elif convert.is_pretrained(path):
        model = convert.from_directory(path)
        backbone = getattr(model, "backbone", model)
        tokenizer = getattr(model, "tokenizer", None)
        source = f"pretrained model {path} ({type(model).__name__})"
    elif os.path.exists(os.path.join(path, "config.json")):
        model, tokenizer, source = _keras_hub_preset(path, backbone_class,
                                                     pretrain_recipe)
        backbone = model
    elif os.path.exists(os.path.join(path, "run.json")):
        raise ValueError(
            f"--init_from={path!r} holds a run without model.keras: it has "
            "not finished. Finish it (--resume) or point to a finished run."
        )
    else:
        raise ValueError(
            f"--init_from={path!r} holds neither model.keras (a model dir of "
            f"recipes/{pretrain_recipe}.py) nor config.json (a Hugging Face "
            "model directory or a keras-hub preset), bert_config.json or "
            "hparams.json (an original BERT or GPT-2 release)."
        )
    if not isinstance(backbone, backbone_class):
        raise ValueError(
            f"--init_from={path!r}: {source} has a "
            f"{type(backbone).__name__} backbone; this recipe fine-tunes a "
            f"{backbone_class.__name__} (from recipes/{pretrain_recipe}.py)."
        )
    if tokenizer is None and convert.is_huggingface(path):
        tokenizer = convert.read_tokenizer(path)  # BertModel: no task
    if tokenizer is None:
        raise ValueError(f"--init_from={path!r}: {source} has no tokenizer.")
    size = tokenizers.vocabulary_size(tokenizer)
    if size > backbone.vocabulary_size:
        raise ValueError(
            f"--init_from={path!r}: its tokenizer has {size:,} tokens but the "
            f"backbone's embedding only {backbone.vocabulary_size:,}; ids "
            "past the embedding would be wrong. The tokenizer and the "
            "weights come from different models."
        )
    bias = getattr(model, "final_logits_bias", None)
    head = {} if bias is None else {
        "final_logits_bias": keras.ops.convert_to_numpy(bias)}
    return backbone, tokenizer, head


def _keras_hub_preset(path, backbone_class, pretrain_recipe):
    """`(backbone, tokenizer, description)` of a keras-hub preset dir."""
    if backbone_class.__name__ == "Transformer":
        raise ValueError(
            f"--init_from={path!r} is a keras-hub preset, but keras-hub "
            "has no encoder-decoder Transformer preset that zoo.convert "
            "converts (it converts BERT and GPT-2 backbones). Give a "
            f"model dir written by recipes/{pretrain_recipe}.py."
        )
    hub_backbone = keras_hub.models.Backbone.from_preset(path)
    return (convert.from_keras_hub(hub_backbone),
            keras_hub.tokenizers.Tokenizer.from_preset(path),
            f"keras-hub preset {path} ({type(hub_backbone).__name__})")


def pretrained_width(path):
    """The hidden width (d_model) of the model `load_pretrained(path)`
    would load, read from its JSON files alone; None if they do not say.
    `--precision=auto` decides by it before the weights load."""
    for name, keys in (("run.json", ("backbone", "hidden_dim")),
                       ("config.json", ("hidden_size",)),
                       ("config.json", ("n_embd",)),
                       ("config.json", ("d_model",)),
                       ("config.json", ("config", "hidden_dim")),
                       ("bert_config.json", ("hidden_size",)),
                       ("hparams.json", ("n_embd",))):
        try:
            with open(os.path.join(path, name), encoding="utf-8") as file:
                value = json.load(file)
        except (OSError, ValueError):
            continue
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, int):
            return value
    return None


def rebuild(backbone, **changes):
    """A copy of `backbone` with config `changes` (e.g. dropout) and the
    same weights."""
    config = backbone.get_config()
    if all(config.get(k) == v for k, v in changes.items()):
        return backbone
    copy = type(backbone).from_config({**config, **changes})
    copy.set_weights(backbone.get_weights())
    return copy
