"""A recorder of the steps of one forward pass, for `python -m zoo.show`.

The blocks call `record(label, tensor, dims)` at the steps of the paper's
equations (`Q = X W_Q`, `Q K^T`, the softmax, ...), with `dims` the shape
comment of that line, and `section(name)` where a block or a stage of a
model begins. Both return at once unless a `recording()` is open, so a
model that is not being looked at pays one `if` per step, and a compiled
one (`tf.function`, `jax.jit`) not even that: they run while it is traced.

    with trace.recording() as steps:
        model(inputs, return_attention_scores=True)
    for step in steps:
        print(step.section, step.label, step.shape)

The shapes are those of the tensors the blocks computed; under a
recording the blocks also keep each tensor (`Step.value`), so run small
inputs (or symbolic ones: `zoo.show.shapes` runs the model on
`keras.KerasTensor`s, with no weights allocated).

Shapes: B batch, T query length, S key length, D hidden_dim, N num_heads,
H head_dim, F intermediate_dim, V vocabulary_size.
"""

import collections
import contextlib

Step = collections.namedtuple(
    "Step", ["section", "part", "label", "dims", "shape", "value"])
Step.__doc__ = """One recorded step.

Attributes:
    section: the block or stage it ran in ("embeddings",
        "transformer_layer_0", ...): the last `section(name)` before it.
    part: the sub-layer that recorded it ("self_attention",
        "feed_forward", ...), or None.
    label: what was computed, in the paper's notation ("Q K^T").
    dims: its shape comment, "(B, N, T, S)".
    shape: its shape, a tuple of ints.
    value: the tensor itself.
"""

_steps = None  # the open recording's list of steps, or None
_section = None


@contextlib.contextmanager
def recording():
    """Record the steps of the forward passes run inside: yields the list
    they are appended to."""
    global _steps, _section
    outer = _steps, _section
    _steps, _section = [], None
    try:
        yield _steps
    finally:
        _steps, _section = outer


def section(name):
    """Steps recorded from here on belong to `name` (a block's name)."""
    global _section
    if _steps is not None:
        _section = name


def record(label, tensor, dims, part=None):
    """Note `tensor`, the result of step `label`, while recording.

    Args:
        label: str, the step in the paper's notation.
        tensor: its result.
        dims: str, its shape comment, as `"(B, T, D)"`.
        part: the name of the sub-layer that computes it, if any.
    """
    if _steps is None:
        return
    shape = tuple(None if size is None else int(size) for size in tensor.shape)
    _steps.append(Step(_section, part, label, dims, shape, tensor))
