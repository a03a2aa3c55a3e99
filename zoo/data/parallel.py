"""Line-aligned parallel text for translation.

Line i of the source file translates line i of the target file, as in
Multi30k, WMT and most corpora released as `train.de` / `train.en`. Files
are read strictly: different line counts or an empty line on either side
are errors naming the file and line, since dropping or shifting a pair
silently would misalign every pair after it.
"""

import numpy as np
import tensorflow as tf

from zoo.data import corpus
from zoo.data import numbers
from zoo.data import tokenizers

SPLITS = ("train", "validation", "test")
NUMBER_SPLITS = (20000, 500, 1000)  # the embedded task: train, val, test


def translation_sets(files, seed=0):
    """`{split: (sources, targets, names)}` for train, validation and test.

    Args:
        files: `{split: (source path, target path)}`, None where not given.
            Without a training pair, the embedded German -> English number
            task (German targets would score BLEU 0 even when right: a
            German number is one word, and BLEU counts n-grams up to 4).
        seed: int, for the embedded task.
    """
    for split, (source, target) in files.items():
        if (source is None) != (target is None):
            raise ValueError(f"Give both --{split}_source and "
                             f"--{split}_target, or neither.")
    if files["train"][0] is None:
        if any(paths[0] for paths in files.values()):
            raise ValueError("Validation or test files need --train_source "
                             "and --train_target too.")
        return {split: ([numbers.german(n) for n in values],
                        [numbers.english(n) for n in values],
                        (f"numbers:{split}.de", f"numbers:{split}.en"))
                for split, values in zip(SPLITS,
                                         numbers.splits(NUMBER_SPLITS, seed))}
    for split in ("validation", "test"):
        if files[split][0] is None:
            raise ValueError(f"Give --{split}_source and --{split}_target "
                             "(held-out pairs to validate and score on).")
    return {split: (*read_parallel(*paths), paths)
            for split, paths in files.items()}


def read_lines(path):
    """The lines of a UTF-8 file, without their line endings."""
    text = corpus.read_file(path)
    lines = text.split("\n")
    if lines and lines[-1] == "":  # the final newline ends a line
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def read_parallel(source_path, target_path):
    """`(sources, targets)`: two lists of strings, checked to be aligned."""
    sources, targets = read_lines(source_path), read_lines(target_path)
    if len(sources) != len(targets):
        raise ValueError(
            f"{source_path} has {len(sources):,} lines but {target_path} has "
            f"{len(targets):,}: parallel files must be line-aligned (line i "
            "of one is the translation of line i of the other)."
        )
    if not sources:
        raise ValueError(f"{source_path} and {target_path} are empty.")
    for path, lines in ((source_path, sources), (target_path, targets)):
        for number, line in enumerate(lines, 1):
            if not line.strip():
                raise ValueError(
                    f"{path}, line {number}: empty line. Every line of a "
                    "parallel file must hold a sentence; remove the pair "
                    "from both files."
                )
    return sources, targets


def encode_pairs(tokenizer, sources, targets, max_length, names=("source",
                                                                 "target")):
    """Token ids of each pair, the target ending in the end token.

    A source longer than `max_length` tokens, or a target longer with the
    decoder's start and end tokens, is an error naming its line:
    truncating a sentence would teach the model to drop words. (Sources
    get no end token: the encoder's padding mask marks where they end. A
    tokenizer that ends every text itself, as MarianMT's does, keeps its
    own on both sides.)

    Returns:
        A list of `(source_ids, target_ids)` int32 arrays.
    """
    ended = getattr(tokenizer, "ends_texts", False)
    end = [] if ended else [tokenizer.end_token_id]
    source_ids = tokenizers.tokenize_lines(tokenizer, sources)
    target_ids = [np.append(ids, end).astype("int32")
                  for ids in tokenizers.tokenize_lines(tokenizer, targets,
                                                       target=True)]
    for name, encoded, extra, what in (
            (names[0], source_ids, 0, "tokens"),
            (names[1], target_ids, 1, "tokens with the start and end tokens")):
        for number, ids in enumerate(encoded, 1):
            if len(ids) + extra > max_length:
                raise ValueError(
                    f"{name}, line {number}: {len(ids) + extra} {what}, more "
                    f"than --sequence_length={max_length}. Raise "
                    "--sequence_length (within the model's "
                    "max_sequence_length) or remove the pair."
                )
    return list(zip(source_ids, target_ids))


def ragged(rows):
    """A list of 1-D int arrays as one (N, None) int32 `tf.RaggedTensor`."""
    lengths = [len(row) for row in rows]
    values = np.concatenate(rows) if rows else np.zeros([0], "int32")
    return tf.RaggedTensor.from_row_lengths(values.astype("int32"), lengths)


def slices(structure):
    """`tf.data.Dataset.from_tensor_slices` of a structure of (N, None)
    ragged tensors, each row a dense vector (as `padded_batch` needs)."""
    dataset = tf.data.Dataset.from_tensor_slices(structure)
    # Rows of a ragged tensor slice as ragged-rank-0 "ragged" specs; any
    # map turns them into plain tensors.
    return dataset.map(lambda *row: tf.nest.map_structure(tf.identity, row)
                       if len(row) > 1 else tf.identity(row[0]))


def pair_dataset(pairs, training, seed=0):
    """A `tf.data` dataset of `(source, target)` id vectors; endless and
    reshuffled each epoch when `training`. (A resumed run skips batches
    after they are bucketed: see recipes/transformer_finetune.py.)"""
    dataset = slices((ragged([p[0] for p in pairs]),
                      ragged([p[1] for p in pairs])))
    if training:
        dataset = dataset.shuffle(len(pairs), seed=seed,
                                  reshuffle_each_iteration=True).repeat()
    return dataset
