"""One measurement of `benchmarks.run`, inside its own worker process.

The process is started as `python -m benchmarks.run --worker SPEC` with
`KERAS_BACKEND` (and, for zoo-untuned, `ZOO_TUNING=off`) already in its
environment; `worker(spec)` measures and prints one `RESULT {...}` line.
The PyTorch peers' worker is `benchmarks.torch_peers.worker`, which uses
the timers here.
"""

import json
import statistics
import time

from benchmarks.workloads import PROMPT_LENGTH
from benchmarks.workloads import WORKLOADS
from benchmarks.workloads import keras_hub_model
from benchmarks.workloads import random_batch
from benchmarks.workloads import random_prompts
from benchmarks.workloads import step_flops
from benchmarks.workloads import zoo_model

# The same code: the worker's environment (ZOO_TUNING) tells them apart.
ZOO_LIBRARIES = ("zoo", "zoo-untuned")


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
    """Best matmul GFLOP/s over float32 and bfloat16, with and without XLA,
    in TensorFlow (whatever the rows' backends)."""
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


class _ExecutionTimer:
    """Times executions; stops the loop once `budget` seconds are timed.
    Keras turns each execution's logs into Python numbers before calling
    back, so on JAX too an execution has finished when it is timed."""

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


def endless_batches(w):
    """`w`'s one random batch, again and again, as a prefetched `tf.data`
    dataset on every backend (keras-hub's tasks take datasets, arrays or
    tensors, not generators)."""
    import tensorflow as tf

    x, y, sample_weight = random_batch(w)
    elements = (x, y) if sample_weight is None else (x, y, sample_weight)
    data = tf.data.Dataset.from_tensors(elements).repeat()
    if w.kind == "infer":
        data = data.map(lambda x, *_: x)
    return data.prefetch(tf.data.AUTOTUNE)


def compiled_model(w, library, xla):
    """(model, data): `library`'s model for `w`, compiled with the loss,
    optimizer and (no) metrics every library gets, and its endless batch."""
    import keras

    model = zoo_model(w) if library in ZOO_LIBRARIES else keras_hub_model(w)
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-4, weight_decay=0.01),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[], weighted_metrics=[], jit_compile=xla,
        steps_per_execution=w.steps_per_execution,
    )
    return model, endless_batches(w)


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


def generator(w, library, xla):
    """A function that runs one greedy generation of `w` with `library`:
    16-token prompts, `w.new_tokens` new tokens, no stop token; it returns
    the tokens as NumPy arrays (so the work is done when it returns)."""
    import keras
    import numpy as np

    prompts = random_prompts(w)
    if library in ZOO_LIBRARIES:
        from zoo.models import GPTDecoder
        from zoo.tasks import CausalLM

        lm = CausalLM(GPTDecoder(**w.config), jit_compile_generate=xla)

        def call():
            return lm.generate(prompts, max_new_tokens=w.new_tokens,
                               stop_token_ids=None)
    else:
        lm = keras_hub_model(w)
        lm.compile(sampler="greedy", jit_compile=xla)
        total = PROMPT_LENGTH + w.new_tokens
        padded = np.zeros((w.batch, total), "int32")
        padded[:, :PROMPT_LENGTH] = prompts
        mask = np.zeros((w.batch, total), bool)
        mask[:, :PROMPT_LENGTH] = True
        inputs = {"token_ids": padded, "padding_mask": mask}

        def call():
            return lm.generate(inputs, stop_token_ids=None)

    def generate():
        return keras.tree.map_structure(keras.ops.convert_to_numpy, call())

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


def print_result(result):
    """Print `result`, with the process's peak memory, as the RESULT line
    `benchmarks.run.run_worker` reads."""
    result["peak_memory_mb"] = peak_memory_mb()
    print("RESULT " + json.dumps(result), flush=True)


def measure(spec):
    """The result of the Keras measurement `spec` describes (zoo, its
    variants or keras-hub, on this process's Keras backend)."""
    import keras

    w = WORKLOADS[spec["workload"]]
    library, dtype, xla = spec["library"], spec["dtype"], spec["xla"]
    backend = spec.get("backend", "tensorflow")
    if keras.backend.backend() != backend:
        raise RuntimeError(f"the {backend} row's worker runs Keras on "
                           f"{keras.backend.backend()}: set KERAS_BACKEND")
    if library not in ZOO_LIBRARIES + ("keras-hub",):
        raise ValueError(f"no Keras worker for {library!r} (the PyTorch "
                         "peers run in benchmarks.torch_peers.worker)")
    keras.config.set_dtype_policy(dtype)
    keras.utils.set_random_seed(0)
    if w.kind == "generate":
        result = measure_generation(w, generator(w, library, xla),
                                    spec["budget"])
    else:
        result = measure_steps(w, library, xla, spec["budget"])
    result["backend"] = backend
    if library in ZOO_LIBRARIES:
        from zoo import tuning

        result["tuning"] = tuning.active()
    return result


def idle(library):
    """Load `library` ("tensorflow" alone, "keras", zoo or "keras-hub") and
    run one op on its backend, building no model: the peak memory of such
    a process is the library's fixed cost."""
    if library == "tensorflow":
        import tensorflow as tf

        return {"sum": float(tf.reduce_sum(tf.ones(2)))}
    if library in ZOO_LIBRARIES:
        import zoo  # noqa: F401  (and with it Keras, its backend, keras-hub)
    elif library == "keras-hub":
        import keras_hub  # noqa: F401
    import keras

    return {"sum": float(keras.ops.sum(keras.ops.ones(2)))}


def worker(spec):
    """Run the measurement `spec` describes (the matmul peak when its
    workload is "peak", a library's idle process when "idle"); print its
    result."""
    if spec["workload"] == "peak":
        return print_result(measure_peak(spec["budget"]))
    if spec["workload"] == "idle":
        return print_result(idle(spec["library"]))
    print_result(measure(spec))
