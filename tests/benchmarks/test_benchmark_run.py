"""benchmarks.run across Keras backends and zoo's variants: the tables (on
made-up results), the refusals, and what each worker process gets (its
command, environment and directory). No model is measured here; the one
process started runs a stand-in checkout's worker, without TensorFlow."""

import json
import os
import sys
import textwrap

import pytest
import pytorch_process as pt

from benchmarks import report
from benchmarks import run

PEAK = {"float32": 100e9, "bfloat16": 50e9}


def _side(throughput, flops=None, memory=1000.0):
    side = {"throughput": throughput, "peak_memory_mb": memory}
    if flops is not None:
        side["flops_per_second"] = flops
    return side


def _row(backend, xla, **sides):
    row = {"workload": "gpt_nano", "dtype": "float32", "xla": xla,
           "backend": backend}
    row.update({name.replace("_", "-"): side for name, side in sides.items()})
    return row


def test_markdown_table_with_backends_and_zoo_variants():
    results = [
        _row("tensorflow", True, zoo=_side(3000, 50e9),
             zoo_untuned=_side(2000, 30e9), zoo_before=_side(1500, 25e9),
             keras_hub=_side(2400, 40e9)),
        _row("jax", True, zoo=_side(1000, 20e9),
             zoo_untuned=_side(2500, 45e9), keras_hub=_side(2000, 40e9)),
        _row("tensorflow", False, zoo=_side(1200), zoo_untuned=_side(1100),
             zoo_before={"error": "OOM"}, keras_hub=_side(2600)),
    ]
    table = report.markdown(results, PEAK)
    lines = table.splitlines()
    every = "zoo / zoo-untuned / zoo-before / keras-hub"
    assert lines[0] == (
        "| workload | dtype | XLA | backend | zoo | zoo-untuned | "
        "zoo-before | keras-hub | zoo / zoo-untuned | zoo / zoo-before | "
        f"zoo / keras-hub | MFU {every} | peak MB {every} |")
    assert lines[1] == "|" + "---|" * 13
    assert ("| gpt_nano | float32 | on | tensorflow | 3,000 tok/s | "
            "2,000 tok/s | 1,500 tok/s | 2,400 tok/s | 1.50x | 2.00x | "
            "1.25x | 50% / 30% / 25% / 40% | 1,000 / 1,000 / 1,000 / 1,000 "
            "|") in lines
    # zoo-before runs on TensorFlow only: a dash on JAX, not a failure.
    assert ("| gpt_nano | float32 | on | jax | 1,000 tok/s | 2,500 tok/s | "
            "- | 2,000 tok/s | 0.40x | - | 0.50x | 20% / 45% / - / 40% | "
            "1,000 / 1,000 / - / 1,000 |") in lines
    assert any("| off | tensorflow |" in line and "failed: OOM" in line
               for line in lines)
    assert "Best setting of each library, per backend:" in lines
    assert ("| workload | backend | zoo best | zoo-untuned best | "
            "zoo-before best | keras-hub best | zoo / best peer |") in lines
    # Per backend; zoo over the best peer, keras-hub's XLA-off 2,600.
    assert ("| gpt_nano | tensorflow | 3,000 tok/s (float32, XLA on) | "
            "2,000 tok/s (float32, XLA on) | 1,500 tok/s (float32, XLA on) "
            "| 2,600 tok/s (float32, XLA off) | 1.15x |") in lines
    # zoo-untuned is zoo, not a peer: zoo over keras-hub's 2,000.
    assert ("| gpt_nano | jax | 1,000 tok/s (float32, XLA on) | "
            "2,500 tok/s (float32, XLA on) | - | "
            "2,000 tok/s (float32, XLA on) | 0.50x |") in lines
    assert "zoo-untuned is zoo with `ZOO_TUNING=off`" in table
    assert "zoo-before is zoo at the `--before` checkout" in table
    assert "`jit_compile=True` on every Keras backend" in table


def test_pytorch_is_noted_as_measured_on_tensorflow_rows():
    results = [
        _row("tensorflow", True, zoo=_side(3000), keras_hub=_side(2000),
             pytorch=_side(2500)),
        _row("jax", True, zoo=_side(1000), keras_hub=_side(800)),
    ]
    lines = report.markdown(results, PEAK).splitlines()
    assert ("| gpt_nano | float32 | on | jax | 1,000 tok/s | 800 tok/s | "
            "- | 1.25x | - | - / - / - | 1,000 / 1,000 / - |") in lines
    assert ("| gpt_nano | jax | 1,000 tok/s (float32, XLA on) | "
            "800 tok/s (float32, XLA on) | - | 1.25x |") in lines
    assert lines[-1].startswith("For PyTorch, XLA on is `torch.compile`")
    assert lines[-1].endswith("measured on the tensorflow rows only.")


# What each worker process gets ----------------------------------------------

SPEC = {"workload": "gpt_nano", "dtype": "float32", "xla": True,
        "budget": 2.0}


@pytest.fixture
def environment(monkeypatch):
    """A caller's environment that must not leak into the workers."""
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    monkeypatch.setenv("ZOO_TUNING", "on")


def test_zoo_and_keras_hub_workers_get_their_rows_backend(environment):
    for library in ("zoo", "keras-hub"):
        spec = dict(SPEC, library=library, backend="jax")
        command, env, directory = run.worker_process(spec)
        assert command[:4] == [sys.executable, "-m", "benchmarks.run",
                               "--worker"]
        assert json.loads(command[4]) == spec
        assert env["KERAS_BACKEND"] == "jax"
        assert "ZOO_TUNING" not in env  # zoo's default, auto
        assert directory == run.ROOT


def test_zoo_untuned_worker_turns_tuning_off(environment):
    spec = dict(SPEC, library="zoo-untuned", backend="tensorflow")
    command, env, directory = run.worker_process(spec)
    assert env["ZOO_TUNING"] == "off"
    assert env["KERAS_BACKEND"] == "tensorflow"
    assert json.loads(command[4]) == spec and directory == run.ROOT


def test_peak_and_matmul_workers_run_on_tensorflow(environment):
    _, env, _ = run.worker_process({"workload": "peak", "budget": 1.0})
    assert env["KERAS_BACKEND"] == "tensorflow"
    command, env, _ = run.worker_process(
        {"library": "xla", "workload": "bert_base", "budget": 1.0},
        module="benchmarks.matmul")
    assert command[2] == "benchmarks.matmul"
    assert env["KERAS_BACKEND"] == "tensorflow"


def test_zoo_before_worker_is_the_older_checkouts_own(environment, tmp_path):
    spec = dict(SPEC, library="zoo-before", backend="tensorflow")
    command, env, directory = run.worker_process(spec, before=str(tmp_path))
    assert directory == str(tmp_path)
    assert command[:4] == [sys.executable, "-m", "benchmarks.run",
                           "--worker"]
    # Exactly the keys the older worker knows, as plain zoo.
    assert json.loads(command[4]) == dict(SPEC, library="zoo")
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(tmp_path)
    assert env["KERAS_BACKEND"] == "tensorflow"
    with pytest.raises(ValueError, match="--before"):
        run.worker_process(spec)


def _checkout(path, worker_body):
    """A stand-in older checkout: its own zoo/ and benchmarks/run.py."""
    (path / "zoo").mkdir()
    (path / "zoo" / "__init__.py").write_text("")
    (path / "benchmarks").mkdir()
    (path / "benchmarks" / "__init__.py").write_text("")
    (path / "benchmarks" / "run.py").write_text(textwrap.dedent(worker_body))
    return str(path)


def test_zoo_before_runs_in_its_checkout_with_its_own_zoo(tmp_path):
    before = _checkout(tmp_path, """\
        import json, os, sys
        import zoo
        print("RESULT " + json.dumps({
            "spec": json.loads(sys.argv[sys.argv.index("--worker") + 1]),
            "cwd": os.getcwd(), "zoo": zoo.__file__,
            "backend": os.environ["KERAS_BACKEND"]}))
        """)
    spec = dict(SPEC, library="zoo-before", backend="tensorflow")
    result = run.run_worker(spec, timeout=120, before=before)
    assert result["spec"] == dict(SPEC, library="zoo")
    assert os.path.samefile(result["cwd"], before)
    assert os.path.samefile(os.path.dirname(result["zoo"]),
                            os.path.join(before, "zoo"))
    assert result["backend"] == "tensorflow"


def test_a_worker_without_a_result_gives_its_last_error(tmp_path):
    before = _checkout(tmp_path, "raise KeyError('gpt_giant')\n")
    result = run.run_worker(dict(SPEC, library="zoo-before"), timeout=120,
                            before=before)
    assert result == {"error": "KeyError: 'gpt_giant'"}


# Refusals, before any measurement --------------------------------------------


@pytest.fixture
def no_measurement(monkeypatch):
    monkeypatch.setattr(run, "run_worker", lambda *args, **kwargs: pytest.fail(
        "a refused run must not measure anything"))


def _refused(argv, capsys):
    with pytest.raises(SystemExit):
        run.main(argv)
    return capsys.readouterr().err


def test_zoo_before_without_before_is_refused(no_measurement, capsys):
    err = _refused(["--libraries", "zoo,zoo-before"], capsys)
    assert "zoo-before needs --before DIR" in err


def test_a_bad_before_is_refused(no_measurement, capsys, tmp_path):
    libraries = ["--libraries", "zoo,zoo-before"]
    for before in (tmp_path / "missing", tmp_path):
        err = _refused(libraries + ["--before", str(before)], capsys)
        assert ("--before must be a directory holding benchmarks/run.py "
                "and zoo/") in err
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "run.py").write_text("")
    err = _refused(libraries + ["--before", str(tmp_path)], capsys)
    assert "--before must be a directory" in err  # still no zoo/
    (tmp_path / "zoo").mkdir()
    err = _refused(["--before", str(tmp_path)], capsys)
    assert "add zoo-before to --libraries" in err


@pytest.mark.parametrize("backends", ["torch", "tensorflow,tensorflow",
                                      "tensorflow,jax,numpy"])
def test_unknown_backend_is_refused(backends, no_measurement, capsys):
    err = _refused(["--backends", backends], capsys)
    assert "--backends takes ('tensorflow', 'jax')" in err


def test_jax_without_jax_is_refused(no_measurement, monkeypatch, capsys):
    real_find_spec = run.importlib.util.find_spec
    monkeypatch.setattr(run.importlib.util, "find_spec", lambda name: (
        None if name == "jax" else real_find_spec(name)))
    err = _refused(["--backends", "tensorflow,jax"], capsys)
    assert 'pip install -e ".[jax]"' in err


def test_tensorflow_only_libraries_need_a_tensorflow_row(
        no_measurement, capsys, tmp_path):
    before = _checkout(tmp_path, "")
    err = _refused(["--libraries", "zoo,zoo-before", "--before", before,
                    "--backends", "jax"], capsys)
    assert "zoo-before run on the tensorflow rows only" in err


@pytest.mark.parametrize("libraries", ["zoo,zoo-untuned,zoo-untuned",
                                       "zoo-untuned,zoo", "zoo,zoo-after"])
def test_zoo_variants_are_checked_like_any_library(libraries, no_measurement,
                                                   capsys):
    assert "--libraries takes zoo first" in _refused(
        ["--libraries", libraries], capsys)


# The run: which workers, in which order --------------------------------------


def test_rows_alternate_libraries_on_each_backend(monkeypatch, capsys,
                                                  tmp_path):
    real_find_spec = run.importlib.util.find_spec
    monkeypatch.setattr(run.importlib.util, "find_spec", lambda name: (
        object() if name in ("jax", "torch", "transformers")
        else real_find_spec(name)))
    calls = []

    def fake_worker(spec, timeout, module="benchmarks.run", before=None):
        calls.append((spec, before))
        if spec["workload"] == "peak":
            return dict(PEAK)
        return _side(1000.0 + len(calls), 10e9)

    monkeypatch.setattr(run, "run_worker", fake_worker)
    (tmp_path / "before").mkdir()
    before = _checkout(tmp_path / "before", "")
    output = tmp_path / "results.json"
    run.main(["--only", "gpt_nano", "--dtypes", "float32", "--xla", "on",
              "--backends", "tensorflow,jax", "--libraries",
              "zoo,zoo-untuned,zoo-before,keras-hub,pytorch", "--before",
              before, "--repeats", "2", "--json", str(output)])
    assert calls[0] == ({"workload": "peak", "budget": 5.0}, None)
    # Then each library's idle process (zoo-before has none), then rows.
    assert [spec for spec, _ in calls[1:6]] == [
        {"workload": "idle", "library": name} for name in
        ("tensorflow", "zoo", "zoo-untuned", "keras-hub", "pytorch")]
    done = [(spec["backend"], spec["library"]) for spec, _ in calls[6:]]
    on_tensorflow = ["zoo", "zoo-untuned", "zoo-before", "keras-hub",
                     "pytorch"]
    on_jax = ["zoo", "zoo-untuned", "keras-hub"]
    assert done == ([("tensorflow", name) for name in 2 * on_tensorflow]
                    + [("jax", name) for name in 2 * on_jax])
    assert all(b == before for _, b in calls[6:])
    saved = json.loads(output.read_text())
    assert set(saved["idle"]) == {"tensorflow", "zoo", "zoo-untuned",
                                  "keras-hub", "pytorch"}
    assert saved["before"]["path"] == before
    assert [r["backend"] for r in saved["results"]] == ["tensorflow", "jax"]
    assert "zoo-before" not in saved["results"][1]
    assert len(saved["results"][0]["zoo"]["throughputs"]) == 2
    out = capsys.readouterr().out
    assert "| gpt_nano | float32 | on | jax |" in out
    assert "| gpt_nano | tensorflow |" in out  # the best table


def test_jax_rows_run_only_under_jit(monkeypatch, tmp_path):
    monkeypatch.setattr(run.importlib.util, "find_spec", lambda name: object())
    calls = []

    def fake_worker(spec, timeout, module="benchmarks.run", before=None):
        calls.append(spec)
        return dict(PEAK) if spec["workload"] == "peak" else _side(1000.0)

    monkeypatch.setattr(run, "run_worker", fake_worker)
    run.main(["--only", "gpt_nano", "--dtypes", "float32", "--xla", "both",
              "--backends", "tensorflow,jax", "--libraries", "zoo"])
    assert [(spec["backend"], spec["xla"]) for spec in calls
            if spec["workload"] == "gpt_nano"] == [
        ("tensorflow", True), ("jax", True), ("tensorflow", False)]


def test_idle_processes_load_their_library_and_run_one_op():
    from benchmarks import measure

    for library in ("tensorflow", "zoo", "keras-hub"):
        assert measure.idle(library) == {"sum": 2.0}
    pt.require()
    result = run.run_worker({"workload": "idle", "library": "pytorch"}, 600)
    assert result["sum"] == 2.0 and result["peak_memory_mb"] > 0
