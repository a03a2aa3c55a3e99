"""Where a benchmark row's time goes: XLA's ops, grouped by kind.

    python -m benchmarks.profile --workload transformer_base --library zoo

Builds the row's model exactly as `benchmarks.run` does, runs a few
warm-up executions, then runs `--executions` more under TensorFlow's
profiler and prints, per training step (or per `generate` call), the time
spent in each kind of op: XLA names its thunks after their ops (`MatMul.12`,
`dot_add_fusion.3`, ...), and a kind is the name without its number. Times
are summed over both of XLA's worker threads, so they can add up to more
than the wall-clock step; compare rows with each other, and zoo with
keras-hub. The profiler slows the step down, so `seconds per step` is
timed before it starts (without `fit`'s start-up). XLA only
(`jit_compile=True`): without XLA the names are TensorFlow's graph ops
and this grouping says less.
"""

import argparse
import collections
import glob
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks import measure  # noqa: E402
from benchmarks.workloads import DEFAULT_LIBRARIES  # noqa: E402
from benchmarks.workloads import WORKLOADS  # noqa: E402

# Events that wrap a whole execution rather than one op.
WRAPPERS = ("ThunkExecutor", "ExecutorState", "CpuExecutable",
            "BlockUntilReady", "SlinkyThreadPool")
# Ops whose events contain the events of the ops they run (counted there).
CONTAINERS = ("call", "while", "conditional")


def op_kind(name):
    """`dot_add_fusion.3` -> `dot_add_fusion`; `MatMul_1.7` -> `MatMul_1`."""
    head, _, tail = name.rpartition(".")
    return head if head and tail.isdigit() else name


def op_times(space, per=1):
    """{kind: milliseconds} of the XLA op events on the worker threads of an
    `XSpace`, divided by `per`, largest first."""
    totals = collections.Counter()
    for plane in space.planes:
        for line in plane.lines:
            if "Eigen" not in line.name:  # XLA's op thunks run on these
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                if (name.startswith(WRAPPERS) or name.startswith("end: ")
                        or op_kind(name) in CONTAINERS):
                    continue
                totals[op_kind(name)] += event.duration_ps / 1e9 / per
    return dict(totals.most_common())


def _runner(w, library):
    """(run `n` executions, what one execution is) for workload `w`."""
    if w.kind == "generate":
        generate = measure.generator(w, library, xla=True)

        def execute(n):
            for _ in range(n):
                generate()

        return execute, "generate call"

    model, data = measure.compiled_model(w, library, xla=True)
    if w.kind == "infer":
        def execute(n):
            model.predict(data, steps=n * w.steps_per_execution, verbose=0)
    else:
        def execute(n):
            model.fit(data, steps_per_epoch=n * w.steps_per_execution,
                      verbose=0)
    return execute, "step"


def profile(workload, library, executions=2, top=25):
    import keras
    import tensorflow as tf
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    w = WORKLOADS[workload]
    keras.utils.set_random_seed(0)
    execute, unit = _runner(w, library)
    per = executions * (w.steps_per_execution if unit == "step" else 1)
    execute(1)  # compiles
    # Each `fit` call has its own start-up cost: time one execution and
    # 1 + `executions`, and keep the difference.
    start = time.perf_counter()
    execute(1)
    one = time.perf_counter() - start
    start = time.perf_counter()
    execute(1 + executions)
    seconds = (time.perf_counter() - start - one) / per
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        execute(executions)
        tf.profiler.experimental.stop()
        (path,) = glob.glob(f"{logdir}/**/*.xplane.pb", recursive=True)
        space = xplane_pb2.XSpace()
        with open(path, "rb") as f:
            space.ParseFromString(f.read())
    times = op_times(space, per)
    total = sum(times.values())
    print(f"# {workload}, {library}, XLA: {seconds:.3f} s per {unit} "
          f"unprofiled; XLA ops {total:.0f} ms per {unit} under the profiler")
    print(f"| op kind | ms per {unit} | share |")
    print("|---|---|---|")
    for kind, ms in list(times.items())[:top]:
        print(f"| {kind} | {ms:.1f} | {ms / total:.0%} |")
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workload", required=True,
                        choices=sorted(WORKLOADS))
    parser.add_argument("--library", choices=DEFAULT_LIBRARIES, default="zoo")
    parser.add_argument("--executions", type=int, default=2,
                        help="executions profiled (each steps_per_execution "
                             "steps, or one generate call)")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    profile(args.workload, args.library, args.executions, args.top)


if __name__ == "__main__":
    main()
