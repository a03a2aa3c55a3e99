"""Every backbone hands back its blocks' attention probabilities
(`return_attention_scores=True`) beside the outputs it always gives."""

import numpy as np
from harness import random_ids

from zoo.models import BertEncoder
from zoo.models import GPTDecoder
from zoo.models import Transformer

SIZES = dict(vocabulary_size=40, num_layers=2, num_heads=2, hidden_dim=8,
             intermediate_dim=16, max_sequence_length=12, dropout=0.0)
# Row 1 is padded after 3 tokens.
PADDING = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]], "int32")


def check_probabilities(probs, shape):
    probs = np.asarray(probs)
    assert probs.shape == shape
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    return probs


def test_bert_padded_keys_get_no_attention():
    model = BertEncoder(**SIZES)
    inputs = {"token_ids": random_ids((2, 6), 40),
              "segment_ids": np.zeros((2, 6), "int32"),
              "padding_mask": PADDING}
    outputs, scores = model(inputs, return_attention_scores=True)
    plain = model(inputs)
    for key in ("sequence_output", "pooled_output"):
        np.testing.assert_allclose(outputs[key], plain[key], atol=1e-5)
    assert len(scores["self_attention"]) == 2
    for probs in scores["self_attention"]:
        probs = check_probabilities(probs, (2, 2, 6, 6))
        assert np.all(probs[1, :, :, 3:] == 0)  # padding keys
        assert np.all(probs[0] > 0)  # no mask on the full row


def test_bert_pooled_only_scores_have_one_query_in_the_last_layer():
    model = BertEncoder(**SIZES)
    inputs = {"token_ids": random_ids((2, 6), 40), "padding_mask": PADDING}
    _, full = model(inputs, return_attention_scores=True)
    _, pooled = model(inputs, pooled_only=True, return_attention_scores=True)
    last = check_probabilities(pooled["self_attention"][-1], (2, 2, 1, 6))
    np.testing.assert_allclose(
        last, np.asarray(full["self_attention"][-1])[:, :, :1], atol=1e-6)


def test_gpt_attention_is_causal():
    model = GPTDecoder(**SIZES)
    inputs = {"token_ids": random_ids((2, 6), 40), "padding_mask": PADDING}
    hidden, scores = model(inputs, return_attention_scores=True)
    np.testing.assert_allclose(hidden, model(inputs), atol=1e-5)
    for probs in scores["self_attention"]:
        probs = check_probabilities(probs, (2, 2, 6, 6))
        assert np.all(np.triu(probs, k=1) == 0)  # no future key
        assert np.all(probs[1, :, :, 3:] == 0)  # no padding key


def test_transformer_gives_three_kinds():
    model = Transformer(**SIZES)
    source_mask = np.array([[1] * 7, [1] * 4 + [0] * 3], "int32")
    inputs = {"encoder_token_ids": random_ids((2, 7), 40),
              "encoder_padding_mask": source_mask,
              "decoder_token_ids": random_ids((2, 6), 40),
              "decoder_padding_mask": PADDING}
    hidden, scores = model(inputs, return_attention_scores=True)
    np.testing.assert_allclose(hidden, model(inputs), atol=1e-5)
    assert sorted(scores) == ["cross_attention", "decoder_self_attention",
                              "encoder_self_attention"]
    for layer in range(2):
        encoder = check_probabilities(
            scores["encoder_self_attention"][layer], (2, 2, 7, 7))
        assert np.all(encoder[1, :, :, 4:] == 0)
        decoder = check_probabilities(
            scores["decoder_self_attention"][layer], (2, 2, 6, 6))
        assert np.all(np.triu(decoder, k=1) == 0)
        cross = check_probabilities(
            scores["cross_attention"][layer], (2, 2, 6, 7))
        assert np.all(cross[1, :, :, 4:] == 0)  # padded source tokens


def test_scores_are_those_of_the_blocks_that_run():
    """Layer 1's P is what its block computes from layer 0's output."""
    model = GPTDecoder(**SIZES)
    inputs = {"token_ids": random_ids((1, 6), 40)}
    _, scores = model(inputs, return_attention_scores=True)
    first, second = model.transformer_layers
    x = first(model.embed(inputs["token_ids"]))
    _, block_scores = second(x, return_attention_scores=True)
    np.testing.assert_allclose(scores["self_attention"][1],
                               block_scores["self_attention"], atol=1e-6)
