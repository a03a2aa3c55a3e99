"""Running a recipe as a user does: a subprocess, with tiny settings."""

import os
import subprocess
import sys

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


def run_recipe(name, *flags, check=True):
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "recipes", f"{name}.py"), *flags],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{name} failed:\n{result.stderr[-4000:]}")
    return result
