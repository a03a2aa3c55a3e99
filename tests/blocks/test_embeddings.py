import numpy as np
import pytest
from harness import random_floats
from harness import random_ids
from harness import run_layer_checks

from zoo.blocks import LearnedPositionEmbedding
from zoo.blocks import SinusoidalPositionEncoding
from zoo.blocks import TokenEmbedding


def test_token_embedding_standard_checks(tmp_path):
    run_layer_checks(
        TokenEmbedding,
        {"vocabulary_size": 20, "hidden_dim": 8},
        inputs=random_ids((2, 5), 20),
        expected_output_shape=(2, 5, 8),
        tmp_path=tmp_path,
    )


def test_token_embedding_scale_and_tied_projection():
    layer = TokenEmbedding(20, 16, scale=True)
    ids = random_ids((2, 5), 20)
    layer.build()
    table = np.asarray(layer.embeddings)
    np.testing.assert_allclose(layer(ids), table[ids] * 4.0, rtol=1e-6)
    h = random_floats((2, 5, 16))
    np.testing.assert_allclose(layer(h, reverse=True), h @ table.T,
                               rtol=1e-5, atol=1e-5)


def test_untied_output_projection_has_its_own_matrix():
    layer = TokenEmbedding(20, 8, tie_weights=False)
    layer.build()
    assert [w.shape for w in layer.weights] == [(20, 8), (8, 20)]
    assert layer(random_floats((2, 5, 8)), reverse=True).shape == (2, 5, 20)


def test_learned_position_embedding_standard_checks(tmp_path):
    run_layer_checks(
        LearnedPositionEmbedding,
        {"sequence_length": 10},
        inputs=random_floats((2, 5, 8)),
        expected_output_shape=(1, 5, 8),
        tmp_path=tmp_path,
    )


def test_learned_position_embedding_start_index():
    layer = LearnedPositionEmbedding(sequence_length=10)
    x = random_floats((2, 3, 8))
    table = np.asarray(layer(random_floats((1, 10, 8))))[0]
    np.testing.assert_allclose(layer(x, start_index=4)[0], table[4:7])


def test_learned_position_embedding_too_long_raises():
    layer = LearnedPositionEmbedding(sequence_length=4)
    with pytest.raises(ValueError, match="exceeds the position table of length 4"):
        layer(random_floats((1, 5, 8)))


def test_sinusoidal_has_no_weights_and_round_trips_its_config():
    layer = SinusoidalPositionEncoding(max_wavelength=500.0)
    clone = SinusoidalPositionEncoding.from_config(layer.get_config())
    x = random_floats((2, 5, 8))
    np.testing.assert_allclose(clone(x), layer(x))
    assert clone.max_wavelength == 500.0
    assert not layer.weights


def test_sinusoidal_is_the_papers_formula():
    """PE(pos, 2i) = sin(pos / 10000^(2i/D)), PE(pos, 2i+1) = cos(...)."""
    D = 16
    pe = np.asarray(SinusoidalPositionEncoding()(np.zeros((1, 50, D))))[0]
    pos = np.arange(50)[:, None]
    two_i = np.arange(0, D, 2)[None, :]
    np.testing.assert_allclose(pe[:, 0::2], np.sin(pos / 10000 ** (two_i / D)),
                               atol=1e-5)
    np.testing.assert_allclose(pe[:, 1::2], np.cos(pos / 10000 ** (two_i / D)),
                               atol=1e-5)
    shifted = SinusoidalPositionEncoding()(np.zeros((1, 3, D)), start_index=7)
    np.testing.assert_allclose(shifted[0], pe[7:10], atol=1e-5)
