"""The compiled decoding loop that a language-model task owns.

A task hands its `Generator` one function,

    start(inputs, prefill, num_beams) -> (logits, cache, step, first_position)

which runs the prompt (a causal LM) or the encoder and the start token (a
sequence-to-sequence LM) and returns the logits of the first position to
generate, the key/value cache, and the one-token `step` of
`zoo.generation.sampling`. The generator runs the sampler's loop after it,
compiled the way the backend compiles (`zoo.backend.compile_function`):
one program per sampler, beam width and shape, and per call only tensors
change (the options, the prompts), so a second call of the same shapes
never recompiles.
"""

import keras

from zoo import backend
from zoo.generation.beam_search import beam_search
from zoo.generation.sampling import greedy
from zoo.generation.sampling import sample
from zoo.generation.sampling import sample_loop

SAMPLERS = ("greedy", "random", "top_k", "top_p", "beam")


def decoding_kind(sampler):
    """"greedy", "sample" or "beam": "random", "top_k" and "top_p" are
    one program, told apart by the options `top_k` and `top_p`."""
    if sampler not in SAMPLERS:
        raise ValueError(
            f"Unknown sampler {sampler!r}; expected one of {SAMPLERS}.")
    return "sample" if sampler in ("random", "top_k", "top_p") else sampler


class Generator:
    """Compiled, cached decoding for one task.

    Args:
        model: the task; its variables are the program's weights.
        start: see the module docstring.
        input_signature: `[inputs, options]` as `zoo.backend.Spec`s (batch
            and lengths open), for TensorFlow.
        jit_compile: bool. Compile with XLA (TensorFlow) or `jax.jit` (JAX).
    """

    def __init__(self, model, start, input_signature, jit_compile=True):
        self.model = model
        self.start = start
        self.input_signature = input_signature
        self.jit_compile = jit_compile
        # The state of this generator is set to (seed, position) at every
        # sampling step, in a StatelessScope: it is never updated.
        self.seed_generator = keras.random.SeedGenerator(0)
        self.functions = {}

    def function(self, kind, num_beams=None, jit_compile=None):
        """The compiled `decode(inputs, options, prefill)` of `kind`."""
        jit_compile = self.jit_compile if jit_compile is None else jit_compile
        key = (kind, num_beams, jit_compile)
        if key not in self.functions:
            def decode(inputs, options, prefill):
                return self.decode(inputs, options, prefill, kind, num_beams)

            signature = [*self.input_signature, backend.Spec([], "int32")]
            self.functions[key] = backend.compile_function(
                decode, self.model.variables, jit_compile, signature,
                static_argnums=(2,))  # prefill: a shape on JAX
        return self.functions[key]

    def __call__(self, inputs, options, prefill, sampler, num_beams=None,
                 jit_compile=None):
        """`(token_ids, padding_mask)`, both (B, L), decoded from `inputs`
        (what `zoo.generation.prepare` makes) with `sampler`."""
        kind = decoding_kind(sampler)
        function = self.function(kind, num_beams if kind == "beam" else None,
                                 jit_compile)
        return function(inputs, options, prefill)

    def decode(self, inputs, options, prefill, kind, num_beams):
        """The whole decoding: the task's start (which runs the first
        `prefill` positions), then the sampler's loop."""
        logits, cache, step, first = self.start(inputs, prefill, num_beams)
        args = (step, logits, cache, inputs["token_ids"],
                inputs["prompt_mask"], inputs["row_end"], first,
                inputs["stop_token_ids"])
        if kind == "beam":
            ids, mask, _ = beam_search(*args, num_beams,
                                       options["length_penalty"])
            return ids, mask

        def choose(logits, index):
            if kind == "greedy":
                return greedy(logits)
            return sample(logits, index, options, self.seed_generator)

        return sample_loop(*args, choose)

    def tracing_count(self):
        """Traces of every compiled program so far (TensorFlow, JAX)."""
        return sum(f.tracing_count() for f in self.functions.values())

