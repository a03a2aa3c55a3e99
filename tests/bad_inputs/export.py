"""Bad-input cases: export (see tests/bad_inputs/table.py).

The exported SavedModel's signatures, called in this process on tiny
exports made once per session (the fixtures below, which
tests/test_bad_input_table.py imports). A signature fails with
`tf.errors.InvalidArgumentError` whose message holds the check's.
"""

import keras
import numpy as np
import pytest

from tests.bad_inputs.table import Case

SIZES = dict(num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16,
             max_sequence_length=32)
TEXT = "the cat sat on the mat . a dog ran in the park . new york . " * 10


def _export(task, tmp_path_factory, name, **options):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("SavedModel export runs on the TensorFlow backend")
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  registers the tokenizer ops

    from zoo import export

    export_dir = str(tmp_path_factory.mktemp(name) / "export")
    export.export(task, export_dir, **options)
    return tf.saved_model.load(export_dir)


@pytest.fixture(scope="session")
def exported_gpt(tmp_path_factory):
    """A tiny CausalLM's SavedModel: `generate`, `sample`, `generate_ids`."""
    from zoo.data import tokenizers
    from zoo.models import GPTDecoder
    from zoo.tasks import CausalLM

    tokenizer = tokenizers.train_byte_pair([TEXT], vocabulary_size=300)
    task = CausalLM(GPTDecoder(vocabulary_size=tokenizer.vocabulary_size(),
                               **SIZES), tokenizer=tokenizer)
    return _export(task, tmp_path_factory, "gpt")


@pytest.fixture(scope="session")
def exported_classifier(tmp_path_factory):
    """A tiny sentence-pair SequenceClassifier's SavedModel: `classify`
    (`text`, `text_pair`) and `classify_ids`."""
    from zoo.data import tokenizers
    from zoo.models import BertEncoder
    from zoo.tasks import SequenceClassifier

    tokenizer = tokenizers.train_wordpiece([TEXT], vocabulary_size=60)
    task = SequenceClassifier(
        BertEncoder(vocabulary_size=tokenizer.vocabulary_size(), **SIZES), 2,
        tokenizer=tokenizer)
    return _export(task, tmp_path_factory, "classifier", pairs=True,
                   labels=["neg", "pos"])


@pytest.fixture(scope="session")
def exported_tagger(tmp_path_factory):
    """A tiny TokenClassifier's SavedModel: `tag` and `tag_ids`."""
    from zoo.data import tokenizers
    from zoo.models import BertEncoder
    from zoo.tasks import TokenClassifier

    tokenizer = tokenizers.train_wordpiece([TEXT], vocabulary_size=60)
    task = TokenClassifier(
        BertEncoder(vocabulary_size=tokenizer.vocabulary_size(), **SIZES), 3,
        tokenizer=tokenizer)
    return _export(task, tmp_path_factory, "tagger")


@pytest.fixture(scope="session")
def exported_masked_lm(tmp_path_factory):
    """A tiny MaskedLM's SavedModel: `fill_mask` and `fill_mask_ids`."""
    from zoo.data import tokenizers
    from zoo.models import BertEncoder
    from zoo.tasks import MaskedLM

    tokenizer = tokenizers.train_wordpiece([TEXT], vocabulary_size=60)
    task = MaskedLM(
        BertEncoder(vocabulary_size=tokenizer.vocabulary_size(), **SIZES),
        tokenizer=tokenizer)
    return _export(task, tmp_path_factory, "masked_lm", top_k=3)


def call(name, **inputs):
    """`served.signatures[name](**inputs)`, inputs as tensors."""
    def run(served):
        import tensorflow as tf

        return served.signatures[name](
            **{key: tf.constant(value) for key, value in inputs.items()})
    return run


def sample(**changes):
    inputs = dict(prompt=np.array([b"the cat"]), max_new_tokens=np.int32(4),
                  temperature=np.float32(1.0), top_k=np.int32(0),
                  top_p=np.float32(1.0), seed=np.int32(1))
    return call("sample", **{**inputs, **changes})


def ids(name, padding_mask, **extra):
    token_ids = np.array([[2, 5, 6, 3]], "int32")
    return call(name, token_ids=token_ids,
                padding_mask=np.array(padding_mask, "int32"), **extra)


GPT, CLASSIFIER = "exported_gpt", "exported_classifier"
TAGGER, MASKED_LM = "exported_tagger", "exported_masked_lm"
SEGMENTS = np.zeros((1, 4), "int32")
MUST_BE_01 = "`padding_mask` must be 0 or 1"

CASES = [
    Case("export", "`sample` with `top_k=-3`", "`top_k` must be >= 0",
         fixture=GPT, call=sample(top_k=np.int32(-3))),
    Case("export", "`sample` with `temperature=nan`",
         "`temperature` must be finite", fixture=GPT,
         call=sample(temperature=np.float32("nan"))),
    Case("export", "`sample` with `temperature=inf`",
         "`temperature` must be finite", fixture=GPT,
         call=sample(temperature=np.float32("inf"))),
    Case("export", "`generate_ids` with a `padding_mask` holding 7",
         MUST_BE_01, fixture=GPT,
         call=ids("generate_ids", [[1, 7, 1, 0]],
                  max_new_tokens=np.int32(2))),
    Case("export", "`generate_ids` with a `padding_mask` holding -1",
         MUST_BE_01, fixture=GPT,
         call=ids("generate_ids", [[1, 1, -1, 0]],
                  max_new_tokens=np.int32(2))),
    Case("export", "`classify` with 2 `text` and 1 `text_pair`",
         "`text` and `text_pair` have different batch sizes",
         fixture=CLASSIFIER,
         call=call("classify", text=np.array([b"a cat", b"a dog"]),
                   text_pair=np.array([b"the park"]))),
    Case("export", "`classify` with 1 `text` and 3 `text_pair`",
         "`text` and `text_pair` have different batch sizes",
         fixture=CLASSIFIER,
         call=call("classify", text=np.array([b"a cat"]),
                   text_pair=np.array([b"a", b"b", b"c"]))),
    Case("export", "`classify` with an empty batch",
         "The batch is empty", fixture=CLASSIFIER,
         call=call("classify", text=np.array([], "S1"),
                   text_pair=np.array([], "S1"))),
    Case("export", "`classify_ids` with a `padding_mask` holding 7",
         MUST_BE_01, fixture=CLASSIFIER,
         call=ids("classify_ids", [[1, 1, 7, 1]], segment_ids=SEGMENTS)),
    Case("export", "`classify_ids` with a `padding_mask` of 2s",
         MUST_BE_01, fixture=CLASSIFIER,
         call=ids("classify_ids", [[2, 2, 2, 2]], segment_ids=SEGMENTS)),
    Case("export", "`tag` with an empty batch", "The batch is empty",
         fixture=TAGGER, call=call("tag", text=np.array([], "S1"))),
    Case("export", "`tag_ids` with a `padding_mask` holding 7", MUST_BE_01,
         fixture=TAGGER,
         call=ids("tag_ids", [[1, 7, 1, 1]], segment_ids=SEGMENTS)),
    Case("export", "`fill_mask` with an empty batch", "The batch is empty",
         fixture=MASKED_LM,
         call=call("fill_mask", text=np.array([], "S1"))),
    Case("export", "`fill_mask_ids` with a `padding_mask` of 3s", MUST_BE_01,
         fixture=MASKED_LM,
         call=ids("fill_mask_ids", [[3, 3, 3, 3]], segment_ids=SEGMENTS)),
]
