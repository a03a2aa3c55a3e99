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
words or in digits.

    python recipes/bert_finetune.py --model_dir=runs/compare

--init_from=DIR starts from a model dir of recipes/bert_pretrain.py, or a
local keras-hub BERT preset directory (converted by zoo.convert). Without
it the encoder is trained from scratch on the task alone.

Writes to --model_dir what the pretraining recipes write (model.keras is a
`zoo.tasks.SequenceClassifier` or `TokenClassifier` with its tokenizer),
plus labels.json (the label or tag names, in id order) and
evaluation.json (the scores on the validation and test files).
"""

import os

import common
import numpy as np
from absl import flags

from zoo import evaluation
from zoo import pictures
from zoo.data import labelled_sets
from zoo.models import BertEncoder
from zoo.tasks import SequenceClassifier
from zoo.tasks import TokenClassifier
from zoo.training import run

common.define_flags(
    backbone=BertEncoder,
    finetuning=True,
    preset="bert_tiny",
    tokenizer="wordpiece",
    vocabulary_size=8000,
    sequence_length=128,  # or the model's maximum if shorter
    batch_size=32,
    steps=600,
    checkpoint_every=200,
    learning_rate=1e-4,
    schedule="linear",  # BERT: warmup, then linear decay to 0
    warmup_steps=60,
    weight_decay=0.01,
    # Batches are as long as their longest example: many shapes, each an
    # XLA compile.
    fixed_shapes=False,  # --xla=auto: off
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


def main(_):
    model_dir = common.start("bert_finetune")
    files = {split: FLAGS[f"{split}_file"].value
             for split in labelled_sets.SPLITS}
    if not FLAGS.train_file:
        print("No --train_file: the embedded task, " + (
            "which of two numbers in words is larger." if FLAGS.task ==
            "classify" else "tagging the numbers in a run of numbers."))
    if FLAGS.task == "classify":
        data = labelled_sets.ClassificationSets(
            files, FLAGS.label_column, FLAGS.text_columns, FLAGS.seed)
    else:
        data = labelled_sets.TaggingSets(files, FLAGS.seed)
    backbone, tokenizer, _ = common.starting_point(
        model_dir, BertEncoder, "bert_pretrain", [data.train_text])
    if not hasattr(tokenizer, "cls_token_id"):
        raise ValueError("bert_finetune needs a WordPiece tokenizer with "
                         "[CLS] and [SEP] (--tokenizer=wordpiece).")
    length = common.sequence_length(backbone)
    common.check_model_dir(
        model_dir, "bert_finetune", backbone, tokenizer, task=FLAGS.task,
        sequence_length=length, labels=data.names, segments=data.segments)
    run.write_json(os.path.join(model_dir, "labels.json"), data.names)

    splits = {split: data.encode(tokenizer, split, length, FLAGS.truncate)
              for split in data.raw}

    def batches(split, training=False, skip=0):
        return labelled_sets.encoder_batches(
            splits[split], FLAGS.batch_size, training, FLAGS.seed, skip)

    train_data = batches("train", True,
                         run.resumed_step(model_dir) * FLAGS.batch_size)
    print("Examples: " + ", ".join(f"{len(v[0]):,} {k}"
                                   for k, v in splits.items())
          + f"; {len(data.names)} labels; vocabulary "
          f"{tokenizer.vocabulary_size():,}; {backbone.count_params():,} "
          "parameters.")

    task_class = (SequenceClassifier if FLAGS.task == "classify"
                  else TokenClassifier)
    task = task_class(backbone, len(data.names), tokenizer=tokenizer)
    common.compile(task, backbone.hidden_dim)
    tokens = np.mean([len(e[0]) for e in splits["train"][0]])
    metrics = common.train(task, train_data, batches("validation").cache(),
                           model_dir, tokens_per_step=FLAGS.batch_size * tokens)

    results = {"task": FLAGS.task, "labels": data.names,
               "train_seconds": metrics["train_seconds"]}
    for split in ("validation", "test"):
        if split not in splits:
            continue
        if FLAGS.task == "classify":
            scores = evaluation.score_classifier(
                task, batches(split), splits[split][1], len(data.names))
        else:
            scores = evaluation.score_tagger(
                task, batches(split), data.raw[split][1], data.names)
        results[split] = {"file": data.files[split], **scores}
    run.write_json(os.path.join(model_dir, "evaluation.json"), results)
    split = "test" if "test" in results else "validation"
    draw_evaluation(results[split], data.names, model_dir,
                    f"{split} ({os.path.basename(results[split]['file'] or 'embedded')})")
    common.finish(model_dir, metrics, [
        f"{split}: " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()
                                 if isinstance(v, float))
        for split, scores in results.items() if split in splits],
        attention=example_text(data))


def draw_evaluation(scores, names, model_dir, what):
    """evaluation.png: the confusion matrix of a classifier, or the F1 of
    each entity type of a tagger."""
    path = os.path.join(model_dir, "evaluation.png")
    if FLAGS.task == "classify":
        pictures.confusion_matrix(
            scores["confusion"], names, path,
            f"Confusion matrix on {what}\naccuracy {scores['accuracy']:.1%}")
    elif scores["per_type"]:
        kinds = sorted(scores["per_type"])
        per_type = [scores["per_type"][k] for k in kinds]
        pictures.bars(
            kinds, [100 * s["f1"] for s in per_type], path,
            f"Entity F1 by type on {what}\noverall {scores['f1']:.1%}",
            "F1 (%)", notes=[f"{s['correct']}/{s['true_entities']}"
                             for s in per_type], xlabel="entity type "
            "(correct / true entities above each bar)")
    else:
        print(f"No entities in {what} or its predictions: no evaluation.png.")


def example_text(data):
    """The first training text, for the suggested `zoo.show` command."""
    first = data.raw["train"][0][0]  # a sentence's segments, or its words
    return first[0] if FLAGS.task == "classify" else " ".join(first)


if __name__ == "__main__":
    common.main(main)
