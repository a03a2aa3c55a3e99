"""Layer normalization (Ba et al. 2016), as every zoo block applies it.

    LayerNorm(x) = γ ⊙ (x − μ) / √(σ² + ε) + β,  over the last axis, D

`keras.layers.LayerNormalization` itself (same arguments, weights `gamma`
and `beta`, and saved state), except that with `zoo.tuning` active on
TensorFlow its gradient is written out, so that training keeps two
tensors per LayerNorm instead of every intermediate.
"""

import keras
from keras import ops

from zoo import tuning


@keras.saving.register_keras_serializable(package="zoo")
class LayerNormalization(keras.layers.LayerNormalization):
    """`keras.layers.LayerNormalization`; with `zoo.tuning` active, a
    leaner gradient. `(..., D) -> same`."""

    def call(self, inputs):
        rank = len(inputs.shape)
        last_axis_only = [a % rank for a in self.axis] == [rank - 1]  # built
        if (not tuning.active("layer_norm") or not last_axis_only
                or not (self.center and self.scale) or self.rms_scaling):
            return super().call(inputs)
        outputs = tuning.layer_normalization(
            inputs, ops.cast(self.gamma, "float32"),
            ops.cast(self.beta, "float32"), self.epsilon)
        return ops.cast(outputs, self.compute_dtype)
