"""benchmarks.torch_peers: the PyTorch models have the Keras models' sizes
and really train. Skipped where PyTorch is not installed (it is an extra:
pip install -e ".[pytorch]"), except the error that says so."""

import sys

import numpy as np
import pytest
import pytorch_process as pt

from benchmarks import workloads


def test_missing_pytorch_says_how_to_install_it(monkeypatch):
    from benchmarks import torch_peers

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch fails
    with pytest.raises(ImportError, match=r'pip install -e "\.\[pytorch\]"'):
        torch_peers.peer_model(workloads.WORKLOADS["gpt_nano"])


# Each test runs its PyTorch side in tests/pytorch_process.py's child
# process, never beside TensorFlow in the test worker.

def _peer_parameters(name):
    from benchmarks import torch_peers

    peer = torch_peers.peer_model(workloads.WORKLOADS[name])
    return sum(p.numel() for p in peer.parameters())


@pytest.mark.parametrize("name", ["gpt_nano", "bert_tiny", "transformer_base"])
def test_peer_has_the_keras_hub_models_parameters(name):
    w = workloads.WORKLOADS[name]
    assert (pt.call(_peer_parameters, name)
            == workloads.keras_hub_model(w).count_params())


def _small(name, **changes):
    w = workloads.WORKLOADS[name]
    config = dict(w.config, num_layers=1, hidden_dim=32, num_heads=2,
                  intermediate_dim=64, **changes)
    return workloads.Workload(w.name, w.kind, w.family, config, 2, 16,
                              new_tokens=w.new_tokens)


def _losses(name):
    from benchmarks import torch_peers

    w = _small(name, vocabulary_size=50, dropout=0.0, attention_dropout=0.0)
    step = torch_peers.step_function(w, "float32", compiled=False,
                                     learning_rate=1e-3)
    return [step().item() for _ in range(50)]


@pytest.mark.parametrize("name", ["gpt_nano", "bert_tiny", "transformer_base"])
def test_training_steps_lower_the_loss(name):
    # Without dropout, steps on one batch must fit it.
    losses = pt.call(_losses, name)
    assert losses[-1] < 0.7 * losses[0], losses


def _measure():
    from benchmarks import torch_peers

    return torch_peers.measure_steps(_small("bert_base_infer"), "float32",
                                     False, budget=0.0)


def test_measure_steps_reports_what_keras_rows_report():
    result = pt.call(_measure)
    assert result["steps_timed"] == 2
    assert result["throughput"] > 0 and result["flops_per_second"] > 0


def _generate():
    from benchmarks import torch_peers

    w = _small("generate_gpt_nano_b8", vocabulary_size=50,
               max_sequence_length=64)
    w = workloads.Workload(w.name, w.kind, w.family, w.config, w.batch,
                           workloads.PROMPT_LENGTH, new_tokens=5)
    return w.batch, torch_peers.generator(w, "float32", compiled=False)().numpy()


def test_generation_keeps_the_prompt_and_adds_new_tokens():
    batch, tokens = pt.call(_generate)
    assert tokens.shape == (batch, workloads.PROMPT_LENGTH + 5)
    prompts = np.random.default_rng(0).integers(1, 50, (batch, 16))
    np.testing.assert_array_equal(tokens[:, :16], prompts)
    assert np.all((tokens >= 0) & (tokens < 50))
