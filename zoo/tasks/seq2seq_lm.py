"""Sequence-to-sequence LM over the encoder-decoder Transformer: teacher-
forced training and greedy, sampled or beam-search generation."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from zoo.tasks import generation
from zoo.tasks.beam_search import _tile
from zoo.tasks.causal_lm import TiedLanguageModel
from zoo.tasks.causal_lm import next_token_logits
from zoo.tasks.losses import SparseCrossEntropy
from zoo.tasks.task import shift_left


@keras.saving.register_keras_serializable(package="zoo")
class Seq2SeqLM(TiedLanguageModel):
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
        jit_compile_generate: bool. Compile generation with XLA.

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
                 jit_compile_generate=True, **kwargs):
        super().__init__(backbone, tokenizer, jit_compile_generate, **kwargs)
        self.label_smoothing = label_smoothing

    def targets(self, x, y, sample_weight):
        if y is None:
            return shift_left(x, "decoder_token_ids", "decoder_padding_mask")
        return y, sample_weight

    def default_loss(self):
        return SparseCrossEntropy(label_smoothing=self.label_smoothing)


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
        text = generation.is_text(sources)
        single = isinstance(sources, str)
        if text:
            sources = generation.tokenize(self.tokenizer, sources, "Seq2SeqLM")
        source_ids, source_lengths = generation.pack_prompts(sources, "sources")
        generation.check_sampler(sampler, top_k, top_p, temperature, num_beams)
        self.backbone.check_inputs({"encoder_token_ids": source_ids})
        if start_token_id is None:
            start_token_id = getattr(self.tokenizer, "start_token_id", None)
        if start_token_id is None:
            raise ValueError(
                "`generate` needs the decoder's `start_token_id` (the "
                "tokenizer has none, or there is no tokenizer)."
            )
        vocabulary_size = self.backbone.vocabulary_size
        if not 0 <= start_token_id < vocabulary_size:
            raise ValueError(
                f"`start_token_id`={start_token_id} is outside the vocabulary "
                f"[0, {vocabulary_size})."
            )
        room = self.backbone.max_sequence_length - 1
        if max_new_tokens is None:
            max_new_tokens = min(source_ids.shape[1] + 50, room)
        if not 1 <= max_new_tokens <= room:
            raise ValueError(
                f"`max_new_tokens`={max_new_tokens} does not fit the model's "
                f"max_sequence_length {room + 1} (with the start token): it "
                f"must be between 1 and {room}."
            )
        stops = generation.stop_ids(stop_token_ids, self.tokenizer,
                                    vocabulary_size)
        if sampler == "beam":
            generation.check_beams(num_beams, stops,
                                   self.backbone.vocabulary_size)

        limit = self.backbone.max_sequence_length
        width = generation.bucket(source_ids.shape[1], limit)
        source_ids = np.pad(source_ids, [(0, 0), (0, width - source_ids.shape[1])])
        batch_size = len(source_ids)
        total = generation.bucket(1 + max_new_tokens, limit)
        target_ids = np.zeros((batch_size, total), "int32")
        target_ids[:, 0] = start_token_id
        prompt_mask = np.zeros((batch_size, total), bool)
        prompt_mask[:, 0] = True
        source_mask = (np.arange(source_ids.shape[1])[None, :]
                       < source_lengths[:, None])
        function = self.compiled_generate(
            self._generate_graph, sampler=sampler,
            num_beams=num_beams if sampler == "beam" else None,
        )
        output_ids, mask = function(
            tf.constant(source_ids), tf.constant(source_mask),
            tf.constant(target_ids), tf.constant(prompt_mask),
            tf.constant(np.full(batch_size, 1 + max_new_tokens, "int32")),
            tf.constant(stops),
            generation.options(seed, temperature, top_k, top_p,
                               length_penalty, self.backbone.vocabulary_size),
        )
        output_ids, mask = np.asarray(output_ids), np.asarray(mask)
        if not (text or isinstance(sources, (list, tuple))):
            return {"token_ids": output_ids, "padding_mask": mask}
        rows = [row[m][1:].tolist() for row, m in zip(output_ids, mask)]
        if not text:
            return rows
        texts = generation.detokenize(self.tokenizer, rows, drop=set(stops))
        return texts[0] if single else texts

    def generate_signature(self):
        return [
            tf.TensorSpec([None, None], "int32"),  # source_ids (B, S)
            tf.TensorSpec([None, None], "bool"),  # source_mask (B, S)
            tf.TensorSpec([None, None], "int32"),  # token_ids (B, L)
            tf.TensorSpec([None, None], "bool"),  # prompt_mask (B, L)
            tf.TensorSpec([None], "int32"),  # row_end (B,)
            tf.TensorSpec([None], "int32"),  # stop_token_ids (n,)
            generation.OPTIONS_SIGNATURE,
        ]

    def _generate_graph(self, source_ids, source_mask, token_ids, prompt_mask,
                        row_end, stop_token_ids, options, sampler,
                        num_beams):
        backbone = self.backbone
        encoder_output = backbone.encode(source_ids, source_mask)  # (B, S, D)
        self_cache, cross_cache = backbone.initial_cache(
            encoder_output, ops.shape(token_ids)[1]
        )
        hidden, self_cache = backbone.decode_with_cache(
            token_ids[:, :1], self_cache, cross_cache, 0, source_mask
        )
        logits = next_token_logits(backbone.token_embedding, hidden[:, 0])
        if sampler == "beam":  # beam k of row b is row b * K + k
            cross_cache = [_tile(c, num_beams) for c in cross_cache]
            source_mask = _tile(source_mask, num_beams)

        def step(token, cache, index):
            hidden, cache = backbone.decode_with_cache(
                token[:, None], cache, cross_cache, index, source_mask
            )
            return next_token_logits(backbone.token_embedding, hidden[:, 0]), cache

        return generation.decode(
            step, logits, self_cache, token_ids, prompt_mask, row_end, 1,
            stop_token_ids, options, sampler, num_beams,
        )

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}
