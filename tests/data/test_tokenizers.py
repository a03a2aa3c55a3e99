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
