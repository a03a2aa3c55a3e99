"""BERT pretraining data: sentence pairs and dynamic masking.

Examples are built once from the corpus, as in BERT's
`create_pretraining_data` (Devlin et al. 2018, appendix A.1): the lines of
each document are gathered into chunks that fill the sequence; with
next-sentence prediction a chunk is cut at a random line into segments A
and B, and half the time B is replaced by lines from another document
(label 0, "not next"). Masking is dynamic (Liu et al. 2019, RoBERTa): each
time an example is drawn, keras-hub's `MaskedLMMaskGenerator` picks 15% of
its tokens ([CLS], [SEP] and padding never) and replaces 80% of those with
[MASK], 10% with a random token and leaves 10% as they were. With whole-word
masking the pieces of a word ("un", "##believ", "##able") are picked
together.
"""

import math

import keras_hub
import numpy as np
import tensorflow as tf

from zoo.data.parallel import ragged
from zoo.data.tokenizers import tokenize_lines


def encode_lines(tokenizer, documents):
    """Each document as a list of its non-empty lines' token ids."""
    lines = [
        [line for line in document.splitlines() if line.strip()]
        for document in documents
    ]
    # One call for the whole corpus: each call sets up the tokenizer anew.
    ids = iter(tokenize_lines(tokenizer, [line for doc in lines for line in doc]))
    encoded = []
    for document in lines:
        rows = [row for row in (next(ids) for _ in document) if row.size]
        if rows:
            encoded.append(rows)
    return encoded


def sentence_pairs(documents, sequence_length, next_sentence_prediction,
                   seed=0):
    """Build examples `(segment_a, segment_b, is_next)` from encoded lines.

    Args:
        documents: a list of documents, each a list of token-id arrays (one
            per line), as from `encode_lines`.
        sequence_length: L; segments leave room for [CLS] and [SEP]s.
        next_sentence_prediction: bool. Without it segment B is empty and
            `is_next` is 1.
    """
    rng = np.random.default_rng(seed)
    budget = sequence_length - (3 if next_sentence_prediction else 2)
    if budget < 2:
        raise ValueError(f"sequence_length={sequence_length} is too short "
                         "for BERT's special tokens.")
    examples = []
    for d, lines in enumerate(documents):
        for chunk in _chunks(lines, budget):
            if not next_sentence_prediction:
                tokens = np.concatenate(chunk)
                for start in range(0, len(tokens), budget):
                    examples.append((tokens[start : start + budget], [], 1))
                continue
            a, b = _split(chunk, rng)
            is_next = 1
            if len(documents) > 1 and rng.random() < 0.5:
                other = rng.choice([i for i in range(len(documents)) if i != d])
                b = _random_span(documents[other], budget - len(a), rng)
                is_next = 0
            a, b = _truncate_pair(a, b, budget)
            examples.append((a, b, is_next))
    return examples


def _chunks(lines, budget):
    chunk, size = [], 0
    for line in lines:
        chunk.append(line)
        size += len(line)
        if size >= budget:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _split(chunk, rng):
    """Cut a chunk at a random line (or mid-line if it has only one)."""
    if len(chunk) == 1:
        tokens = chunk[0]
        cut = max(1, len(tokens) // 2)
        return tokens[:cut], tokens[cut:]
    cut = rng.integers(1, len(chunk))
    return np.concatenate(chunk[:cut]), np.concatenate(chunk[cut:])


def _random_span(lines, length, rng):
    start = rng.integers(0, len(lines))
    tokens = np.concatenate(lines[start:])
    return tokens[: max(length, 1)]


def _truncate_pair(a, b, budget):
    while len(a) + len(b) > budget:
        if len(a) > len(b):
            a = a[:-1]
        else:
            b = b[:-1]
    return a, b


def masked_lm_dataset(examples, tokenizer, sequence_length, batch_size,
                      masking_rate=0.15, whole_word=False,
                      next_sentence_prediction=False, training=True, seed=0,
                      skip_batches=0):
    """Batches `(x, y, sample_weight)` for `zoo.tasks.MaskedLM`.

    `x` has `token_ids` (with masks applied), `segment_ids`,
    `padding_mask` and `mask_positions` (B, P); `y` the original ids at
    those positions and `sample_weight` 1 where a position is real. With
    next-sentence prediction `y` and `sample_weight` are dicts with
    `"masked_lm"` and `"next_sentence"`.

    P is ceil(masking_rate * L), or L with whole-word masking (a word's
    pieces all count).
    """
    if not examples:
        raise ValueError("No training examples: the corpus is empty.")
    # (tf.ragged.constant took minutes on 100k examples; this takes ms.)
    a = ragged([np.asarray(e[0], "int32") for e in examples])
    b = ragged([np.asarray(e[1], "int32") for e in examples])
    is_next = tf.constant([e[2] for e in examples], "int32")
    dataset = tf.data.Dataset.from_tensor_slices((a, b, is_next))
    if training:
        dataset = dataset.shuffle(len(examples), seed=seed).repeat()
    mask = _masking(tokenizer, sequence_length, masking_rate, whole_word,
                    next_sentence_prediction)
    # keras-hub's generator draws from TensorFlow's stateful random ops,
    # whose sequence is fixed by the global seed only when examples are
    # masked one at a time, in order. A resumed run masks (and drops) the
    # examples it already trained on, so it draws the masks an
    # uninterrupted run draws: resumed runs end bitwise equal.
    dataset = dataset.map(mask)
    if training and skip_batches:
        dataset = dataset.skip(skip_batches * batch_size)
    dataset = dataset.batch(batch_size, drop_remainder=training)
    if not training:
        dataset = dataset.cache()  # the same masks at every evaluation
    return dataset.prefetch(tf.data.AUTOTUNE)


def _masking(tokenizer, length, masking_rate, whole_word,
             next_sentence_prediction):
    """`(a, b, is_next) -> (x, y, weights)`: one example packed as
    `[CLS] a [SEP] (b [SEP])`, masked by keras-hub's generator."""
    pad = tokenizer.pad_token_id
    generator = keras_hub.layers.MaskedLMMaskGenerator(
        vocabulary_size=tokenizer.vocabulary_size(),
        mask_selection_rate=masking_rate,
        mask_token_id=tokenizer.mask_token_id,
        mask_selection_length=(length if whole_word
                               else math.ceil(masking_rate * length)),
        unselectable_token_ids=[tokenizer.cls_token_id,
                                tokenizer.sep_token_id, pad],
        mask_token_rate=0.8,
        random_token_rate=0.1,
    )
    continuation = tf.constant(
        [t.startswith("##") for t in tokenizer.get_vocabulary()])
    cls = tf.constant([tokenizer.cls_token_id], "int32")
    sep = tf.constant([tokenizer.sep_token_id], "int32")

    def mask(a, b, is_next):
        parts = [cls, a, sep] + ([b, sep] if next_sentence_prediction else [])
        ids = tf.concat(parts, 0)  # (n,)
        segment_ids = tf.concat(
            [tf.zeros_like(a), [0, 0]]
            + ([tf.ones_like(b), [1]] if next_sentence_prediction else []), 0
        )
        if whole_word:
            starts = tf.where(~tf.gather(continuation, ids))[:, 0]
            words = tf.RaggedTensor.from_row_starts(ids, starts)
            masked = generator(words[None])  # (1, words, pieces)
        else:
            masked = generator(ids[None])
        token_ids = masked["token_ids"]
        if isinstance(token_ids, tf.RaggedTensor):
            token_ids = token_ids.flat_values
        x = {
            "token_ids": _pad(tf.reshape(token_ids, [-1]), length, pad),
            "segment_ids": _pad(segment_ids, length, 0),
            "padding_mask": _pad(tf.ones_like(ids, "bool"), length, False),
            "mask_positions": tf.cast(masked["mask_positions"][0], "int32"),
        }
        y, weights = masked["mask_ids"][0], masked["mask_weights"][0]
        if next_sentence_prediction:
            y = {"masked_lm": y, "next_sentence": is_next}
            weights = {"masked_lm": weights, "next_sentence": tf.constant(1.0)}
        return x, y, weights

    return mask


def _pad(values, length, value):
    values = values[:length]
    return tf.pad(values, [[0, length - tf.shape(values)[0]]],
                  constant_values=value)
