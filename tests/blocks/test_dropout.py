"""zoo's Dropout: Keras' layer (with Philox masks under zoo.tuning)."""

import keras
import numpy as np

from zoo.blocks import Dropout
from zoo.models import BertEncoder


def test_drops_at_the_rate_and_scales_the_rest():
    layer = Dropout(0.25, seed=1)
    x = np.ones((200, 500), "float32")
    first = keras.ops.convert_to_numpy(layer(x, training=True))
    second = keras.ops.convert_to_numpy(layer(x, training=True))
    for y in (first, second):
        np.testing.assert_allclose(np.unique(y), [0.0, 1 / 0.75], rtol=1e-6)
        assert abs((y == 0).mean() - 0.25) < 0.01  # 100,000 draws
    assert not np.array_equal(first, second)  # a new mask every call


def test_is_the_identity_unless_training():
    layer = Dropout(0.5)
    x = np.random.rand(4, 8).astype("float32")
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, training=False), x)
    np.testing.assert_array_equal(Dropout(0.0)(x, training=True), x)


def test_same_seed_same_masks_and_config_round_trip():
    x = np.ones((16, 64), "float32")
    a, b = Dropout(0.5, seed=7), Dropout(0.5, seed=7)
    np.testing.assert_array_equal(a(x, training=True), b(x, training=True))
    layer = keras.layers.deserialize(keras.layers.serialize(a))
    assert type(layer) is Dropout and layer.rate == 0.5 and layer.seed == 7


def test_noise_shape_shares_the_mask():
    layer = Dropout(0.5, noise_shape=(None, 1, 32), seed=2)
    y = keras.ops.convert_to_numpy(
        layer(np.ones((4, 6, 32), "float32"), training=True))
    np.testing.assert_array_equal(y, np.broadcast_to(y[:, :1], y.shape))


def test_every_dropout_of_a_model_is_zoos():
    model = BertEncoder(vocabulary_size=20, num_layers=1, num_heads=2,
                        hidden_dim=8, intermediate_dim=16)
    dropouts = [layer for layer in model._flatten_layers()
                if isinstance(layer, keras.layers.Dropout)]
    assert len(dropouts) == 3  # embeddings, attention, residual
    assert all(type(layer) is Dropout for layer in dropouts)
