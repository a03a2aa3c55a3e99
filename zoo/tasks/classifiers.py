"""Sentence and token classification heads over a BERT-style encoder."""

import keras

from zoo.blocks.dropout import Dropout
from zoo.tasks.losses import SparseCrossEntropy
from zoo.tasks.task import Task
from zoo.tasks.task import padding_weights


def add_classifier_head(task, num_classes, dropout, min_classes):
    """Give `task` its `num_classes`, `dropout` and head: dropout, then a
    dense layer to `num_classes` logits, initialized as BERT's (truncated
    normal, stddev 0.02)."""
    if num_classes < min_classes:
        raise ValueError(
            f"`num_classes` must be >= {min_classes}; got {num_classes}."
        )
    task.num_classes = num_classes
    task.dropout = dropout
    policy = task.backbone.dtype_policy
    task.head_dropout = Dropout(dropout, dtype=policy, name="head_dropout")
    task.head = keras.layers.Dense(
        num_classes,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
        dtype=policy, name="head",
    )
    task.head.build((None, None, task.backbone.hidden_dim))


@keras.saving.register_keras_serializable(package="zoo")
class SequenceClassifier(Task):
    """Classify (or score) a sentence or a sentence pair.

    Dropout and a dense layer on the backbone's `pooled_output` (Devlin et
    al. 2018, section 4.1). Sentence pairs are one sequence, `[CLS] a [SEP]
    b [SEP]`, told apart by `segment_ids`.

    Args:
        backbone: a backbone with a `pooled_output` (`BertEncoder`).
        num_classes: int. 1 makes it a regression (mean squared error).
        dropout: float. Dropout before the dense layer.

    Call arguments:
        inputs: the backbone's inputs (`token_ids`, `segment_ids`,
            `padding_mask`).

    Returns:
        (B, num_classes) logits, or (B, 1) scores for a regression.

    Example:

    >>> model = SequenceClassifier(BertEncoder.from_preset("bert_tiny"), 2)
    >>> model.compile()
    >>> model.fit(x, labels)
    """

    default_learning_rate = 5e-5  # Devlin et al. 2018: 5e-5, 3e-5 or 2e-5

    def __init__(self, backbone, num_classes, dropout=0.1, tokenizer=None,
                 **kwargs):
        super().__init__(backbone, tokenizer, **kwargs)
        add_classifier_head(self, num_classes, dropout, min_classes=1)

    def call(self, inputs, training=None):
        # Only [CLS] is read: its row is the last block's only query.
        pooled = self.backbone(inputs, training=training,
                               pooled_only=True)["pooled_output"]  # (B, D)
        pooled = self.head_dropout(pooled, training=training)
        return self.head(pooled)  # (B, num_classes)

    def label_classes(self):
        return None if self.num_classes == 1 else self.num_classes

    def default_loss(self):
        if self.num_classes == 1:
            return keras.losses.MeanSquaredError()
        return SparseCrossEntropy(from_logits=True)

    def default_metrics(self):
        if self.num_classes == 1:
            return [keras.metrics.MeanAbsoluteError(name="mae")]
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="zoo")
class TokenClassifier(Task):
    """Tag every token, e.g. named entities in BIO form.

    Dropout and a dense layer on the backbone's `sequence_output` (Devlin et
    al. 2018, section 5.3). Only the first sub-word of each word carries a
    label: give the others, like padding, a sample weight of 0. Padding
    positions (`padding_mask` 0) never count in the loss or the metrics,
    whatever the sample weights say.

    Args:
        backbone: a backbone with a `sequence_output` (`BertEncoder`).
        num_classes: int. Number of tags.
        dropout: float. Dropout before the dense layer.

    Returns:
        (B, T, num_classes) logits.
    """

    default_learning_rate = 5e-5  # Devlin et al. 2018: 5e-5, 3e-5 or 2e-5

    def __init__(self, backbone, num_classes, dropout=0.1, tokenizer=None,
                 **kwargs):
        super().__init__(backbone, tokenizer, **kwargs)
        add_classifier_head(self, num_classes, dropout, min_classes=2)

    def call(self, inputs, training=None):
        x = self.backbone(inputs, training=training)["sequence_output"]
        x = self.head_dropout(x, training=training)  # (B, T, D)
        return self.head(x)  # (B, T, num_classes)

    def label_classes(self):
        return self.num_classes

    def targets(self, x, y, sample_weight):
        return y, padding_weights(x, sample_weight)

    def default_loss(self):
        return SparseCrossEntropy(from_logits=True)

    def default_metrics(self):
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "dropout": self.dropout}
