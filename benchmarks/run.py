"""Speed side by side: zoo against keras-hub, in one run, on this machine.

    python -m benchmarks.run --quick          # 3 workloads, float32
    python -m benchmarks.run --only gpt_6l_384,bert_base \\
        --dtypes float32 --xla on --backends tensorflow,jax
    git worktree add /tmp/zoo_before COMMIT   # then zoo then and now:
    python -m benchmarks.run --libraries zoo,zoo-untuned,zoo-before \\
        --before /tmp/zoo_before

Every measurement runs in a fresh process, one after the other, so that
each gets the machine and its own peak memory: for each workload, dtype
policy, XLA setting (`jit_compile=True` or `False`, on every backend) and
Keras backend, each library in turn, with the same sizes, batch and
optimizer. The first process measures the matrix-multiply peak in
TensorFlow (best of float32 and bfloat16, with and without XLA), against
which model-FLOPs utilisation (MFU) is computed.

    --quick           gpt_nano, bert_tiny, generate_gpt_nano_b1; float32
                      unless --dtypes says otherwise; budget 3 s
    --only W,..       these workloads (below; default all)
    --dtypes D,..     from float32, mixed_bfloat16 (default both)
    --xla X           on, off or both (default both); JAX rows run with
                      jax.jit only (without it Keras runs JAX op by op)
    --backends B,..   Keras backends, from tensorflow, jax (default
                      tensorflow); jax needs pip install -e ".[jax]"
    --libraries L,..  zoo first, each at most once, from zoo, zoo-untuned,
                      zoo-before, keras-hub, pytorch (default zoo,keras-hub)
    --before DIR      zoo-before's checkout: holds benchmarks/run.py, zoo/
    --budget S        seconds timed per measurement (default 5)
    --repeats N       measure each row N times, the libraries alternating;
                      keep each library's median run (default 1)
    --timeout S       seconds before a measurement is abandoned (1200)
    --json FILE       also write the results there, after every row
    --table FILE      print the tables of an earlier --json file and exit

Each zoo and keras-hub worker runs with `KERAS_BACKEND` set to its row's
backend. `zoo` keeps zoo.tuning's default (`ZOO_TUNING` unset: `auto`, on
for TensorFlow); `zoo-untuned` runs with `ZOO_TUNING=off` (what
zoo.tuning's formulations buy: query-blocked causal attention, a named
dropout RNG, the logits order); `zoo-before` is
the `--before` checkout's own `python -m benchmarks.run --worker`, run in
that directory with the spec keys it knows. keras-hub's peers are its
GPT-2, BERT classifier and Transformer layers (`benchmarks.workloads`);
`pytorch` (`pip install -e ".[pytorch]"`) is `benchmarks.torch_peers`
(XLA on is `torch.compile`, `mixed_bfloat16` is `torch.autocast`).
`zoo-before` (TensorFlow only) and `pytorch` (no Keras backend) are
measured on the tensorflow rows only ("-" on the others), so they need
tensorflow in `--backends`.

Workloads:

- training (`model.fit`; the same batch, all-ones padding masks, Keras'
  sparse categorical cross entropy, AdamW, no metrics): `gpt_nano` (4
  layers, 128 wide, context 64, batch 12, nanoGPT's 65 characters),
  `gpt_6l_384` (6 x 384, context 256, batch 64, 65 characters),
  `gpt2_small` (context 1024, batch 1), `bert_tiny` (sequence 128, batch
  32) and `bert_base` (sequence 128, batch 8) with two classes,
  `transformer_base` (source and target 128, batch 8). No dropout on GPT
  rows (as nanoGPT's bench.py), 0.1 on BERT and Transformer rows
  (attention probabilities too). Batches come from a prefetched `tf.data`
  dataset on every backend.
- inference (`predict`): `bert_base_infer`, sequence 128, batch 8.
- generation (greedy, no stop token, 16-token prompts):
  `generate_gpt_nano_b1` and `_b8` (gpt_nano's sizes, GPT-2's vocabulary,
  context 256, 200 new tokens), `generate_gpt2_small_b1` and `_b8` (50 new
  tokens). zoo's `CausalLM(..., jit_compile_generate=XLA).generate`;
  keras-hub's `generate` after `compile(sampler="greedy",
  jit_compile=XLA)` (which on JAX compiles with `jax.jit` either way).

Throughput: tokens per second for GPT rows (batch x context), sequences
for BERT, source plus target tokens for the Transformer, new tokens for
generation; the steps timed over their time (the first, compiling
execution excluded), or the median `generate` call. MFU counts matrix
multiplies only (`benchmarks.workloads.forward_flops`). Peak memory is the
process's peak resident set (VmHWM), the libraries included.

The tables: one row per workload, dtype, XLA and backend, zoo over each
other library; then each library's best setting per workload and backend,
zoo over the best peer there (keras-hub or PyTorch, not zoo's variants).

(Over 300 lines because of this docstring, which `--help` prints.)
"""

import argparse
import datetime
import importlib.util
import json
import os
import platform
import subprocess
import sys
import time

from benchmarks import measure
from benchmarks import report
from benchmarks import torch_peers
from benchmarks.workloads import BACKENDS
from benchmarks.workloads import DTYPES
from benchmarks.workloads import LIBRARIES
from benchmarks.workloads import QUICK
from benchmarks.workloads import WORKLOADS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The keys an older checkout's worker understands (zoo-before).
BEFORE_KEYS = ("workload", "dtype", "xla", "budget")
TENSORFLOW_ONLY = ("zoo-before", "pytorch")


def worker_process(spec, module="benchmarks.run", before=None):
    """(command, environment, directory) of the process that measures
    `spec`: `KERAS_BACKEND` is the spec's backend (TensorFlow without one),
    `ZOO_TUNING` is off for zoo-untuned and unset (zoo's default) for
    every other library, and zoo-before runs the `before` checkout's own
    worker in that directory, with the keys it knows."""
    env = dict(os.environ, KERAS_BACKEND=spec.get("backend", "tensorflow"))
    env.pop("ZOO_TUNING", None)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    directory = ROOT
    library = spec.get("library")
    if library == "zoo-untuned":
        env["ZOO_TUNING"] = "off"
    elif library == "zoo-before":
        if before is None:
            raise ValueError("zoo-before needs the --before checkout")
        spec = dict({key: spec[key] for key in BEFORE_KEYS}, library="zoo")
        directory = os.path.abspath(before)
        # Its zoo and benchmarks, not the ones installed in the venv.
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [directory, env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", module, "--worker", json.dumps(spec)]
    return command, env, directory


def run_worker(spec, timeout, module="benchmarks.run", before=None):
    """Run `spec`'s worker process (`python -m module --worker spec`) and
    return the dict it prints after "RESULT ", or {"error": ...} with its
    last line of stderr."""
    command, env, directory = worker_process(spec, module, before)
    try:
        done = subprocess.run(command, capture_output=True, text=True,
                              timeout=timeout, cwd=directory, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return {"error": (lines[-1] if lines else f"exit {done.returncode}")[:200]}


def parser():
    """The options; `--help` prints the module docstring, which says what
    each does."""
    p = argparse.ArgumentParser(
        description=__doc__, epilog="Workloads: " + ", ".join(WORKLOADS),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", metavar="W,..")
    p.add_argument("--dtypes", metavar="D,..", default=",".join(DTYPES))
    p.add_argument("--xla", choices=("on", "off", "both"), default="both")
    p.add_argument("--backends", metavar="B,..", default="tensorflow")
    p.add_argument("--libraries", metavar="L,..", default="zoo,keras-hub")
    p.add_argument("--before", metavar="DIR")
    p.add_argument("--budget", metavar="S", type=float)
    p.add_argument("--repeats", metavar="N", type=int, default=1)
    p.add_argument("--timeout", metavar="S", type=float, default=1200)
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--table", metavar="FILE")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    return p


def _check_libraries(args, error):
    libraries = args.libraries.split(",")
    if (set(libraries) - set(LIBRARIES) or libraries[0] != "zoo"
            or len(set(libraries)) < len(libraries)):
        error(f"--libraries takes zoo first, then others from "
              f"{LIBRARIES[1:]}, each at most once; got {args.libraries!r}")
    if "zoo-before" in libraries and not args.before:
        error("zoo-before needs --before DIR, a checkout of the older "
              "commit (git worktree add DIR COMMIT)")
    if args.before and "zoo-before" not in libraries:
        error("--before is zoo-before's checkout; add zoo-before to "
              "--libraries")
    if args.before and not (
            os.path.isfile(os.path.join(args.before, "benchmarks", "run.py"))
            and os.path.isdir(os.path.join(args.before, "zoo"))):
        error(f"--before must be a directory holding benchmarks/run.py and "
              f"zoo/; got {args.before!r}")
    missing = [package for package in ("torch", "transformers")
               if "pytorch" in libraries
               and importlib.util.find_spec(package) is None]
    if missing:  # before the first row, not in each PyTorch cell
        error(f"the pytorch peer needs {' and '.join(missing)}; "
              f'install them with: pip install -e ".[pytorch]"')
    return libraries


def _check_backends(args, libraries, error):
    backends = args.backends.split(",")
    if set(backends) - set(BACKENDS) or len(set(backends)) < len(backends):
        error(f"--backends takes {BACKENDS}, each at most once; got "
              f"{args.backends!r}")
    if "jax" in backends and importlib.util.find_spec("jax") is None:
        error('the jax backend needs jax; install it with: pip install -e '
              '".[jax]"')
    only = [name for name in libraries if name in TENSORFLOW_ONLY]
    if only and "tensorflow" not in backends:
        error(f"{' and '.join(only)} run on the tensorflow rows only; add "
              f"tensorflow to --backends")
    return backends


def plan(args, error):
    """The rows and libraries the arguments ask for, checked (`error`
    reports a refusal and exits)."""
    names = list(QUICK) if args.quick else list(WORKLOADS)
    if args.only:
        names = args.only.split(",")
        unknown = [name for name in names if name not in WORKLOADS]
        if unknown:
            error(f"unknown workload(s) {unknown}; choose from "
                  f"{list(WORKLOADS)}")
    dtypes = args.dtypes.split(",")
    if args.quick and args.dtypes == ",".join(DTYPES):
        dtypes = ["float32"]
    if any(dtype not in DTYPES for dtype in dtypes):
        error(f"--dtypes takes {DTYPES}; got {args.dtypes!r}")
    libraries = _check_libraries(args, error)
    return dict(
        names=names, dtypes=dtypes, libraries=libraries,
        backends=_check_backends(args, libraries, error),
        xlas={"on": [True], "off": [False], "both": [True, False]}[args.xla],
        budget=args.budget or (3.0 if args.quick else 5.0),
        before=os.path.abspath(args.before) if args.before else None)


def measure_row(row, todo, args):
    """Each library of `todo` on `row`, `--repeats` times alternating; the
    row with each library's median run."""
    runs = {name: [] for name in todo["libraries"]
            if row["backend"] == "tensorflow" or name not in TENSORFLOW_ONLY}
    for _ in range(args.repeats):
        for library in runs:
            spec = dict(row, library=library, budget=todo["budget"])
            runs[library].append(run_worker(spec, args.timeout,
                                            before=todo["before"]))
            print(f"# {row['workload']} {row['backend']} {row['dtype']} "
                  f"xla={row['xla']} {library}: {runs[library][-1]}",
                  flush=True)
    return dict(row, **{library: report.median_run(results)
                        for library, results in runs.items()})


def _before_commit(directory):
    git = ["git", "-C", directory, "rev-parse", "--short", "HEAD"]
    try:
        done = subprocess.run(git, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown commit"
    return done.stdout.strip() or "unknown commit"


def idle_memory(todo, args):
    """{library: peak MB} of processes that load each library (and
    TensorFlow alone) and build no model: the fixed cost in each row's
    peak memory."""
    names = ["tensorflow"] + [name for name in todo["libraries"]
                              if name != "zoo-before"]
    idle = {}
    for name in names:
        result = run_worker({"workload": "idle", "library": name},
                            args.timeout)
        idle[name] = result.get("peak_memory_mb")
    print("# idle process, peak MB: " + ", ".join(
        f"{name} {mb:,.0f}" if mb else f"{name} -"
        for name, mb in idle.items()), flush=True)
    return idle


def run(todo, args):
    """Measure the peak, then every row; print the tables."""
    started = time.time()
    print(f"# {datetime.date.today()}, {platform.node() or 'this machine'}: "
          f"{os.cpu_count()} cores, {report.cpu_name()}", flush=True)
    saved = {}
    if todo["before"]:
        saved["before"] = {"path": todo["before"],
                           "commit": _before_commit(todo["before"])}
        print(f"# zoo-before: {todo['before']} at "
              f"{saved['before']['commit']}", flush=True)
    peak = run_worker({"workload": "peak", "budget": todo["budget"]},
                      args.timeout)
    if "error" in peak:
        sys.exit(f"measuring the matmul peak failed: {peak['error']}")
    print(f"# matmul peak: float32 {peak['float32'] / 1e9:.0f}, bfloat16 "
          f"{peak['bfloat16'] / 1e9:.0f} GFLOP/s", flush=True)
    saved["idle"] = idle_memory(todo, args)
    results = []
    for name in todo["names"]:
        for dtype in todo["dtypes"]:
            for xla in todo["xlas"]:
                for backend in todo["backends"]:
                    if backend == "jax" and not xla:
                        continue  # Keras runs JAX op by op without jax.jit
                    row = {"workload": name, "backend": backend,
                           "dtype": dtype, "xla": xla}
                    results.append(measure_row(row, todo, args))
                    if args.json:
                        with open(args.json, "w") as f:
                            json.dump(dict(saved, peak=peak, results=results),
                                      f, indent=1)
    print()
    print(report.markdown(results, peak))
    minutes, seconds = divmod(round(time.time() - started), 60)
    print(f"\n{len(results)} rows in {minutes} min {seconds} s.")
    return results


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    if args.worker:
        spec = json.loads(args.worker)
        if spec.get("library") == "pytorch":  # without TensorFlow
            return torch_peers.worker(spec)
        return measure.worker(spec)
    if args.table:
        with open(args.table) as f:
            saved = json.load(f)
        return print(report.markdown(saved["results"], saved["peak"]))
    return run(plan(args, p.error), args)


if __name__ == "__main__":
    main()
