import keras
import numpy as np
import pytest
from harness import random_floats
from harness import run_layer_checks

from zoo.blocks import MultiHeadAttention
from zoo.blocks import causal_attention_mask


def test_standard_checks(tmp_path):
    run_layer_checks(
        MultiHeadAttention,
        {"num_heads": 2, "head_dim": 4},
        inputs=random_floats((2, 5, 8)),
        expected_output_shape=(2, 5, 8),
        tmp_path=tmp_path,
    )


def test_is_the_papers_formula():
    """MultiHead = Concat(softmax(Q_i K_i^T / sqrt(d_k)) V_i) W_O, in NumPy."""
    layer = MultiHeadAttention(num_heads=2, head_dim=4,
                               bias_initializer="random_normal")
    x, mask = random_floats((2, 5, 8)), causal_attention_mask(5, 5)
    out = np.asarray(layer(x, attention_mask=mask))

    def project(dense, h):  # W (D, N*H) holds the N heads' (D, H) blocks
        kernel, bias = (np.asarray(w) for w in dense.weights)
        return (h @ kernel + bias).reshape(h.shape[:2] + (2, 4))

    q, k, v = (project(d, x) for d in (layer.w_q, layer.w_k, layer.w_v))
    scores = np.einsum("btnh,bsnh->bnts", q, k) / np.sqrt(4)
    scores = np.where(np.asarray(mask)[:, None], scores, -np.inf)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    heads = np.einsum("bnts,bsnh->btnh", probs, v)
    w_o, b_o = (np.asarray(w) for w in layer.w_o.weights)
    expected = heads.reshape(2, 5, 8) @ w_o + b_o  # Concat(heads) W_O
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_matches_keras_multi_head_attention():
    """keras.layers.MultiHeadAttention's weights, reshaped, give its outputs."""
    ours = MultiHeadAttention(num_heads=2, head_dim=4)
    theirs = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4)
    x, y = random_floats((2, 5, 8)), random_floats((2, 7, 8))
    mask = np.random.default_rng(1).random((2, 5, 7)) > 0.3
    theirs(x, y, attention_mask=mask)
    ours.build(x.shape)
    ours.set_weights([
        np.reshape(w, v.shape)
        for w, v in zip(theirs.get_weights(), ours.weights)
    ])
    np.testing.assert_allclose(
        ours(x, y, attention_mask=mask), theirs(x, y, attention_mask=mask),
        atol=1e-5,
    )


def test_masked_keys_get_zero_weight():
    """Changing a masked-out key/value never changes the output."""
    layer = MultiHeadAttention(num_heads=2, head_dim=4)
    x = random_floats((1, 5, 8))
    mask = np.array([[[True, True, True, False, False]] * 5])
    y = x.copy()
    y[:, 3:] = 100.0
    np.testing.assert_allclose(
        layer(x, x, attention_mask=mask)[:, :3],
        layer(x[:, :3], y, attention_mask=mask[:, :3])[:, :3], atol=1e-5)


def test_attention_dropout_only_in_training():
    layer = MultiHeadAttention(num_heads=2, head_dim=4, dropout=0.5)
    x = random_floats((2, 6, 8))
    np.testing.assert_allclose(layer(x, training=False), layer(x, training=False))
    assert not np.allclose(layer(x, training=True), layer(x, training=False))


def test_written_out_softmax_is_the_fused_kernel():
    """Training with attention dropout writes softmax(QK^T/sqrt(d_k))V out;
    at rate 0 it is ops.dot_product_attention: the same numbers."""
    x = random_floats((2, 6, 8))
    mask = causal_attention_mask(6, 6)
    fused = MultiHeadAttention(num_heads=2, head_dim=4)
    out = np.asarray(fused(x, attention_mask=mask, training=True))
    written = MultiHeadAttention(num_heads=2, head_dim=4, dropout=1e-9)
    written.build(x.shape)
    written.set_weights(fused.get_weights())
    np.testing.assert_allclose(written(x, attention_mask=mask, training=True),
                               out, atol=1e-5)


def test_cache_write_then_read_equals_full_attention():
    layer = MultiHeadAttention(num_heads=2, head_dim=4)
    x = random_floats((2, 6, 8))
    full = layer(x, attention_mask=causal_attention_mask(6, 6))
    cache = np.zeros((2, 2, 6, 2, 4), "float32")
    steps = []
    for t in range(6):
        out, cache = layer(x[:, t:t + 1], attention_mask=causal_attention_mask(1, 6, t),
                           cache=cache, cache_update_index=t)
        steps.append(out)
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)


def test_cache_index_without_cache_raises():
    layer = MultiHeadAttention(num_heads=2, head_dim=4)
    with pytest.raises(ValueError, match="without a `cache`"):
        layer(random_floats((1, 2, 8)), cache_update_index=0)


def numpy_probabilities(layer, x, y, mask):
    """softmax(Q K^T / sqrt(H)) of `layer`'s heads, masked keys 0, in NumPy."""
    def project(dense, h):
        kernel, bias = (np.asarray(w) for w in dense.weights)
        return (h @ kernel + bias).reshape(h.shape[:2] + (2, 4))

    q, k = project(layer.w_q, x), project(layer.w_k, y)
    scores = np.einsum("btnh,bsnh->bnts", q, k) / np.sqrt(4)
    scores = np.where(mask[:, None], scores, -np.inf)
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    return probs / probs.sum(-1, keepdims=True)  # (B, N, T, S)


def test_returned_probabilities_are_softmax_and_output_is_the_fused_one():
    """With return_attention_scores: the fused path's output (within float
    tolerance), and P (B, N, T, S), rows of 1, masked keys exactly 0."""
    layer = MultiHeadAttention(num_heads=2, head_dim=4,
                               bias_initializer="random_normal")
    x, y = random_floats((2, 5, 8)), random_floats((2, 7, 8))
    mask = np.random.default_rng(2).random((2, 5, 7)) > 0.4
    mask[..., 0] = True  # every query sees a key
    fused = layer(x, y, attention_mask=mask)
    output, probs = layer(x, y, attention_mask=mask,
                          return_attention_scores=True)
    np.testing.assert_allclose(output, fused, atol=1e-5)
    probs = np.asarray(probs)
    assert probs.shape == (2, 2, 5, 7)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-6)
    assert np.all(probs[np.broadcast_to(~mask[:, None], probs.shape)] == 0)
    np.testing.assert_allclose(probs, numpy_probabilities(layer, x, y, mask),
                               atol=1e-6)


def test_causal_probabilities_are_lower_triangular():
    layer = MultiHeadAttention(num_heads=2, head_dim=4)
    x = random_floats((1, 6, 8))
    _, probs = layer(x, causal=True, return_attention_scores=True)
    probs = np.asarray(probs)  # (1, 2, 6, 6)
    assert np.all(np.triu(probs, k=1) == 0)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-6)


def test_probabilities_with_a_cache_come_before_it():
    """(output, P, cache): the cached step's P is the full pass's row."""
    layer = MultiHeadAttention(num_heads=2, head_dim=4)
    x = random_floats((2, 6, 8))
    full, full_probs = layer(x, causal=True, return_attention_scores=True)
    cache = np.zeros((2, 2, 6, 2, 4), "float32")
    for t in range(6):
        out, probs, cache = layer(
            x[:, t:t + 1], attention_mask=causal_attention_mask(1, 6, t),
            cache=cache, cache_update_index=t, return_attention_scores=True)
        np.testing.assert_allclose(out, np.asarray(full)[:, t:t + 1],
                                   atol=1e-5)
        np.testing.assert_allclose(probs, np.asarray(full_probs)[:, :, t:t + 1],
                                   atol=1e-6)
    assert cache.shape == (2, 2, 6, 2, 4)
