"""Training on several devices takes the steps one device takes.

Each run is a subprocess (tests/distribution_worker.py): a backend's
devices are fixed when it starts. TensorFlow splits the CPU into logical
devices for `mirrored`; JAX gets CPU devices from `JAX_NUM_CPU_DEVICES`.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from backends import ROOT
from backends import backend_env
from backends import require

from zoo.training import distribution

WORKER = os.path.join(ROOT, "tests", "distribution_worker.py")
FAMILIES = ["gpt", "bert", "transformer"]


def train(tmp_path, backend, family, kind, devices):
    """The weights after a few steps (and `replicas`), as a dict."""
    require(backend)
    out = tmp_path / f"{backend}_{family}_{kind}_{devices}.npz"
    env = {**backend_env(backend), "JAX_NUM_CPU_DEVICES": "2"}
    result = subprocess.run(
        [sys.executable, WORKER, family, kind, str(devices), str(out)],
        capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(np.load(out))


def assert_same_weights(got, expected):
    """Every weight within 1e-5, except the attention key projections'
    biases: in exact arithmetic they get no gradient (q.b is added to
    every score of a row, which the softmax cancels), so Adam turns their
    rounding noise, which depends on the order of the sums, into steps."""
    assert got.keys() == expected.keys()
    for key in expected:
        if key != "replicas" and not key.endswith("key/bias"):
            np.testing.assert_allclose(got[key], expected[key], atol=1e-5,
                                       rtol=0, err_msg=key)


@pytest.mark.parametrize("family", FAMILIES)
def test_mirrored_on_two_cpu_devices_equals_one_device(family, tmp_path):
    one = train(tmp_path, "tensorflow", family, "none", 1)
    two = train(tmp_path, "tensorflow", family, "mirrored", 2)
    assert int(two["replicas"]) == 2
    assert_same_weights(two, one)


@pytest.mark.parametrize("family", FAMILIES)
def test_data_parallel_on_two_jax_devices_equals_one_device(family, tmp_path):
    one = train(tmp_path, "jax", family, "none", 1)
    two = train(tmp_path, "jax", family, "data_parallel", 2)
    assert int(two["replicas"]) == 2
    assert_same_weights(two, one)


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
