"""Cross entropy with label smoothing, averaged over the tokens that count;
and the language models' metrics.

Keras 3's `SparseCategoricalCrossentropy` has no label smoothing, and its
default reduction divides by every position, padding included, so the same
sentences padded to a different length give a different loss. This loss
divides by the sum of the sample weights instead: padding (weight 0) never
changes it.
"""

import keras
import keras_hub
from keras import ops

from zoo import backend


@keras.saving.register_keras_serializable(package="zoo")
class SparseCrossEntropy(keras.losses.Loss):
    """Label-smoothed sparse cross entropy, mean over weighted positions.

    With smoothing ε the target puts 1 - ε on the label and spreads ε evenly
    over all K classes (Szegedy et al. 2016; ε = 0.1 in Vaswani et al. 2017,
    section 5.4):

        loss = (1 - ε) * -log p[y] + ε * mean_k(-log p[k])

    Args:
        from_logits: bool. Whether `y_pred` are logits (else probabilities).
        label_smoothing: float ε in [0, 1).
        name: str.

    Call arguments:
        y_true: integer labels, e.g. (B,) or (B, T).
        y_pred: (..., K) logits or probabilities.
        sample_weight: optional, shaped like `y_true`; 0 marks padding.

    Returns:
        Scalar: sum(weight * loss) / sum(weight) (0 when every weight is 0).
    """

    def __init__(self, from_logits=True, label_smoothing=0.0,
                 name="sparse_cross_entropy", **kwargs):
        super().__init__(name=name, reduction="mean_with_sample_weight",
                         **kwargs)
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(
                f"`label_smoothing` must be in [0, 1); got {label_smoothing}."
            )
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        """Per-position loss, shaped like `y_true`, in float32."""
        y_pred = ops.cast(y_pred, "float32")  # (..., K)
        labels = ops.cast(y_true, "int32")
        if len(labels.shape) == len(y_pred.shape):  # (..., 1) labels
            labels = ops.squeeze(labels, axis=-1)
        if self.from_logits:
            # -log p[y] = logsumexp(z) - z[y], by the backend's fused
            # softmax cross entropy: picking p[y] out of the (..., K) log
            # probabilities instead has a gradient that scatters into all
            # of them (on TensorFlow, an UnsortedSegmentSum of (..., K)).
            nll = ops.sparse_categorical_crossentropy(
                labels, y_pred, from_logits=True)  # (...)
            if not self.label_smoothing:
                return nll
            # mean_k(-log p[k]) = logsumexp(z) - mean_k(z)
            smooth = (ops.logsumexp(y_pred, axis=-1)
                      - ops.mean(y_pred, axis=-1))  # (...)
        else:
            log_probs = ops.log(ops.clip(y_pred, 1e-7, 1.0))  # (..., K)
            nll = -ops.take_along_axis(log_probs, labels[..., None], axis=-1)
            nll = ops.squeeze(nll, axis=-1)  # (...)
            if not self.label_smoothing:
                return nll
            smooth = -ops.mean(log_probs, axis=-1)  # (...)
        return (1.0 - self.label_smoothing) * nll + self.label_smoothing * smooth

    def __call__(self, y_true, y_pred, sample_weight=None):
        losses = self.call(y_true, y_pred)
        if sample_weight is None:
            sample_weight = ops.ones_like(losses)
        weights = ops.cast(sample_weight, "float32")
        if len(weights.shape) == len(losses.shape) + 1:  # (B, 1) for (B,)
            weights = ops.squeeze(weights, axis=-1)
        while len(weights.shape) < len(losses.shape):  # (B,) for (B, T)
            weights = ops.expand_dims(weights, -1)
        weights = ops.broadcast_to(weights, ops.shape(losses))
        # Under tf.distribute each replica holds part of the batch and the
        # replicas' gradients are summed: each divides by the weight of the
        # whole batch, so that the sum is the one-device loss.
        total = backend.replica_sum(ops.sum(weights))
        return ops.sum(losses * weights) / ops.where(total > 0, total, 1.0)

    def get_config(self):
        config = super().get_config()
        config.pop("reduction", None)
        config.update(
            {"from_logits": self.from_logits,
             "label_smoothing": self.label_smoothing}
        )
        return config


def language_model_metrics():
    """Next-token accuracy and perplexity, of the language-model tasks."""
    return [keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
            keras_hub.metrics.Perplexity(from_logits=True, name="perplexity")]
