"""Kill a recipe run anywhere, resume it, and it ends bit for bit where an
uninterrupted run ends.

Each test runs a recipe once without interruption (the reference), then
again as a chain of processes: each one is killed with SIGKILL, either
inside a file write (at a write point of `zoo.files`, through
ZOO_CRASH_AT) or at a random moment, and the next one continues with
`--resume`. The last runs to the end. Its weights (metrics.json's
`weights_sha256`) and its samples must equal the reference's, with the
recipes' default dropout, and no partial file may be left behind.
"""

import json
import os
import random
import signal
import subprocess
import time

import pytest
from recipe_runner import PRETRAINING
from recipe_runner import TINY
from recipe_runner import command
from recipe_runner import environment
from recipe_runner import run_recipe

SHORT = ["--batch_size=4", "--steps=6", "--checkpoint_every=2"]

# Kill points, one per process, in order. A point is `<file>:<stage>[#n]`
# (see zoo/files.py): the n-th time this process reaches it.
EVERY_WRITE = [
    "flags.txt:partial",       # the first write: nothing to resume yet
    "tokenizer:complete",      # staged, not in place: trained again
    "run.json:partial",
    "checkpoint:partial",      # half of step 2's variables written
    "state.json:complete#2",   # step 2 in place, step 4 half done
    "checkpoint:placed",       # step 4 in place, step 2 not yet deleted
    "metrics.json:partial",    # step 6 done: the final files
    "model.keras:partial",
]
SOME_WRITES = ["state.json:partial", "checkpoint:placed#2",
               "model.keras:partial"]


def _random_kills(count, seed):
    """Kill after a random delay; the seed is in the test's id."""
    rng = random.Random(seed)
    return [f"after {rng.uniform(4.0, 12.0):.1f} s" for _ in range(count)]


def run_chain(name, flags, kills, model_dir):
    """Run recipe `name` into `model_dir`, killed at each of `kills` in
    turn (resuming after each), then to its end. Returns how many
    processes were killed (a run may end before a random kill)."""
    killed = 0
    for kill in kills:
        argv = command(name, f"--model_dir={model_dir}", *flags,
                       *resume(model_dir))
        if kill.startswith("after "):
            process = subprocess.Popen(argv, env=environment(),
                                       stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True)
            try:
                process.wait(timeout=float(kill.split()[1]))
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGKILL)
                process.wait()
            stderr = process.stderr.read()
            process.stderr.close()
            assert process.returncode in (0, -signal.SIGKILL), stderr[-3000:]
            killed += process.returncode == -signal.SIGKILL
            continue
        result = subprocess.run(argv, env=environment(ZOO_CRASH_AT=kill),
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == -signal.SIGKILL, (
            f"{kill}: the run was not killed there (exit "
            f"{result.returncode}):\n{result.stderr[-3000:]}")
        killed += 1
    run_recipe(name, f"--model_dir={model_dir}", *flags, *resume(model_dir))
    return killed


def resume(model_dir):
    """--resume, as a user would give it: unless the killed run had not
    yet written anything."""
    return ["--resume"] if os.path.isdir(model_dir) and os.listdir(
        model_dir) else []


def outcome(model_dir):
    metrics = json.load(open(os.path.join(model_dir, "metrics.json")))
    samples = os.path.join(model_dir, "samples.txt")
    return {"weights": metrics["weights_sha256"], "steps": metrics["steps"],
            "train_loss": metrics["train_loss"],
            "samples": open(samples).read() if os.path.exists(samples)
            else None}


def leftovers(model_dir):
    return [os.path.join(root, name)
            for root, dirs, names in os.walk(model_dir)
            for name in names + dirs
            if ".partial" in name or ".staging-" in name]


CHAINS = {
    "gpt_pretrain": EVERY_WRITE + ["samples.txt:partial"],
    "bert_pretrain": SOME_WRITES,
    "transformer_pretrain": SOME_WRITES,
    "bert_finetune": SOME_WRITES,
}


@pytest.fixture
def recipe_flags(text_file, tsv_files):
    def flags(name):
        if name == "bert_finetune":
            return [*TINY, *SHORT, "--vocabulary_size=100",
                    f"--train_file={tsv_files['train']}",
                    f"--validation_file={tsv_files['dev']}"]
        return [f"--train_files={text_file}", *SHORT, *PRETRAINING[name]]
    return flags


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_killed_in_writes_and_resumed_ends_as_if_never_killed(
        name, recipe_flags, tmp_path):
    flags = recipe_flags(name)
    assert not any(flag.startswith("--dropout") for flag in flags)
    run_chain(name, flags, [], tmp_path / "reference")
    reference = outcome(tmp_path / "reference")
    model_dir = tmp_path / "killed"
    run_chain(name, flags, CHAINS[name], model_dir)
    assert outcome(model_dir) == reference
    assert leftovers(model_dir) == []
    steps = os.listdir(model_dir / "checkpoints")
    assert steps == ["step-00000006"], steps


@pytest.mark.parametrize("seed", [0])
def test_killed_at_random_moments_and_resumed_ends_as_if_never_killed(
        seed, recipe_flags, tmp_path):
    flags = recipe_flags("gpt_pretrain")
    run_chain("gpt_pretrain", flags, [], tmp_path / "reference")
    model_dir = tmp_path / "killed"
    killed = run_chain("gpt_pretrain", flags, _random_kills(3, seed),
                       model_dir)
    assert killed >= 1  # (a kill after a run's end kills nothing)
    assert outcome(model_dir) == outcome(tmp_path / "reference")
    assert leftovers(model_dir) == []


@pytest.mark.slow
@pytest.mark.parametrize("kills", ["every write", "random"])
@pytest.mark.parametrize("name", ["bert_pretrain", "transformer_pretrain",
                                  "bert_finetune"])
def test_every_family_killed_in_every_write_and_at_random(
        name, kills, recipe_flags, tmp_path):
    """The other families, killed inside every kind of write, or at three
    random moments (slow)."""
    flags = recipe_flags(name)
    run_chain(name, flags, [], tmp_path / "reference")
    model_dir = tmp_path / "killed"
    chain = EVERY_WRITE if kills == "every write" else _random_kills(3, 1)
    assert run_chain(name, flags, chain, model_dir) >= 1
    assert outcome(model_dir) == outcome(tmp_path / "reference")
    assert leftovers(model_dir) == []


def test_write_points_are_where_the_chains_kill(recipe_flags, tmp_path):
    """Every kill point of the chains is reached by an uninterrupted run
    (a renamed point would otherwise make a chain kill nothing)."""
    log = tmp_path / "points.txt"
    result = subprocess.run(
        command("gpt_pretrain", f"--model_dir={tmp_path / 'run'}",
                *recipe_flags("gpt_pretrain")),
        env=environment(ZOO_WRITE_LOG=str(log)), capture_output=True,
        text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    reached = log.read_text().split()
    for point in EVERY_WRITE + SOME_WRITES + ["samples.txt:partial"]:
        name, _, count = point.partition("#")
        assert reached.count(name) >= int(count or 1), (point, reached)


def test_a_full_disk_stops_the_run_and_keeps_the_last_checkpoint(
        recipe_flags, tmp_path):
    """No space left while the step-4 checkpoint is written (injected):
    the run stops with one line that names the path and the checkpoint
    kept, and resumes from it to the uninterrupted run's weights."""
    flags = recipe_flags("gpt_pretrain")
    model_dir = tmp_path / "run"
    result = subprocess.run(
        command("gpt_pretrain", f"--model_dir={model_dir}", *flags),
        env=environment(ZOO_FAIL_AT="checkpoint:partial#2"),
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert (f"Could not write the checkpoint of step 4 to {model_dir}/"
            "checkpoints/step-00000004: No space left on device") in \
        result.stderr
    assert "step-00000002 is kept" in result.stderr
    assert os.listdir(model_dir / "checkpoints") == ["step-00000002"]
    run_chain("gpt_pretrain", flags, [], tmp_path / "reference")
    run_recipe("gpt_pretrain", f"--model_dir={model_dir}", *flags, "--resume")
    assert outcome(model_dir) == outcome(tmp_path / "reference")
