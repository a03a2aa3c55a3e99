"""Time to quality in translation: how soon zoo and keras-hub reach a
greedy BLEU on Multi30k German -> English, under one recipe, side by side
in one run.

    python -m benchmarks.quality_translate \\
        --train_source=train.de --train_target=train.en \\
        --eval_source=val.de --eval_target=val.en
    python -m benchmarks.quality_translate ... --target=30 --json /tmp/t.json

Each library trains zoo's `transformer_small` (3 + 3 post-LN layers,
width 256, 8 heads, feed-forward 512, dropout 0.1, also on the attention
probabilities as keras-hub's blocks have it) in a fresh process, one
after the other, under the recipe of recipes/transformer_finetune.py's
Multi30k run (docs/results.md): batches of 128 sentence pairs grouped by
length (buckets of 8 tokens), Adam with beta_2 0.98 and epsilon 1e-8, no
weight decay, global gradient-norm clip 1.0, the inverse-square-root
schedule (Vaswani et al. 2017, eq. 3) with scale 0.45 and 300 warmup
steps, cross entropy with label smoothing 0.1 over the target tokens, at
most 1,800 steps.

Every library sees the same data, prepared once in this process and
written to a temporary .npz file the workers read: one SentencePiece
vocabulary (8,000 pieces) trained on the training text of both
languages, the same batches in the same order (zoo's recipe pipeline,
shuffled with --seed), the same evaluation sentences (the first
--eval_sentences pairs of the evaluation files; 0: all) and the same
limit of greedy decoding (the longest evaluation source + 50 tokens).
BLEU is sacreBLEU's corpus BLEU of the detokenized translations against
the references, as `zoo.evaluation.bleu` computes it.

- `zoo`: `Seq2SeqLM(Transformer.from_preset("transformer_small"))`, zoo's
  `adamw` (decay 0) and `InverseSquareRoot` as the recipe builds them,
  the task's own loss, with the precision and XLA setting `zoo.machine`
  picks for batches of many shapes; translations by
  `zoo.evaluation.translate` (the task's cached, compiled decoding).
- `keras-hub`: the same model from keras-hub's layers
  (`benchmarks.workloads.keras_hub_transformer`), `keras.optimizers.Adam`
  with the schedule as a table, Keras' categorical cross entropy with
  label smoothing on one-hot labels; translations one token per step
  against keras-hub's key/value caches (`TransformerDecoder`'s
  `self_attention_cache` and `cross_attention_cache`); float32 and XLA
  off (the batches come in many shapes, each a new XLA compile) unless
  --peer_precision or --peer_xla say otherwise.

Both run `model.fit` on a `tf.data` dataset, --eval_every steps per
execution. The clock starts before the model is built (compilation
counts) and stops while the evaluation sentences are translated, every
--eval_every steps; a library stops training at the first evaluation
whose BLEU reaches --target (default 35.0), unless --keep_going. Reported
per library: the training seconds until that evaluation, its step, the
last BLEU, steps per second and the peak resident memory (VmHWM); a
library that never reaches the target within --steps is "not reached",
with its best BLEU. Then zoo's time over keras-hub's (the goal: 0.80x or
less).

    --train_source, --train_target, --eval_source, --eval_target PATH
                      line-aligned parallel files: line i of a target
                      translates line i of its source
    --quick           40 steps of 16 pairs, a 200-piece vocabulary, 8
                      evaluation sentences every 20 steps, target 0.0: a
                      check that every library runs (any small parallel
                      text)
    --libraries L,..  from zoo, keras-hub (default both)
    --steps, --eval_every, --warmup_steps, --batch_size, --learning_rate,
    --vocabulary_size, --eval_sentences, --seed
                      the recipe's numbers (defaults above; seed 1337)
    --target BLEU     the greedy BLEU to reach (35.0)
    --keep_going      train every --steps even after the target
    --peer_precision  float32 (default) or mixed_bfloat16, for keras-hub
    --peer_xla        off (default) or on, for keras-hub
    --timeout S       seconds before a library's run is abandoned (7200)
    --json FILE       also write the results there, after every library
    --table FILE      print the table of an earlier --json file and exit
                      (with --target, for another target)

The code: `quality_translate_recipe.py` (the recipe's numbers and the
data), `quality_translate_train.py` (one library's run, in its worker
process), this file (the command line); the table and the workers' plumbing
are `benchmarks.quality`'s.
"""

import argparse
import json
import os
import tempfile

from benchmarks import quality
from benchmarks import quality_translate_recipe as recipe
from benchmarks import quality_translate_train

LIBRARIES = ("zoo", "keras-hub")
FILES = ("train_source", "train_target", "eval_source", "eval_target")
BLEU = quality.Goal("bleu", "BLEU", "greedy BLEU", higher=True, digits=2)

# The recipe's numbers: docs/results.md's Multi30k run; --quick's.
FULL = dict(steps=1800, eval_every=225, warmup_steps=300, batch_size=128,
            learning_rate=0.45, vocabulary_size=8000, eval_sentences=0,
            target=35.0)
QUICK = dict(steps=40, eval_every=20, warmup_steps=10, batch_size=16,
             learning_rate=0.45, vocabulary_size=200, eval_sentences=8,
             target=0.0)
SEED = 1337  # the recipe's


def parser():
    p = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in FILES:
        p.add_argument(f"--{name}", metavar="PATH")
    for name in ("steps", "eval_every", "warmup_steps", "batch_size",
                 "vocabulary_size", "eval_sentences"):
        p.add_argument(f"--{name}", metavar="N", type=int)
    p.add_argument("--learning_rate", metavar="SCALE", type=float)
    p.add_argument("--keep_going", action="store_true")
    quality.shared_options(p, LIBRARIES, peer_xla="off", timeout=7200)
    return p


def plan(args, error):
    """(libraries, the recipe's numbers, target) the arguments ask for,
    checked (`error` reports a refusal and exits). The files' contents
    are checked when the data is prepared."""
    libraries = quality.libraries_of(args.libraries, LIBRARIES, error)
    for name in FILES:
        path = getattr(args, name)
        if not path or not os.path.isfile(path):
            error(f"--{name} must be a file of sentences, one per line; got "
                  f"{path!r}")
    numbers = quality.numbers_of(args, dict(QUICK if args.quick else FULL,
                                            seed=SEED), error)
    if min(numbers["batch_size"], numbers["vocabulary_size"],
           numbers["learning_rate"]) <= 0:
        error("--batch_size, --vocabulary_size and --learning_rate must be "
              "positive")
    if min(numbers["eval_sentences"], numbers["seed"]) < 0:
        error("--eval_sentences and --seed must be at least 0")
    target = numbers.pop("target")
    if not 0 <= target <= 100:
        error(f"--target is a BLEU score, from 0 to 100; got {target}")
    return libraries, numbers, target


def spec_of(library, numbers, target, data, args):
    """The worker's spec: what `quality_translate_train.worker` needs, as
    JSON (`data`: the .npz file of `recipe.prepare`)."""
    precision, xla = quality.peer_settings(library, args)
    return dict(numbers, library=library, data=data, target=target,
                keep_going=args.keep_going, precision=precision, xla=xla)


def describe(summary, numbers, args):
    """The data's line of the report."""
    return (f"# {args.train_source} -> {args.train_target}: "
            f"{summary['train_pairs']:,} pairs, one SentencePiece vocabulary "
            f"of {summary['vocabulary_size']:,}; {numbers['steps']:,} steps "
            f"of {numbers['batch_size']} pairs (about "
            f"{summary['tokens_per_batch']:,} tokens); every "
            f"{numbers['eval_every']} steps, greedy BLEU of "
            f"{summary['eval_sentences']:,} sentences of {args.eval_source} "
            f"(at most {summary['max_new_tokens']} new tokens)")


def compare(libraries, numbers, target, args, error):
    """Prepare the data; each library in its own process, one after the
    other; print and return the results and the table."""
    files = {name: os.path.abspath(getattr(args, name)) for name in FILES}
    with tempfile.TemporaryDirectory(prefix="quality_translate_") as directory:
        data = os.path.join(directory, "data.npz")
        try:
            summary = recipe.prepare(dict(numbers, **files), data)
        except (ValueError, OSError) as problem:
            error(str(problem))
        print(quality.machine_line(), flush=True)
        print(describe(summary, numbers, args), flush=True)
        saved = dict(recipe=dict(numbers, preset=recipe.PRESET,
                                 attention_dropout=recipe.ATTENTION_DROPOUT,
                                 label_smoothing=recipe.LABEL_SMOOTHING,
                                 **recipe.MODEL, **files, **summary),
                     target=target, results={})
        specs = [spec_of(library, numbers, target, data, args)
                 for library in libraries]
        return quality.run_each(specs, saved, args,
                                module="benchmarks.quality_translate",
                                goal=BLEU)


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    if args.worker:
        return quality_translate_train.worker(json.loads(args.worker))
    if args.table:
        return quality.print_saved(args.table, args.target, BLEU)
    return quality.timed(lambda: compare(*plan(args, p.error), args, p.error))


if __name__ == "__main__":
    main()
