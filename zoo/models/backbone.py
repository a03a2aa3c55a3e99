"""What every zoo backbone shares: presets, input checks, parameter counts."""

import inspect

import keras
from keras.src.backend.common import global_state

from zoo.models.presets import PRESETS


class CheckedModel(keras.Model):
    """A model whose inputs and labels are checked even under XLA.

    Subclasses implement `check_inputs(x)` and, if they take labels,
    `check_labels(y)`; both return their argument, tied to graph assertions
    when running in a graph. XLA drops assertions, so when `fit`, `evaluate`
    or `predict` compile their step with `jit_compile=True`, the checks also
    run once per step outside the compiled function.
    """

    def check_inputs(self, inputs):
        """Raise a clear error if `inputs` cannot be right; return them."""
        return inputs

    def check_labels(self, y):
        """Raise a clear error if labels `y` cannot be right; return them."""
        return y

    def _autoconvert_optionals(self, step_func):
        # Keras wraps the (possibly XLA-compiled) step of fit, evaluate and
        # predict here, in a plain tf.function: the place to run checks
        # that XLA would drop.
        step = super()._autoconvert_optionals(step_func)
        if not self.jit_compile:
            return step

        def checked_step(data):
            x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
            if isinstance(x, dict):
                x = self.check_inputs(x)
            if y is not None:
                y = self.check_labels(y)
            return step((x, y, sample_weight))

        return checked_step

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Without a distribution strategy, Keras's TF trainer leaves the
        # optimizer's slots and the compiled metrics and loss to be created
        # while the step is traced; a tf.function that creates variables is
        # traced a second time, so the whole train step (forward, gradient,
        # optimizer) was built twice. Build them here instead, from the
        # shapes of the data, without drawing a batch: fit's first call then
        # traces once (tests/tasks/test_tasks.py counts the traces).
        if self._distribute_strategy is not None or (
            iterator is None and data_batch is None
        ):
            return super()._maybe_symbolic_build(iterator, data_batch)
        if data_batch is None:
            data_batch = iterator._distributed_dataset.element_spec
        self._symbolic_build(data_batch=data_batch)


class Backbone(CheckedModel):
    """Base class of `BertEncoder`, `GPTDecoder` and `Transformer`.

    A backbone builds all its weights in its constructor, from its config
    alone, so `count_params()` and weight copying work before any call.
    Subclasses implement `build()` and `check_inputs(inputs)`.
    """

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
        pending = list(
            global_state.get_global_attribute("uninitialized_variables", [])
        )
        # Variables created in a stateless scope record their shape and
        # defer their initializer, which is never run here.
        with keras.StatelessScope(initialize_variables=False):
            model = cls.from_preset(name, **overrides)
            count = model.count_params()
        global_state.set_global_attribute("uninitialized_variables", pending)
        return count


def get_backbone_class(name):
    """The backbone class of preset `name`."""
    from zoo import models

    if name not in PRESETS:
        raise ValueError(
            f"Unknown preset {name!r}. Available: {', '.join(sorted(PRESETS))}."
        )
    return getattr(models, PRESETS[name][0])
