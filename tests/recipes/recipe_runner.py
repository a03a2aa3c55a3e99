"""Running a recipe as a user does: a subprocess, with tiny settings."""

import os
import shutil
import subprocess
import sys
import warnings

import matplotlib.image

from backends import native_crash

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
TINY = ["--override=num_layers=1", "--override=hidden_dim=32",
        "--override=num_heads=2", "--override=intermediate_dim=64",
        "--warmup_steps=1"]

# Each pretraining recipe's tiny settings (with --batch_size, --steps and
# --checkpoint_every chosen by the test).
PRETRAINING = {
    "gpt_pretrain": TINY + ["--tokenizer=character", "--sequence_length=16",
                            "--override=max_sequence_length=16"],
    "bert_pretrain": TINY + ["--vocabulary_size=300", "--sequence_length=32",
                             "--next_sentence_prediction"],
    "transformer_pretrain": TINY + ["--vocabulary_size=400",
                                    "--sequence_length=32"],
}


def command(name, *flags):
    """The command line of recipes/NAME.py with `flags`."""
    return [sys.executable, os.path.join(ROOT, "recipes", f"{name}.py"),
            *flags]


def environment(**variables):
    """The environment of a recipe subprocess, with `variables` set."""
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **variables}


def _run(name, flags, env):
    return subprocess.run(command(name, *flags), capture_output=True,
                          text=True, timeout=600, env=environment(**env))


def run_recipe(name, *flags, check=True, env=None):
    """Run recipes/NAME.py with `flags` in a subprocess (with the
    environment variables `env` set).

    TensorFlow 2.21 has crashed with a segmentation fault in one of its own
    threads during `fit`, rarely (in 2 of 6 runs of the whole suite here,
    in different tests; in none of 4 runs of the task and recipe tests
    alone), and XLA:CPU's collectives can time out on a CPU split into JAX
    devices (see `backends.native_crash`): native crashes, not zoo errors.
    A run that crashes so runs again (up to twice), with a warning: a
    run that started a new model dir from a clean one; a `--resume` run
    from its checkpoint (written whole or not at all), which the collective
    timeout, in a step, leaves as it found it.
    """
    model_dir = next((f.split("=", 1)[1] for f in flags
                      if f.startswith("--model_dir=")), None)
    new = model_dir is not None and not os.path.exists(model_dir)
    resume = any(f.startswith("--resume") for f in flags)
    result = _run(name, flags, env or {})
    for _ in range(2):
        crash = native_crash(result)
        if not crash or not ((new and not resume)
                             or (resume and "rendezvous" in crash)):
            break
        warnings.warn(f"{name} ended with {crash}; running it again:\n"
                      f"{result.stderr[-2000:]}")
        if not resume:
            shutil.rmtree(model_dir, ignore_errors=True)
        result = _run(name, flags, env or {})
    if check and result.returncode != 0:
        raise AssertionError(f"{name} failed:\n{result.stderr[-4000:]}")
    return result


def assert_png(path):
    """`path` is a PNG picture of a readable size."""
    with open(path, "rb") as file:
        assert file.read(8) == b"\x89PNG\r\n\x1a\n"
    height, width, _ = matplotlib.image.imread(path).shape
    assert height > 200 and width > 300
