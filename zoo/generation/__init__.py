"""Autoregressive decoding over the blocks' fixed-size key/value cache.

- `prepare`: a padded batch of prompts and the options, prepared for the
  loop in `keras.ops` (shared by `generate` and the SavedModel);
- `sampling`: greedy and sampled decoding; `beam_search`: beam search;
- `generator`: the `Generator` a language-model task owns, compiled the
  way the backend compiles;
- `requests`: what a Python caller of `generate` passes, checked and
  packed.
"""

from zoo.generation.generator import SAMPLERS
from zoo.generation.generator import Generator

__all__ = ["Generator", "SAMPLERS"]
