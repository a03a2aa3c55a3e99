"""Runs in a model dir: checkpoints, resume after interruption, NaN, refusal."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.models import GPTDecoder
from zoo.tasks import CausalLM
from zoo.training import optimizers
from zoo.training import run


def make_task(learning_rate=1e-2):
    keras.utils.set_random_seed(0)
    backbone = GPTDecoder(vocabulary_size=20, num_layers=1, num_heads=2,
                          hidden_dim=8, intermediate_dim=16,
                          max_sequence_length=8, dropout=0.0)
    task = CausalLM(backbone)
    schedule = optimizers.schedule("cosine", learning_rate, 6, 1)
    task.compile(optimizer=optimizers.adamw(task, schedule),
                 steps_per_execution=1)
    return task


def data(skip_batches=0):
    rng = np.random.default_rng(0)
    x = rng.integers(1, 20, size=(64, 8)).astype("int32")
    dataset = tf.data.Dataset.from_tensor_slices({"token_ids": x}).batch(4)
    return dataset.repeat().skip(skip_batches), dataset.take(2)


def fit(task, model_dir, **kwargs):
    start = run.resumed_step(model_dir)
    train, validation = data(start)
    return run.train(task, train, validation, model_dir=model_dir, steps=6,
                     checkpoint_every=2, tokens_per_step=32, **kwargs)


def test_an_interrupted_run_resumes_from_its_last_checkpoint(tmp_path,
                                                             monkeypatch):
    model_dir = str(tmp_path)
    reference = make_task()
    fit(reference, str(tmp_path / "reference"))

    task = make_task()
    original = run.CheckpointAndGuard.on_train_batch_end

    def interrupted(self, batch, logs=None):  # Ctrl-C during step 5
        original(self, batch, logs)
        if int(self.model.optimizer.iterations) == 5:
            raise KeyboardInterrupt

    monkeypatch.setattr(run.CheckpointAndGuard, "on_train_batch_end",
                        interrupted)
    with pytest.raises(KeyboardInterrupt):
        fit(task, model_dir)
    monkeypatch.undo()
    assert run.resumed_step(model_dir) == 4  # the step-4 checkpoint stands
    assert not os.path.exists(os.path.join(model_dir, "model.keras"))

    resumed = make_task()
    metrics = fit(resumed, model_dir)
    assert metrics["resumed_from_step"] == 4 and metrics["steps"] == 6
    assert int(resumed.optimizer.iterations) == 6
    # Same data, same updates: the resumed run ends where an uninterrupted
    # one does.
    for a, b in zip(resumed.weights, reference.weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    model_dir = str(tmp_path)
    task = make_task()
    fit(task, model_dir)
    good = [np.array(v) for v in task.weights]
    checkpoint = os.path.join(model_dir, "checkpoints", "checkpoint.weights.h5")
    saved = os.path.getmtime(checkpoint)

    poisoned = make_task(learning_rate=float("nan"))
    with pytest.raises(FloatingPointError,
                       match=r"loss became nan .* last good checkpoint"):
        run.train(poisoned, *data(), model_dir=model_dir, steps=8,
                  checkpoint_every=2)
    assert os.path.getmtime(checkpoint) == saved
    restored = make_task()
    restored(next(iter(data()[1])))  # build, then load
    run.Checkpoint(os.path.join(model_dir, "checkpoints")).restore(restored)
    for variable, value in zip(restored.weights, good, strict=True):
        np.testing.assert_array_equal(variable, value)


def test_model_dir_holding_another_run_is_refused(tmp_path):
    run.prepare_model_dir(str(tmp_path), {"recipe": "a", "size": 1}, False)
    with pytest.raises(ValueError, match="Pass --resume"):
        run.prepare_model_dir(str(tmp_path), {"recipe": "a", "size": 1}, False)
    run.prepare_model_dir(str(tmp_path), {"recipe": "a", "size": 1}, True)
    with pytest.raises(ValueError, match="different model .*size: 1 there, 2"):
        run.prepare_model_dir(str(tmp_path), {"recipe": "a", "size": 2}, True)


def test_a_checkpoint_of_another_architecture_is_refused(tmp_path):
    model_dir = str(tmp_path)
    fit(make_task(), model_dir)
    other = CausalLM(GPTDecoder(vocabulary_size=21, num_layers=1, num_heads=2,
                                hidden_dim=8, intermediate_dim=16,
                                max_sequence_length=8))
    other.compile()
    with pytest.raises(ValueError, match="does not fit this model"):
        run.train(other, *data(), model_dir=model_dir, steps=6,
                  checkpoint_every=2)


def test_intervals_are_checked():
    with pytest.raises(ValueError, match="must divide --steps"):
        run.check_intervals(10, 3, 0)
    with pytest.raises(ValueError, match="multiple of"):
        run.check_intervals(12, 4, 6)


def test_metrics_file(tmp_path):
    metrics = fit(make_task(), str(tmp_path))
    written = json.load(open(tmp_path / "metrics.json"))
    assert written == metrics
    assert set(metrics) >= {"train_loss", "validation_loss",
                            "tokens_per_second", "train_seconds"}
