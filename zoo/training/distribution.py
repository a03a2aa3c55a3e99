"""Training on more than one device, with the engines Keras already has.

| `kind`           | backend    | engine                                                      |
|------------------|------------|-------------------------------------------------------------|
| `none`           | any        | one device                                                  |
| `mirrored`       | TensorFlow | `tf.distribute.MirroredStrategy` over this machine's devices |
| `data_parallel`  | JAX        | `keras.distribution.DataParallel` over every device          |

`use(kind, ...)` makes the distribution current for everything built and
trained afterwards (`tf.distribute.experimental_set_strategy`,
`keras.distribution.set_distribution`), as `with strategy.scope():` would
for a block of code. The global batch is what the data gives; Keras splits
it across the replicas, and `zoo.tasks.losses` averages the loss over the
global batch's tokens, so that N devices take the steps one device takes.

Refused with a clear error, before anything is built: `mirrored` on
another backend; `data_parallel` on TensorFlow, where Keras 3.15's
`keras.distribution` runs without distributing anything; a `TF_CONFIG`
with several workers (`MultiWorkerMirroredStrategy` does not work with
Keras 3's `fit`, keras-team/keras#20585).
"""

import json
import os

import keras

from zoo import backend

KINDS = ("none", "mirrored", "data_parallel")
BACKENDS = {"mirrored": "tensorflow", "data_parallel": "jax"}


def check(kind, devices=None):
    """Refuse a `kind` this backend and environment cannot run."""
    if kind not in KINDS:
        raise ValueError(f"Unknown distribution {kind!r}; choose one of "
                         f"{', '.join(KINDS)}.")
    if devices is not None and devices < 1:
        raise ValueError(f"--devices={devices}: give at least 1.")
    workers = json.loads(os.environ.get("TF_CONFIG") or "{}").get(
        "cluster", {}).get("worker", [])
    if backend.name() == "tensorflow" and len(workers) > 1:
        raise ValueError(
            f"TF_CONFIG names {len(workers)} workers, but "
            "MultiWorkerMirroredStrategy does not work with Keras 3's fit "
            "(keras-team/keras#20585). Train on several machines with "
            "KERAS_BACKEND=jax and --distribution=data_parallel.")
    wanted = BACKENDS.get(kind)
    if wanted and backend.name() != wanted:
        other = {"tensorflow": "data_parallel (KERAS_BACKEND=jax)",
                 "jax": "mirrored (KERAS_BACKEND=tensorflow)"}
        hint = other.get(backend.name(), "none")
        raise ValueError(
            f"--distribution={kind} runs on the {wanted} backend; this is "
            f"{backend.name()}"
            + (" (Keras 3.15's keras.distribution distributes nothing on "
               "TensorFlow)" if kind == "data_parallel" else "")
            + f". Use --distribution={hint}.")


def use(kind, devices=None):
    """Make `kind` the distribution of every model built afterwards.

    Args:
        kind: one of `KINDS`.
        devices: int, how many of the local devices to use (default: all).
            On a machine without accelerators, TensorFlow splits the CPU
            into that many logical devices (call this before TensorFlow
            has run anything).

    Returns:
        The number of replicas a global batch is split across.
    """
    check(kind, devices)
    if kind == "none":
        return 1
    if kind == "mirrored":
        return _mirrored(devices)
    found = keras.distribution.list_devices()
    if devices is not None:
        if devices > len(found):
            raise ValueError(
                f"--devices={devices}, but JAX sees {len(found)} devices "
                f"({', '.join(found)}). On CPU, set JAX_NUM_CPU_DEVICES.")
        found = found[:devices]
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=found))
    return len(found)


def _mirrored(devices):
    import tensorflow as tf

    kind = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    if kind == "CPU" and devices and devices > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        try:  # only before TensorFlow has set up its devices
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
        except RuntimeError as error:
            if len(tf.config.list_logical_devices("CPU")) < devices:
                raise ValueError(
                    f"--devices={devices}: TensorFlow had already started, "
                    "so its CPU cannot be split into logical devices any "
                    "more.") from error
    names = [d.name for d in tf.config.list_logical_devices(kind)]
    if devices is not None:
        if devices > len(names):
            raise ValueError(f"--devices={devices}, but TensorFlow sees "
                             f"{len(names)} {kind} devices.")
        names = names[:devices]
    strategy = tf.distribute.MirroredStrategy(names)
    tf.distribute.experimental_set_strategy(strategy)
    return strategy.num_replicas_in_sync


def compile_arguments(kind, jit_compile, steps_per_execution):
    """`compile`'s `jit_compile` and `steps_per_execution` for `kind`.

    Under `MirroredStrategy`, Keras 3.15's loop of several steps per call
    fails ("You must feed a value for placeholder tensor ... while/cond",
    keras-team/keras#19246, with any model), and XLA cannot read the
    variables mirrored on the other devices; so the step runs once per
    call, without XLA (what Keras' `jit_compile="auto"` picks under a
    strategy). Other kinds take the arguments as given.
    """
    if kind != "mirrored":
        return jit_compile, steps_per_execution
    return False, 1


def check_batch(batch_size, replicas):
    """The global batch must split evenly across the replicas."""
    if batch_size % replicas:
        raise ValueError(
            f"--batch_size={batch_size} does not split across {replicas} "
            f"replicas; give a multiple of {replicas}.")
