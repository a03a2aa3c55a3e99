"""Bad input raises a clear error eagerly, in a TensorFlow graph, and under
a compiled `predict` (XLA, jax.jit), whose data is checked first."""

import keras
import numpy as np
import pytest

from zoo import backend
from zoo.models import BertEncoder
from zoo.models import GPTDecoder
from zoo.models import Transformer

CONFIG = {"vocabulary_size": 50, "num_layers": 1, "num_heads": 2,
          "hidden_dim": 8, "intermediate_dim": 16, "max_sequence_length": 12}
if backend.name() == "tensorflow":
    import tensorflow as tf

    ERRORS = (ValueError, tf.errors.InvalidArgumentError)
else:
    ERRORS = ValueError


def gpt_inputs(token_ids):
    token_ids = np.asarray(token_ids, "int32")
    return {"token_ids": token_ids, "padding_mask": np.ones_like(token_ids)}


def run(model, inputs, mode):
    if mode == "eager":
        return model(inputs)
    if mode == "tf.function":
        return tf.function(model)(inputs)
    # XLA drops assertions, and jax.jit cannot make them.
    model.compile(jit_compile=backend.name() != "torch")
    return model.predict(inputs, verbose=0)


MODES = ["eager", "compiled"] + (
    ["tf.function"] if backend.name() == "tensorflow" else [])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bad_id", [-1, 50, 10_000])
def test_token_ids_outside_vocabulary_raise(bad_id, mode):
    model = GPTDecoder(**CONFIG)
    with pytest.raises(ERRORS, match=r"`token_ids` must lie in \[0, 50\)"):
        run(model, gpt_inputs([[1, 2, bad_id, 3]]), mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("dtype", ["float32", "float64", "bool"])
def test_token_ids_that_are_not_integers_raise(dtype, mode):
    """A float id would be truncated (5.5 -> 5) without a word."""
    model = GPTDecoder(**CONFIG)
    inputs = {"token_ids": np.array([[1, 5.5, 3]]).astype(dtype),
              "padding_mask": np.ones((1, 3), "int32")}
    with pytest.raises(ERRORS, match="`token_ids` must be integers"):
        run(model, inputs, mode)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bad", [np.nan, 7, -1, 0.5])
def test_padding_mask_values_other_than_0_and_1_raise(bad, mode):
    """Cast to bool, any of them would count as a token."""
    model = GPTDecoder(**CONFIG)
    inputs = gpt_inputs([[1, 2, 3]])
    inputs["padding_mask"] = np.array([[1, bad, 0]], "float32")
    with pytest.raises(ERRORS, match="`padding_mask` must be 0 or 1"):
        run(model, inputs, mode)


@pytest.mark.parametrize("dtype", ["bool", "int8", "int64", "float32"])
def test_padding_masks_of_0_and_1_pass_in_any_dtype(dtype):
    model = GPTDecoder(**CONFIG)
    inputs = gpt_inputs([[1, 2, 3]])
    expected = model(inputs)
    inputs["padding_mask"] = inputs["padding_mask"].astype(dtype)
    np.testing.assert_allclose(model(inputs), expected, atol=1e-6)


@pytest.mark.tensorflow
def test_xla_would_otherwise_clamp_silently():
    """Why the check exists: a jit-compiled lookup clamps 10_000 to 49."""
    table = tf.range(50.0)
    lookup = tf.function(lambda ids: tf.gather(table, ids), jit_compile=True)
    assert float(lookup(tf.constant([10_000]))[0]) == 49.0


@pytest.mark.parametrize("mode", MODES)
def test_sequence_longer_than_position_table_raises(mode):
    model = GPTDecoder(**CONFIG)
    with pytest.raises(ERRORS, match="longer than the model's max_sequence_length 12"):
        run(model, gpt_inputs(np.ones((1, 13))), mode)


@pytest.mark.parametrize("mode", MODES)
def test_mismatched_padding_mask_raises(mode):
    model = GPTDecoder(**CONFIG)
    inputs = gpt_inputs(np.ones((2, 6)))
    inputs["padding_mask"] = np.ones((2, 5), "int32")
    with pytest.raises(ERRORS, match="`token_ids` and `padding_mask` must have the same shape"):
        run(model, inputs, mode)


def test_unbatched_input_raises():
    model = GPTDecoder(**CONFIG)
    with pytest.raises(ValueError, match="must have rank 2"):
        model({"token_ids": np.ones((6,), "int32")})


@pytest.mark.parametrize("mode", MODES)
def test_bert_checks_its_inputs(mode):
    model = BertEncoder(**CONFIG)
    ids = np.ones((1, 4), "int32")
    inputs = {"token_ids": ids, "segment_ids": ids * 3, "padding_mask": ids}
    with pytest.raises(ERRORS, match=r"`segment_ids` must lie in \[0, 2\)"):
        run(model, inputs, mode)


@pytest.mark.parametrize("mode", MODES)
def test_transformer_checks_both_sides(mode):
    model = Transformer(**CONFIG)
    ids = np.ones((1, 4), "int32")
    inputs = {"encoder_token_ids": ids, "encoder_padding_mask": ids,
              "decoder_token_ids": ids * 99, "decoder_padding_mask": ids}
    with pytest.raises(ERRORS, match=r"`decoder_token_ids` must lie in \[0, 50\)"):
        run(model, inputs, mode)


def test_good_inputs_pass_under_xla():
    model = GPTDecoder(**CONFIG)
    inputs = gpt_inputs([[1, 2, 49, 0]])
    np.testing.assert_allclose(run(model, inputs, "compiled"), model(inputs),
                               atol=1e-5)
    keras.backend.clear_session()


def test_cached_decoding_checks_ids_and_cache_bounds():
    model = GPTDecoder(**CONFIG)
    with pytest.raises(ValueError, match="exceeds the model's max_sequence_length 12"):
        model.initial_cache(batch_size=1, max_length=13)
    cache = model.initial_cache(batch_size=1, max_length=4)
    with pytest.raises(ValueError, match=r"`token_ids` must lie in \[0, 50\)"):
        model.call_with_cache(np.array([[50]], "int32"), cache, 0)
    with pytest.raises(ValueError, match="run past the end of the cache"):
        model.call_with_cache(np.array([[1, 2]], "int32"), cache, 3)


@pytest.mark.tensorflow
def test_cached_decoding_checks_the_cache_bounds_in_a_graph():
    model = GPTDecoder(**CONFIG)
    cache = model.initial_cache(batch_size=1, max_length=4)
    step = tf.function(model.call_with_cache)
    with pytest.raises(ERRORS, match="run past the end of the cache"):
        step(tf.constant([[1]]), cache, tf.constant(4))


def test_transformer_cached_decoding_checks_ids():
    model = Transformer(**CONFIG)
    encoder_output = model.encode(np.ones((1, 3), "int32"))
    self_cache, cross_cache = model.initial_cache(encoder_output, max_length=4)
    with pytest.raises(ValueError, match=r"`decoder_token_ids` must lie in \[0, 50\)"):
        model.decode_with_cache(np.array([[-1]], "int32"), self_cache, cross_cache, 0)
