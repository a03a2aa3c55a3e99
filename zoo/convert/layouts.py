"""Which Hugging Face tensor is which zoo weight, family by family.

A layout is a list of `(hf_name, zoo_name, transpose)`: `hf_name` as in a
Hugging Face `model.safetensors` (after `huggingface.normalize_names`),
`zoo_name` as `zoo_weights` names the zoo's variables, and `transpose` when
the tensor is stored the other way round. PyTorch's `nn.Linear` keeps its
weight as (out, in), Keras' `Dense` its kernel as (in, out): those are
transposed. GPT-2's `Conv1D` is already (in, out); its fused query, key and
value projection `c_attn` (D, 3D) is split into three tensors before the
layout sees it (`split_fused`).

Zoo names: the backbone's variables as `backbone/<path inside the
backbone>` (for example `backbone/transformer_layer_0/self_attention/query
/kernel`), a task's head variables by their path inside the task
(`mlm_transform/kernel`, `head/bias`, `mlm_output_bias`).
"""

import numpy as np

from zoo.models import BertEncoder
from zoo.models import GPTDecoder
from zoo.models import Transformer
from zoo.tasks import CausalLM
from zoo.tasks import MaskedLM
from zoo.tasks import Seq2SeqLM
from zoo.tasks import SequenceClassifier
from zoo.tasks import TokenClassifier


def relative_path(layer, variable):
    """`variable`'s path inside `layer` (without the layer's own path)."""
    prefix = (layer.path or layer.name) + "/"
    path = variable.path
    return path[len(prefix):] if path.startswith(prefix) else path


def zoo_weights(model):
    """{zoo name: variable} of a task or a backbone (module docstring)."""
    backbone = getattr(model, "backbone", model)
    names = {"backbone/" + relative_path(backbone, v): v
             for v in backbone.weights}
    inside = {id(v) for v in backbone.weights}
    for variable in model.weights:
        if id(variable) not in inside:
            names[relative_path(model, variable)] = variable
    return names


def _linear(hf, zoo):  # nn.Linear (out, in) -> Dense kernel (in, out)
    return [(f"{hf}.weight", f"{zoo}/kernel", True),
            (f"{hf}.bias", f"{zoo}/bias", False)]


def _conv1d(hf, zoo):  # GPT-2's Conv1D, already (in, out)
    return [(f"{hf}.weight", f"{zoo}/kernel", False),
            (f"{hf}.bias", f"{zoo}/bias", False)]


def _norm(hf, zoo):
    return [(f"{hf}.weight", f"{zoo}/gamma", False),
            (f"{hf}.bias", f"{zoo}/beta", False)]


# BERT ------------------------------------------------------------------------


def bert_layout(model):
    """The layout of a `BertEncoder` or a BERT task (Devlin et al. 2018 as
    `transformers`' `modeling_bert` names it)."""
    backbone = getattr(model, "backbone", model)
    layout = [
        ("embeddings.word_embeddings.weight",
         "backbone/token_embedding/embeddings", False),
        ("embeddings.position_embeddings.weight",
         "backbone/position_embedding/embeddings", False),
        ("embeddings.token_type_embeddings.weight",
         "backbone/segment_embedding/embeddings", False),
        *_norm("embeddings.LayerNorm", "backbone/embeddings_layer_norm"),
    ]
    for i in range(backbone.num_layers):
        hf, zoo = f"encoder.layer.{i}", f"backbone/transformer_layer_{i}"
        layout += [
            *_linear(f"{hf}.attention.self.query", f"{zoo}/self_attention/query"),
            *_linear(f"{hf}.attention.self.key", f"{zoo}/self_attention/key"),
            *_linear(f"{hf}.attention.self.value", f"{zoo}/self_attention/value"),
            *_linear(f"{hf}.attention.output.dense",
                     f"{zoo}/self_attention/attention_output"),
            *_norm(f"{hf}.attention.output.LayerNorm", f"{zoo}/self_attention_norm"),
            *_linear(f"{hf}.intermediate.dense", f"{zoo}/feed_forward/inner"),
            *_linear(f"{hf}.output.dense", f"{zoo}/feed_forward/outer"),
            *_norm(f"{hf}.output.LayerNorm", f"{zoo}/feed_forward_norm"),
        ]
    if uses_pooler(model):
        layout += _linear("pooler.dense", "backbone/pooled_dense")
    if isinstance(model, MaskedLM):
        layout += [
            *_linear("cls.predictions.transform.dense", "mlm_transform"),
            *_norm("cls.predictions.transform.LayerNorm", "mlm_transform_norm"),
            ("cls.predictions.bias", "mlm_output_bias", False),
        ]
        if model.next_sentence_prediction:
            layout += _linear("cls.seq_relationship", "next_sentence")
    if isinstance(model, (SequenceClassifier, TokenClassifier)):
        layout += _linear("classifier", "head")
    return layout


def uses_pooler(model):
    """Whether the Hugging Face class of `model` has BERT's pooler:
    `BertForMaskedLM` and `BertForTokenClassification` are built without
    it (their zoo pooler keeps its initial weights and is never used)."""
    if isinstance(model, MaskedLM):
        return model.next_sentence_prediction
    return not isinstance(model, TokenClassifier)


# GPT-2 -----------------------------------------------------------------------


def gpt2_layout(model):
    """The layout of a `GPTDecoder` or a `CausalLM` on one (Radford et al.
    2019 as `transformers`' `modeling_gpt2` names it; `attn.q`, `attn.k`,
    `attn.v` are the thirds of `attn.c_attn`)."""
    backbone = getattr(model, "backbone", model)
    layout = [
        ("wte.weight", "backbone/token_embedding/embeddings", False),
        ("wpe.weight", "backbone/position_embedding/embeddings", False),
    ]
    for i in range(backbone.num_layers):
        hf, zoo = f"h.{i}", f"backbone/transformer_layer_{i}"
        layout += [
            *_norm(f"{hf}.ln_1", f"{zoo}/self_attention_norm"),
            *_conv1d(f"{hf}.attn.q", f"{zoo}/self_attention/query"),
            *_conv1d(f"{hf}.attn.k", f"{zoo}/self_attention/key"),
            *_conv1d(f"{hf}.attn.v", f"{zoo}/self_attention/value"),
            *_conv1d(f"{hf}.attn.c_proj", f"{zoo}/self_attention/attention_output"),
            *_norm(f"{hf}.ln_2", f"{zoo}/feed_forward_norm"),
            *_conv1d(f"{hf}.mlp.c_fc", f"{zoo}/feed_forward/inner"),
            *_conv1d(f"{hf}.mlp.c_proj", f"{zoo}/feed_forward/outer"),
        ]
    return layout + _norm("ln_f", "backbone/layer_norm")


FUSED = ("q", "k", "v")


def split_fused(tensors):
    """GPT-2's `h.i.attn.c_attn` (D, 3D) and its bias (3D,) -> `h.i.attn.q`,
    `.k`, `.v`, each (D, D) and (D,)."""
    out = {}
    for name, value in tensors.items():
        if ".attn.c_attn." not in name:
            out[name] = value
            continue
        for part, third in zip(FUSED, np.split(value, 3, axis=-1)):
            out[name.replace(".c_attn.", f".{part}.")] = third
    return out


def fuse(tensors):
    """The inverse of `split_fused`."""
    out = {}
    for name, value in tensors.items():
        if ".attn.q." in name:
            parts = [tensors[name.replace(".attn.q.", f".attn.{p}.")]
                     for p in FUSED]
            out[name.replace(".attn.q.", ".attn.c_attn.")] = np.concatenate(
                parts, axis=-1)
        elif ".attn.k." not in name and ".attn.v." not in name:
            out[name] = value
    return out


# MarianMT ---------------------------------------------------------------------


def _marian_attention(hf, zoo):
    return [*_linear(f"{hf}.q_proj", f"{zoo}/query"),
            *_linear(f"{hf}.k_proj", f"{zoo}/key"),
            *_linear(f"{hf}.v_proj", f"{zoo}/value"),
            *_linear(f"{hf}.out_proj", f"{zoo}/attention_output")]


def marian_layout(model):
    """The layout of a `Seq2SeqLM` on a `Transformer` as `transformers`'
    `modeling_marian` names MarianMT (Junczys-Dowmunt et al. 2018): the
    paper's post-LN encoder-decoder with one shared embedding."""
    backbone = model.backbone
    layout = [("shared.weight", "backbone/token_embedding/embeddings", False)]
    for side in ("encoder", "decoder"):
        for i in range(backbone.num_layers):
            hf, zoo = f"{side}.layers.{i}", f"backbone/{side}_layer_{i}"
            layout += [
                *_marian_attention(f"{hf}.self_attn", f"{zoo}/self_attention"),
                *_norm(f"{hf}.self_attn_layer_norm", f"{zoo}/self_attention_norm"),
            ]
            if side == "decoder":
                layout += [
                    *_marian_attention(f"{hf}.encoder_attn",
                                       f"{zoo}/cross_attention"),
                    *_norm(f"{hf}.encoder_attn_layer_norm",
                           f"{zoo}/cross_attention_norm"),
                ]
            layout += [
                *_linear(f"{hf}.fc1", f"{zoo}/feed_forward/inner"),
                *_linear(f"{hf}.fc2", f"{zoo}/feed_forward/outer"),
                *_norm(f"{hf}.final_layer_norm", f"{zoo}/feed_forward_norm"),
            ]
    if model.final_logits_bias is not None:
        layout.append(("final_logits_bias", "final_logits_bias", False))
    return layout


# Which layout -----------------------------------------------------------------


def layout_of(model):
    """`(family, layout)` of a zoo task or backbone."""
    backbone = getattr(model, "backbone", model)
    if isinstance(backbone, BertEncoder):
        return "bert", bert_layout(model)
    if isinstance(backbone, GPTDecoder) and (model is backbone
                                             or isinstance(model, CausalLM)):
        return "gpt2", gpt2_layout(model)
    if isinstance(model, Seq2SeqLM) and isinstance(backbone, Transformer):
        return "marian", marian_layout(model)
    raise ValueError(
        f"No Hugging Face layout for {type(model).__name__} on "
        f"{type(backbone).__name__}: zoo.convert writes BertEncoder, "
        "MaskedLM, SequenceClassifier and TokenClassifier on a BertEncoder, "
        "GPTDecoder and CausalLM, and Seq2SeqLM on a Transformer.")
