"""SavedModel export: each family's signatures, served in a process that
never imports zoo, against the model in this process.

Probabilities and logits agree within 1e-5; generated and translated ids
are exactly equal (greedy and beam), at two batch sizes and two input
lengths. Empty strings, invalid UTF-8 and over-long inputs behave as in
Python: the same text, or an error with the same reason.
"""

import os
import pickle
import subprocess
import sys

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf
from hub_presets import TEXT

from zoo import export
from zoo.data import labelled
from zoo.data import tokenizers
from zoo.models import BertEncoder
from zoo.models import GPTDecoder
from zoo.models import Transformer
from zoo.tasks import CausalLM
from zoo.tasks import MaskedLM
from zoo.tasks import Seq2SeqLM
from zoo.tasks import SequenceClassifier
from zoo.tasks import TokenClassifier

SERVE = os.path.join(os.path.dirname(__file__), "serve.py")
SIZES = dict(num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32)
SHORT = ["the cat sat", "a dog ran in the park", "new york"]
LONG = ["the park is big . " * 4 + "a dog ran", "new york is a city . " * 3,
        "the cat sat on the mat . " * 3]
INVALID = b"\xff\xfe the park"  # not UTF-8


def strings(texts):
    return np.array([t.encode() if isinstance(t, str) else t for t in texts],
                    dtype=object)


def as_python(text):
    """What a Python caller has for the same bytes."""
    return text.decode("utf-8", errors="replace") if isinstance(
        text, bytes) else text


def serve(export_dir, calls, tmp_path):
    """Run `calls` on the SavedModel in a fresh Python without zoo."""
    calls_path, results_path = tmp_path / "calls.pkl", tmp_path / "out.pkl"
    with open(calls_path, "wb") as file:
        pickle.dump(calls, file)
    result = subprocess.run(
        [sys.executable, SERVE, export_dir, str(calls_path), str(results_path)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    with open(results_path, "rb") as file:
        results = pickle.load(file)
    assert results.pop() == {"zoo_imported": False}
    return results


def ok(result):
    """The outputs of a call that must succeed."""
    assert "error" not in result, result["error"]
    return result


def pad(rows, dtype="int32"):
    out = np.zeros((len(rows), max(len(r) for r in rows)), dtype)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def softmax(logits):
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.fixture(scope="module")
def wordpiece():
    return tokenizers.train_wordpiece([TEXT], vocabulary_size=120)


def bert(tokenizer, max_sequence_length=32):
    return BertEncoder(vocabulary_size=tokenizer.vocabulary_size(),
                       max_sequence_length=max_sequence_length, **SIZES)


# Classifier ----------------------------------------------------------------------


def test_classifier(wordpiece, tmp_path):
    task = SequenceClassifier(bert(wordpiece), 3, tokenizer=wordpiece)
    export_dir = str(tmp_path / "classifier")
    names = export.export(task, export_dir, labels=["neg", "mid", "pos"],
                          pairs=True, sequence_length=16)
    assert names == ["serving_default", "classify", "classify_ids"]
    batches = [
        ([SHORT[0]], [SHORT[1]]),  # batch 1, short
        (SHORT, ["", INVALID, "the mat"]),  # batch 3, short; empty; not UTF-8
        ([LONG[0]], [LONG[1]]),  # batch 1, cut to 16 tokens
        (LONG, SHORT),  # batch 3, cut
    ]
    expected, calls = [], []
    for a, b in batches:
        pairs = [(as_python(x), as_python(y)) for x, y in zip(a, b)]
        examples = labelled.encode_texts(wordpiece, pairs, 16, True, "x",
                                         range(len(pairs)))
        inputs = {"token_ids": pad([e[0] for e in examples]),
                  "segment_ids": pad([e[1] for e in examples]),
                  "padding_mask": pad([np.ones_like(e[0]) for e in examples])}
        logits = np.asarray(task.predict_on_batch(inputs))
        expected.append((logits, inputs))
        calls.append(("classify", {"text": strings(a), "text_pair": strings(b)}))
        calls.append(("classify_ids", inputs))
    results = serve(export_dir, calls, tmp_path)
    for (logits, _), by_text, by_ids in zip(expected, results[::2],
                                            results[1::2]):
        np.testing.assert_allclose(by_text["probabilities"], softmax(logits),
                                   atol=1e-5)
        np.testing.assert_allclose(by_ids["logits"], logits, atol=1e-5)
        assert by_text["probabilities"].dtype == np.float32
        names = np.array([b"neg", b"mid", b"pos"])
        assert list(by_text["label"]) == list(names[logits.argmax(-1)])


def test_mixed_precision_classifier_serves_float32(wordpiece, tmp_path):
    keras.config.set_dtype_policy("mixed_bfloat16")
    task = SequenceClassifier(bert(wordpiece), 2, tokenizer=wordpiece)
    keras.config.set_dtype_policy("float32")
    export.export(task, str(tmp_path / "bf16"))
    served = tf.saved_model.load(str(tmp_path / "bf16"))
    outputs = served.signatures["classify"](text=tf.constant(SHORT))
    assert outputs["probabilities"].dtype == tf.float32
    assert served.signatures["classify_ids"].structured_outputs[
        "logits"].dtype == tf.float32


# Tagger ------------------------------------------------------------------------------


def test_tagger(wordpiece, tmp_path):
    tags = ["O", "B-place", "I-place"]
    task = TokenClassifier(bert(wordpiece), 3, tokenizer=wordpiece)
    export_dir = str(tmp_path / "tagger")
    export.export(task, export_dir, labels=tags, sequence_length=24)
    batches = [[SHORT[1]], SHORT, [LONG[2] * 2],
               ["", INVALID, " new\u00a0york\u3000is\ta city "]]
    expected, id_calls = [], []
    for texts in batches:
        sentences = [as_python(t).split() for t in texts]
        if texts[0] == LONG[2] * 2:  # more than 22 pieces: cut
            pieces = tokenizers.tokenize_lines(wordpiece, sentences[0])
            starts = np.cumsum([0] + [max(len(p), 1) for p in pieces])[:-1]
            expected.append(int((starts < 22).sum()))
            continue
        examples = labelled.encode_words(wordpiece, sentences, 24, "x",
                                         [[1]] * len(texts))
        inputs = {"token_ids": pad([e[0] for e in examples]),
                  "padding_mask": pad([np.ones_like(e[0]) for e in examples])}
        inputs["segment_ids"] = np.zeros_like(inputs["token_ids"])
        logits = np.asarray(task.predict_on_batch(inputs))
        id_calls.append((("tag_ids", inputs), logits))
        expected.append([[tags[i] for i in row[e[1].nonzero()[0]]]
                         for row, e in zip(logits.argmax(-1), examples)])
    results = serve(export_dir, [("tag", {"text": strings(t)})
                                 for t in batches]
                    + [call for call, _ in id_calls], tmp_path)
    for (_, logits), got in zip(id_calls, results[len(batches):]):
        np.testing.assert_allclose(got["logits"], logits, atol=1e-5)
    for texts, want, got in zip(batches, expected, results):
        words = [as_python(t).split() for t in texts]
        assert list(got["num_words"]) == [len(w) for w in words]
        for i, row in enumerate(words):
            assert [w.decode() for w in got["words"][i][: len(row)]] == row
            served = [t.decode() for t in got["tags"][i][: len(row)]]
            if isinstance(want, list):
                assert served == want[i]
            else:  # [CLS] + 22 pieces + [SEP]: the words past them get ""
                assert 0 < want < len(row)
                assert all(served[:want]) and not any(served[want:])


# Masked LM -----------------------------------------------------------------------------


def test_masked_lm(wordpiece, tmp_path):
    task = MaskedLM(bert(wordpiece), tokenizer=wordpiece)
    export_dir = str(tmp_path / "mlm")
    export.export(task, export_dir, sequence_length=24, top_k=3)
    reader = keras_hub.models.BertTokenizer(
        vocabulary=wordpiece.get_vocabulary(), lowercase=True,
        special_tokens_in_strings=True)
    batches = [["the [MASK] sat"],
               ["a dog [MASK] in the [MASK] .", "no mask here", ""]]
    calls, id_inputs = [], []
    for texts in batches:
        ids = [[wordpiece.cls_token_id] + np.asarray(reader(t)).tolist()
               + [wordpiece.sep_token_id] for t in texts]
        id_inputs.append({"token_ids": pad(ids),
                          "segment_ids": np.zeros_like(pad(ids)),
                          "padding_mask": pad([[1] * len(r) for r in ids])})
        calls.append(("fill_mask", {"text": strings(texts)}))
        calls.append(("fill_mask_ids", id_inputs[-1]))
    calls.append(("fill_mask", {"text": strings(["[MASK] " + LONG[1] * 2])}))
    results = serve(export_dir, calls, tmp_path)
    for texts, by_text, by_ids in zip(batches, results[:-1:2], results[1::2]):
        for key in ("token_ids", "scores", "mask_positions"):
            np.testing.assert_allclose(by_ids[key], by_text[key], atol=1e-6)
        got = by_text
        ids = [[wordpiece.cls_token_id] + np.asarray(reader(t)).tolist()
               + [wordpiece.sep_token_id] for t in texts]
        token_ids = pad(ids)
        positions = [[p for p, i in enumerate(row)
                      if i == wordpiece.mask_token_id] for row in ids]
        width = max(len(p) for p in positions)
        probabilities = softmax(np.asarray(task({
            "token_ids": token_ids, "segment_ids": np.zeros_like(token_ids),
            "padding_mask": pad([[1] * len(r) for r in ids]),
            "mask_positions": pad([p + [0] * (width - len(p))
                                   for p in positions])})))
        for row, where in enumerate(positions):
            assert list(got["mask_positions"][row][: len(where)]) == where
            for m in range(len(where)):
                chosen = got["token_ids"][row, m]
                np.testing.assert_allclose(
                    got["scores"][row, m], probabilities[row, m, chosen],
                    atol=1e-5)
                assert got["scores"][row, m, 0] == pytest.approx(
                    probabilities[row, m].max(), abs=1e-5)
            assert not any(got["tokens"][row, len(where):].ravel())
    assert "more than 24 tokens" in results[-1]["error"]


# Causal LM ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def causal_export(tmp_path_factory):
    keras.utils.set_random_seed(1)
    tokenizer = tokenizers.train_byte_pair([TEXT], vocabulary_size=300)
    task = CausalLM(GPTDecoder(vocabulary_size=tokenizer.vocabulary_size(),
                               max_sequence_length=64, **SIZES),
                    tokenizer=tokenizer)
    export_dir = str(tmp_path_factory.mktemp("causal") / "export")
    export.export(task, export_dir)
    return task, export_dir


def test_causal_lm_generate(causal_export, tmp_path):
    task, export_dir = causal_export
    batches = [[SHORT[0]], SHORT, [LONG[1]], [LONG[0], SHORT[2], INVALID]]
    calls = []
    for texts in batches:
        calls.append(("generate", {"prompt": strings(texts),
                                   "max_new_tokens": np.int32(8)}))
        ids = tokenizers.tokenize_lines(task.tokenizer,
                                        [as_python(t) for t in texts])
        calls.append(("generate_ids", {
            "token_ids": pad(ids), "max_new_tokens": np.int32(8),
            "padding_mask": pad([np.ones_like(i) for i in ids])}))
    sample = dict(max_new_tokens=np.int32(8), temperature=np.float32(0.8),
                  top_k=np.int32(20), top_p=np.float32(0.9), seed=np.int32(3))
    calls += [("sample", {"prompt": strings(SHORT), **sample})] * 2
    results = serve(export_dir, calls, tmp_path)
    for texts, by_text, by_ids in zip(batches, results[:-2:2],
                                      results[1:-2:2]):
        python = [as_python(t) for t in texts]
        ids = [i.tolist() for i in tokenizers.tokenize_lines(task.tokenizer,
                                                             python)]
        want = task.generate(ids, max_new_tokens=8)
        for served in (by_text, by_ids):
            rows = [row[m.astype(bool)].tolist() for row, m in
                    zip(served["token_ids"], served["padding_mask"])]
            assert rows == want
        assert [t.decode() for t in by_text["text"]] == task.generate(
            python, max_new_tokens=8)
    first, second = results[-2:]
    np.testing.assert_array_equal(first["token_ids"], second["token_ids"])
    want = task.generate(SHORT, max_new_tokens=8, sampler="top_p", top_k=20,
                         top_p=0.9, temperature=0.8, seed=3)
    assert [t.decode() for t in first["text"]] == want


def test_causal_lm_bad_inputs_fail_as_in_python(causal_export, tmp_path):
    task, export_dir = causal_export
    cases = [
        ({"prompt": strings(["the cat", ""]), "max_new_tokens": np.int32(4)},
         "empty"),
        ({"prompt": strings(["the cat " * 40]), "max_new_tokens": np.int32(4)},
         "max_sequence_length 64"),
        ({"prompt": strings(["the cat"]), "max_new_tokens": np.int32(0)},
         "does not fit"),
    ]
    results = serve(export_dir, [("generate", inputs) for inputs, _ in cases],
                    tmp_path)
    for (inputs, reason), result in zip(cases, results):
        assert reason in result["error"]
        with pytest.raises(ValueError, match=reason):
            task.generate([t.decode() for t in inputs["prompt"]],
                          max_new_tokens=int(inputs["max_new_tokens"]))


# Seq2seq LM ---------------------------------------------------------------------------


def test_seq2seq_translate_greedy_and_beam(tmp_path):
    keras.utils.set_random_seed(2)
    tokenizer = tokenizers.train_sentence_piece([TEXT] * 5, vocabulary_size=200)
    task = Seq2SeqLM(Transformer(vocabulary_size=tokenizer.vocabulary_size(),
                                 max_sequence_length=128, **SIZES),
                     tokenizer=tokenizer)
    export_dir = str(tmp_path / "seq2seq")
    export.export(task, export_dir, num_beams=3, length_penalty=0.6)
    batches = [[SHORT[0]], [LONG[0]], SHORT, [LONG[1], SHORT[1], INVALID]]
    calls = []
    for texts in batches:
        for name in ("translate", "translate_beam"):
            calls.append((name, {"source": strings(texts)}))
    # The id signatures, on the last batch (mixed lengths).
    ids = tokenizers.tokenize_lines(tokenizer, [as_python(t) for t in batches[-1]])
    for name in ("translate_ids", "translate_beam_ids"):
        calls.append((name, {
            "token_ids": pad(ids),
            "padding_mask": pad([np.ones_like(i) for i in ids])}))
    calls.append(("translate", {"source": strings(["the cat", ""])}))
    calls.append(("translate", {"source": strings(["the cat " * 80])}))
    results = serve(export_dir, calls, tmp_path)
    for b, texts in enumerate(batches):
        greedy, beam = map(ok, results[2 * b: 2 * b + 2])
        python = [as_python(t) for t in texts]
        ids = [i.tolist() for i in tokenizers.tokenize_lines(tokenizer, python)]
        beam_options = dict(sampler="beam", num_beams=3, length_penalty=0.6)
        served_options = [(greedy, {}), (beam, beam_options)]
        if b == len(batches) - 1:
            served_options += [(ok(results[-4]), {}),
                               (ok(results[-3]), beam_options)]
        for served, options in served_options:
            rows = [row[m.astype(bool)][1:].tolist() for row, m in
                    zip(served["token_ids"], served["padding_mask"])]
            assert rows == task.generate(ids, **options)
        assert [t.decode() for t in greedy["text"]] == task.generate(python)
    assert "A source is empty" in results[-2]["error"]
    with pytest.raises(ValueError, match="empty"):
        task.generate(["the cat", ""])
    assert "max_sequence_length 128" in results[-1]["error"]
    with pytest.raises(ValueError, match="max_sequence_length 128"):
        task.generate(["the cat " * 80])


# The export itself --------------------------------------------------------------


def test_export_keeps_an_existing_export_unless_told(wordpiece, tmp_path):
    task = SequenceClassifier(bert(wordpiece), 2, tokenizer=wordpiece)
    export_dir = tmp_path / "keep"
    export_dir.mkdir()
    (export_dir / "saved_model.pb").write_text("an earlier export")
    with pytest.raises(FileExistsError, match="overwrite"):
        export.export(task, str(export_dir))
    assert (export_dir / "saved_model.pb").read_text() == "an earlier export"
    export.export(task, str(export_dir), overwrite=True)
    served = tf.saved_model.load(str(export_dir))
    assert sorted(os.listdir(export_dir / "assets")) == ["vocabulary.txt"]
    assert set(served.signatures) == {"serving_default", "classify",
                                      "classify_ids"}
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".export_")]


def test_a_task_without_tokenizer_or_labels_that_do_not_fit(wordpiece,
                                                            tmp_path):
    with pytest.raises(ValueError, match="no tokenizer"):
        export.export(SequenceClassifier(bert(wordpiece), 2),
                      str(tmp_path / "a"))
    with pytest.raises(ValueError, match="3 label names for a model with 2"):
        export.export(SequenceClassifier(bert(wordpiece), 2,
                                         tokenizer=wordpiece),
                      str(tmp_path / "b"), labels=["x", "y", "z"])


@pytest.mark.parametrize("kind", tokenizers.KINDS)
def test_every_tokenizer_kind_works_inside_a_savedmodel(kind, tmp_path):
    tokenizer = tokenizers.train_tokenizer(kind, [TEXT], vocabulary_size=300)
    keras.utils.set_random_seed(3)  # invalidates eager SentencePiece resources
    module = tf.Module()
    module.tokenizer = export.GraphTokenizer(tokenizer)
    module.round_trip = tf.function(
        lambda texts: module.tokenizer.detokenize(
            module.tokenizer.tokenize(texts)),
        input_signature=[tf.TensorSpec([None], tf.string)])
    module.ids = tf.function(
        lambda texts: module.tokenizer.tokenize(texts).to_tensor(),
        input_signature=[tf.TensorSpec([None], tf.string)])
    tf.saved_model.save(module, str(tmp_path / kind))
    served = tf.saved_model.load(str(tmp_path / kind))
    texts = ["the cat sat on the mat", "new york"]
    ids = served.ids(tf.constant(texts)).numpy()
    wanted = tokenizers.tokenize_lines(tokenizer, texts)
    assert ids.shape[1] == max(len(w) for w in wanted)
    for row, want in zip(ids, wanted):
        assert row[: len(want)].tolist() == want.tolist()
        assert not row[len(want):].any()
    text = [t.decode() for t in served.round_trip(tf.constant(texts)).numpy()]
    assert [t.replace(" ", "") for t in text] == [
        t.replace(" ", "") for t in texts]  # WordPiece drops nothing but spaces


def test_generation_exports_without_xla_too(causal_export, tmp_path):
    task, _ = causal_export
    export.export(task, str(tmp_path / "plain"), xla=False)
    served = tf.saved_model.load(str(tmp_path / "plain"))
    outputs = served.signatures["generate"](
        prompt=tf.constant(SHORT), max_new_tokens=tf.constant(5))
    lengths = outputs["padding_mask"].numpy().sum(axis=1)
    ids = tokenizers.tokenize_lines(task.tokenizer, SHORT)
    stop = task.tokenizer.end_token_id
    for row, length, prompt in zip(outputs["token_ids"].numpy(), lengths, ids):
        assert len(prompt) < length <= len(prompt) + 5
        assert row[: len(prompt)].tolist() == prompt.tolist()
        assert length == len(prompt) + 5 or row[length - 1] == stop
