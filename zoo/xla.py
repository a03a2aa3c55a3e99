"""Whether the code being traced will be compiled by XLA.

Some layers pick between two equivalent formulations by what runs them
fastest, and on the CPU XLA and TensorFlow's own kernels disagree.
"""

from tensorflow.python.framework import ops as tf_ops
from tensorflow.python.ops import control_flow_util


def compiling_for_xla():
    """True while a function with `jit_compile=True` is being traced.

    TensorFlow marks such graphs with an XLA context (its own
    `tf.function` does, and Keras' `jit_compile` goes through it); this
    asks the same question TensorFlow's gradient code asks. Eager code and
    plain `tf.function`s answer False.
    """
    return control_flow_util.GraphOrParentsInXlaContext(
        tf_ops.get_default_graph())
