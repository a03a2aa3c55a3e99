"""An exported model called from many threads at once answers each call
as it answers it alone: a server runs one SavedModel for concurrent
requests."""

import concurrent.futures

import numpy as np
import pytest
import tensorflow as tf

from tests.bad_inputs.export import exported_classifier  # noqa: F401
from tests.bad_inputs.export import exported_gpt  # noqa: F401

THREADS = 8
# Pairs whose shorter prompt has 4 to 7 tokens: one compiled program per
# signature (XLA compiles per batch size and prefill length, seconds each).
PROMPTS = [["new york is", "a cat in york"],
           ["cats sat; dogs ran", "york's mats"],
           ["dogs, parks", "zebra quartz"],  # words the export never saw
           ["the mat . a dog", "unseen words, parkland"]]
PAIRS = [(["a cat"], ["the park"]), (["a dog ran", "new york"], ["the", ""]),
         (["the mat . a dog"], ["ran"])]


def _numpy(outputs):
    return {key: value.numpy() for key, value in outputs.items()}


def _calls(served_gpt, served_classifier):
    """(signature, inputs) pairs: greedy and seeded sampling of several
    batch sizes and lengths, and sentence-pair classification."""
    calls = []
    for prompts in PROMPTS:
        prompt = tf.constant(prompts)
        calls.append((served_gpt.signatures["generate"],
                      dict(prompt=prompt, max_new_tokens=tf.constant(6))))
        calls.append((served_gpt.signatures["sample"], dict(
            prompt=prompt, max_new_tokens=tf.constant(6),
            temperature=tf.constant(0.8), top_k=tf.constant(20),
            top_p=tf.constant(0.9), seed=tf.constant(len(prompts)))))
    for text, pair in PAIRS:
        calls.append((served_classifier.signatures["classify"],
                      dict(text=tf.constant(text),
                           text_pair=tf.constant(pair))))
    return calls


@pytest.mark.tensorflow
def test_eight_threads_get_the_single_threaded_outputs(exported_gpt,
                                                       exported_classifier):
    """The threads run first, so that they also fill keras-hub's byte-pair
    cache (a table of the words seen so far) at the same time."""
    calls = _calls(exported_gpt, exported_classifier)
    order = [i for _ in range(4) for i in range(len(calls))]  # 4 rounds
    np.random.default_rng(0).shuffle(order)
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        together = list(pool.map(
            lambda i: _numpy(calls[i][0](**calls[i][1])), order))
    alone = [_numpy(signature(**inputs)) for signature, inputs in calls]
    for i, outputs in zip(order, together):
        assert outputs.keys() == alone[i].keys()
        for key, value in outputs.items():
            if value.dtype.kind == "f":
                np.testing.assert_allclose(value, alone[i][key], atol=1e-6,
                                           err_msg=f"call {i}, {key}")
            else:
                np.testing.assert_array_equal(value, alone[i][key],
                                              err_msg=f"call {i}, {key}")
