"""Look inside the zoo's Transformers.

    python -m zoo.show shapes --preset=transformer_base
    python -m zoo.show example [--causal]
    python -m zoo.show attention --model_dir=DIR --text="..." [--layer=N] \
        [--output=FILE.png]
    python -m zoo.show generate --model_dir=DIR --text="..." \
        [--sampler=top_k] [--max_new_tokens=N]

`shapes` prints one input's path through a preset's model, step by step in
the paper's notation, with the shapes observed running it; `example`
works one attention head through a four-word sentence, every number
printed; `attention` draws the attention of every head of one layer of a
trained model dir (a recipe's --model_dir) on a text, as heat maps;
`generate` continues a text with a GPT model dir, or translates it with
an encoder-decoder one.
"""

import os
import sys

from absl import app
from absl import flags

flags.DEFINE_string("preset", None,
                    "shapes: the architecture (python -m zoo.models lists "
                    "them).")
flags.DEFINE_integer("length", 6, "shapes: T, the tokens of the input.")
flags.DEFINE_integer("source_length", 7,
                     "shapes: S, the source tokens of an encoder-decoder "
                     "preset.")
flags.DEFINE_bool("causal", False,
                  "example: also apply a decoder's causal mask.")
flags.DEFINE_string("model_dir", None,
                    "attention: a finished recipe run (its model.keras), "
                    "or a .keras file.")
flags.DEFINE_string("text", None, "attention: the text the model reads.")
flags.DEFINE_integer("layer", -1,
                     "attention: the layer, counted from 0; -1 is the last.")
flags.DEFINE_integer("max_new_tokens", 32,
                     "attention, generate: the most new tokens (the "
                     "translation of encoder-decoder models).")
flags.DEFINE_enum("sampler", None, ["greedy", "beam", "random", "top_k",
                                    "top_p"],
                  "generate: how tokens are chosen; default top_k for GPT, "
                  "greedy for a translator.")
flags.DEFINE_integer("top_k", 40, "generate: top_k's k.")
flags.DEFINE_float("top_p", 0.9, "generate: top_p's p.")
flags.DEFINE_float("temperature", 0.8, "generate: the sampling temperature.")
flags.DEFINE_integer("seed", 1337, "generate: the sampling seed.")
flags.DEFINE_string("output", None,
                    "attention: the PNG to write; default "
                    "attention_<model dir name>_layer<N>.png here.")
FLAGS = flags.FLAGS


def shapes():
    from zoo.show import shapes as trace_shapes

    if FLAGS.preset is None:
        raise ValueError("shapes needs --preset (python -m zoo.models lists "
                         "them).")
    for name in ("length", "source_length"):
        if FLAGS[name].value < 1:
            raise ValueError(f"--{name} must be at least 1.")
    print(trace_shapes.describe_preset(FLAGS.preset, FLAGS.length,
                                       FLAGS.source_length))


def example():
    from zoo.show import example as worked_example

    print(worked_example.describe(causal=FLAGS.causal))


def attention():
    from zoo.show import heat_maps as maps

    for name in ("model_dir", "text"):
        if FLAGS[name].value is None:
            raise ValueError(f"attention needs --{name}.")
    task = maps.load(FLAGS.model_dir)
    found = maps.attention(task, FLAGS.text, FLAGS.layer,
                           FLAGS.max_new_tokens)
    backbone = task.backbone
    model = os.path.basename(os.path.normpath(FLAGS.model_dir))
    index = FLAGS.layer % backbone.num_layers
    output = FLAGS.output or f"attention_{model}_layer{index}.png"
    title = (f"{model}: {type(task).__name__} on {type(backbone).__name__}, "
             f"{maps.layer_name(backbone, FLAGS.layer)}; "
             "rows: queries, columns: keys")
    for found_map in found.values():
        print(f"{found_map.title}:\n  queries: {' '.join(found_map.queries)}"
              f"\n  keys:    {' '.join(found_map.keys)}")
    maps.draw(found, output, title)
    print(f"Wrote {output}")


def generate():
    from zoo.show import heat_maps as maps
    from zoo.tasks import CausalLM
    from zoo.tasks import Seq2SeqLM

    for name in ("model_dir", "text"):
        if FLAGS[name].value is None:
            raise ValueError(f"generate needs --{name}.")
    task = maps.load(FLAGS.model_dir)
    if not isinstance(task, (CausalLM, Seq2SeqLM)):
        raise ValueError(
            f"{FLAGS.model_dir} holds a {type(task).__name__}, which does "
            "not generate; `generate` takes a model dir of gpt_pretrain, "
            "gpt_finetune, transformer_pretrain or transformer_finetune.")
    sampler = FLAGS.sampler or ("top_k" if isinstance(task, CausalLM)
                                else "greedy")
    options = {"top_k": {"top_k": FLAGS.top_k},
               "top_p": {"top_p": FLAGS.top_p}}.get(sampler, {})
    if sampler in ("random", "top_k", "top_p"):
        options.update(temperature=FLAGS.temperature, seed=FLAGS.seed)
    (output,) = task.generate([FLAGS.text],
                              max_new_tokens=FLAGS.max_new_tokens,
                              sampler=sampler, **options)
    print(output)


COMMANDS = {"shapes": shapes, "example": example, "attention": attention,
            "generate": generate}


def main(argv):
    try:
        if len(argv) != 2 or argv[1] not in COMMANDS:
            raise ValueError(
                f"give one command, {', '.join(COMMANDS)}; got "
                f"{' '.join(argv[1:]) or 'none'}.")
        COMMANDS[argv[1]]()
    except (ValueError, OSError) as error:
        print(f"zoo.show: error: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    app.run(main)
