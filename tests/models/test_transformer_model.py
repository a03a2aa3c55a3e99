import numpy as np
from harness import random_ids
from harness import run_backbone_checks

from zoo import backend
from zoo.models import Transformer

CONFIG = {"vocabulary_size": 50, "num_layers": 2, "num_heads": 2,
          "hidden_dim": 8, "intermediate_dim": 16, "max_sequence_length": 12}


def inputs(source_length=7, target_length=5, batch=2):
    return {
        "encoder_token_ids": random_ids((batch, source_length), 50),
        "encoder_padding_mask": np.ones((batch, source_length), "int32"),
        "decoder_token_ids": random_ids((batch, target_length), 50),
        "decoder_padding_mask": np.ones((batch, target_length), "int32"),
    }


def test_standard_checks(tmp_path):
    run_backbone_checks(Transformer, CONFIG, inputs(),
                        expected_output_shape=(2, 5, 8), tmp_path=tmp_path)


def test_pre_ln_standard_checks(tmp_path):
    run_backbone_checks(Transformer, {**CONFIG, "norm_first": True}, inputs(),
                        expected_output_shape=(2, 5, 8), tmp_path=tmp_path)


def test_shares_one_scaled_embedding():
    model = Transformer(**CONFIG)
    assert model.token_embedding.scale
    embeddings = [w for w in model.weights if "embedding" in w.path]
    assert [tuple(w.shape) for w in embeddings] == [(50, 8)]


def test_future_target_tokens_never_change_earlier_outputs():
    model = Transformer(**CONFIG)
    x = inputs()
    y = {k: v.copy() for k, v in x.items()}
    y["decoder_token_ids"][:, 2:] = random_ids((2, 3), 50)
    np.testing.assert_allclose(model(x)[:, :2], model(y)[:, :2], atol=1e-6)


def test_padding_never_changes_real_positions():
    model = Transformer(**CONFIG)
    x = inputs(batch=1)
    padded = dict(x)
    for side, extra in (("encoder", 3), ("decoder", 2)):
        padded[f"{side}_token_ids"] = np.concatenate(
            [x[f"{side}_token_ids"], random_ids((1, extra), 50)], axis=1)
        padded[f"{side}_padding_mask"] = np.concatenate(
            [x[f"{side}_padding_mask"], np.zeros((1, extra), "int32")], axis=1)
    np.testing.assert_allclose(model(x), model(padded)[:, :5], atol=1e-5)


def test_masked_tokens_are_invisible_on_both_sides():
    """A masked source token and a masked earlier target token: changing
    their ids changes no later real output."""
    model = Transformer(**CONFIG)
    x = inputs()
    x["encoder_padding_mask"][:, 2] = 0
    x["decoder_padding_mask"][:, 1] = 0
    y = {k: v.copy() for k, v in x.items()}
    y["encoder_token_ids"][:, 2] = (y["encoder_token_ids"][:, 2] + 1) % 50
    y["decoder_token_ids"][:, 1] = (y["decoder_token_ids"][:, 1] + 1) % 50
    np.testing.assert_allclose(model(x)[:, 2:], model(y)[:, 2:], atol=1e-6)


def test_cached_decoding_equals_full_forward_pass():
    model = Transformer(**CONFIG)
    x = inputs(target_length=8)
    x["encoder_padding_mask"][1, 5:] = 0
    full = model(x)
    encoder_output = model.encode(x["encoder_token_ids"], x["encoder_padding_mask"])
    self_cache, cross_cache = model.initial_cache(encoder_output, max_length=8)
    steps = []
    for t in range(8):
        out, self_cache = model.decode_with_cache(
            x["decoder_token_ids"][:, t:t + 1], self_cache, cross_cache, t,
            encoder_padding_mask=x["encoder_padding_mask"])
        steps.append(out)
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)


def test_cached_decoding_compiles_once():
    """Compiled as generation compiles it (XLA on TensorFlow, jax.jit on
    JAX, eager on PyTorch): one program for every position."""
    model = Transformer(**CONFIG)
    x = inputs(target_length=6)
    full = model(x)
    encoder_output = model.encode(x["encoder_token_ids"], x["encoder_padding_mask"])
    self_cache, cross_cache = model.initial_cache(encoder_output, max_length=6)

    def step(token, cache, index):
        return model.decode_with_cache(token, cache, cross_cache, index,
                                       encoder_padding_mask=x["encoder_padding_mask"])

    cache_spec = backend.Spec([None, 2, None, model.num_heads, model.head_dim],
                              "float32")
    signature = [backend.Spec([None, None], "int32"),
                 [cache_spec] * model.num_layers, backend.Spec([], "int32")]
    step = backend.compile_function(step, model.variables,
                                    input_signature=signature)
    steps = []
    for t in range(6):
        out, self_cache = step(x["decoder_token_ids"][:, t:t + 1], self_cache,
                               np.int32(t))
        steps.append(out)
    if backend.name() != "torch":  # eager: nothing is traced
        assert step.tracing_count() == 1
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-5)
