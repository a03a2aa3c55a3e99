"""Prompt -> completion data for causal-LM fine-tuning.

A JSONL file holds one `{"prompt": ..., "completion": ...}` object per
line. An example is trained as prompt + completion + end token, and only
the completion and the end token weigh in the loss: the model learns to
answer prompts, not to write them. Blank lines are skipped; anything else
that is not such an object is an error naming the file and line.
"""

import json

import numpy as np
import tensorflow as tf

from zoo.data import corpus
from zoo.data import numbers
from zoo.data import parallel
from zoo.data import tokenizers

NUMBER_SPLITS = (8000, 300)  # the embedded task: train, validation


def completion_sets(train_files, validation_files, seed=0):
    """`{split: (pairs, lines)}` for "train" and "validation": JSONL files
    (folders give their *.jsonl), or without files the embedded task of
    writing numbers in words."""
    if not train_files:
        if validation_files:
            raise ValueError("--validation_files needs --train_files too.")
        sets = {}
        for split, values in zip(("train", "validation"),
                                 numbers.splits(NUMBER_SPLITS, seed)):
            pairs = numbers.completions(values)
            sets[split] = (pairs, [("numbers", i + 1)
                                   for i in range(len(pairs))])
        return sets
    if not validation_files:
        raise ValueError("Give --validation_files too (held-out JSONL).")
    return {split: read_jsonl(corpus.list_files(paths, ("*.jsonl",)))
            for split, paths in (("train", train_files),
                                 ("validation", validation_files))}


def read_jsonl(paths):
    """`(pairs, lines)`: (prompt, completion) strings and (file, line)."""
    pairs, lines = [], []
    for path in paths:
        for number, line in enumerate(corpus.read_file(path).split("\n"), 1):
            if not line.strip():
                continue
            where = f"{path}, line {number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{where}: not valid JSON ({error.msg}).") \
                    from None
            if not isinstance(record, dict) or not {"prompt", "completion"} \
                    <= set(record):
                raise ValueError(
                    f"{where}: expected an object with \"prompt\" and "
                    f"\"completion\"; got {line[:80]!r}.")
            prompt, completion = record["prompt"], record["completion"]
            if not isinstance(prompt, str) or not isinstance(completion, str):
                raise ValueError(f"{where}: \"prompt\" and \"completion\" "
                                 "must be strings.")
            if not completion:
                raise ValueError(f"{where}: the completion is empty; there "
                                 "would be nothing to learn.")
            pairs.append((prompt, completion))
            lines.append((path, number))
    if not pairs:
        raise ValueError(f"{', '.join(paths)}: no examples.")
    return pairs, lines


def encode_completions(tokenizer, pairs, length, lines):
    """`(prompt_ids, completion_ids + [end])` per pair.

    An example longer than `length` tokens (end token included) is an error
    naming its line: the model could neither learn nor generate all of it.
    """
    prompts = tokenizers.tokenize_lines(tokenizer, [p for p, _ in pairs])
    completions = tokenizers.tokenize_lines(tokenizer, [c for _, c in pairs])
    end = tokenizer.end_token_id
    encoded = []
    for prompt, completion, (path, number) in zip(prompts, completions, lines):
        completion = np.append(completion, end).astype("int32")
        if len(prompt) + len(completion) > length:
            raise ValueError(
                f"{path}, line {number}: {len(prompt) + len(completion)} "
                f"tokens with the end token, more than --sequence_length="
                f"{length}. Shorten the example or raise --sequence_length "
                "(within the model's max_sequence_length).")
        if not len(prompt):
            raise ValueError(f"{path}, line {number}: the prompt is empty "
                             "after tokenization.")
        encoded.append((prompt, completion))
    return encoded


def completion_batches(encoded, batch_size, training, seed=0, skip=0):
    """`(inputs, labels, weights)` batches, each padded to its longest row.

    Inputs are tokens[:-1] and labels tokens[1:]; a label weighs 1 if it is
    a completion token or the end token, 0 if it is a prompt token or
    padding. Training batches are reshuffled each epoch, endlessly, after
    `skip` examples (resume).
    """
    inputs, labels, weights = [], [], []
    for prompt, completion in encoded:
        tokens = np.concatenate([prompt, completion])
        inputs.append(tokens[:-1])
        labels.append(tokens[1:])
        weights.append((np.arange(1, len(tokens)) >= len(prompt))
                       .astype("int32"))
    token_ids = parallel.ragged(inputs)
    dataset = parallel.slices((
        {"token_ids": token_ids,
         "padding_mask": parallel.ragged([np.ones(len(i))
                                          for i in inputs])},
        parallel.ragged(labels), parallel.ragged(weights)))
    if training:
        dataset = dataset.shuffle(len(encoded), seed=seed,
                                  reshuffle_each_iteration=True).repeat()
        dataset = dataset.skip(skip) if skip else dataset

    def types(x, labels, weights):
        return ({"token_ids": x["token_ids"],
                 "padding_mask": tf.cast(x["padding_mask"], "bool")},
                labels, tf.cast(weights, "float32"))

    return (dataset.padded_batch(batch_size).map(types)
            .prefetch(tf.data.AUTOTUNE))
