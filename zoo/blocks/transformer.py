"""Encoder and decoder blocks (Vaswani et al. 2017, section 3.1).

Each sub-layer (attention or feed-forward) is wrapped in a residual
connection with layer normalization, in one of two placements:

    post-LN (the paper, BERT):  x = LayerNorm(x + Dropout(Sublayer(x)))
    pre-LN  (GPT-2):            x = x + Dropout(Sublayer(LayerNorm(x)))

`norm_first=True` selects pre-LN. A pre-LN stack needs one more LayerNorm
after its last block; the models add it.

Shapes: B batch, T decoder (query) length, S encoder (key) length,
D hidden_dim, N num_heads, H head_dim.

(Over 300 lines on purpose: the two blocks share their arguments,
sub-layers and residual wiring, `_Block`, and read best side by side.)
"""

import keras

from zoo.blocks import trace
from zoo.blocks.attention import MultiHeadAttention
from zoo.blocks.dropout import Dropout
from zoo.blocks.feed_forward import FeedForward
from zoo.blocks.masks import causal_attention_mask
from zoo.blocks.masks import merge_masks
from zoo.blocks.masks import padding_attention_mask
from zoo.blocks.normalization import LayerNormalization


class _Block(keras.layers.Layer):
    """What encoder and decoder blocks share: arguments and sub-layers."""

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        dropout=0.0,
        attention_dropout=None,
        activation="relu",
        layer_norm_epsilon=1e-5,
        norm_first=False,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.attention_dropout = (
            dropout if attention_dropout is None else attention_dropout
        )
        self.activation = activation
        self.layer_norm_epsilon = layer_norm_epsilon
        self.norm_first = norm_first
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def _attention(self, hidden_dim, inputs_shape, name):
        if hidden_dim % self.num_heads:
            raise ValueError(
                f"hidden_dim {hidden_dim} is not divisible by num_heads "
                f"{self.num_heads}."
            )
        attention = MultiHeadAttention(
            num_heads=self.num_heads,
            head_dim=hidden_dim // self.num_heads,
            dropout=self.attention_dropout,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name=name,
        )
        attention.build(inputs_shape)
        return attention

    def _norm(self, inputs_shape, name):
        norm = LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name
        )
        norm.build(inputs_shape)
        return norm

    def _build_feed_forward(self, inputs_shape):
        self.feed_forward = FeedForward(
            self.intermediate_dim,
            activation=self.activation,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name="feed_forward",
        )
        self.feed_forward.build(inputs_shape)
        self.feed_forward_norm = self._norm(inputs_shape, "feed_forward_norm")
        self.residual_dropout = Dropout(
            self.dropout, dtype=self.dtype_policy, name="residual_dropout"
        )

    def _residual(self, x, norm, sublayer, training):
        """One sub-layer with its residual connection and LayerNorm."""
        part = norm.name.removesuffix("_norm")  # named after its sub-layer
        if self.norm_first:
            h = norm(x)
            trace.record("LayerNorm(x)", h, "(B, T, D)", part)
            x = x + self.residual_dropout(sublayer(h), training=training)
            trace.record("x + Sublayer(LayerNorm(x))", x, "(B, T, D)", part)
            return x
        y = sublayer(x)
        x = norm(x + self.residual_dropout(y, training=training))
        trace.record("LayerNorm(x + Sublayer(x))", x, "(B, T, D)", part)
        return x

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "attention_dropout": self.attention_dropout,
                "activation": self.activation,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "norm_first": self.norm_first,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(
                    self.bias_initializer
                ),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="zoo")
class EncoderBlock(_Block):
    """Self attention over the whole sequence, then a feed-forward network.

    Args:
        num_heads: int. N.
        intermediate_dim: int. F, the feed-forward width.
        dropout: float. Dropout on each sub-layer's output (residual dropout).
        attention_dropout: float. Dropout on the attention probabilities;
            defaults to `dropout`.
        activation: feed-forward activation, "relu", "gelu" or
            "gelu_approximate".
        layer_norm_epsilon: float.
        norm_first: bool. Pre-LN (True) or post-LN (False, the paper).
        kernel_initializer, bias_initializer: for all dense layers.

    Call arguments:
        x: `(B, S, D)`.
        padding_mask: `(B, S)`, 1 for real tokens and 0 for padding.
        attention_mask: bool `(B, T, S)`, further restricts attention.
        query: optional `(B, T, D)`, some rows of `x` (such as `x[:, :1]`,
            the [CLS] token) when only their outputs are needed, as in a
            model's last block: they attend over all of `x`, and the
            feed-forward network runs on them alone. Default: all of `x`
            (T = S).
        training: bool.
        return_attention_scores: bool. Also return the attention
            probabilities, `{"self_attention": (B, N, T, S)}` (see
            `MultiHeadAttention`).

    Returns:
        `(B, T, D)`, or `((B, T, D), scores)` with `return_attention_scores`.

    Example:

    >>> block = EncoderBlock(num_heads=2, intermediate_dim=32)
    >>> block(np.zeros((1, 5, 8), "float32")).shape
    (1, 5, 8)
    """

    def build(self, inputs_shape):
        hidden_dim = inputs_shape[-1]
        self.self_attention = self._attention(
            hidden_dim, inputs_shape, "self_attention"
        )
        self.self_attention_norm = self._norm(
            inputs_shape, "self_attention_norm"
        )
        self._build_feed_forward(inputs_shape)

    def call(self, x, padding_mask=None, attention_mask=None, query=None,
             training=None, return_attention_scores=False):
        trace.section(self.name)
        if padding_mask is not None:
            padding_mask = padding_attention_mask(padding_mask)  # (B, 1, S)
        mask = merge_masks(padding_mask, attention_mask)

        keys = None  # self attention: keys and values come from h itself
        if query is not None:
            # The query rows attend over all of x (normalized first, pre-LN).
            keys = self.self_attention_norm(x) if self.norm_first else x
            x = query

        scores = {}

        def self_attend(h):
            out = self.self_attention(
                h, keys, attention_mask=mask, training=training,
                return_attention_scores=return_attention_scores)
            out, _ = unpack_attention(out, scores, "self_attention",
                                      return_attention_scores)
            return out

        x = self._residual(x, self.self_attention_norm, self_attend, training)
        x = self._residual(
            x, self.feed_forward_norm, self.feed_forward, training
        )
        return (x, scores) if return_attention_scores else x  # (B, T, D)


@keras.saving.register_keras_serializable(package="zoo")
class DecoderBlock(_Block):
    """Causal self attention, optional cross attention, then feed-forward.

    Without cross attention this is the GPT block; with it, the decoder
    block of the encoder-decoder Transformer. Which one is fixed when the
    block is constructed (`cross_attention=True/False`).

    Args:
        cross_attention: bool. Whether the block attends to an encoder output.
        (others as in `EncoderBlock`)

    Call arguments:
        x: `(B, T, D)`.
        encoder_sequence: `(B, S, D)`, the encoder output (cross attention
            only; may be omitted when `cross_attention_cache` is given).
        padding_mask: `(B, T)` decoder padding mask; with a cache it covers
            the cache's length instead.
        encoder_padding_mask: `(B, S)`.
        self_attention_cache: `(B, 2, T_max, N, H)` cache of this block's
            self-attention keys and values, for incremental decoding.
        cache_update_index: where `x` starts within the cache.
        cross_attention_cache: `(B, 2, S, N, H)` keys and values of the
            encoder output, computed once with
            `block.cross_attention.project_key_value(encoder_sequence)`.
        training: bool.
        return_attention_scores: bool. Also return the attention
            probabilities, `{"self_attention": (B, N, T, T),
            "cross_attention": (B, N, T, S)}` (cross attention's only with
            cross attention; see `MultiHeadAttention`).

    Returns:
        `(B, T, D)`; with `return_attention_scores`, `((B, T, D), scores)`.
        With a cache, the updated self-attention cache comes last:
        `((B, T, D), self_attention_cache)` or `((B, T, D), scores,
        self_attention_cache)`.
    """

    def __init__(self, num_heads, intermediate_dim, cross_attention=False,
                 **kwargs):
        super().__init__(num_heads, intermediate_dim, **kwargs)
        self.has_cross_attention = cross_attention

    def build(self, inputs_shape):
        hidden_dim = inputs_shape[-1]
        self.self_attention = self._attention(
            hidden_dim, inputs_shape, "self_attention"
        )
        self.self_attention_norm = self._norm(
            inputs_shape, "self_attention_norm"
        )
        if self.has_cross_attention:
            self.cross_attention = self._attention(
                hidden_dim, inputs_shape, "cross_attention"
            )
            self.cross_attention_norm = self._norm(
                inputs_shape, "cross_attention_norm"
            )
        self._build_feed_forward(inputs_shape)

    def call(
        self,
        x,
        encoder_sequence=None,
        padding_mask=None,
        encoder_padding_mask=None,
        self_attention_cache=None,
        cache_update_index=None,
        cross_attention_cache=None,
        training=None,
        return_attention_scores=False,
    ):
        trace.section(self.name)
        self._check_arguments(encoder_sequence, cross_attention_cache,
                              self_attention_cache, cache_update_index)
        caching = self_attention_cache is not None
        mask = self._self_attention_mask(x, padding_mask, self_attention_cache,
                                         cache_update_index)
        cross_mask = None  # (B, 1, S)
        if encoder_padding_mask is not None:
            cross_mask = padding_attention_mask(encoder_padding_mask)
        new_cache = None
        scores = {}

        def self_attend(h):
            nonlocal new_cache
            out = self.self_attention(
                h, attention_mask=mask, cache=self_attention_cache,
                cache_update_index=cache_update_index,
                causal=not caching,  # with a cache the mask holds it
                training=training,
                return_attention_scores=return_attention_scores)
            out, new_cache = unpack_attention(
                out, scores, "self_attention", return_attention_scores,
                caching)
            return out

        def cross_attend(h):
            out = self.cross_attention(
                h, encoder_sequence, attention_mask=cross_mask,
                cache=cross_attention_cache, training=training,
                return_attention_scores=return_attention_scores)
            out, _ = unpack_attention(
                out, scores, "cross_attention", return_attention_scores,
                cross_attention_cache is not None)
            return out

        x = self._residual(x, self.self_attention_norm, self_attend, training)
        if self.has_cross_attention:
            x = self._residual(x, self.cross_attention_norm, cross_attend,
                               training)
        x = self._residual(
            x, self.feed_forward_norm, self.feed_forward, training
        )  # (B, T, D)
        outputs = (x, scores) if return_attention_scores else (x,)
        if caching:
            outputs += (new_cache,)  # the cache comes last
        return outputs[0] if len(outputs) == 1 else outputs

    def _check_arguments(self, encoder_sequence, cross_attention_cache,
                         self_attention_cache, cache_update_index):
        has_encoder = (
            encoder_sequence is not None or cross_attention_cache is not None
        )
        if has_encoder != self.has_cross_attention:
            raise ValueError(
                "This DecoderBlock was built with "
                f"cross_attention={self.has_cross_attention}; pass an "
                "`encoder_sequence` (or `cross_attention_cache`) exactly when "
                "the block has cross attention."
            )
        if (self_attention_cache is None) != (cache_update_index is None):
            raise ValueError(
                "Pass `self_attention_cache` and `cache_update_index` together."
            )

    def _self_attention_mask(self, x, padding_mask, cache, cache_update_index):
        """No padding key; with a cache, query t (at cache_update_index + t)
        sees keys 0..cache_update_index + t. (Without a cache the attention
        adds the causal mask itself.)"""
        mask = None
        if padding_mask is not None:
            mask = padding_attention_mask(padding_mask)  # (B, 1, S)
        if cache is None:
            return mask
        query_length = keras.ops.shape(x)[1]
        key_length = keras.ops.shape(cache)[2]
        return merge_masks(
            causal_attention_mask(query_length, key_length, cache_update_index),
            mask)  # (B, T, S)

    def get_config(self):
        config = super().get_config()
        config["cross_attention"] = self.has_cross_attention
        return config


def unpack_attention(outputs, scores, name, return_attention_scores,
                     caching=False):
    """`(output, cache)` of a `MultiHeadAttention` call's outputs, which
    are `output[, P][, cache]`; P, when there, goes into `scores[name]`.
    (`cache` is None without one.)"""
    if not (return_attention_scores or caching):
        return outputs, None
    outputs = list(outputs)
    output = outputs.pop(0)
    if return_attention_scores:
        scores[name] = outputs.pop(0)
    return output, (outputs.pop(0) if caching else None)
