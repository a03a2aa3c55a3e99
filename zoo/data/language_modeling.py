"""GPT pretraining data: contiguous windows over one packed token stream.

The documents are tokenized and laid end to end, each followed by the
separator (GPT-2's `<|endoftext|>`):

    doc_0 SEP doc_1 SEP doc_2 SEP ...

and the stream is cut into windows of T + 1 tokens; a window gives inputs
`token_ids` = tokens 0..T-1 and labels = tokens 1..T. Nothing is padded, so
every position of every batch trains. A window may span a document
boundary, as in GPT-2 and nanoGPT; the separator marks where one document
ends, and two documents never touch without it (tests/data check this).

Each training epoch starts the windows at a fresh random offset in [0, T)
and shuffles their order, seeded by (seed, epoch), so epochs differ while
a run stays reproducible.
"""

import numpy as np
import tensorflow as tf

from zoo.data.tokenizers import tokenize_lines

def encode_documents(tokenizer, documents):
    """Token ids of each document, as int32 arrays.

    Documents are tokenized line by line (lines keep their newline), in
    one call for the whole corpus, which keeps single strings small for
    subword tokenizers.
    """
    lines = [document.splitlines(keepends=True) for document in documents]
    ids = tokenize_lines(tokenizer, [line for doc in lines for line in doc])
    encoded, start = [], 0
    for doc in lines:
        pieces = ids[start : start + len(doc)]
        start += len(doc)
        encoded.append(np.concatenate(pieces) if pieces
                       else np.zeros([0], "int32"))
    return encoded


def token_stream(encoded_documents, separator_id):
    """`doc_0 SEP doc_1 SEP ...` as one int32 array."""
    pieces = []
    for ids in encoded_documents:
        pieces += [ids, np.array([separator_id], "int32")]
    return np.concatenate(pieces)


def window_dataset(stream, sequence_length, batch_size, training=True,
                   seed=0, skip_batches=0):
    """Batches `({"token_ids": (B, T)}, labels (B, T))` from `stream`.

    Args:
        stream: 1-D int array of token ids (see `token_stream`).
        sequence_length: T, the context length.
        batch_size: B.
        training: shuffle, draw a random offset per epoch and repeat
            forever; otherwise every window once, in order, offset 0, with
            a smaller last batch.
        seed: int; with `training`, the order of windows.
        skip_batches: int; with `training`, start this many batches in,
            as a resumed run does.
    """
    length = sequence_length
    if len(stream) < length + 1:
        raise ValueError(
            f"The text has {len(stream)} tokens: fewer than one window of "
            f"sequence_length + 1 = {length + 1}. Give more text or a shorter "
            "sequence_length."
        )
    size = tf.constant(len(stream), "int64")
    stream = tf.constant(stream, "int32")

    def epoch_starts(epoch):
        offset = tf.random.stateless_uniform(
            [], [seed, epoch], 0, length, dtype="int64"
        )
        count = (size - 1 - offset) // length
        starts = offset + length * tf.range(count)
        starts = tf.random.experimental.stateless_shuffle(starts, [seed, epoch])
        return tf.data.Dataset.from_tensor_slices(starts)

    if training:
        starts = tf.data.Dataset.range(2**62).flat_map(epoch_starts)
        starts = starts.skip(skip_batches * batch_size)
        starts = starts.batch(batch_size, drop_remainder=True)
    else:
        starts = tf.data.Dataset.range(0, (len(stream) - 1) // length)
        starts = starts.map(lambda i: i * length).batch(batch_size)

    def windows(starts):  # (B,)
        positions = starts[:, None] + tf.range(length + 1, dtype="int64")
        tokens = tf.gather(stream, positions)  # (B, T + 1)
        return {"token_ids": tokens[:, :-1]}, tokens[:, 1:]

    return starts.map(windows, num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE
    )


def prompts(stream, length, count):
    """`count` prompts of `length` tokens, from evenly spaced windows of
    `stream`: what a model continues to show what it learned."""
    starts = np.linspace(0, max(len(stream) - 4 * length, 0), count)
    return [stream[s:s + max(1, length)] for s in starts.astype(int)]
