"""Greedy and sampled decoding over a fixed-size key/value cache.

A task supplies

    step(token_ids, cache, index) -> (logits, cache)

which runs one new token per row, `token_ids` (B,), at position `index`
against the cache and returns the logits (B, V) for position `index + 1`.
Each new token costs one position of compute, never a rerun of the prefix.
Prompts are right-padded into `token_ids` (B, L) with a `prompt_mask`; a
row whose prompt is still running keeps its own token, so prompts of
different lengths share one loop.

Sampling is stateless: the draw at position `index` depends only on the
seed and `index` (a `keras.random.SeedGenerator` whose state is set to
`(seed, index)` at each step), so a seed reproduces a generation on a
backend exactly.

Shapes: B batch, L total length (prompt + new tokens), V vocabulary.
"""

import keras
import numpy as np
from keras import ops


def is_stop(token_ids, stop_token_ids):
    """(...) bool: whether each id is one of `stop_token_ids` (n,)."""
    return ops.any(token_ids[..., None] == stop_token_ids, axis=-1)


def generated_mask(token_ids, prompt_mask, stop_token_ids, row_end):
    """Which positions of `token_ids` (B, L) hold the prompt or a new token
    up to and including the row's first stop token, below `row_end` (B,)."""
    positions = ops.arange(ops.shape(token_ids)[1])
    stops = is_stop(token_ids, stop_token_ids) & ~prompt_mask
    stops = ops.cast(stops, "int32")
    after_stop = (ops.cumsum(stops, axis=1) - stops) > 0
    return prompt_mask | (~after_stop & (positions[None, :] < row_end[:, None]))


def filter_logits(logits, top_k, top_p):
    """`logits` (B, V) with every token outside the `top_k` most likely and
    outside the smallest set whose probability reaches `top_p` (Holtzman et
    al. 2019) set to -inf. The most likely token is always kept; tokens tied
    with the last one kept are kept too. `top_k` and `top_p` are tensors, so
    that no shape depends on them.
    """
    ranked = ops.flip(ops.sort(logits, axis=-1), axis=-1)  # (B, V), descending
    probs = ops.softmax(ranked, axis=-1)
    mass_before = ops.cumsum(probs, axis=-1) - probs
    rank = ops.arange(ops.shape(logits)[-1])[None, :]  # (1, V)
    kept = (rank < top_k) & (mass_before < top_p)  # (B, V), in rank order
    threshold = ops.min(ops.where(kept, ranked, np.inf), axis=-1,
                        keepdims=True)  # (B, 1): the least likely kept
    return ops.where(logits >= threshold, logits, -np.inf)


def sample(logits, index, options, seed_generator):
    """A token per row (B,) drawn from softmax(logits / temperature),
    restricted by `top_k` and `top_p`; the draw depends on (seed, index)."""
    logits = ops.cast(logits, "float32") / options["temperature"]
    vocabulary_size = ops.shape(logits)[-1]
    narrowed = (options["top_k"] < vocabulary_size) | (options["top_p"] < 1)
    logits = ops.cond(
        narrowed,
        lambda: filter_logits(logits, options["top_k"], options["top_p"]),
        lambda: logits,
    )
    state = ops.stack([options["seed"], ops.cast(index, "int32")])
    with keras.StatelessScope(state_mapping=[(seed_generator.state, state)]):
        choice = keras.random.categorical(logits, 1, seed=seed_generator)
    return ops.cast(choice[:, 0], "int32")


def greedy(logits):
    """The most likely token of every row (B,)."""
    return ops.cast(ops.argmax(logits, axis=-1), "int32")


def sample_loop(step, logits, cache, token_ids, prompt_mask, row_end, start,
                stop_token_ids, choose):
    """Greedy or sampled decoding from position `start` to the end of L.

    Args:
        step: the task's one-token step (see the module docstring).
        logits: (B, V) predictions for position `start`.
        cache: the task's cache after running positions `0..start-1`.
        token_ids: (B, L) int32, prompts right-padded with 0.
        prompt_mask: (B, L) bool, True on prompt tokens.
        row_end: (B,) int32, each row's prompt length + max new tokens.
        start: int scalar, the first position that may be generated.
        stop_token_ids: (n,) int32; a row ends after emitting one of them.
        choose: `(logits, index) -> (B,)` token chooser.

    Returns:
        `(token_ids, padding_mask)`, both (B, L): after a row's stop token
        or its `row_end` the ids are 0 and the mask is False.
    """
    length = ops.shape(token_ids)[1]
    done = ops.zeros((ops.shape(token_ids)[0],), dtype="bool")

    def cond(index, token_ids, logits, cache, done):
        return (index < length) & ~ops.all(done)

    def body(index, token_ids, logits, cache, done):
        in_prompt = prompt_mask[:, index]  # (B,)
        token = choose(logits, index)  # (B,)
        token = ops.where(in_prompt, token_ids[:, index], token)
        token = ops.where(done, 0, token)
        token_ids = ops.slice_update(token_ids, [0, index], token[:, None])
        done = done | (~in_prompt & is_stop(token, stop_token_ids))
        done = done | (index + 1 >= row_end)
        logits, cache = step(token, cache, index)
        return index + 1, token_ids, logits, cache, done

    _, token_ids, _, _, _ = ops.while_loop(
        cond, body, (start, token_ids, logits, cache, done),
        maximum_iterations=length - start,
    )
    mask = generated_mask(token_ids, prompt_mask, stop_token_ids, row_end)
    return ops.where(mask, token_ids, 0), mask
