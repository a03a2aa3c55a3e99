import keras_hub
import numpy as np
import pytest
from harness import random_ids
from harness import run_backbone_checks

from zoo.convert import from_keras_hub
from zoo.models import BertEncoder

CONFIG = {"vocabulary_size": 50, "num_layers": 2, "num_heads": 2,
          "hidden_dim": 8, "intermediate_dim": 16, "max_sequence_length": 12}


def inputs(length=6, batch=2):
    return {
        "token_ids": random_ids((batch, length), 50),
        "segment_ids": np.array([[0] * (length // 2) + [1] * (length - length // 2)] * batch, "int32"),
        "padding_mask": np.ones((batch, length), "int32"),
    }


def test_standard_checks(tmp_path):
    run_backbone_checks(
        BertEncoder, CONFIG, inputs(),
        expected_output_shape={"pooled_output": (2, 8), "sequence_output": (2, 6, 8)},
        tmp_path=tmp_path,
    )


def test_padding_never_changes_real_positions():
    model = BertEncoder(**CONFIG)
    short = inputs(length=5, batch=1)
    padded = {k: np.concatenate([v, np.zeros((1, 3), "int32")], axis=1)
              for k, v in short.items()}
    padded["token_ids"][:, 5:] = 7  # whatever sits under the padding
    a, b = model(short), model(padded)
    np.testing.assert_allclose(a["sequence_output"], b["sequence_output"][:, :5], atol=1e-5)
    np.testing.assert_allclose(a["pooled_output"], b["pooled_output"], atol=1e-5)


def test_is_bidirectional():
    """Changing the last token changes the first position's output."""
    model = BertEncoder(**CONFIG, dropout=0.0)
    x = inputs()
    y = {k: v.copy() for k, v in x.items()}
    y["token_ids"][:, -1] = (y["token_ids"][:, -1] + 1) % 50
    assert not np.allclose(model(x)["sequence_output"][:, 0],
                           model(y)["sequence_output"][:, 0])


def test_pooled_only_gives_the_full_computations_cls_row():
    model = BertEncoder(**CONFIG, dropout=0.0)
    x = inputs(length=6, batch=2)
    x["padding_mask"][1, 4:] = 0
    full = model(x)
    part = model(x, pooled_only=True)
    assert part["sequence_output"].shape == (2, 1, 8)
    np.testing.assert_allclose(part["sequence_output"],
                               full["sequence_output"][:, :1], atol=1e-5)
    np.testing.assert_allclose(part["pooled_output"], full["pooled_output"],
                               atol=1e-5)


def test_equals_keras_hub_bert_backbone():
    theirs = keras_hub.models.BertBackbone(**CONFIG)
    ours = from_keras_hub(theirs)
    x = inputs()
    x["padding_mask"][1, 4:] = 0
    expected, actual = theirs(x), ours(x)
    for key in ("sequence_output", "pooled_output"):
        np.testing.assert_allclose(actual[key], expected[key], atol=1e-5)


def test_converts_a_local_keras_hub_preset_directory(tmp_path):
    """A preset saved to disk and reloaded, as users do with downloads."""
    keras_hub.models.BertBackbone(**CONFIG).save_to_preset(str(tmp_path))
    theirs = keras_hub.models.BertBackbone.from_preset(str(tmp_path))
    ours = from_keras_hub(theirs)
    x = inputs()
    np.testing.assert_allclose(ours(x)["sequence_output"],
                               theirs(x)["sequence_output"], atol=1e-5)


def test_segment_ids_out_of_range_raise():
    model = BertEncoder(**CONFIG)
    x = inputs()
    x["segment_ids"][0, 0] = 2
    with pytest.raises(ValueError, match=r"`segment_ids` must lie in \[0, 2\)"):
        model(x)


def test_converting_an_unsupported_backbone_raises():
    with pytest.raises(ValueError, match="Cannot convert BertEncoder"):
        from_keras_hub(BertEncoder(**CONFIG))
