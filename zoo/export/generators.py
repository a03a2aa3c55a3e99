"""Serving modules that generate: causal LM and seq2seq LM.

They tokenize in the graph and call the task's `generate_tensors`, the
function its Python `generate` calls: the same checks, padded lengths,
prefill, options and compiled KV-cached loop, so that the served ids equal
the in-process ones. Shapes: B batch, P prompt, L output length.
"""

import tensorflow as tf

from zoo.export import text
from zoo.export.serving import ServingModule
from zoo.export.serving import ids_spec
from zoo.export.serving import scalar_spec
from zoo.export.serving import strings_spec
from zoo.generation import requests
from zoo.generation.sampling import is_stop


class _GeneratorModule(ServingModule):
    """What the causal and seq2seq modules share: prompts from text or ids,
    and the outputs. Generation itself is the task's `generate_tensors`,
    the very function its Python `generate` runs."""

    def __init__(self, task, tokenizer, xla=True):
        super().__init__(task, tokenizer)
        self.xla = xla
        keras_tokenizer = tokenizer.tokenizer if tokenizer else None
        self.stops = tf.constant(requests.stop_ids(
            "auto", keras_tokenizer, task.backbone.vocabulary_size))

    def _prompts(self, texts):
        """(B,) strings -> right-padded ids and mask, (B, P)."""
        ids = self.tokenizer.tokenize(text.clean(texts))  # (B, None)
        return ids.to_tensor(0), tf.sequence_mask(ids.row_lengths(),
                                                  dtype="int32")

    def _outputs(self, token_ids, mask, new_tokens, with_text):
        """`token_ids`, `padding_mask` (B, L) and, with text, the strings of
        the kept tokens (stop tokens left out, as in Python)."""
        mask = tf.cast(mask, "bool")
        outputs = {"token_ids": token_ids,
                   "padding_mask": tf.cast(mask, "int32")}
        if with_text:
            stop = is_stop(token_ids, self.stops)
            words = tf.ragged.boolean_mask(token_ids, mask & ~stop)
            new = tf.ragged.boolean_mask(token_ids, new_tokens & mask & ~stop)
            # Byte-level tokens may end inside a character: U+FFFD, as
            # Python's `generate` decodes them.
            outputs["text"] = text.clean(self.tokenizer.detokenize(words))
            outputs["completion"] = text.clean(self.tokenizer.detokenize(new))
        return outputs


class CausalLMModule(_GeneratorModule):
    """`generate` (greedy) and `sample` (temperature, top-k, top-p, seed):
    prompts + `max_new_tokens` -> `text` (prompt and completion, as
    `CausalLM.generate` returns), `completion`, `token_ids` and
    `padding_mask`. Both run `CausalLM.generate_tensors`: the same checks,
    lengths and compiled, KV-cached loop as Python's `generate`. `sample`
    draws as `generate(sampler="top_p", top_k=top_k, top_p=top_p,
    temperature=..., seed=...)` does in Python (`top_k` 0 keeps every
    token), the same tokens for the same seed.
    """

    def _run(self, token_ids, padding_mask, max_new_tokens, with_text,
             sampler="greedy", **options):
        output_ids, mask = self.task.generate_tensors(
            token_ids, padding_mask, max_new_tokens, self.stops, sampler,
            jit_compile=self.xla, **options)
        prompt = tf.range(tf.shape(output_ids)[1])[None, :] < tf.reduce_sum(
            padding_mask, axis=1)[:, None]
        return self._outputs(output_ids, mask, ~prompt, with_text)

    def _generate(self, prompts, max_new_tokens):
        return self._run(*self._prompts(prompts), max_new_tokens, True)

    def _sample(self, prompts, max_new_tokens, temperature, top_k, top_p,
                seed):
        return self._run(*self._prompts(prompts), max_new_tokens, True,
                         "top_p", temperature=temperature, top_k=top_k,
                         top_p=top_p, seed=seed)

    def _generate_ids(self, token_ids, padding_mask, max_new_tokens):
        return self._run(token_ids, padding_mask, max_new_tokens, False)

    def signatures(self):
        max_new = scalar_spec("max_new_tokens", tf.int32)
        signatures = {
            "generate_ids": tf.function(
                self._generate_ids, autograph=False,
                input_signature=[ids_spec("token_ids"), ids_spec("padding_mask"),
                                 max_new]),
        }
        if self.tokenizer is None:
            return signatures
        return {
            "generate": tf.function(
                self._generate, autograph=False,
                input_signature=[strings_spec("prompt"), max_new]),
            "sample": tf.function(
                self._sample, autograph=False,
                input_signature=[
                    strings_spec("prompt"), max_new,
                    scalar_spec("temperature", tf.float32),
                    scalar_spec("top_k", tf.int32),
                    scalar_spec("top_p", tf.float32),
                    scalar_spec("seed", tf.int32)]),
            **signatures,
        }


class Seq2SeqModule(_GeneratorModule):
    """`translate` (greedy) and `translate_beam` (`num_beams`, length penalty
    `length_penalty`): sources -> `text` (the translation), `token_ids` and
    `padding_mask` (start token first), through `Seq2SeqLM.generate_tensors`
    with its defaults: at most `min(longest source + 50,
    max_sequence_length - 1)` new tokens. An empty source or one longer
    than `max_sequence_length` is an error.
    """

    def __init__(self, task, tokenizer, num_beams, length_penalty, xla=True):
        super().__init__(task, tokenizer, xla)
        requests.check_beams(num_beams, self.stops.numpy(),
                             task.backbone.vocabulary_size)
        self.num_beams = num_beams
        self.length_penalty = length_penalty
        self.start_id = tokenizer.tokenizer.start_token_id

    def _run(self, source_ids, padding_mask, sampler, with_text):
        token_ids, mask = self.task.generate_tensors(
            source_ids, padding_mask, self.start_id, None, self.stops,
            sampler, num_beams=self.num_beams, jit_compile=self.xla,
            length_penalty=self.length_penalty)
        new = tf.range(tf.shape(token_ids)[1])[None, :] > 0  # not the start
        outputs = self._outputs(token_ids, mask, new, with_text)
        if with_text:
            outputs["text"] = outputs.pop("completion")  # the target alone
        return outputs

    def signatures(self):
        def texts(sampler):
            return tf.function(
                lambda source: self._run(*self._prompts(source), sampler, True),
                autograph=False, input_signature=[strings_spec("source")])

        def ids(sampler):
            return tf.function(
                lambda token_ids, padding_mask: self._run(
                    token_ids, padding_mask, sampler, False),
                autograph=False,
                input_signature=[ids_spec("token_ids"), ids_spec("padding_mask")])

        return {"translate": texts("greedy"), "translate_beam": texts("beam"),
                "translate_ids": ids("greedy"),
                "translate_beam_ids": ids("beam")}
