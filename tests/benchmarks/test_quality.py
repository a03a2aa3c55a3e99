"""benchmarks.quality: the recipe every library trains with (its schedule,
its windows, its models' sizes), the first crossing and the table (on
made-up results), the refusals; and, under the `benchmark` marker, the
quick mode end to end (minutes; nothing here asserts a speed).

PyTorch runs in tests/pytorch_process.py's child process only, so this
module imports neither zoo nor Keras at its top (the child imports it)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import pytorch_process as pt

from benchmarks import quality
from benchmarks import quality_recipe as recipe
from benchmarks import run

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


# The schedule -----------------------------------------------------------------


def test_learning_rates_are_warmup_hold_then_linear_decay():
    rates = recipe.learning_rates(2000, 100)
    assert len(rates) == 2000
    assert rates[0] == pytest.approx(1e-5)  # 1e-3 x 1 / 100
    assert rates[99] == pytest.approx(1e-3)
    # The decay spans round(0.2 x 1,900) = 380 steps: from step 1,620.
    assert rates[100] == rates[1620] == pytest.approx(1e-3)
    assert rates[1810] == pytest.approx(1e-4 + 0.5 * 9e-4)
    assert rates[1999] == pytest.approx(1e-4 + 9e-4 / 380)
    assert rates[1621] < rates[1620]


@pytest.mark.parametrize("steps, warmup", [(2000, 100), (40, 2)])
def test_learning_rates_are_zoos_schedule(steps, warmup):
    from keras import ops

    from zoo.training import optimizers

    zoo = optimizers.schedule("linear", 1e-3, steps, warmup, 1e-4, 0.2)
    np.testing.assert_allclose(
        recipe.learning_rates(steps, warmup),
        ops.convert_to_numpy(zoo(ops.arange(steps))), rtol=1e-6)


def test_keras_hub_schedule_looks_the_rate_up():
    from benchmarks import quality_train

    rates = recipe.learning_rates(2000, 100)
    schedule = quality_train.keras_schedule(rates)
    for step in (0, 99, 1810, 1999):
        assert float(schedule(step)) == pytest.approx(rates[step], rel=1e-6)
    assert float(schedule(5000)) == pytest.approx(rates[-1], rel=1e-6)


def _torch_rates_and_sizes(steps, warmup):
    """Each step's learning rate of the PyTorch peer's scheduler; the
    numbers of parameters and of decayed ones."""
    from benchmarks import quality_train

    model = quality_train.torch_model(65)
    optimizer, schedule = quality_train.torch_optimizer(
        model, recipe.learning_rates(steps, warmup))
    rates = []
    for _ in range(steps):
        rates.append([group["lr"] for group in optimizer.param_groups])
        optimizer.step()  # no gradients: nothing changes
        schedule.step()
    decayed = sum(p.numel() for p in optimizer.param_groups[0]["params"])
    return rates, sum(p.numel() for p in model.parameters()), decayed


# 4 layers x (4 x 128² attention + 2 x 128 x 512 feed-forward) kernels.
DECAYED = 4 * (4 * 128 * 128 + 2 * 128 * 512)


def _size(variables):
    return sum(int(np.prod(v.shape)) for v in variables)


def test_pytorch_peer_has_the_schedule_and_the_models_sizes():
    from zoo.models import GPTDecoder
    from zoo.tasks import CausalLM
    from zoo.training import optimizers

    rates, parameters, decayed = pt.call(_torch_rates_and_sizes, 2000, 100)
    expected = recipe.learning_rates(2000, 100)
    for step in (0, 50, 99, 1000, 1620, 1810, 1999):
        assert rates[step] == pytest.approx([expected[step]] * 2, rel=1e-9)
    zoo = CausalLM(GPTDecoder.from_preset("gpt_nano", vocabulary_size=65,
                                          dropout=0.0))
    assert parameters == _size(zoo.weights)
    assert decayed == DECAYED
    assert _size(optimizers.decayed_variables(zoo)) == DECAYED


def test_keras_hub_model_has_zoos_sizes():
    from benchmarks import quality_train
    from zoo.models import GPTDecoder
    from zoo.tasks import CausalLM

    config = GPTDecoder.preset_config("gpt_nano")
    assert {key: config[key] for key in recipe.MODEL} == recipe.MODEL
    zoo = CausalLM(GPTDecoder.from_preset("gpt_nano", vocabulary_size=65,
                                          dropout=0.0))
    peer = quality_train.keras_hub_model(65)
    assert _size(peer.weights) == _size(zoo.weights)
    assert _size(quality_train.keras_hub_decayed(peer)) == DECAYED
    logits = peer(np.zeros((2, 64), "int32"))
    assert tuple(logits.shape) == (2, 64, 65)


# The windows ------------------------------------------------------------------


def _text(size=20_000):
    sentences = ["The quick brown fox jumps over the lazy dog. ",
                 "What light through yonder window breaks? ",
                 "Now is the winter of our discontent.\n"]
    text, i = "", 0
    while len(text) < size:
        text += sentences[i % 3]
        i += 1
    return text[:size]


def _spec(path, **changes):
    return dict(dict(data=str(path), steps=40, seed=1337,
                     validation_batches=2), **changes)


def test_vocabulary_is_the_sorted_characters():
    size, ids = recipe.encode("baca\n")
    assert size == 4  # "\n", "a", "b", "c"
    assert ids.tolist() == [2, 1, 3, 1, 0]


def test_every_library_gets_the_same_windows(tmp_path):
    path = tmp_path / "input.txt"
    path.write_text(_text())
    first, again = recipe.load(_spec(path)), recipe.load(_spec(path))
    assert first["vocabulary_size"] == again["vocabulary_size"] == 33
    for key in ("train", "validation"):
        np.testing.assert_array_equal(first[key], again[key])
    other = recipe.load(_spec(path, seed=1))
    assert not np.array_equal(first["train"], other["train"])
    np.testing.assert_array_equal(first["validation"], other["validation"])
    # The workers of every library get one and the same recipe.
    args = quality.parser().parse_args(["--data", str(path)])
    specs = [quality.spec_of(library, dict(_spec(path)), args)
             for library in quality.LIBRARIES]
    settings = ("library", "precision", "xla", "torch_compile")
    for spec in specs[1:]:
        assert ({k: v for k, v in spec.items() if k not in settings}
                == {k: v for k, v in specs[0].items() if k not in settings})


def test_windows_come_from_their_splits(tmp_path):
    path = tmp_path / "input.txt"
    text = _text()
    path.write_text(text)
    _, ids = recipe.encode(text)
    train, validation = ids[:18_000], ids[18_000:]  # 90% / 10%
    data = recipe.load(_spec(path))
    assert data["train"].shape == (40 * 12, 65)
    starts = recipe.train_offsets(len(train), 40, 1337)
    assert starts.shape == (40, 12)
    assert 0 <= starts.min() and starts.max() + 65 <= len(train)
    np.testing.assert_array_equal(data["train"][13],
                                  train[starts[1, 1]:starts[1, 1] + 65])
    # Non-overlapping inputs from the start, whole batches, at most 2.
    assert data["validation"].shape == (24, 65)
    for i in (0, 23):
        np.testing.assert_array_equal(data["validation"][i],
                                      validation[64 * i:64 * i + 65])


def test_validation_takes_all_whole_batches_when_fewer():
    # 2,000 characters: 31 windows, 2 whole batches of 12.
    assert recipe.validation_offsets(2000, 200).tolist() == list(
        range(0, 64 * 24, 64))
    with pytest.raises(ValueError, match="fewer than one batch"):
        recipe.validation_offsets(64 * 11 + 1, 200)


# The first crossing and the table -----------------------------------------------


def _result(settings, *history, memory=1000.0):
    history = [{"step": s, "seconds": t, "loss": loss}
               for s, t, loss in history]
    return {"settings": settings, "history": history,
            "final_loss": history[-1]["loss"], "steps_per_second": 10.0,
            "peak_memory_mb": memory}


RESULTS = {
    "zoo": _result("float32, XLA on", (100, 10.0, 2.5), (200, 20.0, 1.88),
                   (300, 30.0, 1.80)),
    "keras-hub": _result("float32, XLA on", (100, 12.0, 2.6),
                         (200, 24.0, 1.95), (300, 36.0, 1.885)),
    # Exactly at the target counts as reached.
    "pytorch": _result("float32, eager", (100, 8.0, 2.4), (200, 16.0, 1.886),
                       (300, 24.0, 1.87), memory=2500.0),
}


def test_first_crossing_is_the_first_validation_at_or_below_target():
    history = RESULTS["keras-hub"]["history"]
    assert quality.first_crossing(history, 1.886)["step"] == 300
    assert quality.first_crossing(history, 1.95)["seconds"] == 24.0
    assert quality.first_crossing(history, 1.8) is None
    assert quality.first_crossing([], 1.886) is None


def test_zoo_over_the_best_peer():
    assert quality.zoo_over_best_peer(RESULTS, 1.886) == ("pytorch", 1.25)
    # zoo reaches 1.87 at 30 s, PyTorch at 24 s, keras-hub never.
    assert quality.zoo_over_best_peer(RESULTS, 1.87) == ("pytorch", 1.25)
    assert quality.zoo_over_best_peer(RESULTS, 1.85) == (None, None)  # peers
    assert quality.zoo_over_best_peer(RESULTS, 1.7) == (None, None)  # zoo
    failed = dict(RESULTS, pytorch={"error": "out of memory"})
    assert quality.zoo_over_best_peer(failed, 1.886) == ("keras-hub",
                                                         20.0 / 36.0)


def test_markdown_table():
    lines = quality.markdown(RESULTS, 1.886).splitlines()
    assert lines[0] == ("| library | precision, compilation | time to loss "
                        "<= 1.886 | at step | zoo / this | final loss | "
                        "steps/s | peak MB |")
    assert lines[1] == "|" + "---|" * 8
    assert lines[2] == ("| zoo | float32, XLA on | 20.0 s | 200 | - | 1.8000 "
                        "| 10.0 | 1,000 |")
    assert lines[3] == ("| keras-hub | float32, XLA on | 36.0 s | 300 | "
                        "0.56x | 1.8850 | 10.0 | 1,000 |")
    assert lines[4] == ("| pytorch | float32, eager | 16.0 s | 200 | 1.25x | "
                        "1.8700 | 10.0 | 2,500 |")
    assert lines[-1] == ("zoo / best peer (pytorch), time to validation loss "
                         "<= 1.886: 1.25x (goal <= 0.80x: not met).")


def test_markdown_table_without_a_crossing_or_with_a_failure():
    results = dict(RESULTS, pytorch={"error": "killed | out of memory"})
    lines = quality.markdown(results, 1.85).splitlines()
    assert lines[3] == ("| keras-hub | float32, XLA on | not reached (best "
                        "1.8850) | - | - | 1.8850 | 10.0 | 1,000 |")
    assert lines[4] == ("| pytorch | failed: killed / out of memory | - | - "
                        "| - | - | - | - |")
    assert lines[-1].startswith("zoo / best peer: no value")
    met = quality.markdown(dict(RESULTS, pytorch={"error": "killed"}), 1.886)
    assert met.splitlines()[-1] == (
        "zoo / best peer (keras-hub), time to validation loss <= 1.886: "
        "0.56x (goal <= 0.80x: met).")


# The command line -------------------------------------------------------------


def _plan(argv):
    p = quality.parser()
    return quality.plan(p.parse_args(argv), p.error)


def test_full_and_quick_numbers(tmp_path):
    path = tmp_path / "input.txt"
    path.write_text(_text())
    assert quality.parser().get_default("libraries") == (
        "zoo,keras-hub,pytorch")
    libraries, numbers, target = _plan(["--data", str(path), "--libraries",
                                        "zoo,keras-hub"])
    assert libraries == ["zoo", "keras-hub"]
    assert numbers == dict(steps=2000, eval_every=100, warmup_steps=100,
                           validation_batches=200, seed=1337)
    assert target == 1.886
    _, numbers, target = _plan(["--data", str(path), "--quick",
                                "--libraries", "zoo", "--eval_every", "10"])
    assert numbers == dict(steps=40, eval_every=10, warmup_steps=2,
                           validation_batches=2, seed=1337)
    assert target == 4.0


@pytest.mark.parametrize("argv, message", [
    (["--libraries", "zoo,jax"], "--libraries takes"),
    (["--libraries", "zoo,zoo"], "each at most once"),
    (["--eval_every", "300"], "must divide --steps"),
    (["--warmup_steps", "0"], "--warmup_steps must be"),
    (["--data", "/nonexistent.txt"], "--data must be a text file"),
])
def test_refusals(tmp_path, capsys, argv, message):
    path = tmp_path / "input.txt"
    path.write_text(_text())
    with pytest.raises(SystemExit):
        _plan(["--data", str(path), "--libraries", "zoo"] + argv)
    assert message in capsys.readouterr().err


def test_workers_run_this_module():
    spec = {"library": "pytorch", "data": "input.txt"}
    command, env, directory = run.worker_process(
        spec, module="benchmarks.quality")
    assert command[1:4] == ["-m", "benchmarks.quality", "--worker"]
    assert json.loads(command[4]) == spec
    assert directory == run.ROOT


@pytest.mark.benchmark
def test_quick_mode_runs_every_library(tmp_path):
    pt.require()
    path = tmp_path / "input.txt"
    path.write_text(_text())
    output = tmp_path / "quality.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.quality", "--quick",
         f"--data={path}", "--json", str(output)],
        cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-2000:]
    saved = json.loads(output.read_text())
    assert saved["target"] == 4.0
    assert saved["recipe"]["steps"] == 40
    assert list(saved["results"]) == list(quality.LIBRARIES)
    sizes = set()
    for library, result in saved["results"].items():
        assert "error" not in result, (library, result)
        assert [h["step"] for h in result["history"]] == [20, 40]
        seconds = [h["seconds"] for h in result["history"]]
        assert 0 < seconds[0] < seconds[1] <= result["train_seconds"]
        assert result["final_loss"] == result["history"][-1]["loss"]
        assert 0 < result["final_loss"] < 4.0
        assert result["steps_per_second"] > 0
        assert result["peak_memory_mb"] > 0
        sizes.add(result["parameters"])
    assert len(sizes) == 1  # the same model everywhere
    assert "| library | precision, compilation |" in done.stdout
    assert "zoo / best peer (" in done.stdout
    table = subprocess.run(
        [sys.executable, "-m", "benchmarks.quality", "--table", str(output)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert table.stdout.strip() in done.stdout
