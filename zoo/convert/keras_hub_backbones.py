"""keras-hub backbones (and their pretrained weights) -> zoo backbones.

keras-hub can download the pretrained BERT and GPT-2 presets; this module
turns a loaded `keras_hub.models.BertBackbone` or `GPT2Backbone` into the
zoo's `BertEncoder` or `GPTDecoder` with the same weights, so that both
give the same outputs (to float32 rounding).

Weights are matched by their Keras paths, which name the same parts in
both libraries but for a few names (`RENAMES`). keras-hub keeps attention
kernels as (D, N, H) and (N, H, D), the zoo the same numbers as (D, N*H)
and (N*H, D): they are reshaped on the way.

Example:

    backbone = keras_hub.models.BertBackbone.from_preset("/path/to/preset")
    encoder = zoo.convert.from_keras_hub(backbone)
"""

import keras_hub
import numpy as np
from keras import ops

from zoo.convert.layouts import relative_path
from zoo.models import BertEncoder
from zoo.models import GPTDecoder

# keras-hub's name of a part -> the zoo's.
RENAMES = {
    "self_attention_layer": "self_attention",
    "self_attention_layer_norm": "self_attention_norm",
    "cross_attention_layer_norm": "cross_attention_norm",
    "feedforward_intermediate_dense": "feed_forward/inner",
    "feedforward_output_dense": "feed_forward/outer",
    "feedforward_layer_norm": "feed_forward_norm",
}


def _zoo_path(path):
    return "/".join(RENAMES.get(part, part) for part in path.split("/"))


def copy_weights(source, target):
    """Assign the weights of keras-hub layer or backbone `source` to the zoo
    layer or backbone `target` built with the same sizes."""
    sources = {_zoo_path(relative_path(source, v)): v for v in source.weights}
    targets = {relative_path(target, v): v for v in target.weights}
    if set(sources) != set(targets):
        raise ValueError(
            f"Cannot copy {type(source).__name__} into {type(target).__name__}:"
            f" only the source has {sorted(set(sources) - set(targets))}, only "
            f"the target {sorted(set(targets) - set(sources))}.")
    for path, variable in targets.items():
        value = ops.convert_to_numpy(sources[path])
        if value.size != np.prod(variable.shape):
            raise ValueError(
                f"Shape mismatch copying {sources[path].path} {value.shape} "
                f"into {variable.path} {tuple(variable.shape)}.")
        variable.assign(np.reshape(value, variable.shape))


def _build_like(source, target_class, layer_norm):
    """A zoo backbone with the architecture of keras-hub's `source`.

    The two share argument names (`vocabulary_size`, `num_layers`, ...);
    keras-hub keeps the LayerNorm epsilon fixed, so it is read off a layer.
    """
    source_config = source.get_config()
    shared = [k for k in target_class.config_keys() if k in source_config]
    return target_class(
        **{key: source_config[key] for key in shared},
        layer_norm_epsilon=layer_norm.epsilon,
        dtype=source.dtype_policy,
    )


def from_keras_hub(backbone):
    """A zoo backbone with the architecture and weights of `backbone`.

    Args:
        backbone: a `keras_hub.models.BertBackbone` or `GPT2Backbone`, of any
            size, for example one loaded with `from_preset` from a local
            preset directory.

    Returns:
        The equivalent `zoo.models.BertEncoder` or `zoo.models.GPTDecoder`.
    """
    if isinstance(backbone, keras_hub.models.BertBackbone):
        target = _build_like(backbone, BertEncoder,
                             backbone.embeddings_layer_norm)
    elif isinstance(backbone, keras_hub.models.GPT2Backbone):
        target = _build_like(backbone, GPTDecoder, backbone.layer_norm)
    else:
        raise ValueError(
            f"Cannot convert {type(backbone).__name__}: zoo.convert supports "
            "keras_hub.models.BertBackbone and keras_hub.models.GPT2Backbone."
        )
    copy_weights(backbone, target)
    return target
