import keras_hub
import numpy as np
import pytest
from harness import random_ids
from harness import run_backbone_checks

from zoo import backend
from zoo.convert import from_keras_hub
from zoo.models import GPTDecoder

CONFIG = {"vocabulary_size": 50, "num_layers": 2, "num_heads": 2,
          "hidden_dim": 8, "intermediate_dim": 16, "max_sequence_length": 12}


def inputs(length=6, batch=2):
    return {"token_ids": random_ids((batch, length), 50),
            "padding_mask": np.ones((batch, length), "int32")}


def test_standard_checks(tmp_path):
    run_backbone_checks(GPTDecoder, CONFIG, inputs(),
                        expected_output_shape=(2, 6, 8), tmp_path=tmp_path)


def test_future_tokens_never_change_earlier_outputs():
    model = GPTDecoder(**CONFIG)
    x = inputs()
    y = {k: v.copy() for k, v in x.items()}
    y["token_ids"][:, 3:] = random_ids((2, 3), 50)
    np.testing.assert_allclose(model(x)[:, :3], model(y)[:, :3], atol=1e-6)


def test_padding_never_changes_real_positions():
    model = GPTDecoder(**CONFIG)
    short = inputs(length=4)
    padded = {k: np.concatenate([v, np.zeros((2, 3), "int32")], axis=1)
              for k, v in short.items()}
    np.testing.assert_allclose(model(short), model(padded)[:, :4], atol=1e-5)


def test_masked_tokens_are_invisible_to_later_positions():
    """A masked token before real ones: its id never reaches their outputs."""
    model = GPTDecoder(**CONFIG)
    x = inputs()
    x["padding_mask"][:, 1] = 0
    y = {k: v.copy() for k, v in x.items()}
    y["token_ids"][:, 1] = (y["token_ids"][:, 1] + 1) % 50
    np.testing.assert_allclose(model(x)[:, 2:], model(y)[:, 2:], atol=1e-6)


def test_cached_decoding_equals_full_forward_pass():
    model = GPTDecoder(**CONFIG)
    x = inputs(length=10)
    full = model(x)
    # A prompt of 4 tokens in one chunk, then one token at a time.
    cache = model.initial_cache(batch_size=2, max_length=10)
    first, cache = model.call_with_cache(x["token_ids"][:, :4], cache, 0)
    outputs = [first]
    for t in range(4, 10):
        out, cache = model.call_with_cache(x["token_ids"][:, t:t + 1], cache, t)
        outputs.append(out)
    np.testing.assert_allclose(np.concatenate(outputs, axis=1), full, atol=1e-5)


def test_equals_keras_hub_gpt2_backbone():
    theirs = keras_hub.models.GPT2Backbone(**CONFIG)
    ours = from_keras_hub(theirs)
    x = inputs()
    x["padding_mask"][1, 4:] = 0
    np.testing.assert_allclose(ours(x), theirs(x), atol=1e-5)


def test_converts_a_local_keras_hub_preset_directory(tmp_path):
    keras_hub.models.GPT2Backbone(**CONFIG).save_to_preset(str(tmp_path))
    theirs = keras_hub.models.GPT2Backbone.from_preset(str(tmp_path))
    x = inputs()
    np.testing.assert_allclose(from_keras_hub(theirs)(x), theirs(x), atol=1e-5)


def _compiled_step(model):
    """`call_with_cache` compiled as generation compiles it (XLA on
    TensorFlow, jax.jit on JAX, eager on PyTorch)."""
    signature = [backend.Spec([None, None], "int32"),
                 [backend.Spec([None, 2, None, 2, 4], "float32")] * 2,
                 backend.Spec([], "int32")]
    return backend.compile_function(model.call_with_cache, model.variables,
                                    input_signature=signature)


def test_cached_decoding_compiles_once_and_keeps_shapes_fixed():
    """One compiled step serves every position: the cache never grows."""
    model = GPTDecoder(**CONFIG)
    x = inputs(length=8)
    full = model(x)
    step = _compiled_step(model)
    cache = model.initial_cache(batch_size=2, max_length=8)
    outputs = []
    for t in range(8):
        out, new_cache = step(x["token_ids"][:, t:t + 1], cache,
                              np.int32(t))
        assert [c.shape for c in new_cache] == [c.shape for c in cache]
        cache = new_cache
        outputs.append(out)
    if backend.name() != "torch":  # eager: nothing is traced
        assert step.tracing_count() == 1
    np.testing.assert_allclose(np.concatenate(outputs, axis=1), full, atol=1e-5)


@pytest.mark.tensorflow
def test_the_position_is_an_input_of_the_compiled_program():
    """XLA compiles the same program for every position: the position is a
    runtime input, not a constant folded into it."""
    import tensorflow as tf

    model = GPTDecoder(**CONFIG)
    step = tf.function(lambda token, cache, index: model.call_with_cache(
        token, cache, index), jit_compile=True)
    cache = model.initial_cache(batch_size=2, max_length=8)
    token = inputs(length=1)["token_ids"]
    hlo = [step.experimental_get_compiler_ir(token, cache, tf.constant(t))(
        stage="hlo") for t in (3, 5)]
    assert hlo[0] == hlo[1]


def test_sequences_longer_than_a_query_block():
    """T = 300 (more than zoo.tuning.QUERY_BLOCK, so its causal attention
    runs in blocks where tuning is on): keras-hub's outputs, and the cached
    decoder gives the same positions again."""
    config = dict(CONFIG, max_sequence_length=300)
    theirs = keras_hub.models.GPT2Backbone(**config)
    ours = from_keras_hub(theirs)
    x = inputs(length=300)
    x["padding_mask"][1, 250:] = 0
    full = ours(x)
    np.testing.assert_allclose(full, theirs(x), atol=1e-4)

    cache = ours.initial_cache(batch_size=2, max_length=300)
    first, cache = ours.call_with_cache(x["token_ids"][:, :130], cache, 0)
    step, _ = ours.call_with_cache(x["token_ids"][:, 130:131], cache, 130)
    np.testing.assert_allclose(first, full[:, :130], atol=1e-4)
    np.testing.assert_allclose(step, full[:, 130:131], atol=1e-4)
