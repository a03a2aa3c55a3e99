"""The encoder-decoder Transformer of "Attention Is All You Need"."""

import keras
from keras import ops

from zoo.blocks import DecoderBlock
from zoo.blocks import EncoderBlock
from zoo.blocks import SinusoidalPositionEncoding
from zoo.blocks import TokenEmbedding
from zoo.blocks import trace
from zoo.blocks.dropout import Dropout
from zoo.blocks.normalization import LayerNormalization
from zoo.models.backbone import Backbone
from zoo.models.checks import check_cache_length
from zoo.models.checks import check_decoding_inputs
from zoo.models.checks import check_keys
from zoo.models.checks import check_token_inputs


@keras.saving.register_keras_serializable(package="zoo")
class Transformer(Backbone):
    """Encoder and decoder stacks over one shared, scaled token embedding.

    As in Vaswani et al. 2017: sinusoidal positions (section 3.5), source
    and target share one embedding matrix multiplied by sqrt(d_model)
    (section 3.4; with a shared subword vocabulary), dropout on the sum of
    embeddings and positions (section 5.4), post-LN blocks with ReLU. The
    output projection, tied to the same matrix, belongs to the task.

    Args:
        vocabulary_size: int. V, shared by source and target.
        num_layers: int. Number of encoder blocks, and of decoder blocks.
        num_heads: int. N.
        hidden_dim: int. D (d_model).
        intermediate_dim: int. F (d_ff).
        dropout: float. P_drop, on embeddings and sub-layer outputs.
        attention_dropout: float. Dropout on attention probabilities; 0 as
            in the paper, which drops out only embeddings and sub-layer
            outputs.
        max_sequence_length: int. Longest source or target accepted.
        layer_norm_epsilon: float.
        activation: feed-forward activation ("relu" in the paper).
        norm_first: bool. Pre-LN blocks, plus a final LayerNorm per stack.
        interleave_positions: bool. The sinusoids' layout: interleaved sin
            and cos as in the paper, or (False) sin then cos, as MarianMT.
        dtype: dtype or policy.

    Call arguments:
        inputs: dict with `encoder_token_ids` (B, S), `encoder_padding_mask`
            (B, S), `decoder_token_ids` (B, T), `decoder_padding_mask` (B, T).
        return_attention_scores: bool. Also return every block's attention
            probabilities (see `MultiHeadAttention`), one list per kind,
            first layer first: `{"encoder_self_attention": [(B, N, S, S),
            ...], "decoder_self_attention": [(B, N, T, T), ...],
            "cross_attention": [(B, N, T, S), ...]}`.

    Returns:
        Decoder hidden states (B, T, D); with `return_attention_scores`,
        `(hidden states, scores)`.

    Example:

    >>> model = Transformer.from_preset("transformer_small")
    >>> ids = np.ones((1, 7), "int32")
    >>> model({"encoder_token_ids": ids, "encoder_padding_mask": ids,
    ...        "decoder_token_ids": ids, "decoder_padding_mask": ids}).shape
    (1, 7, 256)
    """

    def __init__(
        self,
        vocabulary_size,
        num_layers,
        num_heads,
        hidden_dim,
        intermediate_dim,
        dropout=0.1,
        attention_dropout=0.0,
        max_sequence_length=1024,
        layer_norm_epsilon=1e-5,
        activation="relu",
        norm_first=False,
        interleave_positions=True,
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
        self.norm_first = norm_first
        self.interleave_positions = interleave_positions

        self.token_embedding = TokenEmbedding(
            vocabulary_size, hidden_dim, scale=True,
            # N(0, 1/D): unit variance after the sqrt(D) scaling.
            embeddings_initializer=keras.initializers.RandomNormal(
                stddev=hidden_dim**-0.5
            ),
            dtype=dtype, name="token_embedding",
        )
        self.position_encoding = SinusoidalPositionEncoding(
            interleave=interleave_positions, dtype=dtype,
            name="position_encoding")
        self.embeddings_dropout = Dropout(dropout, dtype=dtype,
                                          name="embeddings_dropout")
        block_args = dict(
            num_heads=num_heads, intermediate_dim=intermediate_dim,
            dropout=dropout, attention_dropout=attention_dropout,
            activation=activation, layer_norm_epsilon=layer_norm_epsilon,
            norm_first=norm_first, dtype=dtype)
        self.encoder_layers = [
            EncoderBlock(**block_args, name=f"encoder_layer_{i}")
            for i in range(num_layers)
        ]
        self.decoder_layers = [
            DecoderBlock(**block_args, cross_attention=True,
                         name=f"decoder_layer_{i}")
            for i in range(num_layers)
        ]
        self.encoder_norm = self.decoder_norm = None
        if norm_first:  # a pre-LN stack ends with a LayerNorm
            self.encoder_norm, self.decoder_norm = (
                LayerNormalization(
                    epsilon=layer_norm_epsilon, dtype=dtype, name=name)
                for name in ("encoder_norm", "decoder_norm"))
        self.build()

    def build(self, input_shape=None):
        sequence_shape = (None, None, self.hidden_dim)
        self.token_embedding.build((None, None))
        for block in self.encoder_layers + self.decoder_layers:
            block.build(sequence_shape)
        if self.norm_first:
            self.encoder_norm.build(sequence_shape)
            self.decoder_norm.build(sequence_shape)

    @property
    def head_dim(self):
        return self.hidden_dim // self.num_heads

    def check_inputs(self, inputs):
        check_keys(inputs, [], "The Transformer")  # a dict
        for prefix in ("encoder_", "decoder_"):
            if inputs.get(f"{prefix}token_ids") is not None:
                inputs = check_token_inputs(
                    inputs, prefix, self.vocabulary_size,
                    self.max_sequence_length,
                )
        return inputs

    def embed(self, token_ids, start_index=0, training=None):
        """sqrt(D) * embedding + sinusoid, then dropout: (B, T) -> (B, T, D)."""
        x = self.token_embedding(token_ids)  # (B, T, D), scaled
        x = x + self.position_encoding(x, start_index=start_index)
        trace.record("x = E[x] · √D + PE", x, "(B, T, D)")
        return self.embeddings_dropout(x, training=training)

    def encode(self, encoder_token_ids, encoder_padding_mask=None,
               training=None, return_attention_scores=False):
        """The encoder stack: (B, S) token ids -> (B, S, D); with
        `return_attention_scores`, also the list of its blocks' (B, N, S, S)
        self-attention probabilities."""
        trace.section("encoder input")
        x = self.embed(encoder_token_ids, training=training)
        scores = []
        for block in self.encoder_layers:
            x = block(x, padding_mask=encoder_padding_mask, training=training,
                      return_attention_scores=return_attention_scores)
            if return_attention_scores:
                x, block_scores = x
                scores.append(block_scores["self_attention"])
        trace.section("encoder output")
        if self.encoder_norm is not None:
            x = self.encoder_norm(x)
            trace.record("final LayerNorm of the encoder", x, "(B, S, D)")
        return (x, scores) if return_attention_scores else x

    def decode(self, decoder_token_ids, encoder_output,
               encoder_padding_mask=None, decoder_padding_mask=None,
               training=None, return_attention_scores=False):
        """The decoder stack over a whole target: (B, T) -> (B, T, D); with
        `return_attention_scores`, also its blocks' probabilities,
        `{"self_attention": [(B, N, T, T), ...], "cross_attention": [(B, N,
        T, S), ...]}`."""
        trace.section("decoder input")
        x = self.embed(decoder_token_ids, training=training)
        scores = {"self_attention": [], "cross_attention": []}
        for block in self.decoder_layers:
            x = block(
                x,
                encoder_output,
                padding_mask=decoder_padding_mask,
                encoder_padding_mask=encoder_padding_mask,
                training=training,
                return_attention_scores=return_attention_scores,
            )
            if return_attention_scores:
                x, block_scores = x
                for kind in scores:
                    scores[kind].append(block_scores[kind])
        trace.section("decoder output")
        if self.decoder_norm is not None:
            x = self.decoder_norm(x)
            trace.record("final LayerNorm of the decoder", x, "(B, T, D)")
        return (x, scores) if return_attention_scores else x

    def call(self, inputs, training=None, return_attention_scores=False):
        check_keys(inputs, ["encoder_token_ids", "decoder_token_ids"],
                   "The Transformer")
        inputs = self.check_inputs(inputs)
        encoder_padding_mask = inputs.get("encoder_padding_mask")
        encoder_output = self.encode(
            inputs["encoder_token_ids"], encoder_padding_mask, training,
            return_attention_scores,
        )
        if return_attention_scores:
            encoder_output, encoder_scores = encoder_output
        x = self.decode(
            inputs["decoder_token_ids"],
            encoder_output,
            encoder_padding_mask=encoder_padding_mask,
            decoder_padding_mask=inputs.get("decoder_padding_mask"),
            training=training,
            return_attention_scores=return_attention_scores,
        )
        if not return_attention_scores:
            return x  # (B, T, D)
        x, decoder_scores = x
        return x, {"encoder_self_attention": encoder_scores,
                   "decoder_self_attention": decoder_scores["self_attention"],
                   "cross_attention": decoder_scores["cross_attention"]}

    def initial_cache(self, encoder_output, max_length):
        """Caches for decoding against `encoder_output` (B, S, D).

        Returns:
            `(self_attention_cache, cross_attention_cache)`: per decoder
            layer, an empty `(B, 2, max_length, N, H)` cache, and the keys
            and values of the encoder output `(B, 2, S, N, H)`, computed
            once here and reused for every generated token.
        """
        check_cache_length(max_length, self.max_sequence_length)
        batch_size = ops.shape(encoder_output)[0]
        shape = (batch_size, 2, max_length, self.num_heads, self.head_dim)
        self_cache = [
            ops.zeros(shape, dtype=self.compute_dtype)
            for _ in self.decoder_layers
        ]
        cross_cache = [
            block.cross_attention.project_key_value(encoder_output)
            for block in self.decoder_layers
        ]
        return self_cache, cross_cache

    def decode_with_cache(self, decoder_token_ids, self_attention_cache,
                          cross_attention_cache, cache_update_index,
                          encoder_padding_mask=None):
        """Decode `decoder_token_ids` (B, T) starting at `cache_update_index`.

        Returns:
            `(hidden, self_attention_cache)`: (B, T, D) and updated caches.
        """
        decoder_token_ids = check_decoding_inputs(
            decoder_token_ids, self.vocabulary_size, self_attention_cache[0],
            cache_update_index, "decoder_token_ids",
        )
        x = self.embed(decoder_token_ids, start_index=cache_update_index)
        new_cache = []
        for block, layer_cache, cross in zip(
            self.decoder_layers, self_attention_cache, cross_attention_cache
        ):
            x, layer_cache = block(
                x,
                encoder_padding_mask=encoder_padding_mask,
                self_attention_cache=layer_cache,
                cache_update_index=cache_update_index,
                cross_attention_cache=cross,
            )
            new_cache.append(layer_cache)
        x = x if self.decoder_norm is None else self.decoder_norm(x)
        return x, new_cache
