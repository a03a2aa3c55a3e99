"""Latency of the exported SavedModel against in-process generation.

    python -m benchmarks.export            # all cases
    python -m benchmarks.export --quick    # batch 1 only, few repeats

Text in, text out on both sides: `CausalLM.generate(strings)` against the
export's `generate` signature, and `Seq2SeqLM.generate(strings)` (greedy
and beam) against `translate` and `translate_beam`, in the same process
(the export loaded with `tf.saved_model.load`). Models
are `gpt_nano` (context widened to 256) and `transformer_small`, with
random weights and tokenizers learned from the embedded corpus: speed does
not depend on what the weights say. Both sides emit the same ids (the
export tests check it), so they do the same work. Median of `--repeats`
calls after one warm-up call (which compiles).

Translation times the same sources on both sides. keras-hub's in-graph
byte-pair tokenizer caches the pieces of every word it has seen, so each
`generate` call, on either side, gets prompts never seen before, all of 16
to 28 tokens, so that no timed call compiles.
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from zoo import export  # noqa: E402
from zoo.data import corpus  # noqa: E402
from zoo.data import tokenizers  # noqa: E402
from zoo.models import GPTDecoder  # noqa: E402
from zoo.models import Transformer  # noqa: E402
from zoo.tasks import CausalLM  # noqa: E402
from zoo.tasks import Seq2SeqLM  # noqa: E402

NEW_TOKENS = 100


def _time(function, repeats):
    """Median seconds of `function(i)`, i = 1..repeats, after `function(0)`."""
    function(0)  # compile
    times = []
    for i in range(1, repeats + 1):
        start = time.perf_counter()
        function(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _prompts(texts, batch_size, words=12):
    """`batch_size` prompts of `words` words from the corpus."""
    words_list = " ".join(texts).split()
    return [" ".join(words_list[i * words:(i + 1) * words])
            for i in range(batch_size)]


def _fresh_prompts(texts, tokenizer, sets, batch_size, words=12):
    """`sets` batches of distinct corpus windows of 16 to 28 tokens: one
    compiled shape (prefill 16, 128 positions for 100 new tokens)."""
    words_list = " ".join(texts).split()
    windows = [" ".join(words_list[i:i + words])
               for i in range(0, len(words_list) - words, words)]
    ids = tokenizers.tokenize_lines(tokenizer, windows)
    fitting = [w for w, i in zip(windows, ids) if 16 <= len(i) <= 28]
    needed = sets * batch_size
    if len(fitting) < needed:
        raise ValueError(f"Only {len(fitting)} windows of 16-28 tokens; "
                         f"{needed} needed. Use fewer --repeats.")
    return [fitting[s * batch_size:(s + 1) * batch_size] for s in range(sets)]


def causal_cases(texts, batch_sizes, repeats, directory):
    tokenizer = tokenizers.train_byte_pair(texts, vocabulary_size=2000)
    config = GPTDecoder.preset_config(
        "gpt_nano", vocabulary_size=tokenizer.vocabulary_size(),
        max_sequence_length=256)
    task = CausalLM(GPTDecoder(**config), tokenizer=tokenizer)
    export_dir = os.path.join(directory, "causal")
    export.export(task, export_dir)
    served = tf.saved_model.load(export_dir).signatures["generate"]
    for batch_size in batch_sizes:
        # Disjoint prompt sets for the two sides, of one token length.
        sets = _fresh_prompts(texts, tokenizer, 2 * (repeats + 1), batch_size)
        python = _time(lambda i: task.generate(
            sets[i], max_new_tokens=NEW_TOKENS), repeats)
        exported = _time(lambda i: served(
            prompt=tf.constant(sets[repeats + 1 + i]),
            max_new_tokens=tf.constant(NEW_TOKENS)), repeats)
        yield (f"gpt_nano generate, {NEW_TOKENS} new tokens", batch_size,
               python, exported)


def seq2seq_cases(texts, batch_sizes, repeats, directory):
    tokenizer = tokenizers.train_sentence_piece(texts, vocabulary_size=2000)
    config = Transformer.preset_config(
        "transformer_small", vocabulary_size=tokenizer.vocabulary_size())
    task = Seq2SeqLM(Transformer(**config), tokenizer=tokenizer)
    export_dir = os.path.join(directory, "seq2seq")
    export.export(task, export_dir, num_beams=4, length_penalty=0.6)
    served = tf.saved_model.load(export_dir).signatures
    for batch_size in batch_sizes:
        sources = _prompts(texts, batch_size, words=16)
        for sampler, name in (("greedy", "translate"),
                              ("beam", "translate_beam")):
            python = _time(lambda i: task.generate(
                sources, sampler=sampler, num_beams=4, length_penalty=0.6),
                repeats)
            exported = _time(
                lambda i: served[name](source=tf.constant(sources)), repeats)
            yield (f"transformer_small {name}", batch_size, python, exported)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="batch 1 only, 2 repeats")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    batch_sizes = [1] if args.quick else [1, 8]
    repeats = 2 if args.quick else args.repeats
    keras.utils.set_random_seed(0)
    texts = corpus.default_corpus()
    print("| case | batch | in-process ms | exported ms | exported / "
          "in-process |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as directory:
        for cases in (causal_cases, seq2seq_cases):
            for name, batch_size, python, exported in cases(
                    texts, batch_sizes, repeats, directory):
                print(f"| {name} | {batch_size} | {python * 1e3:,.0f} | "
                      f"{exported * 1e3:,.0f} | {exported / python:.2f}x |",
                      flush=True)


if __name__ == "__main__":
    main()
