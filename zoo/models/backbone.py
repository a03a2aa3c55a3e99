"""What every zoo backbone shares: presets, input checks, parameter counts."""

import inspect

import keras

from zoo import compat
from zoo.models.data_checks import checks_data_first
from zoo.models.presets import PRESETS


@checks_data_first
class Backbone(keras.Model):
    """Base class of `BertEncoder`, `GPTDecoder` and `Transformer`.

    A backbone builds all its weights in its constructor, from its config
    alone, so `count_params()` and weight copying work before any call.
    Subclasses implement `build()` and `check_inputs(inputs)`, which every
    call runs and which `fit`, `evaluate` and `predict` also run on their
    data before a compiled step (see `zoo.models.checks`).
    """

    def check_inputs(self, inputs):
        """Raise a clear error if `inputs` cannot be right; return them."""
        return inputs

    def check_labels(self, y):
        """Labels of a backbone are the caller's; nothing to check."""
        return y

    @classmethod
    def config_keys(cls):
        """The constructor arguments, each kept as a public attribute."""
        return [
            name
            for name in inspect.signature(cls.__init__).parameters
            if name not in ("self", "dtype", "kwargs")
        ]

    def get_config(self):
        config = keras.layers.Layer.get_config(self)  # name, trainable, dtype
        config.update({key: getattr(self, key) for key in self.config_keys()})
        return config

    @classmethod
    def presets(cls):
        """Names of the presets that build this class."""
        return sorted(
            name for name, (family, _) in PRESETS.items() if family == cls.__name__
        )

    @classmethod
    def preset_config(cls, name, **overrides):
        """The constructor arguments of preset `name`, with `overrides`."""
        if name not in cls.presets():
            raise ValueError(
                f"Unknown {cls.__name__} preset {name!r}. Available: "
                f"{', '.join(cls.presets())}."
            )
        accepted = set(cls.config_keys()) | {"dtype", "name"}
        unknown = sorted(set(overrides) - accepted)
        if unknown:
            raise ValueError(
                f"Unknown override(s) {unknown} for {cls.__name__}. Accepted: "
                f"{', '.join(sorted(accepted))}."
            )
        return {**PRESETS[name][1], **overrides}

    @classmethod
    def from_preset(cls, name, **overrides):
        """Build preset `name` (randomly initialized), changing `overrides`.

        Example:

        >>> model = GPTDecoder.from_preset("gpt_nano", dropout=0.0)
        """
        return cls(**cls.preset_config(name, **overrides))

    @classmethod
    def count_preset_params(cls, name, **overrides):
        """Parameter count of a preset, from shapes: no weights allocated."""
        with compat.shapes_only():
            return cls.from_preset(name, **overrides).count_params()

