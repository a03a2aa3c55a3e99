"""Generation throughput: zoo `CausalLM.generate` against keras-hub
`GPT2CausalLM.generate`, same sizes, same process, greedy, no stop token.

    python -m benchmarks.generate            # all four cases
    python -m benchmarks.generate --quick    # small case only, few repeats

Cases (issue 3): `gpt_nano` 200 new tokens after a 16-token prompt, batch 1
and 8 (its 64-token context is widened to 256 so 216 tokens fit, for both
libraries); `gpt2_small` 50 new tokens after 16, batch 1 and 8. Weights are
random: speed does not depend on them. keras-hub is timed with its default
compilation and with `jit_compile=True`; the ratio is against its best.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402

from zoo.models import GPTDecoder  # noqa: E402
from zoo.tasks import CausalLM  # noqa: E402

PROMPT_LENGTH = 16
CASES = [  # (preset, batch size, new tokens, overrides)
    ("gpt_nano", 1, 200, {"max_sequence_length": 256}),
    ("gpt_nano", 8, 200, {"max_sequence_length": 256}),
    ("gpt2_small", 1, 50, {}),
    ("gpt2_small", 8, 50, {}),
]


def _time(function, repeats):
    function()  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _keras_hub_lm(config, jit_compile):
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=config["vocabulary_size"],
        num_layers=config["num_layers"],
        num_heads=config["num_heads"],
        hidden_dim=config["hidden_dim"],
        intermediate_dim=config["intermediate_dim"],
        dropout=0.0,
        max_sequence_length=config["max_sequence_length"],
    )
    lm = keras_hub.models.GPT2CausalLM(backbone=backbone, preprocessor=None)
    lm.compile(sampler="greedy", jit_compile=jit_compile)
    return lm


def run_case(preset, batch_size, new_tokens, overrides, repeats):
    config = GPTDecoder.preset_config(preset, dropout=0.0, **overrides)
    rng = np.random.default_rng(0)
    prompts = rng.integers(1, config["vocabulary_size"],
                           (batch_size, PROMPT_LENGTH)).astype("int32")
    tokens = batch_size * new_tokens
    results = {}

    zoo_lm = CausalLM(GPTDecoder(**config))
    results["zoo"] = tokens / _time(
        lambda: zoo_lm.generate(prompts, max_new_tokens=new_tokens,
                                stop_token_ids=None), repeats)
    del zoo_lm

    total = PROMPT_LENGTH + new_tokens
    padded = np.zeros((batch_size, total), "int32")
    padded[:, :PROMPT_LENGTH] = prompts
    mask = np.zeros((batch_size, total), bool)
    mask[:, :PROMPT_LENGTH] = True
    inputs = {"token_ids": padded, "padding_mask": mask}
    for jit_compile in ("auto", True):
        hub_lm = _keras_hub_lm(config, jit_compile)
        results[f"keras-hub jit={jit_compile}"] = tokens / _time(
            lambda: hub_lm.generate(inputs, stop_token_ids=None), repeats)
        del hub_lm
    keras.backend.clear_session()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="only gpt_nano at batch 1, 2 repeats")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cases", default="0,1,2,3",
                        help="comma-separated indices into CASES")
    args = parser.parse_args()
    cases = [CASES[int(i)] for i in args.cases.split(",")]
    cases = cases[:1] if args.quick else cases
    repeats = 2 if args.quick else args.repeats

    print("| model | batch | new tokens | zoo tok/s | keras-hub tok/s "
          "(default / XLA) | zoo / best keras-hub |")
    print("|---|---|---|---|---|---|")
    for preset, batch_size, new_tokens, overrides in cases:
        r = run_case(preset, batch_size, new_tokens, overrides, repeats)
        hub = [r["keras-hub jit=auto"], r["keras-hub jit=True"]]
        print(f"| {preset} | {batch_size} | {new_tokens} | {r['zoo']:,.0f} | "
              f"{hub[0]:,.0f} / {hub[1]:,.0f} | {r['zoo'] / max(hub):.2f}x |",
              flush=True)


if __name__ == "__main__":
    main()
