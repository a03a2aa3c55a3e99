"""Sentence and token classification heads over a BERT-style encoder."""

import keras
from keras import ops

from zoo.blocks.dropout import Dropout
from zoo.tasks.losses import SparseCrossEntropy
from zoo.tasks.task import Task
from zoo.tasks.task import padding_weights


def _head_initializer():
    return keras.initializers.TruncatedNormal(stddev=0.02)  # as BERT


class _Classifier(Task):
    """Dropout and a dense layer over a backbone output; the shared part of
    `SequenceClassifier` and `TokenClassifier`."""

    default_learning_rate = 5e-5  # Devlin et al. 2018: 5e-5, 3e-5 or 2e-5
    min_classes = 1

    def __init__(self, backbone, num_classes, dropout=0.1, tokenizer=None,
                 **kwargs):
        super().__init__(backbone, tokenizer, **kwargs)
        if num_classes < self.min_classes:
            raise ValueError(
                f"`num_classes` must be >= {self.min_classes}; got {num_classes}."
            )
        self.num_classes = num_classes
        self.dropout = dropout
        policy = backbone.dtype_policy
        self.head_dropout = Dropout(dropout, dtype=policy,
                                                 name="head_dropout")
        self.head = keras.layers.Dense(
            num_classes, kernel_initializer=_head_initializer(),
            dtype=policy, name="head",
        )
        self.head.build((None, None, backbone.hidden_dim))

    def classify(self, features, training):
        """(..., D) -> (..., num_classes) logits."""
        return self.head(self.head_dropout(features, training=training))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes,
                "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="zoo")
class SequenceClassifier(_Classifier):
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

    def call(self, inputs, training=None):
        # Only [CLS] is read: its row is the last block's only query.
        no_positions = ops.zeros_like(inputs["token_ids"][:, :0])  # (B, 0)
        pooled = self.backbone(inputs, training=training,
                               output_positions=no_positions)["pooled_output"]
        return self.classify(pooled, training)  # (B, D) -> (B, num_classes)

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


@keras.saving.register_keras_serializable(package="zoo")
class TokenClassifier(_Classifier):
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

    min_classes = 2

    def call(self, inputs, training=None):
        x = self.backbone(inputs, training=training)["sequence_output"]
        return self.classify(x, training)  # (B, T, D) -> (B, T, num_classes)

    def label_classes(self):
        return self.num_classes

    def targets(self, x, y, sample_weight):
        return y, padding_weights(x, sample_weight)

    def default_loss(self):
        return SparseCrossEntropy(from_logits=True)

    def default_metrics(self):
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
