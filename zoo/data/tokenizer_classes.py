"""The three tokenizers the zoo adds to keras-hub's.

All are keras-hub tokenizers (Keras layers working in TensorFlow ops), so
they save inside a task's `.keras` file and tokenize inside a SavedModel:

- `CharacterTokenizer`: one token per Unicode character, for small runs
  such as Tiny Shakespeare;
- `SubwordTokenizer`: keras-hub's SentencePiece tokenizer with the start,
  end and padding tokens and the span-corruption sentinels that the
  encoder-decoder recipes use;
- `MarianTokenizer`: MarianMT's (the opus-mt translators'), read from a
  Hugging Face directory by `zoo.convert`.

`zoo.data.tokenizers` trains, saves and loads them.
"""

import json
import os
import weakref

import keras
import keras_hub
import tensorflow as tf

from zoo import compat

END_OF_TEXT = "<|endoftext|>"  # GPT-2's document separator
UNKNOWN_CHARACTER = "\ufffd"  # how a character tokenizer's <unk> reads


class _TokenList:
    """The vocabulary methods of a tokenizer whose tokens are the list
    `self.vocabulary` (a token's id is its position), with `self._ids`
    mapping each token to its id."""

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

    def _joined(self, inputs, strings):
        """Ids, (B, None) or one row (N,), -> `(texts, one_row)`: the
        `strings` of each row's ids joined, (B,)."""
        if not isinstance(inputs, tf.RaggedTensor):
            inputs = tf.convert_to_tensor(inputs)
        one_row = inputs.shape.rank == 1
        ids = tf.cast(inputs[None] if one_row else inputs, "int32")
        pieces = tf.gather(strings, ids)  # (B, None) strings
        return tf.strings.reduce_join(pieces, axis=-1), one_row


@keras.saving.register_keras_serializable(package="zoo")
class CharacterTokenizer(_TokenList, keras_hub.tokenizers.Tokenizer):
    """One token per Unicode character of a fixed vocabulary.

    Id 0 is `<|endoftext|>` (start, end and document separator), id 1
    `<unk>`, then the characters. A character not seen in training becomes
    `<unk>`, as keras-hub's and Hugging Face's tokenizers map what they do
    not know to their unknown token, and `<unk>` detokenizes to U+FFFD
    "�" (Unicode's replacement character, which the zoo also puts for
    invalid UTF-8), so the loss stays visible in the text: it is not
    dropped, and "�" tokenizes back to `<unk>`. `<|endoftext|>`
    detokenizes to nothing.

    Args:
        vocabulary: list of single characters, or None (set later by
            `load_assets`).

    Example:

    >>> tokenizer = train_characters(["hello"])
    >>> tokenizer.detokenize(tokenizer("hole"))
    'hole'
    >>> tokenizer.detokenize(tokenizer("help!"))
    'hel��'
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
            ["", UNKNOWN_CHARACTER] + characters  # <|endoftext|>, <unk>, ...
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

    @compat.preprocessing_function
    def tokenize(self, inputs):
        characters = tf.strings.unicode_split(inputs, "UTF-8")  # (B, None)
        return tf.ragged.map_flat_values(self._table.lookup, characters)

    @compat.preprocessing_function
    def detokenize(self, inputs):
        texts, unbatched = self._joined(inputs, self._strings)
        return texts[0] if unbatched else texts


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


@keras.saving.register_keras_serializable(package="zoo")
class MarianTokenizer(_TokenList, keras_hub.tokenizers.Tokenizer):
    """MarianMT's tokenizer: two SentencePiece models and one vocabulary.

    Text -> ids: `source.spm` (`target.spm` for a translation's target:
    `tokenize(texts, target=True)`) cuts the text into pieces, the shared
    vocabulary (`vocab.json`) numbers them (`<unk>` for a piece it lacks)
    and `</s>` ends every text, as Marian trained on it (`transformers`'
    `MarianTokenizer` does the same). A leading language code such as
    `>>fra<<` (multilingual models) is one token. Ids -> text: the
    vocabulary's pieces joined, `▁` read as a space, as SentencePiece
    decodes pieces; `</s>`, `<pad>` and `<unk>` give nothing (as
    `transformers`' `decode(ids, skip_special_tokens=True)`). The decoder
    starts from `<pad>`: it is the start token.

    Args:
        source_model: bytes of the source SentencePiece model, or None
            (set later by `load_assets`).
        target_model: bytes of the target SentencePiece model.
        vocabulary: {piece: id}, ids 0..n-1.
    """

    FILES = ("source.spm", "target.spm", "vocab.json")
    ends_texts = True  # every text's ids end in </s>


    def __init__(self, source_model=None, target_model=None, vocabulary=None,
                 dtype="int32", **kwargs):
        super().__init__(dtype=dtype, **kwargs)
        self._add_special_token("</s>", "end_token")
        self._add_special_token("<pad>", "pad_token")
        self._add_special_token("<pad>", "start_token")  # the decoder's
        self._add_special_token("<unk>", "unknown_token")
        self.file_assets = list(self.FILES)
        # traced graph -> {side: SentencePiece op}; not tracked by Keras
        object.__setattr__(self, "_graph_models", weakref.WeakKeyDictionary())
        self.set_models(source_model, target_model, vocabulary)

    def set_models(self, source_model, target_model, vocabulary):
        self.vocabulary = None
        if vocabulary is None:
            return
        tokens = sorted(vocabulary, key=vocabulary.get)
        if [vocabulary[t] for t in tokens] != list(range(len(tokens))):
            raise ValueError("MarianMT's vocabulary: ids are not 0..n-1.")
        self.models = {"source": source_model, "target": target_model}
        self.vocabulary = tokens
        self._ids = dict(vocabulary)
        self._update_special_token_ids()
        self._table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(tokens), tf.range(len(tokens), dtype="int32")),
            default_value=self.unknown_token_id)
        silent = {self.end_token, self.pad_token, self.unknown_token}
        self._pieces = tf.constant(["" if t in silent else t for t in tokens])

    def files(self):
        """{file name: bytes}: the two SentencePiece models and
        `vocab.json`, as a MarianMT directory holds them."""
        return {"source.spm": self.models["source"],
                "target.spm": self.models["target"],
                "vocab.json": json.dumps(self._ids, ensure_ascii=False,
                                         indent=1).encode("utf-8")}

    def save_assets(self, dir_path):
        for name, content in self.files().items():
            with open(os.path.join(dir_path, name), "wb") as file:
                file.write(content)

    def load_assets(self, dir_path):
        models = []
        for side in ("source", "target"):
            with open(os.path.join(dir_path, f"{side}.spm"), "rb") as file:
                models.append(file.read())
        with open(os.path.join(dir_path, "vocab.json"),
                  encoding="utf-8") as file:
            self.set_models(*models, json.load(file))

    def _model(self, side):
        """TensorFlow Text's SentencePiece op of `side` ("source" or
        "target"): made anew in eager code (`tf.random.set_seed`
        invalidates an eager one), once per traced graph (each copy holds
        the whole model)."""
        import tensorflow_text

        graph = None if tf.executing_eagerly() else (
            tf.compat.v1.get_default_graph())
        models = {} if graph is None else self._graph_models.setdefault(
            graph, {})
        if side not in models:
            models[side] = tensorflow_text.SentencepieceTokenizer(
                model=self.models[side], out_type=tf.string)
        return models[side]

    @compat.preprocessing_function
    def tokenize(self, inputs, target=False):
        """Texts -> ids, cut by `source.spm`, or by `target.spm` with
        `target=True` (a translation's target, as `transformers`'
        `text_target=`)."""
        texts = tf.convert_to_tensor(inputs)
        unbatched = texts.shape.rank == 0
        texts = texts[None] if unbatched else texts  # (B,)
        # A leading ">>xx<<" is a language code: one token, not pieces.
        code = tf.strings.regex_replace(texts, r"(?s)^(>>.*?<<)?.*$", r"\1")
        rest = tf.strings.regex_replace(texts, r"(?s)^>>.*?<<", "")
        codes = tf.ragged.boolean_mask(code[:, None], code[:, None] != "")
        pieces = self._model("target" if target else "source").tokenize(
            rest)  # (B, None)
        ends = tf.fill(tf.stack([tf.shape(texts)[0], 1]), self.end_token)
        tokens = tf.concat([codes, pieces, ends], axis=1)  # (B, None)
        ids = tf.ragged.map_flat_values(self._table.lookup, tokens)
        return ids[0] if unbatched else ids

    @compat.preprocessing_function
    def detokenize(self, inputs):
        texts, unbatched = self._joined(inputs, self._pieces)  # (B,)
        texts = tf.strings.strip(tf.strings.regex_replace(texts, "▁", " "))
        return texts[0] if unbatched else texts
