import numpy as np
import pytest
from harness import random_floats
from harness import run_layer_checks

from zoo.blocks import FeedForward


@pytest.mark.parametrize("activation", ["relu", "gelu", "gelu_approximate"])
def test_standard_checks(activation, tmp_path):
    run_layer_checks(
        FeedForward,
        {"intermediate_dim": 16, "activation": activation},
        inputs=random_floats((2, 5, 8)),
        expected_output_shape=(2, 5, 8),
        tmp_path=tmp_path,
    )


def test_is_the_papers_formula():
    """FFN(x) = relu(x W1 + b1) W2 + b2, applied to each position alone."""
    layer = FeedForward(intermediate_dim=16, bias_initializer="random_normal")
    x = random_floats((2, 5, 8))
    out = np.asarray(layer(x))
    w1, b1 = (np.asarray(w) for w in layer.inner.weights)
    w2, b2 = (np.asarray(w) for w in layer.outer.weights)
    np.testing.assert_allclose(out, np.maximum(x @ w1 + b1, 0) @ w2 + b2,
                               rtol=1e-5, atol=1e-5)


def test_unknown_activation_raises():
    with pytest.raises(ValueError, match="Unknown activation 'mish'"):
        FeedForward(intermediate_dim=16, activation="mish")
