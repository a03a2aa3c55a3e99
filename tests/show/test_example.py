"""`python -m zoo.show example`: the attention code's numbers are the
formula's, computed here in NumPy."""

import numpy as np
import pytest

from zoo.show import example


def numpy_attention(causal):
    q, k, v = (np.array(rows, "float64") for rows in (
        example.QUERIES, example.KEYS, example.VALUES))
    dots = q @ k.T  # (T, S)
    scores = dots / np.sqrt(4)
    if causal:
        scores = np.where(np.tril(np.ones((4, 4), bool)), scores, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    return dots, dots / 2, weights, weights @ v


@pytest.mark.parametrize("causal", [False, True])
def test_numbers_are_the_formulas(causal):
    results = example.compute(causal=causal)
    dots, scores, weights, output = numpy_attention(causal)
    np.testing.assert_allclose(results["dot_products"], dots, atol=1e-6)
    np.testing.assert_allclose(results["scores"], scores, atol=1e-6)
    np.testing.assert_allclose(results["weights"], weights, atol=1e-6)
    np.testing.assert_allclose(results["output"], output, atol=1e-6)
    if causal:
        assert np.all(results["masked"][np.triu_indices(4, 1)] == -1e9)


def test_the_walk_through_prints_every_step():
    text = example.describe()
    for expected in ("= 0.05 + 0.12 + 0.21 + 0.32 = 0.70", "= 1.00",
                     "s1 = 0.70 / 2 = 0.35", "s4 = 1.00 / 2 = 0.50",
                     "exp(s1) = exp(0.35) = 1.4191",
                     "w1 + w2 + w3 + w4 = 1.0000"):
        assert expected in text
    _, _, weights, output = numpy_attention(False)
    assert f"w1 = 1.4191 / 6.1279 = {weights[0, 0]:.4f}" in text
    assert "[" + ", ".join(f"{x:.4f}" for x in output[0]) + "]" in text
    assert "Causal mask" in example.describe(causal=True)
