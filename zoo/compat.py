"""The few private framework hooks the zoo uses, in one place.

Everything else in the zoo uses public Keras, keras-hub and TensorFlow
APIs. Each hook here names what it reaches into and why; each is checked
against the versions it was written for, and when a hook is missing in
the installed version the zoo falls back to a slower or plainer path with
one warning that says what to install.

| hook                          | reaches into                           | without it                      |
|-------------------------------|----------------------------------------|---------------------------------|
| `build_before_first_trace`    | `keras.Model._symbolic_build`          | TensorFlow traces `fit`'s step twice |
| `shapes_only`                 | Keras' list of uninitialized variables | `count_preset_params` allocates the weights |
| `preprocessing_function`     | `keras_hub.src.utils.tensor_utils`     | `CharacterTokenizer` returns TensorFlow tensors eagerly |
| `compiling_for_xla`           | `tensorflow.python` (XLA context)      | `zoo.tuning`'s dropout draws Philox masks, and its logits order runs, under XLA too |
"""

import contextlib
import warnings

import keras
import keras_hub

# The versions these hooks were written and tested against.
WRITTEN_FOR = {"keras": "3.15", "keras_hub": "0.32"}


def _minor(version):
    return ".".join(version.split(".")[:2])


def _warn(hook, library, error):
    installed = {"keras": keras.__version__,
                 "keras_hub": keras_hub.__version__}[library]
    warnings.warn(
        f"zoo.compat.{hook} was written for {library} "
        f"{WRITTEN_FOR[library]}.x and does not work with the installed "
        f"{installed} ({error}); the zoo falls back to a plainer path. To "
        f"get the written behaviour, install {library.replace('_', '-')}=="
        f"{WRITTEN_FOR[library]}.*.",
        stacklevel=3,
    )


def versions_written_for():
    """`{library: (written for, installed)}` for every library with hooks."""
    return {
        "keras": (WRITTEN_FOR["keras"], _minor(keras.__version__)),
        "keras_hub": (WRITTEN_FOR["keras_hub"], _minor(keras_hub.__version__)),
    }


def build_before_first_trace(model, data_batch):
    """Create the optimizer slots, metrics and loss state of `model` before
    its step is traced.

    On TensorFlow without a distribution strategy Keras creates them while
    it traces the train step, and a `tf.function` that creates variables is
    traced a second time: the whole step (forward, gradient, optimizer)
    would be built twice. Keras' JAX and PyTorch trainers, and its
    TensorFlow trainer under a strategy, call this same method themselves.

    Args:
        model: a compiled `keras.Model`.
        data_batch: a batch `(x, y, sample_weight)` or its `tf.TensorSpec`s.
    """
    if keras.backend.backend() != "tensorflow":
        return
    build = getattr(model, "_symbolic_build", None)
    if build is None:
        _warn("build_before_first_trace", "keras",
              "keras.Model has no _symbolic_build")
        return
    with model.distribute_strategy.scope():  # the strategy it was built in
        build(data_batch=data_batch)


@contextlib.contextmanager
def shapes_only():
    """A scope in which new Keras variables have shapes but no values.

    Keras records such variables in a global list and gives them values
    when the next stateless scope closes; that list is put back as it was
    when this scope ends, so the variables created inside are never
    allocated.
    """
    try:
        from keras.src.backend.common import global_state
    except ImportError as error:
        _warn("shapes_only", "keras", error)
        yield
        return
    key = "uninitialized_variables"
    pending = list(global_state.get_global_attribute(key, []))
    try:
        with keras.StatelessScope(initialize_variables=False):
            yield
    finally:
        global_state.set_global_attribute(key, pending)


def preprocessing_function(function):
    """keras-hub's decorator of its tokenizers' `tokenize`/`detokenize`:
    inputs become TensorFlow tensors, and eager outputs become Python lists
    or backend tensors, as keras-hub's own tokenizers return them."""
    try:
        from keras_hub.src.utils.tensor_utils import preprocessing_function
    except ImportError as error:
        _warn("preprocessing_function", "keras_hub", error)
        return function
    return preprocessing_function(function)



def compiling_for_xla():
    """True while TensorFlow traces a function with `jit_compile=True`.

    Asks what TensorFlow's own gradient code asks; False (with a warning)
    if that internal is gone.
    """
    try:
        from tensorflow.python.framework import ops as tf_ops
        from tensorflow.python.ops import control_flow_util
    except ImportError as error:
        warnings.warn(f"zoo.compat.compiling_for_xla: {error}; zoo.tuning's "
                      "dropout uses Philox and its logits order runs under XLA too.", stacklevel=2)
        return False
    return control_flow_util.GraphOrParentsInXlaContext(
        tf_ops.get_default_graph())
