"""Position-wise feed-forward network (Vaswani et al. 2017, section 3.3).

    FFN(x) = activation(x W_1 + b_1) W_2 + b_2

Shapes: B batch, T length, D hidden_dim, F intermediate_dim.
"""

import keras

from zoo import tuning
from zoo.blocks import trace
from zoo.blocks.attention import clone_initializer


def gelu_approximate(x):
    """GELU with the tanh approximation, as in the original BERT and GPT-2
    (with `zoo.tuning` active, its derivative written out: less memory)."""
    if tuning.active("gelu"):
        return tuning.gelu_approximate(x)
    return keras.activations.gelu(x, approximate=True)


ACTIVATIONS = {
    "relu": keras.activations.relu,
    "gelu": keras.activations.gelu,  # exact, erf-based
    "gelu_approximate": gelu_approximate,
    "swish": keras.activations.silu,  # x * sigmoid(x); MarianMT's
}
# The inner layer in the paper's notation, for the trace (zoo.show).
INNER = {"relu": "max(0, x W_1 + b_1)", "gelu": "GELU(x W_1 + b_1)",
         "gelu_approximate": "GELU(x W_1 + b_1), tanh approximation",
         "swish": "Swish(x W_1 + b_1)"}


@keras.saving.register_keras_serializable(package="zoo")
class FeedForward(keras.layers.Layer):
    """Two dense layers with an activation between them, `(B, T, D) -> same`.

    Args:
        intermediate_dim: int. F, the width of the inner layer (4 D usually).
        activation: "relu" (the paper), "gelu" or "gelu_approximate" (BERT,
            GPT-2).
        kernel_initializer: initializer of both kernels.
        bias_initializer: initializer of both biases.
    """

    def __init__(
        self,
        intermediate_dim,
        activation="relu",
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"Unknown activation {activation!r}; expected one of "
                f"{sorted(ACTIVATIONS)}."
            )
        self.intermediate_dim = intermediate_dim
        self.activation = activation
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def _dense(self, units, activation, name):
        return keras.layers.Dense(
            units,
            activation=activation,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            bias_initializer=clone_initializer(self.bias_initializer),
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, inputs_shape):
        hidden_dim = inputs_shape[-1]
        activation = ACTIVATIONS[self.activation]
        self.inner = self._dense(self.intermediate_dim, activation, "inner")
        self.outer = self._dense(hidden_dim, None, "outer")
        self.inner.build(inputs_shape)
        self.outer.build(tuple(inputs_shape[:-1]) + (self.intermediate_dim,))

    def call(self, x):
        x = self.inner(x)  # (B, T, F)
        trace.record(INNER[self.activation], x, "(B, T, F)", self.name)
        x = self.outer(x)  # (B, T, D)
        trace.record("FFN(x) = … W_2 + b_2", x, "(B, T, D)", self.name)
        return x

    def compute_output_shape(self, inputs_shape):
        return inputs_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "intermediate_dim": self.intermediate_dim,
                "activation": self.activation,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(
                    self.bias_initializer
                ),
            }
        )
        return config
