"""Prompts and options, from a padded batch to what the decoding loop takes.

Written once in `keras.ops`, and used both by the tasks' `generate` (on
values, on any backend) and by the SavedModel's signatures (inside a
TensorFlow graph, with open shapes): the same lengths, buckets, prefill
and checks, so that exported and in-process generation give the same ids.
A check that fails raises `ValueError` on values and fails the serving
call in a graph (`zoo.backend.ensure`).

Shapes: B batch, P padded prompt length, L total length (prompt + new
tokens, rounded up to a bucket), S source length.
"""

from keras import ops

from zoo import backend

BUCKET = 32  # lengths are rounded up to a multiple of this

OPTIONS_SIGNATURE = {  # the per-call options: scalars
    "temperature": backend.Spec([], "float32"),
    "top_k": backend.Spec([], "int32"),
    "top_p": backend.Spec([], "float32"),
    "seed": backend.Spec([], "int32"),
    "length_penalty": backend.Spec([], "float32"),
}


def static(x):
    """A Python int for a scalar with a value; `x` itself when traced."""
    return int(ops.convert_to_numpy(x)) if backend.is_concrete(x) else x


def static_float(x):
    """A Python float of a scalar with a value (for messages)."""
    return float(ops.convert_to_numpy(x))


def bucket(length, limit, multiple=BUCKET):
    """`length` rounded up to a multiple of `multiple`, at most `limit`.

    Generation compiles once per shape; rounding the lengths it sees lets
    calls with similar prompts share one compiled program.
    """
    rounded = (length + multiple - 1) // multiple * multiple
    return ops.minimum(rounded, ops.maximum(limit, length))


def largest_power_of_two(n):
    """The largest power of two <= n, for an integer scalar n >= 1."""
    powers = 2 ** ops.arange(31, dtype="int32")  # (31,)
    return ops.max(ops.where(powers <= n, powers, 1))


def right_padded_lengths(padding_mask):
    """(B,) lengths of the rows of `padding_mask` (B, P), once every row is
    known to be ones, then zeros."""
    mask = ops.cast(padding_mask, "bool")
    lengths = ops.sum(ops.cast(mask, "int32"), axis=1)  # (B,)
    positions = ops.arange(ops.shape(mask)[1])
    right_padded = ops.all(mask == (positions[None, :] < lengths[:, None]))
    return backend.ensure(
        lengths, right_padded,
        "`padding_mask` must be right-padded: ones, then zeros, in every row.")


def prompt_lengths(padding_mask, what="prompt"):
    """`right_padded_lengths`, once no row and not the batch is empty."""
    lengths = right_padded_lengths(padding_mask)
    lengths = backend.ensure(
        lengths, ops.size(lengths) > 0,
        f"The batch has no {what}s: give at least one.")
    return backend.ensure(
        lengths, ops.all(lengths > 0),
        f"A {what} is empty (its padding_mask is all 0). Every {what} needs "
        "at least one token.")


def fit_to(token_ids, length):
    """(B, P) right-padded ids cut or padded with 0 to (B, length)."""
    extra = ops.maximum(length - ops.shape(token_ids)[1], 0)
    return ops.pad(token_ids, [[0, 0], [0, extra]])[:, :length]


def causal_lm(token_ids, padding_mask, max_new_tokens, limit):
    """The decoding inputs of a causal LM.

    Args:
        token_ids: (B, P) right-padded prompts.
        padding_mask: (B, P), 1 on prompt tokens.
        max_new_tokens: new tokens per row at most; None for all the room
            the longest prompt leaves in `limit`.
        limit: the model's max_sequence_length.

    Returns:
        dict of `token_ids` (B, L), `prompt_mask` (B, L) bool, `row_end`
        (B,) = prompt length + max_new_tokens, and `prefill`: how many
        leading positions every row holds prompt tokens in (the largest
        power of two not above the shortest prompt, so that few values
        occur), run in one parallel pass.
    """
    lengths = prompt_lengths(padding_mask)
    longest = ops.max(lengths)
    room = limit - longest
    longest = backend.ensure(
        longest, room >= 1,
        f"The longest prompt fills the model's max_sequence_length {limit}: "
        "no room to generate. Shorten the prompt.")
    if max_new_tokens is None:
        max_new_tokens = room
    fits = ops.logical_and(max_new_tokens >= 1, max_new_tokens <= room)
    max_new_tokens = backend.ensure(
        max_new_tokens, fits,
        f"`max_new_tokens` does not fit: it must be between 1 and {limit} "
        "(the model's max_sequence_length) minus the longest prompt's length.",
        lambda: (f"The longest prompt has {static(longest)} tokens, so it must "
                 f"be between 1 and {static(room)}; got "
                 f"{static(max_new_tokens)}."))
    total = static(bucket(longest + max_new_tokens, limit))
    return {
        "token_ids": fit_to(ops.cast(token_ids, "int32"), total),
        "prompt_mask": ops.arange(total)[None, :] < lengths[:, None],
        "row_end": lengths + max_new_tokens,
        "prefill": static(largest_power_of_two(ops.min(lengths))),
    }


def seq2seq(source_ids, padding_mask, max_new_tokens, start_token_id,
                   limit, extra_tokens=50):
    """The decoding inputs of a sequence-to-sequence LM.

    Args:
        source_ids: (B, S) right-padded sources.
        padding_mask: (B, S).
        max_new_tokens: target tokens at most (start token not counted);
            None for the longest source + `extra_tokens`, within `limit`.
        start_token_id: the decoder's first token.
        limit: the model's max_sequence_length.

    Returns:
        dict of `source_ids`, `source_mask` (B, S') with S' the bucketed
        longest source, and the target's `token_ids` (B, L) (the start
        token, then zeros), `prompt_mask` (B, L) (the start token) and
        `row_end` (B,) = 1 + max_new_tokens.
    """
    lengths = prompt_lengths(padding_mask, "source")
    longest = backend.ensure(
        ops.max(lengths), ops.max(lengths) <= limit,
        f"A source is longer than the model's max_sequence_length {limit}. "
        "Shorten it.")
    width = static(bucket(longest, limit))
    room = limit - 1  # the start token takes one position
    if max_new_tokens is None:
        max_new_tokens = ops.minimum(longest + extra_tokens, room)
    max_new_tokens = backend.ensure(
        max_new_tokens,
        ops.logical_and(max_new_tokens >= 1, max_new_tokens <= room),
        f"`max_new_tokens` does not fit the model's max_sequence_length "
        f"{limit} (with the start token): it must be between 1 and {room}.")
    total = static(bucket(1 + max_new_tokens, limit))
    batch_size = ops.shape(lengths)[0]
    first = ops.arange(total)[None, :] == 0  # (1, L)
    return {
        "source_ids": fit_to(ops.cast(source_ids, "int32"), width),
        "source_mask": ops.arange(width)[None, :] < lengths[:, None],
        "token_ids": ops.where(first, start_token_id,
                               ops.zeros((batch_size, total), "int32")),
        "prompt_mask": ops.broadcast_to(first, (batch_size, total)),
        "row_end": ops.full((batch_size,), 1 + max_new_tokens, "int32"),
    }


def sampling_options(vocabulary_size, temperature=1.0, top_k=0, top_p=1.0,
                     seed=0, length_penalty=0.0):
    """The per-call tensors of decoding, checked: they may change between
    calls without a recompile.

    `top_k` 0 (or more than the vocabulary) keeps every token; `top_p` 1
    keeps all the probability mass.
    """
    temperature = ops.cast(temperature, "float32")
    top_k = ops.cast(top_k, "int32")
    top_p = ops.cast(top_p, "float32")
    length_penalty = ops.cast(length_penalty, "float32")
    temperature = backend.ensure(
        temperature, ops.isfinite(temperature) & (temperature > 0),
        "`temperature` must be finite and > 0. Use sampler='greedy' for the "
        "most likely token.", lambda: f"Got {static_float(temperature)}.")
    top_p = backend.ensure(top_p, (top_p > 0) & (top_p <= 1),
                           "`top_p` must be in (0, 1].",
                           lambda: f"Got {static_float(top_p)}.")
    top_k = backend.ensure(top_k, top_k >= 0,
                           "`top_k` must be >= 0 (0 keeps every token).",
                           lambda: f"Got {static(top_k)}.")
    length_penalty = backend.ensure(
        length_penalty, ops.isfinite(length_penalty),
        "`length_penalty` must be finite.",
        lambda: f"Got {static_float(length_penalty)}.")
    return {
        "temperature": temperature,
        "top_k": ops.where((top_k == 0) | (top_k > vocabulary_size),
                           vocabulary_size, top_k),
        "top_p": top_p,
        "seed": ops.cast(seed, "int32"),
        "length_penalty": length_penalty,
    }
