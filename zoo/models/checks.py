"""Input checks that turn silent wrong answers into clear errors.

Keras' embedding lookup wraps negative ids (like NumPy indexing) and XLA
clamps ids past the end of the table; both return a plausible-looking wrong
answer. These checks raise instead, through `zoo.backend.ensure`:

- on values (eager, any backend), a `ValueError` naming the bad values;
- in a TensorFlow graph, an assertion with the same message
  (`tf.errors.InvalidArgumentError`);
- XLA drops assertions and `jax.jit` cannot make them, so the zoo's models
  also check their data before `fit`, `evaluate` and `predict` compile a
  step (`zoo.models.data_checks`).
"""

import keras
from keras import ops

from zoo import backend

NARROW_INTEGERS = ("int8", "int16", "uint8", "uint16")


def check_keys(inputs, names, owner):
    """Raise unless `inputs` is a dict that holds every one of `names`."""
    if not isinstance(inputs, dict):
        raise ValueError(
            f"{owner} takes a dict of tensors with {list(names)}; got "
            f"{type(inputs).__name__}."
        )
    missing = [name for name in names if inputs.get(name) is None]
    if missing:
        raise ValueError(
            f"{owner}'s inputs lack {missing}; they hold {sorted(inputs)}."
        )


def check_integers(values, name, what):
    """`values`, once their dtype is known to be an integer one (a float id
    would be truncated silently). A dtype check: no cost per value."""
    dtype = keras.backend.standardize_dtype(values.dtype)
    if "int" not in dtype:
        raise ValueError(
            f"`{name}` must be integers ({what}); got {dtype}. Cast whole "
            "numbers with `.astype('int32')`; the model would truncate a "
            "fraction silently."
        )
    return values


def check_padding_mask(mask, name):
    """`mask`, once it is known to hold only 0 and 1 (or bool): any other
    value, NaN among them, would count as 1."""
    dtype = keras.backend.standardize_dtype(mask.dtype)
    if dtype == "bool":
        return mask
    if "int" not in dtype and "float" not in dtype:
        raise ValueError(f"`{name}` must be bool or integers 0 and 1; got "
                         f"{dtype}.")
    message = (f"`{name}` must be 0 or 1 (1 on tokens, 0 on padding); "
               "other values would count as 1 silently.")

    def found():
        values = ops.convert_to_numpy(mask).ravel()
        bad = values[(values != 0) & (values != 1)]
        return f"Found: {sorted(set(bad.tolist()), key=str)[:8]}"

    zero_or_one = ops.all(ops.logical_or(mask == 0, mask == 1))
    return backend.ensure(mask, zero_or_one, message, found)


def check_rank(tensor, rank, name):
    if len(tensor.shape) != rank:
        raise ValueError(
            f"`{name}` must have rank {rank} (batch, length); got shape "
            f"{tuple(tensor.shape)}. Add a batch dimension for a single "
            "sequence."
        )


def check_range(ids, size, name, what):
    """`ids`, once every value is known to lie in [0, size)."""
    if keras.backend.standardize_dtype(ids.dtype) in NARROW_INTEGERS:
        ids = ops.cast(ids, "int32")  # `size` may not fit a narrow dtype
    message = (
        f"`{name}` must lie in [0, {size}), the {what}. Ids outside it would "
        "be wrapped (negative) or clamped (too large) silently."
    )

    def found():
        values = ops.convert_to_numpy(ids)
        bad = values[(values < 0) | (values >= size)]
        return f"Found: {sorted(set(bad.tolist()))[:8]}"

    inside = ops.all((ids >= 0) & (ids < size))
    return backend.ensure(ids, inside, message, found)


def check_max_length(ids, max_length, name):
    """`ids` (B, T), once T <= max_length is known."""
    message = (
        f"`{name}` is longer than the model's max_sequence_length "
        f"{max_length}. Truncate it, or build the model with a larger "
        "`max_sequence_length`."
    )
    length = ids.shape[1]
    if isinstance(length, int):
        if length > max_length:
            raise ValueError(f"{message} Length: {length}.")
        return ids
    if length is None:  # an open TensorFlow shape
        return backend.ensure(ids, ops.shape(ids)[1] <= max_length, message)
    return ids  # a symbolic JAX shape: only shapes are being computed


def check_same_shape(a, b, name_a, name_b):
    """`b`, once it is known to have the shape of `a`."""
    message = f"`{name_a}` and `{name_b}` must have the same shape."
    shape_a, shape_b = tuple(a.shape), tuple(b.shape)
    if len(shape_a) != len(shape_b) or any(
            isinstance(x, int) and isinstance(y, int) and x != y
            for x, y in zip(shape_a, shape_b)):
        raise ValueError(f"{message} Got {shape_a} and {shape_b}.")
    if None not in shape_a + shape_b:  # known, or symbolic (JAX)
        return b
    same = ops.all(ops.equal(ops.stack(ops.shape(a)), ops.stack(ops.shape(b))))
    return backend.ensure(b, same, message)


def check_token_inputs(inputs, prefix, vocabulary_size, max_length, extra=()):
    """The checks every backbone runs on `{prefix}token_ids` and friends.

    Args:
        inputs: dict of tensors.
        prefix: "" or "encoder_" / "decoder_".
        vocabulary_size: int.
        max_length: int, the longest sequence the model accepts.
        extra: (name, size, what) triples of further id inputs of the same
            shape, such as BERT's segment ids.

    Returns:
        `inputs`, the checked tensors replaced by tensors that depend on
        the checks, so that in a graph the assertions run before any
        lookup can fail on its own, less helpful, terms.
    """
    ids_name = f"{prefix}token_ids"
    check_keys(inputs, [ids_name], "The model")
    if any(backend.is_placeholder(v) for v in inputs.values()):
        return inputs  # Keras is working out shapes: nothing to check
    checked = dict(inputs)
    token_ids = ops.convert_to_tensor(inputs[ids_name])
    check_rank(token_ids, 2, ids_name)
    check_integers(token_ids, ids_name, "token ids")
    token_ids = check_range(token_ids, vocabulary_size, ids_name, "vocabulary")
    checked[ids_name] = check_max_length(token_ids, max_length, ids_name)
    for name, size, what in [(f"{prefix}padding_mask", None, None), *extra]:
        if inputs.get(name) is None:
            continue
        values = ops.convert_to_tensor(inputs[name])
        values = check_same_shape(token_ids, values, ids_name, name)
        if size is None:  # the padding mask
            values = check_padding_mask(values, name)
        else:
            check_integers(values, name, what)
            values = check_range(values, size, name, what)
        checked[name] = values
    return checked


def check_positions(positions, token_ids, name="output_positions"):
    """`positions` (B, P) as int32, once they are known to be positions of
    `token_ids` (B, T)."""
    positions = ops.convert_to_tensor(positions)
    check_rank(positions, 2, name)
    check_integers(positions, name, "positions")
    length = ops.shape(token_ids)[1]
    return ops.cast(check_range(positions, length, name,
                                "positions of `token_ids`"), "int32")


def check_cache_length(max_length, max_sequence_length):
    """A cache may not be longer than the positions the model has."""
    message = (f"A cache of length {max_length} exceeds the model's "
               f"max_sequence_length {max_sequence_length}.")
    backend.ensure(None, ops.convert_to_tensor(max_length)
                   <= max_sequence_length, message)


def check_decoding_inputs(token_ids, vocabulary_size, cache, start, name):
    """`token_ids` (B, T), once they are known to be in the vocabulary and
    to fit in `cache` (B, 2, S, N, H) when written at `start`."""
    token_ids = ops.convert_to_tensor(token_ids)
    check_rank(token_ids, 2, name)
    check_integers(token_ids, name, "token ids")
    token_ids = check_range(token_ids, vocabulary_size, name, "vocabulary")
    cache_length = cache.shape[2]
    size = "" if cache_length is None else f" (length {cache_length})"
    if cache_length is None:  # traced with open shapes
        cache_length = ops.shape(cache)[2]
    end = start + ops.shape(token_ids)[1]
    message = (
        f"`{name}` written at cache_update_index would run past the end of "
        f"the cache{size}; allocate a longer cache."
    )
    fits = ops.logical_and(ops.convert_to_tensor(end) <= cache_length,
                           ops.convert_to_tensor(start) >= 0)
    return backend.ensure(token_ids, fits, message,
                          lambda: f"Index {int(ops.convert_to_numpy(start))}.")


def check_labels(labels, num_classes, name="labels"):
    """`labels` as integers, once every label is known to lie in
    [0, num_classes).

    A label out of range would otherwise give an error on one device, a
    clamped lookup on another and NaN under XLA. Mark positions that should
    not count with a sample weight of 0, not with an out-of-range label.
    """
    labels = ops.convert_to_tensor(labels)
    dtype = keras.backend.standardize_dtype(labels.dtype)
    if "int" not in dtype:  # class ids given as floats
        whole = ops.all(ops.equal(ops.round(labels), labels))
        labels = backend.ensure(
            labels, whole, f"`{name}` must be whole numbers (class ids).")
        labels = ops.cast(labels, "int32")
    return check_range(labels, num_classes, name, "classes")
