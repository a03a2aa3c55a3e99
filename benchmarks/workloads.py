"""What `benchmarks.run` measures: its workloads, their FLOPs, the zoo and
keras-hub models it builds for them and the inputs every library gets.

keras-hub's peers are `GPT2CausalLM`, `BertTextClassifier` and, for the
Transformer, keras-hub `TransformerEncoder` and `TransformerDecoder`
stacks over a shared `ReversibleEmbedding` with `SinePositionEncoding`.

Nothing here imports TensorFlow, Keras or zoo at module level: the worker
process sets its backend (`KERAS_BACKEND`) before any of them loads.
"""

import dataclasses
import math

DTYPES = ("float32", "mixed_bfloat16")
BACKENDS = ("tensorflow", "jax")  # Keras backends a row can run on
# zoo first: every ratio is zoo over another library. zoo-untuned and
# zoo-before are zoo itself (without zoo.tuning; at an older commit); the
# peers are the other libraries.
LIBRARIES = ("zoo", "zoo-untuned", "zoo-before", "keras-hub", "pytorch")
PEERS = ("keras-hub", "pytorch")
DEFAULT_LIBRARIES = ("zoo", "keras-hub")
PROMPT_LENGTH = 16


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    kind: str  # "train", "infer" or "generate"
    family: str  # "gpt", "bert" or "transformer"
    config: dict  # backbone sizes, under the names both libraries use
    batch: int
    length: int  # context, sequence, or source (= target) length
    new_tokens: int = 0  # generation only
    steps_per_execution: int = 1

    @property
    def unit(self):
        if self.family == "bert":
            return "seq/s"
        return "new tok/s" if self.kind == "generate" else "tok/s"

    def items_per_step(self):
        """How many units one training or inference step processes."""
        if self.family == "bert":
            return self.batch
        if self.family == "transformer":
            return 2 * self.batch * self.length
        return self.batch * self.length


def _gpt(vocabulary_size, layers, width, heads, context):
    return dict(vocabulary_size=vocabulary_size, num_layers=layers,
                num_heads=heads, hidden_dim=width, intermediate_dim=4 * width,
                max_sequence_length=context, dropout=0.0)


def _bert(layers, width, heads):
    return dict(vocabulary_size=30522, num_layers=layers, num_heads=heads,
                hidden_dim=width, intermediate_dim=4 * width,
                max_sequence_length=512, dropout=0.1)


# keras-hub's Transformer layers drop out attention probabilities at the
# same rate as everything else; zoo's Transformer is told to do the same.
TRANSFORMER_BASE = dict(vocabulary_size=37000, num_layers=6, num_heads=8,
                        hidden_dim=512, intermediate_dim=2048,
                        max_sequence_length=1024, dropout=0.1,
                        attention_dropout=0.1)

WORKLOADS = {
    w.name: w
    for w in [
        Workload("gpt_nano", "train", "gpt", _gpt(65, 4, 128, 4, 64), 12, 64,
                 steps_per_execution=10),
        Workload("gpt_6l_384", "train", "gpt", _gpt(65, 6, 384, 6, 256), 64,
                 256),
        Workload("gpt2_small", "train", "gpt", _gpt(50257, 12, 768, 12, 1024),
                 1, 1024),
        Workload("bert_tiny", "train", "bert", _bert(2, 128, 2), 32, 128,
                 steps_per_execution=4),
        Workload("bert_base", "train", "bert", _bert(12, 768, 12), 8, 128),
        Workload("transformer_base", "train", "transformer", TRANSFORMER_BASE,
                 8, 128),
        Workload("bert_base_infer", "infer", "bert", _bert(12, 768, 12), 8,
                 128),
        Workload("generate_gpt_nano_b1", "generate", "gpt",
                 _gpt(50257, 4, 128, 4, 256), 1, PROMPT_LENGTH, 200),
        Workload("generate_gpt_nano_b8", "generate", "gpt",
                 _gpt(50257, 4, 128, 4, 256), 8, PROMPT_LENGTH, 200),
        Workload("generate_gpt2_small_b1", "generate", "gpt",
                 _gpt(50257, 12, 768, 12, 1024), 1, PROMPT_LENGTH, 50),
        Workload("generate_gpt2_small_b8", "generate", "gpt",
                 _gpt(50257, 12, 768, 12, 1024), 8, PROMPT_LENGTH, 50),
    ]
}
QUICK = ("gpt_nano", "bert_tiny", "generate_gpt_nano_b1")


# FLOPs ----------------------------------------------------------------------


def forward_flops(w):
    """Matrix-multiply FLOPs of one forward pass over a batch of `w`: 2
    FLOPs per weight per token plus Q K^T and P V over the whole (T, T)
    square. zoo's query-blocked causal attention skips the upper triangle;
    its FLOPs still count it, as keras-hub's do, so equal work gets equal
    FLOPs. Training is 3 x forward (the PaLM paper's appendix B)."""
    c = w.config
    d, f, n = c["hidden_dim"], c["intermediate_dim"], c["num_layers"]
    v, t = c["vocabulary_size"], w.length

    def attention(queries, keys):
        # W_Q and W_O on the queries, W_K and W_V on the keys, then
        # Q K^T and P V: 2 FLOPs per multiply-add.
        return 2 * (2 * queries * d * d + 2 * keys * d * d
                    + 2 * queries * keys * d)

    feed_forward = 2 * 2 * t * d * f
    encoder_layer = attention(t, t) + feed_forward
    if w.family == "bert":
        per_sequence = n * encoder_layer + 2 * d * d  # + the pooler
    elif w.family == "gpt":
        per_sequence = n * encoder_layer + 2 * t * d * v  # + the logits
    else:  # encoder, decoder (self + cross attention), logits
        decoder_layer = 2 * attention(t, t) + feed_forward
        per_sequence = n * (encoder_layer + decoder_layer) + 2 * t * d * v
    return w.batch * per_sequence


def step_flops(w):
    return (3 if w.kind == "train" else 1) * forward_flops(w)


# Models and inputs ----------------------------------------------------------


def zoo_model(w):
    """zoo's task model for `w`, untrained."""
    from zoo.models import BertEncoder
    from zoo.models import GPTDecoder
    from zoo.models import Transformer
    from zoo.tasks import CausalLM
    from zoo.tasks import Seq2SeqLM
    from zoo.tasks import SequenceClassifier

    if w.family == "gpt":
        return CausalLM(GPTDecoder(**w.config))
    if w.family == "bert":
        return SequenceClassifier(BertEncoder(**w.config), num_classes=2)
    return Seq2SeqLM(Transformer(**w.config))


def keras_hub_transformer(config):
    """The encoder-decoder Transformer from keras-hub's layers: (B, S) and
    (B, T) ids and padding masks to (B, T, V) logits, zoo's `Seq2SeqLM`
    inputs. As zoo's `Transformer`: one tied embedding, N(0, 1/D) and
    scaled by sqrt(D), plus sinusoids (interleaved sin and cos), dropout
    on their sum; post-LN blocks with ReLU. keras-hub's blocks also drop
    out the attention probabilities at `config["dropout"]`. The layers
    are named (`embedding`, `position_encoding`, `encoder_layer_i`,
    `decoder_layer_i`) for the cached greedy decoding of
    `benchmarks.quality_translate_train`."""
    import keras
    import keras_hub

    d = config["hidden_dim"]
    embedding = keras_hub.layers.ReversibleEmbedding(
        config["vocabulary_size"], d, tie_weights=True,
        embeddings_initializer=keras.initializers.RandomNormal(stddev=d**-0.5),
        name="embedding")
    positions = keras_hub.layers.SinePositionEncoding(name="position_encoding")
    dropout = keras.layers.Dropout(config["dropout"])

    def embed(ids):
        x = embedding(ids) * math.sqrt(d)  # (B, L, D)
        return dropout(x + positions(x))

    def block_args():
        return dict(intermediate_dim=config["intermediate_dim"],
                    num_heads=config["num_heads"], dropout=config["dropout"],
                    activation="relu")

    inputs = {
        name: keras.Input((None,), dtype="int32", name=name)
        for name in ("encoder_token_ids", "encoder_padding_mask",
                     "decoder_token_ids", "decoder_padding_mask")
    }
    x = embed(inputs["encoder_token_ids"])  # (B, S, D)
    for i in range(config["num_layers"]):
        x = keras_hub.layers.TransformerEncoder(
            **block_args(), name=f"encoder_layer_{i}")(
            x, padding_mask=inputs["encoder_padding_mask"])
    y = embed(inputs["decoder_token_ids"])  # (B, T, D)
    for i in range(config["num_layers"]):
        y = keras_hub.layers.TransformerDecoder(
            **block_args(), name=f"decoder_layer_{i}")(
            y, x, decoder_padding_mask=inputs["decoder_padding_mask"],
            encoder_padding_mask=inputs["encoder_padding_mask"])
    logits = embedding(y, reverse=True)  # (B, T, V)
    return keras.Model(inputs, logits)


def keras_hub_model(w):
    """keras-hub's peer of `zoo_model(w)`, untrained, without preprocessor."""
    import keras_hub

    c = dict(w.config)
    if w.family == "gpt":
        backbone = keras_hub.models.GPT2Backbone(**c)
        return keras_hub.models.GPT2CausalLM(backbone, preprocessor=None)
    if w.family == "bert":
        backbone = keras_hub.models.BertBackbone(**c)
        return keras_hub.models.BertTextClassifier(
            backbone, num_classes=2, preprocessor=None, dropout=0.1)
    return keras_hub_transformer(c)


def random_batch(w):
    """One batch (x, y, sample_weight) of random token ids for `w`."""
    import numpy as np

    rng = np.random.default_rng(0)
    vocabulary = w.config["vocabulary_size"]

    def ids(length):
        return rng.integers(1, vocabulary, (w.batch, length)).astype("int32")

    ones = np.ones((w.batch, w.length), "int32")
    if w.family == "gpt":
        window = ids(w.length + 1)
        x = {"token_ids": window[:, :-1], "padding_mask": ones}
        return x, window[:, 1:], np.ones_like(ones, "float32")
    if w.family == "bert":
        x = {"token_ids": ids(w.length), "segment_ids": 0 * ones,
             "padding_mask": ones}
        return x, rng.integers(0, 2, (w.batch,)).astype("int32"), None
    target = ids(w.length + 1)
    x = {"encoder_token_ids": ids(w.length), "encoder_padding_mask": ones,
         "decoder_token_ids": target[:, :-1], "decoder_padding_mask": ones}
    return x, target[:, 1:], np.ones_like(ones, "float32")


def random_prompts(w):
    """The (batch, 16) int32 prompts every library's generation row gets."""
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.integers(1, w.config["vocabulary_size"],
                        (w.batch, PROMPT_LENGTH)).astype("int32")
