"""What the serving modules share (one `tf.Module` per task, in
`encoders.py` and `generators.py`), with their named signatures.

Each module holds the task's variables, its tokenizer (a `GraphTokenizer`)
and its signatures: one that takes raw strings and one that takes token
ids, for users who tokenize elsewhere. Outputs are float32 whatever the
model's compute dtype (TF Serving's JSON has no bfloat16).

| task               | text signature (serving_default) | id signature   |
|--------------------|----------------------------------|----------------|
| SequenceClassifier | `classify`                       | `classify_ids` |
| TokenClassifier    | `tag`                            | `tag_ids`      |
| MaskedLM           | `fill_mask`                      | `fill_mask_ids`|
| CausalLM           | `generate`, `sample`             | `generate_ids` |
| Seq2SeqLM          | `translate`, `translate_beam`    | `translate_ids`, `translate_beam_ids` |

Shapes: B batch, T tokens, W words, M masks, K top-k, C classes, L output
length (rounded up to a multiple of 32, as `generate` does in Python).
"""

import tensorflow as tf

from zoo.generation import prepare


def strings_spec(name):
    return tf.TensorSpec([None], tf.string, name=name)


def ids_spec(name, rank=2):
    return tf.TensorSpec([None] * rank, tf.int32, name=name)


def scalar_spec(name, dtype):
    return tf.TensorSpec([], dtype, name=name)


def graph_assert(condition, message):
    """A graph assertion; the signature fails with `message` if it is false.

    (TensorFlow escapes quotes in assertion messages: write them without.)
    """
    return tf.debugging.assert_equal(condition, True, message=message)


def float32(x):
    return tf.cast(x, "float32")


class ServingModule(tf.Module):
    """What every serving module shares: the task's variables and tokenizer.

    Args:
        task: a zoo task.
        tokenizer: a `GraphTokenizer`, or None (id signatures only).
    """

    def __init__(self, task, tokenizer):
        super().__init__(name=type(self).__name__)
        # Not tracked: the SavedModel keeps the variables (below) and the
        # signatures, not the Keras object and its Python-side state.
        object.__setattr__(self, "task", task)
        self.tokenizer = tokenizer
        # Tracked lists: the SavedModel saves exactly these variables.
        self.model_variables = list(task.variables)

    def signatures(self):
        """`{name: concrete function}`; "serving_default" is the first."""
        raise NotImplementedError

    def _check_ids(self, token_ids, padding_mask):
        """An id signature's inputs, once the backbone's checks (ids in the
        vocabulary, one shape) and right-padding hold."""
        checked = self.task.backbone.check_inputs(
            {"token_ids": token_ids, "padding_mask": padding_mask})
        lengths = prepare.right_padded_lengths(checked["padding_mask"])
        with tf.control_dependencies([lengths]):
            return tf.identity(checked["token_ids"])


def label_names(labels, count):
    """Label names as strings; ids "0", "1", ... when none are given."""
    if labels is None:
        return [str(i) for i in range(count)]
    labels = [str(label) for label in labels]
    if len(labels) != count:
        raise ValueError(
            f"{len(labels)} label names for a model with {count} classes.")
    return labels
