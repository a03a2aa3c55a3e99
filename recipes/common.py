"""The flags and wiring every recipe shares (the recipes import it).

A recipe defines these flags with its own defaults (`define_flags`), then
calls the helpers in order: `start` (seed, precision and XLA, model
dir, flags file), `corpus`, `tokenizer`, `backbone` (fine-tuning:
`starting_point`), `sequence_length`, `check_model_dir`, `compile`, and
`train`.
"""

import ast
import contextlib
import glob
import hashlib
import math
import os
import shlex
import sys
import time

import zoo  # noqa: F401  isort: skip  (before Keras: it quiets TensorFlow)
import keras
from absl import app
from absl import flags
from absl import logging

from zoo import console
from zoo import files
from zoo import machine
from zoo.data import corpus as corpora
from zoo.data import tokenizers
from zoo.training import distribution
from zoo.training import finetune
from zoo.training import optimizers
from zoo.training import run
from zoo.training.progress import clock

FLAGS = flags.FLAGS


def define_flags(finetuning=False, backbone=None, fixed_shapes=True,
                 **defaults):
    """Define the shared flags; `defaults` sets recipe-specific defaults,
    and `backbone` (the recipe's backbone class) checks --preset and
    --override when the flags are parsed. `fixed_shapes=False` tells
    `--xla=auto` that the recipe's batches come in many shapes (each one
    an XLA compile).

    Pretraining recipes read documents (`--train_files`, ...); fine-tuning
    recipes define their own data flags and get `--init_from` instead.
    """
    global BACKBONE, FIXED_SHAPES
    BACKBONE, FIXED_SHAPES = backbone, fixed_shapes

    def default(name, value):
        return defaults.get(name, value)

    _model_flags(finetuning, default)
    _training_flags(default)
    flags.mark_flag_as_required("model_dir")
    for name, rule in RANGES.items():
        if name in FLAGS:
            require(name, rule)
    flags.register_multi_flags_validator(
        ["tokenizer", "vocabulary_size"], lambda values: _vocabulary_ok(
            values["tokenizer"], values["vocabulary_size"]),
        message="--vocabulary_size")
    if backbone is not None:
        flags.register_multi_flags_validator(
            ["preset", "override"], lambda values: _architecture_ok(
                backbone, values["preset"], values["override"]),
            message="--preset or --override")


def _vocabulary_ok(kind, size):
    """Flag validator: the tokenizer can be trained to `size` tokens."""
    if kind is None or size is None:
        return True
    try:
        tokenizers.check_vocabulary_size(kind, size)
    except ValueError as error:
        raise flags.ValidationError(f"--{error}") from None
    return True


def _architecture_ok(backbone_class, preset, overrides):
    """Flag validator: raises `flags.ValidationError` naming the problem."""
    if preset is None:
        return True
    try:
        overrides = parse_overrides(overrides)
        config = backbone_class.preset_config(preset, **overrides)
        check_override_types(backbone_class.preset_config(preset), overrides)
    except ValueError as error:
        raise flags.ValidationError(str(error)) from None
    return bool(config)


# What each numeric flag may be; absl refuses any other value before the
# recipe starts ("FATAL Flags parsing error: flag --batch_size=0: ...").
RULES = {
    "positive": (lambda v: math.isfinite(v) and v > 0,
                 "must be a number above 0"),
    "non-negative": (lambda v: math.isfinite(v) and v >= 0,
                     "must be a number of at least 0"),
    "fraction": (lambda v: math.isfinite(v) and 0 <= v < 1,
                 "must be in [0, 1)"),
    "share": (lambda v: math.isfinite(v) and 0 < v <= 1,
              "must be in (0, 1]"),
    "open share": (lambda v: math.isfinite(v) and 0 < v < 1,
                   "must be in (0, 1)"),
    "at least 2": (lambda v: v >= 2, "must be at least 2"),
    "finite": (lambda v: math.isfinite(v), "must be a finite number"),
}
RANGES = {
    "batch_size": "positive", "steps": "positive", "learning_rate": "positive",
    "warmup_steps": "non-negative", "final_learning_rate": "non-negative",
    "decay_fraction": "share", "weight_decay": "non-negative",
    "beta_1": "fraction", "beta_2": "fraction", "clipnorm": "non-negative",
    "gradient_accumulation": "positive", "steps_per_execution": "positive",
    "devices": "positive", "num_processes": "positive",
    "process_id": "non-negative", "coordinator_timeout": "positive",
    "seed": "non-negative", "stop_after": "positive",
    "checkpoint_every": "positive", "eval_every": "non-negative",
    "validation_batches": "non-negative", "vocabulary_size": "positive",
    "sequence_length": "at least 2", "dropout": "fraction",
    "validation_fraction": "open share",
}


def require(name, rule):
    """Refuse a value of flag `name` outside `rule` (a key of RULES)
    when the flags are parsed; None (not given) passes."""
    test, text = RULES[rule]
    flags.register_validator(name, lambda value: value is None or test(value),
                             message=f"--{name} {text}.")


def _model_flags(finetuning, default):
    """Where the run writes, what it trains, on which text, tokenized how."""
    flags.DEFINE_string("model_dir", default("model_dir", None),
                        "Where the run writes everything (see docs/recipes.md).")
    flags.DEFINE_string("preset", default("preset", None),
                        "Architecture preset (python -m zoo.models lists them).")
    flags.DEFINE_multi_string(
        "override", default("override", []),
        "Architecture override KEY=VALUE, repeatable, e.g. "
        "--override=num_layers=2 --override=dropout=0.0.")
    flags.DEFINE_float("dropout", default("dropout", None),
                       "Dropout of the backbone; default: the preset's.")
    if finetuning:
        flags.DEFINE_string(
            "init_from", None,
            "Start from a model dir of the matching pretraining recipe or a "
            "local keras-hub preset directory; empty: from scratch (--preset).")
    else:
        flags.DEFINE_list(
            "train_files", [],
            "Text files, folders (their *.txt) or globs, one document per "
            "file. Empty: the embedded pydoc_data corpus (no download).")
        flags.DEFINE_list("validation_files", [],
                          "Held-out text; empty: the last "
                          "--validation_fraction of the training text.")
        flags.DEFINE_float("validation_fraction", 0.1,
                           "Share of the text held out when no validation "
                           "files.")
    flags.DEFINE_enum("tokenizer", default("tokenizer", None),
                      tokenizers.KINDS, "Tokenizer to train on the text.")
    flags.DEFINE_integer("vocabulary_size", default("vocabulary_size", 8000),
                         "Target vocabulary size for subword tokenizers.")
    flags.DEFINE_bool("lowercase", True, "WordPiece: lowercase the text.")
    flags.DEFINE_integer(
        "sequence_length", default("sequence_length", None),
        "Tokens per example; default: the recipe's, or the model's context "
        "if that is shorter (none: the model's context).")


def _training_flags(default):
    """How the run trains, checkpoints and evaluates."""
    flags.DEFINE_integer("batch_size", default("batch_size", 32),
                         "Examples per batch.")
    flags.DEFINE_integer("steps", default("steps", 1000),
                         "Training batches in all (resumed runs included).")
    flags.DEFINE_float("learning_rate", default("learning_rate", 1e-3),
                       "Peak learning rate (for inverse_sqrt: its scale).")
    flags.DEFINE_enum("schedule", default("schedule", "cosine"),
                      optimizers.SCHEDULES, "Learning-rate schedule.")
    flags.DEFINE_integer("warmup_steps", default("warmup_steps", 100),
                         "Linear warmup steps.")
    flags.DEFINE_float("final_learning_rate",
                       default("final_learning_rate", 0.0),
                       "Learning rate at the last step (cosine, linear).")
    flags.DEFINE_float("decay_fraction", default("decay_fraction", 1.0),
                       "Share of the post-warmup steps spent decaying; the "
                       "peak holds before (cosine, linear).")
    flags.DEFINE_float("weight_decay", default("weight_decay", 0.01),
                       "AdamW decoupled weight decay (dense kernels only).")
    flags.DEFINE_float("beta_1", 0.9, "Adam beta_1.")
    flags.DEFINE_float("beta_2", default("beta_2", 0.999), "Adam beta_2.")
    flags.DEFINE_float("clipnorm", 1.0, "Clip the global gradient norm; 0: off.")
    flags.DEFINE_integer("gradient_accumulation", 1,
                         "Batches whose gradients make one update.")
    flags.DEFINE_enum("precision", "auto", list(machine.PRECISIONS),
                      "Keras dtype policy; auto: the fastest on this machine "
                      "(zoo.machine).")
    flags.DEFINE_flag(AutoBoolFlag(
        "xla", "Compile the training step (XLA on TensorFlow, jax.jit on "
        "JAX): auto (the fastest here, zoo.machine), true or false."))
    flags.DEFINE_integer("steps_per_execution", 50,
                         "Training steps per call into the compiled loop.")
    flags.DEFINE_enum("distribution", "none", distribution.KINDS,
                      "Train on several devices: mirrored (TensorFlow, this "
                      "machine's devices), data_parallel (JAX, one or several "
                      "processes) or model_parallel (JAX, weights sharded).")
    flags.DEFINE_integer("devices", None,
                         "How many local devices --distribution uses "
                         "(default: all; on a CPU, TensorFlow splits it "
                         "into that many).")
    flags.DEFINE_list("mesh", None,
                      "model_parallel's BATCH,MODEL device mesh (default: "
                      "1,all devices).")
    flags.DEFINE_string("coordinator_address", None,
                        "HOST:PORT of process 0 of a multi-process run "
                        "(default: $KERAS_DISTRIBUTION_JOB_ADDRESSES).")
    flags.DEFINE_integer("num_processes", None,
                         "Processes of the run (default: "
                         "$KERAS_DISTRIBUTION_NUM_PROCESSES, else 1).")
    flags.DEFINE_integer("process_id", None,
                         "This process's number, 0 to --num_processes - 1 "
                         "(default: $KERAS_DISTRIBUTION_PROCESS_ID).")
    flags.DEFINE_integer("coordinator_timeout", 300,
                         "Seconds to wait for the other processes.")
    flags.DEFINE_integer("seed", 1337, "Seed for weights, data order, masks.")
    flags.DEFINE_bool("resume", False,
                      "Continue the run in --model_dir from its checkpoint.")
    flags.DEFINE_integer("stop_after", None,
                         "Stop at this step (a multiple of --checkpoint_every) "
                         "for a later --resume to finish; the schedule still "
                         "spans --steps.")
    flags.DEFINE_integer("checkpoint_every", default("checkpoint_every", 500),
                         "Steps between checkpoints; must divide --steps.")
    flags.DEFINE_integer("eval_every", 0,
                         "Steps between validations (0: at the end only).")
    flags.DEFINE_integer("validation_batches", 0,
                         "Batches per validation (0: all of it).")


class AutoBoolParser(flags.ArgumentParser):
    """"auto", or a boolean as absl spells it (true/false, 1/0, yes/no)."""

    def parse(self, argument):
        if argument in ("auto", True, False):
            return argument
        text = str(argument).strip().lower()
        if text in ("true", "t", "1", "yes", "y", "on"):
            return True
        if text in ("false", "f", "0", "no", "n", "off"):
            return False
        if text == "auto":
            return "auto"
        raise ValueError(f"must be auto, true or false; got {argument!r}")

    def flag_type(self):
        return "auto or bool"


class AutoBoolFlag(flags.Flag):
    """A boolean flag that also takes `auto`, its default: `--xla`,
    `--noxla`, `--xla=false` and `--xla=auto` all parse."""

    def __init__(self, name, help_string):
        super().__init__(AutoBoolParser(), None, name, "auto", help_string,
                         boolean=True)

    def serialize(self):
        if self.value == "auto":
            return f"--{self.name}=auto"
        return f"--{self.name}" if self.value else f"--no{self.name}"


BEGAN = time.perf_counter()  # the recipe's start, for its summary
FIXED_SHAPES = True  # define_flags' fixed_shapes: what --xla=auto knows
BACKBONE = None  # define_flags' backbone class
CHOICE = None  # start's machine.Choice: the precision and XLA of the run


def start(recipe_name):
    """Devices, seed, dtype policy, model dir and `flags.txt`; returns the
    dir."""
    run.check_intervals(FLAGS.steps, FLAGS.checkpoint_every, FLAGS.eval_every,
                        FLAGS.stop_after)
    if FLAGS.distribution == "mirrored" and FLAGS.gradient_accumulation > 1:
        raise ValueError(  # Keras would clip each replica's share alone
            "--gradient_accumulation is not supported with "
            "--distribution=mirrored; give a larger --batch_size instead.")
    # First: TensorFlow's devices can be set up only before it runs.
    replicas = distribution.use(FLAGS.distribution, FLAGS.devices, mesh(),
                                processes())
    distribution.check_batch(FLAGS.batch_size, replicas)
    global CHOICE
    CHOICE = machine.choose(FLAGS.precision, FLAGS.xla,
                            fixed_shapes=FIXED_SHAPES, width=model_width())
    model_dir = FLAGS.model_dir
    record = run_record(CHOICE)
    # Data flags by their files' contents: data moved elsewhere resumes;
    # `--precision=auto` by what it chose.
    compared = (recipe_flags() - NOT_TRAINING - set(DATA_FLAGS)) | {
        "#" + name for name in DATA_FLAGS if name not in NOT_TRAINING} | {
        "#precision"}
    run.check_model_dir_for(model_dir, recipe_name, record, FLAGS.resume,
                            compared)
    # Every process has seen --model_dir as it was: none writes before this.
    distribution.check_same_everywhere("\n".join(
        line for line in FLAGS.flags_into_string().splitlines()
        if not line.startswith("--process_id")))
    console.say(console.devices())
    console.say(CHOICE.line())
    if replicas > 1:
        console.say(f"{FLAGS.distribution} over {replicas} devices: "
                    f"{FLAGS.batch_size // replicas} examples each per step.")
    keras.utils.set_random_seed(FLAGS.seed)
    keras.mixed_precision.set_global_policy(CHOICE.precision)
    if distribution.process_index() > 0:  # computes all, writes nothing
        model_dir = run.private_model_dir(model_dir, FLAGS.resume)
        console.say(f"Process {distribution.process_index()} writes to its "
                    f"own {model_dir}; process 0 writes --model_dir.")
    os.makedirs(model_dir, exist_ok=True)
    files.remove_leftovers(model_dir)  # of a killed run
    if not FLAGS.resume:
        run.start_afresh(model_dir)
    files.write_text(os.path.join(model_dir, "flags.txt"), record)
    console.say(f"Writing to {model_dir}")
    return model_dir


def model_width():
    """d_model of the model the run trains (from --init_from's files, else
    --preset and --override), or None: what --precision=auto weighs."""
    if "init_from" in FLAGS and FLAGS.init_from:
        return finetune.pretrained_width(FLAGS.init_from)
    if BACKBONE is None:
        return None
    return BACKBONE.preset_config(
        FLAGS.preset, **parse_overrides(FLAGS.override)).get("hidden_dim")


# Flags that do not change what is trained: a --resume may change them.
# Every other flag, and the data files' contents, must stay as they were.
NOT_TRAINING = {
    "model_dir", "resume", "stop_after", "eval_every", "validation_batches",
    "steps_per_execution", "xla", "distribution", "devices", "mesh",
    "coordinator_address", "num_processes", "process_id",
    "coordinator_timeout", "samples", "temperature", "top_k", "num_beams",
    "length_penalty", "decode_batch_size", "test_examples", "test_file",
    "test_source", "test_target",
}
# Flags that name data files or folders (and the pretrained model): their
# contents are fingerprinted.
DATA_FLAGS = ("train_files", "validation_files", "train_file",
              "validation_file", "test_file", "vocabulary_file",
              "train_source", "train_target", "validation_source",
              "validation_target", "test_source", "test_target", "init_from")


def recipe_flags():
    """The names of the flags this recipe and this module define: every
    flag but those of absl and the frameworks (logging, TPU tracing)."""
    frameworks = ("absl.", "tensorflow.", "keras.", "jax.", "tf_keras.")
    return {flag.name for module, defined in FLAGS.flags_by_module_dict().items()
            if not module.startswith(frameworks) for flag in defined}


def run_record(choice):
    """flags.txt: the recipe's flags (an absl flagfile, reusable with
    --flagfile), preceded by comment lines with the SHA-256 of each data
    file a data flag names, so that a --resume can tell that the data
    changed, and with what `--precision=auto` and `--xla=auto` chose
    (`choice`, a `machine.Choice`), so that a --resume elsewhere cannot
    change the precision unseen."""
    lines = [f"# auto --{name}={value}" for name, value, given in (
        ("precision", choice.precision, FLAGS.precision),
        ("xla", str(choice.xla).lower(), FLAGS.xla)) if given == "auto"]
    for name in DATA_FLAGS:
        if name in FLAGS and FLAGS[name].value:
            lines.append(f"# data --{name} sha256={data_fingerprint(name)}")
    return "\n".join(lines + [FLAGS.flags_into_string()])


def data_fingerprint(name):
    """SHA-256 of the files flag `name` names: each file's name within
    its folder, size and contents, in order; a folder's every file."""
    value = FLAGS[name].value
    digest = hashlib.sha256()
    for path in [value] if isinstance(value, str) else value:
        matched = sorted(glob.glob(path)) if any(c in path for c in "*?[") \
            else [path]
        if not matched or not all(os.path.exists(p) for p in matched):
            raise FileNotFoundError(f"--{name}: data file {path!r} does "
                                    "not exist.")
        for match in matched:
            if os.path.isfile(match):
                found = [match]
                base = os.path.dirname(match)
            else:
                found = sorted(os.path.join(root, file_name)
                               for root, _, names in os.walk(match)
                               for file_name in names)
                base = match
            for file_path in found:
                digest.update(f"{os.path.relpath(file_path, base)}:"
                              f"{os.path.getsize(file_path)}:".encode())
                with open(file_path, "rb") as file:
                    for block in iter(lambda: file.read(1 << 20), b""):
                        digest.update(block)
    return digest.hexdigest()[:16]


def main(function):
    """`absl.app.run(function)`. An error ends the recipe with one line on
    stderr, what was wrong and what to do, and exit status 1; with
    --verbosity=1, with its traceback."""

    def reported(argv):
        if logging.get_verbosity() < logging.DEBUG:
            console.one_line_warnings()
        try:
            return function(argv)
        except Exception as error:
            if logging.get_verbosity() >= logging.DEBUG:
                raise
            lines = (getattr(error, "message", None) or str(error)
                     ).strip().splitlines() or [type(error).__name__]
            # A TensorFlow op's error ends with the failed check's message.
            message = lines[-1] if hasattr(error, "op") else lines[0]
            if not isinstance(error, (ValueError, OSError, FloatingPointError,
                                      RuntimeError)):
                message = (f"{type(error).__name__}: {message}\n(Not an "
                           "input zoo checks: --verbosity=1 shows where "
                           "it came from, and TF_CPP_MIN_LOG_LEVEL=0 "
                           "TensorFlow's own log.)")
            print(f"{os.path.basename(sys.argv[0])}: error: {message}",
                  file=sys.stderr)
            sys.exit(1)

    app.run(reported)


def mesh():
    """--mesh as (batch, model), or None."""
    if not FLAGS.mesh:
        return None
    try:
        batch, model = (int(size) for size in FLAGS.mesh)
    except ValueError:
        raise ValueError(f"--mesh={','.join(FLAGS.mesh)} is not BATCH,MODEL "
                         "(two whole numbers).") from None
    return batch, model


def processes():
    """The `distribution.Cluster` of a multi-process run, or None."""
    return distribution.cluster(
        FLAGS.coordinator_address, FLAGS.num_processes, FLAGS.process_id,
        FLAGS.coordinator_timeout,
        launchers=FLAGS.distribution == "data_parallel")


def corpus():
    """`(train_documents, validation_documents)` from the data flags."""
    if FLAGS.train_files:
        documents = corpora.read_documents(FLAGS.train_files)
    else:
        documents = corpora.default_corpus()
        console.say("No --train_files: training on the embedded pydoc_data "
                    "corpus.")
    if FLAGS.validation_files:
        return documents, corpora.read_documents(FLAGS.validation_files)
    return corpora.split_documents(documents, FLAGS.validation_fraction)


def tokenizer(model_dir, train_documents):
    """Train the tokenizer, or reload it when resuming a run."""
    directory = os.path.join(model_dir, "tokenizer")
    if FLAGS.resume and os.path.exists(os.path.join(directory, "tokenizer.json")):
        return tokenizers.load_tokenizer(directory)
    result = tokenizers.train_tokenizer(
        FLAGS.tokenizer, train_documents, FLAGS.vocabulary_size, FLAGS.lowercase
    )
    save_tokenizer(result, model_dir)
    # Each process of a multi-process run trains its own: they must agree.
    distribution.check_same_everywhere("\n".join(
        open(os.path.join(directory, name), encoding="utf-8",
             errors="replace").read()
        for name in sorted(os.listdir(directory))), "tokenizer")
    return result


def parse_overrides(items):
    """["num_layers=2", "dropout=0.0"] -> {"num_layers": 2, "dropout": 0.0}."""
    overrides = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--override={item!r} is not KEY=VALUE.")
        try:
            overrides[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[key] = value  # a bare string, e.g. activation=gelu
    return overrides


def check_override_types(config, overrides):
    """Refuse an --override whose value is not of the preset's type (a
    float for a size, text for a number) or out of range (a size below 1,
    a dropout rate outside [0, 1))."""
    names = {bool: "true or false", int: "a whole number",
             float: "a number", str: "text"}
    for key, value in overrides.items():
        expected = type(config.get(key))
        if expected not in names:
            continue
        fits = (isinstance(value, expected) and not (
                    expected is int and isinstance(value, bool))
                or expected is float and isinstance(value, int)
                and not isinstance(value, bool))
        if not fits:
            raise ValueError(
                f"--override={key}={value}: {key} must be {names[expected]} "
                f"(the preset has {config[key]!r}).")
        if expected is int and value < 1:
            raise ValueError(f"--override={key}={value}: {key} must be at "
                             "least 1.")
        if expected is float and not (math.isfinite(value) and value >= 0
                                      and ("dropout" not in key or value < 1)):
            raise ValueError(
                f"--override={key}={value}: {key} must be a finite number "
                f"{'in [0, 1)' if 'dropout' in key else 'of at least 0'}.")


def backbone(backbone_class, tokenizer):
    """The preset with overrides, sized to the tokenizer's vocabulary."""
    overrides = parse_overrides(FLAGS.override)
    if FLAGS.dropout is not None:
        overrides.setdefault("dropout", FLAGS.dropout)
    overrides["vocabulary_size"] = tokenizers.vocabulary_size(tokenizer)
    distribution.check_model_axis(
        backbone_class.preset_config(FLAGS.preset, **overrides))
    return backbone_class.from_preset(FLAGS.preset, **overrides)


def starting_point(model_dir, backbone_class, pretrain_recipe, texts):
    """`(backbone, tokenizer, head)` of a fine-tuning run.

    With `--init_from`, the pretrained backbone, its tokenizer and the
    head weights a fine-tuning task keeps (`finetune.load_pretrained`; a
    new `--dropout` and the run's precision apply; the architecture and vocabulary flags must
    not be given, since they come from the pretrained model). Without it,
    a tokenizer trained on `texts`, a new `--preset` backbone and {}.
    """
    if not FLAGS.init_from:
        result = tokenizer(model_dir, texts)
        return backbone(backbone_class, result), result, {}
    given = [f"--{name}" for name in ("preset", "override", "tokenizer",
                                      "vocabulary_size", "lowercase")
             if FLAGS[name].present]
    if given:
        raise ValueError(
            f"--init_from={FLAGS.init_from} brings its own architecture and "
            f"tokenizer; drop {', '.join(given)}."
        )
    pretrained, result, head = finetune.load_pretrained(
        FLAGS.init_from, backbone_class, pretrain_recipe
    )
    if FLAGS.dropout is not None:
        pretrained = finetune.rebuild(pretrained, dropout=FLAGS.dropout)
    if pretrained.dtype_policy.name != CHOICE.precision:  # saved in its own
        pretrained = finetune.rebuild(pretrained, dtype=CHOICE.precision)
    save_tokenizer(result, model_dir)
    return pretrained, result, head


def save_tokenizer(tokenizer, model_dir):
    """`model_dir/tokenizer/`, written whole or not at all."""
    directory = os.path.join(model_dir, "tokenizer")
    staging = files.staging_directory(directory)
    tokenizers.save_tokenizer(tokenizer, staging)
    files.publish(staging, directory)


def sequence_length(backbone):
    """Tokens per example, the one rule of every recipe: `--sequence_length`
    if given (more than the model's `max_sequence_length` is an error);
    otherwise the recipe's default, cut to the model's maximum."""
    limit = backbone.max_sequence_length
    if FLAGS["sequence_length"].present:
        if FLAGS.sequence_length > limit:
            raise ValueError(f"--sequence_length={FLAGS.sequence_length} "
                             f"exceeds the model's max_sequence_length {limit}.")
        length = FLAGS.sequence_length
    else:
        length = min(FLAGS.sequence_length or limit, limit)
    run.check_memory(backbone, FLAGS.batch_size, length)
    return length


def check_model_dir(model_dir, recipe_name, backbone, tokenizer, **extra):
    """Refuse a model dir that holds a different model (see run.py)."""
    config = {
        k: v for k, v in backbone.get_config().items()
        if k not in ("name", "dtype", "trainable")
    }
    run.prepare_model_dir(model_dir, {
        "recipe": recipe_name,
        "backbone": {"class": type(backbone).__name__, **config},
        "tokenizer": {"class": type(tokenizer).__name__,
                      "vocabulary_size": tokenizers.vocabulary_size(tokenizer)},
        **extra,
    }, FLAGS.resume)


def compile(task, hidden_dim):
    """Compile `task` with AdamW and the schedule the flags describe."""
    learning_rate = optimizers.schedule(
        FLAGS.schedule, FLAGS.learning_rate, FLAGS.steps, FLAGS.warmup_steps,
        FLAGS.final_learning_rate, FLAGS.decay_fraction, hidden_dim,
    )
    optimizer = optimizers.adamw(
        task, learning_rate, weight_decay=FLAGS.weight_decay,
        beta_1=FLAGS.beta_1, beta_2=FLAGS.beta_2, clipnorm=FLAGS.clipnorm,
        gradient_accumulation_steps=FLAGS.gradient_accumulation,
    )
    jit_compile, steps_per_execution = distribution.compile_arguments(
        FLAGS.distribution, CHOICE.xla,
        math.gcd(FLAGS.steps_per_execution, FLAGS.checkpoint_every))
    if FLAGS.distribution == "mirrored":
        console.say("mirrored: one step per call, without XLA (Keras 3.15 "
                    "cannot loop steps under MirroredStrategy, "
                    "keras-team/keras#19246).")
    task.compile(optimizer=optimizer, jit_compile=jit_compile,
                 steps_per_execution=steps_per_execution)


def train(task, train_data, validation_data, model_dir, tokens_per_step):
    """`zoo.training.run.train` with the flags' intervals; only process 0
    shows its progress."""
    quiet = distribution.process_index() > 0
    with open(os.devnull, "w") if quiet else contextlib.nullcontext() as out:
        return run.train(
            task, train_data, validation_data,
            model_dir=model_dir, steps=FLAGS.steps,
            checkpoint_every=FLAGS.checkpoint_every,
            eval_every=FLAGS.eval_every,
            validation_steps=FLAGS.validation_batches or None,
            tokens_per_step=tokens_per_step, stop_after=FLAGS.stop_after,
            stream=out,
        )


def finish(model_dir, metrics, results=(), generate=None, attention=None):
    """The run's summary: its metrics, wall time, what it wrote, and what
    to do next (export, and `zoo.show` commands).

    Args:
        model_dir: the run's directory.
        metrics: what `train` returned.
        results: lines of the recipe's own results (test scores).
        generate: a text to suggest `zoo.show generate` with, or None.
        attention: a text to suggest `zoo.show attention` with.
    """
    if distribution.process_index() > 0:
        console.say(f"Process {distribution.process_index()} done (weights "
                    f"sha256 {metrics['weights_sha256']}); process 0 wrote "
                    "--model_dir.")
        return
    seconds = time.perf_counter() - BEGAN
    say = console.say
    say(f"\nDone: {metrics['steps']:,} steps in {clock(seconds)} "
        f"(training {clock(metrics['train_seconds'])}).")
    say("  validation: " + ", ".join(
        f"{name} {value:.4f}" for name, value in sorted(
            metrics["validation"].items(), key=lambda kv: kv[0] != "loss")))
    for line in results:
        say(f"  {line}")
    say(f"  weights sha256 {metrics['weights_sha256']} (the same on a rerun "
        "of the same command on this machine)")
    written = sorted(name + ("/" if os.path.isdir(os.path.join(model_dir,
                                                                name)) else "")
                     for name in os.listdir(model_dir)
                     if not name.startswith("."))
    say(f"Wrote {model_dir}: {', '.join(written)}")
    name = os.path.basename(os.path.normpath(model_dir))
    directory = shlex.quote(model_dir)
    say("Next:")
    say(f"  python recipes/export.py --model_dir={directory} "
        f"--export_dir={shlex.quote('exports/' + name)}")
    for command, text in (("generate", generate), ("attention", attention)):
        if text is not None:
            say(f"  python -m zoo.show {command} --model_dir={directory} "
                f"--text={shlex.quote(text)}")
    say(f"  tensorboard --logdir={shlex.quote(os.path.join(model_dir, 'logs'))}")
