"""Dropout whose random numbers are cheap, with XLA and without.

`keras.layers.Dropout` draws its mask with TensorFlow's stateless random
ops and their default algorithm. XLA on the CPU generates those very
slowly: dropping out 1M floats took 442-492 ms, against 14.7-16.8 ms with
Philox, 7.7-8.0 ms with Threefry and 1.6-1.7 ms for a multiply (python
-m benchmarks.dropout, three runs, 2-core AVX2 CPU). TensorFlow's own CPU
kernels have no Threefry; with them Philox costs what Keras' default does.

So this layer is `keras.layers.Dropout` (same arguments, same seed
generator and saved state) that names its algorithm: Threefry when it is
traced for XLA, Philox otherwise.
"""

import keras
import tensorflow as tf
from keras import ops

from zoo.compat import compiling_for_xla


@keras.saving.register_keras_serializable(package="zoo")
class Dropout(keras.layers.Dropout):
    """`keras.layers.Dropout`, drawing its mask with a fast algorithm.

    Zeroes each element with probability `rate` and scales the others by
    `1 / (1 - rate)` when `training` is true; the identity otherwise.
    The mask is drawn with Threefry under XLA and Philox elsewhere, so the
    same seed gives different masks with and without XLA.
    """

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        seed = ops.cast(  # the stateless ops take int32 seeds
            ops.mod(self.seed_generator.next(), 2**31 - 1), "int32"
        )
        return tf.nn.experimental.stateless_dropout(
            inputs, rate=self.rate, noise_shape=self.noise_shape, seed=seed,
            rng_alg="threefry" if compiling_for_xla() else "philox",
        )
