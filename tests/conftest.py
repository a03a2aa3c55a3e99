import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402

BACKEND = keras.backend.backend()

if BACKEND == "torch":
    import torch

    # Tests read outputs with NumPy (np.testing, np.asarray). PyTorch
    # refuses np.asarray on a tensor that requires grad, as every output of
    # a model with trainable weights does; here it gives the values.
    def _values(tensor, dtype=None, copy=None):
        array = tensor.detach().cpu().numpy()
        return array if dtype is None else array.astype(dtype)

    torch.Tensor.__array__ = _values


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "tensorflow: needs Keras' TensorFlow backend (tf.function, "
        "XLA, SavedModel); skipped on the others")


def pytest_collection_modifyitems(config, items):
    if BACKEND == "tensorflow":
        return
    skip = pytest.mark.skip(reason=f"TensorFlow backend only; this is {BACKEND}")
    for item in items:
        if "tensorflow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed_and_policy():
    """Each test starts from the same seed and the float32 policy."""
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture(autouse=True)
def _no_pytorch_beside_tensorflow():
    """PyTorch stays out of TensorFlow's test workers: one that had both
    crashed in a later test. `transformers` references run through
    tests/pytorch_process.py. Only the test that brings PyTorch in fails."""
    before = sys.modules.get("torch") is not None
    yield
    if (BACKEND == "tensorflow" and not before
            and sys.modules.get("torch") is not None):
        pytest.fail("This test imported PyTorch into a TensorFlow test "
                    "worker; run PyTorch code with pytorch_process.call.")
