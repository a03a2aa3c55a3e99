"""`python -m zoo.show shapes`: one input's path through a model, step by
step in the notation of Vaswani et al. 2017, with the shapes observed while
running it.

The model runs once under `zoo.blocks.trace.recording()`, on `keras.
KerasTensor`s of one sequence of T tokens: Keras runs every layer's `call`
on stand-in tensors of those shapes, with the weights' shapes but no
values allocated (`zoo.compat.shapes_only`), so even `gpt2_xl` takes
seconds. Attention runs its written-out path (`return_attention_scores=
True`) so that Q Kᵀ, the mask and the softmax show; by default the blocks
compute the same in one fused `ops.dot_product_attention`.

Each step's shape comment in the blocks (`(B, T, N, H)`) names its axes;
each axis is printed with its symbol only if the legend's value of that
symbol is the size observed (a `?` marks one that is not).

Shapes: B batch, T query (target) length, S key (source) length, D
hidden_dim, N num_heads, H head_dim, F intermediate_dim, V
vocabulary_size, L layers.
"""

import re

import keras

from zoo import compat
from zoo import models
from zoo.blocks import trace

LENGTH = 6  # T, tokens of the input
# S, the Transformer's source tokens: other than T, so that cross
# attention's (N, T, S) says which axis is which.
SOURCE_LENGTH = 7
LAYER = re.compile(r"(transformer|encoder|decoder)_layer_(\d+)$")
PARTS = {
    "self_attention": "self attention",
    "cross_attention": ("cross attention: queries from the decoder, keys "
                        "and values from the encoder output Z"),
    "feed_forward": "position-wise feed-forward network",
}


def trace_model(backbone, length=LENGTH, source_length=SOURCE_LENGTH):
    """Run one input through `backbone` and its output projection, recording.

    Args:
        backbone: a `BertEncoder`, `GPTDecoder` or `Transformer`.
        length: T, the tokens of the input (the Transformer's target).
        source_length: S, the Transformer's source tokens.

    Returns:
        `(legend, steps)`: the symbols' values, `{"T": 6, "D": 512, ...}`,
        and the recorded `zoo.blocks.trace.Step`s.
    """
    family = type(backbone).__name__
    is_transformer = family == "Transformer"
    source_length = source_length if is_transformer else length
    legend = {"B": 1, "T": length, "S": source_length,
              "D": backbone.hidden_dim, "N": backbone.num_heads,
              "H": backbone.hidden_dim // backbone.num_heads,
              "F": backbone.intermediate_dim,
              "V": backbone.vocabulary_size, "L": backbone.num_layers}

    def tokens(count):  # (B, count) stand-ins for ids and masks
        return keras.KerasTensor((1, count), "int32")

    if is_transformer:
        inputs = {"encoder_token_ids": tokens(source_length),
                  "encoder_padding_mask": tokens(source_length),
                  "decoder_token_ids": tokens(length),
                  "decoder_padding_mask": tokens(length)}
    else:
        inputs = {"token_ids": tokens(length), "padding_mask": tokens(length)}
        if family == "BertEncoder":
            inputs["segment_ids"] = tokens(length)
    with trace.recording() as steps:
        Forward(backbone)(inputs)
    return legend, steps


class Forward(keras.Operation):
    """The backbone's forward pass with its attention probabilities, then
    the tasks' output projection (the token embedding, transposed): one
    operation that Keras runs on stand-in tensors as it would on arrays."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def call(self, inputs):
        outputs, _ = self.backbone(inputs, return_attention_scores=True)
        if isinstance(outputs, dict):  # BERT's
            outputs = outputs["sequence_output"]
        trace.section("output projection")
        return self.backbone.token_embedding(outputs, reverse=True)  # (B, T, V)


def symbols(dims, shape, legend):
    """`(T, N·H)`: the shape comment `dims` of an observed `shape`, batch
    axis dropped, each axis named only if `legend` gives it that size."""
    names = [name.strip() for name in dims.strip("()").split(",")]
    if len(names) != len(shape):
        raise ValueError(f"Shape comment {dims} does not fit shape {shape}.")
    printed = []
    for name, size in zip(names, shape):
        if size == size_of(name, legend):
            printed.append(name)
            continue
        # A length axis of the code's (T for queries, S for keys) may be
        # the other length here: the encoder's queries are the source.
        others = [s for s in ("T", "S") if legend.get(s) == size]
        printed.append(others[0] if name in ("T", "S") and others
                       else f"{size}?")
    if names[0] in ("B", "1"):  # the batch axis, or one broadcast over it
        printed, shape = printed[1:], shape[1:]
    return ("(" + ", ".join(printed).replace("*", "·") + ")",
            "(" + ", ".join(str(size) for size in shape) + ")")


def size_of(name, legend):
    """The size a shape comment's axis `name` ("T", "N*H", "1") stands for."""
    size = 1
    for factor in name.split("*"):
        size *= int(factor) if factor.isdigit() else legend.get(factor, -1)
    return size


def format_trace(legend, steps, norm_first, width=44):
    """The steps as text, section by section; a stack's first layer in
    full, then the layers that repeat it step for step counted."""
    sections = []  # [(name, [steps])] in the order they ran
    for step in steps:
        if not sections or sections[-1][0] != step.section:
            sections.append((step.section, []))
        sections[-1][1].append(step)
    lines, first_layers, repeats = [], {}, []
    for name, section_steps in sections:
        layer = LAYER.match(name or "")
        signature = [(s.part, s.label, s.dims, s.shape) for s in section_steps]
        if layer and first_layers.get(layer[1]) == signature:
            repeats.append(name)
            continue
        lines += repeated(repeats, legend["L"])
        repeats = []
        if layer:
            first_layers.setdefault(layer[1], signature)
        lines.append(heading(name, layer, legend["L"], norm_first))
        part = None
        for step in section_steps:
            if step.part is not None and step.part != part:
                part = step.part
                lines.append(f"  {PARTS.get(part, part)}")
            label = ("    " if part else "  ") + step.label
            notation, sizes = symbols(step.dims, step.shape, legend)
            lines.append(f"{label.ljust(width)}  {notation} = {sizes}")
    return lines + repeated(repeats, legend["L"])


SECTIONS = {  # headings of the sections that are not layers
    "embeddings": "Embeddings",
    "encoder input": "Encoder input: the source, S tokens",
    "decoder input": "Decoder input: the target so far (shifted right), "
                     "T tokens",
    "encoder output": "Encoder output",
    "decoder output": "Decoder output",
    "output": "Output",
    "pooler": "Pooler: the first token's row, h_[CLS]",
    "output projection": "Output projection (the language-model tasks' "
                         "head)",
}


def heading(name, layer, num_layers, norm_first):
    if layer is None:
        return SECTIONS.get(name, name)
    index = int(layer[2])
    if index > 0:
        return f"{kind(layer)} {index + 1} of {num_layers} ({name})"
    residual = ("pre-LN: x + Sublayer(LayerNorm(x))" if norm_first
                else "post-LN: LayerNorm(x + Sublayer(x))")
    return f"{kind(layer)} 1 of {num_layers} ({name}), {residual}"


def kind(layer):
    """"Layer", "Encoder layer" or "Decoder layer"."""
    return "Layer" if layer[1] == "transformer" else f"{layer[1].title()} layer"


def repeated(names, num_layers):
    """The line that counts the layers `names`, which repeated the first."""
    if not names:
        return []
    first, last = (LAYER.match(name) for name in (names[0], names[-1]))
    which = (f"{kind(first)} {int(first[2]) + 1} ({names[0]})"
             if len(names) == 1 else
             f"{kind(first)}s {int(first[2]) + 1}–{int(last[2]) + 1} "
             f"({names[0]} … {names[-1]})")
    return [f"{which}: the same steps, the same shapes "
            f"(× {num_layers} layers in all)"]


# What the tasks do with the output projection's logits.
AFTER = {
    "BertEncoder": (
        "MaskedLM scores the masked positions only, with a dense layer and "
        "a LayerNorm before this\nprojection and a bias after it; "
        "SequenceClassifier reads the pooled output, TokenClassifier\n"
        "projects each row of h to its tags instead."),
    "GPTDecoder": (
        "CausalLM: row t scores token t + 1; softmax over the V logits "
        "gives its probabilities\n(the loss and the samplers apply it)."),
    "Transformer": (
        "Seq2SeqLM: decoder row t scores target token t + 1; softmax over "
        "the V logits gives its\nprobabilities (the loss and the samplers "
        "apply it)."),
}


def describe_preset(preset, length=LENGTH, source_length=SOURCE_LENGTH):
    """The printout of `python -m zoo.show shapes --preset=...`: preset
    `preset`'s backbone, built with the weights' shapes only."""
    with compat.shapes_only():
        backbone = models.from_preset(preset)
        return describe(backbone, f"{type(backbone).__name__} {preset!r}",
                        length, source_length)


def describe(backbone, name, length=LENGTH, source_length=SOURCE_LENGTH):
    """`trace_model(backbone, ...)` as text, under a title naming `name`."""
    legend, steps = trace_model(backbone, length, source_length)
    family = type(backbone).__name__
    blocks = getattr(backbone, "transformer_layers", None)
    norm_first = (blocks or backbone.encoder_layers)[0].norm_first
    source = (f"S={legend['S']} source tokens" if family == "Transformer"
              else "S=T keys (self attention: the same tokens)")
    lines = [
        f"{name}: one sequence through the model, in the notation of "
        "Vaswani et al. 2017.",
        "Every shape was observed while the model ran once on stand-in "
        "tensors (the weights' shapes,\nno values); the batch axis (B=1) "
        "is dropped, as in the paper. Attention ran its written-out\npath "
        "(return_attention_scores=True) so that its steps show; by default "
        "the blocks compute it\nin one fused ops.dot_product_attention. "
        "The heads sit on the axis after the tokens, (T, N, H), as\nthat "
        "op takes them: the paper's head i is [:, i, :], (T, H).",
        "",
        f"T={legend['T']} tokens · {source} · D={legend['D']} hidden_dim "
        f"(d_model) · N={legend['N']} heads",
        f"H={legend['H']} head_dim (d_k = d_v = D/N) · F={legend['F']} "
        f"intermediate_dim (d_ff) · V={legend['V']} vocabulary · "
        f"L={legend['L']} layers",
        "",
        *format_trace(legend, steps, norm_first),
        "",
        AFTER[family],
    ]
    return "\n".join(lines)
