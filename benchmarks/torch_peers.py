"""PyTorch peers of `benchmarks.run`'s workloads, with the same sizes.

    python -m benchmarks.run --libraries zoo,keras-hub,pytorch ...

Needs `pip install -e ".[pytorch]"` (PyTorch and Hugging Face
`transformers`); no weights are downloaded, every model is built from its
config. The peers:

- GPT rows: `transformers.GPT2LMHeadModel` (GPT-2's architecture, as
  nanoGPT's; tied input and output embeddings, tanh GELU).
- BERT rows: `transformers.BertForSequenceClassification`, two classes.
- `transformer_base`: PyTorch's own `torch.nn.Transformer` (post-norm, ReLU,
  as in the paper) between one shared embedding, scaled by sqrt(d_model),
  sinusoidal positions, and logits from the same embedding.

Each gets what the Keras models get: the same random batch, all-ones
padding masks, cross entropy, AdamW(1e-4, weight decay 0.01), dropout 0.1
on BERT and the Transformer (attention probabilities too) and none on GPT.
`benchmarks.run`'s settings map onto PyTorch's: `mixed_bfloat16` is
`torch.autocast("cpu", torch.bfloat16)` (float32 weights, bfloat16
compute, as Keras' policy) and XLA on is `torch.compile` of the model
(nanoGPT's way; the optimizer step stays eager). Generation is
`GenerationMixin.generate`, greedy, with its dynamic KV cache; with
"XLA on" it uses the static cache, under which `generate` compiles the
forward pass itself.

PyTorch does not depend on the Keras backend: `benchmarks.run` measures
it on the tensorflow rows only. Its worker process (`benchmarks.run
--worker` with `"library": "pytorch"`) runs `worker` here, which imports
neither TensorFlow nor Keras.
"""

import contextlib
import math

from benchmarks.measure import measure_generation
from benchmarks.measure import print_result
from benchmarks.measure import time_calls
from benchmarks.workloads import WORKLOADS
from benchmarks.workloads import random_batch
from benchmarks.workloads import random_prompts
from benchmarks.workloads import step_flops


def _require_torch():
    try:
        import torch
        import transformers
    except ImportError as error:
        raise ImportError(
            f"the PyTorch peers need PyTorch and transformers ({error}); "
            'install them with: pip install -e ".[pytorch]"') from error
    return torch, transformers


def _sinusoids(length, width):
    """The paper's positions: sin at even features, cos at odd ones."""
    torch, _ = _require_torch()
    position = torch.arange(length, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, width, 2, dtype=torch.float32)
                     * (-math.log(10000.0) / width))
    table = torch.zeros(length, width)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate)
    return table


def _paper_transformer(config):
    """`torch.nn.Transformer` with a shared, scaled embedding, sinusoidal
    positions and tied logits: the model of "Attention Is All You Need"."""
    torch, _ = _require_torch()
    nn = torch.nn
    d = config["hidden_dim"]

    class PaperTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(config["vocabulary_size"], d)
            # N(0, 1/d), not PyTorch's N(0, 1): the logits reuse it.
            nn.init.normal_(self.embedding.weight, std=d**-0.5)
            self.register_buffer(
                "positions", _sinusoids(config["max_sequence_length"], d),
                persistent=False)
            self.dropout = nn.Dropout(config["dropout"])
            self.transformer = nn.Transformer(
                d_model=d, nhead=config["num_heads"],
                num_encoder_layers=config["num_layers"],
                num_decoder_layers=config["num_layers"],
                dim_feedforward=config["intermediate_dim"],
                dropout=config["dropout"], activation="relu",
                batch_first=True)
            # nn.Transformer ends each stack with a LayerNorm; the paper's
            # post-norm model (and keras-hub's stacks) have none.
            self.transformer.encoder.norm = None
            self.transformer.decoder.norm = None

        def embed(self, ids):
            x = self.embedding(ids) * math.sqrt(d)
            return self.dropout(x + self.positions[:ids.shape[1]])

        def forward(self, source, source_mask, target, target_mask):
            # PyTorch's masks are True where attention is not allowed.
            length = target.shape[1]
            causal = torch.ones(length, length, dtype=torch.bool).triu(1)
            y = self.transformer(
                self.embed(source), self.embed(target), tgt_mask=causal,
                src_key_padding_mask=~source_mask,
                tgt_key_padding_mask=~target_mask,
                memory_key_padding_mask=~source_mask, tgt_is_causal=True)
            return y @ self.embedding.weight.T

    return PaperTransformer()


def peer_model(w):
    """The PyTorch model of workload `w`, built from its config."""
    torch, transformers = _require_torch()
    c = w.config
    if w.family == "gpt":
        return transformers.GPT2LMHeadModel(transformers.GPT2Config(
            vocab_size=c["vocabulary_size"],
            n_positions=c["max_sequence_length"], n_embd=c["hidden_dim"],
            n_layer=c["num_layers"], n_head=c["num_heads"],
            n_inner=c["intermediate_dim"], resid_pdrop=c["dropout"],
            embd_pdrop=c["dropout"], attn_pdrop=c["dropout"],
            bos_token_id=None, eos_token_id=None))
    if w.family == "bert":
        return transformers.BertForSequenceClassification(
            transformers.BertConfig(
                vocab_size=c["vocabulary_size"], hidden_size=c["hidden_dim"],
                num_hidden_layers=c["num_layers"],
                num_attention_heads=c["num_heads"],
                intermediate_size=c["intermediate_dim"],
                max_position_embeddings=c["max_sequence_length"],
                hidden_dropout_prob=c["dropout"],
                attention_probs_dropout_prob=c["dropout"], num_labels=2))
    return _paper_transformer(c)


def _autocast(dtype):
    torch, _ = _require_torch()
    if dtype == "mixed_bfloat16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def step_function(w, dtype, compiled, learning_rate=1e-4):
    """A function that runs one training step (or, for inference rows, one
    forward pass) of `w`'s PyTorch peer on a fixed random batch."""
    torch, _ = _require_torch()
    torch.manual_seed(0)
    model = peer_model(w)
    x, y, _ = random_batch(w)
    x = {name: torch.from_numpy(value).long() for name, value in x.items()}
    y = torch.from_numpy(y).long()
    masks = {name: value.bool() for name, value in x.items()
             if name.endswith("padding_mask")}
    forward = torch.compile(model) if compiled else model

    def logits():
        if w.family == "gpt":
            return forward(input_ids=x["token_ids"],
                           attention_mask=x["padding_mask"]).logits
        if w.family == "bert":
            return forward(input_ids=x["token_ids"],
                           token_type_ids=x["segment_ids"],
                           attention_mask=x["padding_mask"]).logits
        return forward(x["encoder_token_ids"], masks["encoder_padding_mask"],
                       x["decoder_token_ids"], masks["decoder_padding_mask"])

    if w.kind == "infer":
        model.eval()

        def infer():
            with torch.inference_mode(), _autocast(dtype):
                return logits()

        return infer

    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate,
                                  weight_decay=0.01)
    model.train()

    def train():
        with _autocast(dtype):
            out = logits()
        loss = torch.nn.functional.cross_entropy(
            out.float().flatten(0, -2), y.flatten())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss

    return train


def generator(w, dtype, compiled):
    """A function that runs one greedy generation of `w` with the GPT-2 peer:
    16-token prompts, `w.new_tokens` new tokens, no stop token."""
    torch, transformers = _require_torch()
    torch.manual_seed(0)
    model = peer_model(w).eval()
    prompts = torch.from_numpy(random_prompts(w)).long()
    options = dict(max_new_tokens=w.new_tokens, min_new_tokens=w.new_tokens,
                   do_sample=False, eos_token_id=None, pad_token_id=0,
                   attention_mask=torch.ones_like(prompts))
    if compiled:
        # transformers compiles the forward pass for a static cache only on
        # accelerators unless told, through this flag, to do so on the CPU.
        compile_config = transformers.CompileConfig()
        compile_config._compile_all_devices = True
        options.update(cache_implementation="static",
                       compile_config=compile_config)

    def generate():
        with torch.inference_mode(), _autocast(dtype):
            return model.generate(prompts, **options)

    return generate


def measure_steps(w, dtype, compiled, budget):
    """Throughput of `w`'s training or inference steps, as
    `benchmarks.measure.measure_steps` reports it for the Keras models."""
    times, first = time_calls(step_function(w, dtype, compiled), budget)
    per_step = sum(times) / len(times)  # as the Keras rows: stalls count
    return {
        "throughput": w.items_per_step() / per_step,
        "flops_per_second": step_flops(w) / per_step,
        "steps_timed": len(times),
        "first_execution_seconds": first,
    }


def worker(spec):
    """Measure the PyTorch peer as `spec` says (its workload, dtype, xla
    and budget) and print the result, as `benchmarks.measure.worker` does
    for the Keras libraries."""
    if spec["workload"] == "idle":  # the fixed cost: loaded, one op run
        torch, _ = _require_torch()
        return print_result({"sum": float(torch.ones(2).sum())})
    w = WORKLOADS[spec["workload"]]
    dtype, xla, budget = spec["dtype"], spec["xla"], spec["budget"]
    if w.kind == "generate":
        result = measure_generation(w, generator(w, dtype, xla), budget)
    else:
        result = measure_steps(w, dtype, xla, budget)
    print_result(result)
