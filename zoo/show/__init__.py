"""Looking inside the zoo's Transformers: `python -m zoo.show`.

- `shapes`: one input's path through a preset's model, step by step in the
  notation of Vaswani et al. 2017, with the shapes observed running it
  (`zoo.show.shapes`, recorded by `zoo.blocks.trace`).
- `example`: one attention head worked through a four-word sentence,
  every number printed (`zoo.show.example`).
- `attention`: heat maps of what every head of a trained model's layer
  attends to in a text (`zoo.show.heat_maps`); in Python,
  `zoo.show.attention(task, text)` returns the arrays.
"""

from zoo.show.heat_maps import AttentionMap
from zoo.show.heat_maps import attention
from zoo.show.heat_maps import draw
from zoo.show.heat_maps import load

__all__ = ["AttentionMap", "attention", "draw", "load"]
