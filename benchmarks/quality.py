"""Time to quality: how soon zoo, keras-hub and PyTorch reach a validation
loss on Tiny Shakespeare, under one recipe, side by side in one run.

    python -m benchmarks.quality --data=input.txt
    python -m benchmarks.quality --data=input.txt --libraries zoo,keras-hub \\
        --target=1.9 --json /tmp/quality.json

Each library trains nanoGPT's CPU configuration of the character model
(4 layers, 4 heads, width 128, context 64, batch 12, 2,000 steps, no
dropout) in a fresh process, one after the other, under the recipe
`recipes/gpt_pretrain.py` uses for that run: AdamW with peak learning rate
1e-3, beta_2 0.99, weight decay 0.1 on the dense kernels only (not on
biases, LayerNorms or embeddings), global gradient-norm clip 1.0; 100
warmup steps, the peak held, then a linear decay to 1e-4 over the last
20% of the steps after the warmup; weights drawn from N(0, 0.02); cross
entropy over all 64 positions, no padding mask, no metrics.

Every library sees the same data: the characters of the text (sorted) as
the vocabulary, the first 90% to train on, the last 10% to validate on;
the same training windows (64 + 1 characters) at offsets drawn from a
NumPy generator seeded with --seed, in the same order; the same
validation windows (non-overlapping, from the start of the validation
split, at most --validation_batches batches of 12: Tiny Shakespeare's
split holds 145). The validation loss is the mean over those windows.

- `zoo`: `CausalLM(GPTDecoder.from_preset("gpt_nano"))`, zoo's `adamw`
  and `schedule` as the recipe builds them, `model.fit` on a `tf.data`
  dataset, with the precision and XLA setting `zoo.machine` picks for
  this machine.
- `keras-hub`: the same model from keras-hub's layers (a tied
  `ReversibleEmbedding`, `PositionEmbedding`, pre-norm
  `TransformerDecoder`s with GPT-2's tanh GELU, a final LayerNorm),
  `keras.optimizers.AdamW` with the schedule as a table, `model.fit` the
  same way; float32 and XLA on (`jit_compile=True`) unless
  --peer_precision or --peer_xla say otherwise.
- `pytorch`: `transformers.GPT2LMHeadModel` (its own initialisation:
  N(0, 0.02), the residual projections scaled by 1/sqrt(2 x layers)),
  `torch.optim.AdamW` with the schedule as a `LambdaLR`,
  `clip_grad_norm_`, as many threads as cores; float32 (or
  --peer_precision through `torch.autocast`), eager unless
  --torch_compile.

The clock starts before the model is built (compilation counts) and
stops during validation, every --eval_every steps; the Keras libraries run
--eval_every steps per execution (one execution per validation). Reported
per library: the training seconds until the first validation whose loss
is <= --target (default 1.886, nanoGPT's CPU figure), the step of that
validation, the final validation loss, steps per second over the whole
clock and the peak resident memory (VmHWM). Then zoo's time over the best
peer's (the goal: 0.80x or less).

    --data PATH       the text (Tiny Shakespeare's input.txt)
    --quick           40 steps, validation every 20 on 2 batches, target
                      4.0: a check that every library runs (any text of
                      a few KB)
    --libraries L,..  from zoo, keras-hub, pytorch (default all three;
                      pytorch needs pip install -e ".[pytorch]")
    --steps, --eval_every, --warmup_steps, --validation_batches, --target,
    --seed            the recipe's numbers (defaults above; seed 1337)
    --peer_precision  float32 (default) or mixed_bfloat16, for keras-hub
                      and PyTorch
    --peer_xla        on (default) or off, for keras-hub
    --torch_compile   `torch.compile` the PyTorch model
    --timeout S       seconds before a library's run is abandoned (3600)
    --json FILE       also write the results there, after every library
    --table FILE      print the table of an earlier --json file and exit
                      (with --target, for another target)

The code: `quality_recipe.py` (the recipe's numbers and the windows),
`quality_train.py` (one library's run, in its worker process), this file
(the command line and the table).
"""

import argparse
import dataclasses
import datetime
import importlib.util
import json
import os
import platform
import time

from benchmarks import quality_train
from benchmarks import report
from benchmarks import run
from benchmarks.quality_recipe import BATCH
from benchmarks.quality_recipe import CONTEXT
from benchmarks.quality_recipe import MODEL
from benchmarks.quality_recipe import load

LIBRARIES = ("zoo", "keras-hub", "pytorch")
PEERS = ("keras-hub", "pytorch")
GOAL = 0.8  # zoo's time to the target over the best peer's, at most

# --steps, --eval_every, --warmup_steps, --validation_batches, --target.
FULL = dict(steps=2000, eval_every=100, warmup_steps=100,
            validation_batches=200, target=1.886)
QUICK = dict(steps=40, eval_every=20, warmup_steps=2, validation_batches=2,
             target=4.0)


# The report ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Goal:
    """What a validation has to reach: its `key` at most the target (at
    least, when `higher`); `short` names it in the table's header, `name`
    in the verdict and the progress lines."""

    key: str
    short: str
    name: str
    higher: bool = False
    digits: int = 4

    def sign(self):
        return ">=" if self.higher else "<="

    def reached(self, value, target):
        return value >= target if self.higher else value <= target

    def best(self, history):
        return (max if self.higher else min)(h[self.key] for h in history)

    def describe(self, value):
        """`validation loss 1.8860`."""
        return f"{self.name} {value:.{self.digits}f}"


LOSS = Goal("loss", "loss", "validation loss")


def first_crossing(history, target, goal=LOSS):
    """The first validation of `history` that reaches `target`, or None."""
    return next((h for h in history if goal.reached(h[goal.key], target)),
                None)


def zoo_over_best_peer(results, target, goal=LOSS):
    """(best peer, zoo's time to `target` over the best peer's), or (None,
    None) when zoo or every peer failed or did not reach it."""
    times = {}
    for name, result in results.items():
        crossing = first_crossing(result.get("history", []), target, goal)
        if crossing:
            times[name] = crossing["seconds"]
    peers = [name for name in PEERS if name in times]
    if "zoo" not in times or not peers:
        return None, None
    best = min(peers, key=times.get)
    return best, times["zoo"] / times[best]


def _row(name, result, target, zoo_crossing, goal):
    if "error" in result:
        error = result["error"].replace("|", "/")
        return f"| {name} | failed: {error} | - | - | - | - | - | - |"
    history, digits = result["history"], goal.digits
    crossing = first_crossing(history, target, goal)
    if crossing:
        reached, step = f"{crossing['seconds']:.1f} s", str(crossing["step"])
    else:
        reached = f"not reached (best {goal.best(history):.{digits}f})"
        step = "-"
    ratio = (f"{zoo_crossing['seconds'] / crossing['seconds']:.2f}x"
             if name != "zoo" and crossing and zoo_crossing else "-")
    return (f"| {name} | {result['settings']} | {reached} | {step} | {ratio} "
            f"| {history[-1][goal.key]:.{digits}f} | "
            f"{result['steps_per_second']:.1f} | "
            f"{report.number(result['peak_memory_mb'])} |")


def markdown(results, target, goal=LOSS):
    """One row per library, then zoo over the best peer."""
    zoo = results.get("zoo", {})
    zoo_crossing = ("error" not in zoo
                    and first_crossing(zoo.get("history", []), target, goal))
    reach = f"{goal.sign()} {target}"
    lines = [
        f"| library | precision, compilation | time to {goal.short} {reach} "
        f"| at step | zoo / this | final {goal.short} | steps/s | peak MB |",
        "|" + "---|" * 8,
    ] + [_row(name, result, target, zoo_crossing, goal)
         for name, result in results.items()]
    best, ratio = zoo_over_best_peer(results, target, goal)
    lines.append("")
    if ratio is not None:
        verdict = "met" if ratio <= GOAL else "not met"
        lines.append(f"zoo / best peer ({best}), time to {goal.name} {reach}: "
                     f"{ratio:.2f}x (goal <= {GOAL:.2f}x: {verdict}).")
    else:
        lines.append(f"zoo / best peer: no value (zoo or every peer did not "
                     f"reach {goal.name} {reach}).")
    return "\n".join(lines)


def print_saved(path, target, goal=LOSS):
    """--table: print the table of the --json file `path`, at `target` (or
    at the file's own target when None)."""
    with open(path) as f:
        saved = json.load(f)
    print(markdown(saved["results"],
                   saved["target"] if target is None else target, goal))


def run_each(specs, saved, args, module, goal=LOSS):
    """Each spec's worker (`python -m module --worker SPEC`) in its own
    process, one after the other; print its validations and keep its
    result in `saved["results"]` (and in --json after each); then print
    the table at `saved["target"]`."""
    for spec in specs:
        library = spec["library"]
        result = run.run_worker(spec, args.timeout, module=module)
        for h in result.get("history", []):
            print(f"# {library} step {h['step']}: {h['seconds']:.1f} s, "
                  f"{goal.describe(h[goal.key])}", flush=True)
        if "error" in result:
            print(f"# {library}: failed: {result['error']}", flush=True)
        saved["results"][library] = result
        if args.json:
            with open(args.json, "w") as f:
                json.dump(saved, f, indent=1)
    print()
    print(markdown(saved["results"], saved["target"], goal))
    return saved


def machine_line():
    """`# 2026-12-01, host: 2 cores, AMD EPYC ...`."""
    return (f"# {datetime.date.today()}, {platform.node() or 'this machine'}: "
            f"{os.cpu_count()} cores, {report.cpu_name()}")


def timed(compare):
    """Run `compare()` (which returns the saved results); print how long
    it took."""
    started = time.time()
    saved = compare()
    minutes, seconds = divmod(round(time.time() - started), 60)
    print(f"\n{len(saved['results'])} libraries in {minutes} min {seconds} s.")
    return saved


# The command line -------------------------------------------------------------


def shared_options(p, libraries, peer_xla, timeout=3600):
    """The options `benchmarks.quality` and `benchmarks.quality_translate`
    share: --quick, --libraries (default `libraries`), --seed, --target,
    --peer_precision, --peer_xla (default `peer_xla`), --timeout (default
    `timeout`), --json, --table, and the hidden --worker."""
    p.add_argument("--quick", action="store_true")
    p.add_argument("--libraries", metavar="L,..", default=",".join(libraries))
    p.add_argument("--seed", metavar="N", type=int)
    p.add_argument("--target", metavar="VALUE", type=float)
    p.add_argument("--peer_precision", choices=("float32", "mixed_bfloat16"),
                   default="float32")
    p.add_argument("--peer_xla", choices=("on", "off"), default=peer_xla)
    p.add_argument("--timeout", metavar="S", type=float, default=timeout)
    p.add_argument("--json", metavar="FILE")
    p.add_argument("--table", metavar="FILE")
    p.add_argument("--worker", help=argparse.SUPPRESS)


def parser():
    p = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", metavar="PATH")
    for name in ("steps", "eval_every", "warmup_steps", "validation_batches"):
        p.add_argument(f"--{name}", metavar="N", type=int)
    p.add_argument("--torch_compile", action="store_true")
    shared_options(p, LIBRARIES, peer_xla="on")
    return p


def libraries_of(text, known, error):
    """The libraries of --libraries `text`, each one of `known` and at
    most once (`error` refuses others)."""
    libraries = text.split(",")
    if set(libraries) - set(known) or len(set(libraries)) < len(libraries):
        error(f"--libraries takes {known}, each at most once; got {text!r}")
    return libraries


def numbers_of(args, defaults, error):
    """`defaults` with what the arguments set, checked: --steps and
    --eval_every positive, --eval_every dividing --steps, --warmup_steps
    between 1 and --steps."""
    numbers = dict(defaults)
    numbers.update({key: getattr(args, key) for key in numbers
                    if getattr(args, key) is not None})
    if min(numbers["steps"], numbers["eval_every"]) < 1:
        error("--steps and --eval_every must be positive")
    if numbers["steps"] % numbers["eval_every"]:
        error(f"--eval_every ({numbers['eval_every']}) must divide --steps "
              f"({numbers['steps']})")
    if not 0 < numbers["warmup_steps"] <= numbers["steps"]:
        error("--warmup_steps must be between 1 and --steps")
    return numbers


def plan(args, error):
    """(libraries, the recipe's numbers, target) the arguments ask for,
    checked (`error` reports a refusal and exits)."""
    libraries = libraries_of(args.libraries, LIBRARIES, error)
    missing = [package for package in ("torch", "transformers")
               if "pytorch" in libraries
               and importlib.util.find_spec(package) is None]
    if missing:
        error(f"the pytorch peer needs {' and '.join(missing)}; "
              f'install them with: pip install -e ".[pytorch]"')
    if not args.data or not os.path.isfile(args.data):
        error(f"--data must be a text file (Tiny Shakespeare's input.txt); "
              f"got {args.data!r}")
    numbers = numbers_of(args, dict(QUICK if args.quick else FULL,
                                    seed=1337), error)  # nanoGPT's seed
    if numbers["validation_batches"] < 1:
        error("--validation_batches must be positive")
    target = numbers.pop("target")
    return libraries, numbers, target


def peer_settings(library, args):
    """(precision, xla) of `library`'s worker: "auto" for zoo (zoo.machine
    decides), --peer_precision and --peer_xla for the others."""
    if library == "zoo":
        return "auto", "auto"
    return args.peer_precision, args.peer_xla == "on"


def spec_of(library, numbers, args):
    """The worker's spec: what `worker` needs, as JSON."""
    precision, xla = peer_settings(library, args)
    return dict(numbers, library=library, data=os.path.abspath(args.data),
                precision=precision, xla=xla,
                torch_compile=args.torch_compile)


def compare(libraries, numbers, target, args):
    """Each library in its own process, one after the other; print and
    return the results and the table."""
    data = load(dict(numbers, data=args.data))  # refuses too little text
    print(machine_line(), flush=True)
    print(f"# {args.data}: vocabulary {data['vocabulary_size']}, "
          f"{len(data['validation'])} validation windows; "
          f"{numbers['steps']} steps of {BATCH} x {CONTEXT}", flush=True)
    saved = dict(recipe=dict(numbers, batch=BATCH, context=CONTEXT, **MODEL),
                 target=target, results={})
    return run_each([spec_of(library, numbers, args) for library in libraries],
                    saved, args, module="benchmarks.quality")


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    if args.worker:
        return quality_train.worker(json.loads(args.worker))
    if args.table:
        return print_saved(args.table, args.target)
    return timed(lambda: compare(*plan(args, p.error), args))


if __name__ == "__main__":
    main()
