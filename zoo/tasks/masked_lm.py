"""BERT's pretraining objective: masked LM, optionally with next-sentence
prediction (Devlin et al. 2018, section 3.1)."""

import keras
from keras import ops

from zoo.blocks.feed_forward import ACTIVATIONS
from zoo.blocks.normalization import LayerNormalization
from zoo.models.checks import check_positions
from zoo.tasks.losses import SparseCrossEntropy
from zoo.tasks.task import Task


@keras.saving.register_keras_serializable(package="zoo")
class MaskedLM(Task):
    """Predict the original tokens at the masked positions.

    The head is BERT's: a dense transform with the backbone's activation,
    LayerNorm, then the token embedding matrix, transposed (tied weights),
    plus a per-token output bias. With `next_sentence_prediction=True` a
    second head on the pooled output says whether sentence B followed
    sentence A.

    Args:
        backbone: a `BertEncoder`.
        next_sentence_prediction: bool. Add the NSP head.
        tokenizer: optional keras-hub tokenizer, saved with the task.

    Call arguments:
        inputs: the backbone's inputs plus `mask_positions` (B, P): the
            positions to predict (as from keras-hub's
            `MaskedLMMaskGenerator`).

    Returns:
        (B, P, V) logits; with NSP, a dict of those (`"masked_lm"`) and
        (B, 2) next-sentence logits (`"next_sentence"`, 1 = is next).

    Labels: `mask_ids` (B, P) with sample weights `mask_weights` (0 for
    padded positions); with NSP, dicts keyed like the outputs.
    """

    def __init__(self, backbone, next_sentence_prediction=False,
                 tokenizer=None, **kwargs):
        super().__init__(backbone, tokenizer, **kwargs)
        self.next_sentence_prediction = next_sentence_prediction
        policy = backbone.dtype_policy
        hidden_dim = backbone.hidden_dim
        initializer = keras.initializers.TruncatedNormal(stddev=0.02)
        self.transform = keras.layers.Dense(
            hidden_dim, activation=ACTIVATIONS[backbone.activation],
            kernel_initializer=initializer, dtype=policy, name="mlm_transform",
        )
        self.transform_norm = LayerNormalization(
            epsilon=backbone.layer_norm_epsilon, dtype=policy,
            name="mlm_transform_norm",
        )
        self.transform.build((None, None, hidden_dim))
        self.transform_norm.build((None, None, hidden_dim))
        self.output_bias = self.add_weight(
            shape=(backbone.vocabulary_size,), initializer="zeros",
            name="mlm_output_bias",
        )
        self.next_sentence_head = None
        if next_sentence_prediction:
            self.next_sentence_head = keras.layers.Dense(
                2, kernel_initializer=initializer, dtype=policy,
                name="next_sentence",
            )
            self.next_sentence_head.build((None, hidden_dim))

    def check_inputs(self, inputs):
        inputs = self.backbone.check_inputs(inputs)
        positions = check_positions(inputs["mask_positions"],
                                    ops.convert_to_tensor(inputs["token_ids"]),
                                    "mask_positions")
        return {**inputs, "mask_positions": positions}

    def call(self, inputs, training=None):
        inputs = self.check_inputs(inputs)
        outputs = self.backbone(inputs, training=training)
        x = outputs["sequence_output"]  # (B, T, D)
        positions = ops.cast(inputs["mask_positions"], "int32")  # (B, P)
        x = ops.take_along_axis(x, positions[:, :, None], axis=1)  # (B, P, D)
        x = self.transform_norm(self.transform(x))
        logits = self.backbone.token_embedding(x, reverse=True)  # (B, P, V)
        logits = logits + ops.cast(self.output_bias, logits.dtype)
        if not self.next_sentence_prediction:
            return logits
        return {
            "masked_lm": logits,
            "next_sentence": self.next_sentence_head(outputs["pooled_output"]),
        }

    def label_classes(self):
        if self.next_sentence_prediction:
            return {"masked_lm": self.backbone.vocabulary_size,
                    "next_sentence": 2}
        return self.backbone.vocabulary_size

    def default_loss(self):
        if self.next_sentence_prediction:
            return {"masked_lm": SparseCrossEntropy(),
                    "next_sentence": SparseCrossEntropy()}
        return SparseCrossEntropy()

    def default_metrics(self):
        def accuracy():
            return keras.metrics.SparseCategoricalAccuracy(name="accuracy")

        if self.next_sentence_prediction:
            return {"masked_lm": [accuracy()], "next_sentence": [accuracy()]}
        return [accuracy()]

    def get_config(self):
        return {**super().get_config(),
                "next_sentence_prediction": self.next_sentence_prediction}
