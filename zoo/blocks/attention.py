"""Multi-head attention (Vaswani et al. 2017, section 3.2).

    MultiHead(Q, K, V) = Concat(head_1, ..., head_N) W_O
    head_i = Attention(Q W_Q_i, K W_K_i, V W_V_i)
    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V

The per-head projections W_Q_i (D, H) of all N heads sit side by side in one
(D, N*H) kernel; "concatenate the heads and project by W_O" is one matmul by
the (N*H, D) kernel.

The attention itself is `keras.ops.dot_product_attention`, each backend's
fused kernel. While attention dropout is active (training with
`dropout > 0`) it is written out, `P = softmax(Q K^T / sqrt(d_k))`, so
that P can be dropped out before `P V`; so it is too when the caller asks
for P itself (`return_attention_scores=True`, to look at it). (`zoo.tuning`
holds a faster causal formulation for TensorFlow on the CPU.)

Shapes: B batch, T query length, S key length, D hidden_dim, N num_heads,
H head_dim (the paper's d_k = d_v = D / N).
"""

import math

import keras
from keras import ops

from zoo import tuning
from zoo.blocks import trace
from zoo.blocks.dropout import Dropout
from zoo.blocks.masks import causal_attention_mask
from zoo.blocks.masks import merge_masks


@keras.saving.register_keras_serializable(package="zoo")
class MultiHeadAttention(keras.layers.Layer):
    """Multi-head attention with masks and a fixed-size key/value cache.

    Serves as self attention (`query` and `value` the same sequence), causal
    self attention (`causal=True`, or a causal `attention_mask` with a
    cache) and cross attention
    (`value` is the encoder output). The weights hold the same numbers as
    `keras.layers.MultiHeadAttention`'s, reshaped: its (D, N, H) kernels are
    our (D, N*H) ones (`zoo.convert` copies them across).

    For incremental decoding the layer reads and writes a cache of shape
    `(B, 2, S, N, H)` (keys at index 0, values at index 1) allocated once at
    its final length `S`, so that shapes never grow inside an XLA loop:
    `cache_update_index` says where the keys and values of the `T` new
    positions are written.

    Args:
        num_heads: int. Number of heads N.
        head_dim: int. Size H of each head; `hidden_dim / num_heads` usually.
        dropout: float. Dropout on the attention probabilities.
        use_bias: bool. Whether the projections have biases.
        kernel_initializer: initializer of the projection kernels.
        bias_initializer: initializer of the projection biases.

    Call arguments:
        query: `(B, T, D)`.
        value: `(B, S, D)`, the sequence attended over; keys are computed
            from it too. Defaults to `query` (self attention).
        attention_mask: bool, broadcastable to `(B, T, S)`; True = attend.
        cache: optional `(B, 2, S, N, H)` key/value cache.
        cache_update_index: int or scalar tensor. With a cache: the position
            where the keys/values of `value` are written. None means the
            cache is complete (cross attention over a cached encoder output)
            and `value` is not used.
        causal: bool. Causal self attention without a cache: query t sees
            keys 0..t only, ANDed with `attention_mask`. Rows whose keys
            are all masked (e.g. a padded query before any real key) come
            out as some average of the values; they are padding.
        training: bool, whether dropout is active.
        return_attention_scores: bool. Also return the attention
            probabilities P = softmax(Q K^T / sqrt(H)), `(B, N, T, S)`
            (before attention dropout; masked keys get exactly 0). The
            attention is then written out step by step instead of the
            fused kernel (the same numbers, slower): for looking at P,
            not for training.

    Returns:
        `(B, T, D)`. With `return_attention_scores`, `((B, T, D), P)`.
        With a cache, the updated cache comes last: `((B, T, D), cache)`,
        or `((B, T, D), P, cache)`.

    Example:

    >>> attention = MultiHeadAttention(num_heads=2, head_dim=4)
    >>> x = np.random.rand(1, 5, 8).astype("float32")
    >>> attention(x).shape
    (1, 5, 8)
    """

    def __init__(
        self,
        num_heads,
        head_dim,
        dropout=0.0,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.head_dim = head_dim
        self.dropout = dropout
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def _projection(self, units, name):
        return keras.layers.Dense(
            units,
            use_bias=self.use_bias,
            kernel_initializer=clone_initializer(self.kernel_initializer),
            bias_initializer=clone_initializer(self.bias_initializer),
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, query_shape):
        # Queries, keys and values share the width D in every zoo model.
        hidden_dim = query_shape[-1]
        width = self.num_heads * self.head_dim
        # W_Q, W_K, W_V: (D, N*H), the N per-head (D, H) matrices side by
        # side. (A (D, N, H) kernel, as keras.layers.MultiHeadAttention
        # keeps, holds the same numbers, but XLA on the CPU copies it on
        # every decoding step: 5x slower for a 768-wide model.)
        self.w_q = self._projection(width, "query")
        self.w_k = self._projection(width, "key")
        self.w_v = self._projection(width, "value")
        # W_O: (N*H, D), projects the concatenated heads back to D.
        self.w_o = self._projection(hidden_dim, "attention_output")
        for projection in (self.w_q, self.w_k, self.w_v):
            projection.build(query_shape)
        self.w_o.build((None, None, width))
        self.dropout_layer = Dropout(
            self.dropout, dtype=self.dtype_policy
        )

    def _heads(self, projection, x, name="Q", source="X"):
        """(B, T, D) -> (B, T, N, H) through W_Q, W_K or W_V (`name` Q, K
        or V; `source` names x in the trace)."""
        y = projection(x)  # (B, T, N*H)
        length = "T" if name == "Q" else "S"
        trace.record(f"{name} = {source} W_{name}", y,
                     f"(B, {length}, N*H)", self.name)
        y = ops.reshape(y, ops.shape(y)[:2] + (self.num_heads, self.head_dim))
        trace.record(f"{name} split into N heads", y,
                     f"(B, {length}, N, H)", self.name)
        return y  # (B, T, N, H)

    def project_key_value(self, value):
        """Keys and values of `value` (B, S, D), stacked: (B, 2, S, N, H)."""
        key = self._heads(self.w_k, value, "K")  # (B, S, N, H)
        value = self._heads(self.w_v, value, "V")  # (B, S, N, H)
        return ops.stack([key, value], axis=1)  # (B, 2, S, N, H)

    def call(
        self,
        query,
        value=None,
        attention_mask=None,
        cache=None,
        cache_update_index=None,
        causal=False,
        training=None,
        return_attention_scores=False,
    ):
        value = query if value is None else value
        if causal:
            if cache is not None or value is not query:
                raise ValueError(
                    "`causal=True` is for self attention without a cache. "
                    "With a cache, pass the causal mask of the new positions "
                    "(`causal_attention_mask(T, S, start)`) as "
                    "`attention_mask`."
                )
            length = ops.shape(query)[1]
            attention_mask = merge_masks(
                causal_attention_mask(length, length), attention_mask
            )
        q = self._heads(self.w_q, query)  # (B, T, N, H)

        if cache is None:
            if cache_update_index is not None:
                raise ValueError(
                    "`cache_update_index` was given without a `cache`. Pass "
                    "both (incremental decoding) or neither."
                )
            source = "X" if value is query else "Z"  # Z: encoder output
            k = self._heads(self.w_k, value, "K", source)  # (B, S, N, H)
            v = self._heads(self.w_v, value, "V", source)  # (B, S, N, H)
        else:
            if cache_update_index is not None:
                # Write the new positions' keys and values in place.
                update = self.project_key_value(value)  # (B, 2, T, N, H)
                start = [0, 0, cache_update_index, 0, 0]
                cache = ops.slice_update(cache, start, update)
            k, v = cache[:, 0], cache[:, 1]  # (B, S, N, H) each

        if attention_mask is not None:
            attention_mask = ops.cast(attention_mask, "bool")
            attention_mask = ops.expand_dims(attention_mask, axis=1)  # heads
        output = self.attend(q, k, v, attention_mask, causal, training,
                             return_attention_scores)  # (B, T, N, H)
        if return_attention_scores:
            output, probs = output  # and P, (B, N, T, S)
        # Concatenate the heads, (B, T, N*H), and project by W_O.
        width = self.num_heads * self.head_dim
        output = ops.reshape(output, ops.shape(output)[:2] + (width,))
        trace.record("Concat(head_1, …, head_N)", output, "(B, T, N*H)",
                     self.name)
        output = self.w_o(output)  # (B, T, D)
        trace.record("MultiHead = Concat(…) W_O", output, "(B, T, D)",
                     self.name)
        outputs = (output, probs) if return_attention_scores else (output,)
        if cache is not None:
            outputs += (cache,)  # the cache comes last
        return outputs[0] if len(outputs) == 1 else outputs

    def attend(self, q, k, v, mask, causal, training,
               return_attention_scores=False):
        """softmax(Q K^T / sqrt(H)) V for q (B, T, N, H), k and v (B, S, N, H).

        `mask` is None or bool (B or 1, 1, T or 1, S or 1); True = attend.
        The fused kernel computes it, unless attention dropout is active or
        the probabilities P are asked for: then it is written out, and with
        `return_attention_scores` it returns `(output, P)`, P (B, N, T, S)
        before dropout.
        """
        scale = 1.0 / math.sqrt(self.head_dim)
        if not return_attention_scores:
            if (causal and tuning.active()
                    and (q.shape[1] or 0) > tuning.QUERY_BLOCK):
                return tuning.causal_attention(q, k, v, mask,
                                               self.dropout_layer, training)
            if not (training and self.dropout > 0):  # the fused kernel
                return ops.dot_product_attention(q, k, v, mask=mask,
                                                 scale=scale)
        logits = ops.einsum("btnh,bsnh->bnts", q, k)  # Q K^T, (B, N, T, S)
        trace.record("Q Kᵀ", logits, "(B, N, T, S)", self.name)
        # In float32 under mixed precision, as the fused op does.
        logits = ops.cast(logits, "float32") * scale
        trace.record("Q Kᵀ / √d_k", logits, "(B, N, T, S)", self.name)
        if mask is not None:  # -1e9: exp() gives exactly 0, as for -inf
            logits = ops.where(mask, logits, -1e9)
            trace.record("masked keys: −1e9 (≈ −∞)", logits,
                         "(B, N, T, S)", self.name)
        probs = ops.cast(ops.softmax(logits, axis=-1), v.dtype)  # P
        trace.record("P = softmax(...) over the keys", probs, "(B, N, T, S)",
                     self.name)
        dropped = self.dropout_layer(probs, training=training)
        output = ops.einsum("bnts,bsnh->btnh", dropped, v)  # P V, (B, T, N, H)
        trace.record("P V", output, "(B, T, N, H)", self.name)
        return (output, probs) if return_attention_scores else output

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "head_dim": self.head_dim,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(
                    self.bias_initializer
                ),
            }
        )
        return config


def clone_initializer(initializer):
    """A fresh copy, so that layers sharing a config do not share seeds."""
    if isinstance(initializer, keras.initializers.Initializer):
        return initializer.__class__.from_config(initializer.get_config())
    return initializer
