"""Input checks that turn silent wrong answers into clear errors.

Keras' embedding lookup wraps negative ids (like NumPy indexing) and XLA
clamps ids past the end of the table; both return a plausible-looking wrong
answer. These checks raise instead:

- eagerly, a `ValueError` naming the bad values;
- inside a `tf.function`, a `tf.errors.InvalidArgumentError` with the same
  message (a `tf.debugging` assertion);
- XLA ignores assertions, so `Backbone` runs these checks again, outside the
  compiled step, when `fit`/`evaluate`/`predict` use `jit_compile=True`.
"""

import numpy as np
import tensorflow as tf


def check_rank(tensor, rank, name):
    if tensor.shape.rank is not None and tensor.shape.rank != rank:
        raise ValueError(
            f"`{name}` must have rank {rank} (batch, length); got shape "
            f"{tensor.shape}. Add a batch dimension for a single sequence."
        )


def check_range(ids, size, name, what):
    """Raise unless every value of `ids` is in [0, size).

    Returns the graph assertions to run (none when eager).
    """
    message = (
        f"`{name}` must lie in [0, {size}), the {what}. Ids outside it would "
        "be wrapped (negative) or clamped (too large) silently."
    )
    if tf.executing_eagerly():
        values = np.asarray(ids)
        bad = values[(values < 0) | (values >= size)]
        if bad.size:
            raise ValueError(f"{message} Found: {sorted(set(bad.tolist()))[:8]}")
        return []
    ids = tf.cast(ids, "int64")  # `size` may not fit a narrow id dtype
    return [
        tf.debugging.assert_non_negative(ids, message=message),
        tf.debugging.assert_less(ids, tf.cast(size, "int64"), message=message),
    ]


def check_max_length(ids, max_length, name):
    """Raise unless `ids` (B, T) has T <= max_length."""
    length = ids.shape[1]
    message = (
        f"`{name}` is longer than the model's max_sequence_length "
        f"{max_length}. Truncate it, or build the model with a larger "
        "`max_sequence_length`."
    )
    if length is not None:
        if length > max_length:
            raise ValueError(f"{message} Length: {length}.")
        return []
    return [tf.debugging.assert_less_equal(tf.shape(ids)[1], max_length,
                                           message=message)]


def check_same_shape(a, b, name_a, name_b):
    """Raise unless `a` and `b` have the same shape."""
    message = f"`{name_a}` and `{name_b}` must have the same shape."
    if a.shape.is_fully_defined() and b.shape.is_fully_defined():
        if a.shape != b.shape:
            raise ValueError(f"{message} Got {a.shape} and {b.shape}.")
        return []
    if a.shape.rank is not None and b.shape.rank is not None:
        if not a.shape.is_compatible_with(b.shape):
            raise ValueError(f"{message} Got {a.shape} and {b.shape}.")
    return [tf.debugging.assert_equal(tf.shape(a), tf.shape(b), message=message)]


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
        `inputs`, with the checked tensors made to depend on the checks, so
        that in a graph the assertions run before any lookup can fail on
        its own, less helpful, terms.
    """
    ids_name = f"{prefix}token_ids"
    token_ids = tf.convert_to_tensor(inputs[ids_name])
    check_rank(token_ids, 2, ids_name)
    checks = check_range(token_ids, vocabulary_size, ids_name, "vocabulary")
    checks += check_max_length(token_ids, max_length, ids_name)
    checked = [ids_name]
    for name, size, what in [(f"{prefix}padding_mask", None, None), *extra]:
        if inputs.get(name) is None:
            continue
        values = tf.convert_to_tensor(inputs[name])
        checks += check_same_shape(token_ids, values, ids_name, name)
        if size is not None:
            checks += check_range(values, size, name, what)
        checked.append(name)
    if not checks:
        return inputs
    with tf.control_dependencies(checks):
        return {**inputs, **{name: tf.identity(inputs[name]) for name in checked}}


def check_positions(positions, token_ids, name="output_positions"):
    """Raise unless `positions` (B, P) are positions of `token_ids` (B, T).

    Returns `positions` as int32, tied to the check when running in a graph.
    """
    positions = tf.convert_to_tensor(positions)
    check_rank(positions, 2, name)
    length = token_ids.shape[1]
    if length is None:
        length = tf.shape(token_ids)[1]
    checks = check_range(positions, length, name, "positions of `token_ids`")
    positions = tf.cast(positions, "int32")
    if not checks:
        return positions
    with tf.control_dependencies(checks):
        return tf.identity(positions)


def check_cache_length(max_length, max_sequence_length):
    """A cache may not be longer than the positions the model has."""
    if tf.is_tensor(max_length) and not tf.executing_eagerly():
        tf.debugging.assert_less_equal(  # a stateful op: it runs
            max_length, max_sequence_length,
            message=f"A cache is longer than the model's max_sequence_length "
                    f"{max_sequence_length}.")
        return
    if max_length > max_sequence_length:
        raise ValueError(
            f"A cache of length {max_length} exceeds the model's "
            f"max_sequence_length {max_sequence_length}."
        )


def check_decoding_inputs(token_ids, vocabulary_size, cache, start, name):
    """Checks for `token_ids` (B, T) written into `cache` at `start`.

    Returns `token_ids`, tied to the checks when running in a graph.
    """
    token_ids = tf.convert_to_tensor(token_ids)
    check_rank(token_ids, 2, name)
    checks = check_range(token_ids, vocabulary_size, name, "vocabulary")
    cache_length = cache.shape[2]
    size = "" if cache_length is None else f" (length {cache_length})"
    if cache_length is None:  # traced with open shapes
        cache_length = tf.shape(cache)[2]
    end = start + tf.shape(token_ids)[1]
    message = (
        f"`{name}` written at cache_update_index would run past the end of "
        f"the cache{size}; allocate a longer cache."
    )
    if tf.executing_eagerly():
        if int(end) > cache_length or int(start) < 0:
            raise ValueError(f"{message} Index {int(start)}.")
    else:
        checks.append(tf.debugging.assert_less_equal(end, cache_length,
                                                     message=message))
    if not checks:
        return token_ids
    with tf.control_dependencies(checks):
        return tf.identity(token_ids)


def check_labels(labels, num_classes, name="labels"):
    """Raise unless every integer label lies in [0, num_classes).

    Returns `labels`, tied to the check when running in a graph. A label
    out of range would otherwise give an error on one device, a clamped
    lookup on another and NaN under XLA. Mark positions that should not
    count with a sample weight of 0, not with an out-of-range label.
    """
    labels = tf.convert_to_tensor(labels)
    checks = []
    if not labels.dtype.is_integer:  # class ids given as floats
        whole = tf.cast(tf.cast(labels, "int64"), labels.dtype)
        message = f"`{name}` must be whole numbers (class ids)."
        if tf.executing_eagerly():
            if not np.array_equal(np.asarray(whole), np.asarray(labels)):
                raise ValueError(message)
        else:
            checks.append(tf.debugging.assert_equal(whole, labels,
                                                    message=message))
        labels = tf.cast(labels, "int64")
    checks += check_range(labels, num_classes, name, "classes")
    if not checks:
        return labels
    with tf.control_dependencies(checks):
        return tf.identity(labels)
