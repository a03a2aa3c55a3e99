"""Serving modules that generate: causal LM and seq2seq LM.

They run the task's own compiled generation function (the KV-cached loop,
with XLA) on inputs prepared in the graph exactly as `generate` prepares
them in Python: the same padded lengths, prefill and options, so that the
served ids equal the in-process ones. Shapes: B batch, L output length.
"""

import functools

import tensorflow as tf

from zoo.export import text
from zoo.export.serving import ServingModule
from zoo.export.serving import graph_assert
from zoo.export.serving import ids_spec
from zoo.export.serving import scalar_spec
from zoo.export.serving import strings_spec
from zoo.tasks import generation


def _options(top_k, seed=0, temperature=1.0, top_p=1.0, length_penalty=0.0):
    """`zoo.tasks.generation.options`, as tensors of the serving graph."""
    return {
        "seed": tf.cast(seed, "int32"),
        "temperature": tf.cast(temperature, "float32"),
        "top_k": tf.cast(top_k, "int32"),
        "top_p": tf.cast(top_p, "float32"),
        "length_penalty": tf.cast(length_penalty, "float32"),
    }


class _GeneratorModule(ServingModule):
    """What the causal and seq2seq modules share: prompts as ragged ids,
    the checks `generate` makes in Python, and the outputs."""

    def __init__(self, task, tokenizer, xla=True):
        super().__init__(task, tokenizer)
        self.xla = xla
        keras_tokenizer = tokenizer.tokenizer if tokenizer else None
        self.stops = tf.constant(generation.stop_ids(
            "auto", keras_tokenizer, task.backbone.vocabulary_size))

    def _function(self, **static):
        """The task's compiled generation function for `static`; without
        `xla`, the same graph as a plain `tf.function` (for servers built
        without XLA; its ids may differ from XLA's in near ties)."""
        if self.xla:
            return self.task.compiled_generate(self.task._generate_graph,
                                               **static)
        return tf.function(
            functools.partial(self.task._generate_graph, **static),
            input_signature=self.task.generate_signature())

    def _greedy(self, length_penalty=0.0):
        """The options of greedy and beam decoding (as in Python)."""
        return _options(self.task.backbone.vocabulary_size,
                        length_penalty=length_penalty)

    def _checked(self, ids, lengths, what, empty):
        checks = [
            graph_assert(tf.size(lengths) > 0,
                         f"The batch has no {what}s: give at least one."),
            graph_assert(tf.reduce_all(lengths > 0),
                         f"A {what} is empty ({empty}). Every {what} needs "
                         "at least one token."),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(ids), tf.identity(lengths)

    def _prompts(self, texts, what):
        ids = self.tokenizer.tokenize(text.clean(texts))
        lengths = tf.cast(ids.row_lengths(), "int32")
        return self._checked(ids, lengths, what, "no tokens")

    def _ids_prompts(self, token_ids, padding_mask, what):
        token_ids, lengths = self._check_ids(token_ids, padding_mask)
        ids = tf.RaggedTensor.from_tensor(token_ids, lengths=lengths)
        return self._checked(ids, lengths, what, "its padding_mask is all 0")

    def _outputs(self, token_ids, mask, new_tokens, with_text):
        """`token_ids`, `padding_mask` (B, L) and, with text, the strings of
        the kept tokens (stop tokens left out, as in Python)."""
        outputs = {"token_ids": token_ids,
                   "padding_mask": tf.cast(mask, "int32")}
        if with_text:
            stop = generation.is_stop(token_ids, self.stops)
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
    `padding_mask`. Generation runs `CausalLM`'s own compiled function: the
    KV-cached loop, with XLA. A prompt that is empty or leaves no room in
    `max_sequence_length`, or a `max_new_tokens` that does not fit, is an
    error, as in Python. `sample` draws as `generate(sampler="top_p",
    top_k=top_k, top_p=top_p, temperature=..., seed=...)` does in Python
    (`top_k` 0 keeps every token), the same tokens for the same seed.
    """

    def _run(self, ids, lengths, max_new_tokens, sampler, options):
        task = self.task
        limit = task.backbone.max_sequence_length
        longest = tf.reduce_max(lengths)
        room = limit - longest
        checks = [
            graph_assert(room >= 1, f"The longest prompt fills the model: "
                    f"max_sequence_length {limit}: no room to generate. "
                    "Shorten the prompt."),
            graph_assert((max_new_tokens >= 1) & (max_new_tokens <= room),
                    f"`max_new_tokens` does not fit: it must be between 1 and "
                    f"{limit} minus the length of the longest prompt."),
        ]
        with tf.control_dependencies(checks):
            total = text.bucket(longest + max_new_tokens, limit)
        token_ids = ids.to_tensor(0, shape=tf.stack([tf.size(lengths), total]))
        prompt_mask = tf.range(total)[None, :] < lengths[:, None]
        function = self._function(sampler=sampler, num_beams=None)
        return function(
            token_ids, prompt_mask, lengths + max_new_tokens, self.stops,
            options, text.largest_power_of_two(tf.reduce_min(lengths)),
        ), prompt_mask

    def _generate(self, prompts, max_new_tokens):
        ids, lengths = self._prompts(prompts, "prompt")
        (token_ids, mask), prompt_mask = self._run(
            ids, lengths, max_new_tokens, "greedy", self._greedy())
        return self._outputs(token_ids, mask, ~prompt_mask, True)

    def _sample(self, prompts, max_new_tokens, temperature, top_k, top_p,
                seed):
        ids, lengths = self._prompts(prompts, "prompt")
        vocabulary_size = self.task.backbone.vocabulary_size
        checks = [
            graph_assert(temperature > 0, "`temperature` must be > 0."),
            graph_assert((top_p > 0) & (top_p <= 1), "`top_p` must be in (0, 1]."),
        ]
        with tf.control_dependencies(checks):
            # top_k <= 0 keeps every token: pure top-p (or plain) sampling.
            top_k = tf.where((top_k <= 0) | (top_k > vocabulary_size),
                             vocabulary_size, top_k)
        (token_ids, mask), prompt_mask = self._run(
            ids, lengths, max_new_tokens, "top_p",
            _options(top_k, seed, temperature, top_p))
        return self._outputs(token_ids, mask, ~prompt_mask, True)

    def _generate_ids(self, token_ids, padding_mask, max_new_tokens):
        ids, lengths = self._ids_prompts(token_ids, padding_mask, "prompt")
        (token_ids, mask), prompt_mask = self._run(
            ids, lengths, max_new_tokens, "greedy", self._greedy())
        return self._outputs(token_ids, mask, ~prompt_mask, False)

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
    `padding_mask` (start token first). At most `min(longest source + 50,
    max_sequence_length - 1)` new tokens, `Seq2SeqLM.generate`'s default.
    An empty source or one longer than `max_sequence_length` is an error.
    """

    def __init__(self, task, tokenizer, num_beams, length_penalty, xla=True):
        super().__init__(task, tokenizer, xla)
        generation.check_beams(num_beams, self.stops.numpy(),
                               task.backbone.vocabulary_size)
        self.num_beams = num_beams
        self.length_penalty = length_penalty
        self.start_id = tokenizer.tokenizer.start_token_id

    def _run(self, ids, lengths, sampler):
        task = self.task
        limit = task.backbone.max_sequence_length
        longest = tf.reduce_max(lengths)
        check = graph_assert(
            longest <= limit,
            f"A source is longer than the max_sequence_length {limit} of the "
            "model."
            " Shorten it.")
        with tf.control_dependencies([check]):
            width = text.bucket(longest, limit)
        source_ids = ids.to_tensor(0, shape=tf.stack([tf.size(lengths), width]))
        source_mask = tf.range(width)[None, :] < lengths[:, None]
        max_new_tokens = tf.minimum(longest + 50, limit - 1)
        total = text.bucket(1 + max_new_tokens, limit)
        batch_size = tf.shape(lengths)[0]
        first = tf.range(total)[None, :] == 0
        target_ids = tf.where(first, self.start_id,
                              tf.zeros([batch_size, total], "int32"))
        prompt_mask = tf.broadcast_to(first, [batch_size, total])
        beams = self.num_beams if sampler == "beam" else None
        function = self._function(sampler=sampler, num_beams=beams)
        token_ids, mask = function(
            source_ids, source_mask, target_ids, prompt_mask,
            tf.fill([batch_size], 1 + max_new_tokens), self.stops,
            self._greedy(length_penalty=self.length_penalty))
        return token_ids, mask, ~prompt_mask

    def _translate(self, sources, sampler):
        ids, lengths = self._prompts(sources, "source")
        token_ids, mask, new = self._run(ids, lengths, sampler)
        outputs = self._outputs(token_ids, mask, new, True)
        outputs["text"] = outputs.pop("completion")  # the target alone
        return outputs

    def _translate_ids(self, token_ids, padding_mask, sampler):
        ids, lengths = self._ids_prompts(token_ids, padding_mask, "source")
        return self._outputs(*self._run(ids, lengths, sampler), False)

    def signatures(self):
        def texts(sampler):
            return tf.function(lambda source: self._translate(source, sampler),
                               autograph=False,
                               input_signature=[strings_spec("source")])

        def ids(sampler):
            return tf.function(
                lambda token_ids, padding_mask: self._translate_ids(
                    token_ids, padding_mask, sampler),
                autograph=False,
                input_signature=[ids_spec("token_ids"), ids_spec("padding_mask")])

        return {"translate": texts("greedy"), "translate_beam": texts("beam"),
                "translate_ids": ids("greedy"),
                "translate_beam_ids": ids("beam")}
