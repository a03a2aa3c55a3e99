"""Dropout's cost: keras.layers.Dropout against zoo's, with and without XLA.

    python -m benchmarks.dropout

Drops out a (32, 2, 128, 128) tensor (about 1M floats, bert_tiny's attention
probabilities at batch 32) at rate 0.1, and times a plain multiply of the
same tensor for scale. Median of 10 calls after a compiling one. The two
rows of `stateless_dropout` show the algorithms zoo chooses between
(TensorFlow's CPU kernels have no Threefry, so that row is XLA only).
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from zoo.blocks import Dropout  # noqa: E402


def median_ms(function, x, calls=10):
    function(x).numpy()  # compile
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        function(x).numpy()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main():
    x = tf.random.normal((32, 2, 128, 128))
    seed = tf.constant([1, 2])

    def stateless(algorithm):
        return lambda x: tf.nn.experimental.stateless_dropout(
            x, rate=0.1, seed=seed, rng_alg=algorithm)

    layers = {"multiply by 1.1 (no random numbers)": lambda x: x * 1.1,
              "keras.layers.Dropout(0.1)": keras.layers.Dropout(0.1),
              "zoo.blocks.Dropout(0.1)": Dropout(0.1),
              "stateless_dropout, Philox": stateless("philox"),
              "stateless_dropout, Threefry": stateless("threefry")}
    print("| layer | XLA | ms per call |")
    print("|---|---|---|")
    for xla in (True, False):
        for name, layer in layers.items():
            if not xla and "Threefry" in name:
                continue
            if isinstance(layer, keras.layers.Layer):
                call = lambda x, layer=layer: layer(x, training=True)  # noqa: E731
            else:
                call = layer
            function = tf.function(call, jit_compile=xla)
            print(f"| {name} | {'on' if xla else 'off'} | "
                  f"{median_ms(function, x):.1f} |", flush=True)


if __name__ == "__main__":
    main()
