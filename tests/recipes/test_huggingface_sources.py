"""Hugging Face directories in the recipes: `--init_from` of a fine-tuning
recipe, and `recipes/export.py --init_from`, the one command from a
checkpoint directory to a SavedModel that serves text."""

import numpy as np
import pytest
import pytorch_process as pt
from recipe_runner import run_recipe

from zoo.data import tokenizers

TEXTS = ["a fine , moving film", "dull and long", "the quick brown fox",
         "jumps over the lazy dog"] * 5


def test_bert_finetune_starts_from_a_hugging_face_directory(tmp_path):
    import keras

    wordpiece = tokenizers.train_wordpiece(TEXTS, vocabulary_size=80)
    hf = pt.call(pt.random_model, "BertModel", {
        "model_type": "bert", "vocab_size": int(wordpiece.vocabulary_size()),
        "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
        "intermediate_size": 64, "max_position_embeddings": 64},
        str(tmp_path / "hf"))
    (tmp_path / "hf" / "vocab.txt").write_text(
        "".join(t + "\n" for t in wordpiece.get_vocabulary()))
    train = tmp_path / "train.tsv"
    train.write_text("sentence\tlabel\n" + "".join(
        f"{t}\t{i % 2}\n" for i, t in enumerate(TEXTS)))
    model_dir = tmp_path / "run"
    run_recipe("bert_finetune", f"--model_dir={model_dir}",
               f"--init_from={tmp_path / 'hf'}", f"--train_file={train}",
               f"--validation_file={train}", "--batch_size=4", "--steps=2",
               "--checkpoint_every=2", "--warmup_steps=1",
               "--learning_rate=1e-12", "--dropout=0.0")
    tuned = keras.saving.load_model(model_dir / "model.keras", compile=False)
    ids = np.array([[2, 10, 20, 30, 3], [2, 40, 3, 0, 0]], "int32")
    mask = (ids > 0).astype("int32")
    expected = pt.call(pt.outputs, hf, "BertModel",
                       {"input_ids": ids, "attention_mask": mask},
                       ["last_hidden_state"])["last_hidden_state"]
    got = tuned.backbone({"token_ids": ids, "padding_mask": mask,
                          "segment_ids": np.zeros_like(ids)})["sequence_output"]
    np.testing.assert_allclose(np.asarray(got)[mask.astype(bool)],
                               expected[mask.astype(bool)], atol=1e-5)
    assert (tuned.tokenizer.get_vocabulary() == wordpiece.get_vocabulary())


@pytest.mark.tensorflow
def test_export_serves_a_hugging_face_gpt2_directory(tmp_path):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

    byte_pair = tokenizers.train_byte_pair(TEXTS, vocabulary_size=300)
    end = int(byte_pair.token_to_id("<|endoftext|>"))
    import zoo.convert

    hf_dir = tmp_path / "hf"
    pt.call(pt.random_model, "GPT2LMHeadModel", {
        "model_type": "gpt2", "vocab_size": int(byte_pair.vocabulary_size()),
        "n_embd": 32, "n_layer": 1, "n_head": 2, "n_positions": 64,
        "bos_token_id": end, "eos_token_id": end}, str(hf_dir))
    lm = zoo.convert.from_huggingface(str(hf_dir))
    lm.tokenizer = byte_pair
    zoo.convert.to_huggingface(lm, hf_dir, overwrite=True)  # + tokenizer
    export_dir = tmp_path / "export"
    run_recipe("export", f"--init_from={hf_dir}", f"--export_dir={export_dir}")
    served = tf.saved_model.load(str(export_dir)).signatures["generate"]
    prompt = "the quick brown"
    result = served(prompt=tf.constant([prompt]),
                    max_new_tokens=tf.constant(10))
    [prompt_ids] = pt.call(pt.tokenize, str(hf_dir), [prompt])
    expected = pt.call(pt.generate, str(hf_dir), "GPT2LMHeadModel",
                       prompt_ids, max_new_tokens=10, do_sample=False,
                       eos_token_id=end, pad_token_id=end)
    got = result["token_ids"][0].numpy().tolist()
    assert got[:len(expected)] == expected
    [text] = pt.call(pt.decode, str(hf_dir), [expected])
    assert result["text"][0].numpy().decode() == text


@pytest.mark.tensorflow
def test_a_marian_directory_fine_tunes_and_exports(tmp_path):
    """`transformer_finetune --init_from` keeps all of MarianMT (weights,
    final logits bias, tokenizer): with learning rate 0 the tuned model
    translates as the directory does; `export --init_from` serves it."""
    import keras
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops)
    from marian_files import ENGLISH
    from marian_files import GERMAN
    from marian_files import write_translator

    import zoo.convert
    from zoo.data.tokenizer_classes import MarianTokenizer

    path, _, _ = write_translator(tmp_path / "opus_mt", bias=True)
    data = []
    for split in ("train", "validation", "test"):
        for side, lines in (("source", ENGLISH), ("target", GERMAN)):
            file = tmp_path / f"{split}.{side}"
            file.write_text("\n".join(lines) + "\n")
            data.append(f"--{split}_{side}={file}")
    model_dir = tmp_path / "tuned"
    run_recipe("transformer_finetune", f"--model_dir={model_dir}",
               f"--init_from={path}", *data, "--batch_size=2", "--steps=2",
               "--checkpoint_every=2", "--warmup_steps=1",
               "--learning_rate=1e-12", "--dropout=0.0", "--num_beams=2",
               "--test_examples=2")
    tuned = keras.saving.load_model(model_dir / "model.keras")
    original = zoo.convert.from_huggingface(path)
    assert isinstance(tuned.tokenizer, MarianTokenizer)
    sources = ENGLISH[:3]
    rows = tf.ragged.constant(tuned.tokenizer(sources))
    ids, mask = rows.to_tensor(), tf.sequence_mask(rows.row_lengths())
    batch = {"encoder_token_ids": ids, "encoder_padding_mask": mask,
             "decoder_token_ids": ids[:, :5],
             "decoder_padding_mask": mask[:, :5]}
    np.testing.assert_allclose(np.asarray(tuned(batch)),
                               np.asarray(original(batch)), atol=1e-6)

    export_dir = tmp_path / "export"
    run_recipe("export", f"--init_from={path}", f"--export_dir={export_dir}")
    served = tf.saved_model.load(str(export_dir)).signatures["translate"]
    result = served(source=tf.constant(sources))
    assert ([t.decode() for t in result["text"].numpy()]
            == original.generate(sources))
