"""Recipes on several devices and several processes, run as users run
them: `gpt_pretrain` with tiny settings, each run a subprocess (JAX's CPU
devices come from `JAX_NUM_CPU_DEVICES`, TensorFlow splits its CPU)."""

import os
import re
import socket
import subprocess
import time

import keras
import numpy as np
import pytest
from recipe_runner import PRETRAINING
from recipe_runner import command
from recipe_runner import environment
from recipe_runner import run_recipe

import zoo.tasks  # noqa: F401  (registers the task classes for loading)

FLAGS = ["--batch_size=4", "--steps=4", "--checkpoint_every=2",
         *PRETRAINING["gpt_pretrain"]]


def jax(devices=1):
    return {"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
            "JAX_NUM_CPU_DEVICES": str(devices)}


def free_port():
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def weights(model_dir):
    task = keras.saving.load_model(os.path.join(model_dir, "model.keras"))
    return {w.path: keras.ops.convert_to_numpy(w) for w in task.weights}


def assert_same_weights(got, expected):
    """Within 1e-5, but for the attention key biases, which have no exact
    gradient (see tests/training/test_distribution.py)."""
    assert got.keys() == expected.keys()
    for path in expected:
        if not path.endswith("key/bias"):
            np.testing.assert_allclose(got[path], expected[path], atol=1e-5,
                                       rtol=0, err_msg=path)


def start_processes(tmp_path, model_dir, flags, count=2, per_process=None):
    """`count` processes of one data_parallel run on localhost, their
    output in files; `per_process[i]` adds flags to process i."""
    port = free_port()
    running = []
    for index in range(count):
        out = open(tmp_path / f"process{index}.out", "w")
        err = open(tmp_path / f"process{index}.err", "w")
        running.append(subprocess.Popen(
            command("gpt_pretrain", f"--model_dir={model_dir}", *flags,
                    "--distribution=data_parallel", f"--num_processes={count}",
                    f"--coordinator_address=localhost:{port}",
                    f"--process_id={index}", "--coordinator_timeout=120",
                    *(per_process or {}).get(index, [])),
            stdout=out, stderr=err, env=environment(**jax())))
    return running


def finish(tmp_path, running, timeout=300):
    """Each process's (exit code, stdout, stderr)."""
    results = []
    for index, process in enumerate(running):
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            for other in running:
                other.kill()
            raise
        results.append((code, (tmp_path / f"process{index}.out").read_text(),
                        (tmp_path / f"process{index}.err").read_text()))
    return results


def test_two_jax_processes_train_as_one_process(text_file, tmp_path):
    """Both processes end with the same weights (bit for bit), those of a
    run in one process; only process 0 writes the model dir, which exports
    as any other."""
    flags = [f"--train_files={text_file}", *FLAGS]
    one = str(tmp_path / "one")
    run_recipe("gpt_pretrain", f"--model_dir={one}", *flags, env=jax())
    two = str(tmp_path / "two")
    results = finish(tmp_path, start_processes(tmp_path, two, flags))
    for code, _, err in results:
        assert code == 0, err[-3000:]
    digests = [re.search(r"weights sha256 (\w+)", out).group(1)
               for _, out, _ in results]
    assert digests[0] == digests[1]
    private = re.search(r"Process 1 writes to its own (\S+);", results[1][1])
    assert private and not os.path.exists(private.group(1))
    flags_file = open(os.path.join(two, "flags.txt")).read()
    assert "--process_id=0" in flags_file  # not overwritten by process 1
    assert_same_weights(weights(two), weights(one))

    # It exports as any run does (on TensorFlow), and the export generates.
    import tensorflow as tf

    export_dir = str(tmp_path / "export")
    run_recipe("export", f"--model_dir={two}", f"--export_dir={export_dir}")
    served = tf.saved_model.load(export_dir).signatures["generate"]
    text = served(prompt=tf.constant(["The "]),
                  max_new_tokens=tf.constant(4))["text"].numpy()[0]
    assert text.decode().startswith("The ")


def test_a_killed_process_ends_the_others(text_file, tmp_path):
    """Killing process 1 mid-run ends process 0 with an error within a
    bounded time (JAX's heartbeat timeout, 10 s), not a hang."""
    flags = [f"--train_files={text_file}", "--batch_size=4", "--steps=20000",
             "--checkpoint_every=10000", *PRETRAINING["gpt_pretrain"]]
    running = start_processes(tmp_path, str(tmp_path / "run"), flags)
    began = time.monotonic()
    while "Tokens:" not in (tmp_path / "process1.out").read_text():
        assert time.monotonic() - began < 240, "the run did not start"
        assert all(p.poll() is None for p in running)
        time.sleep(0.5)
    time.sleep(3)  # training
    running[1].kill()
    killed = time.monotonic()
    code = running[0].wait(timeout=120)
    assert code != 0
    assert time.monotonic() - killed < 60
    err = (tmp_path / "process0.err").read_text()
    assert re.search(r"heartbeat|another task died|Connection|peer", err), \
        err[-3000:]


def test_processes_given_different_flags_refuse_to_train(text_file,
                                                         tmp_path):
    model_dir = tmp_path / "run"
    flags = [f"--train_files={text_file}", *FLAGS]
    results = finish(tmp_path, start_processes(
        tmp_path, str(model_dir), flags, per_process={1: ["--seed=7"]}))
    for code, _, err in results:
        assert code != 0
        assert "every process of a run must be given the same flags" in err
    assert not model_dir.exists()


@pytest.mark.parametrize("extra, message", [
    (["--distribution=model_parallel", "--mesh=1,3"],
     "--mesh=1,3 holds 3 devices, but there are 2"),
    (["--distribution=model_parallel", "--override=hidden_dim=30",
      "--override=num_heads=3"],
     "num_heads=3 does not split over the mesh's model axis of 2"),
    (["--distribution=mirrored"], "--distribution=mirrored runs on the "
                                  "tensorflow backend"),
    (["--distribution=data_parallel", "--num_processes=2",
      "--coordinator_address=localhost:1"], "--process_id"),
    (["--distribution=data_parallel", "--batch_size=3"],
     "--batch_size=3 does not split across 2 replicas"),
    (["--distribution=mirrored", "--gradient_accumulation=2"],
     "--gradient_accumulation is not supported with --distribution=mirrored"),
])
def test_bad_distribution_flags_stop_before_training(extra, message,
                                                     text_file, tmp_path):
    model_dir = tmp_path / "run"
    result = run_recipe("gpt_pretrain", f"--model_dir={model_dir}",
                        f"--train_files={text_file}", *FLAGS, *extra,
                        check=False, env=jax(devices=2))
    assert result.returncode != 0 and message in result.stderr, \
        result.stderr[-3000:]
    assert not (model_dir / "checkpoints").exists()


@pytest.mark.parametrize("backend, first, then", [
    ("tensorflow", ["--distribution=mirrored", "--devices=2"], []),
    ("tensorflow", [], ["--distribution=mirrored", "--devices=2"]),
    ("jax", ["--distribution=data_parallel"], ["--distribution=model_parallel"]),
])
def test_a_run_resumes_on_another_number_of_devices(backend, first, then,
                                                    text_file, tmp_path):
    """Stopped at step 2 of 4 on one device count (or layout: 2 replicas,
    then 1 replica with its weights sharded over 2 devices) and resumed on
    another, a run ends where an uninterrupted one-device run does. (Without
    dropout on TensorFlow: under MirroredStrategy each replica draws its
    own dropout masks; JAX draws the global batch's, as one device.)"""
    env = jax(devices=2) if backend == "jax" else {}
    flags = [f"--train_files={text_file}", *FLAGS]
    flags.append("--dropout=0.0")
    whole = str(tmp_path / "whole")
    run_recipe("gpt_pretrain", f"--model_dir={whole}", *flags, env=env)
    parts = str(tmp_path / "parts")
    run_recipe("gpt_pretrain", f"--model_dir={parts}", *flags, *first,
               "--stop_after=2", env=env)
    result = run_recipe("gpt_pretrain", f"--model_dir={parts}", *flags,
                        *then, "--resume", env=env)
    assert "Resuming from step 2 " in result.stdout
    assert_same_weights(weights(parts), weights(whole))
