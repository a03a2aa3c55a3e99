"""The two tokenizers the zoo adds to keras-hub's.

Both are keras-hub tokenizers (Keras layers working in TensorFlow ops), so
they save inside a task's `.keras` file and tokenize inside a SavedModel:

- `CharacterTokenizer`: one token per Unicode character, for small runs
  such as Tiny Shakespeare;
- `SubwordTokenizer`: keras-hub's SentencePiece tokenizer with the start,
  end and padding tokens and the span-corruption sentinels that the
  encoder-decoder recipes use.

`zoo.data.tokenizers` trains, saves and loads them.
"""

import json
import os

import keras
import keras_hub
import tensorflow as tf

from zoo import compat

END_OF_TEXT = "<|endoftext|>"  # GPT-2's document separator


@keras.saving.register_keras_serializable(package="zoo")
class CharacterTokenizer(keras_hub.tokenizers.Tokenizer):
    """One token per Unicode character of a fixed vocabulary.

    Id 0 is `<|endoftext|>` (start, end and document separator), id 1
    `<unk>` (characters not seen in training), then the characters.

    Args:
        vocabulary: list of single characters, or None (set later by
            `load_assets`).

    Example:

    >>> tokenizer = train_characters(["hello"])
    >>> tokenizer.detokenize(tokenizer("hole"))
    'hole'
    """

    SPECIAL_TOKENS = (END_OF_TEXT, "<unk>")

    def __init__(self, vocabulary=None, dtype="int32", **kwargs):
        super().__init__(dtype=dtype, **kwargs)
        self._add_special_token(END_OF_TEXT, "end_token")
        self._add_special_token(END_OF_TEXT, "start_token")
        self._add_special_token("<unk>", "unknown_token")
        self.file_assets = ["characters.json"]
        self.set_vocabulary(vocabulary)

    def set_vocabulary(self, characters):
        self.vocabulary = None
        if characters is None:
            return
        characters = [c for c in characters if c not in self.SPECIAL_TOKENS]
        bad = [c for c in characters if len(c) != 1]
        if bad:
            raise ValueError(f"Character vocabulary entries must be single "
                             f"characters; got {bad[:5]}.")
        self.vocabulary = list(self.SPECIAL_TOKENS) + characters
        self._ids = {token: i for i, token in enumerate(self.vocabulary)}
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(self.vocabulary),
                tf.range(len(self.vocabulary), dtype="int32"),
            ),
            default_value=1,  # <unk>
        )
        self._strings = tf.constant(
            [""] + [""] + characters  # specials detokenize to nothing
        )
        self._update_special_token_ids()

    def save_assets(self, dir_path):
        characters = self.vocabulary[len(self.SPECIAL_TOKENS):]
        with open(os.path.join(dir_path, "characters.json"), "w",
                  encoding="utf-8") as file:
            json.dump(characters, file, ensure_ascii=False)

    def load_assets(self, dir_path):
        with open(os.path.join(dir_path, "characters.json"),
                  encoding="utf-8") as file:
            self.set_vocabulary(json.load(file))

    def get_vocabulary(self):
        return list(self.vocabulary)

    def vocabulary_size(self):
        return len(self.vocabulary)

    def id_to_token(self, id):
        if not 0 <= id < len(self.vocabulary):
            raise ValueError(f"Id {id} is outside the vocabulary "
                             f"[0, {len(self.vocabulary)}).")
        return self.vocabulary[id]

    def token_to_id(self, token):
        if token not in self._ids:
            raise ValueError(f"{token!r} is not in the vocabulary.")
        return self._ids[token]

    @compat.preprocessing_function
    def tokenize(self, inputs):
        characters = tf.strings.unicode_split(inputs, "UTF-8")  # (B, None)
        return tf.ragged.map_flat_values(self._table.lookup, characters)

    @compat.preprocessing_function
    def detokenize(self, inputs):
        if not isinstance(inputs, tf.RaggedTensor):
            inputs = tf.convert_to_tensor(inputs)
        unbatched = inputs.shape.rank == 1
        ids = tf.cast(inputs[None] if unbatched else inputs, "int32")
        pieces = tf.gather(self._strings, ids)  # (B, None) strings
        outputs = tf.strings.reduce_join(pieces, axis=-1)  # (B,)
        return outputs[0] if unbatched else outputs


@keras.saving.register_keras_serializable(package="zoo")
class SubwordTokenizer(keras_hub.tokenizers.SentencePieceTokenizer):
    """A SentencePiece model shared by source and target.

    Ids: 0 `<pad>`, 1 `<unk>`, 2 `<s>` (decoder start), 3 `</s>` (end),
    then the sentinels `<extra_id_0>`, ... used by span corruption, then
    the learned pieces.
    """

    def __init__(self, proto=None, **kwargs):
        self._add_special_token("<pad>", "pad_token")
        self._add_special_token("<s>", "start_token")
        self._add_special_token("</s>", "end_token")
        super().__init__(proto=proto, **kwargs)

    def sentinel_ids(self):
        """Ids of `<extra_id_0>`, `<extra_id_1>`, ... in order."""
        vocabulary = set(self.get_vocabulary())
        count = 0
        while f"<extra_id_{count}>" in vocabulary:
            count += 1
        return [self.token_to_id(f"<extra_id_{i}>") for i in range(count)]
