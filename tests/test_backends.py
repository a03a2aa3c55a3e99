"""The shared harness's tests of every block, backbone and task, the
Transformer invariants and `zoo.show`, on JAX and on PyTorch.

The default run is on TensorFlow; each of these runs the same test files
in a subprocess on another backend (Keras picks its backend once per
process). Tests marked `tensorflow` (tf.function, XLA, HLO) skip there.
"""

import subprocess
import sys

import pytest
from backends import ROOT
from backends import backend_env
from backends import require

SUITE = ["tests/blocks", "tests/models", "tests/tasks", "tests/show",
         "tests/test_tuning.py"]


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_blocks_models_and_tasks_on(backend):
    require(backend)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "-p", "no:randomly", *SUITE],
        cwd=ROOT, env=backend_env(backend), capture_output=True, text=True,
        timeout=1800)
    summary = result.stdout.strip().splitlines()[-1:] or ["no output"]
    print(f"{backend}: {summary[0]}")
    assert result.returncode == 0, (
        f"The tests failed on {backend}:\n{result.stdout[-6000:]}\n"
        f"{result.stderr[-2000:]}")
