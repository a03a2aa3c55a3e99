"""Next-token language modelling with a GPT-style decoder, and generation."""

import keras
from keras import ops

from zoo.backend import Spec
from zoo.generation import Generator
from zoo.generation import prepare
from zoo.generation import requests
from zoo.tasks.losses import SparseCrossEntropy
from zoo.tasks.losses import language_model_metrics
from zoo.tasks.task import Task
from zoo.tasks.task import shift_left

SIGNATURE = [  # of the compiled decoding: inputs, options
    {"token_ids": Spec([None, None], "int32"),  # (B, L)
     "prompt_mask": Spec([None, None], "bool"),  # (B, L)
     "row_end": Spec([None], "int32"),  # (B,)
     "stop_token_ids": Spec([None], "int32")},  # (n,)
    prepare.OPTIONS_SIGNATURE,
]


@keras.saving.register_keras_serializable(package="zoo")
class CausalLM(Task):
    """Predict each next token; generate with a compiled, cached loop.

    The output projection is the token embedding, transposed (tied, Press &
    Wolf 2017), so the task adds no weights of its own.

    Args:
        backbone: a `GPTDecoder`.
        tokenizer: optional keras-hub tokenizer; lets `generate` take and
            return strings.
        jit_compile_generate: bool. Compile generation (XLA on TensorFlow,
            `jax.jit` on JAX; PyTorch runs it eagerly either way). On the
            CPU XLA ran the decoding loop 1.5-3x faster than a plain
            `tf.function`.

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

    def __init__(self, backbone, tokenizer=None, jit_compile_generate=True,
                 **kwargs):
        super().__init__(backbone, tokenizer, **kwargs)
        self.jit_compile_generate = jit_compile_generate
        self.generator = Generator(self, self.start_decoding, SIGNATURE,
                                   jit_compile_generate)

    def call(self, inputs, training=None):
        hidden = self.backbone(inputs, training=training)  # (B, T, D)
        return self.backbone.token_embedding(hidden, reverse=True)  # (B, T, V)

    def label_classes(self):
        return self.backbone.vocabulary_size

    def targets(self, x, y, sample_weight):
        if y is None:  # next-token labels from the inputs themselves
            return shift_left(x, "token_ids", "padding_mask")
        return y, sample_weight

    def default_loss(self):
        return SparseCrossEntropy()

    def default_metrics(self):
        return language_model_metrics()

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
            temperature: finite float > 0; divides the logits when
                sampling.
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
            32 so that similar calls share one compiled program; or strings
            (prompt + completion).
        """
        vocabulary_size = self.backbone.vocabulary_size
        token_ids, padding_mask, stops = requests.parse(
            prompts, self.tokenizer, vocabulary_size, "CausalLM", sampler,
            max_new_tokens=max_new_tokens, top_k=top_k, top_p=top_p,
            num_beams=num_beams, stop_token_ids=stop_token_ids)
        token_ids, mask = self.generate_tensors(
            token_ids, padding_mask, max_new_tokens, stops, sampler,
            num_beams=num_beams,
            **requests.options(sampler, temperature, top_k, top_p, seed,
                               length_penalty))
        return requests.unpack(token_ids, mask, prompts, self.tokenizer,
                               stops)

    def generate_tensors(self, token_ids, padding_mask, max_new_tokens=None,
                         stop_token_ids=(), sampler="greedy", num_beams=4,
                         jit_compile=None, **options):
        """`generate` on tensors, on any backend or inside a TensorFlow
        graph (the SavedModel's signatures call it).

        Args:
            token_ids: (B, P) right-padded prompts.
            padding_mask: (B, P), 1 on prompt tokens.
            max_new_tokens: int or scalar tensor; None: all the room left.
            stop_token_ids: (n,) ids that end a row.
            sampler, num_beams: as in `generate` (Python values).
            jit_compile: None for `jit_compile_generate`.
            **options: `temperature`, `top_k` (0: every token), `top_p`,
                `seed`, `length_penalty`, as tensors or numbers.

        Returns:
            `(token_ids, padding_mask)`, both (B, L).
        """
        checked = self.backbone.check_inputs(
            {"token_ids": token_ids, "padding_mask": padding_mask})
        inputs = prepare.causal_lm(
            checked["token_ids"], checked["padding_mask"], max_new_tokens,
            self.backbone.max_sequence_length)
        prefill = inputs.pop("prefill")
        inputs["stop_token_ids"] = ops.cast(stop_token_ids, "int32")
        options = prepare.sampling_options(self.backbone.vocabulary_size,
                                           **options)
        return self.generator(inputs, options, prefill, sampler, num_beams,
                              jit_compile)

    def start_decoding(self, inputs, prefill, num_beams=None):
        """Run the first `prefill` positions, which hold prompt tokens in
        every row, in one pass.

        Returns:
            `(logits, cache, step, prefill)`: the logits (B, V) of position
            `prefill`, the key/value cache, and the one-token step.
        """
        backbone = self.backbone
        token_ids = inputs["token_ids"]  # (B, L)
        batch_size, total = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
        cache = backbone.initial_cache(batch_size, total)
        hidden, cache = backbone.call_with_cache(token_ids[:, :prefill], cache, 0)
        logits = backbone.token_embedding(hidden[:, -1], reverse=True)  # (B, V)

        def step(token, cache, index):
            hidden, cache = backbone.call_with_cache(token[:, None], cache, index)
            return backbone.token_embedding(hidden[:, 0], reverse=True), cache

        return logits, cache, step, prefill

    def get_config(self):
        config = super().get_config()
        config["jit_compile_generate"] = self.jit_compile_generate
        return config
