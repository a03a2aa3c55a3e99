"""AdamW's decay set, and the learning-rate schedules."""

import math

import keras
import numpy as np
import pytest

from zoo.models import BertEncoder
from zoo.tasks import MaskedLM
from zoo.training import optimizers


@pytest.fixture
def task():
    backbone = BertEncoder(vocabulary_size=50, num_layers=1, num_heads=2,
                           hidden_dim=8, intermediate_dim=16,
                           max_sequence_length=16)
    return MaskedLM(backbone, next_sentence_prediction=True)


def test_exactly_the_dense_kernels_decay(task):
    decayed = {v.path for v in optimizers.decayed_variables(task)}
    encoder = task.backbone.name  # "bert_encoder", or "_N" in a busy process
    block = f"{encoder}/transformer_layer_0"
    assert decayed == {
        f"{block}/self_attention/query/kernel",
        f"{block}/self_attention/key/kernel",
        f"{block}/self_attention/value/kernel",
        f"{block}/self_attention/attention_output/kernel",
        f"{block}/feed_forward/inner/kernel",
        f"{block}/feed_forward/outer/kernel",
        f"{encoder}/pooled_dense/kernel",
        "mlm_transform/kernel",
        "next_sentence/kernel",
    }
    # The classic ["LayerNorm", "bias"] name list would match no LayerNorm:
    paths = [v.path for v in task.trainable_variables]
    assert not any("LayerNorm" in path for path in paths)
    assert any(path.endswith("_norm/gamma") for path in paths)


def test_adamw_shrinks_only_the_decayed_variables(task):
    optimizer = optimizers.adamw(task, learning_rate=0.1, weight_decay=0.5)
    variables = task.trainable_variables
    before = [np.array(v) for v in variables]
    optimizer.apply([keras.ops.zeros_like(v) for v in variables], variables)
    decayed = {id(v) for v in optimizers.decayed_variables(task)}
    for variable, old in zip(variables, before):
        if id(variable) in decayed:  # w <- w - lr * wd * w
            np.testing.assert_allclose(variable, old * (1 - 0.1 * 0.5),
                                       rtol=1e-6, atol=1e-7)
        else:
            np.testing.assert_array_equal(variable, old)


def test_gradient_accumulation_updates_every_k_batches(task):
    optimizer = optimizers.adamw(task, 0.1, weight_decay=0.0,
                                 gradient_accumulation_steps=2)
    variables = task.trainable_variables
    before = np.array(variables[0])
    ones = [keras.ops.ones_like(v) for v in variables]
    optimizer.apply(ones, variables)
    np.testing.assert_array_equal(variables[0], before)  # accumulated only
    optimizer.apply(ones, variables)
    assert not np.allclose(variables[0], before)


def rates(schedule, steps):
    return [float(schedule(step)) for step in steps]


def test_warmup_then_cosine_or_linear_decay():
    cosine = optimizers.schedule("cosine", 1.0, 110, 10, final=0.1)
    assert rates(cosine, [0, 4, 9]) == pytest.approx([0.1, 0.5, 1.0])
    assert rates(cosine, [10, 60, 110, 500]) == pytest.approx(
        [1.0, 0.55, 0.1, 0.1])
    linear = optimizers.schedule("linear", 1.0, 110, 10, final=0.0)
    assert rates(linear, [10, 35, 60, 110]) == pytest.approx(
        [1.0, 0.75, 0.5, 0.0])
    constant = optimizers.schedule("constant", 1.0, 110, 10)
    assert rates(constant, [5, 100]) == pytest.approx([0.6, 1.0])


def test_warmup_stable_decay_holds_the_peak_then_decays():
    wsd = optimizers.schedule("linear", 1e-3, 2000, 100, final=1e-4,
                              decay_fraction=0.2)
    # decay over the last 20% of the 1,900 post-warmup steps: from 1,620
    assert rates(wsd, [99, 1000, 1620, 1810, 2000]) == pytest.approx(
        [1e-3, 1e-3, 1e-3, 5.5e-4, 1e-4])


def test_inverse_square_root_is_the_papers_equation_3():
    noam = optimizers.schedule("inverse_sqrt", 1.0, 0, 4000, hidden_dim=512)
    for step in [0, 100, 3999, 4000, 20000]:
        n = step + 1
        expected = 512**-0.5 * min(n**-0.5, n * 4000**-1.5)
        assert float(noam(step)) == pytest.approx(expected, rel=1e-5)
    peak = float(noam(3999))
    assert peak == pytest.approx(512**-0.5 / math.sqrt(4000), rel=1e-5)


def test_bad_schedule_arguments():
    with pytest.raises(ValueError, match="warmup_steps=50 must be between"):
        optimizers.schedule("cosine", 1.0, 10, 50)
    with pytest.raises(ValueError, match="Unknown schedule"):
        optimizers.schedule("exponential", 1.0, 10, 1)
    with pytest.raises(ValueError, match="decay_fraction"):
        optimizers.schedule("linear", 1.0, 10, 1, decay_fraction=0.0)


def test_schedules_serialize():
    for schedule in [optimizers.schedule("linear", 1.0, 100, 10, 0.1, 0.3),
                     optimizers.schedule("inverse_sqrt", 2.0, 0, 40,
                                         hidden_dim=64)]:
        clone = keras.saving.deserialize_keras_object(
            keras.saving.serialize_keras_object(schedule))
        assert rates(clone, [0, 20, 90]) == rates(schedule, [0, 20, 90])


def _second_moment_after_one_step(optimizer):
    """Adam's velocity of a 5-row embedding after one step on the ids
    [1, 1, 2]: the loss (sum of the three looked-up values)^2 gives the
    rows' summed gradients 12 (id 1, twice) and 6 (id 2)."""
    from keras import ops

    embedding = keras.layers.Embedding(5, 1, embeddings_initializer="ones")
    ids = keras.Input((3,), dtype="int32")
    model = keras.Model(ids, ops.sum(embedding(ids), axis=(1, 2)))
    model.compile(optimizer=optimizer, loss="mse", jit_compile=False)
    model.fit(np.array([[1, 1, 2]]), np.array([0.0]), verbose=0)
    [velocity] = [v for v in optimizer.variables if "velocity" in v.path]
    return keras.ops.convert_to_numpy(velocity).ravel()


def test_adams_second_moment_sums_an_embeddings_rows_first():
    expected = (1 - 0.999) * np.array([0, 12, 6, 0, 0]) ** 2
    ours = optimizers.AdamW(learning_rate=0.1, weight_decay=0.0)
    np.testing.assert_allclose(_second_moment_after_one_step(ours), expected,
                               rtol=1e-5)


@pytest.mark.tensorflow
def test_keras_adam_still_squares_the_rows_one_by_one():
    """Keras 3.15 on TensorFlow: id 1's two rows squared apart, 2 * 6^2
    instead of 12^2. If this fails, Keras has fixed it and
    `optimizers.AdamW` need not make gradients dense."""
    keras_adam = keras.optimizers.AdamW(learning_rate=0.1, weight_decay=0.0)
    np.testing.assert_allclose(_second_moment_after_one_step(keras_adam),
                               (1 - 0.999) * np.array([0, 72, 36, 0, 0]),
                               rtol=1e-5)
