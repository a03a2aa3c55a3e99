"""Encoder-decoder data: T5 span corruption, and length-bucketed batches.

Span corruption (Raffel et al. 2020, section 3.1.4) turns plain text into
(source, target) pairs: 15% of the tokens, in spans of mean length 3, are
cut out; each span is replaced in the source by a sentinel, and the target
lists each sentinel followed by the tokens it replaced:

    text:    Thank you for inviting me to your party last week .
    source:  Thank you <X> me to your party <Y> week . </s>
    target:  <X> for inviting <Y> last </s>

Corruption is drawn afresh each epoch. Pairs of any origin (corrupted
text, or translations in the fine-tuning recipe) are batched by length
bucket, so a batch of short sentences is not padded to the longest one.
"""

import numpy as np
import tensorflow as tf

NOISE_DENSITY = 0.15
MEAN_SPAN_LENGTH = 3.0


def noise_spans(length, rng, noise_density=NOISE_DENSITY,
                mean_span_length=MEAN_SPAN_LENGTH):
    """A boolean mask (length,) of noise tokens in alternating spans.

    As T5's `random_spans_noise_mask`: round(length * density) noise
    tokens in round(noise / mean_span_length) spans; the text starts with a
    non-noise span, and span lengths are a random partition.
    """
    num_noise = int(np.clip(round(length * noise_density), 1, length - 1))
    num_spans = int(max(1, round(num_noise / mean_span_length)))
    num_spans = min(num_spans, num_noise, length - num_noise)

    def partition(items, parts):
        cuts = np.sort(rng.choice(np.arange(1, items), parts - 1, replace=False))
        return np.diff(np.concatenate([[0], cuts, [items]]))

    noise = partition(num_noise, num_spans)
    keep = partition(length - num_noise, num_spans)
    spans = np.stack([keep, noise], axis=1).reshape(-1)  # keep, noise, ...
    return np.repeat(np.tile([False, True], num_spans), spans)


def span_corruption(token_ids, sentinel_ids, end_id, rng, **noise):
    """`(source, target)` int32 arrays for one chunk of text (see above)."""
    token_ids = np.asarray(token_ids)
    mask = noise_spans(len(token_ids), rng, **noise)
    span_start = mask & ~np.concatenate([[False], mask[:-1]])
    span_index = np.cumsum(span_start) - 1  # which span each token is in
    if span_start.sum() > len(sentinel_ids):
        raise ValueError(
            f"{span_start.sum()} noise spans but only {len(sentinel_ids)} "
            "sentinel tokens: shorten the chunks or add sentinels."
        )
    sentinels = np.asarray(sentinel_ids)
    source = np.where(span_start, sentinels[span_index], token_ids)
    source = source[~mask | span_start]  # one sentinel per span
    pieces = []
    for i in range(span_start.sum()):  # sentinel i, then the tokens of span i
        pieces += [sentinels[i : i + 1], token_ids[mask & (span_index == i)]]
    target = np.concatenate(pieces)
    end = np.array([end_id])
    return (np.concatenate([source, end]).astype("int32"),
            np.concatenate([target, end]).astype("int32"))


def chunk_length(source_length, noise_density=NOISE_DENSITY,
                 mean_span_length=MEAN_SPAN_LENGTH):
    """The longest text chunk whose corrupted source fits `source_length`
    tokens (with the end token)."""
    for length in range(source_length * 2, 1, -1):
        noise = round(length * noise_density)
        spans = max(1, round(noise / mean_span_length))
        if length - noise + spans + 1 <= source_length:
            return length
    raise ValueError(f"source_length={source_length} is too short.")


def text_chunks(encoded_documents, length):
    """Cut each document's ids into chunks of `length` (the last shorter,
    dropped if under 2 tokens: nothing to corrupt)."""
    return [
        ids[i : i + length]
        for ids in encoded_documents
        for i in range(0, len(ids), length)
        if len(ids[i : i + length]) >= 2
    ]


def span_corruption_dataset(chunks, sentinel_ids, end_id, training=True,
                            seed=0):
    """`(source, target)` pairs, corrupted afresh each epoch.

    Args:
        chunks: list of int arrays (see `text_chunks`).
        training: shuffle and repeat forever; otherwise each chunk once,
            always with the same corruption.
    """
    if not chunks:
        raise ValueError("No text to corrupt: the corpus is empty.")

    def pairs():
        epoch = 0
        while True:
            rng = np.random.default_rng([seed, epoch])
            order = rng.permutation(len(chunks)) if training else range(len(chunks))
            for i in order:
                yield span_corruption(chunks[i], sentinel_ids, end_id, rng)
            if not training:
                return
            epoch += 1

    spec = tf.TensorSpec([None], "int32")
    dataset = tf.data.Dataset.from_generator(pairs, output_signature=(spec, spec))
    return dataset


def seq2seq_batches(pairs, batch_size, start_id, pad_id, training=True,
                    bucket_width=16):
    """Batch `(source, target)` pairs by length into `Seq2SeqLM` inputs.

    Pairs are grouped by (source bucket, target bucket), a bucket being a
    multiple of `bucket_width` tokens; each batch is padded to its buckets'
    lengths. Sources and targets are bucketed separately (a corrupted
    span's target is far shorter than its source), and the number of
    distinct batch shapes, each compiled once under XLA, stays small.
    Targets get the decoder's start token in front.

    Returns:
        A dataset of dicts: `encoder_token_ids`, `encoder_padding_mask`,
        `decoder_token_ids`, `decoder_padding_mask`.
    """
    width = tf.constant(bucket_width, "int64")

    def with_start(source, target):
        target = tf.concat([[start_id], target], 0)
        # Masks from the lengths, not the ids: MarianMT's decoder starts
        # from its padding id.
        return (source, target, tf.ones_like(source, "bool"),
                tf.ones_like(target, "bool"))

    def key(source, target, *masks):
        lengths = tf.cast([tf.size(source), tf.size(target)], "int64")
        source_bucket, target_bucket = tf.unstack((lengths + width - 1)
                                                  // width)
        return source_bucket * 4096 + target_bucket

    def batch(bucket_key, pairs):
        source, target = tf.unstack(  # the bucket's padded lengths
            tf.stack([bucket_key // 4096, bucket_key % 4096]) * width)
        return pairs.padded_batch(
            batch_size,
            padded_shapes=([source], [target], [source], [target]),
            padding_values=(pad_id, pad_id, False, False),
            drop_remainder=training,
        )

    dataset = pairs.map(with_start).group_by_window(
        key, batch, window_size=batch_size
    )

    def to_inputs(source, target, source_mask, target_mask):
        return {
            "encoder_token_ids": source,
            "encoder_padding_mask": source_mask,
            "decoder_token_ids": target,
            "decoder_padding_mask": target_mask,
        }

    return dataset.map(to_inputs).prefetch(tf.data.AUTOTUNE)
