"""The same weights on TensorFlow, JAX and PyTorch: the same numbers.

Each backend runs in its own process (Keras picks its backend once per
process): the tasks are built and saved here, on the TensorFlow backend,
and tests/backend_worker.py loads them on JAX and on PyTorch.
"""

import json
import os
import pickle
import subprocess
import sys

import keras
import numpy as np
import pytest
from backends import ROOT
from backends import backend_env
from backends import require

from zoo import export
from zoo.data.tokenizers import tokenize_lines
from zoo.models import BertEncoder
from zoo.models import GPTDecoder
from zoo.models import Transformer
from zoo.tasks import CausalLM
from zoo.tasks import MaskedLM
from zoo.tasks import Seq2SeqLM

pytestmark = pytest.mark.tensorflow  # the reference side runs TensorFlow

SIZES = dict(num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
             dropout=0.0)
PROMPTS = [[5, 6, 7, 8, 9], [10, 11], [12, 13, 14]]


def _batch(rng, prefix="", length=7):
    ids = rng.integers(3, 50, (3, length)).astype("int32")
    mask = np.ones((3, length), "int32")
    mask[1, 4:] = 0
    return {f"{prefix}token_ids": ids * mask, f"{prefix}padding_mask": mask}


def _tasks(tmp_path):
    """Tasks with random weights, saved; their inputs; what to generate."""
    keras.utils.set_random_seed(3)
    rng = np.random.default_rng(3)
    bert_inputs = _batch(rng)
    bert_inputs["segment_ids"] = np.zeros_like(bert_inputs["token_ids"])
    bert_inputs["mask_positions"] = np.array([[1, 2], [0, 3], [4, 5]], "int32")
    tasks = {
        "gpt": (CausalLM(GPTDecoder(50, max_sequence_length=32, **SIZES)),
                _batch(rng), dict(samplers=["greedy", "beam"],
                                  options={"max_new_tokens": 12,
                                           "stop_token_ids": None})),
        "bert": (MaskedLM(BertEncoder(50, max_sequence_length=32, **SIZES)),
                 bert_inputs, {}),
        "transformer": (
            Seq2SeqLM(Transformer(50, max_sequence_length=32, **SIZES)),
            {**_batch(rng, "encoder_"), **_batch(rng, "decoder_", 6)},
            dict(samplers=["greedy", "beam"],
                 options={"max_new_tokens": 10, "start_token_id": 1,
                          "stop_token_ids": [2], "num_beams": 3})),
    }
    jobs = {}
    for name, (task, inputs, generation) in tasks.items():
        path = str(tmp_path / f"{name}.keras")
        task.save(path)
        np.savez(tmp_path / f"{name}_inputs.npz", **inputs)
        jobs[name] = {"path": path, "inputs": str(tmp_path / f"{name}_inputs.npz"),
                      "prompts": PROMPTS, **generation}
    return jobs


def _run_worker(backend, jobs, tmp_path):
    require(backend)
    request = tmp_path / f"{backend}.json"
    output = tmp_path / f"{backend}.npz"
    request.write_text(json.dumps({"tasks": jobs, "output": str(output)}))
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tests", "backend_worker.py"),
         str(request)], env=backend_env(backend), capture_output=True,
        text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(output) as data:
        assert str(data["backend"]) == backend
        return {key: data[key] for key in data.files}


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_the_same_weights_give_the_same_outputs_and_tokens(backend, tmp_path):
    jobs = _tasks(tmp_path)
    reference = tmp_path / "tensorflow.json"
    reference.write_text(json.dumps(
        {"tasks": jobs, "output": str(tmp_path / "tensorflow.npz")}))
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import backend_worker

    backend_worker.main(str(reference))  # in this TensorFlow process
    with np.load(tmp_path / "tensorflow.npz") as data:
        expected = {key: data[key] for key in data.files}
    actual = _run_worker(backend, jobs, tmp_path)
    assert set(actual) == set(expected)
    for key in sorted(expected):
        if key.endswith("/outputs"):
            np.testing.assert_allclose(actual[key], expected[key], atol=1e-5,
                                       err_msg=key)
        elif key != "backend":  # generated ids: exactly the same
            np.testing.assert_array_equal(actual[key], expected[key],
                                          err_msg=key)


def test_a_recipe_run_on_jax_exports_from_tensorflow(tmp_path):
    """gpt_pretrain trained under JAX; its model dir exported here, on
    TensorFlow; the SavedModel, served by a process without the zoo, gives
    the ids that JAX generated in-process."""
    require("jax")
    model_dir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "recipes", "gpt_pretrain.py"),
         f"--model_dir={model_dir}", "--steps=4", "--checkpoint_every=2",
         "--batch_size=4", "--tokenizer=character", "--sequence_length=64",
         "--override=max_sequence_length=64", "--override=num_layers=1",
         "--override=hidden_dim=32", "--override=num_heads=2",
         "--override=intermediate_dim=64", "--warmup_steps=1",
         "--samples=0"],
        env=backend_env("jax"), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    texts = ["the cat", "on a mat and"]
    jobs = {"gpt": {"path": str(model_dir / "model.keras"),
                    "inputs": str(tmp_path / "inputs.npz"),
                    "prompts": texts, "samplers": []}}
    np.savez(tmp_path / "inputs.npz", token_ids=np.ones((1, 4), "int32"))
    task = keras.saving.load_model(model_dir / "model.keras", compile=False)
    prompts = [ids.tolist() for ids in tokenize_lines(task.tokenizer, texts)]
    jobs["gpt"]["prompts"], jobs["gpt"]["samplers"] = prompts, ["greedy"]
    jobs["gpt"]["options"] = {"max_new_tokens": 8, "stop_token_ids": None}
    on_jax = _run_worker("jax", jobs, tmp_path)["gpt/greedy"]

    export.export_model_dir(str(model_dir), str(tmp_path / "export"))
    calls = [("generate_ids", {
        "token_ids": np.array([p + [0] * (12 - len(p)) for p in prompts],
                              "int32"),
        "padding_mask": np.array([[1] * len(p) + [0] * (12 - len(p))
                                  for p in prompts], "int32"),
        "max_new_tokens": np.int32(8)})]
    with open(tmp_path / "calls.pkl", "wb") as file:
        pickle.dump(calls, file)
    served = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tests", "export", "serve.py"),
         str(tmp_path / "export"), str(tmp_path / "calls.pkl"),
         str(tmp_path / "results.pkl")],
        env=backend_env("tensorflow"), capture_output=True, text=True,
        timeout=600)
    assert served.returncode == 0, served.stderr[-3000:]
    with open(tmp_path / "results.pkl", "rb") as file:
        outputs = pickle.load(file)[0]
    rows = [row[m.astype(bool)].tolist() for row, m in
            zip(outputs["token_ids"], outputs["padding_mask"])]
    assert rows == [[i for i in row if i >= 0] for row in on_jax.tolist()]


def test_savedmodel_export_on_jax_says_which_backend_to_use(tmp_path):
    require("jax")
    task = CausalLM(GPTDecoder(50, max_sequence_length=32, **SIZES))
    task.save(tmp_path / "lm.keras")
    script = (
        "import keras, zoo\n"
        "from zoo import export\n"
        f"task = keras.saving.load_model({str(tmp_path / 'lm.keras')!r})\n"
        f"export.export(task, {str(tmp_path / 'export')!r})\n")
    result = subprocess.run([sys.executable, "-c", script],
                            env=backend_env("jax"), capture_output=True,
                            text=True, timeout=600)
    assert result.returncode != 0
    assert ("SavedModel export writes a TensorFlow graph, so it runs on "
            "Keras' TensorFlow backend; this process runs on jax") in result.stderr
    assert "KERAS_BACKEND=tensorflow" in result.stderr
