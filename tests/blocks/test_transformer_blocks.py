import keras_hub
import numpy as np
import pytest
from harness import random_floats
from harness import run_layer_checks

from zoo.blocks import DecoderBlock
from zoo.blocks import EncoderBlock
from zoo.convert import copy_weights

BLOCK = {"num_heads": 2, "intermediate_dim": 16}
PADDING = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], "int32")


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_block_standard_checks(norm_first, tmp_path):
    run_layer_checks(
        EncoderBlock, {**BLOCK, "norm_first": norm_first},
        inputs=random_floats((2, 5, 8)),
        call_kwargs={"padding_mask": PADDING},
        expected_output_shape=(2, 5, 8), tmp_path=tmp_path,
    )


@pytest.mark.parametrize("cross_attention", [False, True])
def test_decoder_block_standard_checks(cross_attention, tmp_path):
    call_kwargs = {"padding_mask": PADDING}
    if cross_attention:
        call_kwargs["encoder_sequence"] = random_floats((2, 7, 8))
    run_layer_checks(
        DecoderBlock, {**BLOCK, "cross_attention": cross_attention},
        inputs=random_floats((2, 5, 8)), call_kwargs=call_kwargs,
        expected_output_shape=(2, 5, 8), tmp_path=tmp_path,
    )


def test_cross_attention_is_fixed_at_construction():
    with_cross = DecoderBlock(**BLOCK, cross_attention=True)
    without = DecoderBlock(**BLOCK)
    x = random_floats((1, 3, 8))
    with_cross.build(x.shape)
    without.build(x.shape)
    assert hasattr(with_cross, "cross_attention")
    assert not hasattr(without, "cross_attention")
    with pytest.raises(ValueError, match="cross_attention=True"):
        with_cross(x)
    with pytest.raises(ValueError, match="cross_attention=False"):
        without(x, x)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_block_matches_keras_hub(norm_first):
    x = random_floats((2, 5, 8))
    theirs = keras_hub.layers.TransformerEncoder(
        intermediate_dim=16, num_heads=2, activation="gelu",
        normalize_first=norm_first)
    theirs(x)
    ours = EncoderBlock(**BLOCK, activation="gelu", norm_first=norm_first)
    ours.build(x.shape)
    copy_weights(theirs, ours)
    np.testing.assert_allclose(ours(x, padding_mask=PADDING),
                               theirs(x, padding_mask=PADDING), atol=1e-5)


@pytest.mark.parametrize("cross_attention", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_block_matches_keras_hub(cross_attention, norm_first):
    x, enc = random_floats((2, 5, 8)), random_floats((2, 7, 8))
    enc_mask = np.array([[1] * 7, [1] * 4 + [0] * 3], "int32")
    theirs = keras_hub.layers.TransformerDecoder(
        intermediate_dim=16, num_heads=2, normalize_first=norm_first)
    ours = DecoderBlock(**BLOCK, cross_attention=cross_attention,
                        norm_first=norm_first)
    ours.build(x.shape)
    if cross_attention:
        theirs(x, enc)
        copy_weights(theirs, ours)
        expected = theirs(x, enc, decoder_padding_mask=PADDING,
                          encoder_padding_mask=enc_mask)
        actual = ours(x, enc, padding_mask=PADDING, encoder_padding_mask=enc_mask)
    else:
        theirs(x)
        copy_weights(theirs, ours)
        expected = theirs(x, decoder_padding_mask=PADDING)
        actual = ours(x, padding_mask=PADDING)
    np.testing.assert_allclose(actual, expected, atol=1e-5)


def test_decoder_block_never_looks_ahead():
    block = DecoderBlock(**BLOCK)
    x = random_floats((1, 6, 8))
    changed = x.copy()
    changed[:, 4:] = random_floats((1, 2, 8))
    np.testing.assert_allclose(block(x)[:, :4], block(changed)[:, :4], atol=1e-6)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_block_padding_never_changes_real_positions(norm_first):
    block = EncoderBlock(**BLOCK, norm_first=norm_first)
    x = random_floats((1, 4, 8))
    padded = np.concatenate([x, random_floats((1, 3, 8))], axis=1)
    mask = np.array([[1, 1, 1, 1, 0, 0, 0]], "int32")
    np.testing.assert_allclose(block(padded, padding_mask=mask)[:, :4],
                               block(x), atol=1e-5)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_block_query_rows_equal_those_rows_of_the_full_output(
        norm_first):
    block = EncoderBlock(**BLOCK, norm_first=norm_first)
    x = random_floats((2, 5, 8))
    full = np.asarray(block(x, padding_mask=PADDING))
    rows = [[0, 2], [0, 1]]  # per sequence: [CLS] and one more position
    query = np.take_along_axis(x, np.array(rows)[:, :, None], axis=1)
    part = block(x, padding_mask=PADDING, query=query)
    assert part.shape == (2, 2, 8)
    np.testing.assert_allclose(
        part, np.take_along_axis(full, np.array(rows)[:, :, None], axis=1),
        atol=1e-5)


def test_decoder_block_cached_decoding_equals_full_pass():
    block = DecoderBlock(**BLOCK, cross_attention=True)
    x, enc = random_floats((2, 6, 8)), random_floats((2, 4, 8))
    enc_mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], "int32")
    full = block(x, enc, encoder_padding_mask=enc_mask)
    cache = np.zeros((2, 2, 6, 2, 4), "float32")
    cross = block.cross_attention.project_key_value(enc)
    steps = []
    for t in range(6):
        out, cache = block(x[:, t:t + 1], encoder_padding_mask=enc_mask,
                           self_attention_cache=cache, cache_update_index=t,
                           cross_attention_cache=cross)
        steps.append(out)
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)


def test_blocks_return_their_attention_probabilities():
    """The same outputs, plus each attention's P, keyed by sub-layer; with
    a cache, the cache comes last."""
    x, z = random_floats((2, 5, 8)), random_floats((2, 7, 8))
    encoder = EncoderBlock(**BLOCK)
    out, scores = encoder(x, padding_mask=PADDING,
                          return_attention_scores=True)
    np.testing.assert_allclose(out, encoder(x, padding_mask=PADDING),
                               atol=1e-5)
    assert list(scores) == ["self_attention"]
    assert scores["self_attention"].shape == (2, 2, 5, 5)
    assert np.all(np.asarray(scores["self_attention"])[1, :, :, 3:] == 0)

    decoder = DecoderBlock(**BLOCK, cross_attention=True)
    out, scores = decoder(x, z, return_attention_scores=True)
    np.testing.assert_allclose(out, decoder(x, z), atol=1e-5)
    assert scores["self_attention"].shape == (2, 2, 5, 5)
    assert scores["cross_attention"].shape == (2, 2, 5, 7)
    assert np.all(np.triu(np.asarray(scores["self_attention"]), k=1) == 0)

    full_scores = scores
    cache = np.zeros((2, 2, 5, 2, 4), "float32")  # (B, 2, T, N, H)
    cross = decoder.cross_attention.project_key_value(z)  # (B, 2, S, N, H)
    step, scores, cache = decoder(
        x[:, :1], self_attention_cache=cache, cache_update_index=0,
        cross_attention_cache=cross, return_attention_scores=True)
    np.testing.assert_allclose(step, np.asarray(out)[:, :1], atol=1e-5)
    np.testing.assert_allclose(
        scores["cross_attention"],
        np.asarray(full_scores["cross_attention"])[:, :, :1], atol=1e-6)
    assert cache.shape == (2, 2, 5, 2, 4)
