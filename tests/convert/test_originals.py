"""The original releases: TensorFlow 1 checkpoints written here with the
canonical variable names and shapes of google-research/bert and OpenAI's
GPT-2 from random weights, converted, and compared with the same weights
reached through the Hugging Face route."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import pytorch_process as pt
import zoo.convert
from zoo.data import tokenizers

TEXTS = ["the quick brown fox jumps over the lazy dog",
         "a fine , moving film", "dull and long"] * 4
LAYERS = 2


def write_tf1_checkpoint(variables, prefix):
    """Save {name: array} as a name-based TensorFlow 1 checkpoint."""
    with tf.Graph().as_default():
        created = [tf.compat.v1.Variable(value, name=name)
                   for name, value in variables.items()]
        saver = tf.compat.v1.train.Saver(created)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            saver.save(session, prefix, write_meta_graph=False)


def bert_release_variables(state):
    """google-research/bert's names and layouts for a BertForPreTraining
    state dict (modeling.py and run_pretraining.py of that repository)."""
    out = {
        "bert/embeddings/word_embeddings": state["bert.embeddings.word_embeddings.weight"],
        "bert/embeddings/position_embeddings": state["bert.embeddings.position_embeddings.weight"],
        "bert/embeddings/token_type_embeddings": state["bert.embeddings.token_type_embeddings.weight"],
        "bert/embeddings/LayerNorm/gamma": state["bert.embeddings.LayerNorm.weight"],
        "bert/embeddings/LayerNorm/beta": state["bert.embeddings.LayerNorm.bias"],
        "bert/pooler/dense/kernel": state["bert.pooler.dense.weight"].T,
        "bert/pooler/dense/bias": state["bert.pooler.dense.bias"],
        "cls/predictions/transform/dense/kernel": state["cls.predictions.transform.dense.weight"].T,
        "cls/predictions/transform/dense/bias": state["cls.predictions.transform.dense.bias"],
        "cls/predictions/transform/LayerNorm/gamma": state["cls.predictions.transform.LayerNorm.weight"],
        "cls/predictions/transform/LayerNorm/beta": state["cls.predictions.transform.LayerNorm.bias"],
        "cls/predictions/output_bias": state["cls.predictions.bias"],
        "cls/seq_relationship/output_weights": state["cls.seq_relationship.weight"],
        "cls/seq_relationship/output_bias": state["cls.seq_relationship.bias"],
        "global_step": np.array(1000, "int64"),
    }
    for i in range(LAYERS):
        tf1, hf = f"bert/encoder/layer_{i}", f"bert.encoder.layer.{i}"
        for a, b in (("attention/self/query", "attention.self.query"),
                     ("attention/self/key", "attention.self.key"),
                     ("attention/self/value", "attention.self.value"),
                     ("attention/output/dense", "attention.output.dense"),
                     ("intermediate/dense", "intermediate.dense"),
                     ("output/dense", "output.dense")):
            out[f"{tf1}/{a}/kernel"] = state[f"{hf}.{b}.weight"].T
            out[f"{tf1}/{a}/bias"] = state[f"{hf}.{b}.bias"]
            out[f"{tf1}/{a}/kernel/adam_m"] = np.zeros_like(out[f"{tf1}/{a}/kernel"])
        for a, b in (("attention/output/LayerNorm", "attention.output.LayerNorm"),
                     ("output/LayerNorm", "output.LayerNorm")):
            out[f"{tf1}/{a}/gamma"] = state[f"{hf}.{b}.weight"]
            out[f"{tf1}/{a}/beta"] = state[f"{hf}.{b}.bias"]
    return out


def test_bert_release_equals_the_hugging_face_route(tmp_path):
    wordpiece = tokenizers.train_wordpiece(TEXTS, vocabulary_size=80)
    hf = pt.call(pt.random_model, "BertForPreTraining", {
        "model_type": "bert", "vocab_size": int(wordpiece.vocabulary_size()),
        "hidden_size": 32, "num_hidden_layers": LAYERS,
        "num_attention_heads": 4, "intermediate_size": 64,
        "max_position_embeddings": 40}, str(tmp_path / "hf"))
    state = pt.call(pt.state, hf, "BertForPreTraining")
    release = tmp_path / "uncased_L-2_H-32_A-4"
    release.mkdir()
    write_tf1_checkpoint(bert_release_variables(state),
                         str(release / "bert_model.ckpt"))
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    (release / "bert_config.json").write_text(json.dumps({
        key: config[key] for key in (
            "vocab_size", "hidden_size", "num_hidden_layers",
            "num_attention_heads", "intermediate_size", "hidden_act",
            "hidden_dropout_prob", "attention_probs_dropout_prob",
            "max_position_embeddings", "type_vocab_size",
            "initializer_range")}))
    (release / "vocab.txt").write_text(
        "".join(t + "\n" for t in wordpiece.get_vocabulary()))
    (tmp_path / "hf" / "vocab.txt").write_text(
        (release / "vocab.txt").read_text())

    from_release = zoo.convert.from_bert_checkpoint(str(release))
    from_hf = zoo.convert.from_huggingface(str(tmp_path / "hf"))
    assert from_release.next_sentence_prediction
    assert from_release.tokenizer.lowercase
    ids = np.random.RandomState(0).randint(5, 80, size=(2, 9))
    inputs = {"token_ids": ids, "padding_mask": np.ones_like(ids),
              "segment_ids": np.zeros_like(ids),
              "mask_positions": np.array([[1, 4], [2, 8]])}
    a, b = from_release(inputs), from_hf(inputs)
    for key in ("masked_lm", "next_sentence"):
        np.testing.assert_array_equal(ops.convert_to_numpy(a[key]),
                                      ops.convert_to_numpy(b[key]))
    expected = pt.call(pt.outputs, hf, "BertForPreTraining",
                       {"input_ids": ids, "token_type_ids": np.zeros_like(ids)},
                       ["seq_relationship_logits"])
    np.testing.assert_allclose(ops.convert_to_numpy(a["next_sentence"]),
                               expected["seq_relationship_logits"], atol=1e-5)


def gpt2_release_variables(state):
    """OpenAI's GPT-2 names and layouts (gpt-2's src/model.py: Conv1D
    weights (1, in, out), LayerNorm g and b) for a GPT2LMHeadModel state."""
    out = {"model/wte": state["transformer.wte.weight"],
           "model/wpe": state["transformer.wpe.weight"],
           "model/ln_f/g": state["transformer.ln_f.weight"],
           "model/ln_f/b": state["transformer.ln_f.bias"]}
    for i in range(LAYERS):
        hf = f"transformer.h.{i}"
        for part in ("ln_1", "ln_2"):
            out[f"model/h{i}/{part}/g"] = state[f"{hf}.{part}.weight"]
            out[f"model/h{i}/{part}/b"] = state[f"{hf}.{part}.bias"]
        for part in ("attn/c_attn", "attn/c_proj", "mlp/c_fc", "mlp/c_proj"):
            name = part.replace("/", ".")
            out[f"model/h{i}/{part}/w"] = state[f"{hf}.{name}.weight"][None]
            out[f"model/h{i}/{part}/b"] = state[f"{hf}.{name}.bias"]
    return out


def test_gpt2_release_equals_the_hugging_face_route(tmp_path):
    byte_pair = tokenizers.train_byte_pair(TEXTS, vocabulary_size=300)
    size = int(byte_pair.vocabulary_size())
    hf = pt.call(pt.random_model, "GPT2LMHeadModel", {
        "model_type": "gpt2", "vocab_size": size, "n_embd": 32,
        "n_layer": LAYERS, "n_head": 4, "n_positions": 40},
        str(tmp_path / "hf"))
    state = pt.call(pt.state, hf, "GPT2LMHeadModel")
    release = tmp_path / "124M"
    release.mkdir()
    write_tf1_checkpoint(gpt2_release_variables(state),
                         str(release / "model.ckpt"))
    (release / "hparams.json").write_text(json.dumps(
        {"n_vocab": size, "n_ctx": 40, "n_embd": 32, "n_head": 4,
         "n_layer": LAYERS}))
    (release / "encoder.json").write_text(json.dumps(byte_pair.vocabulary))
    (release / "vocab.bpe").write_text(
        "#version: 0.2\n" + "".join(m + "\n" for m in byte_pair.merges))

    from_release = zoo.convert.from_directory(str(release))
    from_hf = zoo.convert.from_huggingface(str(tmp_path / "hf"))
    ids = np.random.RandomState(0).randint(1, size, size=(2, 9))
    inputs = {"token_ids": ids, "padding_mask": np.ones_like(ids)}
    np.testing.assert_array_equal(ops.convert_to_numpy(from_release(inputs)),
                                  ops.convert_to_numpy(from_hf(inputs)))
    assert (from_release.tokenizer.get_vocabulary()
            == byte_pair.get_vocabulary())
    prompt = [[5, 6, 7]]
    expected = pt.call(pt.generate, hf, "GPT2LMHeadModel", prompt[0],
                       max_new_tokens=8, do_sample=False, eos_token_id=None,
                       pad_token_id=0)
    assert from_release.generate(prompt, max_new_tokens=8)[0] == expected


def test_a_release_missing_its_files(tmp_path):
    (tmp_path / "bert_config.json").write_text("{}")
    with pytest.raises(ValueError, match="no bert_model.ckpt.index"):
        zoo.convert.from_bert_checkpoint(str(tmp_path))
    os.makedirs(tmp_path / "gpt")
    (tmp_path / "gpt" / "hparams.json").write_text(
        '{"n_vocab": 50, "n_ctx": 16, "n_embd": 8, "n_head": 2, "n_layer": 1}')
    with pytest.raises(ValueError, match="no model.ckpt.index"):
        zoo.convert.from_directory(str(tmp_path / "gpt"))
