"""Dropout (Srivastava et al. 2014), as every zoo block applies it.

`keras.layers.Dropout` itself (same arguments, seed generator and saved
state), except that with `zoo.tuning` active on TensorFlow it draws its
mask with a named algorithm (Threefry under XLA, Philox otherwise), which
XLA on the CPU generates far faster than the default one.
"""

import keras

from zoo import tuning


@keras.saving.register_keras_serializable(package="zoo")
class Dropout(keras.layers.Dropout):
    """`keras.layers.Dropout`; with `zoo.tuning` active, faster masks.

    Zeroes each element with probability `rate` and scales the others by
    `1 / (1 - rate)` when `training` is true; the identity otherwise.
    """

    def call(self, inputs, training=False):
        if not training or self.rate == 0 or not tuning.active("dropout"):
            return super().call(inputs, training=training)
        return tuning.dropout(inputs, self.rate, self.noise_shape,
                              self.seed_generator)
