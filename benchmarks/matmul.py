"""How fast each library multiplies a row's matrices, outside any model.

    python -m benchmarks.matmul --workload gpt_6l_384
    python -m benchmarks.matmul --workload bert_base --libraries xla,pytorch
    python -m benchmarks.matmul --workload gpt2_small --dtype bfloat16

The multiply-bound rows of `benchmarks.run` spend most of a step in the
products of their dense layers, and those products are the same whichever
library runs the model. This script times exactly them, alone: in XLA
(`tf.function(jit_compile=True)`, what zoo's and keras-hub's XLA rows
run), in TensorFlow without XLA, and in PyTorch (`pip install -e
".[pytorch]"`). A step can be no faster than its products, so if XLA's
take t seconds and a peer's whole step takes s, no Keras model on XLA can
beat that peer by more than s / t on this row.

For M = batch x length rows and a dense layer from k to n units, a
training step multiplies

    forward         (M, k) . (k, n)
    input gradient  (M, n) . (k, n)^T
    weight gradient (M, k)^T . (M, n)

and an inference step only the first. `--dtype bfloat16` multiplies
bfloat16 operands, as the `mixed_bfloat16` rows' layers do (float32
weights cast to bfloat16; in PyTorch, what `torch.autocast` runs). The layers are a row's W_Q, W_K,
W_V and W_O (d to d), the feed-forward pair (d to f, f to d) and the
logits (d to the vocabulary) where there are any; Q K^T, P V and the BERT
pooler are left out. Each library runs in its own process, `--repeats`
times, the libraries alternating (this machine's speed drifts). The table
gives each product's GFLOP/s (the median call, then the median over the
repeats) and, at the bottom, the seconds a step spends in all of them.
"""

import argparse
import datetime
import importlib.util
import json
import os
import statistics
import sys

from benchmarks import report
from benchmarks import run
from benchmarks.measure import time_calls
from benchmarks.workloads import WORKLOADS

LIBRARIES = ("xla", "tensorflow", "pytorch")
NAMES = {"xla": "XLA", "tensorflow": "TF, no XLA", "pytorch": "PyTorch"}
# Each timed call runs enough copies of a product (on distinct inputs, so
# that none can be reused) to take this many FLOPs, so that small products
# are not timed as mostly call overhead.
FLOPS_PER_CALL = 2e9
DTYPES = ("float32", "bfloat16")
MAX_COPIES = 64


def products(w):
    """The dense products of one step of `w`: a list of dicts with the
    product's `name`, `m`, `k`, `n`, whether the left (`transpose_a`) or
    right (`transpose_b`) operand is stored transposed, and `count`, how
    many a step runs."""
    c = w.config
    d, f, layers = c["hidden_dim"], c["intermediate_dim"], c["num_layers"]
    rows = w.batch * w.length
    attentions = layers  # W_Q, W_K, W_V and W_O in each
    if w.family == "transformer":  # decoder layers: self and cross
        attentions, layers = 3 * layers, 2 * layers
    dense = [(f"{d}x{d}", d, d, 4 * attentions), (f"{d}x{f}", d, f, layers),
             (f"{f}x{d}", f, d, layers)]
    if w.family != "bert":
        v = c["vocabulary_size"]
        dense.append((f"logits {d}x{v}", d, v, 1))
    out = []
    for name, k, n, count in dense:
        out.append(dict(name=f"{name} forward", m=rows, k=k, n=n,
                        transpose_a=False, transpose_b=False, count=count))
        if w.kind == "train":
            out.append(dict(name=f"{name} input grad", m=rows, k=n, n=k,
                            transpose_a=False, transpose_b=True,
                            count=count))
            out.append(dict(name=f"{name} weight grad", m=k, k=rows, n=n,
                            transpose_a=True, transpose_b=False,
                            count=count))
    return out


def _shapes(p):
    """The stored shapes of the product's operands."""
    a = (p["k"], p["m"]) if p["transpose_a"] else (p["m"], p["k"])
    b = (p["n"], p["k"]) if p["transpose_b"] else (p["k"], p["n"])
    return a, b


def copies(p):
    flops = 2 * p["m"] * p["k"] * p["n"]
    return max(1, min(MAX_COPIES, round(FLOPS_PER_CALL / flops)))


def _tensorflow_call(p, xla, dtype="float32"):
    import tensorflow as tf

    a_shape, b_shape = _shapes(p)
    pairs = [(tf.random.normal(a_shape, dtype=dtype),
              tf.random.normal(b_shape, dtype=dtype))
             for _ in range(copies(p))]

    @tf.function(jit_compile=xla)
    def multiply(pairs):
        return [tf.matmul(a, b, transpose_a=p["transpose_a"],
                          transpose_b=p["transpose_b"]) for a, b in pairs]

    return lambda: multiply(pairs)


def _pytorch_call(p, dtype="float32"):
    import torch

    a_shape, b_shape = _shapes(p)
    dtype = getattr(torch, dtype)
    pairs = [(torch.randn(a_shape, dtype=dtype),
              torch.randn(b_shape, dtype=dtype)) for _ in range(copies(p))]

    def multiply():
        return [torch.matmul(a.T if p["transpose_a"] else a,
                             b.T if p["transpose_b"] else b)
                for a, b in pairs]

    return multiply


def worker(library, workload, budget, dtype="float32"):
    """Each product's seconds (the median call over `copies`) for one
    library, in this process."""
    seconds = []
    for p in products(WORKLOADS[workload]):
        if library == "pytorch":
            call = _pytorch_call(p, dtype)
        else:
            call = _tensorflow_call(p, library == "xla", dtype)
        times, _ = time_calls(call, budget)
        seconds.append(statistics.median(times) / copies(p))
    return seconds


def measure(library, workload, budget, dtype="float32"):
    """`worker`'s seconds, measured in a fresh process."""
    spec = {"library": library, "workload": workload, "budget": budget,
            "dtype": dtype}
    result = run.run_worker(spec, timeout=1200, module="benchmarks.matmul")
    if "error" in result:
        sys.exit(f"the {library} measurement failed: {result['error']}")
    return result["seconds"]


def markdown(w, seconds):
    """`seconds`: {library: [seconds per product]}, in `products(w)`'s
    order. A column of GFLOP/s per library, then XLA over each other."""
    libraries = list(seconds)
    others = [name for name in libraries if name != "xla"]
    header = (["product", "M x K x N", "per step"]
              + [f"{NAMES[name]} GFLOP/s" for name in libraries]
              + [f"XLA / {NAMES[name]}" for name in others
                 if "xla" in seconds])
    lines = ["| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    for i, p in enumerate(products(w)):
        flops = 2 * p["m"] * p["k"] * p["n"]
        cells = [p["name"], f"{p['m']} x {p['k']} x {p['n']}",
                 str(p["count"])]
        cells += [f"{flops / seconds[name][i] / 1e9:.0f}"
                  for name in libraries]
        if "xla" in seconds:
            cells += [f"{seconds[name][i] / seconds['xla'][i]:.2f}x"
                      for name in others]
        lines.append("| " + " | ".join(cells) + " |")
    totals = {name: sum(p["count"] * s
                        for p, s in zip(products(w), seconds[name]))
              for name in libraries}
    cells = ["**a step**", "", ""]
    cells += [f"{totals[name]:.3g} s" for name in libraries]
    if "xla" in seconds:
        cells += [f"{totals[name] / totals['xla']:.2f}x" for name in others]
    lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    names = [name for name, w in WORKLOADS.items()
             if w.kind in ("train", "infer")]
    parser.add_argument("--workload", choices=names)
    parser.add_argument("--libraries", default=",".join(LIBRARIES),
                        help="comma-separated, from " + ", ".join(LIBRARIES))
    parser.add_argument("--dtype", choices=DTYPES, default="float32",
                        help="the operands' type")
    parser.add_argument("--budget", type=float, default=1.0,
                        help="seconds timed per product, library and repeat")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each library, alternating")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        seconds = worker(**json.loads(args.worker))
        print("RESULT " + json.dumps({"seconds": seconds}))
        return
    if args.workload is None:
        parser.error("--workload is required: one of " + ", ".join(names))
    libraries = args.libraries.split(",")
    unknown = [name for name in libraries if name not in LIBRARIES]
    if unknown or len(set(libraries)) != len(libraries):
        parser.error(f"--libraries must name each of {LIBRARIES} at most "
                     f"once; got {args.libraries!r}")
    if "pytorch" in libraries and importlib.util.find_spec("torch") is None:
        parser.error('the pytorch column needs torch; install it with: '
                     'pip install -e ".[pytorch]"')
    w = WORKLOADS[args.workload]
    # The machine's speed drifts: alternate the libraries, and keep each
    # product's median over the repeats.
    runs = {name: [] for name in libraries}
    for _ in range(args.repeats):
        for name in libraries:
            runs[name].append(measure(name, w.name, args.budget,
                                      args.dtype))
    seconds = {name: [statistics.median(times) for times in zip(*repeats)]
               for name, repeats in runs.items()}
    print(f"# {w.name}: dense products, {args.dtype}, "
          f"{datetime.date.today()}, "
          f"{os.cpu_count()} cores, {report.cpu_name()}")
    print(markdown(w, seconds))


if __name__ == "__main__":
    main()
