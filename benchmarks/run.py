"""Speed side by side: zoo against keras-hub, in one run, on this machine.

    python -m benchmarks.run --quick          # a few minutes
    python -m benchmarks.run                  # every row (71 minutes here)
    python -m benchmarks.run --only gpt_6l_384,bert_base \\
        --dtypes float32 --xla on             # a part

    python -m benchmarks.run --libraries zoo,keras-hub,pytorch   # + PyTorch

Every measurement runs in a fresh Python process, one after the other
(never two at once), so that each gets the machine and its own peak memory:
for each workload, dtype policy (`float32`, `mixed_bfloat16`) and XLA
setting (`jit_compile` on or off), zoo and then keras-hub with the same
sizes, the same batch and the same optimizer. The first process measures
the machine's matrix-multiply peak (the best of float32 and bfloat16, with
and without XLA), against which model-FLOPs utilisation (MFU) is computed.

Workloads:

- training (`model.fit`, AdamW): `gpt_nano` (4 x 128, context 64, batch
  12, nanoGPT's character vocabulary of 65), a 6-layer, 384-wide GPT
  (context 256, batch 64, vocabulary 65), `gpt2_small` (context 1024, batch
  1), `bert_tiny` (sequence 128, batch 32) and `bert_base` (sequence 128,
  batch 8) with a two-class head, and `transformer_base` (source and target
  128, batch 8). keras-hub's peers are `GPT2CausalLM`, `BertTextClassifier`
  and, for the Transformer, keras-hub `TransformerEncoder` and
  `TransformerDecoder` stacks over a shared `ReversibleEmbedding` with
  `SinePositionEncoding`. GPT rows use no dropout (as nanoGPT's bench.py);
  BERT and Transformer rows use 0.1 (their papers), on attention
  probabilities too. Both libraries get the same inputs (all-ones padding
  masks), the same loss (Keras' sparse categorical cross entropy), AdamW
  and no metrics.
- inference (`predict`): `bert_base`, sequence 128, batch 8.
- generation (`generate`, greedy, no stop token, 16-token prompts): as in
  `benchmarks.generate`.

With `--libraries zoo,keras-hub,pytorch` (after `pip install -e
".[pytorch]"`) each row also measures the PyTorch peer of
`benchmarks.torch_peers` (Hugging Face GPT-2 and BERT, `torch.nn.Transformer`)
with the same sizes, batch, loss and optimizer; there XLA on means
`torch.compile` and `mixed_bfloat16` means `torch.autocast` to bfloat16.

Throughput counts what each row's unit says: tokens per second for GPT
rows (batch x context), sequences per second for BERT rows, source plus
target tokens for the Transformer, new tokens for generation. Training and
inference divide the steps timed by the time they took (first execution,
which compiles, excluded); generation takes the median call. MFU is model
FLOPs per second over the matmul peak, counting matrix multiplies only:
forward 2 FLOPs per weight per token plus Q K^T and P V over the whole
(T, T) square, training 3 x forward (the PaLM paper's appendix B). zoo's
causal attention skips the upper triangle; its MFU still counts it, as
keras-hub's does, so equal work gets equal FLOPs. Peak memory is the
process's peak resident set (VmHWM), TensorFlow and keras-hub themselves
included (zoo imports keras-hub for its tokenizers; keras-hub processes do
not import zoo).
"""

import argparse
import dataclasses
import datetime
import importlib.util
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DTYPES = ("float32", "mixed_bfloat16")
# zoo first: every ratio is zoo over a peer. The peer is keras-hub unless
# --libraries names others, such as the PyTorch peers (torch_peers.py).
LIBRARIES = ("zoo", "keras-hub", "pytorch")
DEFAULT_LIBRARIES = ("zoo", "keras-hub")
PROMPT_LENGTH = 16


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    kind: str  # "train", "infer" or "generate"
    family: str  # "gpt", "bert" or "transformer"
    config: dict  # backbone sizes, under the names both libraries use
    batch: int
    length: int  # context, sequence, or source (= target) length
    new_tokens: int = 0  # generation only
    steps_per_execution: int = 1

    @property
    def unit(self):
        if self.family == "bert":
            return "seq/s"
        return "new tok/s" if self.kind == "generate" else "tok/s"

    def items_per_step(self):
        """How many units one training or inference step processes."""
        if self.family == "bert":
            return self.batch
        if self.family == "transformer":
            return 2 * self.batch * self.length
        return self.batch * self.length


def _gpt(vocabulary_size, layers, width, heads, context):
    return dict(vocabulary_size=vocabulary_size, num_layers=layers,
                num_heads=heads, hidden_dim=width, intermediate_dim=4 * width,
                max_sequence_length=context, dropout=0.0)


def _bert(layers, width, heads):
    return dict(vocabulary_size=30522, num_layers=layers, num_heads=heads,
                hidden_dim=width, intermediate_dim=4 * width,
                max_sequence_length=512, dropout=0.1)


# keras-hub's Transformer layers drop out attention probabilities at the
# same rate as everything else; zoo's Transformer is told to do the same.
TRANSFORMER_BASE = dict(vocabulary_size=37000, num_layers=6, num_heads=8,
                        hidden_dim=512, intermediate_dim=2048,
                        max_sequence_length=1024, dropout=0.1,
                        attention_dropout=0.1)

WORKLOADS = {
    w.name: w
    for w in [
        Workload("gpt_nano", "train", "gpt", _gpt(65, 4, 128, 4, 64), 12, 64,
                 steps_per_execution=10),
        Workload("gpt_6l_384", "train", "gpt", _gpt(65, 6, 384, 6, 256), 64,
                 256),
        Workload("gpt2_small", "train", "gpt", _gpt(50257, 12, 768, 12, 1024),
                 1, 1024),
        Workload("bert_tiny", "train", "bert", _bert(2, 128, 2), 32, 128,
                 steps_per_execution=4),
        Workload("bert_base", "train", "bert", _bert(12, 768, 12), 8, 128),
        Workload("transformer_base", "train", "transformer", TRANSFORMER_BASE,
                 8, 128),
        Workload("bert_base_infer", "infer", "bert", _bert(12, 768, 12), 8,
                 128),
        Workload("generate_gpt_nano_b1", "generate", "gpt",
                 _gpt(50257, 4, 128, 4, 256), 1, PROMPT_LENGTH, 200),
        Workload("generate_gpt_nano_b8", "generate", "gpt",
                 _gpt(50257, 4, 128, 4, 256), 8, PROMPT_LENGTH, 200),
        Workload("generate_gpt2_small_b1", "generate", "gpt",
                 _gpt(50257, 12, 768, 12, 1024), 1, PROMPT_LENGTH, 50),
        Workload("generate_gpt2_small_b8", "generate", "gpt",
                 _gpt(50257, 12, 768, 12, 1024), 8, PROMPT_LENGTH, 50),
    ]
}
QUICK = ("gpt_nano", "bert_tiny", "generate_gpt_nano_b1")


# FLOPs ----------------------------------------------------------------------


def forward_flops(w):
    """Matrix-multiply FLOPs of one forward pass over a batch of `w`."""
    c = w.config
    d, f, n = c["hidden_dim"], c["intermediate_dim"], c["num_layers"]
    v, t = c["vocabulary_size"], w.length

    def attention(queries, keys):
        # W_Q and W_O on the queries, W_K and W_V on the keys, then
        # Q K^T and P V: 2 FLOPs per multiply-add.
        return 2 * (2 * queries * d * d + 2 * keys * d * d + 2 * queries * keys * d)

    feed_forward = 2 * 2 * t * d * f
    encoder_layer = attention(t, t) + feed_forward
    if w.family == "bert":
        per_sequence = n * encoder_layer + 2 * d * d  # + the pooler
    elif w.family == "gpt":
        per_sequence = n * encoder_layer + 2 * t * d * v  # + the logits
    else:  # encoder, decoder (self + cross attention), logits
        decoder_layer = 2 * attention(t, t) + feed_forward
        per_sequence = n * (encoder_layer + decoder_layer) + 2 * t * d * v
    return w.batch * per_sequence


def step_flops(w):
    return (3 if w.kind == "train" else 1) * forward_flops(w)


# One measurement, in its own process ------------------------------------------


def peak_memory_mb():
    """The process's peak resident set so far (VmHWM), in MB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource  # ru_maxrss is in kB on Linux

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_peak(budget):
    """Best matmul GFLOP/s over float32 and bfloat16, with and without XLA."""
    import tensorflow as tf

    n = 2048
    best = {}
    for dtype in ("float32", "bfloat16"):
        a = tf.random.normal((n, n), dtype="float32")
        a, b = tf.cast(a, dtype), tf.cast(tf.transpose(a), dtype)
        for xla in (True, False):
            matmul = tf.function(lambda x, y: tf.matmul(x, y), jit_compile=xla)
            matmul(a, b).numpy()  # compile
            times, start = [], time.perf_counter()
            while len(times) < 3 or time.perf_counter() - start < budget / 4:
                tick = time.perf_counter()
                matmul(a, b).numpy()
                times.append(time.perf_counter() - tick)
            flops = 2 * n**3 / min(times)
            best[dtype] = max(best.get(dtype, 0.0), flops)
    return {"float32": best["float32"], "bfloat16": best["bfloat16"]}


def _zoo_model(w):
    from zoo.models import BertEncoder
    from zoo.models import GPTDecoder
    from zoo.models import Transformer
    from zoo.tasks import CausalLM
    from zoo.tasks import Seq2SeqLM
    from zoo.tasks import SequenceClassifier

    if w.family == "gpt":
        return CausalLM(GPTDecoder(**w.config))
    if w.family == "bert":
        return SequenceClassifier(BertEncoder(**w.config), num_classes=2)
    return Seq2SeqLM(Transformer(**w.config))


def _keras_hub_transformer(config):
    """The encoder-decoder Transformer from keras-hub's layers."""
    import keras
    import keras_hub

    d = config["hidden_dim"]
    embedding = keras_hub.layers.ReversibleEmbedding(
        config["vocabulary_size"], d, tie_weights=True, name="embedding")
    positions = keras_hub.layers.SinePositionEncoding()
    dropout = keras.layers.Dropout(config["dropout"])

    def embed(ids):
        x = embedding(ids) * math.sqrt(d)
        return dropout(x + positions(x))

    def block_args():
        return dict(intermediate_dim=config["intermediate_dim"],
                    num_heads=config["num_heads"], dropout=config["dropout"],
                    activation="relu")

    inputs = {
        name: keras.Input((None,), dtype="int32", name=name)
        for name in ("encoder_token_ids", "encoder_padding_mask",
                     "decoder_token_ids", "decoder_padding_mask")
    }
    x = embed(inputs["encoder_token_ids"])
    for _ in range(config["num_layers"]):
        x = keras_hub.layers.TransformerEncoder(**block_args())(
            x, padding_mask=inputs["encoder_padding_mask"])
    y = embed(inputs["decoder_token_ids"])
    for _ in range(config["num_layers"]):
        y = keras_hub.layers.TransformerDecoder(**block_args())(
            y, x, decoder_padding_mask=inputs["decoder_padding_mask"],
            encoder_padding_mask=inputs["encoder_padding_mask"])
    logits = embedding(y, reverse=True)
    return keras.Model(inputs, logits)


def _keras_hub_model(w):
    import keras_hub

    c = dict(w.config)
    if w.family == "gpt":
        backbone = keras_hub.models.GPT2Backbone(**c)
        return keras_hub.models.GPT2CausalLM(backbone, preprocessor=None)
    if w.family == "bert":
        backbone = keras_hub.models.BertBackbone(**c)
        return keras_hub.models.BertTextClassifier(
            backbone, num_classes=2, preprocessor=None, dropout=0.1)
    return _keras_hub_transformer(c)


def random_batch(w):
    """One batch (x, y, sample_weight) of random token ids for `w`."""
    import numpy as np

    rng = np.random.default_rng(0)
    vocabulary = w.config["vocabulary_size"]

    def ids(length):
        return rng.integers(1, vocabulary, (w.batch, length)).astype("int32")

    ones = np.ones((w.batch, w.length), "int32")
    if w.family == "gpt":
        window = ids(w.length + 1)
        x = {"token_ids": window[:, :-1], "padding_mask": ones}
        return x, window[:, 1:], np.ones_like(ones, "float32")
    if w.family == "bert":
        x = {"token_ids": ids(w.length), "segment_ids": 0 * ones,
             "padding_mask": ones}
        return x, rng.integers(0, 2, (w.batch,)).astype("int32"), None
    target = ids(w.length + 1)
    x = {"encoder_token_ids": ids(w.length), "encoder_padding_mask": ones,
         "decoder_token_ids": target[:, :-1], "decoder_padding_mask": ones}
    return x, target[:, 1:], np.ones_like(ones, "float32")


class _ExecutionTimer:
    """Times executions; stops the loop once `budget` seconds are timed."""

    def __init__(self, budget, min_executions=2):
        import keras

        timer = self

        class Callback(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                timer.tick(self.model, "stop_training")

            def on_predict_batch_end(self, batch, logs=None):
                timer.tick(self.model, "stop_predicting")

        self.callback = Callback()
        self.budget = budget
        self.min_executions = min_executions
        self.stamps = [time.perf_counter()]

    def tick(self, model, stop_attribute):
        self.stamps.append(time.perf_counter())
        timed = self.stamps[-1] - self.stamps[1]  # the first one compiles
        if len(self.stamps) > self.min_executions + 1 and timed > self.budget:
            setattr(model, stop_attribute, True)

    def seconds_per_execution(self):
        # Total over count rather than the median: stalls count too.
        durations = [b - a for a, b in zip(self.stamps[1:], self.stamps[2:])]
        return sum(durations) / len(durations), self.stamps[1] - self.stamps[0]


def compiled_model(w, library, xla):
    """(model, dataset): `library`'s model for `w`, compiled with the loss,
    optimizer and (no) metrics both libraries get, and its endless batch."""
    import keras
    import tensorflow as tf

    model = _zoo_model(w) if library == "zoo" else _keras_hub_model(w)
    x, y, sample_weight = random_batch(w)
    elements = (x, y) if sample_weight is None else (x, y, sample_weight)
    data = tf.data.Dataset.from_tensors(elements).repeat()
    if w.kind == "infer":
        data = data.map(lambda x, *_: x)
    data = data.prefetch(tf.data.AUTOTUNE)
    # The same loss, optimizer and (no) metrics for both libraries.
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-4, weight_decay=0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[], weighted_metrics=[], jit_compile=xla,
        steps_per_execution=w.steps_per_execution,
    )
    return model, data


def measure_steps(w, library, xla, budget):
    model, data = compiled_model(w, library, xla)
    timer = _ExecutionTimer(budget)
    many = 1_000_000
    if w.kind == "train":
        model.fit(data, steps_per_epoch=many, callbacks=[timer.callback],
                  verbose=0)
    else:
        model.predict(data, steps=many, callbacks=[timer.callback], verbose=0)
    seconds, first = timer.seconds_per_execution()
    per_step = seconds / w.steps_per_execution
    return {
        "throughput": w.items_per_step() / per_step,
        "flops_per_second": step_flops(w) / per_step,
        "steps_timed": (len(timer.stamps) - 2) * w.steps_per_execution,
        "first_execution_seconds": first,
    }


def random_prompts(w):
    """The (batch, 16) int32 prompts every library's generation row gets."""
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.integers(1, w.config["vocabulary_size"],
                        (w.batch, PROMPT_LENGTH)).astype("int32")


def generator(w, library, xla):
    """A function that runs one greedy generation of `w` with `library`:
    16-token prompts, `w.new_tokens` new tokens, no stop token."""
    import numpy as np

    prompts = random_prompts(w)
    if library == "zoo":
        from zoo.models import GPTDecoder
        from zoo.tasks import CausalLM

        lm = CausalLM(GPTDecoder(**w.config), jit_compile_generate=xla)

        def generate():
            return lm.generate(prompts, max_new_tokens=w.new_tokens,
                               stop_token_ids=None)
    else:
        lm = _keras_hub_model(w)
        lm.compile(sampler="greedy", jit_compile=xla)
        total = PROMPT_LENGTH + w.new_tokens
        padded = np.zeros((w.batch, total), "int32")
        padded[:, :PROMPT_LENGTH] = prompts
        mask = np.zeros((w.batch, total), bool)
        mask[:, :PROMPT_LENGTH] = True
        inputs = {"token_ids": padded, "padding_mask": mask}

        def generate():
            return lm.generate(inputs, stop_token_ids=None)
    return generate


def time_calls(function, budget):
    """Call `function` once (it compiles), then again until `budget`
    seconds have passed, at least twice; return the timed calls' seconds
    and the first call's."""
    start = time.perf_counter()
    function()
    first = time.perf_counter() - start
    times, start = [], time.perf_counter()
    while len(times) < 2 or time.perf_counter() - start < budget:
        tick = time.perf_counter()
        function()
        times.append(time.perf_counter() - tick)
    return times, first


def measure_generation(w, generate, budget):
    times, first = time_calls(generate, budget)
    return {
        "throughput": w.batch * w.new_tokens / statistics.median(times),
        "calls_timed": len(times),
        "first_execution_seconds": first,
    }


def worker(spec):
    """Run one measurement described by `spec`; print its result as JSON."""
    if spec["workload"] == "peak":
        result = measure_peak(spec["budget"])
    else:
        w = WORKLOADS[spec["workload"]]
        library, dtype, xla = spec["library"], spec["dtype"], spec["xla"]
        if library == "pytorch":  # without TensorFlow in the process
            from benchmarks import torch_peers

            if w.kind == "generate":
                result = measure_generation(
                    w, torch_peers.generator(w, dtype, xla), spec["budget"])
            else:
                result = torch_peers.measure_steps(w, dtype, xla,
                                                   spec["budget"])
        else:
            import keras

            keras.config.set_dtype_policy(dtype)
            keras.utils.set_random_seed(0)
            if w.kind == "generate":
                result = measure_generation(w, generator(w, library, xla),
                                            spec["budget"])
            else:
                result = measure_steps(w, library, xla, spec["budget"])
    result["peak_memory_mb"] = peak_memory_mb()
    print("RESULT " + json.dumps(result), flush=True)


# The run: every measurement in a fresh process -------------------------------


def run_worker(spec, timeout, module="benchmarks.run"):
    """Run `python -m module --worker spec` and return the dict it prints
    after "RESULT ", or {"error": ...} with its last line of stderr."""
    command = [sys.executable, "-m", module, "--worker", json.dumps(spec)]
    try:
        done = subprocess.run(command, capture_output=True, text=True,
                              timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return {"error": (lines[-1] if lines else f"exit {done.returncode}")[:200]}


def median_run(runs):
    """The run of median throughput (the lower one of an even count), with
    every run's throughput under "throughputs"; an error if none worked."""
    done = sorted((r for r in runs if "error" not in r),
                  key=lambda r: r["throughput"])
    if not done:
        return runs[0]
    median = dict(done[(len(done) - 1) // 2])
    if len(runs) > 1:
        median["throughputs"] = [r.get("throughput") for r in runs]
    return median


def _number(value):
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value >= 1 else f"{value:.2g}"


def markdown(results, peak):
    """The results as a markdown table (zoo against each peer measured),
    then the best setting of each library per workload."""
    peak_flops = max(peak.values())
    libraries = [name for name in LIBRARIES
                 if any(name in r for r in results)]
    peers = libraries[1:]
    every = " / ".join(libraries)
    lines = [
        "| workload | dtype | XLA | " + " | ".join(libraries) + " | "
        + "".join(f"zoo / {peer} | " for peer in peers)
        + f"MFU {every} | peak MB {every} |",
        "|---|---|---|" + "---|" * (2 * len(libraries) + 1),
    ]
    best = {}
    for r in results:
        w = WORKLOADS[r["workload"]]
        sides = {name: r.get(name, {"error": "not run"}) for name in libraries}
        ok = {name: "error" not in side for name, side in sides.items()}
        cells = []
        for name, side in sides.items():
            error = side.get("error", "").replace("|", "/")
            cells.append(f"{_number(side['throughput'])} {w.unit}"
                         if ok[name] else
                         "-" if error == "not run" else f"failed: {error}")
        zoo = sides["zoo"]
        for peer in peers:
            cells.append(
                f"{zoo['throughput'] / sides[peer]['throughput']:.2f}x"
                if ok["zoo"] and ok[peer] else "-")
        cells.append(" / ".join(
            f"{side['flops_per_second'] / peak_flops:.0%}"
            if "flops_per_second" in side else "-" for side in sides.values()))
        cells.append(" / ".join(
            f"{side['peak_memory_mb']:,.0f}" if "peak_memory_mb" in side
            else "-" for side in sides.values()))
        xla = "on" if r["xla"] else "off"
        lines.append(f"| {w.name} | {r['dtype']} | {xla} | "
                     + " | ".join(cells) + " |")
        for name, side in sides.items():
            key = (w.name, name)
            if ok[name] and (key not in best
                             or side["throughput"] > best[key][0]):
                best[key] = (side["throughput"], f"{r['dtype']}, XLA {xla}")
    lines += [
        "",
        "Best setting of each library:",
        "",
        "| workload | " + " | ".join(f"{name} best" for name in libraries)
        + " | zoo / best peer |",
        "|---|" + "---|" * (len(libraries) + 1),
    ]
    for name in dict.fromkeys(r["workload"] for r in results):
        w = WORKLOADS[name]
        found = [best.get((name, library)) for library in libraries]
        cells = [f"{_number(b[0])} {w.unit} ({b[1]})" if b else "-"
                 for b in found]
        peer_best = max((b[0] for b in found[1:] if b), default=None)
        ratio = (f"{found[0][0] / peer_best:.2f}x"
                 if found[0] and peer_best else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {ratio} |")
    lines += [
        "",
        f"Matmul peak (2048 x 2048, best with or without XLA): float32 "
        f"{peak['float32'] / 1e9:.0f} GFLOP/s, bfloat16 "
        f"{peak['bfloat16'] / 1e9:.0f} GFLOP/s; MFU is against the larger.",
    ]
    if "pytorch" in libraries:
        lines.append("For PyTorch, XLA on is `torch.compile` and "
                     "mixed_bfloat16 is `torch.autocast` to bfloat16.")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Workloads: " + ", ".join(WORKLOADS))
    parser.add_argument("--quick", action="store_true",
                        help=f"only {', '.join(QUICK)}, float32, 3 s each")
    parser.add_argument("--only", help="comma-separated workload names")
    parser.add_argument("--libraries", default=",".join(DEFAULT_LIBRARIES),
                        help="comma-separated, from " + ", ".join(LIBRARIES)
                        + '; pytorch needs pip install -e ".[pytorch]"')
    parser.add_argument("--dtypes", default=",".join(DTYPES))
    parser.add_argument("--xla", choices=("on", "off", "both"),
                        default="both")
    parser.add_argument("--budget", type=float,
                        help="seconds timed per measurement (default 5; "
                        "3 with --quick)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="measure each row this many times, zoo and "
                        "keras-hub alternating, and keep the median run")
    parser.add_argument("--timeout", type=float, default=1200,
                        help="seconds before a measurement is abandoned")
    parser.add_argument("--json", help="also write the results here, "
                        "after every row")
    parser.add_argument("--table", metavar="JSON",
                        help="print the table of an earlier --json file "
                        "(complete or not) and exit")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(json.loads(args.worker))
    if args.table:
        with open(args.table) as f:
            saved = json.load(f)
        return print(markdown(saved["results"], saved["peak"]))

    names = list(QUICK) if args.quick else list(WORKLOADS)
    if args.only:
        names = args.only.split(",")
        unknown = [name for name in names if name not in WORKLOADS]
        if unknown:
            parser.error(f"unknown workload(s) {unknown}; choose from "
                         f"{list(WORKLOADS)}")
    dtypes = args.dtypes.split(",")
    if args.quick and args.dtypes == ",".join(DTYPES):
        dtypes = ["float32"]
    if any(dtype not in DTYPES for dtype in dtypes):
        parser.error(f"--dtypes takes {DTYPES}; got {args.dtypes!r}")
    libraries = args.libraries.split(",")
    if (set(libraries) - set(LIBRARIES) or libraries[0] != "zoo"
            or len(set(libraries)) < len(libraries)):
        parser.error(f"--libraries takes zoo first, then peers from "
                     f"{LIBRARIES[1:]}; got {args.libraries!r}")
    missing = [package for package in ("torch", "transformers")
               if "pytorch" in libraries
               and importlib.util.find_spec(package) is None]
    if missing:  # before the first row, not in each PyTorch cell
        parser.error(f"the pytorch peer needs {' and '.join(missing)}; "
                     f'install them with: pip install -e ".[pytorch]"')
    xlas = {"on": [True], "off": [False], "both": [True, False]}[args.xla]
    budget = args.budget or (3.0 if args.quick else 5.0)

    started = time.time()
    print(f"# {datetime.date.today()}, {platform.node() or 'this machine'}: "
          f"{os.cpu_count()} cores, {_cpu_name()}", flush=True)
    peak = run_worker({"workload": "peak", "budget": budget}, args.timeout)
    if "error" in peak:
        sys.exit(f"measuring the matmul peak failed: {peak['error']}")
    print(f"# matmul peak: float32 {peak['float32'] / 1e9:.0f}, bfloat16 "
          f"{peak['bfloat16'] / 1e9:.0f} GFLOP/s", flush=True)
    results = []
    for name in names:
        for dtype in dtypes:
            for xla in xlas:
                row = {"workload": name, "dtype": dtype, "xla": xla}
                runs = {library: [] for library in libraries}
                for _ in range(args.repeats):
                    for library in libraries:
                        spec = dict(row, library=library, budget=budget)
                        runs[library].append(run_worker(spec, args.timeout))
                        print(f"# {name} {dtype} xla={xla} {library}: "
                              f"{runs[library][-1]}", flush=True)
                for library in libraries:
                    row[library] = median_run(runs[library])
                results.append(row)
                if args.json:
                    with open(args.json, "w") as f:
                        json.dump({"peak": peak, "results": results}, f,
                                  indent=1)
    print()
    print(markdown(results, peak))
    minutes, seconds = divmod(round(time.time() - started), 60)
    print(f"\n{len(results)} rows in {minutes} min {seconds} s.")


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    main()
