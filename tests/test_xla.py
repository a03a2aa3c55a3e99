"""compiling_for_xla: which graphs XLA will compile."""

import keras
import numpy as np
import tensorflow as tf

from zoo.tasks.causal_lm import next_token_logits
from zoo.compat import compiling_for_xla


def test_true_only_while_tracing_for_xla():
    assert not compiling_for_xla()
    seen = []
    tf.function(lambda: seen.append(compiling_for_xla()) or 0,
                jit_compile=True)()
    tf.function(lambda: seen.append(compiling_for_xla()) or 0)()
    assert seen == [True, False]


def test_next_token_logits_are_the_reverse_embedding_either_way():
    embedding = keras.layers.ReversibleEmbedding(50, 8)
    embedding.build((None,))
    hidden = np.random.default_rng(0).normal(size=(3, 8)).astype("float32")
    expected = np.asarray(embedding(hidden[:, None], reverse=True))[:, 0]
    for jit_compile in (True, False):
        logits = tf.function(lambda h: next_token_logits(embedding, h),
                             jit_compile=jit_compile)(hidden)
        np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)
