"""Each pretraining recipe, end to end, as a user runs it: a subprocess.

Tiny architectures, a small text file the test writes, a few steps. Each
run must leave a model dir with everything docs/recipes.md promises and a
`model.keras` that loads and runs.
"""

import json
import os
import shutil

import keras
import zoo  # noqa: F401  (registers the classes model.keras needs)
import numpy as np
import pytest
from recipe_runner import PRETRAINING
from recipe_runner import run_recipe

@pytest.mark.parametrize("name", sorted(PRETRAINING))
def test_recipe_end_to_end_and_resume(name, text_file, pretrained, tmp_path):
    # The 2-step run (shared with the fine-tuning tests), copied to extend.
    model_dir = str(tmp_path / "run")
    shutil.copytree(pretrained(name), model_dir)
    flags = [f"--model_dir={model_dir}", f"--train_files={text_file}",
             "--batch_size=4", "--checkpoint_every=2", *PRETRAINING[name]]

    for path in ("flags.txt", "run.json", "tokenizer/tokenizer.json",
                 "checkpoints/step-00000002/variables.safetensors",
                 "checkpoints/step-00000002/state.json", "logs",
                 "metrics.json", "model.keras"):
        assert os.path.exists(os.path.join(model_dir, path)), path
    metrics = json.load(open(os.path.join(model_dir, "metrics.json")))
    assert metrics["steps"] == 2 and metrics["resumed_from_step"] == 0
    assert np.isfinite(metrics["validation_loss"])
    assert metrics["tokens_per_second"] > 0

    # A new run there is refused; so is a resumed one that would train
    # otherwise (4 steps: another schedule). The run resumes as it was.
    refused = run_recipe(name, *flags, "--steps=2", check=False)
    assert refused.returncode != 0 and "--resume" in refused.stderr
    refused = run_recipe(name, *flags, "--steps=4", "--resume", check=False)
    assert refused.returncode != 0
    assert "--steps: 2 there, 4 here" in refused.stderr
    assert "Traceback" not in refused.stderr
    run_recipe(name, *flags, "--steps=2", "--resume")
    metrics = json.load(open(os.path.join(model_dir, "metrics.json")))
    assert metrics["steps"] == 2 and metrics["resumed_from_step"] == 2
    assert np.isfinite(metrics["train_loss"])  # from the checkpoint

    task = keras.saving.load_model(os.path.join(model_dir, "model.keras"))
    assert int(task.optimizer.iterations) == 2
    assert task.tokenizer is not None
    assert task.backbone.vocabulary_size == task.tokenizer.vocabulary_size()


def test_gpt_recipe_in_bfloat16_generates_from_the_saved_model(text_file,
                                                               tmp_path):
    model_dir = str(tmp_path / "run")
    run_recipe("gpt_pretrain", f"--model_dir={model_dir}",
               f"--train_files={text_file}", "--batch_size=4", "--steps=2",
               "--checkpoint_every=2", "--xla=false",
               "--precision=mixed_bfloat16", *PRETRAINING["gpt_pretrain"])
    assert os.path.getsize(os.path.join(model_dir, "samples.txt")) > 0
    task = keras.saving.load_model(os.path.join(model_dir, "model.keras"))
    assert task.backbone.compute_dtype == "bfloat16"
    text = task.generate("The ", max_new_tokens=5)
    assert text.startswith("The ") and len(text) >= len("The ")


def test_flags_help_and_flagfile(text_file, tmp_path):
    result = run_recipe("gpt_pretrain", "--helpfull", check=False)  # exits 1
    assert "--checkpoint_every" in result.stdout
    assert "--train_files" in result.stdout
    flagfile = tmp_path / "flags.txt"
    flagfile.write_text("\n".join(
        [f"--model_dir={tmp_path / 'run'}", f"--train_files={text_file}",
         "--batch_size=4", "--steps=2", "--checkpoint_every=2",
         *PRETRAINING["gpt_pretrain"]]
    ))
    run_recipe("gpt_pretrain", f"--flagfile={flagfile}")
    written = (tmp_path / "run" / "flags.txt").read_text()
    assert "--steps=2" in written and "--batch_size=4" in written


def test_model_dir_with_a_different_model_is_refused(text_file, tmp_path):
    model_dir = str(tmp_path / "run")
    flags = [f"--model_dir={model_dir}", f"--train_files={text_file}",
             "--batch_size=4", "--steps=2", "--checkpoint_every=2",
             "--xla=false", *PRETRAINING["gpt_pretrain"]]
    run_recipe("gpt_pretrain", *flags)
    result = run_recipe("gpt_pretrain", *flags, "--resume",
                        "--override=num_layers=2", check=False)
    assert result.returncode != 0
    assert "would change what the run" in result.stderr
    assert "--override: " in result.stderr and "num_layers=2 here" in \
        result.stderr
    # --precision=auto is recorded with what it chose on this machine; a
    # resume where auto would choose otherwise is refused.
    flags_file = os.path.join(model_dir, "flags.txt")
    record = open(flags_file).read()
    assert "--precision=auto" in record.splitlines()
    assert "# auto --precision=float32" in record.splitlines()
    with open(flags_file, "w") as file:
        file.write(record.replace("# auto --precision=float32",
                                  "# auto --precision=mixed_bfloat16"))
    result = run_recipe("gpt_pretrain", *flags, "--resume", check=False)
    assert result.returncode != 0
    assert ("--precision: auto, which chose mixed_bfloat16 there, auto, "
            "which chose float32 here") in result.stderr


@pytest.mark.parametrize("content, message", [
    (None, "does not exist"),
    (b"", "is empty"),
    (b"caf\xe9 au lait\n", "line 1 (byte 3): not valid UTF-8"),
])
def test_bad_data_files_stop_with_a_clear_message(content, message, tmp_path):
    path = tmp_path / "data.txt"
    if content is not None:
        path.write_bytes(content)
    result = run_recipe("gpt_pretrain", f"--model_dir={tmp_path / 'run'}",
                        f"--train_files={path}", *PRETRAINING["gpt_pretrain"],
                        check=False)
    assert result.returncode != 0
    assert message in result.stderr


def test_gpt_recipe_on_two_mirrored_devices(text_file, tmp_path):
    """--distribution=mirrored --devices=2 splits the CPU in two and trains
    the run; what a backend cannot run, or a batch that does not split,
    stops before anything is written."""
    model_dir = tmp_path / "run"
    flags = [f"--train_files={text_file}", "--steps=2", "--checkpoint_every=2",
             *PRETRAINING["gpt_pretrain"]]
    result = run_recipe("gpt_pretrain", f"--model_dir={model_dir}", *flags,
                        "--batch_size=4", "--distribution=mirrored",
                        "--devices=2")
    assert "mirrored over 2 devices: 2 examples each" in result.stdout
    assert keras.saving.load_model(model_dir / "model.keras") is not None
    for extra, message in (
            (["--batch_size=5", "--distribution=mirrored", "--devices=2"],
             "--batch_size=5 does not split across 2 replicas"),
            (["--batch_size=4", "--distribution=data_parallel"],
             "--distribution=data_parallel runs on the jax backend")):
        refused = run_recipe("gpt_pretrain", f"--model_dir={tmp_path / 'no'}",
                             *flags, *extra, check=False)
        assert refused.returncode != 0 and message in refused.stderr
        assert not (tmp_path / "no").exists()
