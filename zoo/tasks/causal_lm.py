"""Next-token language modelling with a GPT-style decoder, and generation."""

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from zoo.tasks import generation
from zoo.tasks.losses import SparseCrossEntropy
from zoo.tasks.task import Task
from zoo.tasks.task import shift_left
from zoo.compat import compiling_for_xla


def perplexity():
    from keras_hub.metrics import Perplexity

    return Perplexity(from_logits=True, name="perplexity")


def next_token_logits(token_embedding, hidden):
    """(B, D) -> (B, V) through the tied embedding E (V, D).

    The same product as `token_embedding(hidden, reverse=True)`, in the
    order that ran faster where it runs (whole `generate` calls,
    benchmarks.run --worker, this 2-core CPU, two processes each):
    - under XLA, h E^T, which XLA fuses with the transpose into one loop
      over both cores: gpt_nano at batch 1 gave 503 and 532 new tokens/s
      against 358 and 417 with (E h^T)^T; within run-to-run noise at
      batch 8 and at GPT-2 sizes;
    - without XLA, (E h^T)^T, a thin matrix product for TensorFlow's
      kernels: gpt_nano at batch 8 gave 547 and 623 against 492 and 491
      with h E^T, GPT-2 small at batch 8 69 and 71 against 59 and 60.
    """
    embeddings = ops.cast(token_embedding.embeddings, hidden.dtype)  # (V, D)
    if compiling_for_xla():
        return ops.matmul(hidden, ops.transpose(embeddings))  # h E^T
    return ops.transpose(ops.einsum("vd,bd->vb", embeddings, hidden))


class TiedLanguageModel(generation.CompiledGenerate, Task):
    """What `CausalLM` and `Seq2SeqLM` share: logits through the tied token
    embedding, next-token labels, an optional tokenizer, compiled generation.
    """

    def __init__(self, backbone, tokenizer=None, jit_compile_generate=True,
                 **kwargs):
        super().__init__(backbone, tokenizer, **kwargs)
        self.jit_compile_generate = jit_compile_generate

    def call(self, inputs, training=None):
        hidden = self.backbone(inputs, training=training)  # (B, T, D)
        return self.backbone.token_embedding(hidden, reverse=True)  # (B, T, V)

    def label_classes(self):
        return self.backbone.vocabulary_size

    def default_metrics(self):
        return [keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                perplexity()]

    def get_config(self):
        config = super().get_config()
        config["jit_compile_generate"] = self.jit_compile_generate
        return config


@keras.saving.register_keras_serializable(package="zoo")
class CausalLM(TiedLanguageModel):
    """Predict each next token; generate with a compiled, cached loop.

    The output projection is the token embedding, transposed (tied, Press &
    Wolf 2017), so the task adds no weights of its own.

    Args:
        backbone: a `GPTDecoder`.
        tokenizer: optional keras-hub tokenizer; lets `generate` take and
            return strings.
        jit_compile_generate: bool. Compile generation with XLA (default),
            which runs the decoding loop 1.5-3x faster on the CPU than a
            plain `tf.function`.

    Call arguments:
        inputs: `{"token_ids": (B, T), "padding_mask": (B, T)}`.

    Returns:
        (B, T, V) logits; position t predicts token t + 1.

    Training: `fit(x)` with no labels learns the next tokens of `x`
    (padding excluded); or pass labels and sample weights yourself.

    Example:

    >>> lm = CausalLM(GPTDecoder.from_preset("gpt_nano"))
    >>> lm.generate([[464, 3290], [40]], max_new_tokens=5)
    """

    def targets(self, x, y, sample_weight):
        if y is None:  # next-token labels from the inputs themselves
            return shift_left(x, "token_ids", "padding_mask")
        return y, sample_weight

    def default_loss(self):
        return SparseCrossEntropy()

    def generate(self, prompts, max_new_tokens=None, sampler="greedy", *,
                 temperature=1.0, top_k=None, top_p=None, num_beams=4,
                 length_penalty=0.0, stop_token_ids="auto", seed=None):
        """Continue every prompt of a batch.

        Args:
            prompts: a list of lists of token ids (lengths may differ), a
                (B, P) array, a dict with `token_ids` and a right-padded
                `padding_mask`, or, with a tokenizer, a string or a list of
                strings.
            max_new_tokens: int. New tokens per prompt at most; default: up
                to the model's `max_sequence_length`.
            sampler: "greedy", "random" (softmax at `temperature`), "top_k",
                "top_p" or "beam".
            temperature: float > 0; divides the logits when sampling.
            top_k: int, for "top_k" (and an optional pre-filter for "top_p").
            top_p: float in (0, 1], for "top_p".
            num_beams: int, for "beam".
            length_penalty: float alpha, for "beam".
            stop_token_ids: an id or ids that end a row (kept in id
                outputs, left out of strings); "auto" is the tokenizer's end
                token, if any; None never stops.
            seed: int. Makes "random", "top_k" and "top_p" reproducible.

        Returns:
            Like `prompts`: lists of ids (prompt + new tokens, through the
            stop token); for an array or dict, a dict of (B, L)
            `token_ids` and `padding_mask`, L rounded up to a multiple of
            32 so that similar calls share one compiled graph; or strings
            (prompt + completion).
        """
        text = generation.is_text(prompts)
        single = isinstance(prompts, str)
        if text:
            prompts = generation.tokenize(self.tokenizer, prompts, "CausalLM")
        token_ids, lengths = generation.pack_prompts(prompts)
        generation.check_sampler(sampler, top_k, top_p, temperature, num_beams)
        self.backbone.check_inputs({"token_ids": token_ids})
        room = self.backbone.max_sequence_length - token_ids.shape[1]
        if room < 1:
            raise ValueError(
                f"The longest prompt has {token_ids.shape[1]} tokens and "
                "fills the model's max_sequence_length "
                f"{self.backbone.max_sequence_length}: no room to generate. "
                "Shorten the prompt."
            )
        if max_new_tokens is None:
            max_new_tokens = room
        if not 1 <= max_new_tokens <= room:
            raise ValueError(
                f"`max_new_tokens`={max_new_tokens} does not fit: the longest "
                f"prompt has {token_ids.shape[1]} tokens and the model's "
                f"max_sequence_length is {self.backbone.max_sequence_length}, "
                f"so it must be between 1 and {room}."
            )
        stops = generation.stop_ids(stop_token_ids, self.tokenizer,
                                    self.backbone.vocabulary_size)
        if sampler == "beam":
            generation.check_beams(num_beams, stops,
                                   self.backbone.vocabulary_size)

        total = generation.bucket(token_ids.shape[1] + max_new_tokens,
                                  self.backbone.max_sequence_length)
        padded = np.zeros((len(token_ids), total), "int32")
        padded[:, : token_ids.shape[1]] = token_ids
        prompt_mask = np.arange(total)[None, :] < lengths[:, None]
        function = self.compiled_generate(
            self._generate_graph, sampler=sampler,
            num_beams=num_beams if sampler == "beam" else None,
        )
        output_ids, mask = function(
            tf.constant(padded), tf.constant(prompt_mask),
            tf.constant(lengths + max_new_tokens), tf.constant(stops),
            generation.options(seed, temperature, top_k, top_p,
                               length_penalty, self.backbone.vocabulary_size),
            tf.constant(generation.prefill_length(lengths.min()), "int32"),
        )
        output_ids, mask = np.asarray(output_ids), np.asarray(mask)
        if not (text or isinstance(prompts, (list, tuple))):
            return {"token_ids": output_ids, "padding_mask": mask}
        rows = [row[m].tolist() for row, m in zip(output_ids, mask)]
        if not text:
            return rows
        texts = generation.detokenize(self.tokenizer, rows, drop=set(stops))
        return texts[0] if single else texts

    def generate_signature(self):
        return [
            tf.TensorSpec([None, None], "int32"),  # token_ids (B, L)
            tf.TensorSpec([None, None], "bool"),  # prompt_mask (B, L)
            tf.TensorSpec([None], "int32"),  # row_end (B,)
            tf.TensorSpec([None], "int32"),  # stop_token_ids (n,)
            generation.OPTIONS_SIGNATURE,
            tf.TensorSpec([], "int32"),  # prefill; XLA compiles once per value
        ]

    def _generate_graph(self, token_ids, prompt_mask, row_end, stop_token_ids,
                        options, prefill, sampler, num_beams):
        """The whole generation as one graph: prefill, then the loop.

        `prefill` (a scalar) positions of every prompt run in one pass;
        they must be prompt tokens in every row.
        """
        backbone = self.backbone
        batch_size, total = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
        cache = backbone.initial_cache(batch_size, total)
        # The part of the prompts that every row shares runs in one pass.
        hidden, cache = backbone.call_with_cache(token_ids[:, :prefill], cache, 0)
        logits = next_token_logits(backbone.token_embedding, hidden[:, -1])

        def step(token, cache, index):
            hidden, cache = backbone.call_with_cache(token[:, None], cache, index)
            return next_token_logits(backbone.token_embedding, hidden[:, 0]), cache

        return generation.decode(
            step, logits, cache, token_ids, prompt_mask, row_end, prefill,
            stop_token_ids, options, sampler, num_beams,
        )
