"""The little that differs between Keras backends, in one place.

The zoo's layers, models and tasks are written in `keras.ops` and
`keras.random` and run on TensorFlow, JAX and PyTorch alike. What cannot
be written that way lives here:

- `is_concrete(x)`: whether `x` holds values now, or is being traced
  (a TensorFlow graph, a `jax.jit` trace, a Keras symbolic tensor);
- `ensure(value, condition, message)`: the input checks' one way to fail.
  On values it raises `ValueError(message)` at once. In a TensorFlow graph
  it adds an assertion that runs before `value` is used (XLA drops it, so
  the zoo's models also check their data before `fit`, `evaluate` and
  `predict` compile a step). Under `jax.jit` nothing can be checked: the
  data was checked before the compiled step;
- `compile_function(...)`: how each backend compiles a whole function,
  used by generation (XLA `tf.function` on TensorFlow, `jax.jit` on JAX,
  eager PyTorch under `torch.no_grad`);
- `require_tensorflow(what)`: a clear refusal of what only TensorFlow does;
- `dense_gradients(grads)`: TensorFlow's `tf.IndexedSlices` gradients
  (embedding lookups) as dense tensors, their rows summed by id;
- `replica_sum(x)`: `x` summed over the replicas of a TensorFlow
  `tf.distribute` step (each replica sees its share of the batch; JAX's
  `keras.distribution` computes on the whole batch already).
"""

import keras
import numpy as np
from keras import ops


def name():
    """"tensorflow", "jax" or "torch"."""
    return keras.backend.backend()


def is_placeholder(x):
    """True if `x` only stands for a tensor while Keras works out shapes: a
    `keras.KerasTensor`, or a PyTorch tensor on the "meta" device (whose
    open dimensions Keras fills with made-up sizes)."""
    if isinstance(x, keras.KerasTensor):
        return True
    device = getattr(x, "device", None)
    return name() == "torch" and getattr(device, "type", None) == "meta"


def is_concrete(x):
    """True if `x` holds values that Python can read now."""
    if isinstance(x, (np.ndarray, np.generic, int, float, bool)):
        return True
    if is_placeholder(x):
        return False
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        return not tf.is_symbolic_tensor(x)
    if backend == "jax":
        import jax

        return not isinstance(x, jax.core.Tracer)
    if backend == "torch":
        import torch

        return not torch.compiler.is_compiling()
    return True


def ensure(value, condition, message, details=None):
    """`value`, once `condition` (a bool tensor, all of it) is known true.

    Args:
        value: a tensor or a structure of tensors to return.
        condition: bool tensor; every element must be true.
        message: what is wrong and what to do, if it is false.
        details: optional callable giving more text from concrete values
            (such as the bad ids found); called only when raising eagerly.

    Raises:
        ValueError: at once, when `condition` has values and is false.
    """
    if is_concrete(condition):
        if not np.all(ops.convert_to_numpy(condition)):
            raise ValueError(message + (f" {details()}" if details else ""))
        return value
    if name() == "tensorflow" and not is_placeholder(condition):
        import tensorflow as tf

        check = tf.debugging.assert_equal(
            tf.reduce_all(condition), True, message=message)
        if value is None:  # a stateful op: tf.function runs it anyway
            return None
        with tf.control_dependencies([check]):
            return tf.nest.map_structure(tf.identity, value)
    return value


class Spec:
    """A tensor's shape (None where open) and dtype, for a compiled
    function's input signature on TensorFlow."""

    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, dtype


def compile_function(function, variables, jit_compile=True,
                     input_signature=None, static_argnums=()):
    """`function(*args)` compiled the way the backend compiles.

    - TensorFlow: `tf.function` with `input_signature` (nested `Spec`s;
      batch and lengths left open), XLA-compiled if `jit_compile`; XLA
      compiles once per concrete shape.
    - JAX: `jax.jit`, with the model's `variables` passed in as arguments
      (a `keras.StatelessScope` maps them), so that the compiled program
      reads the current weights instead of folding them in as constants.
      It compiles once per shape and per value of the arguments at
      `static_argnums` (Python ints).
    - PyTorch: eager, under `torch.no_grad()`.

    Returns:
        A callable with `function`'s arguments, and a `tracing_count()`
        method: how many times `function` was traced (TensorFlow, JAX).
    """
    traces = []

    def traced(*args):
        traces.append(1)
        return function(*args)

    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        signature = tf.nest.map_structure(
            lambda spec: tf.TensorSpec(spec.shape, spec.dtype),
            input_signature)
        compiled = tf.function(traced, jit_compile=jit_compile,
                               input_signature=signature)
    elif backend == "jax" and jit_compile:
        compiled = _jax_jit(traced, variables, static_argnums)
    elif backend == "torch":
        import torch

        compiled = torch.no_grad()(function)  # eager: never traced
    else:
        compiled = function
    compiled.tracing_count = lambda: len(traces)
    return compiled


def _jax_jit(function, variables, static_argnums):
    import jax

    def stateless(values, *args):
        with keras.StatelessScope(state_mapping=zip(variables, values)):
            return function(*args)

    compiled = jax.jit(stateless,
                       static_argnums=tuple(i + 1 for i in static_argnums))

    def call(*args):
        return compiled([v.value for v in variables], *args)

    return call


def require_tensorflow(what):
    """Refuse `what` unless Keras runs on TensorFlow."""
    backend = name()
    if backend == "tensorflow":
        return
    raise RuntimeError(
        f"{what} writes a TensorFlow graph, so it runs on Keras' TensorFlow "
        f"backend; this process runs on {backend}. Load the model in a "
        "TensorFlow process (KERAS_BACKEND=tensorflow, the default) and run "
        "it there: a .keras file saved on any backend loads unchanged.")



def dense_gradients(grads):
    """`grads` with every `tf.IndexedSlices` made a dense tensor (rows of
    the same id summed); other backends' gradients are dense already."""
    if name() != "tensorflow":
        return grads
    import tensorflow as tf

    return [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
            for g in grads]


def replica_count():
    """The replicas of the current TensorFlow distribution strategy's step
    (1 outside one, and on the other backends)."""
    if name() == "tensorflow":
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        if context is not None:
            return context.num_replicas_in_sync
    return 1


def replica_sum(x):
    """`x` summed over the replicas inside a step of a TensorFlow
    distribution strategy; `x` itself anywhere else."""
    if name() == "tensorflow":
        import tensorflow as tf

        if replica_count() > 1:
            return tf.distribute.get_replica_context().all_reduce("sum", x)
    return x
