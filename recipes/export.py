"""Export a trained model dir as a TensorFlow SavedModel that serves text.

    python recipes/export.py --model_dir=runs/sst2 --export_dir=exports/sst2

--model_dir is any zoo recipe's finished run (its model.keras and
run.json). --init_from instead is a local Hugging Face model directory
(BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification,
GPT2LMHeadModel, ...) or an original BERT or GPT-2 release, exported as it
is, its labels from its config.json:

    python recipes/export.py --init_from=/models/gpt2 --export_dir=exports/gpt2

The SavedModel in --export_dir holds the weights, the tokenizer
(inside the graph; its files in assets/) and these signatures:

| model dir of              | text signatures            | id signatures        |
|---------------------------|----------------------------|----------------------|
| bert_finetune --task=classify | classify (serving_default) | classify_ids     |
| bert_finetune --task=tag  | tag                        | tag_ids              |
| bert_pretrain             | fill_mask                  | fill_mask_ids        |
| gpt_pretrain, gpt_finetune | generate, sample          | generate_ids         |
| transformer_pretrain, transformer_finetune | translate, translate_beam | translate_ids, translate_beam_ids |

Load it from any TensorFlow program, without the zoo:

    import tensorflow as tf, tensorflow_text  # registers the tokenizer ops
    served = tf.saved_model.load("exports/sst2")
    served.signatures["classify"](text=tf.constant(["a fine film"]))

and inspect it with `saved_model_cli show --dir exports/sst2 --all`.
"""

import json
import time

import common
from absl import flags

flags.DEFINE_string("model_dir", None, "A finished zoo recipe run.")
flags.DEFINE_string("init_from", None,
                    "Instead of --model_dir: a Hugging Face model directory "
                    "(config.json, model.safetensors, tokenizer files) or an "
                    "original BERT or GPT-2 release.")
flags.DEFINE_string("export_dir", None, "Where to write the SavedModel.")
flags.DEFINE_bool("overwrite", False, "Replace an existing --export_dir.")
flags.DEFINE_integer("sequence_length", None,
                     "BERT family: longest packed input; default the length "
                     "the run was trained at (run.json).")
flags.DEFINE_integer("num_beams", 4,
                     "translate_beam: beams (Vaswani et al. 2017: 4).")
flags.DEFINE_float("length_penalty", 0.6,
                   "translate_beam: length penalty alpha (Vaswani et al.: "
                   "0.6).")
flags.DEFINE_integer("top_k", 5, "fill_mask: fillers returned per mask.")
flags.DEFINE_bool("xla", True,
                  "Generation and translation XLA-compiled, as in Python; "
                  "--noxla for a server without XLA.")
flags.mark_flags_as_required(["export_dir"])
common.require("sequence_length", "at least 2")
common.require("num_beams", "positive")
common.require("length_penalty", "finite")
common.require("top_k", "positive")
flags.mark_flags_as_mutual_exclusive(["model_dir", "init_from"], required=True)
FLAGS = flags.FLAGS


def main(_):
    from zoo import export

    options = {"num_beams": FLAGS.num_beams,
               "length_penalty": FLAGS.length_penalty, "top_k": FLAGS.top_k,
               "xla": FLAGS.xla}
    if FLAGS.sequence_length:
        options["sequence_length"] = FLAGS.sequence_length
    start = time.perf_counter()
    if FLAGS.init_from:
        names = export.export_pretrained(FLAGS.init_from, FLAGS.export_dir,
                                         overwrite=FLAGS.overwrite, **options)
    else:
        names = export.export_model_dir(FLAGS.model_dir, FLAGS.export_dir,
                                        overwrite=FLAGS.overwrite, **options)
    print(json.dumps({"export_dir": FLAGS.export_dir, "signatures": names,
                      "seconds": round(time.perf_counter() - start, 1)},
                     indent=2))


if __name__ == "__main__":
    common.main(main)
