"""benchmarks.run: the FLOP counts it divides by, its table, its quick mode.

The quick mode itself takes minutes and carries the `benchmark` marker
(`python -m pytest -m benchmark`); nothing here asserts a speed.
"""

import json
import os
import subprocess
import sys

import keras
import pytest

from benchmarks import report
from benchmarks import run
from benchmarks import workloads
from zoo.models import BertEncoder
from zoo.models import GPTDecoder
from zoo.models import Transformer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def _dense_flops(model, tokens_per_kernel):
    """2 x in x out x tokens over every Dense kernel of `model`."""
    total = 0
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.Dense):
            rows, columns = layer.kernel.shape
            total += 2 * rows * columns * tokens_per_kernel(layer.path)
    return total


@pytest.mark.parametrize("name", ["gpt_nano", "gpt2_small"])
def test_gpt_flops_are_the_models_matmuls(name):
    w = workloads.WORKLOADS[name]
    model = GPTDecoder(**w.config)
    t, d, layers = w.length, w.config["hidden_dim"], w.config["num_layers"]
    expected = (_dense_flops(model, lambda path: t)
                + layers * 2 * 2 * t * t * d  # Q K^T and P V
                + 2 * t * d * w.config["vocabulary_size"])  # tied logits
    assert workloads.forward_flops(w) == w.batch * expected
    assert workloads.step_flops(w) == 3 * workloads.forward_flops(w)


def test_bert_flops_are_the_models_matmuls():
    w = workloads.WORKLOADS["bert_tiny"]
    model = BertEncoder(**w.config)
    t, d, layers = w.length, w.config["hidden_dim"], w.config["num_layers"]

    def tokens(path):
        return 1 if "pooled" in path else t

    expected = _dense_flops(model, tokens) + layers * 2 * 2 * t * t * d
    assert workloads.forward_flops(w) == w.batch * expected
    infer = workloads.WORKLOADS["bert_base_infer"]
    assert workloads.step_flops(infer) == workloads.forward_flops(infer)


def test_transformer_flops_are_the_models_matmuls():
    w = workloads.WORKLOADS["transformer_base"]
    config = dict(w.config, num_layers=2)
    model = Transformer(**config)
    small = workloads.Workload("small", "train", "transformer", config,
                               w.batch, w.length)
    t, d = w.length, config["hidden_dim"]
    # Encoder self, decoder self and decoder cross attention per layer.
    attention = 3 * 2 * 2 * t * t * d
    expected = (_dense_flops(model, lambda path: t)
                + config["num_layers"] * attention
                + 2 * t * d * config["vocabulary_size"])
    assert workloads.forward_flops(small) == w.batch * expected


def _side(throughput, flops=None, memory=1000.0):
    side = {"throughput": throughput, "peak_memory_mb": memory}
    if flops is not None:
        side["flops_per_second"] = flops
    return side


def test_markdown_table_ratios_best_settings_and_failures():
    peak = {"float32": 100e9, "bfloat16": 50e9}
    results = [
        {"workload": "gpt_nano", "dtype": "float32", "xla": True,
         "zoo": _side(3000, 50e9), "keras-hub": _side(2000, 40e9)},
        {"workload": "gpt_nano", "dtype": "mixed_bfloat16", "xla": False,
         "zoo": _side(1000, 20e9), "keras-hub": _side(2500, 45e9)},
        {"workload": "bert_tiny", "dtype": "float32", "xla": True,
         "zoo": _side(100, 1e9), "keras-hub": {"error": "OOM"}},
    ]
    table = report.markdown(results, peak)
    lines = table.splitlines()
    assert ("| gpt_nano | float32 | on | 3,000 tok/s | 2,000 tok/s | 1.50x "
            "| 50% / 40% | 1,000 / 1,000 |") in lines
    assert any("failed: OOM" in line and "bert_tiny" in line for line in lines)
    # Best of each library, whatever the setting: 3,000 against 2,500.
    assert ("| gpt_nano | 3,000 tok/s (float32, XLA on) | 2,500 tok/s "
            "(mixed_bfloat16, XLA off) | 1.20x |") in lines
    assert "float32 100 GFLOP/s, bfloat16 50 GFLOP/s" in table


def test_markdown_table_with_the_pytorch_peer():
    peak = {"float32": 100e9, "bfloat16": 50e9}
    results = [
        {"workload": "gpt_nano", "dtype": "float32", "xla": True,
         "zoo": _side(3000, 50e9), "keras-hub": _side(2000, 40e9),
         "pytorch": _side(2500, 45e9, memory=500.0)},
        {"workload": "gpt_nano", "dtype": "float32", "xla": False,
         "zoo": _side(1000, 20e9), "keras-hub": _side(900, 18e9)},
    ]
    lines = report.markdown(results, peak).splitlines()
    assert lines[0] == (
        "| workload | dtype | XLA | zoo | keras-hub | pytorch | "
        "zoo / keras-hub | zoo / pytorch | MFU zoo / keras-hub / pytorch | "
        "peak MB zoo / keras-hub / pytorch |")
    assert ("| gpt_nano | float32 | on | 3,000 tok/s | 2,000 tok/s | "
            "2,500 tok/s | 1.50x | 1.20x | 50% / 40% / 45% | "
            "1,000 / 1,000 / 500 |") in lines
    # A row without PyTorch shows dashes, not a failure.
    assert ("| gpt_nano | float32 | off | 1,000 tok/s | 900 tok/s | - | "
            "1.11x | - | 20% / 18% / - | 1,000 / 1,000 / - |") in lines
    # zoo's best over the best of every peer: 3,000 against 2,500.
    assert ("| gpt_nano | 3,000 tok/s (float32, XLA on) | 2,000 tok/s "
            "(float32, XLA on) | 2,500 tok/s (float32, XLA on) | 1.20x |"
            ) in lines
    assert "For PyTorch, XLA on is `torch.compile`" in lines[-1]


def test_repeats_keep_the_median_run():
    runs = [{"throughput": 5.0, "peak_memory_mb": 1}, {"error": "timed out"},
            {"throughput": 9.0, "peak_memory_mb": 2},
            {"throughput": 7.0, "peak_memory_mb": 3}]
    median = report.median_run(runs)
    assert median["throughput"] == 7.0 and median["peak_memory_mb"] == 3
    assert median["throughputs"] == [5.0, None, 9.0, 7.0]
    assert report.median_run([{"throughput": 4.0}, {"throughput": 6.0}])[
        "throughput"] == 4.0  # of an even count, the lower
    assert report.median_run([{"error": "OOM"}]) == {"error": "OOM"}
    assert "throughputs" not in report.median_run([{"throughput": 1.0}])


def test_unknown_workload_is_refused(capsys):
    with pytest.raises(SystemExit):
        run.main(["--only", "gpt_giant"])
    assert "unknown workload(s) ['gpt_giant']" in capsys.readouterr().err


@pytest.mark.parametrize("libraries", ["zoo,tensorflow", "keras-hub,zoo",
                                       "zoo,pytorch,pytorch"])
def test_libraries_other_than_zoo_then_known_peers_are_refused(
        libraries, capsys):
    with pytest.raises(SystemExit):
        run.main(["--libraries", libraries])
    assert "--libraries takes zoo first" in capsys.readouterr().err


def test_pytorch_peer_without_pytorch_is_refused_before_any_row(
        monkeypatch, capsys):
    real_find_spec = run.importlib.util.find_spec
    monkeypatch.setattr(run.importlib.util, "find_spec", lambda name: (
        None if name in ("torch", "transformers") else real_find_spec(name)))
    monkeypatch.setattr(run, "run_worker", lambda *args: pytest.fail(
        "a measurement started"))
    with pytest.raises(SystemExit):
        run.main(["--libraries", "zoo,pytorch", "--quick"])
    assert ('needs torch and transformers; install them with: '
            'pip install -e ".[pytorch]"') in capsys.readouterr().err


@pytest.mark.benchmark
def test_quick_mode_runs_end_to_end(tmp_path):
    output = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--quick", "--budget", "0.5",
         "--json", str(output)],
        cwd=ROOT, capture_output=True, text=True, timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(output.read_text())
    assert {r["workload"] for r in results["results"]} == set(workloads.QUICK)
    for row in results["results"]:
        for library in workloads.DEFAULT_LIBRARIES:
            assert "error" not in row[library], row
            assert row[library]["throughput"] > 0
            assert row[library]["peak_memory_mb"] > 0
    assert results["peak"]["float32"] > 0
    for name in workloads.QUICK:
        assert f"| {name} | float32 | on |" in done.stdout
    assert "Best setting of each library" in done.stdout
