"""Backbones: the three model families, stacked from `zoo.blocks`."""

from zoo.models.backbone import Backbone
from zoo.models.bert import BertEncoder
from zoo.models.gpt import GPTDecoder
from zoo.models.presets import PRESETS
from zoo.models.transformer import Transformer


def from_preset(name, **overrides):
    """Build any preset by name, choosing its backbone class."""
    from zoo.models.backbone import get_backbone_class

    return get_backbone_class(name).from_preset(name, **overrides)


__all__ = [
    "Backbone",
    "BertEncoder",
    "GPTDecoder",
    "PRESETS",
    "Transformer",
    "from_preset",
]
