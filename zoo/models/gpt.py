"""GPT: a causal Transformer decoder (Radford et al. 2018, 2019)."""

import keras
from keras import ops

from zoo.blocks import DecoderBlock
from zoo.blocks import LearnedPositionEmbedding
from zoo.blocks import TokenEmbedding
from zoo.blocks import trace
from zoo.blocks.dropout import Dropout
from zoo.blocks.normalization import LayerNormalization
from zoo.models.backbone import Backbone
from zoo.models.checks import check_cache_length
from zoo.models.checks import check_decoding_inputs
from zoo.models.checks import check_token_inputs


@keras.saving.register_keras_serializable(package="zoo")
class GPTDecoder(Backbone):
    """Token + learned position embeddings, pre-LN causal blocks, final LN.

    Position t attends to positions 0..t only. Inputs and output are named
    as in keras-hub's `GPT2Backbone`. `call_with_cache` runs the same
    network one new chunk at a time against a fixed-size key/value cache.

    Args:
        vocabulary_size: int. V.
        num_layers: int. Number of `DecoderBlock`s.
        num_heads: int. N.
        hidden_dim: int. D.
        intermediate_dim: int. F.
        dropout: float. Embedding and residual dropout.
        attention_dropout: float; defaults to `dropout`.
        max_sequence_length: int. Length of the position table (context).
        layer_norm_epsilon: float.
        activation: feed-forward activation.
        dtype: dtype or policy.

    Call arguments:
        inputs: dict with `token_ids` (B, T) and `padding_mask` (B, T).
        return_attention_scores: bool. Also return every block's attention
            probabilities (see `MultiHeadAttention`), as
            `{"self_attention": [P_0, ..., P_{L-1}]}`, P (B, N, T, T).

    Returns:
        Hidden states (B, T, D) after the final LayerNorm; with
        `return_attention_scores`, `(hidden states, scores)`.

    Example:

    >>> model = GPTDecoder.from_preset("gpt_nano")
    >>> model({"token_ids": np.ones((2, 8), "int32"),
    ...        "padding_mask": np.ones((2, 8), "int32")}).shape
    (2, 8, 128)
    """

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        dropout=0.1,
        attention_dropout=None,
        max_sequence_length=1024,
        layer_norm_epsilon=1e-5,
        activation="gelu_approximate",
        dtype=None,
        **kwargs,
    ):
        super().__init__(dtype=dtype, **kwargs)
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.max_sequence_length = max_sequence_length
        self.layer_norm_epsilon = layer_norm_epsilon
        self.activation = activation

        def initializer(stddev=0.02):  # GPT-2: normal, stddev 0.02
            return keras.initializers.RandomNormal(stddev=stddev)

        self.token_embedding = TokenEmbedding(
            vocabulary_size, hidden_dim,
            embeddings_initializer=initializer(),
            dtype=dtype, name="token_embedding",
        )
        self.position_embedding = LearnedPositionEmbedding(
            max_sequence_length, initializer=initializer(), dtype=dtype,
            name="position_embedding",
        )
        self.embeddings_dropout = Dropout(
            dropout, dtype=dtype, name="embeddings_dropout"
        )
        self.transformer_layers = [
            DecoderBlock(
                num_heads=num_heads,
                intermediate_dim=intermediate_dim,
                cross_attention=False,
                dropout=dropout,
                attention_dropout=attention_dropout,
                activation=activation,
                layer_norm_epsilon=layer_norm_epsilon,
                norm_first=True,
                kernel_initializer=initializer(),
                dtype=dtype,
                name=f"transformer_layer_{i}",
            )
            for i in range(num_layers)
        ]
        self.layer_norm = LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=dtype, name="layer_norm"
        )
        self.build()

    def build(self, input_shape=None):
        sequence_shape = (None, None, self.hidden_dim)
        self.token_embedding.build((None, None))
        self.position_embedding.build(sequence_shape)
        for block in self.transformer_layers:
            block.build(sequence_shape)
        self.layer_norm.build(sequence_shape)

    @property
    def head_dim(self):
        return self.hidden_dim // self.num_heads

    def check_inputs(self, inputs):
        return check_token_inputs(
            inputs, "", self.vocabulary_size, self.max_sequence_length
        )

    def embed(self, token_ids, start_index=0, training=None):
        """Token + position embeddings of `token_ids` (B, T) -> (B, T, D)."""
        x = self.token_embedding(token_ids)  # (B, T, D)
        x = x + self.position_embedding(x, start_index=start_index)
        trace.record("x = token + position embeddings", x, "(B, T, D)")
        return self.embeddings_dropout(x, training=training)

    def call(self, inputs, training=None, return_attention_scores=False):
        trace.section("embeddings")
        inputs = self.check_inputs(inputs)
        x = self.embed(inputs["token_ids"], training=training)  # (B, T, D)
        padding_mask = inputs.get("padding_mask")
        scores = []
        for block in self.transformer_layers:
            x = block(x, padding_mask=padding_mask, training=training,
                      return_attention_scores=return_attention_scores)
            if return_attention_scores:
                x, block_scores = x
                scores.append(block_scores["self_attention"])
        trace.section("output")
        x = self.layer_norm(x)  # (B, T, D)
        trace.record("final LayerNorm", x, "(B, T, D)")
        if return_attention_scores:
            return x, {"self_attention": scores}
        return x

    def initial_cache(self, batch_size, max_length):
        """An empty key/value cache: one `(B, 2, max_length, N, H)` per layer."""
        check_cache_length(max_length, self.max_sequence_length)
        shape = (batch_size, 2, max_length, self.num_heads, self.head_dim)
        return [
            ops.zeros(shape, dtype=self.compute_dtype)
            for _ in self.transformer_layers
        ]

    def call_with_cache(self, token_ids, cache, cache_update_index,
                        padding_mask=None):
        """Run `token_ids` (B, T), which start at `cache_update_index`.

        Args:
            token_ids: (B, T) new tokens (T = 1 when generating).
            cache: list of per-layer caches from `initial_cache`.
            cache_update_index: int or scalar tensor, position of the first
                new token.
            padding_mask: optional (B, max_length) mask over the whole cache.

        Returns:
            `(hidden, cache)`: hidden states (B, T, D) and the updated cache.
        """
        token_ids = check_decoding_inputs(
            token_ids, self.vocabulary_size, cache[0], cache_update_index,
            "token_ids",
        )
        x = self.embed(token_ids, start_index=cache_update_index)
        new_cache = []
        for block, layer_cache in zip(self.transformer_layers, cache):
            x, layer_cache = block(
                x,
                padding_mask=padding_mask,
                self_attention_cache=layer_cache,
                cache_update_index=cache_update_index,
            )
            new_cache.append(layer_cache)
        return self.layer_norm(x), new_cache
