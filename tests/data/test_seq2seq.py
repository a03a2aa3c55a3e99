"""Span corruption and length-bucketed encoder-decoder batches."""

import numpy as np
import tensorflow as tf

from zoo.data import seq2seq

SENTINELS = list(range(1000, 1100))
END, START, PAD = 1, 2, 0


def reconstruct(source, target):
    """Put the target's spans back in place of the source's sentinels."""
    spans, current = {}, None
    for token in target[:-1]:
        if token in SENTINELS:
            current = token
            spans[current] = []
        else:
            spans[current].append(token)
    text = []
    for token in source[:-1]:
        text += spans[token] if token in SENTINELS else [token]
    return text


def test_span_corruption_round_trips_and_has_the_configured_density():
    rng = np.random.default_rng(0)
    noise = total = spans = 0
    for length in [2, 3, 10, 57, 200]:
        for _ in range(20):
            text = rng.integers(10, 900, size=length)
            source, target = seq2seq.span_corruption(text, SENTINELS, END, rng)
            assert source[-1] == END and target[-1] == END
            assert reconstruct(source.tolist(), target.tolist()) == text.tolist()
            sentinels = [t for t in target if t in SENTINELS]
            assert sentinels == SENTINELS[: len(sentinels)]  # in order
            if length == 200:
                noise += len(target) - 1 - len(sentinels)
                total += length
                spans += len(sentinels)
    assert abs(noise / total - 0.15) < 0.01
    assert abs(noise / spans - 3.0) < 0.2  # mean span length


def test_chunk_length_fits_the_source():
    for source_length in [16, 64, 512]:
        chunk = seq2seq.chunk_length(source_length)
        rng = np.random.default_rng(0)
        source, _ = seq2seq.span_corruption(np.arange(10, 10 + chunk),
                                            SENTINELS, END, rng)
        assert len(source) <= source_length
        assert chunk > source_length  # corruption shortens the source


def test_batches_are_bucketed_and_padded_to_their_buckets():
    rng = np.random.default_rng(0)
    pairs = [(rng.integers(10, 99, size=n), rng.integers(10, 99, size=m))
             for n, m in rng.integers(1, 60, size=(200, 2))]
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(pairs), output_signature=(
            tf.TensorSpec([None], "int32"), tf.TensorSpec([None], "int32")))
    batches = list(seq2seq.seq2seq_batches(dataset, 8, START, PAD,
                                           training=False, bucket_width=16))
    seen = 0
    for batch in batches:
        source, target = (batch["encoder_token_ids"].numpy(),
                          batch["decoder_token_ids"].numpy())
        assert source.shape[1] % 16 == 0 and target.shape[1] % 16 == 0
        assert np.all(target[:, 0] == START)
        source_lengths = batch["encoder_padding_mask"].numpy().sum(1)
        target_lengths = batch["decoder_padding_mask"].numpy().sum(1)
        # every row is in its batch's bucket: less than one bucket of padding
        assert np.all(source.shape[1] - source_lengths < 16)
        assert np.all(target.shape[1] - target_lengths < 16)
        seen += len(source)
    assert seen == len(pairs)  # evaluation keeps every pair


def test_masks_come_from_lengths_when_the_start_token_is_padding():
    """MarianMT's decoder starts from its padding id: that position is
    still a real one."""
    pairs = [(np.array([5, 6, 7], "int32"), np.array([8, 9], "int32"))]
    dataset = tf.data.Dataset.from_generator(
        lambda: iter(pairs), output_signature=(
            tf.TensorSpec([None], "int32"), tf.TensorSpec([None], "int32")))
    [batch] = seq2seq.seq2seq_batches(dataset, 1, PAD, PAD, training=False,
                                      bucket_width=4)
    assert batch["decoder_token_ids"].numpy().tolist() == [[PAD, 8, 9, PAD]]
    assert batch["decoder_padding_mask"].numpy().tolist() == [[1, 1, 1, 0]]
    assert batch["encoder_padding_mask"].numpy().tolist() == [[1, 1, 1, 0]]
