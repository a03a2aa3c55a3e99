"""Training on several devices takes the steps one device takes.

Each run is a subprocess (tests/distribution_worker.py): a backend's
devices are fixed when it starts. TensorFlow splits the CPU into logical
devices for `mirrored`; JAX gets CPU devices from `JAX_NUM_CPU_DEVICES`.
"""

import contextlib
import fcntl
import os
import re
import socket
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
from backends import ROOT
from backends import backend_env
from backends import native_crash
from backends import require

from zoo.models import Backbone
from zoo.training import distribution

WORKER = os.path.join(ROOT, "tests", "distribution_worker.py")
FAMILIES = ["gpt", "bert", "transformer"]


def train(tmp_path, backend, family, kind, devices, optimizer="adamw"):
    """The weights after a few steps (and `replicas`, `history:loss`, and
    under JAX the `sharding:PATH` of each), as a dict."""
    require(backend)
    key = (backend, family, kind, devices, optimizer)
    if key in RESULTS:  # one device is the reference of several tests
        return RESULTS[key]
    out = tmp_path / f"{backend}_{family}_{kind}_{devices}_{optimizer}.npz"
    env = {**backend_env(backend), "JAX_NUM_CPU_DEVICES": "2"}
    command = [sys.executable, WORKER, family, kind, str(devices), str(out),
               optimizer]
    for attempt in range(3):  # again only after a native crash
        with one_at_a_time(tmp_path, backend == "jax" and devices > 1):
            result = subprocess.run(command, capture_output=True, text=True,
                                    timeout=600, env=env, cwd=ROOT)
        crash = native_crash(result)
        if not crash or attempt == 2:
            break
        warnings.warn(f"The worker ended with {crash}; running it again:"
                      f"\n{result.stderr[-2000:]}")
    assert result.returncode == 0, result.stderr[-3000:]
    RESULTS[key] = dict(np.load(out))
    return RESULTS[key]


RESULTS = {}


@contextlib.contextmanager
def one_at_a_time(tmp_path, exclusive):
    """With `exclusive`, hold a lock that the pytest workers share: two
    JAX workers on 2 CPU devices each made XLA:CPU's collectives hang
    more often (see `backends.native_crash`)."""
    if not exclusive:
        yield
        return
    shared = tmp_path.parent.parent
    with open(shared / "jax_devices.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def assert_same_weights(got, expected):
    """Every weight within 1e-5, except the attention key projections'
    biases: in exact arithmetic they get no gradient (q.b is added to
    every score of a row, which the softmax cancels), so Adam turns their
    rounding noise, which depends on the order of the sums, into steps."""
    paths = {key for key in expected if ":" not in key} - {"replicas"}
    assert {key for key in got if ":" not in key} - {"replicas"} == paths
    for key in paths:
        if not key.endswith("key/bias"):
            np.testing.assert_allclose(got[key], expected[key], atol=1e-5,
                                       rtol=0, err_msg=key)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("backend, kind", [("tensorflow", "mirrored"),
                                           ("jax", "data_parallel")])
def test_two_data_parallel_devices_equal_one_device(backend, kind, family,
                                                    tmp_path):
    """TensorFlow's MirroredStrategy over 2 logical CPU devices, JAX's
    DataParallel over 2 CPU devices."""
    one = train(tmp_path, backend, family, "none", 1)
    two = train(tmp_path, backend, family, kind, 2)
    assert int(two["replicas"]) == 2
    assert_same_weights(two, one)


@pytest.mark.parametrize("backend, kind", [("tensorflow", "mirrored"),
                                           ("jax", "data_parallel")])
def test_two_devices_take_one_devices_sgd_steps_and_losses(backend, kind,
                                                          tmp_path):
    """With plain SGD, unclipped, a gradient or loss off by any factor
    (say, averaged per replica instead of over the global batch) would
    change the weights; Adam with clipping would hide it. The losses Keras
    reports are one device's too."""
    one = train(tmp_path, backend, "gpt", "none", 1, "sgd")
    two = train(tmp_path, backend, "gpt", kind, 2, "sgd")
    assert_same_weights(two, one)
    np.testing.assert_allclose(two["history:loss"], one["history:loss"],
                               atol=1e-5, rtol=0)


@pytest.mark.parametrize("family", FAMILIES)
def test_model_parallel_on_two_jax_devices_equals_one_device(family,
                                                             tmp_path):
    """The backbone's layout map really shards its projections and
    embeddings over the model axis, and the steps are one device's."""
    one = train(tmp_path, "jax", family, "none", 1)
    two = train(tmp_path, "jax", family, "model_parallel", 2)
    assert_same_weights(two, one)
    specs = {key.split(":", 1)[1]: spec for key, spec in two.items()
             if key.startswith("sharding:")}
    assert specs.keys() == {k for k in two if ":" not in k} - {"replicas"}
    sharded = {path for path in specs
               if any(re.fullmatch(pattern, path)
                      for pattern in Backbone.SHARDED)}
    attention = [p for p in sharded if p.endswith("query/kernel")]
    assert attention and any(p.endswith("inner/kernel") for p in sharded)
    for path, spec in specs.items():
        if path in sharded:
            assert "'model'" in str(spec), (path, spec)
        else:
            assert "'model'" not in str(spec), (path, spec)
    for path in attention:
        assert str(specs[path]).endswith("(None, 'model')")  # P(...)


def test_what_a_backend_cannot_run_is_refused(monkeypatch):
    backend = distribution.backend.name()
    wrong = "data_parallel" if backend == "tensorflow" else "mirrored"
    with pytest.raises(ValueError, match=f"--distribution={wrong} runs on "):
        distribution.check(wrong)
    with pytest.raises(ValueError, match="Unknown distribution 'ring'"):
        distribution.check("ring")
    with pytest.raises(ValueError, match="--devices=0"):
        distribution.check("none", devices=0)
    if backend == "tensorflow":
        monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["a:1", '
                                        '"b:1"]}}')
        with pytest.raises(ValueError, match="keras-team/keras#20585"):
            distribution.check("mirrored")


def test_a_global_batch_must_split_across_the_replicas():
    distribution.check_batch(8, 2)
    with pytest.raises(ValueError, match="--batch_size=9 does not split "
                                         "across 2 replicas"):
        distribution.check_batch(9, 2)


def test_a_multi_process_setup_is_read_from_flags_or_the_environment(
        monkeypatch):
    for variable in distribution.ENVIRONMENT.values():
        monkeypatch.delenv(variable, raising=False)
    assert distribution.cluster() is None
    assert distribution.cluster("h:1", 1, 0) is None  # one process
    assert distribution.cluster("h:1,g:2", 2, 1, timeout=5) == (
        distribution.Cluster("h:1", 2, 1, 5))
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "2")
    with pytest.raises(ValueError, match="KERAS_DISTRIBUTION_PROCESS_ID"):
        distribution.cluster("h:1")
    monkeypatch.setenv("KERAS_DISTRIBUTION_JOB_ADDRESSES", "h:7")
    monkeypatch.setenv("KERAS_DISTRIBUTION_PROCESS_ID", "1")
    assert distribution.cluster() == distribution.Cluster("h:7", 2, 1, 300)
    with pytest.raises(ValueError, match="--process_id=2 must be between 0 "
                                         "and 1"):
        distribution.cluster(process_id=2)
    monkeypatch.delenv("KERAS_DISTRIBUTION_NUM_PROCESSES")
    monkeypatch.delenv("KERAS_DISTRIBUTION_PROCESS_ID")
    with pytest.raises(ValueError, match="--coordinator_address was given "
                                         "for a run of one process"):
        distribution.cluster()
    monkeypatch.delenv("KERAS_DISTRIBUTION_JOB_ADDRESSES")
    with pytest.raises(ValueError, match="--process_id was given for a run "
                                         "of one process"):
        distribution.cluster(process_id=1)


def test_a_slurm_or_mpi_job_is_a_cluster_for_data_parallel(monkeypatch):
    for variable in distribution.ENVIRONMENT.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("SLURM_NTASKS", "4")
    monkeypatch.setenv("SLURM_PROCID", "3")
    assert distribution.cluster() is None  # not asked to look
    assert distribution.cluster(launchers=True) == (
        distribution.Cluster(None, 4, 3, 300))
    monkeypatch.setenv("SLURM_NTASKS", "1")
    assert distribution.cluster(launchers=True) is None


def test_what_several_processes_cannot_run_is_refused():
    processes = distribution.Cluster("h:1", 2, 0, 300)
    with pytest.raises(ValueError, match="need --distribution=data_parallel"):
        distribution.check("none", processes=processes)
    if distribution.backend.name() == "jax":
        with pytest.raises(ValueError, match="model_parallel runs in one"):
            distribution.check("model_parallel", processes=processes)
    with pytest.raises(ValueError, match="--mesh is for"):
        distribution.check("none", mesh=(1, 2))
    with pytest.raises(ValueError, match="--devices is for"):
        distribution.check("none", devices=2)


def test_an_unreachable_coordinator_fails_naming_it():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("localhost", 0))
        port = probe.getsockname()[1]
    began = time.monotonic()
    with pytest.raises(ConnectionError,
                       match=f"No coordinator answered at localhost:{port} "
                             "within 1 s"):
        distribution.wait_for_coordinator("localhost", port, timeout=1)
    assert time.monotonic() - began < 10


def test_each_process_gets_its_share_of_every_global_batch():
    """Of batches of 4, process 0 gets the first 2 examples of each and
    process 1 the last 2: together each example once, in one device's
    order; a last, smaller batch goes to neither (nor, in one process, to
    the devices, which must split every batch evenly). A `map` after `batch`
    (an unknown static batch size) splits the same way."""
    import tensorflow as tf

    for batches in (tf.data.Dataset.range(10).batch(4),
                    tf.data.Dataset.range(10).batch(4).map(lambda x: x * 1)):
        shares = [[b.tolist() for b in distribution.split_batches(
            batches, 2, index).as_numpy_iterator()] for index in (0, 1)]
        assert shares == [[[0, 1], [4, 5]], [[2, 3], [6, 7]]]
        alone = distribution.split_batches(batches, 1, 0)  # 2 devices
        assert [b.tolist() for b in alone.as_numpy_iterator()] == [
            [0, 1, 2, 3], [4, 5, 6, 7]]
    with pytest.raises(ValueError, match="Batches of 4 do not split between "
                                         "3 processes"):
        distribution.split_batches(tf.data.Dataset.range(8).batch(4), 3, 0)
