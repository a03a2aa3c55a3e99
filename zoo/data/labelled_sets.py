"""The labelled sets a BERT-style encoder is fine-tuned on, batched.

`ClassificationSets` holds sentence (or sentence-pair) classification data
from GLUE-style TSV files, `TaggingSets` BIO-tagged tokens from CoNLL
files; without files, each is an embedded task built from
`zoo.data.numbers` (no download). Both split into "train", "validation"
and "test" (when given), encode a split for a tokenizer as
`(examples, labels, weights)`, and `encoder_batches` turns that into
`tf.data` batches for `SequenceClassifier` / `TokenClassifier`.
"""

import numpy as np
import tensorflow as tf

from zoo.data import labelled
from zoo.data import numbers
from zoo.data import parallel

SPLITS = ("train", "validation", "test")
NUMBER_SPLITS = (6000, 500, 500)  # the embedded tasks' train, val, test


def _read(files, reader):
    """`{split: reader(path)}` of the splits with a file."""
    return {split: reader(path) for split, path in files.items()}


def _check_files(files):
    for split in ("validation", "test"):
        if files.get(split) and not files.get("train"):
            raise ValueError(f"--{split}_file needs --train_file too.")
    if files.get("train") and not files.get("validation"):
        raise ValueError("Give --validation_file too (held-out labelled data "
                         "to score on, e.g. GLUE's dev.tsv).")
    return {split: path for split, path in files.items() if path}


class ClassificationSets:
    """Sentences or sentence pairs and their labels, by split.

    Args:
        files: `{split: path}` of TSV files; without a "train" file, the
            embedded task: which of two numbers in English words is larger.
        label_column, text_columns: as `labelled.read_tsv` takes them.
        seed: int, for the embedded task.
    """

    def __init__(self, files, label_column="label", text_columns=None,
                 seed=0):
        self.files = _check_files(files)
        if self.files:
            self.raw = _read(self.files, lambda path: labelled.read_tsv(
                path, label_column, text_columns))
            columns = {tuple(raw[3]) for raw in self.raw.values()}
            if len(columns) > 1:
                raise ValueError(f"The files' sentence columns differ: "
                                 f"{sorted(columns)}.")
        else:
            self.raw = {}
            for split, values in zip(SPLITS,
                                     numbers.splits(NUMBER_SPLITS, seed)):
                texts, labels = numbers.comparisons(values, seed)
                self.files[split] = f"numbers:{split}"
                self.raw[split] = (texts, labels,
                                   list(range(1, len(texts) + 1)), None)
        self.names = labelled.sort_labels(self.raw["train"][1],
                                          self.files["train"])
        self.segments = len(self.raw["train"][0][0])
        self.train_text = "\n".join(
            sentence for text in self.raw["train"][0] for sentence in text)

    def encode(self, tokenizer, split, length, truncate=False):
        """`(examples, label ids, None)` of `split`."""
        texts, labels, line_numbers, _ = self.raw[split]
        path = self.files[split]
        examples = labelled.encode_texts(tokenizer, texts, length, truncate,
                                         path, line_numbers)
        ids = labelled.label_ids(labels, self.names, path, line_numbers)
        return examples, ids, None


class TaggingSets:
    """Sentences of tokens and their BIO tags, by split.

    Args:
        files: `{split: path}` of CoNLL files; without a "train" file, the
            embedded task: where each number starts and ends in a run of
            numbers written in words or in digits.
        seed: int, for the embedded task.
    """

    segments = 1

    def __init__(self, files, seed=0):
        self.files = _check_files(files)
        if self.files:
            self.raw = _read(self.files, labelled.read_conll)
        else:
            self.raw = {}
            for split, values in zip(SPLITS,
                                     numbers.splits(NUMBER_SPLITS, seed)):
                self.files[split] = f"numbers:{split}"
                self.raw[split] = numbers.number_runs(values, seed)
        self.names = labelled.tag_names(self.raw["train"][1],
                                        self.files["train"])
        self.train_text = "\n".join(
            " ".join(sentence) for sentence in self.raw["train"][0])

    def encode(self, tokenizer, split, length, truncate=False):
        """`(examples, tag ids per token, weights)` of `split`: each word's
        tag sits at its first piece, which alone has weight 1."""
        del truncate  # cutting a sentence would drop tags: an error instead
        sentences, tags, line_numbers = self.raw[split]
        path = self.files[split]
        examples = labelled.encode_words(tokenizer, sentences, length, path,
                                         line_numbers)
        ids = labelled.tag_ids(tags, self.names, path, line_numbers)
        labels, weights = [], []
        for (token_ids, first), word_tags in zip(examples, ids):
            label = np.zeros(len(token_ids), "int32")
            label[first] = word_tags
            labels.append(label)
            weights.append(first.astype("int32"))
        return [(e[0], np.zeros_like(e[0])) for e in examples], labels, weights


def _pad_to_multiple(tensor, multiple=8):
    if tensor.shape.rank == 0:
        return tensor
    extra = -tf.shape(tensor)[0] % multiple
    return tf.pad(tensor, [[0, extra]])


def encoder_batches(split, batch_size, training, seed=0, skip=0):
    """`(inputs, labels[, weights])` batches of an encoded split, each
    padded to its longest example rounded up to 8 (few distinct shapes).

    Args:
        split: `(examples, labels, weights)` from `encode`; weights None
            for one label per example.
        training: shuffle anew each epoch and repeat forever, after `skip`
            examples (a resumed run).
    """
    examples, labels, weights = split
    columns = {
        "token_ids": parallel.ragged([e[0] for e in examples]),
        "segment_ids": parallel.ragged([e[1] for e in examples]),
        "padding_mask": parallel.ragged([np.ones(len(e[0]))
                                         for e in examples]),
    }
    if weights is None:  # one label per example
        dataset = parallel.slices((columns, labels))
    else:  # one label per token, weighted 1 at the first piece of a word
        dataset = parallel.slices(
            (columns, parallel.ragged(labels), parallel.ragged(weights)))
    if training:
        dataset = dataset.shuffle(len(examples), seed=seed,
                                  reshuffle_each_iteration=True).repeat()
        dataset = dataset.skip(skip) if skip else dataset
    dataset = dataset.map(lambda *row: tuple(
        tf.nest.map_structure(_pad_to_multiple, part) for part in row))

    def types(x, *rest):
        x = {**x, "padding_mask": tf.cast(x["padding_mask"], "bool")}
        if len(rest) == 2:  # token labels, weights
            return x, rest[0], tf.cast(rest[1], "float32")
        return x, *rest

    return (dataset.padded_batch(batch_size).map(types)
            .prefetch(tf.data.AUTOTUNE))
