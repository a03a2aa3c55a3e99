"""What a training run prints while it runs, and the curves it draws.

`Progress` replaces Keras' per-epoch progress bar (a run's "epochs" are
only its checkpoint intervals) with one bar over the run's steps, showing
the mean training loss of the steps since the last report:

    step  500/1000 [##########----------]  50% | 1:12 left | loss 4.8120 | lr 1.00e-03 | 2,410 tok/s
    step  500/1000 validation: loss 4.9034, accuracy 0.2210

On a terminal the bar is redrawn in place; in a log (not a terminal) a
line is printed at each checkpoint. On JAX the learning rate shown is the
one read at the last checkpoint (reading it copies the training state). Each point it shows is kept in
`history` (step, loss, learning rate, tokens/s, validation metrics),
which the checkpoint saves, so that `curves.png` covers a resumed run
from its first step.
"""

import math
import shutil
import sys
import time

import keras

from zoo import pictures

BAR = 20  # characters


class Progress(keras.callbacks.Callback):
    """One progress line over steps `start`..`end` of `total`.

    Args:
        start: the step training starts from (a resumed run's checkpoint).
        end: the step it stops at (`total`, or `--stop_after`).
        total: the run's steps.
        history: the list of points to extend (a resumed run's, from its
            checkpoint); each point is a dict with a "step".
        tokens_per_step: tokens in one batch, for tokens/s; None: steps/s.
        stream: where to print; a terminal gets a bar redrawn in place.
        seconds: at most one redraw per this many seconds on a terminal.
    """

    def __init__(self, start, end, total, history, tokens_per_step=None,
                 stream=None, seconds=0.5):
        super().__init__()
        self.start, self.end, self.total = start, end, total
        self.history = history
        self.tokens_per_step = tokens_per_step
        self.stream = stream or sys.stdout
        self.terminal = self.stream.isatty()
        self.seconds = seconds
        self.keep_every = max(1, total // 500)  # at most ~500 points kept
        self.jax = keras.backend.backend() == "jax"

    def on_train_begin(self, logs=None):
        self.began = self.last_time = time.perf_counter()
        self.last_step = self.start
        self.first_step = None  # the first report includes compilation
        self.shown = 0.0
        self.line = ""
        self.open = False  # a terminal line drawn without its newline
        self.rate = None  # the learning rate last read

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
        self.summed, self.counted = 0.0, 0  # Keras' loss: the epoch's mean

    def _recent_loss(self, mean, count):
        """The mean loss of the steps since the last report, from Keras'
        running mean over the epoch's first `count` steps."""
        summed = mean * count
        recent = (summed - self.summed) / max(count - self.counted, 1)
        self.summed, self.counted = summed, count
        return recent

    def on_train_batch_end(self, batch, logs=None):
        if not logs or "loss" not in logs:
            return
        step = self.epoch * self.params["steps"] + batch + 1
        now = time.perf_counter()
        rate = (step - self.last_step) / max(now - self.last_time, 1e-9)
        loss = self._recent_loss(float(logs["loss"]), batch + 1)
        if self.rate is None or not self.jax:
            self.rate = self._learning_rate()
        point = {"step": step, "loss": loss, "learning_rate": self.rate,
                 "steps_per_second": rate}
        if self.first_step is None:  # time from here on: compiled
            self.first_step, self.first_time = step, now
            point["compiling"] = True  # its rate includes compiling
        self.last_step, self.last_time = step, now
        if self.tokens_per_step:
            point["tokens_per_second"] = rate * self.tokens_per_step
        if step % self.keep_every == 0 or step == self.end:
            self.history.append(point)
        self.line = self._describe(point, now)
        if self.terminal and (now - self.shown >= self.seconds
                              or step == self.end):
            self.shown = now
            self._redraw()

    def _redraw(self):
        """The bar in place: back to the line's start, the line cut to the
        terminal's width, the rest of the line cleared."""
        width = shutil.get_terminal_size().columns - 1
        self.stream.write("\r" + self.line[:width] + "\x1b[K")
        self.stream.flush()
        self.open = True  # a line without its newline yet

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        step = (epoch + 1) * self.params["steps"]
        if self.jax:  # the state is synced at a checkpoint anyway
            self.rate = self._learning_rate()
        if not self.terminal and self.line:  # a log: one line per checkpoint
            self.stream.write(self.line + "\n")
        validation = {k[4:]: float(v) for k, v in logs.items()
                      if k.startswith("val_")}
        if validation:
            if self.open:
                self._redraw()  # the epoch's last step, then a new line
                self.stream.write("\n")
                self.open = False
            self.stream.write(validation_line(step, self.total, validation)
                              + "\n")
            self.history.append({"step": step, "validation": validation})
        self.stream.flush()

    def on_train_end(self, logs=None):
        if self.open:
            self.stream.write("\n")
            self.stream.flush()
            self.open = False

    def _learning_rate(self):
        # On JAX `self.model` copies the whole training state back into
        # the variables: read at checkpoints only (and once at the start).
        optimizer = self.model.optimizer
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))

    def _describe(self, point, now):
        step = point["step"]
        done = step / self.total
        filled = int(BAR * done)
        parts = [f"step {step:>{len(str(self.total))}}/{self.total} "
                 f"[{'#' * filled}{'-' * (BAR - filled)}] {done:4.0%}"]
        if step > self.first_step:  # a rate without compile time
            per_step = (now - self.first_time) / (step - self.first_step)
            parts.append(f"{clock((self.end - step) * per_step)} left")
        else:
            parts.append("compiling")
        parts.append(f"loss {point['loss']:.4f}")
        parts.append(f"lr {point['learning_rate']:.2e}")
        if "tokens_per_second" in point:
            parts.append(f"{point['tokens_per_second']:,.0f} tok/s")
        else:
            parts.append(f"{point['steps_per_second']:.2f} steps/s")
        return " | ".join(parts)


def validation_line(step, total, metrics):
    """`step 500/1000 validation: loss 4.9034, accuracy 0.2210`."""
    shown = ", ".join(f"{name} {value:.4f}" for name, value in
                      sorted(metrics.items(), key=lambda kv: kv[0] != "loss"))
    return f"step {step:>{len(str(total))}}/{total} validation: {shown}"


def clock(seconds):
    """`1:05:09`, `4:09` or `0:07`."""
    seconds = int(math.ceil(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{minutes}:{seconds:02d}"


def draw_curves(history, path, title):
    """`curves.png`: training and validation loss, learning rate and
    throughput against the step, from `Progress.history` points."""
    trained = [p for p in history if "loss" in p]
    validated = [p for p in history if "validation" in p]
    fig, axes = pictures.figure(1, 3, width=4.6, height=3.4)
    loss, rate, speed = axes[0]
    loss.plot([p["step"] for p in trained], [p["loss"] for p in trained],
              label="training", linewidth=1)
    if validated:
        loss.plot([p["step"] for p in validated],
                  [p["validation"]["loss"] for p in validated],
                  "o-", label="validation")
    loss.set(title="Loss", xlabel="step", ylabel="cross-entropy (nats)")
    loss.legend()
    rate.plot([p["step"] for p in trained],
              [p["learning_rate"] for p in trained])
    rate.set(title="Learning rate", xlabel="step", ylabel="learning rate")
    rate.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    unit = ("tokens_per_second" if trained and "tokens_per_second" in
            trained[0] else "steps_per_second")
    timed = [p for p in trained if not p.get("compiling")]
    speed.plot([p["step"] for p in timed], [p[unit] for p in timed], ".-")
    speed.set(title="Throughput", xlabel="step",
              ylabel=unit.replace("_per_", "/").replace("_", " "))
    speed.set_ylim(bottom=0)
    fig.suptitle(title)
    return pictures.save(fig, path)
