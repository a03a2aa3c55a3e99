"""Token and position embeddings.

Shapes: B batch, T sequence length, D hidden_dim, V vocabulary_size,
L the length of the position table (`max_sequence_length`).
"""

import math

import keras
from keras import ops

from zoo import backend
from zoo import tuning
from zoo.blocks import trace


@keras.saving.register_keras_serializable(package="zoo")
class TokenEmbedding(keras.layers.ReversibleEmbedding):
    """Token embedding `(B, T) -> (B, T, D)`, optionally scaled by sqrt(D).

    A `keras.layers.ReversibleEmbedding`: `layer(h, reverse=True)` is the
    output projection `(B, T, D) -> (B, T, V)`, tied to the embedding matrix
    by default (`tie_weights=True`), as in Press & Wolf 2017 and section 3.4
    of Vaswani et al. 2017, which also multiplies the embeddings by
    sqrt(d_model) (`scale=True`).

    Args:
        vocabulary_size: int. V.
        hidden_dim: int. D.
        scale: bool. Multiply the embeddings by sqrt(D).
        tie_weights: bool. Whether the reverse projection reuses the
            embedding matrix.
        embeddings_initializer: initializer of the embedding matrix.
    """

    def __init__(
        self,
        vocabulary_size,
        hidden_dim,
        scale=False,
        tie_weights=True,
        embeddings_initializer="uniform",
        **kwargs,
    ):
        super().__init__(
            input_dim=vocabulary_size,
            output_dim=hidden_dim,
            tie_weights=tie_weights,
            embeddings_initializer=embeddings_initializer,
            **kwargs,
        )
        self.scale = scale

    def call(self, inputs, reverse=False):
        if reverse:
            if (len(inputs.shape) == 2 and self.tie_weights
                    and self.logit_soft_cap is None
                    and self.reverse_dtype is None
                    and tuning.active("logits")):  # one decoding step
                embeddings = ops.cast(self.embeddings, inputs.dtype)
                return tuning.logits(embeddings, inputs)  # (B, V)
            logits = super().call(inputs, reverse=True)  # (B, T, V)
            trace.record("logits = h Eᵀ (the embedding, transposed)"
                         if self.tie_weights else "logits = h W_out", logits,
                         "(B, T, V)")
            return logits
        x = super().call(inputs)  # (B, T, D)
        if self.scale:
            x = x * ops.cast(math.sqrt(self.output_dim), x.dtype)
        trace.record("token embedding E[x] · √D" if self.scale
                     else "token embedding E[x]", x, "(B, T, D)")
        return x

    def get_config(self):
        config = super().get_config()
        config["vocabulary_size"] = config.pop("input_dim")
        config["hidden_dim"] = config.pop("output_dim")
        config["scale"] = self.scale
        return config


@keras.saving.register_keras_serializable(package="zoo")
class LearnedPositionEmbedding(keras.layers.Layer):
    """A trainable table of position vectors, `(L, D)` (BERT, GPT-2).

    Call arguments:
        inputs: `(B, T, D)` embeddings; only their length T is used.
        start_index: position of the first input (non-zero when decoding
            with a cache).

    Returns:
        `(1, T, D)` position vectors, to be added to `inputs`.
    """

    def __init__(
        self,
        sequence_length,
        initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.sequence_length = sequence_length
        self.initializer = keras.initializers.get(initializer)

    def build(self, inputs_shape):
        self.embeddings = self.add_weight(
            name="embeddings",
            shape=(self.sequence_length, inputs_shape[-1]),
            initializer=self.initializer,
        )

    def call(self, inputs, start_index=0):
        length = ops.shape(inputs)[1]
        if (isinstance(length, int) and length > self.sequence_length
                and not backend.is_placeholder(inputs)):
            raise ValueError(
                f"Sequence length {length} exceeds the position table of "
                f"length {self.sequence_length}. Truncate the input or build "
                "the model with a larger `max_sequence_length`."
            )
        # A gather rather than a slice: XLA would make a slice's start a
        # compile-time constant and recompile for every decoding position.
        positions = ops.take(
            self.embeddings, ops.arange(length) + start_index, axis=0
        )  # (T, D)
        positions = ops.cast(positions, self.compute_dtype)[None]  # (1, T, D)
        trace.record("position embedding, learned rows 0…T−1", positions,
                     "(1, T, D)")
        return positions

    def compute_output_shape(self, inputs_shape):
        return (1,) + tuple(inputs_shape[1:])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sequence_length": self.sequence_length,
                "initializer": keras.initializers.serialize(self.initializer),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="zoo")
class SinusoidalPositionEncoding(keras.layers.Layer):
    """Fixed sinusoids (Vaswani et al. 2017, section 3.5).

        PE(pos, 2i)     = sin(pos / max_wavelength^(2i / D))
        PE(pos, 2i + 1) = cos(pos / max_wavelength^(2i / D))

    No weights: the encoding is computed for the positions asked for.

    Args:
        max_wavelength: float, 10000 in the paper.
        interleave: bool. True: the layout above. False: the same sinusoids
            with sin in the first D/2 dimensions and cos in the last D/2
            (MarianMT's layout).

    Call arguments:
        inputs: `(B, T, D)` embeddings; only T and D are used.
        start_index: position of the first input.

    Returns:
        `(1, T, D)` encodings, to be added to `inputs`.
    """

    def __init__(self, max_wavelength=10000.0, interleave=True, **kwargs):
        super().__init__(**kwargs)
        self.max_wavelength = max_wavelength
        self.interleave = interleave

    def call(self, inputs, start_index=0):
        length, hidden_dim = ops.shape(inputs)[1], inputs.shape[-1]
        if hidden_dim % 2:
            raise ValueError(f"hidden_dim must be even, got {hidden_dim}.")
        positions = ops.cast(ops.arange(length) + start_index, "float32")
        two_i = ops.arange(0, hidden_dim, 2, dtype="float32")  # (D/2,)
        frequencies = ops.power(self.max_wavelength, -two_i / hidden_dim)
        angles = positions[:, None] * frequencies[None, :]  # (T, D/2)
        if self.interleave:  # even dimensions hold sin, odd ones cos
            encoding = ops.stack([ops.sin(angles), ops.cos(angles)], axis=-1)
            encoding = ops.reshape(encoding, (length, hidden_dim))  # (T, D)
        else:  # the first half sin, the second cos (MarianMT)
            encoding = ops.concatenate(
                [ops.sin(angles), ops.cos(angles)], axis=-1)  # (T, D)
        encoding = ops.cast(encoding, self.compute_dtype)[None]  # (1, T, D)
        trace.record("positional encoding PE(pos), sinusoids", encoding,
                     "(1, T, D)")
        return encoding

    def compute_output_shape(self, inputs_shape):
        return (1,) + tuple(inputs_shape[1:])

    def get_config(self):
        config = super().get_config()
        config["max_wavelength"] = self.max_wavelength
        config["interleave"] = self.interleave
        return config
