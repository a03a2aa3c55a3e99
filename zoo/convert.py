"""Convert keras-hub backbones (and their pretrained weights) to the zoo.

keras-hub can download the pretrained BERT and GPT-2 presets; this module
turns a loaded `keras_hub.models.BertBackbone` or `GPT2Backbone` into the
zoo's `BertEncoder` or `GPTDecoder` with the same weights, so that both
give the same outputs (to float32 rounding).

Example:

    backbone = keras_hub.models.BertBackbone.from_preset("/path/to/preset")
    encoder = zoo.convert.from_keras_hub(backbone)
"""

import keras_hub
import numpy as np

from zoo.models import BertEncoder
from zoo.models import GPTDecoder


def _copy(source_variables, target_variables):
    """Assign `source_variables` to `target_variables`, checking shapes."""
    source_variables = list(source_variables)
    target_variables = list(target_variables)
    if len(source_variables) != len(target_variables):
        raise ValueError(
            f"Cannot copy {len(source_variables)} variables into "
            f"{len(target_variables)}."
        )
    for source, target in zip(source_variables, target_variables):
        if tuple(source.shape) != tuple(target.shape):
            raise ValueError(
                f"Shape mismatch copying {source.path} {source.shape} into "
                f"{target.path} {target.shape}."
            )
        target.assign(source)


def _copy_layer(source, target):
    _copy(source.weights, target.weights)


def _copy_attention(source, target):
    """keras `MultiHeadAttention` -> zoo `MultiHeadAttention`.

    Keras keeps (D, N, H) / (N, H, D) kernels and (N, H) biases; the zoo
    keeps the same numbers as (D, N*H) / (N*H, D) and (N*H,).
    """
    pairs = [
        (source._query_dense, target.w_q),
        (source._key_dense, target.w_k),
        (source._value_dense, target.w_v),
        (source._output_dense, target.w_o),
    ]
    for source_dense, target_dense in pairs:
        sources, targets = source_dense.weights, target_dense.weights
        if len(sources) != len(targets):
            raise ValueError(
                f"Cannot copy {len(sources)} variables into {len(targets)}."
            )
        for source, target in zip(sources, targets):
            if np.prod(source.shape) != np.prod(target.shape):
                raise ValueError(
                    f"Shape mismatch copying {source.path} {source.shape} "
                    f"into {target.path} {target.shape}."
                )
            target.assign(np.reshape(np.asarray(source), target.shape))


def copy_encoder_block(source, target):
    """keras-hub `TransformerEncoder` -> zoo `EncoderBlock`."""
    _copy_attention(source._self_attention_layer, target.self_attention)
    _copy_layer(source._self_attention_layer_norm, target.self_attention_norm)
    _copy_feed_forward(source, target)


def copy_decoder_block(source, target):
    """keras-hub `TransformerDecoder` -> zoo `DecoderBlock`."""
    _copy_attention(source._self_attention_layer, target.self_attention)
    _copy_layer(source._self_attention_layer_norm, target.self_attention_norm)
    if (source._cross_attention_layer is not None) != target.has_cross_attention:
        raise ValueError("Only one of the two blocks has cross attention.")
    if target.has_cross_attention:
        _copy_attention(source._cross_attention_layer, target.cross_attention)
        _copy_layer(
            source._cross_attention_layer_norm, target.cross_attention_norm
        )
    _copy_feed_forward(source, target)


def _copy_feed_forward(source, target):
    _copy_layer(source._feedforward_intermediate_dense, target.feed_forward.inner)
    _copy_layer(source._feedforward_output_dense, target.feed_forward.outer)
    _copy_layer(source._feedforward_layer_norm, target.feed_forward_norm)


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


def _bert(source):
    target = _build_like(source, BertEncoder, source.embeddings_layer_norm)
    _copy_layer(source.token_embedding, target.token_embedding)
    _copy_layer(source.position_embedding, target.position_embedding)
    _copy_layer(source.segment_embedding, target.segment_embedding)
    _copy_layer(source.embeddings_layer_norm, target.embeddings_layer_norm)
    for source_block, target_block in zip(
        source.transformer_layers, target.transformer_layers
    ):
        copy_encoder_block(source_block, target_block)
    _copy_layer(source.pooled_dense, target.pooled_dense)
    return target


def _gpt2(source):
    target = _build_like(source, GPTDecoder, source.layer_norm)
    _copy_layer(source.token_embedding, target.token_embedding)
    _copy_layer(source.position_embedding, target.position_embedding)
    for source_block, target_block in zip(
        source.transformer_layers, target.transformer_layers
    ):
        copy_decoder_block(source_block, target_block)
    _copy_layer(source.layer_norm, target.layer_norm)
    return target


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
        return _bert(backbone)
    if isinstance(backbone, keras_hub.models.GPT2Backbone):
        return _gpt2(backbone)
    raise ValueError(
        f"Cannot convert {type(backbone).__name__}: zoo.convert supports "
        "keras_hub.models.BertBackbone and keras_hub.models.GPT2Backbone."
    )
