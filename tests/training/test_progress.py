"""The progress line: steps, the recent loss, terminal and log output."""

import io
import types

import numpy as np

from zoo.training.progress import Progress
from zoo.training.progress import clock


class Terminal(io.StringIO):
    def isatty(self):
        return True


def drive(stream, losses, steps_per_epoch=4, every=2, validate=True):
    """Run a Progress over batches whose losses are `losses`, as Keras
    reports them: every `every` steps, the mean since the epoch began."""
    history = []
    progress = Progress(0, len(losses), len(losses), history,
                        tokens_per_step=10, stream=stream, seconds=0.0)
    progress.set_params({"steps": steps_per_epoch})
    progress.set_model(types.SimpleNamespace(
        optimizer=types.SimpleNamespace(learning_rate=np.float32(0.5))))
    progress.on_train_begin()
    for epoch in range(len(losses) // steps_per_epoch):
        progress.on_epoch_begin(epoch)
        epoch_losses = losses[epoch * steps_per_epoch:
                              (epoch + 1) * steps_per_epoch]
        for batch in range(every - 1, steps_per_epoch, every):
            mean = float(np.mean(epoch_losses[:batch + 1]))
            progress.on_train_batch_end(batch, {"loss": mean})
        progress.on_epoch_end(epoch, {"val_loss": 1.0} if validate else {})
    progress.on_train_end()
    return history


def test_each_point_is_the_mean_loss_since_the_last_report():
    losses = [8.0, 6.0, 4.0, 2.0, 3.0, 1.0, 5.0, 7.0]
    history = drive(io.StringIO(), losses)
    trained = [(p["step"], p["loss"]) for p in history if "loss" in p]
    assert trained == [(2, 7.0), (4, 3.0), (6, 2.0), (8, 6.0)]
    assert [p["learning_rate"] for p in history if "loss" in p] == [0.5] * 4
    assert [p["step"] for p in history if "validation" in p] == [4, 8]


def test_a_log_gets_a_line_per_checkpoint_and_each_validation():
    stream = io.StringIO()
    drive(stream, [1.0] * 8)
    lines = stream.getvalue().splitlines()
    assert [line.split(" [")[0].split(" validation")[0] for line in lines] == [
        "step 4/8", "step 4/8", "step 8/8", "step 8/8"]
    assert lines[1] == "step 4/8 validation: loss 1.0000"
    assert "| lr 5.00e-01 |" in lines[0] and lines[0].endswith(" tok/s")


def test_a_terminal_redraws_one_line_and_ends_it_once(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    stream = Terminal()
    drive(stream, [1.0] * 8, validate=False)
    text = stream.getvalue()
    assert "\n" not in text[:-1] and text.endswith("\n")  # one line
    assert text.count("\r") == 4  # a redraw per report, cleared to its end
    assert text.rstrip("\n").endswith("tok/s\x1b[K")

    stream = Terminal()
    drive(stream, [1.0] * 8)
    shown = [line.rsplit("\r", 1)[-1] for line in
             stream.getvalue().split("\n") if line]
    assert [line.split(" [")[0].split(" validation")[0] for line in shown] == [
        "step 4/8", "step 4/8", "step 8/8", "step 8/8"]


def test_clock():
    assert [clock(s) for s in (0, 6.2, 249, 3909)] == [
        "0:00", "0:07", "4:09", "1:05:09"]


def test_a_terminal_line_is_cut_to_its_width(monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    stream = Terminal()
    drive(stream, [1.0] * 8, validate=False)
    drawn = stream.getvalue().strip("\n").split("\r")[1:]
    assert len(drawn) == 4
    assert all(len(line.removesuffix("\x1b[K")) == 39 for line in drawn)
