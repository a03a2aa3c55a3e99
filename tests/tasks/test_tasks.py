"""Each task learns a toy batch, survives `.keras`, and ignores padding."""

import keras
import numpy as np
import pytest

from harness import padded_batch
from harness import run_task_checks
from zoo.tasks import CausalLM
from zoo.tasks import MaskedLM
from zoo.tasks import Seq2SeqLM
from zoo.tasks import SequenceClassifier
from zoo.tasks import TokenClassifier


def _bert_inputs(bert, lengths=(8, 5, 7, 3), total=8, seed=0):
    ids, mask = padded_batch(lengths, total, bert.vocabulary_size, seed)
    segments = np.where(np.arange(total) >= 2, 1, 0) * mask  # sentence pairs
    return {"token_ids": ids, "segment_ids": segments.astype("int32"),
            "padding_mask": mask}


def _evaluate(task, x, y=None, sample_weight=None):
    return task.evaluate(x, y, sample_weight=sample_weight, verbose=0,
                         return_dict=True)


def test_masked_lm(bert, tmp_path):
    x = _bert_inputs(bert)
    x["mask_positions"] = np.array([[1, 3], [0, 2], [4, 0], [1, 0]], "int32")
    labels = np.array([[5, 6], [7, 8], [9, 0], [10, 0]], "int32")
    weights = np.array([[1, 1], [1, 1], [1, 0], [1, 0]], "float32")
    task = run_task_checks(MaskedLM(bert), x, labels, weights, tmp_path)
    assert task(x).shape == (4, 2, bert.vocabulary_size)
    # Padded mask positions (weight 0) do not count.
    other = labels.copy()
    other[weights == 0] = 1
    np.testing.assert_allclose(
        _evaluate(task, x, labels, weights)["loss"],
        _evaluate(task, x, other, weights)["loss"], rtol=1e-6)


def test_masked_lm_with_next_sentence_prediction(bert, tmp_path):
    x = _bert_inputs(bert)
    x["mask_positions"] = np.array([[1, 3]] * 4, "int32")
    y = {"masked_lm": np.array([[5, 6], [7, 8], [9, 3], [10, 4]], "int32"),
         "next_sentence": np.array([1, 0, 1, 0], "int32")}
    weights = {"masked_lm": np.ones((4, 2), "float32"),
               "next_sentence": np.ones((4,), "float32")}
    task = run_task_checks(MaskedLM(bert, next_sentence_prediction=True),
                           x, y, weights, tmp_path)
    outputs = task(x)
    assert outputs["next_sentence"].shape == (4, 2)


def test_masked_lm_head_is_tied_to_the_embedding(bert):
    task = MaskedLM(bert)
    owned = {id(v) for v in bert.weights}
    extra = {v.path.split("/")[-2] + "/" + v.name: tuple(v.shape)
             for v in task.weights if id(v) not in owned}
    # BERT's transform, its LayerNorm and the output bias; no (V, D) matrix.
    width, vocab = bert.hidden_dim, bert.vocabulary_size
    assert extra == {
        "mlm_transform/kernel": (width, width), "mlm_transform/bias": (width,),
        "mlm_transform_norm/gamma": (width,), "mlm_transform_norm/beta": (width,),
        task.name + "/mlm_output_bias": (vocab,),
    }, extra


def test_sequence_classifier(bert, tmp_path):
    x = _bert_inputs(bert)
    labels = np.array([0, 1, 2, 1], "int32")
    task = run_task_checks(SequenceClassifier(bert, 3, dropout=0.0), x,
                           labels, tmp_path=tmp_path)
    assert task(x).shape == (4, 3)


def test_sequence_regression(bert, tmp_path):
    x = _bert_inputs(bert)
    scores = np.array([0.5, -1.0, 2.0, 1.5], "float32")
    task = run_task_checks(SequenceClassifier(bert, 1, dropout=0.0), x,
                           scores, tmp_path=tmp_path)
    assert task(x).shape == (4, 1)
    assert "mae" in _evaluate(task, x, scores)


def test_classifier_ignores_padding(bert):
    """The same sentences padded to 8 or to 12 positions: same predictions."""
    task = SequenceClassifier(bert, 3)
    short = _bert_inputs(bert, total=8)
    long = {k: np.pad(v, [(0, 0), (0, 4)]) for k, v in short.items()}
    np.testing.assert_allclose(task.predict(short, verbose=0),
                               task.predict(long, verbose=0), atol=1e-5)


def test_token_classifier(bert, tmp_path):
    x = _bert_inputs(bert)
    tags = np.random.default_rng(0).integers(0, 5, (4, 8)).astype("int32")
    first_subword = np.ones((4, 8), "float32")
    first_subword[:, 3] = 0  # position 3 continues the word before it
    task = run_task_checks(TokenClassifier(bert, 5, dropout=0.0), x, tags,
                           first_subword, tmp_path)
    assert task(x).shape == (4, 8, 5)


def test_token_classifier_loss_ignores_padding_and_continuations(bert):
    task = TokenClassifier(bert, 5)
    task.compile()
    x = _bert_inputs(bert)
    rng = np.random.default_rng(1)
    tags = rng.integers(0, 5, (4, 8)).astype("int32")
    first_subword = np.ones((4, 8), "float32")
    first_subword[:, 3] = 0
    metrics = _evaluate(task, x, tags, first_subword)

    # Other tags on padding and continuations change nothing...
    ignored = (x["padding_mask"] == 0) | (first_subword == 0)
    other = np.where(ignored, rng.integers(0, 5, (4, 8)), tags)
    np.testing.assert_allclose(
        list(metrics.values()),
        list(_evaluate(task, x, other, first_subword).values()), rtol=1e-6)

    # ...nor does padding the batch to 12 positions.
    long = {k: np.pad(v, [(0, 0), (0, 4)]) for k, v in x.items()}
    np.testing.assert_allclose(
        list(metrics.values()),
        list(_evaluate(task, long, np.pad(tags, [(0, 0), (0, 4)]),
                       np.pad(first_subword, [(0, 0), (0, 4)])).values()),
        rtol=1e-5)


def test_causal_lm(gpt, tmp_path):
    ids, mask = padded_batch([10, 6, 8, 10], 10, gpt.vocabulary_size)
    x = {"token_ids": ids, "padding_mask": mask}
    task = run_task_checks(CausalLM(gpt), x, tmp_path=tmp_path, steps=15)
    assert task(x).shape == (4, 10, gpt.vocabulary_size)


def test_causal_lm_loss_ignores_padding(gpt):
    task = CausalLM(gpt)
    task.compile()
    ids, mask = padded_batch([10, 6, 8, 3], 10, gpt.vocabulary_size)
    short = _evaluate(task, {"token_ids": ids, "padding_mask": mask})
    long = _evaluate(task, {"token_ids": np.pad(ids, [(0, 0), (0, 6)]),
                            "padding_mask": np.pad(mask, [(0, 0), (0, 6)])})
    for name in short:
        np.testing.assert_allclose(short[name], long[name], rtol=1e-5)


def test_causal_lm_labels_are_the_next_tokens(gpt):
    """fit(x) without labels == explicit next-token labels and weights."""
    task = CausalLM(gpt)
    task.compile()
    ids, mask = padded_batch([6, 4], 6, gpt.vocabulary_size)
    implicit = _evaluate(task, {"token_ids": ids, "padding_mask": mask})
    labels = np.pad(ids[:, 1:], [(0, 0), (0, 1)])
    weights = np.pad(mask[:, 1:], [(0, 0), (0, 1)]).astype("float32")
    explicit = _evaluate(task, {"token_ids": ids, "padding_mask": mask},
                         labels, weights)
    np.testing.assert_allclose(implicit["loss"], explicit["loss"], rtol=1e-6)


def _seq2seq_inputs(vocabulary_size, total=9):
    source, source_mask = padded_batch([7, 4, 9, 5], total, vocabulary_size, 1)
    target, target_mask = padded_batch([6, 9, 3, 5], total, vocabulary_size, 2)
    target[:, 0] = 1  # start token
    return {"encoder_token_ids": source, "encoder_padding_mask": source_mask,
            "decoder_token_ids": target, "decoder_padding_mask": target_mask}


def test_seq2seq_lm(transformer, tmp_path):
    x = _seq2seq_inputs(transformer.vocabulary_size)
    task = run_task_checks(Seq2SeqLM(transformer), x, tmp_path=tmp_path)
    assert task(x).shape == (4, 9, transformer.vocabulary_size)


def test_seq2seq_loss_ignores_padding(transformer):
    task = Seq2SeqLM(transformer)  # label smoothing 0.1 by default
    task.compile()
    x = _seq2seq_inputs(transformer.vocabulary_size)
    long = {k: np.pad(v, [(0, 0), (0, 5)]) for k, v in x.items()}
    short, long = _evaluate(task, x), _evaluate(task, long)
    for name in short:
        np.testing.assert_allclose(short[name], long[name], rtol=1e-5)


@pytest.mark.tensorflow
@pytest.mark.parametrize("jit_compile", [False, True])
def test_fit_traces_the_train_step_once(gpt, jit_compile):
    """AdamW's slots and the metrics are built before the step is traced:
    creating them inside the trace would make TF trace the step twice."""
    task = CausalLM(gpt)
    task.compile(optimizer=keras.optimizers.AdamW(1e-3),
                 jit_compile=jit_compile)
    traces = []

    def train_step(data, step=task.train_step):
        traces.append(1)
        return step(data)

    task.train_step = train_step
    ids, mask = padded_batch([10, 6, 8, 10], 10, gpt.vocabulary_size)
    x = {"token_ids": ids, "padding_mask": mask}
    task.fit(x, batch_size=2, epochs=2, verbose=0)
    assert len(traces) == 1
    assert task.optimizer.iterations.numpy() == 4
    assert all(np.any(v.numpy()) for v in task.optimizer.variables
               if "momentum" in v.path)  # the slots were trained


def test_masked_lm_refuses_mask_positions_outside_the_sequence(bert):
    x = _bert_inputs(bert)
    x["mask_positions"] = np.array([[1, 8], [0, 2], [4, 0], [1, 0]], "int32")
    with pytest.raises(ValueError,
                       match=r"`mask_positions` must lie in \[0, 8\)"):
        MaskedLM(bert)(x)
