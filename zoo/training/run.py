"""A training run in a model dir: checkpoints, resume, logs, metrics.

A model dir written by a recipe holds

    run.json              what was trained (recipe, architecture, tokenizer)
    flags.txt             the resolved flags (reusable with --flagfile)
    tokenizer/            the tokenizer (see zoo.data.tokenizers)
    checkpoints/          the last good checkpoint: weights, optimizer
                          state, random-seed states, data position
                          (zoo.training.checkpoints)
    logs/                 TensorBoard logs
    metrics.json          final training and validation loss, tokens/s
    curves.png            loss, validation loss, learning rate and
                          throughput against the step
    model.keras           the final task, tokenizer included

Training runs in "epochs" of `checkpoint_every` steps: the checkpoint is
written at the end of each, so a run interrupted at any point resumes from
the last multiple of `checkpoint_every` exactly where it was (optimizer,
learning-rate schedule, dropout's random state, data position), and ends
with the weights an uninterrupted run ends with. Every file is written
whole or not at all (`zoo.files`): a failed or killed run never leaves a
half-written checkpoint or model, and never replaces a good one with a
NaN-poisoned one. docs/reliability.md has the guarantees.
"""

import atexit
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
import warnings

import keras
import numpy as np

from zoo import files
from zoo.training.checkpoints import Checkpoint
from zoo.training.checkpoints import optimizer_step
from zoo.training.checkpoints import read_json
from zoo.training.progress import Progress
from zoo.training.progress import draw_curves


def write_json(path, value):
    """Write `value` as JSON to `path` atomically."""
    files.write_text(path, json.dumps(value, indent=2, sort_keys=True) + "\n")


def prepare_model_dir(model_dir, description, resume):
    """Create `model_dir`, or check that it holds this same run.

    Args:
        model_dir: path.
        description: JSON-able dict of what is trained (recipe name,
            backbone config, tokenizer kind and size); a model dir holding
            a different description is refused.
        resume: bool. Continue a run already in `model_dir`; without it an
            existing run is refused rather than overwritten.
    """
    os.makedirs(model_dir, exist_ok=True)
    path = os.path.join(model_dir, "run.json")
    if os.path.exists(path):
        previous = read_json(path)
        if not resume:
            raise ValueError(
                f"{model_dir} already holds a run ({previous.get('recipe')}). "
                "Pass --resume to continue it, or choose a new --model_dir."
            )
        description = json.loads(json.dumps(description))  # tuples -> lists
        if previous != description:
            keys = sorted(
                key for key in set(previous) | set(description)
                if previous.get(key) != description.get(key)
            )
            details = "; ".join(
                f"{key}: {_difference(previous.get(key), description.get(key))}"
                for key in keys
            )
            raise ValueError(
                f"{model_dir} holds a different model than this run would "
                f"train ({details}). Use a new --model_dir, or the flags of "
                f"the run in it (see {os.path.join(model_dir, 'flags.txt')})."
            )
    write_json(path, description)


def check_model_dir_for(model_dir, recipe, record, resume, compared):
    """Refuse a `model_dir` this run must not write, before any work.

    Args:
        model_dir: the run's directory.
        recipe: the recipe's name.
        record: this run's flags.txt (`--name=value` lines,
            `# data --name sha256=...` lines for the data files and
            `# auto --name=value` lines for what `auto` chose).
        resume: the run continues the one in `model_dir`. Without it, a
            run there is refused, unless it stopped before its first
            checkpoint (then this run starts it anew).
        compared: names of the flags that change what is trained, and
            "#name" for data flags whose files' contents count (or for
            what flag --name's `auto` chose); on
            `resume` each must be as the run in `model_dir` had it.
    """
    if os.path.exists(model_dir) and not os.path.isdir(model_dir):
        raise ValueError(f"--model_dir={model_dir} is a file; give a "
                         "directory (new, or a run's to --resume).")
    flags_path = os.path.join(model_dir, "flags.txt")
    description = os.path.join(model_dir, "run.json")
    # A run killed while writing its first file leaves only a partial one.
    has_run = os.path.exists(flags_path) or os.path.exists(description) or (
        os.path.isdir(model_dir) and any(
            name.startswith(".flags.txt.") for name in os.listdir(model_dir)))
    if not resume:
        trained = (Checkpoint(os.path.join(model_dir, "checkpoints")).exists()
                   or os.path.exists(os.path.join(model_dir, "model.keras")))
        if has_run and trained:
            previous = (read_json(description).get("recipe")
                        if os.path.exists(description) else recipe)
            raise ValueError(
                f"{model_dir} already holds a run ({previous}). Pass "
                "--resume to continue it, or choose a new --model_dir.")
        return
    if not has_run:
        raise ValueError(
            f"--resume: {model_dir} holds no run to resume (no flags.txt); "
            "drop --resume to start one there.")
    if not os.path.exists(flags_path) and not os.path.exists(description):
        return  # killed in its first write: it starts anew
    with open(flags_path, encoding="utf-8") as file:
        before = _parse_record(file.read())
    now = _parse_record(record)
    changed = [name for name in sorted(set(before) | set(now))
               if name in compared and before.get(name) != now.get(name)]
    if changed:
        details = "; ".join(
            f"--{name.lstrip('#')}: {_shown(before.get(name))} there, "
            f"{_shown(now.get(name))} here" for name in changed)
        raise ValueError(
            f"--resume would change what the run in {model_dir} trains "
            f"({details}). Resume with the flags in {flags_path}, or start "
            "a new --model_dir.")


def _parse_record(text):
    """flags.txt -> {flag name: [values]}, and {"#name": [fingerprint]}
    for the files of data flag --name."""
    parsed = {}
    for line in text.splitlines():
        if line.startswith("# data --"):
            name, _, digest = line[len("# data --"):].partition(" sha256=")
            parsed["#" + name] = [f"files with sha256 {digest}"]
        elif line.startswith("# auto --"):  # what --name=auto chose
            name, _, value = line[len("# auto --"):].partition("=")
            parsed["#" + name] = [f"auto, which chose {value}"]
        elif line.startswith("--"):
            name, sep, value = line[2:].partition("=")
            if not sep:  # a boolean: --name or --noname
                value = "true"
                if name.startswith("no"):
                    parsed.setdefault(name[2:], []).append("false")
                    continue
            parsed.setdefault(name, []).append(value)
    for values in parsed.values():
        values.sort()  # --override=a=1 --override=b=2 in any order
    return parsed


def _shown(values):
    return "not given" if values is None else ",".join(values) or "empty"


def start_afresh(model_dir):
    """Remove what a run that stopped before its first checkpoint left
    in `model_dir` (its description and metrics), so that a new run can
    start there; `check_model_dir_for` allowed it. Process 0 only."""
    for name in ("run.json", "metrics.json"):
        path = os.path.join(model_dir, name)
        if os.path.exists(path):
            os.remove(path)


def private_model_dir(model_dir, resume):
    """A temporary model dir, deleted at exit, for a process that computes
    a run but must not write `model_dir` (every process but 0 of a
    multi-process run). To resume, it starts as a copy of `model_dir`, so
    that every process reads the same checkpoint."""
    if resume and not os.path.isdir(model_dir):
        raise ValueError(
            f"--resume: this process cannot see {model_dir}; every process "
            "of a run reads its checkpoint, so it must be on a file system "
            "they all see.")
    directory = tempfile.mkdtemp(prefix="zoo_process_")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    if resume:
        shutil.copytree(model_dir, directory, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("logs", ".*"))
    return directory


def _difference(old, new):
    if isinstance(old, dict) and isinstance(new, dict):
        keys = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        return ", ".join(f"{k} {old.get(k)!r} there, {new.get(k)!r} here"
                         for k in keys)
    return f"{old!r} there, {new!r} here"


class CheckpointAndGuard(keras.callbacks.Callback):
    """Save a checkpoint at the end of each epoch; stop on a NaN loss.

    A non-finite loss raises `FloatingPointError` at once, before anything
    is saved, so the last checkpoint stays the last good one; so does
    training data that ran out inside an epoch (`ValueError`).
    """

    def __init__(self, checkpoint, every, saved_step=None, history=None):
        super().__init__()
        self.checkpoint = checkpoint
        self.every = every  # steps per epoch: a checkpoint's step divides by it
        self.saved_step = saved_step
        self.history = history  # Progress's points, saved with the state

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(float(loss)):
            step = optimizer_step(self.model)
            kept = (f"The last good checkpoint (step {self.saved_step}) is "
                    f"kept in {self.checkpoint.directory}."
                    if self.checkpoint.exists() else "No checkpoint was saved.")
            raise FloatingPointError(
                f"The training loss became {float(loss)} by step {step}. "
                f"{kept} Lower --learning_rate, add warmup, or train in "
                "float32."
            )

    def on_epoch_end(self, epoch, logs=None):
        step = optimizer_step(self.model)
        if step != (epoch + 1) * self.every:
            # Keras ends an epoch early, with a warning, when the data end.
            raise ValueError(
                f"The training data ran out at step {step}, inside the epoch "
                f"that ends at step {(epoch + 1) * self.every}. Training data "
                "must repeat without end. The last checkpoint (step "
                f"{self.saved_step}) is kept.")
        loss = (logs or {}).get("loss")
        self.saved_step = self.checkpoint.save(
            self.model, train_loss=None if loss is None else float(loss),
            history=self.history or [])


def train(task, train_data, validation_data, *, model_dir, steps,
          checkpoint_every, eval_every=0, validation_steps=None,
          tokens_per_step=None, stop_after=None, stream=None):
    """Fit `task` for `steps` batches in `model_dir`, resuming if it can.

    Args:
        task: a compiled zoo task.
        train_data: an endless `tf.data` dataset of training batches that
            starts at the resumed step (see `resumed_step`).
        validation_data: a finite dataset, evaluated every `eval_every`
            steps (0: only at the end).
        steps: total number of training batches.
        checkpoint_every: steps between checkpoints; divides `steps`.
        tokens_per_step: for the tokens/s figure.
        stop_after: stop at this step (a checkpoint), leaving a run that a
            resumed `train` finishes; the schedule still spans `steps`.
        stream: where the progress is printed (default: stdout).

    Returns:
        The metrics dict also written to `metrics.json`; `curves.png`
        shows the run's losses, learning rate and throughput.
    """
    check_intervals(steps, checkpoint_every, eval_every, stop_after)
    checkpoint = Checkpoint(os.path.join(model_dir, "checkpoints"))
    if not task.built:  # create every variable before restoring them
        inputs = keras.utils.unpack_x_y_sample_weight(
            next(iter(validation_data)))[0]
        task(inputs)
    state = checkpoint.restore(task)
    start = state.get("step", 0)
    if state and state["step"] != optimizer_step(task):
        raise ValueError(f"The checkpoint in {checkpoint.directory} is "
                         f"inconsistent: state.json says step {state['step']}"
                         f", its optimizer {optimizer_step(task)}.")
    if start:
        print(f"Resuming from step {start} ({checkpoint.latest()}).",
              file=stream or sys.stdout, flush=True)
    epochs = steps // checkpoint_every
    end = min(steps, stop_after or steps)
    if eval_every:
        validation_freq = eval_every // checkpoint_every
    else:
        validation_freq = [epochs]
    history = list(state.get("history", []))  # a resumed run's points
    callbacks = [  # in this order: the checkpoint saves Progress's points
        Progress(start, end, steps, history, tokens_per_step, stream),
        CheckpointAndGuard(checkpoint, checkpoint_every,
                           saved_step=start or None, history=history),
        keras.callbacks.TensorBoard(os.path.join(model_dir, "logs"),
                                    update_freq="epoch"),
    ]
    began = time.perf_counter()
    losses = {}
    if start < end:
        with warnings.catch_warnings():
            # Keras says this when validation data end inside a multi-step
            # call (expected: they are finite); training data that end too
            # soon are refused by CheckpointAndGuard instead.
            warnings.filterwarnings("ignore", "Your input ran out of data")
            losses = task.fit(
                train_data,
                epochs=end // checkpoint_every,
                initial_epoch=start // checkpoint_every,
                steps_per_epoch=checkpoint_every,
                validation_data=validation_data,
                validation_steps=validation_steps,
                validation_freq=validation_freq,
                callbacks=callbacks,
                shuffle=False,  # the datasets are shuffled (and seeded)
                verbose=0,  # Progress prints instead
            ).history
    seconds = time.perf_counter() - began
    trained = max(end - start, 0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Your input ran out of data")
        validation = task.evaluate(validation_data, steps=validation_steps,
                                   verbose=0, return_dict=True)
    metrics = {
        "steps": max(end, start),
        "resumed_from_step": start,
        "train_loss": _last(losses.get("loss") or [state.get("train_loss")]),
        "validation_loss": float(validation["loss"]),
        "validation": {k: float(v) for k, v in validation.items()},
        "train_seconds": round(seconds, 2),
    }
    if tokens_per_step and trained:
        metrics["tokens_per_second"] = round(tokens_per_step * trained / seconds)
    metrics["weights_sha256"] = weights_digest(task)
    write_json(os.path.join(model_dir, "metrics.json"), metrics)
    save_model(task, os.path.join(model_dir, "model.keras"))
    if history:
        try:
            draw_curves(history, os.path.join(model_dir, "curves.png"),
                        f"Training {type(task).__name__}"
                        f"({type(task.backbone).__name__}) in {model_dir}")
        except Exception as error:  # a picture is not worth the run
            warnings.warn(f"curves.png was not drawn: {error}")
    return metrics


def check_memory(backbone, batch_size, sequence_length, available=None):
    """Refuse a training step that cannot fit in this machine's memory.

    A lower estimate: 16 bytes per parameter (float32 weights, gradients
    and Adam's two moments) plus the activations a backward pass keeps,
    sbh(34 + 5as/h) bytes per layer at 16 bits (Korthikanti et al. 2022,
    "Reducing Activation Recomputation in Large Transformer Models",
    eq. 1), doubled for float32; an encoder-decoder's decoder layers count
    twice. Checked only when training on the CPU (the host's memory);
    `available` defaults to the system's MemAvailable.
    """
    available = available or _available_memory()
    if available is None or any(
            "cpu" not in device.lower()
            for device in keras.distribution.list_devices()):
        return
    config = backbone.get_config()
    layers = config["num_layers"] * (3 if "norm_first" in config else 1)
    s, b = sequence_length, batch_size
    h, a = config["hidden_dim"], config["num_heads"]
    activations = 2 * layers * s * b * h * (34 + 5 * a * s / h)
    needed = 16 * backbone.count_params() + activations
    if needed > available:
        raise ValueError(
            f"--batch_size={batch_size} of {sequence_length} tokens needs "
            f"at least {needed / 2**30:,.1f} GiB for a training step of this "
            f"model; this machine has {available / 2**30:,.1f} GiB free. "
            "Lower --batch_size (--gradient_accumulation keeps the batch "
            "per update) or --sequence_length.")


def _available_memory():
    """Bytes of memory available to a new allocation, or None."""
    try:
        with open("/proc/meminfo") as file:
            for line in file:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def weights_digest(model):
    """SHA-256 of every weight's bytes, in order: the processes of one run
    must end with the same digest."""
    digest = hashlib.sha256()
    for weight in model.weights:
        digest.update(np.ascontiguousarray(
            keras.ops.convert_to_numpy(weight)).tobytes())
    return digest.hexdigest()[:16]


def resumed_step(model_dir):
    """The batches a run in `model_dir` has read, where its data resumes
    (0 for a new run)."""
    state = Checkpoint(os.path.join(model_dir, "checkpoints")).state()
    return state.get("batches_read", 0)


def check_intervals(steps, checkpoint_every, eval_every, stop_after=None):
    if steps < 1 or checkpoint_every < 1:
        raise ValueError("--steps and --checkpoint_every must be positive.")
    if stop_after is not None and (
            not 0 < stop_after <= steps or stop_after % checkpoint_every):
        raise ValueError(
            f"--stop_after={stop_after} must be a multiple of "
            f"--checkpoint_every={checkpoint_every} up to --steps={steps}.")
    if steps % checkpoint_every:
        raise ValueError(
            f"--checkpoint_every={checkpoint_every} must divide --steps={steps} "
            "(a run resumes at multiples of it)."
        )
    if eval_every and eval_every % checkpoint_every:
        raise ValueError(
            f"--eval_every={eval_every} must be a multiple of "
            f"--checkpoint_every={checkpoint_every}."
        )


def save_model(task, path):
    """`task.save(path)`, written to a temporary file and renamed."""
    files.write_with(path, task.save)


def _last(values):
    if not values or values[-1] is None:
        return None
    value = float(values[-1])
    return value if math.isfinite(value) else None
