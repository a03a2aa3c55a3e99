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

    # The weights `get_layout_map` shards over the mesh's model axis, as
    # Megatron-LM does (Shoeybi et al. 2019): a projection into heads or
    # into the feed-forward width is split by its output columns, the
    # projection back by its input rows, so each device computes whole
    # heads (when num_heads divides) and one all-reduce joins each block.
    # Embeddings are split along the hidden axis, which every preset's
    # width divides (GPT-2's vocabulary of 50,257 is odd).
    SHARDED = {
        ".*/(query|key|value)/kernel": (None, "model"),  # (D, H·d_k)
        ".*/(query|key|value)/bias": ("model",),  # (H·d_k,)
        ".*/attention_output/kernel": ("model", None),  # (H·d_k, D)
        ".*/feed_forward/inner/kernel": (None, "model"),  # (D, F)
        ".*/feed_forward/inner/bias": ("model",),  # (F,)
        ".*/feed_forward/outer/kernel": ("model", None),  # (F, D)
        ".*_embedding/embeddings": (None, "model"),  # (V, D), (T, D)
    }

    @classmethod
    def get_layout_map(cls, device_mesh, model_dim="model",
                       batch_dim="batch"):
        """A `keras.distribution.LayoutMap` for `ModelParallel`.

        Sharded over `model_dim`: the attention projections, the
        feed-forward kernels and the embeddings (`SHARDED`); everything
        else (norms, output biases, heads) is copied to every device.

        Example:

        >>> mesh = keras.distribution.DeviceMesh(
        ...     (1, 8), ("batch", "model"), keras.distribution.list_devices())
        >>> keras.distribution.set_distribution(
        ...     keras.distribution.ModelParallel(
        ...         layout_map=GPTDecoder.get_layout_map(mesh),
        ...         batch_dim_name="batch"))
        >>> model = CausalLM(GPTDecoder.from_preset("gpt2_small"))

        Args:
            device_mesh: a `keras.distribution.DeviceMesh` with axes
                `batch_dim` and `model_dim`.
        """
        for axis in (model_dim, batch_dim):
            if axis not in device_mesh.axis_names:
                raise ValueError(
                    f"The device mesh has axes {device_mesh.axis_names}; "
                    f"get_layout_map needs {axis!r}.")
        layout_map = keras.distribution.LayoutMap(device_mesh)
        for pattern, axes in cls.SHARDED.items():
            layout_map[pattern] = tuple(
                model_dim if axis == "model" else axis for axis in axes)
        return layout_map

    @classmethod
    def count_preset_params(cls, name, **overrides):
        """Parameter count of a preset, from shapes: no weights allocated."""
        with compat.shapes_only():
            return cls.from_preset(name, **overrides).count_params()

