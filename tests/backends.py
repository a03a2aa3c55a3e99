"""Running code on another Keras backend: a subprocess with KERAS_BACKEND.

Keras picks its backend once per process, so the tests that need JAX or
PyTorch start one. Without the backend's package (`pip install -e
".[jax]"` / `".[torch]"`) those tests skip, but where `CI` is set (as
.ci/run sets it), they fail instead: CI must run them.
"""

import importlib.util
import os
import signal

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = {"jax": "jax", "torch": "torch", "tensorflow": "tensorflow"}


def require(backend):
    """Skip (fail under CI) unless `backend`'s package is installed."""
    if importlib.util.find_spec(PACKAGES[backend]) is not None:
        return
    message = (f"{backend} is not installed: pip install -e \".[{backend}]\" "
               "to run the tests on it.")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def backend_env(backend):
    """The environment of a subprocess on `backend`."""
    return {**os.environ, "KERAS_BACKEND": backend,
            "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT}


# XLA:CPU ends a process whose devices do not all reach a collective in
# time (40 s). With a CPU split into 2 JAX devices and another busy process
# on the same 2 cores, that ended the Transformer worker's data_parallel
# run in about 1 of 10 runs here (3 of 16 beside another such worker),
# also with a 180 s limit or single-threaded Eigen (a hang, not slowness),
# and in none of 10 runs alone.


def native_crash(result):
    """What native crash ended the subprocess `result`, or None: a
    segmentation fault, or XLA:CPU's collective rendezvous timing out."""
    if result.returncode == -signal.SIGSEGV:
        return "a segmentation fault"
    if result.returncode == -signal.SIGABRT and "rendezvous.cc" in (
            result.stderr or ""):
        return "XLA:CPU's collective rendezvous timing out"
    return None
