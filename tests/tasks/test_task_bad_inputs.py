"""Bad labels and bad generation requests raise clear errors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from harness import padded_batch
from zoo.tasks import CausalLM
from zoo.tasks import MaskedLM
from zoo.tasks import Seq2SeqLM
from zoo.tasks import SequenceClassifier
from zoo.tasks import TokenClassifier

# How fit runs its step. Arrays are checked before any step runs, so a
# bad label is a ValueError whichever way the step is compiled.
MODES = {
    "eager": (dict(run_eagerly=True), ValueError),
    "graph": (dict(jit_compile=False), ValueError),
}
if keras.backend.backend() != "torch":  # XLA, or jax.jit
    MODES["compiled"] = (dict(jit_compile=True), ValueError)
COMPILED = MODES.get("compiled", MODES["graph"])[0]


def _bert_x(bert):
    ids, mask = padded_batch([6, 4], 6, bert.vocabulary_size)
    return {"token_ids": ids, "segment_ids": np.zeros_like(ids),
            "padding_mask": mask}


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("bad", [3, -1])
def test_class_labels_out_of_range_raise(bert, mode, bad):
    options, error = MODES[mode]
    task = SequenceClassifier(bert, 3)
    task.compile(**options)
    with pytest.raises(error, match=r"must lie in \[0, 3\)"):
        task.fit(_bert_x(bert), np.array([0, bad]), verbose=0)


@pytest.mark.parametrize("labels, message", [
    ([0.0, 1.5], "whole numbers"), ([0.0, 3.0], r"must lie in \[0, 3\)")])
def test_float_class_labels_are_checked_too(bert, labels, message):
    task = SequenceClassifier(bert, 3)
    task.compile(**COMPILED)
    with pytest.raises(ValueError, match=message):
        task.fit(_bert_x(bert), np.array(labels, "float32"), verbose=0)


def test_labels_from_a_dataset_are_checked_as_it_is_read(bert):
    """A tf.data pipeline is checked batch by batch, before XLA's step
    (which would drop an assertion): the second batch's label fails."""
    task = SequenceClassifier(bert, 3)
    task.compile(**COMPILED)
    x = _bert_x(bert)
    dataset = tf.data.Dataset.from_tensor_slices(
        (x, np.array([0, 3], "int32"))).batch(1)
    with pytest.raises(tf.errors.OpError, match=r"must lie in \[0, 3\)"):
        task.fit(dataset, verbose=0)


@pytest.mark.parametrize("mode", sorted(MODES))
def test_token_labels_out_of_range_raise(bert, mode):
    options, error = MODES[mode]
    task = TokenClassifier(bert, 4)
    task.compile(**options)
    tags = np.zeros((2, 6), "int32")
    tags[1, 2] = 4
    with pytest.raises(error, match=r"must lie in \[0, 4\)"):
        task.fit(_bert_x(bert), tags, verbose=0)


def test_language_model_labels_beyond_the_vocabulary_raise(gpt):
    task = CausalLM(gpt)
    task.compile(**COMPILED)
    ids, mask = padded_batch([5, 5], 5, gpt.vocabulary_size)
    labels = ids.copy()
    labels[0, 0] = gpt.vocabulary_size
    with pytest.raises(ValueError, match="must lie in"):
        task.fit({"token_ids": ids, "padding_mask": mask}, labels, verbose=0)


def test_mask_positions_outside_the_sequence_raise(bert):
    task = MaskedLM(bert)
    x = _bert_x(bert)
    x["mask_positions"] = np.array([[1, 6], [0, 2]], "int32")
    with pytest.raises(ValueError, match="mask_positions"):
        task(x)


@pytest.mark.parametrize("prompts, message", [
    ([], "empty"),
    ([[3, 4], []], "is empty"),
    (np.array([3, 4, 5]), "batch of prompts"),
    ([[3, 4], [[5]]], "flat sequence"),
    ({"token_ids": np.ones((2, 3), "int32"),
      "padding_mask": np.ones((2, 4), "int32")}, "must both be"),
    ({"token_ids": np.ones((1, 3), "int32"),
      "padding_mask": np.array([[1, 0, 1]])}, "right-padded"),
    ([[3, 400]], "must lie in"),
    (["some text"], "no tokenizer"),
])
def test_bad_prompts_raise(gpt, prompts, message):
    with pytest.raises(ValueError, match=message):
        CausalLM(gpt).generate(prompts, max_new_tokens=2)


def test_a_prompt_that_fills_the_context_raises(gpt):
    with pytest.raises(ValueError, match="no room to generate"):
        CausalLM(gpt).generate([list(range(3, 35))], max_new_tokens=1)


@pytest.mark.parametrize("max_new_tokens", [0, 31])
def test_max_new_tokens_must_fit_the_context(gpt, max_new_tokens):
    # The context is 32: a 2-token prompt leaves room for 30.
    with pytest.raises(ValueError, match="between 1 and 30"):
        CausalLM(gpt).generate([[3, 4]], max_new_tokens=max_new_tokens)


@pytest.mark.parametrize("options, message", [
    (dict(sampler="nucleus"), "Unknown sampler"),
    (dict(sampler="top_k"), "top_k"),
    (dict(sampler="top_p", top_p=1.5), "top_p"),
    (dict(sampler="random", temperature=0.0), "temperature"),
    (dict(stop_token_ids=[99]), "stop_token_ids"),
    (dict(sampler="beam", num_beams=2, stop_token_ids=[3, 4, 5]),
     "at most 2 stop tokens"),
    (dict(sampler="beam", num_beams=20), "vocabulary of at least 40"),
])
def test_bad_sampling_options_raise(gpt, options, message):
    with pytest.raises(ValueError, match=message):
        CausalLM(gpt).generate([[3, 4]], max_new_tokens=2, **options)


def test_translation_needs_a_start_token_and_room(transformer):
    lm = Seq2SeqLM(transformer)
    with pytest.raises(ValueError, match="start_token_id"):
        lm.generate([[3, 4]])
    with pytest.raises(ValueError, match="between 1 and 31"):
        lm.generate([[3, 4]], max_new_tokens=40, start_token_id=1)


def test_classifier_needs_a_class(bert):
    with pytest.raises(ValueError, match="num_classes"):
        SequenceClassifier(bert, 0)
