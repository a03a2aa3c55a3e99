import keras
import numpy as np
import pytest
from harness import gradients

from zoo.tasks import SparseCrossEntropy


def _log_softmax(logits):
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def test_is_label_smoothed_cross_entropy():
    """(1 - ε) * -log p[y] + ε * mean_k(-log p[k]), averaged, in NumPy."""
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((3, 4, 7)).astype("float32")
    labels = rng.integers(0, 7, (3, 4))
    log_p = _log_softmax(logits)
    nll = -np.take_along_axis(log_p, labels[..., None], -1)[..., 0]
    expected = 0.9 * nll + 0.1 * -log_p.mean(-1)
    loss = SparseCrossEntropy(label_smoothing=0.1)(labels, logits)
    np.testing.assert_allclose(float(loss), expected.mean(), rtol=1e-5)


@pytest.mark.parametrize("label_shape", ["(B, T)", "(B, T, 1)"])
def test_gradient_is_softmax_less_the_smoothed_target(label_shape):
    """d loss / d z = (softmax(z) - q) / positions, q the smoothed target
    (1 - ε on the label, plus ε / K on every class): the fused softmax
    cross entropy and the logsumexp give the textbook gradient."""
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((2, 3, 7)).astype("float32")
    labels = rng.integers(0, 7, (2, 3))
    variable = keras.Variable(logits)
    loss_fn = SparseCrossEntropy(label_smoothing=0.1)
    given = labels[..., None] if label_shape == "(B, T, 1)" else labels
    (grad,) = gradients(lambda: loss_fn(given, variable), [variable])
    target = 0.9 * np.eye(7)[labels] + 0.1 / 7
    expected = (np.exp(_log_softmax(logits)) - target) / labels.size
    np.testing.assert_allclose(keras.ops.convert_to_numpy(grad), expected,
                               atol=1e-6)


def test_weights_average_over_real_tokens_only():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((2, 5, 7)).astype("float32")
    labels = rng.integers(0, 7, (2, 5))
    weights = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], "float32")
    loss_fn = SparseCrossEntropy(label_smoothing=0.1)
    loss = float(loss_fn(labels, logits, sample_weight=weights))

    # The same tokens, padded to 9 positions with other junk: same loss.
    more_logits = np.concatenate(
        [logits, rng.standard_normal((2, 4, 7)).astype("float32")], axis=1)
    more_labels = np.concatenate([labels, rng.integers(0, 7, (2, 4))], axis=1)
    more_weights = np.pad(weights, [(0, 0), (0, 4)])
    padded = float(loss_fn(more_labels, more_logits, sample_weight=more_weights))
    np.testing.assert_allclose(loss, padded, rtol=1e-6)

    real = weights.astype(bool)
    per_token = np.asarray(loss_fn.call(labels, logits))
    np.testing.assert_allclose(loss, per_token[real].mean(), rtol=1e-6)


def test_all_padding_gives_zero_not_nan():
    loss = SparseCrossEntropy()(np.zeros((2, 3)), np.zeros((2, 3, 5)),
                                sample_weight=np.zeros((2, 3)))
    assert float(loss) == 0.0


def test_rejects_bad_smoothing_and_round_trips_config():
    with pytest.raises(ValueError, match="label_smoothing"):
        SparseCrossEntropy(label_smoothing=1.0)
    loss = SparseCrossEntropy(label_smoothing=0.2, name="x")
    assert SparseCrossEntropy.from_config(loss.get_config()).get_config() == (
        loss.get_config())
