"""Hugging Face tokenizer files <-> the keras-hub tokenizers the zoo uses.

BERT's WordPiece becomes `keras_hub.models.BertTokenizer`, GPT-2's
byte-level BPE `keras_hub.models.GPT2Tokenizer`: the tokenizers the zoo's
recipes train, which save inside a `.keras` file and tokenize inside an
exported SavedModel. Read from `tokenizer.json` (what `transformers` 5
writes) or the older files (`vocab.txt`; `vocab.json` + `merges.txt`);
written as the older files and a `tokenizer_config.json`, which every
`transformers` release reads. MarianMT's `source.spm`, `target.spm` and
`vocab.json` become the zoo's `MarianTokenizer`, and are written back
as they were.
"""

import json
import os

import keras_hub

from zoo.data.tokenizer_classes import END_OF_TEXT
from zoo.data.tokenizer_classes import MarianTokenizer


def load_json(file):
    """The JSON object in `file`; a ValueError naming the file if it holds
    no JSON object (a cut download, a wrong file)."""
    with open(file, encoding="utf-8") as f:
        try:
            value = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{file} is not valid JSON ({error}); it may be "
                             "truncated or still downloading.") from error
    if not isinstance(value, dict):
        raise ValueError(f"{file} must hold a JSON object ({{...}}); it "
                         f"holds a {type(value).__name__}.")
    return value


def _read_json(path, name):
    file = os.path.join(path, name)
    return load_json(file) if os.path.isfile(file) else None


def read_lines(file):
    """The lines of `vocab.txt` (one token each), as `transformers` reads
    them."""
    with open(file, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f]


def read_merges(file):
    """The merges of `merges.txt` or GPT-2's `vocab.bpe`, without the
    `#version` line."""
    merges = [m for m in read_lines(file) if m and not m.startswith("#version")]
    return check_merges(merges, file)


def check_merges(merges, source):
    """`merges`, once each is known to be two tokens and a space."""
    for i, merge in enumerate(merges):
        if len(merge.split(" ")) != 2:
            raise ValueError(
                f"{source}: merge {i + 1} ({merge[:40]!r}) is not two tokens "
                "separated by one space; the file is damaged or not a BPE "
                "merges file.")
    return merges


def check_bert_vocabulary(vocabulary, source):
    """`vocabulary`, once it is known to hold BERT's special tokens, which
    keras-hub's `BertTokenizer` needs."""
    from zoo.data.tokenizers import BERT_SPECIAL_TOKENS

    missing = [t for t in BERT_SPECIAL_TOKENS if t not in set(vocabulary)]
    if missing:
        raise ValueError(
            f"{source}: the vocabulary ({len(vocabulary):,} tokens) lacks "
            f"BERT's special tokens {missing}; a BERT vocabulary holds all "
            f"of {BERT_SPECIAL_TOKENS}.")
    return vocabulary


def _by_id(vocabulary, source):
    """{token: id} -> the tokens in id order, which must be 0..n-1."""
    tokens = sorted(vocabulary, key=vocabulary.get)
    if [vocabulary[t] for t in tokens] != list(range(len(tokens))):
        raise ValueError(f"{source}: the vocabulary's ids are not 0..n-1.")
    return tokens


def _wordpiece(path, settings, fast):
    normalizer = (fast or {}).get("normalizer") or {}
    if (fast and fast.get("model", {}).get("type") == "WordPiece"
            and normalizer.get("type") == "BertNormalizer"):
        vocabulary = check_bert_vocabulary(
            _by_id(fast["model"]["vocab"], "tokenizer.json"),
            os.path.join(path, "tokenizer.json"))
        lowercase = normalizer.get("lowercase", True)
        strip_accents = normalizer.get("strip_accents")
        cjk = normalizer.get("handle_chinese_chars", True)
    elif os.path.isfile(os.path.join(path, "vocab.txt")):
        file = os.path.join(path, "vocab.txt")
        vocabulary = check_bert_vocabulary(read_lines(file), file)
        lowercase = settings.get("do_lower_case", True)
        strip_accents = settings.get("strip_accents")
        cjk = settings.get("tokenize_chinese_chars", True)
    else:
        return None
    if strip_accents is None:  # BERT: accents go with case
        strip_accents = lowercase
    return keras_hub.models.BertTokenizer(
        vocabulary=vocabulary, lowercase=lowercase,
        strip_accents=strip_accents, split_on_cjk=cjk)


def _byte_pair(path, fast):
    if fast and fast.get("model", {}).get("type") == "BPE":
        vocabulary = dict(fast["model"]["vocab"])
        merges = check_merges([m if isinstance(m, str) else " ".join(m)
                               for m in fast["model"]["merges"]],
                              os.path.join(path, "tokenizer.json"))
        for added in fast.get("added_tokens", []):
            vocabulary.setdefault(added["content"], added["id"])
    elif all(os.path.isfile(os.path.join(path, name))
             for name in ("vocab.json", "merges.txt")):
        vocabulary = _read_json(path, "vocab.json")
        merges = read_merges(os.path.join(path, "merges.txt"))
    else:
        return None
    return keras_hub.models.GPT2Tokenizer(vocabulary=vocabulary, merges=merges)


def _marian(path, settings):
    if (settings.get("separate_vocabs")
            or os.path.isfile(os.path.join(path, "target_vocab.json"))):
        raise ValueError(
            f"{path}: a MarianMT tokenizer with separate source and target "
            "vocabularies (target_vocab.json); the zoo reads the shared "
            "vocabulary that the opus-mt models have.")
    if not all(os.path.isfile(os.path.join(path, name))
               for name in MarianTokenizer.FILES):
        return None
    tokenizer = MarianTokenizer()
    tokenizer.load_assets(path)
    return tokenizer


def read_tokenizer(path, config):
    """The keras-hub tokenizer of the Hugging Face directory `path` (whose
    `config.json` is `config`), or None if it has no tokenizer files."""
    if config["model_type"] == "marian":
        return _marian(path, _read_json(path, "tokenizer_config.json") or {})
    fast = _read_json(path, "tokenizer.json")
    if config["model_type"] == "bert":
        settings = _read_json(path, "tokenizer_config.json") or {}
        return _wordpiece(path, settings, fast)
    return _byte_pair(path, fast)


def check_fits(tokenizer, vocabulary_size, source):
    size = int(tokenizer.vocabulary_size())
    if size > vocabulary_size:
        raise ValueError(
            f"{source}: the tokenizer has {size:,} tokens but the embedding "
            f"only {vocabulary_size:,}; ids past the embedding would be "
            "wrong. The tokenizer and the weights come from different models.")


def end_token_id(tokenizer):
    """GPT-2's `<|endoftext|>` id in `tokenizer` (None without one)."""
    if tokenizer is None or END_OF_TEXT not in tokenizer.get_vocabulary():
        return None
    return int(tokenizer.token_to_id(END_OF_TEXT))


def tokenizer_files(tokenizer, config):
    """{file name: text or bytes} of `tokenizer` for a Hugging Face
    directory with `config` (`config.json`); {} for no tokenizer."""
    if tokenizer is None:
        return {}
    family = config["model_type"]
    length = config.get("max_position_embeddings", config.get("n_positions"))
    if family == "bert" and isinstance(
            tokenizer, keras_hub.tokenizers.WordPieceTokenizer):
        settings = {"tokenizer_class": "BertTokenizer",
                    "do_lower_case": tokenizer.lowercase,
                    "strip_accents": tokenizer.strip_accents,
                    "tokenize_chinese_chars": tokenizer.split_on_cjk,
                    "model_max_length": length}
        return {"vocab.txt": "".join(
                    t + "\n" for t in tokenizer.get_vocabulary()),
                "tokenizer_config.json": json.dumps(settings, indent=2)}
    if family == "gpt2" and isinstance(
            tokenizer, keras_hub.tokenizers.BytePairTokenizer):
        settings = {"tokenizer_class": "GPT2Tokenizer",
                    "add_prefix_space": False, "model_max_length": length}
        if END_OF_TEXT in tokenizer.vocabulary:
            settings.update(bos_token=END_OF_TEXT, eos_token=END_OF_TEXT,
                            unk_token=END_OF_TEXT)
        return {"vocab.json": json.dumps(tokenizer.vocabulary,
                                         ensure_ascii=False),
                "merges.txt": "#version: 0.2\n" + "".join(
                    m + "\n" for m in tokenizer.merges),
                "tokenizer_config.json": json.dumps(settings, indent=2)}
    if family == "marian" and isinstance(tokenizer, MarianTokenizer):
        settings = {"tokenizer_class": "MarianTokenizer",
                    "separate_vocabs": False, "model_max_length": length}
        return {**tokenizer.files(),
                "tokenizer_config.json": json.dumps(settings, indent=2)}
    raise ValueError(
        f"A {type(tokenizer).__name__} has no Hugging Face {family} tokenizer "
        "files (BERT: WordPiece, GPT-2: byte-level BPE, MarianMT: its "
        "MarianTokenizer). Set "
        "`model.tokenizer = None` to write the weights alone.")
