"""What a person sees when a recipe runs: the zoo's lines, no framework
noise, a progress line, validation lines, a summary, and pictures."""

import json
import os
import re
import subprocess
import warnings

import pytest
from recipe_runner import PRETRAINING
from recipe_runner import assert_png
from recipe_runner import command

from zoo import console

# What TensorFlow, CUDA probing, absl and Keras print by themselves.
NOISE = [
    r"^[IWEF]\d{4} ",  # a C++ log line: I0000 00:00:..., W1130 ...
    r"absl::InitializeLog",
    r"cuInit|cuda|CUDA",
    r"oneDNN",
    r"cpu_feature_guard|rebuild TensorFlow",
    r"Ignoring Assert operator",
    r"UserWarning|DeprecationWarning|warnings\.warn",
    r"^Epoch \d+/\d+",  # Keras' per-epoch bar
    r"━",
]


def run_as_a_user(name, *flags):
    """recipes/NAME.py in a subprocess with the user's environment: no
    TF_CPP_MIN_LOG_LEVEL (the test runner's settings left out)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS")}
    result = subprocess.run(command(name, *flags), capture_output=True,
                            text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def noise(text):
    return [line for line in text.splitlines()
            if any(re.search(pattern, line) for pattern in NOISE)]


def test_a_pretraining_run_prints_only_progress_validation_and_summary(
        tmp_path, text_file):
    model_dir = str(tmp_path / "run")
    result = run_as_a_user(
        "gpt_pretrain", f"--model_dir={model_dir}", f"--train_files={text_file}",
        *PRETRAINING["gpt_pretrain"], "--batch_size=4", "--steps=8",
        "--checkpoint_every=4", "--eval_every=4", "--steps_per_execution=2")
    assert noise(result.stdout) == [] and noise(result.stderr) == []
    assert result.stderr == ""
    out = result.stdout
    # One bar over the run's 8 steps (not per checkpoint interval), with
    # loss, learning rate and throughput; logs get a line per checkpoint.
    bars = re.findall(r"^step +(\d+)/8 \[[#-]{20}\] .* loss [\d.]+ \| "
                      r"lr [\d.e+-]+ \| [\d,]+ tok/s$", out, re.M)
    assert bars == ["4", "8"]
    assert re.findall(r"^step +(\d)/8 validation: loss [\d.]+, accuracy",
                      out, re.M) == ["4", "8"]
    assert re.search(r"^Done: 8 steps in \d+:\d\d \(training \d+:\d\d\)\.$",
                     out, re.M)
    assert f"Wrote {model_dir}: checkpoints/, curves.png," in out
    # What --precision=auto and --xla=auto chose, in one line of its own.
    assert re.findall(r"^Precision (float32|mixed_bfloat16), XLA o(n|ff): "
                      r"auto for TensorFlow on a CPU .*\.$", out, re.M)
    assert (f"python recipes/export.py --model_dir={model_dir} "
            "--export_dir=exports/run") in out
    assert f"python -m zoo.show generate --model_dir={model_dir}" in out
    assert_png(os.path.join(model_dir, "curves.png"))


def test_a_resumed_run_says_so_and_draws_its_whole_history(tmp_path,
                                                          text_file):
    model_dir = str(tmp_path / "run")
    flags = [f"--model_dir={model_dir}", f"--train_files={text_file}",
             *PRETRAINING["gpt_pretrain"], "--batch_size=4", "--steps=8",
             "--checkpoint_every=4", "--steps_per_execution=2"]
    run_as_a_user("gpt_pretrain", *flags, "--stop_after=4")
    result = run_as_a_user("gpt_pretrain", *flags, "--resume")
    assert "Resuming from step 4 (" in result.stdout
    assert re.findall(r"^step +(\d+)/8 \[", result.stdout, re.M) == ["8"]
    state = os.path.join(model_dir, "checkpoints", "step-00000008",
                         "state.json")
    history = json.load(open(state))["history"]
    assert [p["step"] for p in history if "loss" in p] == [2, 4, 6, 8]
    assert_png(os.path.join(model_dir, "curves.png"))


def test_an_unexpected_warning_prints_as_one_line():
    """A Python warning the recipes do not expect still shows, as one
    line of ours."""
    saved = warnings.formatwarning
    try:
        console.one_line_warnings()
        line = warnings.formatwarning("two\n  lines", UserWarning,
                                      "/x/keras/layer.py", 7)
    finally:
        warnings.formatwarning = saved
    assert line == "warning: two lines (UserWarning at layer.py:7)\n"


@pytest.mark.parametrize("orig_argv, argv, expected", [
    (["python", "recipes/gpt_pretrain.py", "--steps=2"],
     ["recipes/gpt_pretrain.py", "--steps=2"], True),
    (["python", "-X", "dev", "recipes/gpt_pretrain.py"],
     ["recipes/gpt_pretrain.py"], True),
    (["python", "-m", "zoo.show", "shapes"], ["-m", "shapes"], True),
    (["python", "-m", "pytest", "tests"], ["-m", "tests"], False),
    (["python", "-c", "import zoo"], ["-c"], False),
    (["python", "/venv/bin/coverage", "run", "recipes/gpt_pretrain.py"],
     ["recipes/gpt_pretrain.py"], False),
    (["python", "elsewhere.py"], ["elsewhere.py"], False),
])
def test_zoo_commands_are_told_from_other_programs(orig_argv, argv, expected,
                                                   monkeypatch):
    """Only a recipe or `python -m zoo.X` restarts with TensorFlow's log
    off: not pytest, `python -c`, or a wrapper such as coverage."""
    monkeypatch.chdir(os.path.dirname(console.RECIPES))
    monkeypatch.setattr("sys.orig_argv", orig_argv)
    monkeypatch.setattr("sys.argv", argv)
    assert console._is_zoo_command() is expected
