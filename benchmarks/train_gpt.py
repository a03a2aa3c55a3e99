"""Training speed of the Tiny Shakespeare recipe: zoo against keras-hub.

Both libraries train the same model (gpt_nano: 4 layers, 4 heads, width
128, context 64, no dropout, tied embeddings, 65-character vocabulary) on
the same batches (12 x 64), with the same AdamW, schedule and gradient
clipping, compiled with XLA, 50 steps per execution, in one process. The
first execution (compilation) is not timed. As in the recipe, zoo gets no
padding mask (packed windows have no padding, so attention is only
causal); keras-hub's GPT-2 requires one, all ones.

    python -m benchmarks.train_gpt                 # 500 timed steps each
    python -m benchmarks.train_gpt --steps 100     # quicker
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402

from zoo.data import language_modeling  # noqa: E402
from zoo.models import GPTDecoder  # noqa: E402
from zoo.tasks import CausalLM  # noqa: E402
from zoo.tasks import SparseCrossEntropy  # noqa: E402
from zoo.training import optimizers  # noqa: E402

CONFIG = dict(vocabulary_size=65, num_layers=4, num_heads=4, hidden_dim=128,
              intermediate_dim=512, max_sequence_length=64, dropout=0.0)
BATCH, LENGTH, PER_EXECUTION = 12, 64, 50


def zoo_model():
    return CausalLM(GPTDecoder(**CONFIG))


def keras_hub_model():
    backbone = keras_hub.models.GPT2Backbone(**CONFIG)
    return keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)


def time_training(model, steps, seed=0):
    rng = np.random.default_rng(seed)
    stream = rng.integers(0, 65, size=200_000).astype("int32")
    data = language_modeling.window_dataset(stream, LENGTH, BATCH, seed=seed)
    if isinstance(model, keras_hub.models.GPT2CausalLM):  # needs a mask
        data = data.map(lambda x, y: (
            {**x, "padding_mask": keras.ops.ones_like(x["token_ids"])}, y))
    schedule = optimizers.schedule("linear", 1e-3, steps + PER_EXECUTION, 100,
                                   1e-4, 0.2)
    model.compile(
        optimizer=optimizers.adamw(model, schedule, weight_decay=0.1,
                                   beta_2=0.99),
        loss=SparseCrossEntropy(), weighted_metrics=[], jit_compile=True,
        steps_per_execution=PER_EXECUTION,
    )

    class Timer(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch + 1 == PER_EXECUTION:  # the compiled first execution
                self.start = time.perf_counter()

    timer = Timer()
    model.fit(data, steps_per_epoch=steps + PER_EXECUTION, epochs=1,
              callbacks=[timer], verbose=0)
    seconds = time.perf_counter() - timer.start
    return steps * BATCH * LENGTH / seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=500,
                        help="timed steps per library (a multiple of 50)")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    results = {"zoo": [], "keras-hub": []}
    for _ in range(args.repeats):
        for name, build in (("zoo", zoo_model), ("keras-hub", keras_hub_model)):
            keras.utils.set_random_seed(0)
            results[name].append(time_training(build(), args.steps))
            print(f"{name}: {results[name][-1]:,.0f} tokens/s", flush=True)
    zoo, hub = (float(np.median(results[k])) for k in ("zoo", "keras-hub"))
    print("| model | zoo tokens/s | keras-hub tokens/s | ratio |")
    print("|---|---|---|---|")
    print(f"| gpt_nano, ctx 64, batch 12, XLA | {zoo:,.0f} | {hub:,.0f} | "
          f"{zoo / hub:.2f}x |")


if __name__ == "__main__":
    main()
