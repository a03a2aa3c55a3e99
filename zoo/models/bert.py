"""BERT: a bidirectional Transformer encoder (Devlin et al. 2018)."""

import keras
from keras import ops

from zoo.blocks import EncoderBlock
from zoo.blocks import LearnedPositionEmbedding
from zoo.blocks import TokenEmbedding
from zoo.blocks import trace
from zoo.blocks.dropout import Dropout
from zoo.blocks.normalization import LayerNormalization
from zoo.models.backbone import Backbone
from zoo.models.checks import check_token_inputs


@keras.saving.register_keras_serializable(package="zoo")
class BertEncoder(Backbone):
    """Token + segment + learned position embeddings, then post-LN blocks.

    Every token attends to every real token (no causal mask). The pooled
    output is `tanh(W h_[CLS] + b)` of the first token, for sentence-level
    heads. Inputs and outputs are named as in keras-hub's `BertBackbone`.

    Args:
        vocabulary_size: int. V.
        num_layers: int. Number of `EncoderBlock`s.
        num_heads: int. N.
        hidden_dim: int. D.
        intermediate_dim: int. F, the feed-forward width.
        dropout: float. Embedding and residual dropout.
        attention_dropout: float. Attention-probability dropout; defaults to
            `dropout`.
        max_sequence_length: int. Length of the position table.
        num_segments: int. Number of segment (sentence A/B) ids.
        layer_norm_epsilon: float. 1e-12 as in the original BERT.
        activation: feed-forward activation.
        dtype: dtype or policy, e.g. "mixed_bfloat16".

    Call arguments:
        inputs: dict with `token_ids` (B, T) int, `segment_ids` (B, T) int
            and `padding_mask` (B, T), 1 for real tokens.
        pooled_only: bool. Compute only what `pooled_output` needs, as
            `SequenceClassifier` asks: the last block's attention queries
            and its feed-forward network run on [CLS]'s row alone (its keys
            and values still come from every position), a 1/T share of
            that block's queries. `sequence_output` is then [CLS]'s row,
            (B, 1, D); the numbers are those of the full computation.
        return_attention_scores: bool. Also return every block's attention
            probabilities (see `MultiHeadAttention`), as
            `{"self_attention": [P_0, ..., P_{L-1}]}`, P (B, N, T, T)
            (the last (B, N, 1, T) with `pooled_only`).

    Returns:
        dict with `sequence_output` (B, T, D) and `pooled_output` (B, D);
        with `return_attention_scores`, `(that dict, scores)`.

    Example:

    >>> model = BertEncoder.from_preset("bert_tiny")
    >>> out = model({"token_ids": np.ones((1, 8), "int32"),
    ...              "segment_ids": np.zeros((1, 8), "int32"),
    ...              "padding_mask": np.ones((1, 8), "int32")})
    >>> out["pooled_output"].shape
    (1, 128)
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
        max_sequence_length=512,
        num_segments=2,
        layer_norm_epsilon=1e-12,
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
        self.num_segments = num_segments
        self.layer_norm_epsilon = layer_norm_epsilon
        self.activation = activation

        def initializer():  # BERT: truncated normal, stddev 0.02
            return keras.initializers.TruncatedNormal(stddev=0.02)

        self.token_embedding = TokenEmbedding(
            vocabulary_size, hidden_dim, embeddings_initializer=initializer(),
            dtype=dtype, name="token_embedding",
        )
        self.position_embedding = LearnedPositionEmbedding(
            max_sequence_length, initializer=initializer(), dtype=dtype,
            name="position_embedding",
        )
        self.segment_embedding = keras.layers.Embedding(
            num_segments, hidden_dim, embeddings_initializer=initializer(),
            dtype=dtype, name="segment_embedding",
        )
        self.embeddings_layer_norm = LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=dtype, name="embeddings_layer_norm")
        self.embeddings_dropout = Dropout(dropout, dtype=dtype,
                                          name="embeddings_dropout")
        self.transformer_layers = [  # post-LN, as BERT
            EncoderBlock(
                num_heads, intermediate_dim, dropout=dropout,
                attention_dropout=attention_dropout, activation=activation,
                layer_norm_epsilon=layer_norm_epsilon, norm_first=False,
                kernel_initializer=initializer(), dtype=dtype,
                name=f"transformer_layer_{i}")
            for i in range(num_layers)
        ]
        self.pooled_dense = keras.layers.Dense(
            hidden_dim, activation="tanh", kernel_initializer=initializer(),
            dtype=dtype, name="pooled_dense",
        )
        self.build()

    def build(self, input_shape=None):
        sequence_shape = (None, None, self.hidden_dim)
        self.token_embedding.build((None, None))
        self.position_embedding.build(sequence_shape)
        self.segment_embedding.build((None, None))
        self.embeddings_layer_norm.build(sequence_shape)
        for block in self.transformer_layers:
            block.build(sequence_shape)
        self.pooled_dense.build((None, self.hidden_dim))

    def check_inputs(self, inputs):
        return check_token_inputs(
            inputs, "", self.vocabulary_size, self.max_sequence_length,
            extra=[("segment_ids", self.num_segments, "segment ids")],
        )

    def call(self, inputs, training=None, pooled_only=False,
             return_attention_scores=False):
        trace.section("embeddings")
        inputs = self.check_inputs(inputs)
        token_ids = inputs["token_ids"]
        segment_ids = inputs.get("segment_ids")
        if segment_ids is None:
            segment_ids = ops.zeros_like(token_ids)
        padding_mask = inputs.get("padding_mask")
        if padding_mask is None:
            padding_mask = ops.ones_like(token_ids)

        x = self.token_embedding(token_ids)  # (B, T, D)
        x = x + self.position_embedding(x)  # (B, T, D)
        segments = self.segment_embedding(segment_ids)  # (B, T, D)
        trace.record("segment embedding E_seg[segment_ids]", segments,
                     "(B, T, D)")
        x = self.embeddings_layer_norm(x + segments)
        trace.record("LayerNorm(token + position + segment)", x, "(B, T, D)")
        x = self.embeddings_dropout(x, training=training)
        scores = []
        for i, block in enumerate(self.transformer_layers):
            query = None
            if pooled_only and i == self.num_layers - 1:
                query = x[:, :1]  # [CLS]: (B, 1, D)
            x = block(x, padding_mask=padding_mask, query=query,
                      training=training,
                      return_attention_scores=return_attention_scores)
            if return_attention_scores:
                x, block_scores = x
                scores.append(block_scores["self_attention"])
        trace.section("pooler")
        pooled = self.pooled_dense(x[:, 0, :])  # (B, D), from [CLS]
        trace.record("pooled = tanh(h_[CLS] W + b)", pooled, "(B, D)")
        outputs = {"sequence_output": x, "pooled_output": pooled}
        if return_attention_scores:
            return outputs, {"self_attention": scores}
        return outputs
