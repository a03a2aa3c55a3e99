"""What every task shares: a backbone, a head, compile defaults, checks.

A task is what `model.fit` trains: backbone + head + loss + metrics. It
takes the backbone's input dict (arrays or a `tf.data` dataset), checks its
labels as the backbone checks its inputs, and folds padding into the sample
weights so that padding never counts in the loss or the metrics.
"""

import keras
from keras import ops

from zoo.models.checks import check_labels
from zoo.models.data_checks import checks_data_first


@checks_data_first
class Task(keras.Model):
    """Base class of the zoo's tasks.

    Subclasses build their head in `__init__` (so that every weight exists
    before the first call), implement `call`, and say what their labels are
    with `label_classes()` and how padding becomes sample weights with
    `targets()`.

    Args:
        backbone: a `zoo.models.Backbone`.
        tokenizer: optional keras-hub tokenizer; saved with the task (its
            vocabulary travels inside the `.keras` file).
    """

    def __init__(self, backbone, tokenizer=None, **kwargs):
        super().__init__(**kwargs)
        self.backbone = backbone
        self.tokenizer = tokenizer

    def build(self, input_shape=None):
        """Nothing to do: every weight exists once `__init__` returns (the
        backbone builds itself, a subclass its head). Keras' default would
        guess, and warn, from the stateless layers that hold no weights."""

    # Labels and sample weights -------------------------------------------

    def label_classes(self):
        """Number of classes of integer labels (a dict for dict labels);
        None when labels are not class ids (regression)."""
        return None

    def check_inputs(self, inputs):
        return self.backbone.check_inputs(inputs)

    def check_labels(self, y):
        classes = self.label_classes()
        if classes is None:
            return y
        if isinstance(y, dict):
            return {
                key: check_labels(value, classes[key], f"labels[{key!r}]")
                if key in classes else value
                for key, value in y.items()
            }
        return check_labels(y, classes)

    def targets(self, x, y, sample_weight):
        """The labels and sample weights the loss sees; by default as given."""
        return y, sample_weight

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                     training=True):
        y, sample_weight = self.targets(x, y, sample_weight)
        y = self.check_labels(y)
        return super().compute_loss(x, y, y_pred, sample_weight, training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        y, sample_weight = self.targets(x, y, sample_weight)
        return super().compute_metrics(x, y, y_pred, sample_weight)

    # Compile defaults ------------------------------------------------------

    def default_loss(self):
        raise NotImplementedError

    def default_metrics(self):
        raise NotImplementedError

    default_learning_rate = 1e-4

    def compile(self, optimizer="auto", loss="auto", weighted_metrics="auto",
                **kwargs):
        """`keras.Model.compile`, where "auto" means the task's defaults.

        Defaults: Adam at `default_learning_rate`, the task's loss, and its
        metrics as `weighted_metrics`, so that sample weights (padding)
        apply to them.
        """
        if optimizer == "auto":
            optimizer = keras.optimizers.Adam(self.default_learning_rate)
        if loss == "auto":
            loss = self.default_loss()
        if weighted_metrics == "auto":
            weighted_metrics = self.default_metrics()
        super().compile(optimizer=optimizer, loss=loss,
                        weighted_metrics=weighted_metrics, **kwargs)

    def compile_from_config(self, config):
        # Keras skips this for models with their own `compile`; ours takes
        # the same arguments, so a reloaded task comes back compiled.
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    # Serialization -----------------------------------------------------------

    def get_config(self):
        config = keras.layers.Layer.get_config(self)
        config["backbone"] = keras.saving.serialize_keras_object(self.backbone)
        if self.tokenizer is not None:
            config["tokenizer"] = keras.saving.serialize_keras_object(
                self.tokenizer
            )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("backbone", "tokenizer"):
            if isinstance(config.get(key), dict):
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


def padding_weights(x, sample_weight, key="padding_mask"):
    """`sample_weight` times the padding mask of `x` (1 real, 0 padding)."""
    if not isinstance(x, dict) or x.get(key) is None:
        return sample_weight
    mask = ops.cast(x[key], "float32")  # (B, T)
    if sample_weight is None:
        return mask
    sample_weight = ops.cast(sample_weight, "float32")
    if len(sample_weight.shape) == 1:  # one weight per sequence
        sample_weight = sample_weight[:, None]
    return mask * sample_weight


def shift_left(x, ids_key, mask_key):
    """Next-token labels of `x[ids_key]` (B, T) and their weights.

    The label at position t is token t + 1; the last position has none, and
    neither has a position whose next token is padding.
    """
    token_ids = ops.convert_to_tensor(x[ids_key])
    mask = x.get(mask_key)
    mask = ops.ones_like(token_ids) if mask is None else mask
    labels = ops.pad(token_ids[:, 1:], [[0, 0], [0, 1]])  # (B, T)
    weights = ops.pad(ops.cast(mask, "float32")[:, 1:], [[0, 0], [0, 1]])
    return labels, weights
