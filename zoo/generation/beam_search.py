"""Beam search with a length penalty (Wu et al. 2016, section 7).

Hypotheses are ranked at the end by

    score(Y) = log P(Y) / lp(Y),    lp(Y) = ((5 + |Y|) / 6) ** alpha

with |Y| the number of generated tokens (stop token included); Vaswani et
al. 2017 (section 6.1) use 4 beams and alpha = 0.6. As in fairseq, a
hypothesis finishes when a stop token ranks among the K best candidates of
a step, and a row ends when it has K finished hypotheses, so that one beam
(K = 1) is exactly greedy decoding.

Shapes: B batch, K beams, L total length, V vocabulary.
"""

import numpy as np
from keras import ops

from zoo.generation.sampling import generated_mask
from zoo.generation.sampling import is_stop


def repeat_for_beams(x, num_beams):
    """(B, ...) -> (B * K, ...), each row repeated K times: beam k of batch
    row b is row b * K + k."""
    return ops.repeat(x, num_beams, axis=0)


def length_penalty(num_tokens, alpha):
    return ops.power((5.0 + ops.cast(num_tokens, "float32")) / 6.0, alpha)


def beam_search(step, logits, cache, token_ids, prompt_mask, row_end, start,
                stop_token_ids, num_beams, alpha):
    """Decode the best of `num_beams` hypotheses per row.

    Args:
        step: the task's one-token step, for B * K rows (row b * K + k is
            beam k of batch row b).
        logits: (B, V) predictions for position `start`.
        cache: list of (B, ...) caches after positions `0..start-1`; tiled
            to B * K rows here.
        token_ids: (B, L) int32, prompts right-padded with 0.
        prompt_mask: (B, L) bool.
        row_end: (B,) int32, each row's prompt length + max new tokens; the
            K best candidates of a row's last step all finish.
        start: int, the first position that may be generated.
        stop_token_ids: (n,) int32, at most K ids.
        num_beams: int K.
        alpha: float scalar, the length penalty exponent.

    Returns:
        `(token_ids, padding_mask, scores)`: the best hypothesis (B, L), its
        mask and its length-normalized log probability (B,).
    """
    batch_size = ops.shape(token_ids)[0]
    length = ops.shape(token_ids)[1]
    beams = num_beams
    vocabulary_size = logits.shape[-1]
    prompt_lengths = ops.sum(ops.cast(prompt_mask, "int32"), axis=1)  # (B,)

    ids = ops.repeat(token_ids[:, None, :], beams, axis=1)  # (B, K, L)
    # Every beam starts as the same hypothesis: let only the first expand.
    alive = ops.where(ops.arange(beams) == 0, 0.0, -np.inf)
    alive = ops.broadcast_to(alive[None, :], (batch_size, beams))  # (B, K)
    finished_ids = ops.zeros_like(ids)  # (B, K, L)
    finished = ops.full((batch_size, beams), -np.inf)  # (B, K) scores
    logits = repeat_for_beams(logits, beams)  # (B * K, V)
    cache = [repeat_for_beams(c, beams) for c in cache]

    def gather_beams(x, origin):
        """x (B, K, ...) picked by `origin` (B, C) beam indices -> (B, C, ...)."""
        return ops.take_along_axis(
            x, ops.reshape(origin, ops.shape(origin) + (1,) * (len(x.shape) - 2)),
            axis=1,
        )

    def write(ids, index, tokens):
        """Set position `index` of ids (B, C, L) to tokens (B, C)."""
        column = ops.arange(length) == index  # (L,)
        return ops.where(column, tokens[:, :, None], ids)

    def cond(index, ids, alive, finished_ids, finished, logits, cache):
        complete = ops.all(ops.isfinite(finished), axis=1)  # (B,)
        return (index < length) & ~ops.all(complete)

    def body(index, ids, alive, finished_ids, finished, logits, cache):
        log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
        log_probs = ops.reshape(log_probs, (batch_size, beams, vocabulary_size))
        # Rows still inside their prompt must take the prompt's token.
        in_prompt = prompt_mask[:, index]  # (B,)
        forced = ops.one_hot(token_ids[:, index], vocabulary_size) > 0
        forced = ops.where(forced, 0.0, -np.inf)[:, None, :]  # (B, 1, V)
        log_probs = ops.where(in_prompt[:, None, None], forced, log_probs)

        candidates = alive[:, :, None] + log_probs  # (B, K, V)
        candidates = ops.reshape(candidates, (batch_size, beams * vocabulary_size))
        scores, flat = ops.top_k(candidates, k=2 * beams)  # (B, 2K)
        origin = flat // vocabulary_size  # (B, 2K) beam each came from
        tokens = flat % vocabulary_size  # (B, 2K)
        stops = is_stop(tokens, stop_token_ids) & ~in_prompt[:, None]
        candidate_ids = write(gather_beams(ids, origin), index, tokens)

        # Finished: stop tokens ranked among the K best, length-normalized;
        # at a row's last position, all of its K best.
        top_k = ops.arange(2 * beams) < beams
        last = (index + 1 >= row_end)[:, None]  # (B, 1)
        new_length = index + 1 - prompt_lengths  # (B,)
        normalized = scores / length_penalty(new_length, alpha)[:, None]
        ends = top_k & (stops | last) & ~in_prompt[:, None]
        ended = ops.where(ends, normalized, -np.inf)  # (B, 2K)
        complete = ops.all(ops.isfinite(finished), axis=1)  # rows already done
        ended = ops.where(complete[:, None], -np.inf, ended)
        pool = ops.concatenate([finished, ended], axis=1)  # (B, 3K)
        pool_ids = ops.concatenate([finished_ids, candidate_ids], axis=1)
        finished, best = ops.top_k(pool, k=beams)  # (B, K)
        finished_ids = gather_beams(pool_ids, best)

        # Alive: the K best candidates that did not stop.
        alive, best = ops.top_k(ops.where(stops, -np.inf, scores), k=beams)
        ids = gather_beams(candidate_ids, best)  # (B, K, L)
        origin = ops.take_along_axis(origin, best, axis=1)  # (B, K)
        rows = ops.arange(batch_size)[:, None] * beams + origin  # (B, K)
        cache = [ops.take(c, ops.reshape(rows, (-1,)), axis=0) for c in cache]
        token = ops.reshape(ids[:, :, index], (-1,))  # (B * K,)
        logits, cache = step(token, cache, index)
        return index + 1, ids, alive, finished_ids, finished, logits, cache

    _, _, _, finished_ids, finished, _, _ = ops.while_loop(
        cond, body,
        (start, ids, alive, finished_ids, finished, logits, cache),
        maximum_iterations=length - start,
    )
    best = ops.argmax(finished, axis=1)[:, None]  # (B, 1)
    best_ids = gather_beams(finished_ids, best)[:, 0]  # (B, L)
    scores = ops.take_along_axis(finished, best, axis=1)[:, 0]
    mask = generated_mask(best_ids, prompt_mask, stop_token_ids, row_end)
    return ops.where(mask, best_ids, 0), mask, scores
