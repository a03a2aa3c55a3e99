"""`python -m zoo.show shapes`: the printed shapes are the ones the layers
give when called on their own, and the symbols are the legend's."""

import re

import numpy as np
from harness import random_ids

from zoo.models import BertEncoder
from zoo.models import GPTDecoder
from zoo.models import Transformer
from zoo.show import shapes
from zoo.tasks import CausalLM
from zoo.tasks import Seq2SeqLM

SIZES = dict(vocabulary_size=40, num_layers=2, num_heads=2, hidden_dim=16,
             intermediate_dim=32, max_sequence_length=16, dropout=0.0)
T, S, N, H = 5, 7, 2, 8  # tokens, source tokens, heads, head size
STEP = re.compile(r"^ +(\S.*?) {2,}\((.*)\) = \((.*)\)$")


def parse(text):
    """{(heading, part, label): (symbols, sizes)} of the printed steps."""
    steps, heading, part = {}, None, None
    for line in text.splitlines():
        step = STEP.match(line)
        if step:
            sizes = tuple(int(size) for size in step[3].split(", "))
            steps.setdefault((heading, part, step[1]), (step[2], sizes))
        elif line.startswith("  ") and line.strip():
            part = line.strip()
        elif line.strip():
            heading, part = line, None
    return steps


def find(steps, heading, part, label):
    """The one printed step under a heading and part starting so."""
    found = [value for (h, p, l), value in steps.items()
             if h.startswith(heading) and (p or "").startswith(part)
             and l.startswith(label)]
    assert len(found) == 1, (heading, part, label, found)
    return found[0]


def shape(tensor):
    return tuple(int(size) for size in tensor.shape[1:])  # batch dropped


def test_gpt_shapes_are_those_of_its_layers():
    backbone = GPTDecoder(**SIZES)
    text = shapes.describe(backbone, "tiny GPT", length=T)
    steps = parse(text)
    ids = random_ids((1, T), 40)
    inputs = {"token_ids": ids, "padding_mask": np.ones((1, T), "int32")}
    block = backbone.transformer_layers[0]
    x = block.self_attention_norm(backbone.embed(ids))  # (1, T, D)
    _, scores = backbone(inputs, return_attention_scores=True)
    layer = "Layer 1 of 2"
    expected = [
        ("Embeddings", "", "x = token + position", "T, D", shape(x)),
        (layer, "self attention", "Q = X W_Q", "T, N·H",
         shape(block.self_attention.w_q(x))),
        (layer, "self attention", "K split", "S, N, H", (T, N, H)),
        (layer, "self attention", "Q Kᵀ /", "N, T, S",
         shape(scores["self_attention"][0])),
        (layer, "self attention", "causal mask", "T, S", (T, T)),
        (layer, "position-wise", "GELU(x W_1", "T, F",
         shape(block.feed_forward.inner(x))),
        (layer, "position-wise", "FFN(x)", "T, D",
         shape(block.feed_forward(x))),
        ("Output projection", "", "logits", "T, V",
         shape(CausalLM(backbone)(inputs))),
    ]
    for heading, part, label, symbols, sizes in expected:
        assert find(steps, heading, part, label) == (symbols, sizes)
    assert "Layer 2 (transformer_layer_1): the same steps" in text
    assert "× 2 layers" in text and "?" not in text


def test_bert_shapes_are_those_of_its_layers():
    backbone = BertEncoder(**SIZES)
    steps = parse(shapes.describe(backbone, "tiny BERT", length=T))
    inputs = {"token_ids": random_ids((1, T), 40),
              "padding_mask": np.ones((1, T), "int32")}
    outputs, scores = backbone(inputs, return_attention_scores=True)
    block = backbone.transformer_layers[0]
    x = outputs["sequence_output"]
    layer = "Layer 1 of 2"
    expected = [
        (layer, "", "padding mask", "1, S", (1, T)),
        (layer, "self attention", "P = softmax", "N, T, S",
         shape(scores["self_attention"][0])),
        (layer, "self attention", "P V", "T, N, H", (T, N, H)),
        (layer, "self attention", "Concat", "T, N·H", (T, N * H)),
        (layer, "self attention", "LayerNorm(x + Sublayer", "T, D", shape(x)),
        (layer, "position-wise", "GELU", "T, F",
         shape(block.feed_forward.inner(x))),
        ("Pooler", "", "pooled", "D", shape(outputs["pooled_output"])),
        ("Output projection", "", "logits", "T, V",
         shape(backbone.token_embedding(x, reverse=True))),
    ]
    for heading, part, label, symbols, sizes in expected:
        assert find(steps, heading, part, label) == (symbols, sizes)


def test_transformer_shapes_tell_source_and_target_apart():
    backbone = Transformer(**SIZES)
    text = shapes.describe(backbone, "tiny Transformer", length=T,
                           source_length=S)
    steps = parse(text)
    inputs = {"encoder_token_ids": random_ids((1, S), 40),
              "encoder_padding_mask": np.ones((1, S), "int32"),
              "decoder_token_ids": random_ids((1, T), 40),
              "decoder_padding_mask": np.ones((1, T), "int32")}
    _, scores = backbone(inputs, return_attention_scores=True)
    encoder_output = backbone.encode(inputs["encoder_token_ids"])
    block = backbone.decoder_layers[0]
    z = block.cross_attention.w_k(encoder_output)
    expected = [
        ("Encoder input", "", "x = E[x] · √D + PE", "S, D",
         shape(encoder_output)),
        ("Encoder layer 1", "self attention", "Q Kᵀ /", "N, S, S",
         shape(scores["encoder_self_attention"][0])),
        ("Decoder layer 1", "self attention", "Q Kᵀ /", "N, T, T",
         shape(scores["decoder_self_attention"][0])),
        ("Decoder layer 1", "cross attention", "K = Z W_K", "S, N·H",
         shape(z)),
        ("Decoder layer 1", "cross attention", "Q = X W_Q", "T, N·H",
         (T, N * H)),
        ("Decoder layer 1", "cross attention", "Q Kᵀ /", "N, T, S",
         shape(scores["cross_attention"][0])),
        ("Decoder layer 1", "position-wise", "max(0, x W_1", "T, F",
         (T, SIZES["intermediate_dim"])),
        ("Output projection", "", "logits", "T, V",
         shape(Seq2SeqLM(backbone)(inputs))),
    ]
    for heading, part, label, symbols, sizes in expected:
        assert find(steps, heading, part, label) == (symbols, sizes)
    assert "Encoder layer 2 (encoder_layer_1): the same steps" in text
    assert "Decoder layer 2 (decoder_layer_1)" in text and "?" not in text


def test_a_preset_is_traced_without_allocating_its_weights():
    text = shapes.describe_preset("transformer_base")
    assert "T=6 tokens · S=7 source tokens · D=512" in text
    assert "N=8 heads" in text and "F=2048" in text and "V=37000" in text
    steps = parse(text)
    assert find(steps, "Decoder layer 1", "cross attention", "Q Kᵀ /") == (
        "N, T, S", (8, 6, 7))
    assert find(steps, "Output projection", "", "logits") == (
        "T, V", (6, 37000))
    assert "× 6 layers in all" in text


def test_symbols_name_only_axes_of_the_legend_size():
    legend = {"B": 1, "T": 6, "S": 7, "N": 8, "H": 64, "D": 512}
    assert shapes.symbols("(B, T, N*H)", (1, 6, 512), legend) == (
        "(T, N·H)", "(6, 512)")
    # The encoder's queries are the source: T in the code, S here.
    assert shapes.symbols("(B, N, T, S)", (1, 8, 7, 7), legend) == (
        "(N, S, S)", "(8, 7, 7)")
    assert shapes.symbols("(B, T, D)", (1, 6, 500), legend) == (
        "(T, 500?)", "(6, 500)")
