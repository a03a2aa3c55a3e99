import keras
import numpy as np
import pytest
import tensorflow as tf
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


@pytest.mark.parametrize("length", [129, 300])
def test_causal_blocks_equal_one_masked_softmax(length):
    """`causal=True` skips keys after each query block: same outputs and
    gradients as the whole (T, T) masked softmax, padding included."""
    from zoo.blocks import attention
    from zoo.blocks.masks import merge_masks
    from zoo.blocks.masks import padding_attention_mask

    assert length > attention.QUERY_BLOCK  # more than one block
    layer = MultiHeadAttention(num_heads=2, head_dim=4)
    with pytest.raises(ValueError, match="without a cache"):
        layer(random_floats((1, 3, 8)), causal=True,
              cache=np.zeros((1, 2, 3, 2, 4), "float32"), cache_update_index=0)
    x = random_floats((2, length, 8))
    padding = np.ones((2, length), bool)
    padding[1, length - 40:] = False
    mask = merge_masks(causal_attention_mask(length, length),
                       padding_attention_mask(padding))
    results = []
    for causal in (False, True):  # causal=True adds the causal mask itself
        mask = mask if not causal else padding_attention_mask(padding)
        x_tensor = keras.ops.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x_tensor)
            out = layer(x_tensor, attention_mask=mask, causal=causal)
            loss = keras.ops.sum(out * out)
        results.append((np.asarray(out), np.asarray(tape.gradient(loss, x_tensor))))
    np.testing.assert_allclose(results[1][0], results[0][0], atol=1e-5)
    np.testing.assert_allclose(results[1][1], results[0][1], atol=1e-4)


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
