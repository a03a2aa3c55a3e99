"""Fine-tune a GPT-style causal language model.

--task=completion reads JSONL files, one `{"prompt": ..., "completion":
...}` object per line, and trains on prompt + completion + end token with
the loss on the completion and end tokens only: the model learns to
answer, not to write prompts. It reports the completion loss and the share
of validation prompts whose greedy completion is exactly right.

--task=text continues language-model training on new text files (as
recipes/gpt_pretrain.py reads them), e.g. to adapt a pretrained model to a
domain.

Both print and save greedy samples on validation prompts before and after
training. With no data flags, the completion task is the embedded one of
writing numbers in words (see zoo/data/numbers.py):

    {"prompt": "847 in words:", "completion": " eight hundred forty-seven"}

    python recipes/gpt_finetune.py --model_dir=runs/complete

--init_from=DIR starts from a model dir of recipes/gpt_pretrain.py, or a
local keras-hub GPT-2 preset directory (converted by zoo.convert).

Writes to --model_dir what the pretraining recipes write (model.keras is a
`zoo.tasks.CausalLM` with its tokenizer), plus samples.txt (before and
after) and evaluation.json.
"""

import json
import os

import numpy as np
from absl import app
from absl import flags

from zoo.data import completions
from zoo.data import corpus
from zoo.data import language_modeling
from zoo.data import numbers
from zoo.models import GPTDecoder
from zoo.tasks import CausalLM
from zoo.generation import requests
from zoo.training import recipe
from zoo.training import run

recipe.define_flags(
    finetuning=True,
    preset="gpt_nano",
    tokenizer="byte_pair",
    vocabulary_size=1000,
    dropout=0.1,
    batch_size=32,
    steps=2000,  # 600 learned the format but 0% of numbers exactly
    checkpoint_every=500,
    learning_rate=1e-3,
    final_learning_rate=1e-4,
    schedule="cosine",
    warmup_steps=60,
    weight_decay=0.1,
    beta_2=0.99,
    # Completion batches are as long as their longest example: many
    # shapes, each an XLA compile.
    xla=False,
)
flags.DEFINE_enum("task", "completion", ["completion", "text"],
                  "completion: JSONL prompt -> completion; text: continue "
                  "language-model training on text files.")
flags.DEFINE_list("train_files", [],
                  "completion: JSONL files; text: text files, folders or "
                  "globs. Empty: the embedded number task.")
flags.DEFINE_list("validation_files", [],
                  "Held-out data in the same format.")
flags.DEFINE_integer("samples", 5, "Validation prompts to sample before "
                     "and after training.")
FLAGS = flags.FLAGS

NUMBER_SPLITS = (8000, 300)  # the embedded task: train, validation


def main(argv):
    del argv
    model_dir = recipe.start("gpt_finetune")
    if FLAGS.task == "completion":
        data = read_completions()
        text = [p + c for p, c in data["train"][0]]
    else:
        data = read_text()
        text = data["train"]
    backbone, tokenizer = recipe.starting_point(
        model_dir, GPTDecoder, "gpt_pretrain", ["\n".join(text)]
    )
    if tokenizer.end_token_id is None:
        raise ValueError("gpt_finetune needs a tokenizer with an end token "
                         "(--tokenizer=byte_pair).")
    length = recipe.sequence_length(backbone)
    recipe.check_model_dir(
        model_dir, "gpt_finetune", backbone, tokenizer, task=FLAGS.task,
        init_from=FLAGS.init_from, sequence_length=length,
        files={"train": FLAGS.train_files,
               "validation": FLAGS.validation_files},
    )
    skip = run.resumed_step(model_dir)
    if FLAGS.task == "completion":
        encoded = {split: completions.encode_completions(tokenizer, pairs,
                                                         length, lines)
                   for split, (pairs, lines) in data.items()}
        train_data = completions.completion_batches(
            encoded["train"], FLAGS.batch_size, True, FLAGS.seed,
            skip * FLAGS.batch_size)
        validation_data = completions.completion_batches(
            encoded["validation"], FLAGS.batch_size, False)
        prompts = [prompt for prompt, _ in
                   encoded["validation"][:FLAGS.samples]]
        counts = {k: f"{len(v):,} examples" for k, v in encoded.items()}
        tokens = np.mean([len(p) + len(c) for p, c in encoded["train"]])
    else:
        streams = {split: language_modeling.token_stream(
            language_modeling.encode_documents(tokenizer, documents),
            tokenizer.end_token_id) for split, documents in data.items()}
        train_data = language_modeling.window_dataset(
            streams["train"], length, FLAGS.batch_size, seed=FLAGS.seed,
            skip_batches=skip)
        validation_data = language_modeling.window_dataset(
            streams["validation"], length, FLAGS.batch_size, training=False)
        prompts = text_prompts(streams["validation"], length)
        counts = {k: f"{len(v):,} tokens" for k, v in streams.items()}
        tokens = length
    print(f"Data: " + ", ".join(f"{v} {k}" for k, v in counts.items())
          + f"; vocabulary {tokenizer.vocabulary_size():,}; "
          f"{backbone.count_params():,} parameters.")

    task = CausalLM(backbone, tokenizer)
    before = complete(task, prompts, length)
    recipe.compile(task, backbone.hidden_dim)
    metrics = recipe.train(task, train_data, validation_data, model_dir,
                           tokens_per_step=FLAGS.batch_size * tokens)
    after = complete(task, prompts, length)
    print(json.dumps(metrics, indent=2))

    decode = lambda ids: requests.detokenize(tokenizer, [ids])[0]  # noqa
    samples = []
    for prompt, old, new in zip(prompts, before, after):
        samples.append(f"prompt: {decode(prompt)!r}\nbefore: {old!r}\n"
                       f"after:  {new!r}")
    with open(os.path.join(model_dir, "samples.txt"), "w") as file:
        file.write("\n\n".join(samples) + "\n")
    print("\n\n".join(samples))

    results = {"task": FLAGS.task, "train_seconds": metrics["train_seconds"],
               "validation_loss": metrics["validation_loss"],
               "validation_perplexity": float(np.exp(metrics["validation_loss"]))}
    if FLAGS.task == "completion":
        results["exact_match"] = exact_match(task, encoded["validation"],
                                             length)
        print(f"Exact greedy completions: {results['exact_match']:.1%}")
    run.write_json(os.path.join(model_dir, "evaluation.json"), results)


# Prompt -> completion -----------------------------------------------------------


def read_completions():
    """{split: (pairs, line_numbers, path)} from JSONL files, or the
    embedded number task."""
    if not FLAGS.train_files:
        if FLAGS.validation_files:
            raise ValueError("--validation_files needs --train_files too.")
        print("No --train_files: the embedded task, numbers in words.")
        data = {}
        for split, values in zip(("train", "validation"),
                                 numbers.splits(NUMBER_SPLITS, FLAGS.seed)):
            pairs = [(f"{n} in words:", f" {numbers.english(n)}")
                     for n in values]
            data[split] = (pairs, [("numbers", i + 1)
                                   for i in range(len(pairs))])
        return data
    if not FLAGS.validation_files:
        raise ValueError("Give --validation_files too (held-out JSONL).")
    return {
        split: completions.read_jsonl(corpus.list_files(paths, ("*.jsonl",)))
        for split, paths in (("train", FLAGS.train_files),
                             ("validation", FLAGS.validation_files))
    }


def exact_match(task, encoded, length, batch_size=100):
    """Share of examples whose greedy completion equals the reference.

    Prompts of one length decode together, so that every row has room for
    its whole reference (prompt + completion fits `length`)."""
    correct = 0
    by_length = {}
    for prompt, completion in encoded:
        by_length.setdefault(len(prompt), []).append((prompt, completion))
    for group in by_length.values():
        for begin in range(0, len(group), batch_size):
            chunk = group[begin:begin + batch_size]
            outputs = generate(task, [p for p, _ in chunk], length,
                               max(len(c) for _, c in chunk))
            for (_, completion), new in zip(chunk, outputs):
                correct += list(new) == list(completion)
    return correct / len(encoded)


# Continued pretraining on text ------------------------------------------------


def read_text():
    if not FLAGS.train_files:
        raise ValueError("--task=text needs --train_files (and "
                         "--validation_files).")
    if not FLAGS.validation_files:
        raise ValueError("Give --validation_files too (held-out text).")
    return {"train": corpus.read_documents(FLAGS.train_files),
            "validation": corpus.read_documents(FLAGS.validation_files)}


def text_prompts(stream, length):
    """The first quarter-context of a few validation windows."""
    starts = np.linspace(0, max(len(stream) - length, 0),
                         FLAGS.samples).astype(int)
    return [stream[s:s + max(1, length // 4)] for s in starts]


# Samples -------------------------------------------------------------------------


def generate(task, prompts, length, max_new_tokens):
    """Greedy continuations of id prompts: the new ids (stop token kept)."""
    longest = max(len(p) for p in prompts)
    room = min(max_new_tokens, length - longest)
    if room < 1:
        return [[] for _ in prompts]
    rows = task.generate([list(p) for p in prompts], max_new_tokens=room)
    return [row[len(p):] for row, p in zip(rows, prompts)]


def complete(task, prompts, length):
    """Greedy completions of id prompts, as text."""
    if not prompts:
        return []
    new = generate(task, prompts, length, length)
    return requests.detokenize(task.tokenizer, new,
                                 drop={task.tokenizer.end_token_id})


if __name__ == "__main__":
    app.run(main)
