"""The checks every zoo layer and backbone must pass, in one place.

A test file declares what to build and what to feed it:

    def test_standard():
        run_layer_checks(FeedForward, {"intermediate_dim": 16},
                         inputs=random_floats((2, 5, 8)))

and gets: config round trip, eager call, symbolic call (tracing `call`), one
training step (every trainable weight gets a non-zero gradient and the loss
falls), `.keras` save and reload with equal outputs, and a forward pass
under `mixed_bfloat16`. Every check runs on whichever Keras backend the
tests run on (tests/test_backends.py runs them on JAX and PyTorch too).
"""

import keras
import numpy as np
from keras import ops

RNG = np.random.default_rng(0)
BACKEND = keras.backend.backend()


def random_floats(shape):
    return RNG.standard_normal(shape).astype("float32")


def random_ids(shape, vocabulary_size):
    return RNG.integers(0, vocabulary_size, shape).astype("int32")


def _flat(outputs):
    return [np.asarray(ops.convert_to_numpy(ops.cast(t, "float32")))
            for t in keras.tree.flatten(outputs)]


def gradients(loss_fn, variables):
    """The gradients of `loss_fn()` with respect to Keras `variables`, on
    the tests' backend (None where a variable does not reach the loss)."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn()
        return tape.gradient(loss, variables)
    if BACKEND == "jax":
        import jax

        def stateless(values):
            with keras.StatelessScope(state_mapping=zip(variables, values)):
                return loss_fn()

        return jax.grad(stateless)([v.value for v in variables])
    import torch

    loss = loss_fn()
    return torch.autograd.grad(loss, [v.value for v in variables],
                               allow_unused=True)


def _symbolic(data):
    """keras.Input placeholders with the dtypes of `data` and free batch/length."""

    def placeholder(array, name):
        array = np.asarray(array)
        # keras.Input leaves out the batch axis; keep only the feature axis.
        shape = (None,) * (array.ndim - 2) + array.shape[-1:]
        if array.dtype.kind in "iu":  # ids and masks: (batch, length)
            shape = (None,) * (array.ndim - 1)
        return keras.Input(shape=shape, dtype=str(array.dtype), name=name)

    return {name: placeholder(array, name) for name, array in data.items()}


def _loss(outputs):
    return sum(ops.mean(ops.square(ops.cast(t, "float32")))
               for t in keras.tree.flatten(outputs))


def _check_training_step(obj, apply):
    """Training mode gives every trainable weight a non-zero gradient; a step of
    gradient descent lowers the (deterministic, inference-mode) loss."""
    weights = obj.trainable_variables
    grads = gradients(lambda: _loss(apply(obj, training=True)), weights)
    missing = [w.path for w, g in zip(weights, grads)
               if g is None or not np.any(ops.convert_to_numpy(g))]
    assert not missing, f"no (or an all-zero) gradient for {missing}"

    loss = float(_loss(apply(obj, training=False)))
    grads = gradients(lambda: _loss(apply(obj, training=False)), weights)
    keras.optimizers.SGD(learning_rate=1e-2).apply_gradients(zip(grads, weights))
    after = float(_loss(apply(obj, training=False)))
    assert after < loss, (loss, after)


def _run_checks(build, apply, symbolic_apply, make_model, tmp_path,
                expected_output_shape):
    obj = build()
    # Config round trip.
    config = obj.get_config()
    clone = type(obj).from_config(config)
    assert clone.get_config() == config

    # Eager call.
    eager = apply(obj, training=False)
    if expected_output_shape is not None:
        shapes = keras.tree.map_structure(lambda t: tuple(t.shape), eager)
        assert shapes == expected_output_shape, shapes

    # Symbolic call: the same structure with free batch and length.
    symbolic = symbolic_apply(obj)
    ranks = keras.tree.map_structure(lambda t: len(t.shape), symbolic)
    assert ranks == keras.tree.map_structure(lambda t: len(t.shape), eager)

    # .keras save and reload give equal outputs.
    model = make_model(obj)
    path = str(tmp_path / "model.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    original, restored = (_flat(apply(m, training=False)) for m in (model, reloaded))
    assert len(original) == len(restored)
    for a, b in zip(original, restored):
        np.testing.assert_allclose(a, b, atol=1e-6)

    # One training step.
    _check_training_step(obj, apply)


def _check_mixed_precision(build, apply):
    obj = build(dtype="mixed_bfloat16")
    outputs = keras.tree.flatten(apply(obj, training=False))
    dtypes = [keras.backend.standardize_dtype(t.dtype) for t in outputs]
    assert set(dtypes) <= {"bfloat16", "float32"}, dtypes
    assert "bfloat16" in dtypes
    for tensor in outputs:
        assert np.all(np.isfinite(_flat(tensor)[0]))
    assert all(w.dtype == "float32" for w in obj.weights)


def run_layer_checks(cls, init_kwargs, inputs, call_kwargs=None,
                     expected_output_shape=None, tmp_path=None):
    """All standard checks for a layer called as `layer(inputs, **call_kwargs)`.

    Tensor-valued `call_kwargs` become inputs of the functional model used
    for the symbolic call and for saving.
    """
    call_kwargs = call_kwargs or {}
    tensor_kwargs = {k: v for k, v in call_kwargs.items()
                     if isinstance(v, np.ndarray)}
    other_kwargs = {k: v for k, v in call_kwargs.items() if k not in tensor_kwargs}

    def build(**extra):
        return cls(**init_kwargs, **extra)

    def apply(obj, training):
        if isinstance(obj, keras.Model):
            return obj({"inputs": inputs, **tensor_kwargs}, training=training)
        return obj(inputs, **call_kwargs, training=training)

    def symbolic_apply(obj):
        placeholders = _symbolic({"inputs": inputs, **tensor_kwargs})
        return obj(placeholders.pop("inputs"), **placeholders, **other_kwargs)

    def make_model(obj):
        placeholders = _symbolic({"inputs": inputs, **tensor_kwargs})
        outputs = obj(placeholders["inputs"],
                      **{k: v for k, v in placeholders.items() if k != "inputs"},
                      **other_kwargs)
        return keras.Model(placeholders, outputs)

    _run_checks(build, apply, symbolic_apply, make_model, tmp_path,
                expected_output_shape)
    _check_mixed_precision(build, apply)


def run_backbone_checks(cls, init_kwargs, inputs, expected_output_shape=None,
                        tmp_path=None):
    """All standard checks for a backbone called as `model(inputs)`."""

    def build(**extra):
        return cls(**init_kwargs, **extra)

    def apply(obj, training):
        return obj(inputs, training=training)

    def symbolic_apply(obj):
        return obj(_symbolic(inputs))

    _run_checks(build, apply, symbolic_apply, lambda obj: obj, tmp_path,
                expected_output_shape)
    _check_mixed_precision(build, apply)


def run_task_checks(task, x, y=None, sample_weight=None, tmp_path=None,
                    steps=8, learning_rate=1e-2):
    """What every task must do: learn a toy batch, and survive `.keras`.

    Fits `steps` full-batch steps with the task's default loss and metrics
    and asserts the loss falls; then saves, reloads, and compares outputs.
    """
    task.compile(optimizer=keras.optimizers.Adam(learning_rate))
    history = task.fit(x, y, sample_weight=sample_weight, epochs=steps,
                       batch_size=len(next(iter(x.values()))), verbose=0)
    losses = history.history["loss"]
    assert np.all(np.isfinite(losses)), losses
    assert losses[-1] < 0.7 * losses[0], losses

    expected = task(x, training=False)
    path = tmp_path / "task.keras"
    task.save(path)
    reloaded = keras.saving.load_model(path)
    assert type(reloaded) is type(task)
    for a, b in zip(_flat(expected), _flat(reloaded(x, training=False))):
        np.testing.assert_allclose(a, b, atol=1e-6)
    return reloaded


def padded_batch(lengths, total, vocabulary_size, seed=0, low=3):
    """Right-padded random ids (B, total) and their mask, for rows of
    `lengths` tokens drawn from [low, vocabulary_size)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(low, vocabulary_size, (len(lengths), total))
    mask = np.arange(total)[None, :] < np.asarray(lengths)[:, None]
    return np.where(mask, ids, 0).astype("int32"), mask.astype("int32")
