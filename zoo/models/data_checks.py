"""Checking a model's data before Keras compiles a step on it.

XLA drops the assertions of `zoo.models.checks` and `jax.jit` cannot make
them, so `fit`, `evaluate`, `predict` and the `*_on_batch` methods of the
zoo's backbones and tasks (`checks_data_first`) run `check_inputs` and
`check_labels` on the data first: arrays at once, a `tf.data` pipeline
batch by batch as Keras draws from it.
"""

import keras
import numpy as np

from zoo import backend
from zoo import compat


def _check_batch(model, x, y):
    if isinstance(x, dict):
        model.check_inputs(x)
    if y is not None:
        model.check_labels(y)


def _checked_dataset(model, dataset):
    """`dataset` with each batch checked in the input pipeline, before Keras
    hands it to the compiled step: on TensorFlow the checks are graph ops
    of the pipeline; on the other backends NumPy, called from it."""
    import tensorflow as tf

    if backend.name() == "tensorflow":
        def check_in_graph(*batch):
            batch = batch[0] if len(batch) == 1 else batch
            x, y, weight = keras.utils.unpack_x_y_sample_weight(batch)
            x = model.check_inputs(x) if isinstance(x, dict) else x
            y = y if y is None else model.check_labels(y)
            return keras.utils.pack_x_y_sample_weight(x, y, weight)

        return dataset.map(check_in_graph)

    def check(*batch):
        batch = batch[0] if len(batch) == 1 else batch
        flat = tf.nest.flatten(batch)

        def check_values(*values):
            values = tf.nest.pack_sequence_as(batch, list(values))
            x, y, _ = keras.utils.unpack_x_y_sample_weight(values)
            _check_batch(model, x, y)
            return np.True_

        done = tf.numpy_function(check_values, flat, Tout=tf.bool)
        with tf.control_dependencies([done]):
            return tf.nest.map_structure(tf.identity, batch)

    return dataset.map(check)


def checked_data(model, x, y=None):
    """`(x, y)` for `fit`, `evaluate` or `predict`, checked or made to be.

    Arrays (and dicts of them) are checked now, once. A `tf.data.Dataset`
    `x` is checked batch by batch as Keras draws it. Python generators are
    checked batch by batch too. Other inputs (`keras.utils.PyDataset`) are
    checked only where the backend can assert in the graph.
    """
    import tensorflow as tf

    if isinstance(x, tf.data.Dataset):
        return _checked_dataset(model, x), y
    if isinstance(x, dict) or y is not None:
        _check_batch(model, x, y)
        return x, y
    if hasattr(x, "__next__"):  # a generator of batches
        def checked(batches):
            for batch in batches:
                inputs, labels, _ = keras.utils.unpack_x_y_sample_weight(batch)
                _check_batch(model, inputs, labels)
                yield batch
        return checked(x), y
    return x, y


def _checked_validation(model, validation_data):
    if validation_data is None:
        return None
    if isinstance(validation_data, (tuple, list)):
        x, y = validation_data[0], (validation_data[1]
                                    if len(validation_data) > 1 else None)
        checked_data(model, x, y)
        return validation_data
    return checked_data(model, validation_data)[0]


def checks_data_first(cls):
    """Class decorator: `fit`, `evaluate`, `predict` and the `*_on_batch`
    methods of `cls` check their data with `check_inputs` / `check_labels`
    before Keras runs a compiled step, where XLA and `jax.jit` would drop
    the checks. `fit` and `evaluate` also build the optimizer and metric
    state before the step is traced (see `zoo.compat`)."""
    base = keras.Model

    def fit(self, x=None, y=None, *args, validation_data=None, **kwargs):
        x, y = checked_data(self, x, y)
        validation_data = _checked_validation(self, validation_data)
        _build_first(self, x, y, kwargs.get("sample_weight"))
        return base.fit(self, x, y, *args, validation_data=validation_data,
                        **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        x, y = checked_data(self, x, y)
        _build_first(self, x, y, kwargs.get("sample_weight"))
        return base.evaluate(self, x, y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        return base.predict(self, checked_data(self, x)[0], *args, **kwargs)

    def train_on_batch(self, x, y=None, *args, **kwargs):
        _check_batch(self, x, y)
        return base.train_on_batch(self, x, y, *args, **kwargs)

    def test_on_batch(self, x, y=None, *args, **kwargs):
        _check_batch(self, x, y)
        return base.test_on_batch(self, x, y, *args, **kwargs)

    def predict_on_batch(self, x):
        _check_batch(self, x, None)
        return base.predict_on_batch(self, x)

    for method in (fit, evaluate, predict, train_on_batch, test_on_batch,
                   predict_on_batch):
        method.__doc__ = getattr(base, method.__name__).__doc__
        setattr(cls, method.__name__, method)
    return cls


def _build_first(model, x, y, sample_weight):
    """Build the step's state from the data's shapes (compat.py)."""
    import tensorflow as tf

    if isinstance(x, tf.data.Dataset):
        compat.build_before_first_trace(model, x.element_spec)
    elif isinstance(x, dict):
        compat.build_before_first_trace(model, (x, y, sample_weight))
