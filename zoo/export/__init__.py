"""TensorFlow SavedModel export: raw text in, text out.

`export(task, export_dir)` writes a SavedModel that any TensorFlow program
or TF Serving loads without the zoo: the task's weights, its tokenizer
(inside the graph, its files in `assets/`) and named signatures (see
`zoo.export.serving`). Generation and translation run the task's own
KV-cached, XLA-compiled decoding loop inside the graph.

Loading needs TensorFlow Text's ops registered (`import tensorflow_text`),
as keras-hub's tokenizers are built on them.

Example:

>>> zoo.export.export_model_dir("runs/sst2", "exports/sst2")
>>> served = tf.saved_model.load("exports/sst2")   # in any TF program
>>> served.signatures["classify"](text=tf.constant(["a fine film"]))
"""

import os
import shutil

import tensorflow as tf

from zoo import backend
from zoo import convert
from zoo import files
from zoo.export import encoders
from zoo.export import generators
from zoo.export import serving
from zoo.export.model_dir import read_model_dir
from zoo.export.text import GraphTokenizer
from zoo.tasks import CausalLM
from zoo.tasks import MaskedLM
from zoo.tasks import Seq2SeqLM
from zoo.tasks import SequenceClassifier
from zoo.tasks import Task
from zoo.tasks import TokenClassifier


def serving_module(task, *, labels=None, sequence_length=None, pairs=False,
                   num_beams=4, length_penalty=0.6, top_k=5, xla=True):
    """The `tf.Module` that `export` saves, for `task`.

    Args:
        task: a trained zoo task (`SequenceClassifier`, `TokenClassifier`,
            `MaskedLM`, `CausalLM` or `Seq2SeqLM`) with its tokenizer.
        labels: class or tag names in id order (classifier and tagger);
            default "0", "1", ...
        sequence_length: int. Longest packed input of the BERT-family
            signatures; default the model's `max_sequence_length`.
        pairs: bool. The classifier takes sentence pairs (`text`,
            `text_pair`).
        num_beams, length_penalty: beam search of `translate_beam`.
        top_k: int. Fillers per mask of `fill_mask`.
        xla: bool. Generation and translation run XLA-compiled, as
            `generate` does in Python, so the server must run XLA
            functions (TF Serving has `--xla_cpu_compilation_enabled` for
            it; not tried here). False exports the same loop as a plain
            graph, slower, and its ids may differ from XLA's in near ties.
    """
    backend.require_tensorflow("SavedModel export")
    tokenizer = task.tokenizer
    if tokenizer is None and not isinstance(task, CausalLM):
        raise ValueError(
            f"The {type(task).__name__} has no tokenizer, so its export "
            "could not take text. Build it with `tokenizer=...` (the zoo's "
            "recipes always do).")
    graph_tokenizer = None if tokenizer is None else GraphTokenizer(tokenizer)
    if isinstance(task, SequenceClassifier):
        names = serving.label_names(labels, task.num_classes)
        return encoders.ClassifierModule(task, graph_tokenizer, names,
                                        sequence_length, pairs)
    if isinstance(task, TokenClassifier):
        names = serving.label_names(labels, task.num_classes)
        return encoders.TaggerModule(task, graph_tokenizer, names,
                                    sequence_length)
    if isinstance(task, MaskedLM):
        return encoders.MaskedLMModule(task, graph_tokenizer, sequence_length,
                                      top_k)
    if isinstance(task, Seq2SeqLM):
        return generators.Seq2SeqModule(task, graph_tokenizer, num_beams,
                                        length_penalty, xla)
    if isinstance(task, CausalLM):
        return generators.CausalLMModule(task, graph_tokenizer, xla)
    raise ValueError(f"Cannot export a {type(task).__name__}: expected a zoo "
                     "task.")


def export(task, export_dir, *, overwrite=False, **options):
    """Write `task` as a SavedModel to `export_dir`.

    The SavedModel is written next to `export_dir` and moved into place
    when complete, so a failed export never leaves a half-written one or
    destroys an earlier export.

    Args:
        task: a trained zoo task with its tokenizer.
        export_dir: path of the SavedModel directory.
        overwrite: bool. Replace an existing `export_dir`.
        **options: see `serving_module`.

    Returns:
        The names of the signatures written.
    """
    export_dir = os.path.abspath(export_dir)
    if os.path.exists(export_dir) and os.listdir(export_dir) and not overwrite:
        raise FileExistsError(
            f"{export_dir} exists and is not empty. Choose a new export dir, "
            "or pass overwrite=True (--overwrite).")
    module = serving_module(task, **options)
    signatures = module.signatures()
    staging = files.staging_directory(export_dir)
    try:
        first = next(iter(signatures))
        tf.saved_model.save(
            module, staging,
            signatures={"serving_default": signatures[first], **signatures},
        )
        files.publish(staging, export_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if module.tokenizer is not None and module.tokenizer.directory:
            shutil.rmtree(module.tokenizer.directory, ignore_errors=True)
    return ["serving_default", *signatures]


def export_pretrained(path, export_dir, **options):
    """Export the model of a Hugging Face directory or an original release
    `path` (see `zoo.convert.from_directory`) as it is: its head serves,
    its labels (`id2label`) name the classes."""
    backend.require_tensorflow("SavedModel export")
    model = convert.from_directory(path)
    if not isinstance(model, Task):
        raise ValueError(
            f"{path} holds a bare {type(model).__name__} (no head): nothing "
            "to serve. Fine-tune it first (a recipe's --init_from), or "
            "export a directory with a head (BertForMaskedLM, "
            "BertForSequenceClassification, GPT2LMHeadModel, ...).")
    if isinstance(model, (SequenceClassifier, TokenClassifier)):
        options = {"labels": convert.labels(path), **options}
    return export(model, export_dir, **options)


def export_model_dir(model_dir, export_dir, **options):
    """Export the final model of a zoo recipe's `model_dir`.

    Reads `model.keras` and `run.json` (labels, sequence length, sentence
    pairs); `options` override what `run.json` says.
    """
    backend.require_tensorflow("SavedModel export")
    task, defaults = read_model_dir(model_dir)
    return export(task, export_dir, **{**defaults, **options})
