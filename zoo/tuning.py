"""Faster or leaner formulations for one backend and CPU, behind one switch.

The zoo's blocks are written the plain way first: attention is
`keras.ops.dot_product_attention` (or, while attention dropout is active,
the same `softmax(Q K^T / sqrt(d_k)) V` written out, to drop out the
probabilities), dropout is `keras.layers.Dropout`, GELU and LayerNorm are
Keras's. These ran faster, or in less memory, written differently on
TensorFlow on the CPU, and live here instead:

- **Causal attention by query blocks.** A causal self attention longer
  than `QUERY_BLOCK` takes its queries a block at a time and multiplies
  each block only by the keys up to its last query, skipping the upper
  triangle that the mask zeroes anyway.
- **Logits as (E hᵀ)ᵀ.** Without XLA, TensorFlow's kernels multiply the
  embedding E (V, D) by the hidden states of one decoding step, h (B, D),
  faster in that order (a thin matrix product) than h Eᵀ; under XLA the
  plain h Eᵀ is the faster one, and stays.
- **GELU and LayerNorm with their derivatives written out.** Left to
  automatic differentiation, TensorFlow keeps every intermediate of the
  forward pass for the backward one: the tanh GELU's x³, its argument,
  the tanh and 1 + tanh, each (B, T, F), and LayerNorm's float32 copies.
  Written out, GELU keeps x and tanh(·) and LayerNorm keeps x̂ and 1/σ.
  Less memory, the same math (the rounding differs). Outside XLA only:
  XLA already chooses what to keep, and these made its steps slower.
- **Dropout with a named random algorithm.** `keras.layers.Dropout` draws
  its mask with TensorFlow's default stateless algorithm, which XLA on the
  CPU generates very slowly; this draws it with Threefry while TensorFlow
  traces for XLA (`zoo.compat.compiling_for_xla`), and with Philox
  otherwise (TensorFlow's own CPU kernels have no Threefry).

The switch: `ZOO_TUNING=auto` (the default; on for the TensorFlow
backend), `on` or `off`, or `zoo.tuning.set_tuning(...)`. What each one
buys is measured side by side in `benchmarks.run --libraries
zoo,zoo-untuned,...` (README, docs/benchmarks.md).
They give the plain path's numbers (tests/test_tuning.py), but for
dropout's random masks, which come from another algorithm.
"""

import math
import os

import keras
from keras import ops

from zoo import compat

QUERY_BLOCK = 128  # queries per block of causal attention
CHOICES = ("auto", "on", "off")
FORMULATIONS = ("attention", "dropout", "logits", "gelu", "layer_norm")
OUTSIDE_XLA = ("logits", "gelu", "layer_norm")  # under XLA, the plain path
_setting = os.environ.get("ZOO_TUNING", "auto")


def set_tuning(value):
    """"auto" (on for TensorFlow), "on" or "off"; returns the old value."""
    global _setting
    if value not in CHOICES:
        raise ValueError(f"Tuning must be one of {CHOICES}; got {value!r}.")
    old, _setting = _setting, value
    return old


def active(formulation="attention"):
    """Whether the blocks take `formulation` ("attention", "dropout",
    "logits", "gelu" or "layer_norm") from this module. All but the
    attention's are TensorFlow's alone, on any setting; the logits', GELU's
    and LayerNorm's apply only outside XLA."""
    if _setting not in CHOICES:
        raise ValueError(
            f"ZOO_TUNING must be one of {CHOICES}; got {_setting!r}.")
    if formulation not in FORMULATIONS:
        raise ValueError(f"No formulation {formulation!r}; zoo.tuning has "
                         f"{FORMULATIONS}.")
    tensorflow = keras.backend.backend() == "tensorflow"
    if formulation != "attention" and not tensorflow:
        return False
    if formulation in OUTSIDE_XLA and compat.compiling_for_xla():
        return False
    return tensorflow if _setting == "auto" else _setting == "on"


def logits(embeddings, hidden):
    """(B, V) logits of hidden states `hidden` (B, D) through the tied
    embedding `embeddings` (V, D): (E hᵀ)ᵀ, the same numbers as h Eᵀ."""
    return ops.transpose(ops.einsum("vd,bd->vb", embeddings, hidden))


def causal_attention(q, k, v, mask, dropout, training):
    """softmax(Q K^T / sqrt(H)) V of a causal self attention, a block of
    queries at a time.

    Args:
        q, k, v: (B, T, N, H), with T known when tracing.
        mask: None or bool (B or 1, 1, T or 1, T); True = attend. It must
            already hold the causal mask.
        dropout: the layer that drops out attention probabilities.
        training: bool.

    Returns:
        (B, T, N, H), the same numbers as one (T, T) masked softmax.
    """
    q, k, v = (ops.transpose(x, (0, 2, 1, 3)) for x in (q, k, v))  # (B, N, T, H)
    length = q.shape[2]
    # Split, then concatenate each block's keys, rather than slice: without
    # XLA, the gradient of each slice is a whole (B, N, T, H) of zeros.
    boundaries = list(range(QUERY_BLOCK, length, QUERY_BLOCK))
    q_blocks, k_blocks, v_blocks = (
        ops.split(x, boundaries, axis=2) for x in (q, k, v))  # (B, N, t, H)
    outputs = []
    for i, q_block in enumerate(q_blocks):
        start, end = i * QUERY_BLOCK, min((i + 1) * QUERY_BLOCK, length)
        # Queries start..end-1 see no key at or after `end`.
        last = end == length
        keys = k if last else ops.concatenate(k_blocks[:i + 1], axis=2)
        values = v if last else ops.concatenate(v_blocks[:i + 1], axis=2)
        block_mask = None if mask is None else _mask_block(mask, start, end)
        logits = ops.einsum("bnth,bnsh->bnts", q_block, keys)  # (B, N, t, end)
        logits = ops.cast(logits, "float32") / math.sqrt(q.shape[-1])
        if block_mask is not None:  # -1e9: exp() gives exactly 0
            logits = ops.where(block_mask, logits, -1e9)
        probs = ops.cast(ops.softmax(logits, axis=-1), v.dtype)
        probs = dropout(probs, training=training)
        outputs.append(ops.einsum("bnts,bnsh->bnth", probs, values))
    output = ops.concatenate(outputs, axis=2)  # (B, N, T, H)
    return ops.transpose(output, (0, 2, 1, 3))  # (B, T, N, H)


SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
GELU_CUBIC = 0.044715


def gelu_approximate(x):
    """GELU with the tanh approximation and its derivative written out:

        GELU(x)  = ½ x (1 + t),   t = tanh(√(2/π) (x + 0.044715 x³))
        GELU'(x) = ½ (1 + t) + ½ x (1 − t²) √(2/π) (1 + 3 · 0.044715 x²)

    The backward pass keeps x and t, each the shape of x.
    """

    @ops.custom_gradient
    def gelu(x):
        t = ops.tanh(SQRT_2_OVER_PI * x * (1 + GELU_CUBIC * x * x))
        y = 0.5 * x * (1 + t)

        def grad(upstream):
            slope = SQRT_2_OVER_PI * (1 + 3 * GELU_CUBIC * x * x)
            return upstream * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * slope)

        return y, grad

    return gelu(x)


def layer_normalization(x, gamma, beta, epsilon):
    """LayerNorm over the last axis, in float32, its gradient written out:

        x̂ = (x − μ) / σ,  σ = √(var(x) + ε),  y = γ x̂ + β
        ∂L/∂x = (g − mean(g) − x̂ mean(g x̂)) / σ,  g = γ ∂L/∂y
        ∂L/∂γ = Σ ∂L/∂y x̂,  ∂L/∂β = Σ ∂L/∂y  (sums over all but the last axis)

    x (..., D) in any float dtype, gamma and beta (D,) float32; returns
    y in x's dtype. The backward pass keeps x̂ (float32) and 1/σ (..., 1).
    """
    batch_axes = tuple(range(len(x.shape) - 1))

    @ops.custom_gradient
    def norm(x, gamma, beta):
        x32 = ops.cast(x, "float32")
        centred = x32 - ops.mean(x32, axis=-1, keepdims=True)  # (..., D)
        variance = ops.mean(centred * centred, axis=-1, keepdims=True)
        inverse = ops.rsqrt(variance + epsilon)  # 1/σ, (..., 1)
        x_hat = centred * inverse  # (..., D)
        y = ops.cast(x_hat * gamma + beta, x.dtype)

        def grad(upstream):
            upstream = ops.cast(upstream, "float32")
            g = upstream * gamma  # (..., D)
            dx = inverse * (g - ops.mean(g, axis=-1, keepdims=True)
                            - x_hat * ops.mean(g * x_hat, axis=-1,
                                               keepdims=True))
            return (ops.cast(dx, x.dtype),
                    ops.sum(upstream * x_hat, axis=batch_axes),  # (D,)
                    ops.sum(upstream, axis=batch_axes))  # (D,)

        return y, grad

    return norm(x, gamma, beta)


def _mask_block(mask, start, end):
    """Rows start..end-1 and key columns ..end-1 of a (., 1, T, S) mask."""
    if mask.shape[2] != 1:
        mask = mask[:, :, start:end]
    if mask.shape[3] != 1:
        mask = mask[:, :, :, :end]
    return mask


def dropout(inputs, rate, noise_shape, seed_generator):
    """Inverted dropout of `inputs`: Threefry masks under XLA, Philox
    elsewhere (so one seed gives different masks with and without XLA)."""
    import tensorflow as tf

    seed = ops.cast(  # the stateless ops take int32 seeds
        ops.mod(seed_generator.next(), 2**31 - 1), "int32")
    return tf.nn.experimental.stateless_dropout(
        inputs, rate=rate, noise_shape=noise_shape, seed=seed,
        rng_alg="threefry" if compat.compiling_for_xla() else "philox")
