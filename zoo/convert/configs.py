"""`config.json` <-> zoo constructor arguments, family by family, and
which zoo model each Hugging Face architecture becomes."""

from zoo.convert import hf_tokenizers
from zoo.data.tokenizer_classes import MarianTokenizer
from zoo.models import BertEncoder
from zoo.models import GPTDecoder
from zoo.models import Transformer
from zoo.tasks import CausalLM
from zoo.tasks import MaskedLM
from zoo.tasks import Seq2SeqLM
from zoo.tasks import SequenceClassifier
from zoo.tasks import TokenClassifier

# Hugging Face activation names -> the zoo's, and back.
ACTIVATIONS = {"gelu": "gelu", "gelu_new": "gelu_approximate",
               "gelu_pytorch_tanh": "gelu_approximate", "relu": "relu",
               "swish": "swish", "silu": "swish"}
ZOO_ACTIVATIONS = {"gelu": "gelu", "gelu_approximate": "gelu_new",
                   "relu": "relu", "swish": "swish"}
BERT_ARCHITECTURES = ("BertModel", "BertForMaskedLM", "BertForPreTraining",
                      "BertForSequenceClassification",
                      "BertForTokenClassification")
GPT2_ARCHITECTURES = ("GPT2Model", "GPT2LMHeadModel")
MARIAN_ARCHITECTURES = ("MarianMTModel",)
ARCHITECTURES = {"bert": BERT_ARCHITECTURES, "gpt2": GPT2_ARCHITECTURES,
                 "marian": MARIAN_ARCHITECTURES}
MODEL_TYPES = tuple(ARCHITECTURES)
# The sizes each family's config.json must give, as positive ints.
SIZES = {
    "bert": ("vocab_size", "num_hidden_layers", "num_attention_heads",
             "hidden_size", "intermediate_size", "max_position_embeddings"),
    "gpt2": ("vocab_size", "n_layer", "n_head", "n_embd", "n_positions"),
    "marian": ("vocab_size", "encoder_layers", "decoder_layers",
               "encoder_attention_heads", "decoder_attention_heads",
               "encoder_ffn_dim", "decoder_ffn_dim", "d_model",
               "max_position_embeddings"),
}
OPTIONAL_SIZES = ("type_vocab_size", "n_inner", "num_labels")
RATES = ("hidden_dropout_prob", "attention_probs_dropout_prob",
         "classifier_dropout", "resid_pdrop", "attn_pdrop", "dropout",
         "attention_dropout", "layer_norm_eps", "layer_norm_epsilon")



# Reading ---------------------------------------------------------------------


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_config(config, source):
    """Raise unless `config` gives its family's sizes as positive ints and
    its rates and epsilons as numbers: a missing size would otherwise be a
    KeyError, a string or 0 a model that is silently not the checkpoint's
    (no layers), or an error from deep inside Keras."""
    missing = [key for key in SIZES[config["model_type"]] if key not in config]
    if missing:
        raise ValueError(f"{source}: config.json lacks {missing}, which a "
                         f"{config['model_type']} config.json gives.")
    for key in SIZES[config["model_type"]] + OPTIONAL_SIZES:
        value = config.get(key)
        if (key in SIZES[config["model_type"]] or value is not None) and not (
                _is_int(value) and value > 0):
            raise ValueError(f"{source}: config.json: {key}={value!r}; it "
                             "must be a positive integer.")
    for key in RATES:
        value = config.get(key)
        if value is not None and not (
                isinstance(value, (int, float)) and not isinstance(value, bool)
                and 0 <= value < 1):
            raise ValueError(f"{source}: config.json: {key}={value!r}; it "
                             "must be a number in [0, 1).")


def _activation(config, key, default):
    name = config.get(key, default)
    if name not in ACTIVATIONS:
        raise ValueError(f"config.json: {key}={name!r} is not supported; the "
                         f"zoo has {sorted(ACTIVATIONS)}.")
    return ACTIVATIONS[name]


def bert_arguments(config):
    """`BertEncoder` arguments from a BERT `config.json`."""
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(
            "config.json: position_embedding_type="
            f"{config['position_embedding_type']!r}; the zoo's BERT has "
            "absolute learned positions only.")
    return dict(
        vocabulary_size=config["vocab_size"],
        num_layers=config["num_hidden_layers"],
        num_heads=config["num_attention_heads"],
        hidden_dim=config["hidden_size"],
        intermediate_dim=config["intermediate_size"],
        dropout=config.get("hidden_dropout_prob", 0.1),
        attention_dropout=config.get("attention_probs_dropout_prob", 0.1),
        max_sequence_length=config["max_position_embeddings"],
        num_segments=config.get("type_vocab_size", 2),
        layer_norm_epsilon=config.get("layer_norm_eps", 1e-12),
        activation=_activation(config, "hidden_act", "gelu"),
    )


def _require(config, settings, model):
    """Refuse a `config.json` whose `settings` ({key: the only value the
    zoo's `model` has}) differ."""
    for key, plain in settings.items():
        if config.get(key, plain) != plain:
            raise ValueError(f"config.json: {key}={config[key]}; the zoo's "
                             f"{model} supports {key}={plain} only.")


def gpt2_arguments(config):
    """`GPTDecoder` arguments from a GPT-2 `config.json`."""
    _require(config, {"scale_attn_weights": True,
                      "scale_attn_by_inverse_layer_idx": False,
                      "tie_word_embeddings": True}, "GPT-2")
    hidden = config["n_embd"]
    return dict(
        vocabulary_size=config["vocab_size"],
        num_layers=config["n_layer"],
        num_heads=config["n_head"],
        hidden_dim=hidden,
        intermediate_dim=config.get("n_inner") or 4 * hidden,
        dropout=config.get("resid_pdrop", 0.1),
        attention_dropout=config.get("attn_pdrop", 0.1),
        max_sequence_length=config["n_positions"],
        layer_norm_epsilon=config.get("layer_norm_epsilon", 1e-5),
        activation=_activation(config, "activation_function", "gelu_new"),
    )


def marian_arguments(config):
    """`Transformer` arguments from a MarianMT `config.json`."""
    if not config.get("scale_embedding", False):  # MarianConfig's default
        raise ValueError("config.json: scale_embedding is not true; the zoo's "
                         "Transformer scales its embedding by sqrt(d_model).")
    _require(config, {"share_encoder_decoder_embeddings": True,
                      "tie_word_embeddings": True}, "Transformer")
    for encoder, decoder in (("encoder_layers", "decoder_layers"),
                             ("encoder_attention_heads",
                              "decoder_attention_heads"),
                             ("encoder_ffn_dim", "decoder_ffn_dim")):
        if config[encoder] != config[decoder]:
            raise ValueError(
                f"config.json: {encoder}={config[encoder]} but {decoder}="
                f"{config[decoder]}; the zoo's Transformer has the same "
                "sizes on both sides.")
    return dict(
        vocabulary_size=config["vocab_size"],
        num_layers=config["encoder_layers"],
        num_heads=config["encoder_attention_heads"],
        hidden_dim=config["d_model"],
        intermediate_dim=config["encoder_ffn_dim"],
        dropout=config.get("dropout", 0.1),
        attention_dropout=config.get("attention_dropout", 0.0),
        max_sequence_length=config["max_position_embeddings"],
        activation=_activation(config, "activation_function", "gelu"),
        interleave_positions=False,
    )


def _check_marian_ids(config, tokenizer):
    """The tokenizer's <pad> and </s> are the ids config.json names."""
    for key, token in (("pad_token_id", "pad_token"),
                       ("decoder_start_token_id", "start_token"),
                       ("eos_token_id", "end_token")):
        expected = getattr(tokenizer, f"{token}_id")
        if config.get(key) is not None and config[key] != expected:
            raise ValueError(
                f"config.json: {key}={config[key]}, but the tokenizer's "
                f"{getattr(tokenizer, token)} is {expected}; the tokenizer "
                "files and config.json come from different models.")


def _num_labels(config):
    return len(config.get("id2label") or {}) or config.get("num_labels", 2)


def build(config, tokenizer=None):
    """The zoo model of `config`'s architecture, randomly initialized."""
    family = config["model_type"]
    known = ARCHITECTURES[family]
    architectures = config.get("architectures") or known[:1]
    if not isinstance(architectures, list):
        raise ValueError(f"config.json: architectures={architectures!r}; it "
                         "must be a list of names, such as "
                         f"[{known[0]!r}].")
    architecture = architectures[0]
    if architecture not in known:
        raise ValueError(
            f"config.json: architecture {architecture!r} is not supported; "
            f"for {family} zoo.convert reads {', '.join(known)}.")
    if family == "gpt2":
        return CausalLM(GPTDecoder(**gpt2_arguments(config)),
                        tokenizer=tokenizer)
    if family == "marian":
        if tokenizer is not None:
            _check_marian_ids(config, tokenizer)
        return Seq2SeqLM(Transformer(**marian_arguments(config)),
                         tokenizer=tokenizer, final_logits_bias=True)
    backbone = BertEncoder(**bert_arguments(config))
    dropout = config.get("classifier_dropout")
    if dropout is None:
        dropout = config.get("hidden_dropout_prob", 0.1)
    if architecture == "BertModel":
        return backbone
    if architecture == "BertForSequenceClassification":
        if config.get("problem_type") == "multi_label_classification":
            raise ValueError(
                "config.json: problem_type='multi_label_classification' (a "
                "sigmoid per label); the zoo's SequenceClassifier has one "
                "softmax over the labels (single_label_classification) or "
                "one regression output.")
        return SequenceClassifier(backbone, _num_labels(config), dropout,
                                  tokenizer=tokenizer)
    if architecture == "BertForTokenClassification":
        return TokenClassifier(backbone, _num_labels(config), dropout,
                               tokenizer=tokenizer)
    return MaskedLM(backbone,
                    architecture == "BertForPreTraining", tokenizer=tokenizer)


# Writing ---------------------------------------------------------------------


def _architecture(model):
    if isinstance(model, MaskedLM):
        return ("BertForPreTraining" if model.next_sentence_prediction
                else "BertForMaskedLM")
    return {SequenceClassifier: "BertForSequenceClassification",
            TokenClassifier: "BertForTokenClassification",
            BertEncoder: "BertModel", GPTDecoder: "GPT2Model",
            CausalLM: "GPT2LMHeadModel", Seq2SeqLM: "MarianMTModel"}[type(model)]


def hf_config(model, labels=None):
    """`config.json` for `model` (a task or a backbone)."""
    backbone = getattr(model, "backbone", model)
    attention_dropout = backbone.attention_dropout
    if attention_dropout is None:
        attention_dropout = backbone.dropout
    common = {"architectures": [_architecture(model)],
              "vocab_size": backbone.vocabulary_size,
              "torch_dtype": "float32"}
    if isinstance(backbone, Transformer):
        return {**common, **_marian_config(model, attention_dropout)}
    if isinstance(backbone, GPTDecoder):
        end = hf_tokenizers.end_token_id(getattr(model, "tokenizer", None))
        return {**common, "model_type": "gpt2",
                "n_embd": backbone.hidden_dim, "n_layer": backbone.num_layers,
                "n_head": backbone.num_heads,
                "n_inner": backbone.intermediate_dim,
                "n_positions": backbone.max_sequence_length,
                "activation_function": ZOO_ACTIVATIONS[backbone.activation],
                "resid_pdrop": backbone.dropout,
                "embd_pdrop": backbone.dropout,
                "attn_pdrop": attention_dropout,
                "layer_norm_epsilon": backbone.layer_norm_epsilon,
                "bos_token_id": end, "eos_token_id": end}
    config = {**common, "model_type": "bert",
              "hidden_size": backbone.hidden_dim,
              "num_hidden_layers": backbone.num_layers,
              "num_attention_heads": backbone.num_heads,
              "intermediate_size": backbone.intermediate_dim,
              "hidden_act": ZOO_ACTIVATIONS[backbone.activation],
              "hidden_dropout_prob": backbone.dropout,
              "attention_probs_dropout_prob": attention_dropout,
              "max_position_embeddings": backbone.max_sequence_length,
              "type_vocab_size": backbone.num_segments,
              "layer_norm_eps": backbone.layer_norm_epsilon,
              "position_embedding_type": "absolute", "pad_token_id": 0}
    if isinstance(model, (SequenceClassifier, TokenClassifier)):
        labels = list(labels or
                      [f"LABEL_{i}" for i in range(model.num_classes)])
        if len(labels) != model.num_classes:
            raise ValueError(f"{len(labels)} labels for a head of "
                             f"{model.num_classes} classes.")
        config.update(id2label=dict(enumerate(labels)),
                      label2id={label: i for i, label in enumerate(labels)},
                      classifier_dropout=model.dropout)
        if model.num_classes == 1:
            config["problem_type"] = "regression"
    return config


def _marian_config(model, attention_dropout):
    backbone = model.backbone
    if (backbone.interleave_positions or backbone.norm_first
            or backbone.layer_norm_epsilon != 1e-5):
        raise ValueError(
            "MarianMT has post-LN blocks, LayerNorm epsilon 1e-5 and "
            "sin-then-cos positions: this Transformer (interleave_positions="
            f"{backbone.interleave_positions}, norm_first="
            f"{backbone.norm_first}, layer_norm_epsilon="
            f"{backbone.layer_norm_epsilon}) has no Hugging Face equivalent.")
    # Marian's tokenizer says which ids are <pad> (the decoder's start) and
    # </s>; without one, Marian's convention: </s> 0, <pad> the last id.
    pad, end = backbone.vocabulary_size - 1, 0
    tokenizer = getattr(model, "tokenizer", None)
    if isinstance(tokenizer, MarianTokenizer):
        pad, end = tokenizer.pad_token_id, tokenizer.end_token_id
    sizes = {"layers": backbone.num_layers,
             "attention_heads": backbone.num_heads,
             "ffn_dim": backbone.intermediate_dim}
    return {"model_type": "marian", "d_model": backbone.hidden_dim,
            **{f"{side}_{key}": value for side in ("encoder", "decoder")
               for key, value in sizes.items()},
            "activation_function": ZOO_ACTIVATIONS[backbone.activation],
            "dropout": backbone.dropout, "attention_dropout": attention_dropout,
            "activation_dropout": 0.0,
            "max_position_embeddings": backbone.max_sequence_length,
            "scale_embedding": True, "pad_token_id": pad,
            "decoder_start_token_id": pad, "eos_token_id": end,
            "forced_eos_token_id": end,
            # The zoo never generates the start token; nor, so, may
            # transformers (opus-mt's own configs say the same).
            "bad_words_ids": [[pad]]}
