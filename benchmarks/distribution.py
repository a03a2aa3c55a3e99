"""One training step on 1 and on 2 devices, side by side, and what scaling
out would cost.

    python -m benchmarks.distribution            # gpt_pretrain's step
    python -m benchmarks.distribution --workload bert_tiny --repeats 3

Each measurement is a fresh process (a backend's devices are fixed when it
starts), one after the other, the configurations alternating `--repeats`
times (each keeps its median):

- TensorFlow, one device with and without XLA, and `MirroredStrategy`
  over 2 logical CPU devices, without XLA as Keras runs a strategy
  (`zoo.training.distribution.compile_arguments`); one step per call;
- JAX, one device, `data_parallel` and `model_parallel` over 2 CPU devices
  (`JAX_NUM_CPU_DEVICES=2`), each step `jax.jit`-compiled.

Throughput is `fit`'s, on the workload's global batch (split across the
devices), with the recipes' AdamW (weight decay, norm clipping), and
"vs one device" compares a row with the one-device row of its backend
compiled the same way (mirrored with XLA off). Bytes
communicated per step: on JAX, measured from the compiled step (the
result sizes of its all-reduce, all-gather, reduce-scatter, all-to-all
and collective-permute ops; an asynchronous all-gather's or
collective-permute's "-start" result, which also holds its operand,
would count both); on TensorFlow, counted from the code (Keras
all-reduces every gradient, and `optimizers.AdamW` all-reduces them once
more to clip by the norm of their sum). A ring all-reduce of B bytes over
N devices sends 2(N-1)/N x B from each device.

Then a paper estimate of data-parallel scaling to 8 and 64 accelerators
for `gpt2_small` and `bert_base`, from their step FLOPs
(`benchmarks.workloads.step_flops`) and gradient bytes, under the
assumptions printed with it.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

from benchmarks.report import cpu_name
from benchmarks.workloads import WORKLOADS
from benchmarks.workloads import Workload
from benchmarks.workloads import step_flops

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = [  # (backend, distribution, devices, compiled step)
    ("tensorflow", "none", 1, True),
    ("tensorflow", "none", 1, False),
    ("tensorflow", "mirrored", 2, False),
    ("jax", "none", 1, True),
    ("jax", "data_parallel", 2, True),
    ("jax", "model_parallel", 2, True),
]
COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all",
               "collective-permute")
BYTES = {"f64": 8, "s64": 8, "u64": 8, "f32": 4, "s32": 4, "u32": 4,
         "bf16": 2, "f16": 2, "s16": 2, "u16": 2, "s8": 1, "u8": 1,
         "pred": 1}
# The paper estimate's accelerator: NVIDIA A100's dense bfloat16 peak
# (A100 datasheet), at an assumed 40% model-FLOPs utilisation; a ring's
# per-device bandwidth of 200 GB/s inside an 8-GPU NVLink node, and of
# 25 GB/s across nodes (one 200 Gb/s HDR InfiniBand port per GPU, as in a
# DGX A100), which bounds a flat ring over 64 GPUs.
PEAK, MFU = 312e12, 0.40
BANDWIDTH = {8: 200e9, 64: 25e9}
ESTIMATED = {"gpt2_small": 8, "bert_base": 32}  # per-device batch


# The measurement, in its own process ----------------------------------------


def worker(backend, kind, devices, xla, workload, seconds):
    """Train `workload` under `kind` for about `seconds`; a dict."""
    import keras
    import numpy as np
    import tensorflow as tf

    from benchmarks.workloads import random_batch
    from benchmarks.workloads import zoo_model
    from zoo.training import distribution
    from zoo.training import optimizers

    w = WORKLOADS[workload]
    replicas = distribution.use(kind, devices)
    keras.utils.set_random_seed(0)
    task = zoo_model(w)
    x, y, sample_weight = random_batch(w)
    task(x)
    jit, _ = distribution.compile_arguments(kind, xla, 1)
    task.compile(optimizer=optimizers.adamw(task, 1e-4), jit_compile=jit)
    parts = (x, y) if sample_weight is None else (x, y, sample_weight)
    data = tf.data.Dataset.from_tensors(parts).repeat().prefetch(2)
    task.fit(data, steps_per_epoch=3, epochs=1, verbose=0)  # compile, warm
    began = time.perf_counter()
    task.fit(data, steps_per_epoch=3, epochs=1, verbose=0)
    per_step = (time.perf_counter() - began) / 3
    steps = max(3, int(seconds / per_step))
    began = time.perf_counter()
    task.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    per_step = (time.perf_counter() - began) / steps
    params = task.count_params()
    result = {"replicas": replicas, "seconds_per_step": per_step,
              "steps": steps, "params": params,
              "gradient_bytes": 4 * sum(int(np.prod(v.shape))
                                        for v in task.trainable_variables)}
    if backend == "jax" and kind != "none":
        result["collective_bytes"] = jax_collective_bytes(
            task, x, y, sample_weight)
    elif kind == "mirrored":
        result["collective_bytes"] = 2 * result["gradient_bytes"]
    return result


def jax_collective_bytes(task, x, y, sample_weight):
    """Bytes in the collectives of one compiled training step: the output
    sizes of its collective ops, from the optimized HLO text."""
    import jax
    import keras

    layout = keras.distribution.distribution().get_data_layout
    place = lambda a: jax.device_put(a, layout(a.shape).backend_layout)  # noqa: E731
    x = jax.tree.map(place, x)
    y = place(y)
    sample_weight = None if sample_weight is None else place(sample_weight)
    state = ([v.value for v in task.trainable_variables],
             [v.value for v in task.non_trainable_variables],
             [v.value for v in task.optimizer.variables])

    def step(state, x, y, sample_weight):
        trainable, non_trainable, optimizer_variables = state

        def loss(trainable):
            y_pred, _ = task.stateless_call(trainable, non_trainable, x,
                                            training=True)
            return task.loss(y, y_pred, sample_weight)

        grads = jax.grad(loss)(trainable)
        return task.optimizer.stateless_apply(optimizer_variables, grads,
                                              trainable)

    text = jax.jit(step).lower(state, x, y, sample_weight).compile().as_text()
    return collective_bytes(text)


def collective_bytes(hlo_text):
    """Sum of the result sizes of the collective ops in `hlo_text` (the
    "-done" halves of asynchronous ones are not counted twice)."""
    total = 0
    ops = "|".join(COLLECTIVES)
    for line in hlo_text.splitlines():
        match = re.search(rf"=\s*(.*?)\s({ops})(-start)?\(", line)
        if not match:
            continue
        for dtype, dims in re.findall(r"\b([a-z]+\d*)\[([\d,]*)\]",
                                      match.group(1)):
            size = BYTES.get(dtype, 4)
            for dim in filter(None, dims.split(",")):
                size *= int(dim)
            total += size
    return total


# The driver ----------------------------------------------------------------


def measure(config, workload, seconds):
    backend, kind, devices, xla = config
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
           "JAX_PLATFORMS": "cpu", "JAX_NUM_CPU_DEVICES": str(devices),
           "PYTHONPATH": ROOT}
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.distribution", "--worker",
         json.dumps([backend, kind, devices, xla, workload, seconds])],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=1800)
    if result.returncode:
        return {"error": result.stderr.strip().splitlines()[-1][:200]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    found = set(line.split(":", 1)[1].split())
                    return " ".join(f for f in ("avx2", "fma", "avx512f",
                                                "avx512_vnni", "avx512_bf16",
                                                "amx_bf16") if f in found)
    except OSError:
        pass
    return "unknown"


def ring_bytes(total, devices):
    return 2 * (devices - 1) / devices * total


def table(rows, workload):
    w = WORKLOADS[workload]
    items = w.items_per_step()
    print(f"\n{workload}: global batch {w.batch} x {w.length}; "
          f"{cpu_name()} ({os.cpu_count()} cores; {cpu_flags()})\n")
    print("| backend | distribution | devices | compiled | step | "
          f"{w.unit} | vs one device | bytes in collectives per step | "
          "sent per device (ring) |")
    print("|---|---|---|---|---|---|---|---|---|")
    one = {}
    for (backend, kind, devices, xla), result in rows:
        compiled = ("XLA" if backend == "tensorflow" else "jax.jit") if xla \
            else "no"
        if "error" in result:
            print(f"| {backend} | {kind} | {devices} | {compiled} | failed: "
                  f"{result['error']} | | | | |")
            continue
        step = result["seconds_per_step"]
        if kind == "none":
            one[backend, xla] = step
        jit = False if kind == "mirrored" else xla
        ratio = (f"{one[backend, jit] / step:.2f}x" if (backend, jit) in one
                 else "-")
        collective = result.get("collective_bytes")
        sent = "-"
        if collective and kind != "model_parallel":
            sent = f"{ring_bytes(collective, devices) / 1e6:.1f} MB"
        print(f"| {backend} | {kind} | {devices} | {compiled} | "
              f"{step * 1e3:.1f} ms | "
              f"{items / step:,.0f} | {ratio} | "
              + (f"{collective / 1e6:.1f} MB" if collective else "-")
              + f" | {sent} |")


def estimate():
    """Data-parallel scaling on paper, for `ESTIMATED` workloads."""
    from zoo.models import BertEncoder
    from zoo.models import GPTDecoder

    print(f"\nPaper estimate, data parallel with the per-device batch fixed: "
          f"A100 bfloat16 peak {PEAK / 1e12:.0f} TFLOP/s at {MFU:.0%} MFU; "
          "ring bandwidth per device "
          + ", ".join(f"{n} GPUs {b / 1e9:.0f} GB/s"
                      for n, b in BANDWIDTH.items())
          + "; float32 gradients.\n")
    print("| model | per-device batch | step FLOPs per device | "
          "compute per step | gradient bytes | devices | all-reduce time | "
          "efficiency, no overlap | efficiency, full overlap |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, batch in ESTIMATED.items():
        base = WORKLOADS[name]
        w = Workload(name, "train", base.family, base.config, batch,
                     base.length)
        family = GPTDecoder if base.family == "gpt" else BertEncoder
        gradient_bytes = 4 * family.count_preset_params(name)
        compute = step_flops(w) / (PEAK * MFU)
        for devices, bandwidth in BANDWIDTH.items():
            comm = ring_bytes(gradient_bytes, devices) / bandwidth
            print(f"| {name} | {batch} x {base.length} | "
                  f"{step_flops(w) / 1e12:.2f} T | {compute * 1e3:.1f} ms | "
                  f"{gradient_bytes / 1e6:.0f} MB | {devices} | "
                  f"{comm * 1e3:.1f} ms | {compute / (compute + comm):.0%} | "
                  f"{min(1.0, compute / comm):.0%} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="gpt_nano",
                        choices=[n for n, w in WORKLOADS.items()
                                 if w.kind == "train"])
    parser.add_argument("--seconds", type=float, default=10,
                        help="timed seconds per measurement")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--backends", default="tensorflow,jax")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*json.loads(args.worker))))
        return
    configs = [c for c in CONFIGS if c[0] in args.backends.split(",")]
    runs = {c: [] for c in configs}
    for _ in range(args.repeats):
        for config in configs:
            runs[config].append(measure(config, args.workload, args.seconds))
            print(config, runs[config][-1], flush=True)
    rows = []
    for config, results in runs.items():
        good = [r for r in results if "error" not in r]
        if not good:
            rows.append((config, results[-1]))
            continue
        middle = statistics.median_low([r["seconds_per_step"] for r in good])
        rows.append((config, next(r for r in good
                                  if r["seconds_per_step"] == middle)))
    table(rows, args.workload)
    estimate()


if __name__ == "__main__":
    main()
