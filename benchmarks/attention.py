"""What blocked causal attention buys: one zoo `MultiHeadAttention` layer,
forward and backward, with `causal=True` (queries in blocks of
`QUERY_BLOCK`, each multiplied only by the keys up to its last query)
against `causal=False` (one masked (T, T) softmax), same weights, same mask.

    python -m benchmarks.attention            # the three GPT training shapes
    python -m benchmarks.attention --repeats 3

Each case alternates the two settings `--repeats` times in one process and
reports the median of their best-of-5 step times.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from zoo.blocks import MultiHeadAttention  # noqa: E402
from zoo.blocks import causal_attention_mask  # noqa: E402

CASES = [  # (name, batch, length, heads, head size): benchmarks.run's GPTs
    ("gpt_nano", 12, 64, 4, 32),
    ("gpt_6l_384", 64, 256, 6, 64),
    ("gpt2_small", 1, 1024, 12, 64),
]


def step_seconds(layer, x, mask, causal, xla):
    @tf.function(jit_compile=xla)
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, attention_mask=mask, causal=causal)
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, [x] + layer.trainable_variables)

    step(x)  # compile
    times = []
    for _ in range(5):
        start = time.perf_counter()
        [g.numpy() for g in step(x)]
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print("| shape (B, T, N, H) | XLA | one softmax ms | blocked ms | speed-up |")
    print("|---|---|---|---|---|")
    for name, batch, length, heads, size in CASES:
        layer = MultiHeadAttention(num_heads=heads, head_dim=size)
        x = tf.constant(np.random.default_rng(0).standard_normal(
            (batch, length, heads * size)).astype("float32"))
        mask = causal_attention_mask(length, length)
        for xla in (True, False):
            results = {False: [], True: []}
            for _ in range(args.repeats):
                for causal in (False, True):
                    results[causal].append(
                        step_seconds(layer, x, mask, causal, xla))
            full, blocked = (statistics.median(results[c]) * 1e3
                             for c in (False, True))
            print(f"| {name} ({batch}, {length}, {heads}, {size}) | "
                  f"{'on' if xla else 'off'} | {full:.0f} | {blocked:.0f} | "
                  f"{full / blocked:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
