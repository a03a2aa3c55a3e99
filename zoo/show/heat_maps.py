"""`python -m zoo.show attention`: what every head of one layer looks at.

A trained task reads one text; its backbone runs once with
`return_attention_scores=True`, so the probabilities come from the same
blocks that ran in training, and each head's P (queries × keys) becomes a
heat map with the tokens on both axes. An encoder-decoder model first
translates the text (greedy `generate`), then reads the source and its
translation together: encoder self attention over the source, decoder
self attention over the translation, and cross attention from the
translation (rows) to the source (columns).

Shapes: N num_heads, T query tokens, S key tokens.
"""

import collections
import math
import os

import keras_hub
import numpy as np
from keras import ops
from matplotlib import colors

from zoo import pictures
from zoo import saving
from zoo.data.tokenizers import tokenize_lines

AttentionMap = collections.namedtuple(
    "AttentionMap", ["title", "queries", "keys", "probabilities"])
AttentionMap.__doc__ = """One kind of attention of one layer, for one text.

Attributes:
    title: the kind of attention, e.g. "cross attention (translation →
        source)".
    queries: the T query tokens, as text pieces (the rows).
    keys: the S key tokens, as text pieces (the columns).
    probabilities: (N, T, S) NumPy array, one (T, S) map per head; each
        row sums to 1.
"""

TITLES = {  # the backbones' kinds of attention
    "BertEncoder": {"self_attention": "self attention"},
    "GPTDecoder": {"self_attention": "causal self attention"},
    "Transformer": {
        "encoder_self_attention": "encoder self attention (source)",
        "decoder_self_attention": ("decoder self attention (translation, "
                                   "causal)"),
        "cross_attention": "cross attention (translation → source)",
    },
}


def load(model_dir):
    """The task saved in `model_dir` (a recipe's model dir, holding
    `model.keras`) or in a `.keras` file."""
    if not os.path.exists(model_dir):
        raise FileNotFoundError(f"No model dir at {model_dir}.")
    path = model_dir
    if os.path.isdir(model_dir):
        path = os.path.join(model_dir, "model.keras")
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"No model.keras in {model_dir} (expected {path}): point to "
                "a finished run of a zoo recipe.")
    return saving.load_model(path)


def attention(task, text, layer=-1, max_new_tokens=32):
    """The attention probabilities of every head of one layer on `text`.

    Args:
        task: a zoo task with a tokenizer (`MaskedLM`, `SequenceClassifier`,
            `TokenClassifier`, `CausalLM` or `Seq2SeqLM`).
        text: str. BERT reads `[CLS] text [SEP]`; GPT the text; the
            encoder-decoder Transformer translates it first.
        layer: int. Which block, counted from 0; negative counts from the
            last (-1, the default).
        max_new_tokens: int. The longest translation (`Seq2SeqLM`).

    Returns:
        dict of `AttentionMap`s, one per kind of attention: `self_attention`
        (BERT, GPT), or `encoder_self_attention`, `decoder_self_attention`
        and `cross_attention` (the Transformer).
    """
    backbone, tokenizer = task.backbone, task.tokenizer
    family = type(backbone).__name__
    if family not in TITLES:
        raise ValueError(f"zoo.show draws the zoo's backbones "
                         f"({', '.join(TITLES)}); this task's is {family}.")
    if tokenizer is None:
        raise ValueError("The task has no tokenizer, so it cannot read "
                         "text: save it with one (the recipes do).")
    if not text.strip():
        raise ValueError("The text is empty: give a sentence to look at.")
    if not -backbone.num_layers <= layer < backbone.num_layers:
        raise ValueError(
            f"Layer {layer} does not exist: the model has "
            f"{backbone.num_layers} layers, 0 to {backbone.num_layers - 1} "
            "(or -1 for the last).")
    ids = [int(i) for i in tokenize_lines(tokenizer, [text])[0]]
    if family == "BertEncoder":
        if not hasattr(tokenizer, "cls_token_id"):
            raise ValueError("A BERT model reads [CLS] text [SEP]; its "
                             "tokenizer has no [CLS] token.")
        ids = [tokenizer.cls_token_id] + ids + [tokenizer.sep_token_id]
    limit = backbone.max_sequence_length
    if len(ids) > limit:
        raise ValueError(f"The text is {len(ids)} tokens long; the model "
                         f"reads at most {limit}.")
    inputs, tokens = model_inputs(task, ids, max_new_tokens)
    _, scores = backbone(inputs, training=False, return_attention_scores=True)
    maps = {}
    for kind, title in TITLES[family].items():
        queries, keys = tokens[kind]
        probabilities = ops.convert_to_numpy(
            ops.cast(scores[kind][layer][0], "float32"))  # (N, T, S)
        maps[kind] = AttentionMap(title, pieces(tokenizer, queries),
                                  pieces(tokenizer, keys), probabilities)
    return maps


def model_inputs(task, ids, max_new_tokens):
    """`(inputs, tokens)`: the backbone's inputs for the token ids `ids`
    (a batch of one), and the (query, key) ids of each kind of attention."""
    def row(values):  # (1, T)
        return np.asarray([values], "int32")

    family = type(task.backbone).__name__
    if family == "Transformer":
        target = translate(task, ids, max_new_tokens)
        inputs = {"encoder_token_ids": row(ids),
                  "encoder_padding_mask": row([1] * len(ids)),
                  "decoder_token_ids": row(target),
                  "decoder_padding_mask": row([1] * len(target))}
        return inputs, {"encoder_self_attention": (ids, ids),
                        "decoder_self_attention": (target, target),
                        "cross_attention": (target, ids)}
    inputs = {"token_ids": row(ids), "padding_mask": row([1] * len(ids))}
    if family == "BertEncoder":
        inputs["segment_ids"] = row([0] * len(ids))
    return inputs, {"self_attention": (ids, ids)}


def translate(task, source_ids, max_new_tokens):
    """The decoder's inputs for `source_ids`' greedy translation: the start
    token, then the translation without its end token."""
    start = getattr(task.tokenizer, "start_token_id", None)
    if start is None:
        raise ValueError("The tokenizer has no start token to begin a "
                         "translation with.")
    target = task.generate([source_ids], max_new_tokens=max_new_tokens)[0]
    end = getattr(task.tokenizer, "end_token_id", None)
    if target and target[-1] == end:
        target = target[:-1]
    return [start] + target


def pieces(tokenizer, ids):
    """Each id as the text piece it stands for, readable on an axis:
    spaces shown as ␣, newlines as ↵."""
    byte_level = isinstance(tokenizer, keras_hub.tokenizers.BytePairTokenizer)
    texts = []
    for i in ids:
        piece = tokenizer.id_to_token(i)
        if byte_level:  # GPT-2's stand-ins for a space and a newline
            piece = piece.replace("Ġ", " ").replace("Ċ", "\n")
        texts.append(piece.replace(" ", "␣").replace("\n", "↵") or "∅")
    return texts


def draw(maps, path, title, columns=4):
    """Write the heat maps of `maps` (from `attention`) to the PNG `path`:
    one row of heads per kind of attention (more rows past `columns`
    heads), queries on the y axis and keys on the x axis, darker for more
    weight (0 to 1, on a square-root scale so that small weights show)."""
    kinds = list(maps.values())
    num_heads = kinds[0].probabilities.shape[0]
    columns = min(num_heads, columns)
    rows_per_kind = math.ceil(num_heads / columns)
    longest = max(max(len(m.queries), len(m.keys)) for m in kinds)
    size = min(max(2.6, 0.22 * longest + 1.2), 9.0)  # inches per map
    fontsize = max(4.0, min(9.0, 180 / longest))
    fig, axes = pictures.figure(rows_per_kind * len(kinds), columns,
                                width=size, height=size,
                                layout="constrained")  # room for the colorbar
    for k, kind in enumerate(kinds):
        for head in range(rows_per_kind * columns):
            axis = axes[k * rows_per_kind + head // columns, head % columns]
            if head >= num_heads:
                axis.axis("off")
                continue
            image = axis.imshow(kind.probabilities[head], cmap="Blues",
                                norm=colors.PowerNorm(0.5, vmin=0, vmax=1),
                                aspect="auto", interpolation="nearest")
            axis.set_xticks(range(len(kind.keys)))
            axis.set_xticklabels(kind.keys, rotation=90, fontsize=fontsize)
            axis.set_yticks(range(len(kind.queries)))
            axis.set_yticklabels(kind.queries, fontsize=fontsize)
            axis.set_title(f"{kind.title}\nhead {head}", fontsize=8)
            axis.set_xlabel("keys", fontsize=7)
            axis.set_ylabel("queries", fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.colorbar(image, ax=axes[:, -1].tolist(), label="attention weight",
                 shrink=min(1.0, 2.0 / len(axes)))  # two maps tall at most
    return pictures.save(fig, path)


def layer_name(backbone, layer):
    """Which block `layer` is, for a title: "layer 1 of 0–1
    (transformer_layer_1)"."""
    index = layer % backbone.num_layers
    if hasattr(backbone, "transformer_layers"):
        names = backbone.transformer_layers[index].name
    else:
        names = f"encoder_layer_{index}, decoder_layer_{index}"
    return f"layer {index} of 0–{backbone.num_layers - 1} ({names})"
