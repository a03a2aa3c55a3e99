"""Backbones: the three model families, stacked from `zoo.blocks`."""

from zoo.models.backbone import Backbone
from zoo.models.bert import BertEncoder
from zoo.models.gpt import GPTDecoder
from zoo.models.presets import PRESETS
from zoo.models.transformer import Transformer

BACKBONES = {cls.__name__: cls for cls in (BertEncoder, GPTDecoder, Transformer)}


def get_backbone_class(name):
    """The backbone class of preset `name`."""
    if name not in PRESETS:
        raise ValueError(
            f"Unknown preset {name!r}. Available: {', '.join(sorted(PRESETS))}."
        )
    return BACKBONES[PRESETS[name][0]]


def from_preset(name, **overrides):
    """Build any preset by name, choosing its backbone class."""
    return get_backbone_class(name).from_preset(name, **overrides)


__all__ = [
    "Backbone",
    "BertEncoder",
    "GPTDecoder",
    "PRESETS",
    "Transformer",
    "from_preset",
    "get_backbone_class",
]
