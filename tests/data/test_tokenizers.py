"""Tokenizers: trained from text, round trips, saved and reloaded."""

import keras
import numpy as np
import pytest

from zoo.data import tokenizers
from zoo.models import GPTDecoder
from zoo.tasks import CausalLM

TEXTS = [
    "The quick brown fox jumps over the lazy dog.\n"
    "Pack my box with five dozen liquor jugs.  Twice spaced.\n",
    "How vexingly quick daft zebras jump!\nSphinx of black quartz, judge "
    "my vow.\n",
] * 20
SAMPLE = "The lazy fox judges  quartz jugs.\nHow quick!"


@pytest.fixture(scope="module", params=["byte_pair", "character",
                                        "sentence_piece", "wordpiece"])
def tokenizer(request):
    return tokenizers.train_tokenizer(request.param, TEXTS, vocabulary_size=300)


def roundtrip(tokenizer, text):
    ids = tokenizers.tokenize_lines(tokenizer, [text])[0]
    out = tokenizer.detokenize(ids)
    return ids, out.decode() if isinstance(out, bytes) else str(out)


def test_round_trip(tokenizer):
    ids, text = roundtrip(tokenizer, SAMPLE)
    assert ids.dtype == np.int32 and ids.size > 0
    assert ids.max() < tokenizer.vocabulary_size()
    if isinstance(tokenizer, keras.layers.Layer) and hasattr(
            tokenizer, "mask_token_id"):  # WordPiece normalizes
        assert text == "the lazy fox judges quartz jugs . how quick !"
    elif isinstance(tokenizer, tokenizers.SubwordTokenizer):
        assert text == " ".join(SAMPLE.split())  # SentencePiece: whitespace
    else:
        assert text == SAMPLE


def test_save_and_load_give_the_same_ids(tokenizer, tmp_path):
    tokenizers.save_tokenizer(tokenizer, str(tmp_path))
    loaded = tokenizers.load_tokenizer(str(tmp_path))
    assert type(loaded) is type(tokenizer)
    np.testing.assert_array_equal(
        tokenizers.tokenize_lines(loaded, [SAMPLE])[0],
        tokenizers.tokenize_lines(tokenizer, [SAMPLE])[0],
    )


def test_special_tokens():
    gpt = tokenizers.train_byte_pair(TEXTS, 300)
    assert gpt.end_token_id == gpt.token_to_id("<|endoftext|>")
    chars = tokenizers.train_characters(TEXTS)
    assert chars.end_token_id == 0
    assert tokenizers.tokenize_lines(chars, ["~"])[0].tolist() == [1]  # <unk>
    subword = tokenizers.train_sentence_piece(TEXTS, 300)
    assert (subword.pad_token_id, subword.start_token_id,
            subword.end_token_id) == (0, 2, 3)
    assert subword.sentinel_ids() == list(range(4, 4 + tokenizers.NUM_SENTINELS))


def test_fast_byte_pair_encoding_equals_keras_hub_in_graph():
    """Data is encoded with HF `tokenizers`; the model serves with keras-hub's
    graph path (as in a SavedModel). They must agree."""
    import tensorflow as tf

    tokenizer = tokenizers.train_byte_pair(TEXTS, 300)
    lines = SAMPLE.splitlines(keepends=True) + ["  two  spaces ", "é ü 日本"]
    graph = tf.function(tokenizer)(tf.constant(lines)).to_list()
    fast = [ids.tolist() for ids in tokenizers.tokenize_lines(tokenizer, lines)]
    assert fast == graph


def test_wordpiece_vocabulary_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join(tokenizers.BERT_SPECIAL_TOKENS
                              + ["the", "fox", "##es"]) + "\n")
    tokenizer = tokenizers.load_wordpiece(str(path))
    assert tokenizers.tokenize_lines(tokenizer, ["The foxes"])[0].tolist() == [
        5, 6, 7]
    path.write_text("the\nfox\n")
    with pytest.raises(ValueError, match=r"lacks BERT's special tokens"):
        tokenizers.load_wordpiece(str(path))
    with pytest.raises(FileNotFoundError, match="No WordPiece vocabulary"):
        tokenizers.load_wordpiece(str(tmp_path / "missing.txt"))


def test_empty_corpus_is_refused():
    with pytest.raises(ValueError, match="empty corpus"):
        tokenizers.train_tokenizer("character", ["", "  \n"])


def test_task_saves_its_tokenizer_inside_the_keras_file(tmp_path):
    tokenizer = tokenizers.train_characters(TEXTS)
    backbone = GPTDecoder(vocabulary_size=tokenizer.vocabulary_size(),
                          num_layers=1, num_heads=2, hidden_dim=16,
                          intermediate_dim=32, max_sequence_length=32)
    task = CausalLM(backbone, tokenizer)
    path = str(tmp_path / "lm.keras")
    task.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.tokenizer.get_vocabulary() == tokenizer.get_vocabulary()
    assert (loaded.generate("The", max_new_tokens=4)
            == task.generate("The", max_new_tokens=4))


def test_unseen_characters_stay_visible_as_the_replacement_character():
    """A character the tokenizer never saw is <unk>, which reads as U+FFFD
    (as keras-hub and Hugging Face keep their unknown token): it does not
    vanish from the text, and the text tokenizes back to the same ids."""
    chars = tokenizers.train_characters(["hello"])
    ids = tokenizers.tokenize_lines(chars, ["help!"])[0]
    assert ids.tolist()[3:] == [chars.unknown_token_id] * 2
    _, text = roundtrip(chars, "help!")
    assert text == "hel\ufffd\ufffd"
    assert tokenizers.tokenize_lines(chars, [text])[0].tolist() == ids.tolist()


def test_unseen_characters_in_a_prompt_stay_visible_in_generate():
    chars = tokenizers.train_characters(TEXTS)
    task = CausalLM(GPTDecoder(vocabulary_size=chars.vocabulary_size(),
                               num_layers=1, num_heads=2, hidden_dim=8,
                               intermediate_dim=16, max_sequence_length=16),
                    chars)
    assert task.generate("The €", max_new_tokens=2).startswith("The \ufffd")


@pytest.mark.parametrize("kind, minimum", [
    ("byte_pair", 258), ("wordpiece", 6), ("sentence_piece", 105)])
def test_vocabulary_sizes_below_the_minimum_are_refused_at_once(kind, minimum):
    tokenizers.check_vocabulary_size(kind, minimum)
    with pytest.raises(ValueError, match=f"needs at least {minimum}"):
        tokenizers.check_vocabulary_size(kind, minimum - 1)
    with pytest.raises(ValueError, match=f"needs at least {minimum}"):
        tokenizers.train_tokenizer(kind, TEXTS, minimum - 1)
    tokenizers.check_vocabulary_size("character", 1)  # the size is unused


@pytest.mark.parametrize("kind", ["byte_pair", "wordpiece"])
def test_the_smallest_vocabulary_trains(kind):
    tokenizer = tokenizers.train_tokenizer(kind, TEXTS, 258 if kind ==
                                           "byte_pair" else 6)
    ids = tokenizers.tokenize_lines(tokenizer, [SAMPLE])[0]
    assert ids.size > 0 and ids.max() < tokenizer.vocabulary_size()


@pytest.mark.parametrize("kind", ["byte_pair", "wordpiece"])
def test_a_word_too_long_to_train_on_is_refused_fast(kind):
    """Training time grows with the square of a word's length: a word
    past MAX_WORD_LENGTH is refused before any training, while long runs
    that the pre-tokenizer splits (punctuation) are fine."""
    import time

    start = time.perf_counter()
    with pytest.raises(ValueError, match="a word of 800,000 characters"):
        tokenizers.train_tokenizer(kind, TEXTS + ["ab" * 400_000], 400)
    assert time.perf_counter() - start < 5
    split = ("a" * 100 + ",") * 2_000  # 202,000 characters, no whitespace
    tokenizers.train_tokenizer(kind, TEXTS + [split], 400)
