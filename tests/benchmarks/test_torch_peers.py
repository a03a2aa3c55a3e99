"""benchmarks.torch_peers: the PyTorch models have the Keras models' sizes
and really train. Skipped where PyTorch is not installed (it is an extra:
pip install -e ".[pytorch]"), except the error that says so."""

import sys

import numpy as np
import pytest

from benchmarks import workloads


def test_missing_pytorch_says_how_to_install_it(monkeypatch):
    from benchmarks import torch_peers

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch fails
    with pytest.raises(ImportError, match=r'pip install -e "\.\[pytorch\]"'):
        torch_peers.peer_model(workloads.WORKLOADS["gpt_nano"])


@pytest.mark.parametrize("name", ["gpt_nano", "bert_tiny", "transformer_base"])
def test_peer_has_the_keras_hub_models_parameters(name):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from benchmarks import torch_peers

    w = workloads.WORKLOADS[name]
    peer = torch_peers.peer_model(w)
    assert (sum(p.numel() for p in peer.parameters())
            == workloads.keras_hub_model(w).count_params())


def _small(name, **changes):
    w = workloads.WORKLOADS[name]
    config = dict(w.config, num_layers=1, hidden_dim=32, num_heads=2,
                  intermediate_dim=64, **changes)
    return workloads.Workload(w.name, w.kind, w.family, config, 2, 16,
                              new_tokens=w.new_tokens)


@pytest.mark.parametrize("name", ["gpt_nano", "bert_tiny", "transformer_base"])
def test_training_steps_lower_the_loss(name):
    pytest.importorskip("transformers")
    from benchmarks import torch_peers

    # Without dropout, steps on one batch must fit it.
    w = _small(name, vocabulary_size=50, dropout=0.0, attention_dropout=0.0)
    step = torch_peers.step_function(w, "float32", compiled=False,
                                     learning_rate=1e-3)
    losses = [step().item() for _ in range(50)]
    assert losses[-1] < 0.7 * losses[0], losses


def test_measure_steps_reports_what_keras_rows_report():
    pytest.importorskip("transformers")
    from benchmarks import torch_peers

    w = _small("bert_base_infer")
    result = torch_peers.measure_steps(w, "float32", False, budget=0.0)
    assert result["steps_timed"] == 2
    assert result["throughput"] > 0 and result["flops_per_second"] > 0


def test_generation_keeps_the_prompt_and_adds_new_tokens():
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from benchmarks import torch_peers

    w = _small("generate_gpt_nano_b8", vocabulary_size=50,
               max_sequence_length=64)
    w = workloads.Workload(w.name, w.kind, w.family, w.config, w.batch,
                           workloads.PROMPT_LENGTH, new_tokens=5)
    tokens = torch_peers.generator(w, "float32", compiled=False)()
    assert tuple(tokens.shape) == (w.batch, workloads.PROMPT_LENGTH + 5)
    prompts = np.random.default_rng(0).integers(1, 50, (w.batch, 16))
    np.testing.assert_array_equal(tokens[:, :16].numpy(), prompts)
    assert torch.all((tokens >= 0) & (tokens < 50))
