"""zoo.tuning: the faster formulations give the plain path's numbers."""

import keras
import numpy as np
import pytest
from harness import gradients
from harness import random_floats

from zoo import tuning
from zoo.blocks import Dropout
from zoo.blocks import MultiHeadAttention
from zoo.blocks.masks import padding_attention_mask


@pytest.fixture
def tuned():
    """Run a test with tuning on, whatever the backend; restore after."""
    old = tuning.set_tuning("on")
    yield
    tuning.set_tuning(old)


@pytest.mark.parametrize("length", [129, 300])
def test_causal_blocks_equal_one_masked_softmax(length):
    """Query blocks skip the keys after each block: same outputs and
    gradients as the plain path, padding included."""
    assert length > tuning.QUERY_BLOCK  # more than one block
    layer = MultiHeadAttention(num_heads=2, head_dim=4)
    x = keras.ops.convert_to_tensor(random_floats((2, length, 8)))
    padding = np.ones((2, length), bool)
    padding[1, length - 40:] = False
    mask = padding_attention_mask(padding)
    results = []
    for setting in ("off", "on"):
        old = tuning.set_tuning(setting)
        try:
            def loss():
                out = layer(x, attention_mask=mask, causal=True)
                return keras.ops.sum(out * out)

            out = layer(x, attention_mask=mask, causal=True)
            grads = gradients(loss, layer.trainable_variables)
        finally:
            tuning.set_tuning(old)
        results.append([keras.ops.convert_to_numpy(t) for t in [out, *grads]])
    # Gradients reach |600|: the blocks sum in another order, so float32
    # rounding differs by a few units in the last place (1.8e-4 was seen).
    for plain, blocked in zip(*results):
        np.testing.assert_allclose(blocked, plain, rtol=1e-5, atol=1e-4)


def test_the_switch():
    old = tuning.set_tuning("auto")
    try:
        assert tuning.active() == (keras.backend.backend() == "tensorflow")
        tuning.set_tuning("off")
        assert not tuning.active()
        with pytest.raises(ValueError, match="auto"):
            tuning.set_tuning("fast")
    finally:
        tuning.set_tuning(old)


@pytest.mark.tensorflow
def test_tuned_dropout_draws_threefry_under_xla_and_philox_elsewhere(
        tuned, monkeypatch):
    import tensorflow as tf

    algorithms = []
    stateless_dropout = tf.nn.experimental.stateless_dropout

    def spy(*args, rng_alg, **kwargs):
        algorithms.append(rng_alg)
        return stateless_dropout(*args, rng_alg=rng_alg, **kwargs)

    monkeypatch.setattr(tf.nn.experimental, "stateless_dropout", spy)
    layer = Dropout(0.25, seed=3)
    x = np.ones((200, 500), "float32")
    for function in (layer, tf.function(layer),
                     tf.function(layer, jit_compile=True)):
        y = np.asarray(function(x, training=True))
        np.testing.assert_allclose(np.unique(y), [0.0, 1 / 0.75], rtol=1e-6)
        assert abs((y == 0).mean() - 0.25) < 0.01
    assert algorithms == ["philox", "philox", "threefry"]
    np.testing.assert_array_equal(layer(x), x)  # not training: identity


def test_dropout_is_tuned_on_tensorflow_only(tuned):
    layer = Dropout(0.5, seed=1)
    y = keras.ops.convert_to_numpy(layer(np.ones((8, 64), "float32"),
                                         training=True))
    assert set(np.unique(y)) == {0.0, 2.0}
    assert tuning.active("dropout") == (
        keras.backend.backend() == "tensorflow")


@pytest.mark.tensorflow
def test_step_logits_are_e_h_transposed_outside_xla_only(tuned, monkeypatch):
    import tensorflow as tf

    from zoo.blocks import TokenEmbedding

    embedding = TokenEmbedding(50, 8)
    embedding.build((None, None))
    hidden = random_floats((3, 8))
    expected = hidden @ np.asarray(embedding.embeddings).T  # h E^T
    taken = []
    logits = tuning.logits
    monkeypatch.setattr(tuning, "logits",
                        lambda *args: taken.append(1) or logits(*args))
    for jit_compile in (False, True):
        out = tf.function(lambda h: embedding(h, reverse=True),
                          jit_compile=jit_compile)(hidden)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    assert taken == [1]  # without XLA only


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_written_out_gelu_and_layer_norm_match_keras(dtype):
    """GELU and LayerNorm with their derivatives written out: Keras's
    values and gradients (float32 to rounding, bfloat16 to its 8 bits)."""
    from zoo.blocks import LayerNormalization
    from zoo.blocks.feed_forward import gelu_approximate

    # Far into both tails of GELU, where t = tanh(.) is near -1 and 1.
    x = keras.ops.convert_to_tensor(
        random_floats((3, 7, 16)) * np.linspace(0.1, 8, 16), dtype=dtype)
    weights = keras.ops.convert_to_tensor(random_floats((3, 7, 16)), dtype)
    norm = LayerNormalization(epsilon=1e-5, dtype=dtype)
    norm.build(x.shape)
    norm.gamma.assign(random_floats((16,)) + 1)
    norm.beta.assign(random_floats((16,)))
    results = []
    for setting in ("off", "on"):
        old = tuning.set_tuning(setting)
        try:
            def loss():
                y = norm(gelu_approximate(x_var.value) * 3)
                return keras.ops.sum(keras.ops.cast(y * weights, "float32"))

            x_var = keras.Variable(x, dtype=dtype, trainable=True)
            out = norm(gelu_approximate(x))
            grads = gradients(loss, [x_var, norm.gamma, norm.beta])
        finally:
            tuning.set_tuning(old)
        results.append([keras.ops.convert_to_numpy(
            keras.ops.cast(t, "float32")) for t in [out, *grads]])
    tolerance = 1e-5 if dtype == "float32" else 2e-2
    for plain, written_out in zip(*results):
        scale = np.abs(plain).max()
        np.testing.assert_allclose(written_out, plain, rtol=tolerance,
                                   atol=tolerance * scale)


def test_gelu_and_layer_norm_are_written_out_on_tensorflow_only(tuned):
    tensorflow = keras.backend.backend() == "tensorflow"
    assert tuning.active("gelu") == tensorflow
    assert tuning.active("layer_norm") == tensorflow


@pytest.mark.tensorflow
def test_gelu_and_layer_norm_are_written_out_outside_xla_only(tuned):
    import tensorflow as tf

    seen = []

    def probe(x):
        seen.append([tuning.active(f) for f in ("gelu", "layer_norm")])
        return x

    tf.function(probe)(tf.ones(1))
    tf.function(probe, jit_compile=True)(tf.ones(1))
    assert seen == [[True, True], [False, False]]
    with pytest.raises(ValueError, match="layer_norm"):
        tuning.active("layernorm")


def test_layer_norm_over_other_axes_takes_the_plain_path(tuned):
    from zoo.blocks import LayerNormalization

    x = random_floats((2, 3, 4))
    # Keras's own LayerNormalization fails on PyTorch over a middle axis
    # alone (torch's layer_norm normalizes trailing axes only).
    axes = [[1, 2]] if keras.backend.backend() == "torch" else [1, [1, 2]]
    for axis in axes:
        zoo_norm = LayerNormalization(axis=axis)
        keras_norm = keras.layers.LayerNormalization(axis=axis)
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(zoo_norm(x)),
            keras.ops.convert_to_numpy(keras_norm(x)), rtol=1e-6, atol=1e-6)
