"""Autoregressive decoding over the blocks' fixed-size key/value cache.

Both language-model tasks decode through the loops here. A task supplies

    step(token_ids, cache, index) -> (logits, cache)

which runs one new token per row, `token_ids` (B,), at position `index`
against the cache and returns the logits (B, V) for position `index + 1`.
Each new token costs one position of compute, never a rerun of the prefix.
Prompts are right-padded into `token_ids` (B, L) with a `prompt_mask`; a
row whose prompt is still running keeps its own token, so prompts of
different lengths share one loop.

Shapes: B batch, K beams, L total length (prompt + new tokens), V vocab.
"""

import numpy as np
import tensorflow as tf
from keras import ops

SAMPLERS = ("greedy", "random", "top_k", "top_p", "beam")


def pack_prompts(prompts, name="prompts"):
    """Right-pad a batch of token-id prompts.

    Args:
        prompts: a list of lists of ids (lengths may differ), a 2-D array,
            or a dict with `token_ids` and `padding_mask` (right-padded).

    Returns:
        `(token_ids, lengths)`: int32 arrays (B, P) and (B,), where P is the
        longest prompt.
    """
    if isinstance(prompts, dict):
        token_ids = np.asarray(prompts["token_ids"])
        mask = prompts.get("padding_mask")
        mask = np.ones_like(token_ids) if mask is None else np.asarray(mask)
        if token_ids.ndim != 2 or mask.shape != token_ids.shape:
            raise ValueError(
                f"`{name}['token_ids']` and `['padding_mask']` must both be "
                f"(batch, length); got {token_ids.shape} and {mask.shape}."
            )
        lengths = mask.astype(bool).sum(axis=1)
        positions = np.arange(token_ids.shape[1])
        if np.any(mask.astype(bool) != (positions < lengths[:, None])):
            raise ValueError(
                f"`{name}['padding_mask']` must be right-padded: ones, then "
                "zeros, in every row."
            )
        rows = [row[:n] for row, n in zip(token_ids, lengths)]
    elif isinstance(prompts, (list, tuple)):
        rows = [np.asarray(row) for row in prompts]
    else:
        array = np.asarray(prompts)
        if array.ndim != 2:
            raise ValueError(
                f"`{name}` must be a batch of prompts (batch, length) or a list "
                f"of lists of ids; got an array of shape {array.shape}. Wrap a "
                "single prompt in a list."
            )
        rows = list(array)
    if not rows:
        raise ValueError(f"`{name}` is empty: give at least one prompt.")
    for i, row in enumerate(rows):
        if row.size == 0:
            raise ValueError(
                f"`{name}[{i}]` is empty. Every prompt needs at least one "
                "token; start it with a start-of-text token if it has none."
            )
        if row.ndim != 1 or row.dtype.kind not in "iu":
            raise ValueError(
                f"`{name}[{i}]` must be a flat sequence of integer token ids; "
                f"got shape {row.shape} of {row.dtype}."
            )
    lengths = np.array([row.size for row in rows], dtype="int32")
    token_ids = np.zeros((len(rows), lengths.max()), dtype="int32")
    for i, row in enumerate(rows):
        token_ids[i, : row.size] = row
    return token_ids, lengths


def bucket(length, limit, multiple=32):
    """`length` rounded up to a multiple of `multiple`, at most `limit`.

    Generation compiles one graph per shape; rounding the lengths it sees
    lets calls with similar prompts reuse one graph instead of recompiling.
    """
    return min(-(-length // multiple) * multiple, max(limit, length))


def prefill_length(shortest_prompt):
    """How many prompt positions run in the first, parallel pass: the
    largest power of two not above the shortest prompt (also bucketed)."""
    return 1 << (int(shortest_prompt).bit_length() - 1)


def check_sampler(sampler, top_k, top_p, temperature, num_beams):
    if sampler not in SAMPLERS:
        raise ValueError(
            f"Unknown sampler {sampler!r}; expected one of {SAMPLERS}."
        )
    if sampler == "top_k" and (top_k is None or top_k < 1):
        raise ValueError(f"`top_k` must be a positive int; got {top_k}.")
    if sampler == "top_p" and not (top_p is not None and 0 < top_p <= 1):
        raise ValueError(f"`top_p` must be in (0, 1]; got {top_p}.")
    if temperature <= 0:
        raise ValueError(
            f"`temperature` must be > 0; got {temperature}. Use "
            "sampler='greedy' for the most likely token."
        )
    if sampler == "beam" and num_beams < 1:
        raise ValueError(f"`num_beams` must be >= 1; got {num_beams}.")


def check_beams(num_beams, stop_token_ids, vocabulary_size):
    """Beam search keeps 2K candidates a step, so that K stay alive even if
    up to K of them stop."""
    if len(stop_token_ids) > num_beams:
        raise ValueError(
            f"Beam search with {num_beams} beams takes at most {num_beams} "
            f"stop tokens; got {len(stop_token_ids)}."
        )
    if 2 * num_beams > vocabulary_size:
        raise ValueError(
            f"`num_beams`={num_beams} needs a vocabulary of at least "
            f"{2 * num_beams} tokens; the model has {vocabulary_size}."
        )


def next_token(logits, sampler, index, seed, temperature, top_k, top_p):
    """Choose the next token of every row from `logits` (B, V) -> (B,).

    Sampling is stateless: the draw at position `index` depends only on
    `seed` and `index`, so a seed reproduces a generation exactly.
    """
    logits = ops.cast(logits, "float32")
    if sampler == "greedy":
        return ops.cast(ops.argmax(logits, axis=-1), "int32")
    logits = logits / temperature
    candidates = None  # token id of each column of `logits`
    if sampler == "top_k":
        logits, candidates = tf.math.top_k(logits, k=top_k)  # (B, k)
    elif sampler == "top_p":
        # Keep the most likely tokens until their mass reaches p (Holtzman
        # et al. 2019); the first token is always kept.
        logits, candidates = tf.math.top_k(logits, k=top_k)
        probs = ops.softmax(logits, axis=-1)
        mass_before = ops.cumsum(probs, axis=-1) - probs
        logits = ops.where(mass_before < top_p, logits, -np.inf)
    pair = tf.stack([tf.cast(seed, "int32"), tf.cast(index, "int32")])
    choice = tf.random.stateless_categorical(
        logits, 1, seed=pair, dtype="int32"
    )  # (B, 1)
    if candidates is not None:
        choice = ops.take_along_axis(candidates, choice, axis=-1)
    return ops.cast(choice[:, 0], "int32")


def is_stop(token_ids, stop_token_ids):
    """(…) bool: whether each id is one of `stop_token_ids` (n,)."""
    return ops.any(token_ids[..., None] == stop_token_ids, axis=-1)


def generated_mask(token_ids, prompt_mask, stop_token_ids, row_end):
    """Which positions of `token_ids` (B, L) hold the prompt or a new token
    up to and including the row's first stop token, below `row_end` (B,)."""
    positions = ops.arange(ops.shape(token_ids)[1])
    stops = is_stop(token_ids, stop_token_ids) & ~prompt_mask
    after_stop = (ops.cumsum(ops.cast(stops, "int32"), axis=1)
                  - ops.cast(stops, "int32")) > 0
    return prompt_mask | (~after_stop & (positions[None, :] < row_end[:, None]))


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
    length = ops.shape(token_ids)[1]  # a tensor when shapes are dynamic
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

    _, token_ids, _, _, _ = tf.while_loop(
        cond, body, (start, token_ids, logits, cache, done),
        maximum_iterations=length - start,
    )
    mask = generated_mask(token_ids, prompt_mask, stop_token_ids, row_end)
    return ops.where(mask, token_ids, 0), mask


def decode(step, logits, cache, token_ids, prompt_mask, row_end, start,
           stop_token_ids, options, sampler, num_beams):
    """Run `sampler` from `start`; returns `(token_ids, padding_mask)`.

    `options` holds the tensors that may change between calls without a
    retrace: `seed`, `temperature`, `top_k`, `top_p`, `length_penalty`.
    XLA compiles once per value of `top_k` (a shape inside the graph).
    """
    if sampler == "beam":
        from zoo.tasks.beam_search import beam_search

        ids, mask, _ = beam_search(
            step, logits, cache, token_ids, prompt_mask, row_end, start,
            stop_token_ids, num_beams, options["length_penalty"],
        )
        return ids, mask

    def choose(logits, index):
        return next_token(logits, sampler, index, options["seed"],
                          options["temperature"], options["top_k"],
                          options["top_p"])

    return sample_loop(step, logits, cache, token_ids, prompt_mask, row_end,
                       start, stop_token_ids, choose)


def options(seed, temperature, top_k, top_p, length_penalty,
            vocabulary_size):
    """The per-call tensors of `decode`; `top_k` None is the vocabulary."""
    if seed is None:
        seed = np.random.randint(2**31 - 1)
    return {
        "seed": tf.constant(seed, "int32"),
        "temperature": tf.constant(temperature, "float32"),
        "top_k": tf.constant(vocabulary_size if top_k is None else top_k,
                             "int32"),
        "top_p": tf.constant(1.0 if top_p is None else top_p, "float32"),
        "length_penalty": tf.constant(length_penalty, "float32"),
    }


def stop_ids(value, tokenizer, vocabulary_size):
    """`stop_token_ids` as an int32 array; "auto" is the tokenizer's end."""
    if isinstance(value, str) and value == "auto":
        end = getattr(tokenizer, "end_token_id", None)
        value = [] if end is None else [end]
    stops = np.asarray([] if value is None else value, "int32").reshape(-1)
    if np.any((stops < 0) | (stops >= vocabulary_size)):
        raise ValueError(
            f"`stop_token_ids` must lie in [0, {vocabulary_size}); got "
            f"{stops.tolist()}."
        )
    return stops


def is_text(inputs):
    return isinstance(inputs, str) or (
        isinstance(inputs, (list, tuple)) and len(inputs) > 0
        and isinstance(inputs[0], str)
    )


def tokenize(tokenizer, texts, task):
    """A string or list of strings -> lists of ids, with the tokenizer."""
    texts = [texts] if isinstance(texts, str) else list(texts)
    if tokenizer is None:
        raise ValueError(
            f"`generate` got strings but the {task} has no tokenizer. Pass "
            f"token ids, or build it with `{task}(backbone, tokenizer=...)`."
        )
    # The same path as the training data and the SavedModel (keras-hub's
    # eager Python path splits runs of spaces differently from its graph).
    from zoo.data.tokenizers import tokenize_lines

    return [row.tolist() for row in tokenize_lines(tokenizer, texts)]


def detokenize(tokenizer, rows, drop=()):
    """Lists of ids -> strings, leaving out the ids in `drop`."""
    texts = []
    for row in rows:
        text = tokenizer.detokenize([[i for i in row if i not in drop]])
        text = np.asarray(text).reshape(-1)[0]
        texts.append(text.decode("utf-8", errors="replace")
                     if isinstance(text, bytes) else str(text))
    return texts


OPTIONS_SIGNATURE = {
    "seed": tf.TensorSpec([], "int32"),
    "temperature": tf.TensorSpec([], "float32"),
    "top_k": tf.TensorSpec([], "int32"),
    "top_p": tf.TensorSpec([], "float32"),
    "length_penalty": tf.TensorSpec([], "float32"),
}


class CompiledGenerate:
    """Mixin: one `tf.function` per static generation configuration.

    Each function is traced once, with the batch and length dimensions left
    open (`generate_signature()`); XLA then compiles it once per concrete
    shape, and the per-call tensors (`options`) never cause a recompile.
    The SavedModel export calls these same functions, so exported and
    in-process generation run the same graph.
    """

    jit_compile_generate = True

    def generate_signature(self):
        """The `tf.TensorSpec`s of `_generate_graph`'s tensor arguments."""
        raise NotImplementedError

    def compiled_generate(self, graph, **static):
        if not hasattr(self, "_generate_functions"):
            self._generate_functions = {}
        key = tuple(sorted(static.items()))
        if key not in self._generate_functions:
            def function(*tensors):
                return graph(*tensors, **static)

            self._generate_functions[key] = tf.function(
                function, jit_compile=self.jit_compile_generate,
                input_signature=self.generate_signature(),
            )
        return self._generate_functions[key]
