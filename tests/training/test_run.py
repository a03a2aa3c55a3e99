"""Runs in a model dir: checkpoints, resume after interruption, NaN, refusal."""

import json
import os
import shutil

import keras
import numpy as np
import pytest
import safetensors.numpy
import tensorflow as tf

from zoo import files
from zoo.models import GPTDecoder
from zoo.tasks import CausalLM
from zoo.training import checkpoints
from zoo.training import optimizers
from zoo.training import run


def make_task(learning_rate=1e-2, dropout=0.1):
    keras.utils.set_random_seed(0)
    backbone = GPTDecoder(vocabulary_size=20, num_layers=1, num_heads=2,
                          hidden_dim=8, intermediate_dim=16,
                          max_sequence_length=8, dropout=dropout)
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
    # Same data, same dropout masks, same updates: the resumed run ends
    # with the uninterrupted run's weights, bit for bit.
    for a, b in zip(resumed.weights, reference.weights, strict=True):
        np.testing.assert_array_equal(a, b)


def test_without_the_seed_states_dropout_would_differ(tmp_path):
    """Why the checkpoint holds dropout's seed states: a run resumed with
    the seeds of step 0 draws step 0's masks again and ends elsewhere."""
    reference = make_task()
    fit(reference, str(tmp_path / "reference"))
    model_dir = str(tmp_path / "run")
    fit(make_task(), model_dir, stop_after=4)
    path = os.path.join(model_dir, "checkpoints", "step-00000004",
                        "variables.safetensors")
    saved = safetensors.numpy.load_file(path)
    fresh = make_task()
    fresh(next(iter(data()[1])))
    seeds = {f"{i:05d}/{v.path}": np.array(v)
             for i, v in enumerate(fresh.variables) if "seed" in v.path}
    assert len(seeds) >= 2
    for name, value in seeds.items():
        index = name.split("/")[0]
        (key,) = [k for k in saved if k.startswith(index + "/")]
        assert not np.array_equal(saved[key], value)  # they moved
        saved[key] = value
    safetensors.numpy.save_file(saved, path)
    metrics = fit(make_task(), model_dir)
    assert metrics["resumed_from_step"] == 4
    assert metrics["weights_sha256"] != run.weights_digest(reference)


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    model_dir = str(tmp_path)
    task = make_task()
    fit(task, model_dir)
    good = [np.array(v) for v in task.weights]
    checkpoint = os.path.join(model_dir, "checkpoints", "step-00000006",
                              "variables.safetensors")
    saved = os.path.getmtime(checkpoint)

    poisoned = make_task(learning_rate=float("nan"))
    with pytest.raises(FloatingPointError,
                       match=r"loss became nan .* last good checkpoint"):
        run.train(poisoned, *data(), model_dir=model_dir, steps=8,
                  checkpoint_every=2)
    assert os.path.getmtime(checkpoint) == saved
    restored = make_task()
    restored(next(iter(data()[1])))  # build, then load
    checkpoints.Checkpoint(os.path.join(model_dir, "checkpoints")).restore(
        restored)
    for variable, value in zip(restored.weights, good, strict=True):
        np.testing.assert_array_equal(variable, value)


def test_training_data_that_run_out_stop_the_run_before_a_checkpoint(
        tmp_path):
    """Keras ends an epoch early when the data end (with a warning); the
    run stops there, and keeps the checkpoint of the last whole epoch."""
    model_dir = str(tmp_path)
    train, validation = data()
    finite = train.take(5)  # 5 batches for 8 steps of epochs of 4
    with pytest.raises(ValueError, match=r"ran out at step 5, inside the "
                       r"epoch that ends at step 8.*\(step 4\) is kept"):
        run.train(make_task(), finite, validation, model_dir=model_dir,
                  steps=8, checkpoint_every=4)
    assert sorted(os.listdir(os.path.join(model_dir, "checkpoints"))) == [
        "step-00000004"]


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
    checkpoint = os.path.join(model_dir, "checkpoints", "step-00000006")
    before = sorted(os.listdir(checkpoint))
    with pytest.raises(ValueError, match=r"does not fit this model: .*"
                       r"embeddings \(20, 8\) float32 there, .*\(21, 8\) "
                       r"float32 here"):
        run.train(other, *data(), model_dir=model_dir, steps=8,
                  checkpoint_every=2)
    assert sorted(os.listdir(os.path.dirname(checkpoint))) == [
        "step-00000006"] and sorted(os.listdir(checkpoint)) == before


def test_a_checkpoint_with_other_variables_is_refused(tmp_path):
    model_dir = str(tmp_path)
    fit(make_task(), model_dir)
    fewer = CausalLM(GPTDecoder(vocabulary_size=20, num_layers=1, num_heads=2,
                                hidden_dim=8, intermediate_dim=16,
                                max_sequence_length=8, dropout=0.0))
    fewer.compile(optimizer=optimizers.adamw(fewer, 1e-3))
    with pytest.raises(ValueError, match=r"variables, this model"):
        run.train(fewer, *data(), model_dir=model_dir, steps=8,
                  checkpoint_every=2)


@pytest.mark.parametrize("point", ["checkpoint:partial", "state.json:partial",
                                   "state.json:complete",
                                   "checkpoint:complete"])
def test_a_failed_checkpoint_write_keeps_the_last_one(tmp_path, monkeypatch,
                                                      point):
    """A full disk while the step-4 checkpoint is written: the run stops
    with the path in the message, and step 2's checkpoint stays whole and
    resumable."""
    model_dir = str(tmp_path)
    monkeypatch.setattr(files, "_reached", {})  # count from this test on
    monkeypatch.setenv("ZOO_FAIL_AT", f"{point}#2")
    with pytest.raises(OSError, match=r"checkpoint of step 4 to .*"
                       r"step-00000004: No space left on device .*"
                       r"step-00000002 is kept"):
        fit(make_task(), model_dir)
    monkeypatch.delenv("ZOO_FAIL_AT")
    assert os.listdir(os.path.join(model_dir, "checkpoints")) == [
        "step-00000002"]
    assert run.resumed_step(model_dir) == 2
    reference = make_task()
    fit(reference, str(tmp_path / "reference"))
    resumed = make_task()
    assert fit(resumed, model_dir)["resumed_from_step"] == 2
    assert run.weights_digest(resumed) == run.weights_digest(reference)


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
