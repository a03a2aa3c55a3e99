"""MarianMT (the opus-mt translators) as the zoo's Transformer with its
options: a small random-weight `MarianMTModel` from a config here,
converted and compared with `transformers` itself."""

import numpy as np
import pytest
from keras import ops

import pytorch_process as pt
import zoo.convert

PAD, END, VOCABULARY = 99, 0, 100
MARIAN = "MarianMTModel"


@pytest.fixture(scope="module")
def marian(tmp_path_factory):
    """A random-weight MarianMTModel, and a final logits bias that is not
    zeros, to see it carried."""
    config = {"model_type": "marian",
              "vocab_size": VOCABULARY, "d_model": 32, "encoder_layers": 2,
              "decoder_layers": 2, "encoder_attention_heads": 4,
              "decoder_attention_heads": 4, "encoder_ffn_dim": 64,
              "decoder_ffn_dim": 64, "max_position_embeddings": 64,
              "pad_token_id": PAD, "eos_token_id": END,
              "decoder_start_token_id": PAD, "forced_eos_token_id": None,
              "scale_embedding": True}  # as opus-mt
    return pt.call(pt.random_model, MARIAN, config,
                   str(tmp_path_factory.mktemp("marian")), bias=True)


def test_logits_match_transformers(marian):
    path = marian
    model = zoo.convert.from_huggingface(path)
    source = np.random.RandomState(0).randint(1, PAD, size=(2, 7))
    source_mask = np.ones_like(source)
    source_mask[1, 4:] = 0
    target = np.random.RandomState(1).randint(1, PAD, size=(2, 5))
    target[:, 0] = PAD  # the decoder starts from the padding token
    target_mask = np.ones_like(target)
    target_mask[0, 3:] = 0
    expected = pt.call(pt.outputs, path, MARIAN, {
        "input_ids": source, "attention_mask": source_mask,
        "decoder_input_ids": target, "decoder_attention_mask": target_mask},
        ["logits"])["logits"]
    got = ops.convert_to_numpy(model({
        "encoder_token_ids": source, "encoder_padding_mask": source_mask,
        "decoder_token_ids": target, "decoder_padding_mask": target_mask}))
    real = target_mask.astype(bool)
    np.testing.assert_allclose(got[real], expected[real], atol=1e-5, rtol=0)


def test_greedy_translation_matches_transformers(marian):
    path = marian
    model = zoo.convert.from_huggingface(path)
    for source in ([5, 17, 33, 2, 9, END], [40, 41, END]):
        # The zoo never generates the start token; opus-mt configs bar
        # <pad> (the start) with bad_words_ids.
        expected = pt.call(pt.generate, path, MARIAN, source,
                           max_new_tokens=12, do_sample=False, num_beams=1,
                           bad_words_ids=[[PAD]])
        expected = expected[1:]  # after the start token
        if END in expected:
            expected = expected[:expected.index(END) + 1]
        got = model.generate([source], max_new_tokens=12, start_token_id=PAD,
                             stop_token_ids=[END])[0]
        assert got == expected


def test_marian_round_trip(marian, tmp_path):
    path = marian
    model = zoo.convert.from_huggingface(path)
    zoo.convert.to_huggingface(model, tmp_path / "out")
    before = pt.call(pt.state, path, MARIAN)
    after = pt.call(pt.state, str(tmp_path / "out"), MARIAN)
    assert set(before) == set(after)
    for key in before:
        np.testing.assert_allclose(after[key], before[key], atol=1e-6,
                                   err_msg=key)
    import json

    written = json.loads((tmp_path / "out" / "config.json").read_text())
    assert (written["pad_token_id"], written["decoder_start_token_id"],
            written["eos_token_id"]) == (PAD, PAD, END)
    back = zoo.convert.from_huggingface(str(tmp_path / "out"))
    for a, b in zip(model.weights, back.weights):
        np.testing.assert_array_equal(ops.convert_to_numpy(a),
                                      ops.convert_to_numpy(b))


def test_a_checkpoint_without_the_final_bias_gets_zeros(marian, tmp_path):
    import safetensors.numpy

    path = marian
    zoo.convert.to_huggingface(zoo.convert.from_huggingface(path),
                               tmp_path / "out")
    file = str(tmp_path / "out" / "model.safetensors")
    tensors = safetensors.numpy.load_file(file)
    del tensors["final_logits_bias"]
    safetensors.numpy.save_file(tensors, file, metadata={"format": "pt"})
    model = zoo.convert.from_huggingface(str(tmp_path / "out"))
    assert not ops.convert_to_numpy(model.final_logits_bias).any()


def test_marian_sizes_the_zoo_has_not(marian, tmp_path):
    import json
    import shutil

    path = marian
    copy = tmp_path / "copy"
    shutil.copytree(path, copy)
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "decoder_layers": 1}))
    with pytest.raises(ValueError, match="encoder_layers=2 but decoder_layers=1"):
        zoo.convert.from_huggingface(str(copy))
