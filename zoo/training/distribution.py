"""Training on more than one device, with the engines Keras already has.

| `kind`           | backend    | engine                                                       |
|------------------|------------|--------------------------------------------------------------|
| `none`           | any        | one device                                                   |
| `mirrored`       | TensorFlow | `tf.distribute.MirroredStrategy` over this machine's devices  |
| `data_parallel`  | JAX        | `keras.distribution.DataParallel`, one or several processes   |
| `model_parallel` | JAX        | `keras.distribution.ModelParallel` on a (batch, model) mesh,  |
|                  |            | weights sharded by `Backbone.get_layout_map`                 |

`use(kind, ...)` makes the distribution current for everything built and
trained afterwards (`tf.distribute.experimental_set_strategy`,
`keras.distribution.set_distribution`), as `with strategy.scope():` would
for a block of code. The global batch is what the data gives; Keras splits
it across the replicas (and, with several processes, gives each process
its consecutive share of every global batch), and `zoo.tasks.losses`
averages the loss over the global batch's tokens, so that N devices take
the steps one device takes.

Several processes (JAX): `Cluster` says where the coordinator is, how many
processes there are and which one this is (flags, Keras' environment
variables, or a SLURM or Open MPI job's). `connect` joins them with
`jax.distributed.initialize`, as `keras.distribution.initialize` does but
with the zoo's limits: a process that cannot reach the coordinator fails
after `--coordinator_timeout` naming it, and one whose peers stop
answering after 10 s.

Refused with a clear error, before anything is built: `mirrored` on
another backend; `data_parallel` and `model_parallel` on TensorFlow, where
Keras 3.15's `keras.distribution` runs without distributing anything; a
`TF_CONFIG` with several workers (`MultiWorkerMirroredStrategy` does not
work with Keras 3's `fit`, keras-team/keras#20585); a mesh whose shape does
not hold the devices; `model_parallel` over several processes (each
process must hold whole weights to save them).
"""

import collections
import hashlib
import json
import os
import socket
import time

import keras

from zoo import backend
from zoo.models import Backbone

KINDS = ("none", "mirrored", "data_parallel", "model_parallel")
BACKENDS = {"mirrored": "tensorflow", "data_parallel": "jax",
            "model_parallel": "jax"}

# Where a process finds its peers: flags, else the variables that
# `keras.distribution.initialize` reads.
Cluster = collections.namedtuple(
    "Cluster", ["coordinator", "num_processes", "process_id", "timeout"])
ENVIRONMENT = {"coordinator": "KERAS_DISTRIBUTION_JOB_ADDRESSES",
               "num_processes": "KERAS_DISTRIBUTION_NUM_PROCESSES",
               "process_id": "KERAS_DISTRIBUTION_PROCESS_ID"}


# (process count, process id) of the launchers whose coordinator
# `jax.distributed.initialize` finds by itself (from the node list, the
# MPI URI).
LAUNCHERS = {"SLURM": ("SLURM_NTASKS", "SLURM_PROCID"),
             "Open MPI": ("OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK")}


def cluster(coordinator=None, num_processes=None, process_id=None,
            timeout=300, launchers=False):
    """The `Cluster` the arguments describe, each falling back to its
    `ENVIRONMENT` variable; None for a single process. With `launchers`,
    a task of a SLURM or Open MPI job of several tasks, given none of
    them, is that job's process (its coordinator left to JAX)."""
    given = {"coordinator": coordinator, "num_processes": num_processes,
             "process_id": process_id}
    for key, variable in ENVIRONMENT.items():
        if given[key] is None and os.environ.get(variable):
            given[key] = os.environ[variable]
    if launchers and all(value is None for value in given.values()):
        for count, index in LAUNCHERS.values():
            if int(os.environ.get(count) or 1) > 1:
                return Cluster(None, int(os.environ[count]),
                               int(os.environ[index]), timeout)
    if given["num_processes"] in (None, 1, "1"):
        alone = [key for key in ("coordinator", "process_id")
                 if given[key] not in (None, 0, "0")]
        if alone and given["num_processes"] is None:
            raise ValueError(
                f"--{alone[0].replace('coordinator', 'coordinator_address')} "
                "was given for a run of one process: give --num_processes "
                "(or KERAS_DISTRIBUTION_NUM_PROCESSES) too.")
        return None
    count = int(given["num_processes"])
    if count < 1:
        raise ValueError(f"--num_processes={count}: give at least 1.")
    if given["coordinator"] is None or given["process_id"] is None:
        raise ValueError(
            f"{count} processes need the coordinator's address and this "
            "process's id: give --coordinator_address and --process_id (or "
            "set " + " and ".join(ENVIRONMENT[k] for k in given
                                  if given[k] is None) + ").")
    index = int(given["process_id"])
    if not 0 <= index < count:
        raise ValueError(f"--process_id={index} must be between 0 and "
                         f"{count - 1} for {count} processes.")
    # Keras accepts every job's address; the first is the coordinator.
    address = given["coordinator"].split(",")[0]
    return Cluster(address, count, index, timeout)


def check(kind, devices=None, mesh=None, processes=None):
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
        here = {"tensorflow": ", or --distribution=mirrored on TensorFlow",
                "jax": ", or --distribution=data_parallel on JAX"}
        raise ValueError(
            f"--distribution={kind} runs on the {wanted} backend; this is "
            f"{backend.name()}"
            + (" (Keras 3.15's keras.distribution distributes nothing on "
               "TensorFlow)" if wanted == "jax" else "")
            + f". Set KERAS_BACKEND={wanted}"
            + here.get(backend.name(), "") + ".")
    if mesh is not None and kind != "model_parallel":
        raise ValueError("--mesh is for --distribution=model_parallel.")
    if processes is not None and kind not in ("data_parallel",
                                              "model_parallel"):
        raise ValueError(
            f"{processes.num_processes} processes need "
            "--distribution=data_parallel (KERAS_BACKEND=jax); this is "
            f"--distribution={kind}.")
    if processes is not None and kind == "model_parallel":
        raise ValueError(
            "--distribution=model_parallel runs in one process: saving a "
            "checkpoint needs every shard of a weight in the process that "
            "writes it. Use data_parallel across processes.")
    if devices is not None and devices > 1 and kind == "none":
        raise ValueError("--devices is for --distribution=mirrored, "
                         "data_parallel or model_parallel.")
    if processes is not None and devices is not None:
        raise ValueError("--devices counts one process's devices; with "
                         "several processes every device takes part.")


def connect(processes):
    """Join the processes of `processes` (a `Cluster`); before JAX runs.

    A process other than the coordinator first waits up to
    `processes.timeout` seconds for the coordinator's port to answer, and
    fails naming the address if it does not. JAX's coordination service
    then ends every process whose peers stop sending heartbeats (10 s).
    """
    import jax

    if processes.coordinator is not None:  # else a launcher's, found by JAX
        host, _, port = processes.coordinator.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(
                f"--coordinator_address={processes.coordinator!r} is not "
                "HOST:PORT.")
        if processes.process_id > 0:
            wait_for_coordinator(host, int(port), processes.timeout)
    jax.distributed.initialize(
        coordinator_address=processes.coordinator,
        num_processes=processes.num_processes,
        process_id=processes.process_id,
        initialization_timeout=processes.timeout,
        heartbeat_timeout_seconds=10,
    )


def wait_for_coordinator(host, port, timeout):
    """Return once `host:port` accepts a connection; raise
    `ConnectionError` naming it after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=5).close()
            return
        except OSError as error:
            if time.monotonic() > deadline:
                raise ConnectionError(
                    f"No coordinator answered at {host}:{port} within "
                    f"{timeout} s ({error}). Start process 0 there, or fix "
                    "--coordinator_address.") from None
            time.sleep(0.5)


def use(kind, devices=None, mesh=None, processes=None):
    """Make `kind` the distribution of every model built afterwards.

    Args:
        kind: one of `KINDS`.
        devices: int, how many of the local devices to use (default: all).
            On a machine without accelerators, TensorFlow splits the CPU
            into that many logical devices (call this before TensorFlow
            has run anything).
        mesh: `(batch, model)` for `model_parallel` (default: every device
            on the model axis); its product must be the number of devices.
        processes: a `Cluster`, or None for this process alone.

    Returns:
        The number of replicas a global batch is split across.
    """
    check(kind, devices, mesh, processes)
    if kind == "none":
        return 1
    if kind == "mirrored":
        return _mirrored(devices)
    if processes is not None:
        connect(processes)
    found = keras.distribution.list_devices()
    if devices is not None:
        if devices > len(found):
            raise ValueError(
                f"--devices={devices}, but JAX sees {len(found)} devices "
                f"({', '.join(found)}). On CPU, set JAX_NUM_CPU_DEVICES.")
        found = found[:devices]
    if kind == "data_parallel":
        keras.distribution.set_distribution(DataParallel(devices=found))
        return len(found)
    batch, model = mesh or (1, len(found))
    if batch * model != len(found):
        raise ValueError(
            f"--mesh={batch},{model} holds {batch * model} devices, but "
            f"there are {len(found)} ({', '.join(found)}).")
    device_mesh = keras.distribution.DeviceMesh(
        (batch, model), ("batch", "model"), found)
    keras.distribution.set_distribution(ModelParallel(
        layout_map=Backbone.get_layout_map(device_mesh),
        batch_dim_name="batch"))
    return batch


class SplitsGlobalBatches:
    """A `keras.distribution.Distribution` that gives each process whole
    shares of whole global batches (`split_batches`): also for a dataset
    whose batch size Keras cannot infer (a `map` after `batch`), and
    without the last, smaller batch, which JAX cannot split evenly across
    the mesh's batch axis."""

    def distribute_dataset(self, dataset):
        import jax

        mesh = self.device_mesh
        shards = mesh.shape[list(mesh.axis_names).index(self.batch_dim_name)]
        if shards == 1:
            return dataset
        return split_batches(dataset, jax.process_count(), jax.process_index())


class DataParallel(SplitsGlobalBatches, keras.distribution.DataParallel):
    """`keras.distribution.DataParallel` that splits datasets so."""


class ModelParallel(SplitsGlobalBatches, keras.distribution.ModelParallel):
    """`keras.distribution.ModelParallel` that splits datasets so."""


def split_batches(dataset, count, index):
    """Process `index`'s share of every global batch of `dataset`, of
    `count` processes: its `1/count` consecutive examples, as Keras' own
    auto-sharding gives. A last batch smaller than the others is left out
    (every process and device must get an equal share), so validation on
    several devices may see up to one batch less than on one."""
    import tensorflow as tf

    size = tf.nest.flatten(dataset.element_spec)[0].shape[0]
    if size is None:
        size = int(tf.shape(tf.nest.flatten(next(iter(dataset)))[0])[0])
    if size % count:
        raise ValueError(f"Batches of {size} do not split between {count} "
                         "processes; give a multiple of the process count.")

    def full(*batch):
        return tf.shape(tf.nest.flatten(batch)[0])[0] == size

    dataset = dataset.filter(full)
    if count > 1:
        dataset = dataset.rebatch(size // count).shard(count, index)
    return dataset.prefetch(tf.data.AUTOTUNE)


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


def check_model_axis(config):
    """Under `model_parallel`, every width `get_layout_map` shards must
    split over the mesh's model axis: the hidden width, the feed-forward
    width and the heads of `config` (a backbone's constructor arguments)."""
    current = keras.distribution.distribution()
    if not isinstance(current, keras.distribution.ModelParallel):
        return
    mesh = current.device_mesh
    model = mesh.shape[list(mesh.axis_names).index("model")]
    for key in ("hidden_dim", "intermediate_dim", "num_heads"):
        if config.get(key) and config[key] % model:
            raise ValueError(
                f"{key}={config[key]} does not split over the mesh's model "
                f"axis of {model} devices (--mesh).")


def process_index():
    """This process's number among the processes of a run (0 alone, and
    on every backend but JAX)."""
    if backend.name() == "jax":
        import jax

        return jax.process_index()
    return 0


def check_same_everywhere(text, what="flags"):
    """Raise in every process unless all processes passed the same `text`
    (their flags, their tokenizer's files): processes that disagree would
    train apart."""
    if backend.name() != "jax":
        return
    import jax
    import numpy as np
    from jax.experimental import multihost_utils

    if jax.process_count() == 1:
        return
    digest = hashlib.sha256(text.encode()).digest()[:8]
    mine = np.frombuffer(digest, dtype=np.uint32)
    everyone = np.asarray(multihost_utils.process_allgather(mine))
    differ = [i for i, row in enumerate(everyone) if (row != mine).any()]
    if differ:
        raise ValueError(
            f"Process {jax.process_index()} has other {what} than "
            f"process(es) {differ}: every process of a run must be given "
            f"the same {what}"
            + (" (apart from --process_id)." if what == "flags" else "."))


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
