"""Tokenizers for the three families, trained from a corpus or loaded.

Every tokenizer here is a keras-hub tokenizer (a Keras layer), so a task
that holds one saves its vocabulary inside its `.keras` file, and
`save_tokenizer` / `load_tokenizer` keep a copy beside it in a model dir.

| family          | tokenizer                        | trained with                  |
|-----------------|----------------------------------|-------------------------------|
| BERT            | WordPiece (`BertTokenizer`)      | Hugging Face `tokenizers`     |
| GPT             | byte-level BPE (`GPT2Tokenizer`) | Hugging Face `tokenizers`     |
| GPT, small runs | characters (`CharacterTokenizer`)| the corpus's character set    |
| encoder-decoder | SentencePiece, shared src/target | `sentencepiece`               |
"""

import json
import os
import re

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from zoo.data.tokenizer_classes import END_OF_TEXT
from zoo.data.tokenizer_classes import CharacterTokenizer
from zoo.data.tokenizer_classes import MarianTokenizer
from zoo.data.tokenizer_classes import SubwordTokenizer

KINDS = ("wordpiece", "byte_pair", "character", "sentence_piece")
NUM_SENTINELS = 100  # T5's <extra_id_0> ... <extra_id_99>
BERT_SPECIAL_TOKENS = ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"]
# Training a subword vocabulary takes time that grows with the square of a
# word's length (Hugging Face's trainers rescan a word at each merge in
# it): a text of one 800,000-character word took minutes. Longer words
# are refused; no natural-language word comes near.
MAX_WORD_LENGTH = 10_000


def check_vocabulary_size(kind, vocabulary_size, num_sentinels=NUM_SENTINELS):
    """Raise unless a tokenizer of `kind` (one of `KINDS`) can be trained
    to `vocabulary_size` tokens: at least what it holds before it learns
    anything, and one learned token. Cheap, for a recipe to call before
    any work. (Characters take their vocabulary from the text and ignore
    the size; SentencePiece also needs a token for every character of its
    text, which only training finds out, and then says.)"""
    if kind not in KINDS:
        raise ValueError(f"Unknown tokenizer {kind!r}; choose one of {KINDS}.")
    if isinstance(vocabulary_size, bool) or not isinstance(
            vocabulary_size, (int, np.integer)):
        raise ValueError(f"`vocabulary_size` must be an int; got "
                         f"{vocabulary_size!r}.")
    minimum, holds = {
        "wordpiece": (len(BERT_SPECIAL_TOKENS) + 1,
                      f"its {len(BERT_SPECIAL_TOKENS)} special tokens and a "
                      "learned one"),
        "byte_pair": (256 + 1 + 1, "the 256 bytes, <|endoftext|> and a merge"),
        "sentence_piece": (4 + num_sentinels + 1,
                           f"<pad>, <unk>, <s>, </s>, {num_sentinels} "
                           "sentinels and a piece"),
    }.get(kind, (0, ""))
    if vocabulary_size < minimum:
        raise ValueError(
            f"vocabulary_size={vocabulary_size} is too small for a {kind} "
            f"tokenizer: it needs at least {minimum} ({holds}).")


def _check_texts(texts):
    texts = [texts] if isinstance(texts, str) else list(texts)
    if not any(text.strip() for text in texts):
        raise ValueError(
            "Cannot train a tokenizer on an empty corpus: every text is empty "
            "or whitespace. Check the data files."
        )
    return texts


def _check_word_lengths(texts, pre_tokenizer, kind):
    """Raise if `pre_tokenizer` (Hugging Face's) makes a word longer than
    `MAX_WORD_LENGTH` of `texts`. Only runs of that many characters without
    whitespace are pre-tokenized here, so ordinary text costs one regex
    scan."""
    long_run = re.compile(rf"\S{{{MAX_WORD_LENGTH + 1},}}")
    for text in texts:
        for run in long_run.finditer(text):
            for _, (start, end) in pre_tokenizer.pre_tokenize_str(run.group()):
                if end - start > MAX_WORD_LENGTH:
                    word = run.group()[start:end]
                    raise ValueError(
                        f"The text has a word of {len(word):,} characters "
                        f"with no whitespace or punctuation in it "
                        f"({word[:20]!r}...); {kind} training takes words of "
                        f"at most {MAX_WORD_LENGTH:,} characters (its time "
                        "grows with the square of a word's length). Check "
                        "the data files: is this text, with spaces between "
                        "its words?")


# WordPiece (BERT) ----------------------------------------------------------


def train_wordpiece(texts, vocabulary_size=8000, lowercase=True):
    """Train a BERT WordPiece vocabulary on `texts` (a list of strings).

    The vocabulary is learned by Hugging Face `tokenizers`' WordPiece
    trainer over BERT's pre-tokenization (whitespace and punctuation;
    lowercased when `lowercase`); the result is keras-hub's
    `BertTokenizer`, which does all tokenizing. keras-hub's own learner
    (tf-text's `bert_vocab_from_dataset`) took over 3 minutes on 7 MB of
    English here, and 6 minutes on 6,000 long German number words.
    """
    from tokenizers import Tokenizer
    from tokenizers import models
    from tokenizers import normalizers
    from tokenizers import pre_tokenizers
    from tokenizers import trainers

    check_vocabulary_size("wordpiece", vocabulary_size)
    texts = _check_texts(texts)
    learner = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    learner.normalizer = normalizers.BertNormalizer(
        lowercase=lowercase, strip_accents=lowercase)
    learner.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    _check_word_lengths(texts, learner.pre_tokenizer, "WordPiece")
    # "##c" for every character, given up front: the trainer would add
    # one only for characters it saw inside a word (a word with any other
    # inside would become [UNK] whole), and it numbers those it adds in
    # hash-map order, which breaks ties between merges differently from
    # run to run (huggingface/tokenizers#1794). Given sorted, the same
    # text always gives the same vocabulary.
    characters = sorted({c for text in texts
                         for c in learner.normalizer.normalize_str(text)
                         if not c.isspace()})
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocabulary_size,
        special_tokens=BERT_SPECIAL_TOKENS + [f"##{c}" for c in characters],
        continuing_subword_prefix="##", show_progress=False,
    )
    lines = (line for text in texts for line in text.splitlines())
    learner.train_from_iterator(lines, trainer)
    ids = learner.get_vocab()
    vocabulary = sorted(ids, key=ids.get)
    return keras_hub.models.BertTokenizer(vocabulary, lowercase=lowercase)


def load_wordpiece(path, lowercase=True):
    """A `BertTokenizer` from a `vocab.txt` file (one token per line)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No WordPiece vocabulary file at {path!r}.")
    with open(path, encoding="utf-8") as file:
        vocabulary = [line.rstrip("\n") for line in file]
    missing = [t for t in BERT_SPECIAL_TOKENS if t not in vocabulary]
    if missing:
        raise ValueError(
            f"The vocabulary {path!r} lacks BERT's special tokens {missing}; "
            f"a BERT vocabulary needs all of {BERT_SPECIAL_TOKENS}."
        )
    return keras_hub.models.BertTokenizer(vocabulary, lowercase=lowercase)


# Byte-level BPE (GPT-2) ------------------------------------------------------


def train_byte_pair(texts, vocabulary_size=8000):
    """Train a GPT-2-style byte-level BPE on `texts`.

    The merges are learned by Hugging Face `tokenizers` (a keras-hub
    dependency) with GPT-2's byte-to-unicode alphabet and pre-tokenizer;
    the result is keras-hub's `GPT2Tokenizer`, with `<|endoftext|>` as the
    start, end and document-separator token.
    """
    from tokenizers import Tokenizer
    from tokenizers import decoders
    from tokenizers import models
    from tokenizers import pre_tokenizers
    from tokenizers import trainers

    check_vocabulary_size("byte_pair", vocabulary_size)
    texts = _check_texts(texts)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    _check_word_lengths(texts, bpe.pre_tokenizer, "Byte-level BPE")
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocabulary_size,
        special_tokens=[END_OF_TEXT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer)
    state = json.loads(bpe.to_str())["model"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in state["merges"]]
    if not merges:
        raise ValueError(
            "Byte-level BPE learned no merges: no word of the text has two "
            "bytes to merge. Give it more text.")
    return keras_hub.models.GPT2Tokenizer(state["vocab"], merges)


# Characters (Tiny Shakespeare-style runs) -----------------------------------


def train_characters(texts):
    """A `CharacterTokenizer` over every character in `texts`."""
    texts = _check_texts(texts)
    return CharacterTokenizer(sorted(set().union(*map(set, texts))))


# SentencePiece (the encoder-decoder's shared vocabulary) --------------------


def train_sentence_piece(texts, vocabulary_size=8000, model_type="unigram",
                         num_sentinels=NUM_SENTINELS):
    """Train one SentencePiece model on `texts` (source and target text)."""
    import io

    import sentencepiece

    check_vocabulary_size("sentence_piece", vocabulary_size, num_sentinels)
    texts = _check_texts(texts)
    lines = (line for text in texts for line in text.splitlines()
             if line.strip())
    proto = io.BytesIO()
    try:
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=lines,
            model_writer=proto,
            vocab_size=vocabulary_size,
            model_type=model_type,
            pad_id=0, unk_id=1, bos_id=2, eos_id=3,
            pad_piece="<pad>", unk_piece="<unk>", bos_piece="<s>",
            eos_piece="</s>",
            user_defined_symbols=[f"<extra_id_{i}>"
                                  for i in range(num_sentinels)],
            character_coverage=1.0,
            hard_vocab_limit=False,  # small corpora may not fill it
            minloglevel=2,
        )
    except RuntimeError as error:
        needed = re.search(r"smaller than required_chars\. \d+ vs (\d+)",
                           str(error))
        if needed is None:
            raise
        raise ValueError(
            f"vocabulary_size={vocabulary_size} is too small for this text: "
            f"SentencePiece needs at least {needed.group(1)} (every "
            "character of the text and the special tokens).") from error
    return SubwordTokenizer(proto.getvalue())


# Build from flags, save and load ----------------------------------------------


def train_tokenizer(kind, texts, vocabulary_size=8000, lowercase=True):
    """Train a tokenizer of `kind` (one of `KINDS`) on `texts`."""
    if kind == "wordpiece":
        return train_wordpiece(texts, vocabulary_size, lowercase)
    if kind == "byte_pair":
        return train_byte_pair(texts, vocabulary_size)
    if kind == "character":
        return train_characters(texts)
    if kind == "sentence_piece":
        return train_sentence_piece(texts, vocabulary_size)
    raise ValueError(f"Unknown tokenizer {kind!r}; choose one of {KINDS}.")


def save_tokenizer(tokenizer, directory):
    """Write `tokenizer.json` (its config) and its vocabulary files."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "tokenizer.json"), "w") as file:
        json.dump(keras.saving.serialize_keras_object(tokenizer), file,
                  indent=2)
    tokenizer.save_assets(directory)


def load_tokenizer(directory):
    """The tokenizer `save_tokenizer` wrote into `directory`."""
    path = os.path.join(directory, "tokenizer.json")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"No tokenizer in {directory!r} (expected {path}). Point to a "
            "model dir written by a zoo recipe."
        )
    with open(path) as file:
        tokenizer = keras.saving.deserialize_keras_object(json.load(file))
    tokenizer.load_assets(directory)
    return tokenizer


def tokenize_lines(tokenizer, lines, batch_size=1024, target=False):
    """Token ids of each string in `lines`: a list of int32 arrays.
    `target`: the lines are a translation's targets (MarianMT's tokenizer
    cuts them with its target model).

    For data preparation. keras-hub's byte-pair tokenizer runs its merges
    in TensorFlow graph loops, about 1,600 characters/s here, so
    `GPT2Tokenizer`s encode with Hugging Face `tokenizers` over the same
    vocabulary and merges (the same ids; tests/data check it). The
    keras-hub tokenizer stays the one saved with the model. SentencePiece
    models encode with the `sentencepiece` library itself (the same C++
    code as TensorFlow Text's op, whose eager resource `tf.random.set_seed`
    invalidates).
    """
    if not lines:
        return []
    if isinstance(tokenizer, keras_hub.tokenizers.BytePairTokenizer):
        encoder = _byte_pair_encoder(tokenizer)
        return [np.asarray(e.ids, "int32")
                for e in encoder.encode_batch(list(lines))]
    if isinstance(tokenizer, keras_hub.tokenizers.SentencePieceTokenizer):
        import sentencepiece

        processor = sentencepiece.SentencePieceProcessor(
            model_proto=tokenizer.proto)
        return [np.asarray(ids, "int32") for ids in processor.encode(list(lines))]
    def tokenize(texts):
        if target and isinstance(tokenizer, MarianTokenizer):
            return tokenizer.tokenize(texts, target=True)
        return tokenizer(texts)

    dataset = tf.data.Dataset.from_tensor_slices(list(lines)).batch(batch_size)
    return [
        np.asarray(ids, "int32")
        for batch in dataset.map(tokenize)
        for ids in batch.to_list()
    ]


def _byte_pair_encoder(tokenizer):
    from tokenizers import AddedToken
    from tokenizers import Tokenizer
    from tokenizers import models
    from tokenizers import pre_tokenizers

    merges = [tuple(merge.split(" ")) for merge in tokenizer.merges]
    encoder = Tokenizer(models.BPE(dict(tokenizer.vocabulary), merges))
    encoder.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    special = [t for t in tokenizer.special_tokens if t in tokenizer.vocabulary]
    encoder.add_special_tokens([AddedToken(t, normalized=False) for t in special])
    return encoder


def vocabulary_size(tokenizer):
    """The tokenizer's vocabulary size, as an int."""
    return int(tokenizer.vocabulary_size())
