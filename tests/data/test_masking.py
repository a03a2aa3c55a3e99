"""BERT data: the masking rate and its 80/10/10 split, whole words, NSP."""

import keras_hub
import numpy as np
import pytest

from zoo.data import masking
from zoo.data.tokenizers import BERT_SPECIAL_TOKENS

WORDS = [f"w{i}" for i in range(200)]
PIECES = [f"##p{i}" for i in range(50)]


@pytest.fixture(scope="module")
def tokenizer():
    return keras_hub.models.BertTokenizer(BERT_SPECIAL_TOKENS + WORDS + PIECES)


def random_documents(tokenizer, count, rng, pieces=False):
    """Documents of lines of word ids; document d uses words 20 d ... 20 d + 19
    (so a segment's document is known from its ids)."""
    first_piece = len(BERT_SPECIAL_TOKENS) + len(WORDS)
    documents = []
    for d in range(count):
        lines = []
        for _ in range(6):
            ids = []
            for _ in range(rng.integers(3, 10)):
                ids.append(len(BERT_SPECIAL_TOKENS) + 20 * d + rng.integers(20))
                if pieces:
                    ids += [first_piece + p for p in
                            rng.integers(50, size=rng.integers(0, 3))]
            lines.append(np.array(ids, "int32"))
        documents.append(lines)
    return documents


def batches(tokenizer, examples, count, **kwargs):
    dataset = masking.masked_lm_dataset(examples, tokenizer, 64, 32, **kwargs)
    return [(
        {k: v.numpy() for k, v in x.items()},
        {k: v.numpy() for k, v in y.items()} if isinstance(y, dict) else y.numpy(),
        {k: v.numpy() for k, v in w.items()} if isinstance(w, dict) else w.numpy(),
    ) for x, y, w in dataset.take(count)]


def test_rate_and_80_10_10_split(tokenizer):
    rng = np.random.default_rng(0)
    examples = masking.sentence_pairs(random_documents(tokenizer, 10, rng), 64,
                                      next_sentence_prediction=False)
    selected = selectable = as_mask = unchanged = 0
    specials = {tokenizer.cls_token_id, tokenizer.sep_token_id,
                tokenizer.pad_token_id}
    for x, labels, weights in batches(tokenizer, examples, 40):
        real = x["padding_mask"]
        for row in range(len(real)):
            n = int(weights[row].sum())
            positions = x["mask_positions"][row, :n]
            ids = x["token_ids"][row]
            # labels are the original tokens: [CLS], [SEP], padding never
            assert not set(labels[row, :n].tolist()) & specials
            selected += n
            selectable += int(real[row].sum()) - 2  # minus [CLS], [SEP]
            as_mask += int(np.sum(ids[positions] == tokenizer.mask_token_id))
            unchanged += int(np.sum(ids[positions] == labels[row, :n]))
    assert selected > 5000
    assert 0.14 < selected / selectable < 0.16
    assert 0.77 < as_mask / selected < 0.83
    # 10% unchanged, plus random replacements that drew the same token
    assert 0.08 < unchanged / selected < 0.12


def test_whole_word_masking_masks_every_piece_of_a_word(tokenizer):
    rng = np.random.default_rng(1)
    examples = masking.sentence_pairs(
        random_documents(tokenizer, 10, rng, pieces=True), 64, False)
    is_piece = np.array([t.startswith("##")
                         for t in tokenizer.get_vocabulary()])
    words_with_pieces = 0
    for x, labels, weights in batches(tokenizer, examples, 10,
                                      whole_word=True):
        for row in range(len(weights)):
            n = int(weights[row].sum())
            positions = x["mask_positions"][row, :n]
            chosen = set(positions.tolist())
            original = x["token_ids"][row].copy()
            original[positions] = labels[row, :n]
            for p in chosen:
                if is_piece[original[p]] and p > 1:  # (p = 1: a cut word)
                    assert p - 1 in chosen  # the word's previous piece
                if p + 1 < len(original) and is_piece[original[p + 1]]:
                    assert p + 1 in chosen  # and its next piece
                    words_with_pieces += 1
    assert words_with_pieces > 20


def test_next_sentence_pairs(tokenizer):
    rng = np.random.default_rng(2)
    documents = random_documents(tokenizer, 8, rng)
    examples = masking.sentence_pairs(documents, 64, True, seed=0)
    labels = [is_next for _, _, is_next in examples]
    assert 0.3 < np.mean(labels) < 0.7

    def document(ids):
        return {(int(i) - len(BERT_SPECIAL_TOKENS)) // 20 for i in ids}

    for a, b, is_next in examples:
        assert len(a) and len(b) and len(a) + len(b) <= 61
        assert (document(a) == document(b)) == bool(is_next)
    x, y, w = batches(tokenizer, examples, 1, next_sentence_prediction=True)[0]
    assert set(y) == {"masked_lm", "next_sentence"}
    for row in range(len(x["token_ids"])):
        ids, segments = x["token_ids"][row], x["segment_ids"][row]
        seps = np.flatnonzero(ids == tokenizer.sep_token_id)
        assert ids[0] == tokenizer.cls_token_id and len(seps) == 2
        assert np.all(segments[: seps[0] + 1] == 0)
        assert np.all(segments[seps[0] + 1 : seps[1] + 1] == 1)
        assert not x["padding_mask"][row, seps[1] + 1:].any()


def test_encode_lines_keeps_documents_and_lines_apart(tokenizer):
    # Empty lines, a document of blank lines, and a line that tokenizes to
    # nothing (all-whitespace lines are dropped before tokenizing; "\x00"
    # is stripped by the WordPiece normalizer) all disappear.
    documents = ["w1 w2\n\nw3 w0\n", "\n  \n", "w4\n\x00\nw5 w6 w7"]
    encoded = masking.encode_lines(tokenizer, documents)
    words = [[line.split() for line in document.splitlines()
              if line.strip() and line != "\x00"]
             for document in documents]
    words = [document for document in words if document]
    assert [[row.tolist() for row in document] for document in encoded] == [
        [[tokenizer.token_to_id(w) for w in line] for line in document]
        for document in words
    ]
