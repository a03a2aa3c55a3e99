"""Fine-tune a BERT-style encoder to classify sentences or tag tokens.

--task=classify reads GLUE-style TSV files: a header row, one or two
sentence columns and a label column (SST-2, CoLA, MRPC, RTE, ...). It
reports accuracy, and F1 of label 1 when there are two labels.

--task=tag reads CoNLL-style BIO files (a token and its tag per line, a
blank line between sentences; WNUT-17, CoNLL-2003). Only the first piece
of each word is tagged and scored (Devlin et al. 2018, section 5.3); it
reports entity-level precision, recall and F1.

With no data flags it learns an embedded task (see zoo/data/numbers.py):
for classify, which of two numbers written in English words is larger;
for tag, where each number starts and ends in a run of numbers written in
words or in digits, and which of the two it is.

    python recipes/bert_finetune.py --model_dir=runs/compare

--init_from=DIR starts from a model dir of recipes/bert_pretrain.py, or a
local keras-hub BERT preset directory (converted by zoo.convert). Without
it the encoder is trained from scratch on the task alone.

Writes to --model_dir what the pretraining recipes write (model.keras is a
`zoo.tasks.SequenceClassifier` or `TokenClassifier` with its tokenizer),
plus labels.json (the label or tag names, in id order) and
evaluation.json (the scores on the validation and test files).
"""

import json
import os

import numpy as np
import tensorflow as tf
from absl import app
from absl import flags

from zoo import evaluation
from zoo.data import labelled
from zoo.data import numbers
from zoo.data import parallel
from zoo.models import BertEncoder
from zoo.tasks import SequenceClassifier
from zoo.tasks import TokenClassifier
from zoo.training import recipe
from zoo.training import run

recipe.define_flags(
    finetuning=True,
    preset="bert_tiny",
    tokenizer="wordpiece",
    vocabulary_size=8000,
    sequence_length=None,  # 128, or the model's maximum if shorter
    batch_size=32,
    steps=600,
    checkpoint_every=200,
    learning_rate=1e-4,
    schedule="linear",  # BERT: warmup, then linear decay to 0
    warmup_steps=60,
    weight_decay=0.01,
    # Batches are as long as their longest example: many shapes, each an
    # XLA compile.
    xla=False,
)
flags.DEFINE_enum("task", "classify", ["classify", "tag"],
                  "classify: TSV sentences or pairs; tag: CoNLL BIO tokens.")
flags.DEFINE_string("train_file", None, "Training data (TSV or CoNLL).")
flags.DEFINE_string("validation_file", None,
                    "Held-out data in the same format, scored every "
                    "--eval_every steps and at the end.")
flags.DEFINE_string("test_file", None,
                    "Labelled test data, scored once at the end (optional).")
flags.DEFINE_string("label_column", "label", "TSV: the label column's name.")
flags.DEFINE_list("text_columns", None,
                  "TSV: the one or two sentence columns; default: all but "
                  "the label and an index column.")
flags.DEFINE_bool("truncate", False,
                  "TSV: cut examples longer than --sequence_length instead "
                  "of stopping with an error.")
FLAGS = flags.FLAGS

NUMBER_SPLITS = (6000, 500, 500)  # the embedded tasks: train, val, test


def main(argv):
    del argv
    model_dir = recipe.start("bert_finetune")
    data = read_data()
    backbone, tokenizer = recipe.starting_point(
        model_dir, BertEncoder, "bert_pretrain", [data.train_text]
    )
    if not hasattr(tokenizer, "cls_token_id"):
        raise ValueError("bert_finetune needs a WordPiece tokenizer with "
                         "[CLS] and [SEP] (--tokenizer=wordpiece).")
    length = recipe.sequence_length(backbone, default=128)
    recipe.check_model_dir(
        model_dir, "bert_finetune", backbone, tokenizer, task=FLAGS.task,
        init_from=FLAGS.init_from, sequence_length=length, labels=data.names,
        segments=len(data.raw["train"][0][0]) if FLAGS.task == "classify"
        else 1, files=data.files,
    )
    run.write_json(os.path.join(model_dir, "labels.json"), data.names)

    splits = {split: data.encode(tokenizer, split, length)
              for split in data.splits}
    skip = run.resumed_step(model_dir) * FLAGS.batch_size
    train_data = batches(splits["train"], True, skip)
    validation_data = batches(splits["validation"], False).cache()
    print(f"Examples: " + ", ".join(f"{len(v[0]):,} {k}"
                                    for k, v in splits.items())
          + f"; {len(data.names)} labels; vocabulary "
          f"{tokenizer.vocabulary_size():,}; {backbone.count_params():,} "
          "parameters.")

    if FLAGS.task == "classify":
        task = SequenceClassifier(backbone, len(data.names),
                                  tokenizer=tokenizer)
    else:
        task = TokenClassifier(backbone, len(data.names), tokenizer=tokenizer)
    recipe.compile(task, backbone.hidden_dim)
    tokens = np.mean([len(e[0]) for e in splits["train"][0]])
    metrics = recipe.train(task, train_data, validation_data, model_dir,
                           tokens_per_step=FLAGS.batch_size * tokens)
    print(json.dumps(metrics, indent=2))

    results = {"task": FLAGS.task, "labels": data.names,
               "train_seconds": metrics["train_seconds"]}
    for split in ("validation", "test"):
        if split in splits:
            results[split] = {"file": data.files[split],
                              **data.score(task, splits[split], split)}
    run.write_json(os.path.join(model_dir, "evaluation.json"), results)
    print(json.dumps({k: v for k, v in results.items() if k != "labels"},
                     indent=2))


def batches(split, training, skip=0):
    """`(inputs, labels, weights)` batches, each padded to its longest
    example (rounded up to 8)."""
    examples, labels, weights = split
    token_ids = parallel.ragged([e[0] for e in examples])
    columns = {
        "token_ids": token_ids,
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
        dataset = dataset.shuffle(len(examples), seed=FLAGS.seed,
                                  reshuffle_each_iteration=True).repeat()
        dataset = dataset.skip(skip) if skip else dataset
    dataset = dataset.map(lambda *row: tuple(
        tf.nest.map_structure(_pad_to_multiple, part) for part in row))

    def types(x, *rest):
        x = {**x, "padding_mask": tf.cast(x["padding_mask"], "bool")}
        if len(rest) == 2:  # token labels, weights
            return x, rest[0], tf.cast(rest[1], "float32")
        return x, *rest

    return (dataset.padded_batch(FLAGS.batch_size).map(types)
            .prefetch(tf.data.AUTOTUNE))


def _pad_to_multiple(tensor, multiple=8):
    if tensor.shape.rank == 0:
        return tensor
    extra = -tf.shape(tensor)[0] % multiple
    return tf.pad(tensor, [[0, extra]])


class Classification:
    """The classify task's data: TSV files, or number pairs."""

    def __init__(self):
        self.files, self.raw = {}, {}
        if FLAGS.train_file:
            self.files, self.raw = read_files(lambda path: labelled.read_tsv(
                path, FLAGS.label_column, FLAGS.text_columns))
            columns = {tuple(raw[3]) for raw in self.raw.values()}
            if len(columns) > 1:
                raise ValueError(f"The files' sentence columns differ: "
                                 f"{sorted(columns)}.")
        else:
            print("No --train_file: the embedded task, which of two numbers "
                  "in words is larger.")
            for split, values in zip(("train", "validation", "test"),
                                     numbers.splits(NUMBER_SPLITS, FLAGS.seed)):
                rng = np.random.default_rng([FLAGS.seed, len(values)])
                others = rng.permutation(values)
                texts = [(numbers.english(a), numbers.english(b))
                         for a, b in zip(values, others)]
                labels = [str(int(a > b)) for a, b in zip(values, others)]
                self.files[split] = f"numbers:{split}"
                self.raw[split] = (texts, labels,
                                   list(range(1, len(texts) + 1)), None)
        self.splits = list(self.raw)
        self.names = labelled.sort_labels(self.raw["train"][1],
                                          self.files["train"])
        self.train_text = "\n".join(
            sentence for text in self.raw["train"][0] for sentence in text)

    def encode(self, tokenizer, split, length):
        texts, labels, line_numbers, _ = self.raw[split]
        path = self.files[split]
        examples = labelled.encode_texts(tokenizer, texts, length,
                                         FLAGS.truncate, path, line_numbers)
        ids = labelled.label_ids(labels, self.names, path, line_numbers)
        return examples, ids, None

    def score(self, task, split, name):
        labels = split[1]
        logits = np.concatenate([
            np.asarray(task.predict_on_batch(x), "float32")
            for x, _ in batches(split, False)
        ])
        return evaluation.classification_scores(
            labels, logits.argmax(-1), len(self.names))


class Tagging:
    """The tag task's data: CoNLL files, or runs of number words."""

    def __init__(self):
        self.files, self.raw = {}, {}
        if FLAGS.train_file:
            self.files, self.raw = read_files(labelled.read_conll)
        else:
            print("No --train_file: the embedded task, tagging each number "
                  "in a run of numbers in words and in digits.")
            for split, values in zip(("train", "validation", "test"),
                                     numbers.splits(NUMBER_SPLITS, FLAGS.seed)):
                self.files[split] = f"numbers:{split}"
                self.raw[split] = number_runs(values, FLAGS.seed)
        self.splits = list(self.raw)
        self.names = labelled.tag_names(self.raw["train"][1],
                                        self.files["train"])
        self.train_text = "\n".join(
            " ".join(sentence) for sentence in self.raw["train"][0])

    def encode(self, tokenizer, split, length):
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

    def score(self, task, split, name):
        predicted = []
        for x, _, w in batches(split, False):
            logits = np.asarray(task.predict_on_batch(x), "float32")
            for row, first in zip(logits.argmax(-1), np.asarray(w) > 0):
                predicted.append([self.names[i] for i in row[first]])
        return evaluation.entity_scores(self.raw[name][1], predicted)


def number_runs(values, seed):
    """Sentences of 1-3 numbers, each in English words ("forty-two
    thousand one", tagged B-words I-words I-words I-words) or in digits
    ("42,001", tagged B-digits). Where one number in words ends and the
    next begins has to be learned from how numbers are written."""
    rng = np.random.default_rng([seed, len(values), 7])
    sentences, tags, line_numbers = [], [], []
    i = 0
    while i < len(values):
        words, labels = [], []
        for number in values[i:i + int(rng.integers(1, 4))]:
            i += 1
            if rng.random() < 0.7:
                new, kind = numbers.english(number).split(), "words"
            else:
                new, kind = [f"{number:,}"], "digits"
            words += new
            labels += [f"B-{kind}"] + [f"I-{kind}"] * (len(new) - 1)
        sentences.append(words)
        tags.append(labels)
        line_numbers.append(list(range(1, len(words) + 1)))
    return sentences, tags, line_numbers


def read_files(reader):
    """`(files, raw)`: the path and `reader(path)` of each split given."""
    files = {split: getattr(FLAGS, f"{split}_file")
             for split in ("train", "validation", "test")
             if getattr(FLAGS, f"{split}_file")}
    return files, {split: reader(path) for split, path in files.items()}


def read_data():
    for split in ("validation", "test"):
        if getattr(FLAGS, f"{split}_file") and not FLAGS.train_file:
            raise ValueError(f"--{split}_file needs --train_file too.")
    if FLAGS.train_file and not FLAGS.validation_file:
        raise ValueError("Give --validation_file too (held-out labelled data "
                         "to score on, e.g. GLUE's dev.tsv).")
    return Classification() if FLAGS.task == "classify" else Tagging()


if __name__ == "__main__":
    app.run(main)
