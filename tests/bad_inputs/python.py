"""Bad-input cases: python (see tests/bad_inputs/table.py).

The Python API: backbones, tasks and their data, `generate`, tokenizers,
and loading a `.keras` file. Models are built tiny in each call.
"""

import json
import os
import zipfile

import numpy as np

from tests.bad_inputs.table import Case
from zoo import saving
from zoo.data import tokenizers
from zoo.export.model_dir import read_model_dir
from zoo.models import BertEncoder
from zoo.models import GPTDecoder
from zoo.models import Transformer
from zoo.tasks import CausalLM
from zoo.tasks import MaskedLM
from zoo.tasks import Seq2SeqLM
from zoo.tasks import SequenceClassifier
from zoo.training.finetune import load_pretrained

SIZES = {"vocabulary_size": 50, "num_layers": 1, "num_heads": 2,
         "hidden_dim": 8, "intermediate_dim": 16, "max_sequence_length": 16}
IDS = np.array([[5, 6, 7]], "int32")  # (B, T) = (1, 3)
ONES = np.ones_like(IDS)
TEXT = "the cat sat on the mat . a dog ran in the park . " * 10


def gpt(token_ids=IDS, padding_mask=ONES):
    return GPTDecoder(**SIZES)({"token_ids": np.asarray(token_ids),
                                "padding_mask": np.asarray(padding_mask)})


def bert(**inputs):
    return BertEncoder(**SIZES)({"token_ids": IDS, "padding_mask": ONES,
                                 **inputs})


def transformer(**inputs):
    return Transformer(**SIZES)({
        "encoder_token_ids": IDS, "encoder_padding_mask": ONES,
        "decoder_token_ids": IDS, "decoder_padding_mask": ONES, **inputs})


def fit(token_ids=IDS, padding_mask=ONES):
    lm = CausalLM(GPTDecoder(**SIZES))
    lm.compile()
    return lm.fit({"token_ids": token_ids, "padding_mask": padding_mask},
                  epochs=1, verbose=0)


def fit_dataset(token_ids):
    import tensorflow as tf

    lm = CausalLM(GPTDecoder(**SIZES))
    lm.compile()
    data = tf.data.Dataset.from_tensor_slices(
        {"token_ids": token_ids, "padding_mask": np.ones_like(token_ids)})
    return lm.fit(data.batch(1), epochs=1, verbose=0)


def evaluate_classifier(token_ids):
    task = SequenceClassifier(BertEncoder(**SIZES), 2)
    task.compile()
    return task.evaluate({"token_ids": token_ids, "padding_mask": ONES},
                         np.array([1]), verbose=0)


def predict(token_ids):
    return CausalLM(GPTDecoder(**SIZES)).predict(
        {"token_ids": token_ids, "padding_mask": ONES}, verbose=0)


def generate(prompts=((5, 6),), **options):
    options.setdefault("max_new_tokens", 3)
    return CausalLM(GPTDecoder(**SIZES)).generate(
        [list(p) for p in prompts] if isinstance(prompts, tuple) else prompts,
        **options)


def translate(**options):
    return Seq2SeqLM(Transformer(**SIZES)).generate(
        [[5, 6]], max_new_tokens=3, **options)


def keras_file(path):
    """A whole `.keras` file of a tiny task at `path`."""
    CausalLM(GPTDecoder(**SIZES)).save(path)
    return path


def model_dir(tmp_path, keep_bytes):
    """A finished run's dir whose model.keras is cut to `keep_bytes`
    (a function of its size)."""
    path = keras_file(str(tmp_path / "model.keras"))
    with open(path, "rb") as file:
        data = file.read()
    with open(path, "wb") as file:
        file.write(data[: keep_bytes(len(data))])
    with open(tmp_path / "run.json", "w") as file:
        json.dump({}, file)
    return str(tmp_path)


def damaged_member(tmp_path):
    """A `.keras` file whose weights member has 500 bytes zeroed: its zip
    directory is whole, its CRC fails."""
    path = keras_file(str(tmp_path / "model.keras"))
    with zipfile.ZipFile(path) as archive:
        member = archive.getinfo("model.weights.h5")
    with open(path, "r+b") as file:
        file.seek(member.header_offset + 30 + len(member.filename) + 200)
        file.write(b"\0" * 500)
    return saving.load_model(path)


def damaged_run_json(tmp_path):
    directory = model_dir(tmp_path, lambda size: size)
    with open(os.path.join(directory, "run.json"), "w") as file:
        file.write('{"labels": ["neg", ')
    return read_model_dir(directory)


FLOATS = np.array([[5.5, 6.0, 7.0]], "float32")
MUST_BE_01 = "`padding_mask` must be 0 or 1"

CASES = [
    # Backbones ------------------------------------------------------------
    Case("python", "`GPTDecoder` with float `token_ids` (5.5)",
         "`token_ids` must be integers", call=lambda: gpt(FLOATS)),
    Case("python", "`BertEncoder` with float `token_ids` (5.0, whole)",
         "`token_ids` must be integers",
         call=lambda: bert(token_ids=IDS.astype("float64"))),
    Case("python", "`Transformer` with float `encoder_token_ids`",
         "`encoder_token_ids` must be integers",
         call=lambda: transformer(encoder_token_ids=FLOATS)),
    Case("python", "`GPTDecoder` with bool `token_ids`",
         "`token_ids` must be integers",
         call=lambda: gpt(IDS.astype(bool))),
    Case("python", "`BertEncoder` with float `segment_ids` (0.5)",
         "`segment_ids` must be integers",
         call=lambda: bert(segment_ids=np.array([[0, 0.5, 1]]))),
    Case("python", "`padding_mask` holding NaN", MUST_BE_01,
         call=lambda: gpt(padding_mask=np.array([[1, np.nan, 1]]))),
    Case("python", "`padding_mask` holding 7", MUST_BE_01,
         call=lambda: gpt(padding_mask=np.array([[1, 7, 1]]))),
    Case("python", "`BertEncoder` with `padding_mask` 0.5", MUST_BE_01,
         call=lambda: bert(padding_mask=np.array([[1, 0.5, 0]]))),
    Case("python", "`Transformer` with `decoder_padding_mask` holding -1",
         "`decoder_padding_mask` must be 0 or 1",
         call=lambda: transformer(decoder_padding_mask=np.array([[1, -1, 0]]))),
    Case("python", "a backbone called on an array, not a dict",
         "takes a dict of tensors with ['token_ids']",
         call=lambda: GPTDecoder(**SIZES)(IDS)),
    Case("python", "a backbone's inputs without `token_ids`",
         "inputs lack ['token_ids']",
         call=lambda: GPTDecoder(**SIZES)({"padding_mask": ONES})),
    Case("python", "`Transformer` inputs without `decoder_token_ids`",
         "inputs lack ['decoder_token_ids']",
         call=lambda: Transformer(**SIZES)({"encoder_token_ids": IDS})),
    Case("python", "`MaskedLM` with float `mask_positions`",
         "`mask_positions` must be integers",
         call=lambda: MaskedLM(BertEncoder(**SIZES))({
             "token_ids": IDS, "padding_mask": ONES,
             "mask_positions": np.array([[1.0]])})),
    Case("python", "`GPTDecoder.call_with_cache` with float `token_ids`",
         "`token_ids` must be integers",
         call=lambda: GPTDecoder(**SIZES).call_with_cache(
             np.array([[5.5]]), GPTDecoder(**SIZES).initial_cache(1, 4), 0)),
    # Tasks' data (checked before Keras compiles a step) --------------------
    Case("python", "`task.fit` with float `token_ids`",
         "`token_ids` must be integers", call=lambda: fit(FLOATS)),
    Case("python", "`task.fit` with a `padding_mask` of 7s", MUST_BE_01,
         call=lambda: fit(padding_mask=ONES * 7)),
    Case("python", "`task.fit` on a `tf.data` dataset of float `token_ids`",
         "`token_ids` must be integers", call=lambda: fit_dataset(FLOATS)),
    Case("python", "`task.evaluate` with float `token_ids`",
         "`token_ids` must be integers",
         call=lambda: evaluate_classifier(FLOATS)),
    Case("python", "`task.predict` with float `token_ids`",
         "`token_ids` must be integers", call=lambda: predict(FLOATS)),
    # generate ----------------------------------------------------------------
    Case("python", "`generate(..., sampler=\"random\", temperature=nan)`",
         "`temperature` must be finite",
         call=lambda: generate(sampler="random", temperature=float("nan"))),
    Case("python", "`generate(..., sampler=\"random\", temperature=inf)`",
         "`temperature` must be finite",
         call=lambda: generate(sampler="random", temperature=float("inf"))),
    Case("python", "`generate(..., temperature=\"hot\")`",
         "`temperature` must be a number",
         call=lambda: generate(sampler="random", temperature="hot")),
    Case("python", "`generate(..., sampler=\"top_k\", top_k=2.5)`",
         "`top_k` must be an int",
         call=lambda: generate(sampler="top_k", top_k=2.5)),
    Case("python", "`generate(..., sampler=\"top_p\", top_p=\"0.9\")`",
         "`top_p` must be a number",
         call=lambda: generate(sampler="top_p", top_p="0.9")),
    Case("python", "`generate(..., sampler=\"beam\", num_beams=2.5)`",
         "`num_beams` must be an int",
         call=lambda: generate(sampler="beam", num_beams=2.5)),
    Case("python", "`generate(..., sampler=\"beam\", length_penalty=nan)`",
         "`length_penalty` must be finite",
         call=lambda: generate(sampler="beam", num_beams=2,
                               length_penalty=float("nan"))),
    Case("python", "`generate(..., max_new_tokens=2.5)`",
         "`max_new_tokens` must be an int",
         call=lambda: generate(max_new_tokens=2.5)),
    Case("python", "`generate(..., sampler=\"random\", seed=2.5)`",
         "`seed` must be an int",
         call=lambda: generate(sampler="random", seed=2.5)),
    Case("python", "`generate(..., sampler=\"random\", seed=2**40)`",
         "fits in int32",
         call=lambda: generate(sampler="random", seed=2**40)),
    Case("python", "`generate(..., stop_token_ids=[2.5])`",
         "`stop_token_ids` must be integer token ids",
         call=lambda: generate(stop_token_ids=[2.5])),
    Case("python", "`generate({\"token_ids\": floats})`",
         "`token_ids` must be integers",
         call=lambda: generate({"token_ids": FLOATS})),
    Case("python", "`generate({\"token_ids\": ..., \"padding_mask\": 7s})`",
         MUST_BE_01,
         call=lambda: generate({"token_ids": IDS, "padding_mask": ONES * 7})),
    Case("python", "`Seq2SeqLM.generate(..., start_token_id=1.5)`",
         "`start_token_id` must be an int",
         call=lambda: translate(start_token_id=1.5)),
    Case("python", "`Seq2SeqLM.generate(..., sampler=\"random\", "
         "temperature=nan)`", "`temperature` must be finite",
         call=lambda: translate(start_token_id=1, sampler="random",
                                temperature=float("nan"))),
    # Tokenizers ------------------------------------------------------------
    Case("python", "`train_byte_pair(texts, vocabulary_size=5)`",
         "needs at least 258",
         call=lambda: tokenizers.train_byte_pair([TEXT], vocabulary_size=5)),
    Case("python", "`check_vocabulary_size(\"byte_pair\", 257)`",
         "needs at least 258",
         call=lambda: tokenizers.check_vocabulary_size("byte_pair", 257)),
    Case("python", "`check_vocabulary_size(\"bpe\", 500)`",
         "Unknown tokenizer 'bpe'",
         call=lambda: tokenizers.check_vocabulary_size("bpe", 500)),
    Case("python", "`train_wordpiece(texts, vocabulary_size=3)`",
         "needs at least 6",
         call=lambda: tokenizers.train_wordpiece([TEXT], vocabulary_size=3)),
    Case("python", "`train_sentence_piece(texts, vocabulary_size=5)`",
         "needs at least 105",
         call=lambda: tokenizers.train_sentence_piece([TEXT], 5)),
    Case("python", "`train_sentence_piece` with fewer tokens than the "
         "text's characters and special tokens", "too small for this text",
         call=lambda: tokenizers.train_sentence_piece(
             [TEXT + "".join(map(chr, range(0x4e00, 0x4e20)))], 120)),
    Case("python", "`train_byte_pair` on one 800,000-character word",
         "a word of 800,000 characters with no whitespace",
         call=lambda: tokenizers.train_byte_pair(["ab" * 400_000], 4096)),
    Case("python", "`train_wordpiece` on one 800,000-character word",
         "a word of 800,000 characters with no whitespace",
         call=lambda: tokenizers.train_wordpiece(["ab" * 400_000], 4096)),
    Case("python", "`train_byte_pair([\"a\"])` (nothing to merge)",
         "learned no merges",
         call=lambda: tokenizers.train_byte_pair(["a"], 300)),
    # Loading a .keras file -------------------------------------------------
    Case("python", "`export_model_dir` of a zero-byte model.keras",
         "not a valid .keras file (corrupt or truncated)", fixture="tmp_path",
         call=lambda tmp: read_model_dir(model_dir(tmp, lambda size: 0))),
    Case("python", "`export_model_dir` of a model.keras cut in half",
         "not a valid .keras file (corrupt or truncated)", fixture="tmp_path",
         call=lambda tmp: read_model_dir(
             model_dir(tmp, lambda size: size // 2))),
    Case("python", "`--init_from` (`load_pretrained`) a model dir whose "
         "model.keras lacks its last 10 bytes",
         "not a valid .keras file (corrupt or truncated)", fixture="tmp_path",
         call=lambda tmp: load_pretrained(
             model_dir(tmp, lambda size: size - 10), GPTDecoder,
             "gpt_pretrain")),
    Case("python", "`zoo.saving.load_model` of a .keras file with damaged "
         "weights", "not a valid .keras file (corrupt or truncated)",
         fixture="tmp_path", call=damaged_member),
    Case("python", "`export_model_dir` of a run whose run.json is cut "
         "short", "run.json is not valid JSON", fixture="tmp_path",
         call=damaged_run_json),
]
