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
    batch_size, length = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
    beams = num_beams
    prompt_lengths = ops.sum(ops.cast(prompt_mask, "int32"), axis=1)  # (B,)
    ids = ops.repeat(token_ids[:, None, :], beams, axis=1)  # (B, K, L)
    # Every beam starts as the same hypothesis: let only the first expand.
    alive = ops.where(ops.arange(beams) == 0, 0.0, -np.inf)
    alive = ops.broadcast_to(alive[None, :], (batch_size, beams))  # (B, K)
    finished = ops.full((batch_size, beams), -np.inf)  # (B, K) scores

    def cond(index, ids, alive, finished_ids, finished, logits, cache):
        complete = ops.all(ops.isfinite(finished), axis=1)  # (B,)
        return (index < length) & ~ops.all(complete)

    def body(index, ids, alive, finished_ids, finished, logits, cache):
        in_prompt = prompt_mask[:, index]  # (B,)
        scores, origin, tokens = _expand(logits, alive, token_ids[:, index],
                                         in_prompt, beams)  # (B, 2K) each
        stops = is_stop(tokens, stop_token_ids) & ~in_prompt[:, None]
        candidate_ids = _write(_gather_beams(ids, origin), index, tokens)

        # Finished: stop tokens ranked among the K best, length-normalized;
        # at a row's last position, all of its K best.
        last = (index + 1 >= row_end)[:, None]  # (B, 1)
        ends = (stops | last) & ~in_prompt[:, None]  # (B, 2K)
        penalty = length_penalty(index + 1 - prompt_lengths, alpha)  # (B,)
        finished, finished_ids = _finish(
            finished, finished_ids, scores / penalty[:, None], candidate_ids,
            ends, beams)

        # Alive: the K best candidates that did not stop.
        alive, best = ops.top_k(ops.where(stops, -np.inf, scores), k=beams)
        ids = _gather_beams(candidate_ids, best)  # (B, K, L)
        origin = ops.take_along_axis(origin, best, axis=1)  # (B, K)
        rows = ops.arange(batch_size)[:, None] * beams + origin  # (B, K)
        cache = [ops.take(c, ops.reshape(rows, (-1,)), axis=0) for c in cache]
        token = ops.reshape(ids[:, :, index], (-1,))  # (B * K,)
        logits, cache = step(token, cache, index)
        return index + 1, ids, alive, finished_ids, finished, logits, cache

    loop_vars = (start, ids, alive, ops.zeros_like(ids), finished,
                 repeat_for_beams(logits, beams),  # (B * K, V)
                 [repeat_for_beams(c, beams) for c in cache])
    _, _, _, finished_ids, finished, _, _ = ops.while_loop(
        cond, body, loop_vars, maximum_iterations=length - start)
    best = ops.argmax(finished, axis=1)[:, None]  # (B, 1)
    best_ids = _gather_beams(finished_ids, best)[:, 0]  # (B, L)
    scores = ops.take_along_axis(finished, best, axis=1)[:, 0]
    mask = generated_mask(best_ids, prompt_mask, stop_token_ids, row_end)
    return ops.where(mask, best_ids, 0), mask, scores


def _expand(logits, alive, prompt_tokens, in_prompt, beams):
    """The 2K best one-token extensions of the K beams of every row.

    Args:
        logits: (B * K, V) of the next position.
        alive: (B, K) log probabilities of the beams so far.
        prompt_tokens: (B,) the prompt's token at this position, which rows
            still inside their prompt (`in_prompt`, (B,)) must take.

    Returns:
        `(scores, origin, tokens)`, each (B, 2K): the extensions' log
        probabilities, the beam each extends, and its new token.
    """
    vocabulary_size = logits.shape[-1]
    batch_size = ops.shape(alive)[0]
    log_probs = ops.log_softmax(ops.cast(logits, "float32"), axis=-1)
    log_probs = ops.reshape(log_probs, (batch_size, beams, vocabulary_size))
    forced = ops.one_hot(prompt_tokens, vocabulary_size) > 0
    forced = ops.where(forced, 0.0, -np.inf)[:, None, :]  # (B, 1, V)
    log_probs = ops.where(in_prompt[:, None, None], forced, log_probs)
    candidates = alive[:, :, None] + log_probs  # (B, K, V)
    candidates = ops.reshape(candidates, (batch_size, beams * vocabulary_size))
    scores, flat = ops.top_k(candidates, k=2 * beams)  # (B, 2K)
    return scores, flat // vocabulary_size, flat % vocabulary_size


def _finish(finished, finished_ids, normalized, candidate_ids, ends, beams):
    """The K best finished hypotheses of every row, old and new.

    Args:
        finished: (B, K) scores of the hypotheses finished so far (-inf
            for none), and their ids `finished_ids` (B, K, L).
        normalized: (B, 2K) length-normalized scores of this step's
            candidates, `candidate_ids` (B, 2K, L).
        ends: (B, 2K), the candidates that end here; only the K best of a
            row may, and none once a row has K finished hypotheses.
    """
    top_k = ops.arange(2 * beams) < beams
    complete = ops.all(ops.isfinite(finished), axis=1)  # (B,) rows done
    ends = top_k & ends & ~complete[:, None]
    ended = ops.where(ends, normalized, -np.inf)  # (B, 2K)
    pool = ops.concatenate([finished, ended], axis=1)  # (B, 3K)
    pool_ids = ops.concatenate([finished_ids, candidate_ids], axis=1)
    finished, best = ops.top_k(pool, k=beams)  # (B, K)
    return finished, _gather_beams(pool_ids, best)


def _gather_beams(x, origin):
    """x (B, K, ...) picked by `origin` (B, C) beam indices -> (B, C, ...)."""
    return ops.take_along_axis(
        x, ops.reshape(origin, ops.shape(origin) + (1,) * (len(x.shape) - 2)),
        axis=1,
    )


def _write(ids, index, tokens):
    """Set position `index` of ids (B, C, L) to tokens (B, C)."""
    column = ops.arange(ops.shape(ids)[2]) == index  # (L,)
    return ops.where(column, tokens[:, :, None], ids)
