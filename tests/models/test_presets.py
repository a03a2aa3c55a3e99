import pytest

from zoo.models import PRESETS
from zoo.models import BertEncoder
from zoo.models import GPTDecoder
from zoo.models import Transformer
from zoo.models import from_preset

# Exact counts: BERT from Turc et al. 2019 / keras-hub, GPT-2 with tied
# output embedding (Radford et al. 2019).
EXACT = {
    "bert_tiny": 4_385_920,
    "bert_mini": 11_170_560,
    "bert_small": 28_763_648,
    "bert_medium": 41_373_184,
    "bert_base": 109_482_240,
    "bert_large": 335_141_888,
    "gpt2_small": 124_439_808,
    "gpt2_medium": 354_823_168,
    "gpt2_large": 774_030_080,
    "gpt2_xl": 1_557_611_200,
    "gpt_nano": 7_234_432,
    "transformer_small": 6_001_664,
}
# Vaswani et al. 2017, table 3: 65M (base) and 213M (big).
PAPER = {"transformer_base": 65e6, "transformer_big": 213e6}


@pytest.mark.parametrize("name", sorted(EXACT))
def test_exact_parameter_counts(name):
    cls = {"BertEncoder": BertEncoder, "GPTDecoder": GPTDecoder,
           "Transformer": Transformer}[PRESETS[name][0]]
    assert cls.count_preset_params(name) == EXACT[name]


@pytest.mark.parametrize("name", sorted(PAPER))
def test_transformer_parameter_counts_within_3_percent_of_paper(name):
    count = Transformer.count_preset_params(name)
    print(f"{name}: {count:,} parameters (paper: {PAPER[name]:,.0f})")
    assert abs(count - PAPER[name]) / PAPER[name] < 0.03


def test_every_preset_is_counted():
    assert set(PRESETS) == set(EXACT) | set(PAPER)


def test_counting_leaves_no_weights_behind():
    """Counting builds with shapes only: the next stateless scope allocates
    nothing (gpt2_xl's 1.5 billion weights would take seconds and 6 GB)."""
    import resource

    import keras

    GPTDecoder.count_preset_params("gpt2_xl")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with keras.StatelessScope():  # would initialize what was left pending
        pass
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 500, grown_mb


def test_from_preset_builds_the_preset_with_overrides():
    model = from_preset("gpt_nano", vocabulary_size=65, dropout=0.1)
    assert isinstance(model, GPTDecoder)
    assert (model.vocabulary_size, model.num_layers, model.dropout) == (65, 4, 0.1)
    assert model.count_params() == GPTDecoder.count_preset_params(
        "gpt_nano", vocabulary_size=65)


def test_preset_listings():
    assert "bert_base" in BertEncoder.presets()
    assert "gpt2_xl" in GPTDecoder.presets()
    assert Transformer.presets() == ["transformer_base", "transformer_big",
                                     "transformer_small"]


def test_unknown_preset_raises():
    with pytest.raises(ValueError, match="Unknown GPTDecoder preset 'gpt5'.*gpt2_small"):
        GPTDecoder.from_preset("gpt5")
    with pytest.raises(ValueError, match="Unknown BertEncoder preset 'gpt2_small'"):
        BertEncoder.from_preset("gpt2_small")
    with pytest.raises(ValueError, match="Unknown preset 'nope'"):
        from_preset("nope")


def test_unknown_override_raises():
    with pytest.raises(ValueError, match=r"Unknown override\(s\) \['hidden_size'\]"):
        BertEncoder.from_preset("bert_tiny", hidden_size=64)
