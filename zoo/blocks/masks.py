"""Attention masks: which keys each query may look at.

All masks here are boolean and True means "may attend". They are combined
with logical AND and handed to the attention, which sets
the logits of masked keys to a large negative number before the softmax, so
their weight is exactly zero (Vaswani et al. 2017, section 3.2.3).

Shapes: `B` batch, `T` query length, `S` key length.
"""

from keras import ops

from zoo.blocks import trace


def padding_attention_mask(padding_mask):
    """A key padding mask `(B, S)` as an attention mask `(B, 1, S)`.

    Every query may attend to every real key and to no padding key.
    """
    mask = ops.expand_dims(ops.cast(padding_mask, "bool"), axis=1)  # (B, 1, S)
    trace.record("padding mask: no query sees a padding key", mask,
                 "(B, 1, S)")
    return mask


def causal_attention_mask(query_length, key_length, start_index=0):
    """The lower-triangular mask `(1, T, S)` of an autoregressive model.

    Query `t` sits at absolute position `start_index + t` and may attend to
    keys at positions `0 ... start_index + t`. With a key/value cache of
    length `S`, `start_index` is where the `T` new queries were written.
    """
    query_positions = ops.arange(query_length) + start_index  # (T,)
    key_positions = ops.arange(key_length)  # (S,)
    mask = key_positions[None, :] <= query_positions[:, None]  # (T, S)
    mask = mask[None, :, :]  # (1, T, S)
    trace.record("causal mask: query t sees keys 0…t only", mask, "(1, T, S)")
    return mask


def merge_masks(*masks):
    """AND together the masks that are not None; None if all are None."""
    merged = None
    for mask in masks:
        if mask is None:
            continue
        mask = ops.cast(mask, "bool")
        merged = mask if merged is None else ops.logical_and(merged, mask)
    return merged
