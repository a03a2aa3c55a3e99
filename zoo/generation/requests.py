"""What a Python caller of `generate` passes, checked and packed.

Prompts come as strings (with a tokenizer), lists of token ids of any
lengths, a (B, P) array, or a dict with `token_ids` and a right-padded
`padding_mask`; they become one right-padded (B, P) batch, which
`zoo.generation.prepare` takes from there (as the SavedModel signatures
do from their in-graph tokenizer). Samplers and stop tokens are Python
choices, checked here.
"""

import numpy as np

from zoo.data.tokenizers import tokenize_lines
from zoo.generation.generator import decoding_kind


def pack_prompts(prompts, name="prompts"):
    """Right-pad a batch of token-id prompts.

    Args:
        prompts: a list of lists of ids (lengths may differ), a 2-D array,
            or a dict with `token_ids` and `padding_mask` (right-padded).

    Returns:
        `(token_ids, padding_mask)`: arrays (B, P), P the longest prompt
        (or the dict's width); int32, or a dict's own, which the backbone's
        `check_inputs` checks.
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
        return token_ids, mask  # dtypes and values: the backbone checks
    if isinstance(prompts, (list, tuple)):
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
    lengths = np.array([row.size for row in rows])
    token_ids = np.zeros((len(rows), lengths.max()), dtype="int32")
    for i, row in enumerate(rows):
        token_ids[i, : row.size] = row
    mask = np.arange(lengths.max())[None, :] < lengths[:, None]
    return token_ids, mask.astype("int32")


def is_int(value):
    """Whether `value` is a Python or NumPy integer (a bool is not)."""
    return (isinstance(value, (int, np.integer))
            and not isinstance(value, (bool, np.bool_)))


def is_number(value):
    """Whether `value` is a Python or NumPy real number (a bool is not)."""
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, (bool, np.bool_)))


def check_request(sampler, max_new_tokens, top_k, top_p, num_beams):
    """The Python-side checks of `generate`'s sampler and its options: the
    types here, the values as tensors in `zoo.generation.prepare` (which
    the SavedModel's signatures run too)."""
    decoding_kind(sampler)  # a known sampler
    for name, value in (("max_new_tokens", max_new_tokens), ("top_k", top_k),
                        ("num_beams", num_beams)):
        if value is not None and not is_int(value):
            raise ValueError(f"`{name}` must be an int; got {value!r}.")
    if top_p is not None and not is_number(top_p):
        raise ValueError(f"`top_p` must be a number; got {top_p!r}.")
    if sampler == "top_k" and (top_k is None or top_k < 1):
        raise ValueError(f"`top_k` must be a positive int; got {top_k}.")
    if sampler == "top_p" and top_p is None:
        raise ValueError(f"`top_p` must be in (0, 1]; got {top_p}.")
    if sampler == "beam" and num_beams < 1:
        raise ValueError(f"`num_beams` must be >= 1; got {num_beams}.")


def parse(prompts, tokenizer, vocabulary_size, task, sampler="greedy",
          max_new_tokens=None, top_k=None, top_p=None, num_beams=4,
          stop_token_ids="auto", name="prompts"):
    """The checks and packing every `generate` starts with.

    Returns:
        `(token_ids, padding_mask, stops)`: the right-padded (B, P) batch
        and the stop ids as an int32 array.
    """
    check_request(sampler, max_new_tokens, top_k, top_p, num_beams)
    if is_text(prompts):
        prompts = tokenize(tokenizer, prompts, task)
    token_ids, padding_mask = pack_prompts(prompts, name)
    stops = stop_ids(stop_token_ids, tokenizer, vocabulary_size)
    if sampler == "beam":
        check_beams(num_beams, stops, vocabulary_size)
    return token_ids, padding_mask, stops


def options(sampler, temperature, top_k, top_p, seed, length_penalty):
    """The keyword arguments of `zoo.generation.prepare.sampling_options`:
    "random" keeps every token, "top_k" its k, "top_p" its p (after an
    optional top-k); a seed is drawn if none is given."""
    for name, value in (("temperature", temperature),
                        ("length_penalty", length_penalty)):
        if not is_number(value):
            raise ValueError(f"`{name}` must be a number; got {value!r}.")
    if seed is not None and not (is_int(seed) and -2**31 <= seed < 2**31):
        raise ValueError(f"`seed` must be an int that fits in int32; got "
                         f"{seed!r}.")
    if sampler == "random":
        top_k, top_p = 0, 1.0
    elif sampler == "top_k":
        top_p = 1.0
    if seed is None:
        seed = np.random.randint(2**31 - 1)
    return {"temperature": temperature, "top_k": top_k or 0,
            "top_p": 1.0 if top_p is None else top_p, "seed": seed,
            "length_penalty": length_penalty}


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


def stop_ids(value, tokenizer, vocabulary_size):
    """`stop_token_ids` as an int32 array; "auto" is the tokenizer's end."""
    if isinstance(value, str) and value == "auto":
        end = getattr(tokenizer, "end_token_id", None)
        value = [] if end is None else [end]
    stops = np.asarray([] if value is None else value).reshape(-1)
    if stops.size and stops.dtype.kind not in "iu":
        raise ValueError(f"`stop_token_ids` must be integer token ids; got "
                         f"{stops.tolist()}.")
    stops = stops.astype("int64")
    if np.any((stops < 0) | (stops >= vocabulary_size)):
        raise ValueError(
            f"`stop_token_ids` must lie in [0, {vocabulary_size}); got "
            f"{stops.tolist()}."
        )
    return stops.astype("int32")


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


def unpack(token_ids, padding_mask, prompts, tokenizer, stops, skip=0):
    """`generate`'s output in the form of its `prompts`: a dict of arrays
    for an array or dict, lists of ids for lists, strings for strings
    (`skip` leading ids of each row left out of lists and strings)."""
    token_ids = np.asarray(token_ids)
    mask = np.asarray(padding_mask).astype(bool)
    text = is_text(prompts)
    if not (text or isinstance(prompts, (list, tuple))):
        return {"token_ids": token_ids, "padding_mask": mask}
    rows = [row[m][skip:].tolist() for row, m in zip(token_ids, mask)]
    if not text:
        return rows
    texts = detokenize(tokenizer, rows, drop=set(stops.tolist()))
    return texts[0] if isinstance(prompts, str) else texts
