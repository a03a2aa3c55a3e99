"""benchmarks.quality_translate: the recipe both libraries train with (its
schedule, loss and model sizes), the data they see (one vocabulary, the
same batches in the same order), keras-hub's greedy decoding against a
brute-force argmax, the BLEU table on made-up results ("not reached"
included), the refusals; and, under the `benchmark` marker, the quick mode
end to end (a minute or two; nothing here asserts a speed or a score).

The parallel files are written here: German and English number words
(`zoo.data.numbers`)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import quality_translate as translate
from benchmarks import quality_translate_recipe as recipe
from benchmarks import quality_translate_train as train
from benchmarks import run

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


def _files(directory, train_count=120, eval_count=10):
    """Four line-aligned files of number words: {flag: path}."""
    from zoo.data import numbers

    rng = np.random.default_rng(0)
    paths = {}
    for split, count in (("train", train_count), ("eval", eval_count)):
        values = rng.integers(1, 1000, count)
        for side, words in (("source", numbers.german),
                            ("target", numbers.english)):
            path = directory / f"{split}.{side}"
            path.write_text("".join(f"{words(int(n))}\n" for n in values),
                            encoding="utf-8")
            paths[f"{split}_{side}"] = str(path)
    return paths


def _spec(paths, **changes):
    return dict(dict(paths, steps=6, batch_size=8, vocabulary_size=150,
                     eval_sentences=0, seed=1337), **changes)


# The recipe ------------------------------------------------------------------


def test_learning_rates_are_zoos_inverse_square_root():
    from keras import ops

    from zoo.training import optimizers

    rates = recipe.learning_rates(1800, 300, 0.45)
    assert len(rates) == 1800
    # docs/results.md: the peak, 0.45 x 256^-0.5 x 300^-0.5, at step 300.
    assert max(rates) == pytest.approx(1.6e-3, rel=0.02)
    assert np.argmax(rates) == 299
    zoo = optimizers.schedule("inverse_sqrt", 0.45, 1800, 300, hidden_dim=256)
    np.testing.assert_allclose(rates, ops.convert_to_numpy(
        zoo(ops.arange(1800))), rtol=1e-5)


def _size(variables):
    return sum(int(np.prod(v.shape)) for v in variables)


def test_both_models_have_the_presets_sizes():
    from benchmarks.workloads import keras_hub_transformer
    from zoo.models import Transformer
    from zoo.tasks import Seq2SeqLM

    config = Transformer.preset_config(recipe.PRESET)
    assert {key: config[key] for key in recipe.MODEL} == recipe.MODEL
    zoo = Seq2SeqLM(Transformer.from_preset(
        recipe.PRESET, vocabulary_size=300,
        attention_dropout=recipe.ATTENTION_DROPOUT))
    peer = keras_hub_transformer(dict(recipe.MODEL, vocabulary_size=300))
    assert _size(peer.weights) == _size(zoo.weights)
    ids = np.ones((2, 5), "int32")
    logits = peer({"encoder_token_ids": ids, "encoder_padding_mask": ids,
                   "decoder_token_ids": ids[:, :3],
                   "decoder_padding_mask": ids[:, :3]})
    assert tuple(logits.shape) == (2, 3, 300)


def test_keras_hub_loss_is_zoos():
    from zoo.tasks.losses import SparseCrossEntropy

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 5, 11)).astype("float32")
    labels = rng.integers(0, 11, (3, 5)).astype("int32")
    weights = (rng.random((3, 5)) > 0.3).astype("float32")
    zoo = SparseCrossEntropy(label_smoothing=recipe.LABEL_SMOOTHING)
    peer = train.smoothed_cross_entropy(11)
    assert float(peer(labels, logits, weights)) == pytest.approx(
        float(zoo(labels, logits, weights)), rel=1e-5)


def test_bleu_is_zoos():
    from zoo import evaluation

    hypotheses = ["a man is riding a horse .", "two dogs play ."]
    references = ["a man rides a horse .", "two dogs are playing ."]
    assert recipe.bleu(hypotheses, references) == pytest.approx(
        evaluation.bleu(hypotheses, references)["score"])


# The data --------------------------------------------------------------------


def test_pack_and_unpack_keep_every_batch():
    rng = np.random.default_rng(0)
    batches = [{key: rng.integers(0, 9, (4, length)).astype("int32")
                for key in recipe.KEYS} for length in (3, 8, 5)]
    data = recipe.pack(batches)
    for key in recipe.KEYS:
        assert data[f"{key}_shape"].tolist() == [[4, 3], [4, 8], [4, 5]]
        for batch, again in zip(batches, recipe.unpack(data, key)):
            np.testing.assert_array_equal(again, batch[key])


def test_every_library_gets_the_same_batches(tmp_path):
    """The batches are the recipe's (zoo's pipeline, in its order), the
    preparation is deterministic, and both workers read one file."""
    import keras

    from zoo.data import parallel
    from zoo.data import seq2seq
    from zoo.data.tokenizer_classes import SubwordTokenizer
    from zoo.tasks.task import shift_left

    spec = _spec(_files(tmp_path))
    summary = recipe.prepare(spec, str(tmp_path / "a.npz"))
    recipe.prepare(spec, str(tmp_path / "b.npz"))
    first, again = (recipe.load(str(tmp_path / name))
                    for name in ("a.npz", "b.npz"))
    assert first.keys() == again.keys()
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    assert summary["train_pairs"] == 120 and summary["eval_sentences"] == 10
    # Batch by batch, what zoo's recipe pipeline gives with this seed.
    tokenizer = SubwordTokenizer(first["proto"])
    pairs = parallel.encode_pairs(
        tokenizer, *parallel.read_parallel(spec["train_source"],
                                           spec["train_target"]), 128)
    keras.utils.set_random_seed(1337)
    expected = list(seq2seq.seq2seq_batches(
        parallel.pair_dataset(pairs, True, 1337), 8, tokenizer.start_token_id,
        tokenizer.pad_token_id, bucket_width=8).take(6))
    batches = list(recipe.training_batches(first))
    assert len(batches) == 6
    for (x, labels, weights), want in zip(batches, expected):
        assert x.keys() == want.keys()
        for key in recipe.KEYS:
            np.testing.assert_array_equal(x[key], want[key].numpy())
        assert x["encoder_token_ids"].shape[1] % 8 == 0
        want_labels, want_weights = shift_left(
            want, "decoder_token_ids", "decoder_padding_mask")
        np.testing.assert_array_equal(labels, want_labels)
        np.testing.assert_array_equal(weights, want_weights)
    sources, references = recipe.evaluation_set(first)
    assert len(sources) == len(references) == 10
    assert references[0] == open(spec["eval_target"]).readline().strip()
    assert first["max_new_tokens"] == max(map(len, sources)) + 50
    # The workers of both libraries get one and the same recipe and file.
    args = translate.parser().parse_args(
        [f"--{k}={v}" for k, v in _files(tmp_path).items()])
    specs = [translate.spec_of(library, dict(steps=6), 35.0, "a.npz", args)
             for library in translate.LIBRARIES]
    settings = ("library", "precision", "xla")
    assert ({k: v for k, v in specs[0].items() if k not in settings}
            == {k: v for k, v in specs[1].items() if k not in settings})
    assert (specs[0]["precision"], specs[0]["xla"]) == ("auto", "auto")
    assert (specs[1]["precision"], specs[1]["xla"]) == ("float32", False)


def test_fewer_evaluation_sentences(tmp_path):
    spec = _spec(_files(tmp_path), eval_sentences=4)
    *_, sources, references = recipe.read_pairs(spec)
    assert len(sources) == len(references) == 4


def test_keras_hub_detokenizes_as_zoo(tmp_path):
    import keras_hub

    from zoo.data.tokenizer_classes import SubwordTokenizer
    from zoo.generation import requests

    recipe.prepare(_spec(_files(tmp_path)), str(tmp_path / "data.npz"))
    data = recipe.load(str(tmp_path / "data.npz"))
    rows = [list(ids) for ids in recipe.evaluation_set(data)[0]] + [[], [1]]
    peer = keras_hub.tokenizers.SentencePieceTokenizer(proto=data["proto"])
    assert peer.detokenize(rows) == requests.detokenize(
        SubwordTokenizer(data["proto"]), rows)


# keras-hub's greedy decoding -------------------------------------------------


def _brute_force(model, ids, mask, start_id, steps):
    """Each step's argmax of the whole model over the whole prefix."""
    prefix = np.full((len(ids), 1), start_id, "int32")
    for _ in range(steps):
        logits = model({"encoder_token_ids": ids, "encoder_padding_mask": mask,
                        "decoder_token_ids": prefix,
                        "decoder_padding_mask": np.ones_like(prefix)})
        new = np.asarray(logits)[:, -1].argmax(-1).astype("int32")  # (B,)
        prefix = np.concatenate([prefix, new[:, None]], axis=1)
    return prefix[:, 1:]  # (B, steps)


@pytest.mark.filterwarnings("ignore:You are using a softmax over axis")
def test_keras_hub_greedy_is_the_argmax_of_the_whole_model():
    import keras

    from benchmarks.workloads import keras_hub_transformer

    keras.utils.set_random_seed(3)
    model = keras_hub_transformer(dict(
        vocabulary_size=23, num_layers=2, num_heads=2, hidden_dim=16,
        intermediate_dim=32, dropout=0.1))
    # Small token embeddings: the positions matter, and a wrong one shows.
    embedding = model.get_layer("embedding")
    embedding.embeddings.assign(embedding.embeddings * 0.1)
    sources = [[5, 6, 7, 8, 9], [10, 4], [11, 12, 13]]
    ids, mask = train.padded(sources, 0)
    assert ids.tolist() == [[5, 6, 7, 8, 9], [10, 4, 0, 0, 0],
                            [11, 12, 13, 0, 0]]
    expected = _brute_force(model, ids, mask, 2, 7)
    # No end token: every row runs to the limit.
    rows = train.keras_hub_greedy(model, ids, mask, 2, 99, 7)
    assert rows == expected.tolist()
    # The end token ends a row (kept, as zoo's `generate` keeps it).
    end = int(expected[0, 2])
    rows = train.keras_hub_greedy(model, ids, mask, 2, end, 7)
    for row, want in zip(rows, expected.tolist()):
        assert row == (want[:want.index(end) + 1] if end in want else want)
    assert len(rows[0]) <= 3


# The table -------------------------------------------------------------------


def _result(settings, *history, memory=1500.0):
    history = [{"step": s, "seconds": t, "bleu": bleu}
               for s, t, bleu in history]
    return {"settings": settings, "history": history,
            "final_bleu": history[-1]["bleu"], "steps_per_second": 1.8,
            "peak_memory_mb": memory}


RESULTS = {
    "zoo": _result("float32, XLA off", (1350, 740.0, 34.2),
                   (1575, 860.0, 35.0)),  # exactly the target: reached
    "keras-hub": _result("float32, XLA off", (1350, 900.0, 33.0),
                         (1575, 1050.0, 35.4), (1800, 1200.0, 35.1)),
}


def test_first_crossing_of_a_bleu_is_at_or_above_the_target():
    first = translate.quality.first_crossing
    history = RESULTS["keras-hub"]["history"]
    assert first(history, 35.0, translate.BLEU)["step"] == 1575
    assert first(history, 33.0, translate.BLEU)["seconds"] == 900.0
    assert first(history, 36.0, translate.BLEU) is None


def test_markdown_table_of_bleu():
    lines = translate.quality.markdown(RESULTS, 35.0,
                                       translate.BLEU).splitlines()
    assert lines[0] == ("| library | precision, compilation | time to BLEU "
                        ">= 35.0 | at step | zoo / this | final BLEU | "
                        "steps/s | peak MB |")
    assert lines[2] == ("| zoo | float32, XLA off | 860.0 s | 1575 | - | "
                        "35.00 | 1.8 | 1,500 |")
    assert lines[3] == ("| keras-hub | float32, XLA off | 1050.0 s | 1575 | "
                        "0.82x | 35.10 | 1.8 | 1,500 |")
    assert lines[-1] == ("zoo / best peer (keras-hub), time to greedy BLEU "
                         ">= 35.0: 0.82x (goal <= 0.80x: not met).")


def test_a_library_that_never_reaches_the_target_has_no_time():
    lines = translate.quality.markdown(RESULTS, 35.2,
                                       translate.BLEU).splitlines()
    assert lines[2] == ("| zoo | float32, XLA off | not reached (best 35.00) "
                        "| - | - | 35.00 | 1.8 | 1,500 |")
    assert lines[3] == ("| keras-hub | float32, XLA off | 1050.0 s | 1575 | "
                        "- | 35.10 | 1.8 | 1,500 |")
    assert lines[-1] == ("zoo / best peer: no value (zoo or every peer did "
                         "not reach greedy BLEU >= 35.2).")
    failed = dict(RESULTS, **{"keras-hub": {"error": "timed out"}})
    lines = translate.quality.markdown(failed, 35.0,
                                       translate.BLEU).splitlines()
    assert lines[3] == ("| keras-hub | failed: timed out | - | - | - | - | - "
                        "| - |")
    assert lines[-1].startswith("zoo / best peer: no value")


def test_table_of_a_saved_run(tmp_path, capsys):
    path = tmp_path / "saved.json"
    path.write_text(json.dumps({"target": 35.0, "results": RESULTS}))
    translate.main(["--table", str(path), "--target", "34"])
    out = capsys.readouterr().out
    assert "| zoo | float32, XLA off | 740.0 s | 1350 |" in out
    assert "| keras-hub | float32, XLA off | 1050.0 s | 1575 | 0.70x" in out


# The command line ------------------------------------------------------------


def _plan(argv):
    p = translate.parser()
    return translate.plan(p.parse_args(argv), p.error)


def _arguments(paths):
    return [f"--{name}={path}" for name, path in paths.items()]


def test_full_and_quick_numbers(tmp_path):
    files = _arguments(_files(tmp_path))
    libraries, numbers, target = _plan(files)
    assert libraries == ["zoo", "keras-hub"]
    assert numbers == dict(steps=1800, eval_every=225, warmup_steps=300,
                           batch_size=128, learning_rate=0.45,
                           vocabulary_size=8000, eval_sentences=0, seed=1337)
    assert target == 35.0
    _, numbers, target = _plan(files + ["--quick", "--eval_every", "10"])
    assert numbers == dict(steps=40, eval_every=10, warmup_steps=10,
                           batch_size=16, learning_rate=0.45,
                           vocabulary_size=200, eval_sentences=8, seed=1337)
    assert target == 0.0
    args = translate.parser().parse_args(files)
    assert (args.peer_precision, args.peer_xla) == ("float32", "off")


@pytest.mark.parametrize("argv, message", [
    (["--libraries", "zoo,pytorch"], "--libraries takes"),
    (["--libraries", "zoo,zoo"], "each at most once"),
    (["--eval_every", "400"], "must divide --steps"),
    (["--warmup_steps", "0"], "--warmup_steps must be"),
    (["--batch_size", "0"], "--batch_size, --vocabulary_size"),
    (["--eval_sentences", "-1"], "--eval_sentences and --seed"),
    (["--target", "120"], "--target is a BLEU score"),
    (["--eval_target", "/nonexistent.en"], "--eval_target must be a file"),
])
def test_refusals(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit):
        _plan(_arguments(_files(tmp_path)) + argv)
    assert message in capsys.readouterr().err


def test_a_missing_file_flag_is_refused(tmp_path, capsys):
    paths = _files(tmp_path)
    del paths["train_target"]
    with pytest.raises(SystemExit):
        _plan(_arguments(paths))
    assert "--train_target must be a file" in capsys.readouterr().err


def test_files_of_different_lengths_are_refused(tmp_path, capsys):
    paths = _files(tmp_path)
    with open(paths["eval_target"], "a", encoding="utf-8") as f:
        f.write("one more\n")
    with pytest.raises(SystemExit):
        translate.main(_arguments(paths) + ["--quick"])
    err = capsys.readouterr().err
    assert "has 10 lines but" in err and "has 11" in err
    assert "line-aligned" in err


def test_workers_run_this_module():
    spec = {"library": "keras-hub", "data": "data.npz"}
    command, env, directory = run.worker_process(
        spec, module="benchmarks.quality_translate")
    assert command[1:4] == ["-m", "benchmarks.quality_translate", "--worker"]
    assert json.loads(command[4]) == spec
    assert env["KERAS_BACKEND"] == "tensorflow"
    assert directory == run.ROOT


@pytest.mark.benchmark
def test_quick_mode_runs_every_library(tmp_path):
    paths = _files(tmp_path, train_count=300, eval_count=12)
    output = tmp_path / "translate.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.quality_translate", "--quick",
         "--keep_going", "--json", str(output)] + _arguments(paths),
        cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-2000:]
    saved = json.loads(output.read_text())
    assert saved["target"] == 0.0
    assert saved["recipe"]["steps"] == 40
    assert saved["recipe"]["eval_sentences"] == 8
    assert list(saved["results"]) == list(translate.LIBRARIES)
    sizes = set()
    for library, result in saved["results"].items():
        assert "error" not in result, (library, result)
        assert [h["step"] for h in result["history"]] == [20, 40]
        seconds = [h["seconds"] for h in result["history"]]
        assert 0 < seconds[0] < seconds[1] == result["train_seconds"]
        assert result["final_bleu"] == result["history"][-1]["bleu"]
        assert all(0 <= h["bleu"] <= 100 for h in result["history"])
        assert result["steps_per_second"] > 0
        assert result["peak_memory_mb"] > 0
        sizes.add(result["parameters"])
    assert len(sizes) == 1  # the same model in both
    assert "| library | precision, compilation | time to BLEU >= 0.0" in (
        done.stdout)
    assert "zoo / best peer (keras-hub)" in done.stdout
    table = subprocess.run(
        [sys.executable, "-m", "benchmarks.quality_translate", "--table",
         str(output)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert table.stdout.strip() in done.stdout
