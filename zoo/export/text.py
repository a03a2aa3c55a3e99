"""Text inside the exported graph: cleaning, tokenizing, detokenizing.

Every tokenizer of the zoo is a keras-hub tokenizer whose work is
TensorFlow ops, so the exported signatures tokenize inside the graph with
the very layer the model was trained with. One exception: keras-hub's
SentencePiece tokenizer keeps a TensorFlow Text resource that it creates
eagerly, which `tf.random.set_seed` invalidates and a SavedModel cannot
hold; here the SentencePiece op is built inside each traced function, with
the model proto as its attribute.

Shapes: B batch, N tokens (ragged), W words (ragged).
"""

import os
import tempfile

import keras_hub
import tensorflow as tf

REPLACEMENT_CHARACTER = 0xFFFD
# What Python's `str.split()` splits at: ASCII whitespace, the information
# separators, NEL and Unicode's space separators (RE2's \s is ASCII only).
WHITESPACE = r"[\s\x0b\x1c-\x1f\x85\p{Z}]+"


def clean(texts):
    """Replace invalid UTF-8 in `texts` (B,) by U+FFFD, as Python's
    `bytes.decode("utf-8", errors="replace")` does."""
    return tf.strings.unicode_transcode(
        texts, "UTF-8", "UTF-8", errors="replace",
        replacement_char=REPLACEMENT_CHARACTER,
    )


def split_words(texts):
    """(B,) strings -> (B, W) ragged words, as Python's `str.split()`."""
    return tf.strings.split(tf.strings.strip(
        tf.strings.regex_replace(texts, WHITESPACE, " ")))


class GraphTokenizer(tf.Module):
    """A keras-hub tokenizer, callable in a graph that a SavedModel keeps.

    Args:
        tokenizer: the keras-hub tokenizer the task was trained with.
        with_assets: bool. Save the tokenizer's files (vocabulary, merges
            or SentencePiece proto) in the SavedModel's `assets/`, for users
            who tokenize elsewhere.
    """

    def __init__(self, tokenizer, with_assets=True):
        super().__init__(name="tokenizer")
        self.tokenizer = tokenizer
        self.sentence_piece = isinstance(
            tokenizer, keras_hub.tokenizers.SentencePieceTokenizer
        )
        self.files = {}
        self.directory = None  # the asset files' copy until saved
        # Not tracked: graph -> op, rebuilt in every trace.
        object.__setattr__(self, "_sentence_piece_ops", {})
        if with_assets:
            directory = self.directory = tempfile.mkdtemp(
                prefix="zoo_tokenizer_")
            tokenizer.save_assets(directory)
            self.files = {
                name: tf.saved_model.Asset(os.path.join(directory, name))
                for name in sorted(os.listdir(directory))
            }

    def _sentence_piece_op(self):
        """One SentencePiece op per traced graph (it holds the model proto
        as an attribute, so each copy adds the whole proto to the graph)."""
        import tensorflow_text

        graph = tf.compat.v1.get_default_graph()
        if graph not in self._sentence_piece_ops:
            self._sentence_piece_ops[graph] = (
                tensorflow_text.SentencepieceTokenizer(
                    model=self.tokenizer.proto, out_type=tf.int32))
        return self._sentence_piece_ops[graph]

    def tokenize(self, texts):
        """(B,) strings -> (B, None) int32 ragged ids."""
        if self.sentence_piece:
            return self._sentence_piece_op().tokenize(texts)
        ids = self.tokenizer.tokenize(texts)
        return tf.cast(ids, "int32")

    def detokenize(self, ids):
        """(B, None) ragged ids -> (B,) strings."""
        if self.sentence_piece:
            return self._sentence_piece_op().detokenize(ids)
        texts = self.tokenizer.detokenize(ids)
        return tf.reshape(texts, [-1])


def row_positions(ids):
    """(B, None) ragged -> the same ragged shape holding 0, 1, 2, ... per row."""
    return tf.ragged.range(ids.row_lengths())

