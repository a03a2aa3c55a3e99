"""Sequence-to-sequence LM over the encoder-decoder Transformer: teacher-
forced training and greedy, sampled or beam-search generation."""

import keras
from keras import ops

from zoo.backend import Spec
from zoo.generation import Generator
from zoo.generation import prepare
from zoo.generation import requests
from zoo.generation.beam_search import repeat_for_beams
from zoo.tasks.losses import SparseCrossEntropy
from zoo.tasks.losses import language_model_metrics
from zoo.tasks.task import Task
from zoo.tasks.task import shift_left

SIGNATURE = [  # of the compiled decoding: inputs, options
    {"source_ids": Spec([None, None], "int32"),  # (B, S)
     "source_mask": Spec([None, None], "bool"),  # (B, S)
     "token_ids": Spec([None, None], "int32"),  # (B, L)
     "prompt_mask": Spec([None, None], "bool"),  # (B, L)
     "row_end": Spec([None], "int32"),  # (B,)
     "stop_token_ids": Spec([None], "int32")},  # (n,)
    prepare.OPTIONS_SIGNATURE,
]


@keras.saving.register_keras_serializable(package="zoo")
class Seq2SeqLM(Task):
    """Map a source sequence to a target sequence (Vaswani et al. 2017).

    Training is teacher-forced: the decoder reads the target shifted right
    (`decoder_token_ids` = start token + target) and predicts it shifted
    left (target + end token). The output projection is the shared token
    embedding, transposed (section 3.4). The default loss smooths labels by
    ε = 0.1 (section 5.4).

    Generation runs the encoder once, computes every decoder layer's
    cross-attention keys and values from its output once, and then decodes
    one token per step against the self-attention cache.

    Args:
        backbone: a `Transformer`.
        tokenizer: optional keras-hub tokenizer with `start_token_id` and
            `end_token_id`; lets `generate` take and return strings.
        label_smoothing: float ε of the default loss.
        jit_compile_generate: bool. Compile generation (see `CausalLM`).
        final_logits_bias: bool. Add a fixed (V,) bias to the logits, as
            MarianMT does (not trained; `zoo.convert` fills it).

    Call arguments:
        inputs: dict with `encoder_token_ids`, `encoder_padding_mask` (B, S),
            `decoder_token_ids`, `decoder_padding_mask` (B, T).

    Returns:
        (B, T, V) logits; decoder position t predicts target token t + 1.

    Training: `fit(x)` without labels learns `decoder_token_ids` shifted
    left (padding excluded), so `decoder_token_ids` should be start token +
    target + end token for the model to learn when to stop; or pass labels
    and sample weights yourself.
    """

    default_learning_rate = 5e-4

    def __init__(self, backbone, tokenizer=None, label_smoothing=0.1,
                 jit_compile_generate=True, final_logits_bias=False,
                 **kwargs):
        super().__init__(backbone, tokenizer, **kwargs)
        self.label_smoothing = label_smoothing
        self.final_logits_bias = None
        if final_logits_bias:
            self.final_logits_bias = self.add_weight(
                shape=(backbone.vocabulary_size,), initializer="zeros",
                trainable=False, name="final_logits_bias")
        self.jit_compile_generate = jit_compile_generate
        self.generator = Generator(self, self.start_decoding, SIGNATURE,
                                   jit_compile_generate)

    def call(self, inputs, training=None):
        hidden = self.backbone(inputs, training=training)  # (B, T, D)
        return self.logits(hidden)  # (B, T, V)

    def logits(self, hidden):
        """Hidden states (..., D) -> logits (..., V): the shared embedding,
        transposed, plus the final logits bias if the task has one."""
        logits = self.backbone.token_embedding(hidden, reverse=True)
        if self.final_logits_bias is None:
            return logits
        return logits + ops.cast(self.final_logits_bias, logits.dtype)

    def label_classes(self):
        return self.backbone.vocabulary_size

    def targets(self, x, y, sample_weight):
        if y is None:
            return shift_left(x, "decoder_token_ids", "decoder_padding_mask")
        return y, sample_weight

    def default_loss(self):
        return SparseCrossEntropy(label_smoothing=self.label_smoothing)

    def default_metrics(self):
        return language_model_metrics()

    def generate(self, sources, max_new_tokens=None, sampler="greedy", *,
                 num_beams=4, length_penalty=0.6, temperature=1.0, top_k=None,
                 top_p=None, start_token_id=None, stop_token_ids="auto",
                 seed=None):
        """Translate (or otherwise map) every source of a batch.

        Args:
            sources: a list of lists of token ids (lengths may differ), a
                (B, S) array, a dict with `token_ids` and a right-padded
                `padding_mask`, or, with a tokenizer, a string or a list of
                strings.
            max_new_tokens: int. Target tokens at most (start token not
                counted); default: longest source + 50, within the model's
                `max_sequence_length`.
            sampler: "greedy", "beam", "random", "top_k" or "top_p".
            num_beams: int, for "beam" (4 in the paper).
            length_penalty: float alpha, for "beam" (0.6 in the paper).
            temperature, top_k, top_p, seed: as in `CausalLM.generate`.
            start_token_id: int, the decoder's first token; default: the
                tokenizer's `start_token_id`.
            stop_token_ids: ids that end a row; "auto" is the tokenizer's
                `end_token_id`.

        Returns:
            For ids: lists of target ids (through the stop token), or a dict
            of (B, L) `token_ids` (start token first) and `padding_mask`, L
            being 1 + max_new_tokens rounded up to a multiple of 32. For
            strings: the detokenized targets.
        """
        vocabulary_size = self.backbone.vocabulary_size
        source_ids, source_mask, stops = requests.parse(
            sources, self.tokenizer, vocabulary_size, "Seq2SeqLM", sampler,
            max_new_tokens=max_new_tokens, top_k=top_k, top_p=top_p,
            num_beams=num_beams, stop_token_ids=stop_token_ids,
            name="sources")
        if start_token_id is None:
            start_token_id = getattr(self.tokenizer, "start_token_id", None)
        if start_token_id is None:
            raise ValueError(
                "`generate` needs the decoder's `start_token_id` (the "
                "tokenizer has none, or there is no tokenizer)."
            )
        if not requests.is_int(start_token_id):
            raise ValueError(f"`start_token_id` must be an int token id; got "
                             f"{start_token_id!r}.")
        if not 0 <= start_token_id < vocabulary_size:
            raise ValueError(
                f"`start_token_id`={start_token_id} is outside the vocabulary "
                f"[0, {vocabulary_size})."
            )
        token_ids, mask = self.generate_tensors(
            source_ids, source_mask, start_token_id, max_new_tokens, stops,
            sampler, num_beams=num_beams,
            **requests.options(sampler, temperature, top_k, top_p, seed,
                               length_penalty))
        return requests.unpack(token_ids, mask, sources, self.tokenizer,
                               stops, skip=1)  # the start token

    def generate_tensors(self, source_ids, padding_mask, start_token_id,
                         max_new_tokens=None, stop_token_ids=(),
                         sampler="greedy", num_beams=4, jit_compile=None,
                         **options):
        """`generate` on tensors, on any backend or inside a TensorFlow
        graph (the SavedModel's signatures call it).

        Args:
            source_ids: (B, S) right-padded sources.
            padding_mask: (B, S).
            start_token_id: int, the decoder's first token.
            max_new_tokens: int or scalar tensor; None: longest source +
                50, within the model's max_sequence_length.
            stop_token_ids, sampler, num_beams, jit_compile, **options: as
                in `CausalLM.generate_tensors`.

        Returns:
            `(token_ids, padding_mask)`, both (B, L), the start token first.
        """
        checked = self.backbone.check_inputs(
            {"encoder_token_ids": source_ids,
             "encoder_padding_mask": padding_mask})
        inputs = prepare.seq2seq(
            checked["encoder_token_ids"], checked["encoder_padding_mask"],
            max_new_tokens, start_token_id, self.backbone.max_sequence_length)
        inputs["stop_token_ids"] = ops.cast(stop_token_ids, "int32")
        options = prepare.sampling_options(self.backbone.vocabulary_size,
                                           **options)
        return self.generator(inputs, options, 1, sampler, num_beams,
                              jit_compile)

    def start_decoding(self, inputs, prefill, num_beams=None):
        """Encode the sources and decode the start token (`prefill` is 1).

        Returns:
            `(logits, cache, step, 1)`: the logits (B, V) of target position
            1, the self-attention cache, and the one-token step, which
            reads the cross-attention keys and values computed here once.
            The start token is never generated unless it is also a stop
            token: its logit is -inf (MarianMT starts from its padding
            token, which `transformers`' opus-mt configs bar with
            `bad_words_ids`).
        """
        backbone = self.backbone
        source_mask = inputs["source_mask"]  # (B, S)
        encoder_output = backbone.encode(inputs["source_ids"], source_mask)
        token_ids = inputs["token_ids"]  # (B, L)
        start = token_ids[0, 0]
        barred = ((ops.arange(backbone.vocabulary_size) == start)  # (V,)
                  & ~ops.any(inputs["stop_token_ids"] == start))

        def logits_of(hidden):  # (B, H) -> (B, V)
            return ops.where(barred, float("-inf"), self.logits(hidden))

        self_cache, cross_cache = backbone.initial_cache(
            encoder_output, ops.shape(token_ids)[1])
        hidden, self_cache = backbone.decode_with_cache(
            token_ids[:, :1], self_cache, cross_cache, 0, source_mask)
        logits = logits_of(hidden[:, 0])  # (B, V)
        if num_beams:  # beam k of row b is row b * K + k
            cross_cache = [repeat_for_beams(c, num_beams) for c in cross_cache]
            source_mask = repeat_for_beams(source_mask, num_beams)

        def step(token, cache, index):
            hidden, cache = backbone.decode_with_cache(
                token[:, None], cache, cross_cache, index, source_mask)
            return logits_of(hidden[:, 0]), cache

        return logits, self_cache, step, 1

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing,
                "jit_compile_generate": self.jit_compile_generate,
                "final_logits_bias": self.final_logits_bias is not None}
