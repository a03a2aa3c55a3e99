"""Serving modules of the BERT family: classifier, tagger, masked LM.

Inputs are packed as the fine-tuning recipe packs them, `[CLS] a [SEP]`
or `[CLS] a [SEP] b [SEP]`, to the longest row of the batch (at most
`sequence_length`). Shapes: B batch, T tokens, W words, M masks, K top-k.
"""

import keras_hub
import tensorflow as tf

from zoo.export import text
from zoo.export.serving import ServingModule
from zoo.export.serving import float32
from zoo.export.serving import graph_assert
from zoo.export.serving import ids_spec
from zoo.export.serving import strings_spec


class _EncoderModule(ServingModule):
    """Packing of `[CLS] a [SEP] (b [SEP])` for the BERT-family tasks."""

    def __init__(self, task, tokenizer, sequence_length, segments=1):
        super().__init__(task, tokenizer)
        limit = task.backbone.max_sequence_length
        sequence_length = sequence_length or limit
        if not 2 + segments <= sequence_length <= limit:
            raise ValueError(
                f"`sequence_length`={sequence_length} does not fit: it must "
                f"leave room for [CLS] and {segments} [SEP] and text, and be "
                f"at most the model's max_sequence_length {limit}.")
        self.sequence_length = sequence_length
        keras_tokenizer = tokenizer.tokenizer
        self.cls_id = keras_tokenizer.cls_token_id
        self.sep_id = keras_tokenizer.sep_token_id
        self.pad_id = keras_tokenizer.pad_token_id

    def _pack(self, segments):
        """Ragged segments -> `(token_ids, segment_ids, padding_mask)` (B, T),
        T the longest packed row; segments cut round-robin to fit."""
        check = graph_assert(
            segments[0].nrows() > 0,
            "The batch is empty: give at least one text.")
        with tf.control_dependencies([check]):
            segments = [tf.identity(s) for s in segments]
        packer = keras_hub.layers.MultiSegmentPacker(
            sequence_length=self.sequence_length, start_value=self.cls_id,
            end_value=self.sep_id, pad_value=self.pad_id,
            truncate="round_robin",
        )
        token_ids, segment_ids = packer(tuple(segments))
        lengths = 1 + sum(
            tf.cast(s.row_lengths(), "int32") + 1 for s in segments)
        length = tf.minimum(tf.reduce_max(lengths), self.sequence_length)
        mask = tf.range(length)[None, :] < tf.minimum(
            lengths, self.sequence_length)[:, None]
        return (tf.cast(token_ids[:, :length], "int32"),
                tf.cast(segment_ids[:, :length], "int32"), mask)

    def _inputs(self, token_ids, segment_ids, padding_mask):
        return {"token_ids": token_ids, "segment_ids": segment_ids,
                "padding_mask": padding_mask}


class ClassifierModule(_EncoderModule):
    """`classify`: strings (or string pairs) -> class probabilities and the
    predicted label. Longer inputs are cut to `sequence_length`, the longer
    sentence first (round-robin), as the fine-tuning recipe's `--truncate`.
    """

    def __init__(self, task, tokenizer, labels, sequence_length, pairs):
        super().__init__(task, tokenizer, sequence_length, 2 if pairs else 1)
        self.labels = tf.constant(list(labels))
        self.pairs = pairs

    def _outputs(self, logits):
        logits = float32(logits)
        if self.task.num_classes == 1:
            return {"score": logits[:, 0]}
        probabilities = tf.nn.softmax(logits, axis=-1)
        label_id = tf.argmax(logits, axis=-1, output_type=tf.int32)
        return {"probabilities": probabilities, "label_id": label_id,
                "label": tf.gather(self.labels, label_id)}

    def _classify(self, *texts):
        if self.pairs:
            check = graph_assert(
                tf.size(texts[0]) == tf.size(texts[1]),
                "`text` and `text_pair` have different batch sizes: give "
                "one text_pair per text.")
            with tf.control_dependencies([check]):
                texts = [tf.identity(t) for t in texts]
        segments = [self.tokenizer.tokenize(text.clean(t)) for t in texts]
        inputs = self._inputs(*self._pack(segments))
        return self._outputs(self.task(inputs, training=False))

    def _classify_ids(self, token_ids, segment_ids, padding_mask):
        token_ids = self._check_ids(token_ids, padding_mask)
        logits = self.task(self._inputs(token_ids, segment_ids, padding_mask),
                           training=False)
        return {"logits": float32(logits), **self._outputs(logits)}

    def signatures(self):
        texts = [strings_spec("text")] + ([strings_spec("text_pair")] if self.pairs
                                      else [])
        return {
            "classify": tf.function(
                self._classify, input_signature=texts, autograph=False),
            "classify_ids": tf.function(
                self._classify_ids, autograph=False,
                input_signature=[ids_spec("token_ids"), ids_spec("segment_ids"),
                                 ids_spec("padding_mask")]),
        }


class TaggerModule(_EncoderModule):
    """`tag`: strings -> their words and a tag per word, from the word's
    first piece (as the fine-tuning recipe tags). Words are split at any
    Unicode whitespace, as Python's `str.split()` splits. Words that do not
    fit in `sequence_length` get the tag "".
    """

    def __init__(self, task, tokenizer, labels, sequence_length):
        super().__init__(task, tokenizer, sequence_length)
        self.labels = tf.constant(list(labels))
        self.unk_id = tokenizer.tokenizer.token_to_id("[UNK]")

    def _tag(self, texts):
        words = text.split_words(text.clean(texts))  # (B, W) ragged
        pieces = self.tokenizer.tokenize(words.flat_values)  # (B*W, None)
        # A word that tokenizes to nothing is [UNK], so it still has a tag.
        empty = tf.cast(pieces.row_lengths() == 0, "int64")
        unknown = tf.RaggedTensor.from_row_lengths(
            tf.fill([tf.reduce_sum(empty)], self.unk_id), empty)
        pieces = tf.concat([pieces, unknown], axis=1)
        first = tf.equal(text.row_positions(pieces), 0)
        pieces = words.with_flat_values(pieces).merge_dims(1, 2)  # (B, N)
        first = words.with_flat_values(first).merge_dims(1, 2)
        budget = self.sequence_length - 2
        token_ids, segment_ids, mask = self._pack([pieces])
        logits = self.task(self._inputs(token_ids, segment_ids, mask),
                           training=False)  # (B, T, C)
        # Position of each word's first piece in the packed row ([CLS] is
        # 0); a word is kept if that piece is inside the packed row.
        first_positions = tf.ragged.boolean_mask(
            1 + text.row_positions(first), first)  # (B, W)
        kept = first_positions.flat_values <= budget
        position = tf.where(kept, first_positions.flat_values, 0)
        row = tf.repeat(tf.range(tf.shape(texts)[0], dtype="int64"),
                        first_positions.row_lengths())
        tag_ids = tf.gather_nd(
            tf.argmax(logits, axis=-1, output_type=tf.int32),
            tf.stack([row, tf.cast(position, "int64")], axis=1))
        tags = tf.where(kept, tf.gather(self.labels, tag_ids), "")
        return {"words": words.to_tensor(""),
                "tags": words.with_flat_values(tags).to_tensor(""),
                "num_words": tf.cast(words.row_lengths(), "int32")}

    def _tag_ids(self, token_ids, segment_ids, padding_mask):
        token_ids = self._check_ids(token_ids, padding_mask)
        logits = float32(self.task(
            self._inputs(token_ids, segment_ids, padding_mask), training=False))
        return {"logits": logits,
                "probabilities": tf.nn.softmax(logits, axis=-1)}

    def signatures(self):
        return {
            "tag": tf.function(self._tag, autograph=False,
                               input_signature=[strings_spec("text")]),
            "tag_ids": tf.function(
                self._tag_ids, autograph=False,
                input_signature=[ids_spec("token_ids"), ids_spec("segment_ids"),
                                 ids_spec("padding_mask")]),
        }


class MaskedLMModule(_EncoderModule):
    """`fill_mask`: strings with `[MASK]` tokens -> the `top_k` most likely
    fillers of each mask and their probabilities. An input longer than
    `sequence_length` is an error: cutting it could drop a mask.
    """

    def __init__(self, task, tokenizer, sequence_length, top_k):
        super().__init__(task, tokenizer, sequence_length)
        vocabulary_size = task.backbone.vocabulary_size
        if not 1 <= top_k <= vocabulary_size:
            raise ValueError(f"`top_k`={top_k} must be between 1 and the "
                             f"vocabulary size {vocabulary_size}.")
        self.top_k = top_k
        original = tokenizer.tokenizer
        # The same vocabulary, reading "[MASK]" in a string as the token.
        config = {key: value for key, value in original.get_config().items()
                  if key not in ("vocabulary", "dtype", "name", "trainable")}
        config["special_tokens_in_strings"] = True
        self.mask_tokenizer = text.GraphTokenizer(
            type(original)(vocabulary=original.get_vocabulary(), **config),
            with_assets=False)
        self.mask_id = original.mask_token_id
        self.vocabulary = tf.constant(original.get_vocabulary())

    def _fill(self, inputs):
        token_ids = inputs["token_ids"]  # (B, T)
        is_mask = tf.equal(token_ids, self.mask_id) & tf.cast(
            inputs["padding_mask"], "bool")
        positions = tf.ragged.boolean_mask(
            tf.broadcast_to(tf.range(tf.shape(token_ids)[1]),
                            tf.shape(token_ids)), is_mask)  # (B, M) ragged
        mask_positions = positions.to_tensor(0)
        logits = self.task({**inputs, "mask_positions": mask_positions},
                           training=False)
        if isinstance(logits, dict):
            logits = logits["masked_lm"]
        probabilities = tf.nn.softmax(float32(logits), axis=-1)  # (B, M, V)
        scores, ids = tf.math.top_k(probabilities, k=self.top_k)  # (B, M, K)
        real = tf.sequence_mask(positions.row_lengths(),
                                tf.shape(mask_positions)[1])[:, :, None]
        return {
            "token_ids": tf.where(real, ids, 0),
            "scores": tf.where(real, scores, 0.0),
            "tokens": tf.where(real, tf.gather(self.vocabulary, ids), ""),
            "mask_positions": tf.where(real[:, :, 0], mask_positions, -1),
        }

    def _fill_mask(self, texts):
        ids = self.mask_tokenizer.tokenize(text.clean(texts))
        longest = tf.reduce_max(tf.cast(ids.row_lengths(), "int32")) + 2
        check = graph_assert(
            longest <= self.sequence_length,
            f"An input has more than {self.sequence_length} tokens (with "
            "[CLS] and [SEP]), the most this export takes. Shorten it; "
            "masked-LM inputs are not cut, as that could drop a mask.")
        with tf.control_dependencies([check]):
            token_ids, segment_ids, mask = self._pack([ids])
        return self._fill(self._inputs(token_ids, segment_ids, mask))

    def _fill_mask_ids(self, token_ids, segment_ids, padding_mask):
        token_ids = self._check_ids(token_ids, padding_mask)
        return self._fill(self._inputs(token_ids, segment_ids, padding_mask))

    def signatures(self):
        return {
            "fill_mask": tf.function(self._fill_mask, autograph=False,
                                     input_signature=[strings_spec("text")]),
            "fill_mask_ids": tf.function(
                self._fill_mask_ids, autograph=False,
                input_signature=[ids_spec("token_ids"), ids_spec("segment_ids"),
                                 ids_spec("padding_mask")]),
        }
