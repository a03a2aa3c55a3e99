"""Dropout whose random numbers are cheap under XLA on the CPU.

`keras.layers.Dropout` draws its mask with TensorFlow's stateless random
ops and their default algorithm. XLA on the CPU generates those very
slowly: dropping out 1M floats took 421 ms, against 14 ms with the Philox
algorithm and 1.3 ms for a multiply alone (python -m benchmarks.dropout,
2-core AVX2 CPU). Inside whole models the difference depends on the
model: it took a bert_tiny classifier from 55 to 188 sequences/s under XLA,
and cost transformer_base about 10% (README, Benchmarks). This layer is
`keras.layers.Dropout` (same arguments, same seed generator and saved
state) with the Philox algorithm named; without XLA it costs what Keras'
does.
"""

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class Dropout(keras.layers.Dropout):
    """`keras.layers.Dropout`, drawing its mask with the Philox algorithm.

    Zeroes each element with probability `rate` and scales the others by
    `1 / (1 - rate)` when `training` is true; the identity otherwise.
    """

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        seed = ops.cast(  # the stateless ops take int32 seeds
            ops.mod(self.seed_generator.next(), 2**31 - 1), "int32"
        )
        return tf.nn.experimental.stateless_dropout(
            inputs, rate=self.rate, noise_shape=self.noise_shape, seed=seed,
            rng_alg="philox",
        )
