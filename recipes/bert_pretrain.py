"""Pretrain a BERT-style encoder with masked LM (and optionally NSP).

With no data flags it trains `bert_tiny` on the embedded pydoc_data corpus
in about five minutes. Masking is dynamic: 15% of tokens, 80% [MASK] / 10%
random / 10% unchanged (--masking_rate, --whole_word_masking).

    python recipes/bert_pretrain.py --model_dir=runs/bert

It writes to --model_dir: flags.txt, run.json, tokenizer/, checkpoints/,
logs/ (TensorBoard), metrics.json, curves.png and model.keras (a `zoo.tasks.MaskedLM`
with its tokenizer), whose backbone the fine-tuning recipe loads.
"""

import os

import common
from absl import flags

from zoo.data import masking
from zoo.data import tokenizers
from zoo.models import BertEncoder
from zoo.tasks import MaskedLM
from zoo.training import run

common.define_flags(
    backbone=BertEncoder,
    preset="bert_tiny",
    tokenizer="wordpiece",
    vocabulary_size=8000,
    sequence_length=128,  # BERT's first phase (Devlin et al. 2018, A.2)
    batch_size=32,
    steps=1000,
    learning_rate=1e-3,  # small models take larger steps (Turc et al. 2019)
    schedule="linear",  # BERT: warmup, then linear decay to 0
    warmup_steps=100,
    weight_decay=0.01,  # BERT's
)
flags.DEFINE_float("masking_rate", 0.15, "Share of tokens to predict.")
flags.DEFINE_bool("whole_word_masking", False,
                  "Mask all the pieces of a word together.")
flags.DEFINE_bool("next_sentence_prediction", False,
                  "Add BERT's next-sentence-prediction objective.")
flags.DEFINE_string("vocabulary_file", None,
                    "A WordPiece vocab.txt to use instead of training one.")
common.require("masking_rate", "share")
flags.register_multi_flags_validator(
    ["tokenizer", "vocabulary_file"],
    lambda values: values["tokenizer"] == "wordpiece"
    or values["vocabulary_file"] is not None,
    message="bert_pretrain needs a WordPiece tokenizer (--tokenizer=wordpiece "
    "or --vocabulary_file).")
FLAGS = flags.FLAGS


def main(_):
    model_dir = common.start("bert_pretrain")
    train_documents, validation_documents = common.corpus()
    if FLAGS.vocabulary_file:
        tokenizer = tokenizers.load_wordpiece(FLAGS.vocabulary_file,
                                              FLAGS.lowercase)
        common.save_tokenizer(tokenizer, model_dir)
    else:
        tokenizer = common.tokenizer(model_dir, train_documents)
    backbone = common.backbone(BertEncoder, tokenizer)
    length = common.sequence_length(backbone)
    nsp = FLAGS.next_sentence_prediction
    common.check_model_dir(model_dir, "bert_pretrain", backbone, tokenizer,
                           sequence_length=length, next_sentence_prediction=nsp)

    def dataset(documents, training):
        examples = masking.sentence_pairs(
            masking.encode_lines(tokenizer, documents), length, nsp,
            seed=FLAGS.seed,
        )
        return len(examples), masking.masked_lm_dataset(
            examples, tokenizer, length, FLAGS.batch_size,
            masking_rate=FLAGS.masking_rate,
            whole_word=FLAGS.whole_word_masking,
            next_sentence_prediction=nsp, training=training, seed=FLAGS.seed,
            skip_batches=run.resumed_step(model_dir) if training else 0,
        )

    train_count, train_data = dataset(train_documents, training=True)
    validation_count, validation_data = dataset(validation_documents, False)
    print(f"Examples: {train_count:,} train, {validation_count:,} validation; "
          f"vocabulary {tokenizer.vocabulary_size():,}; "
          f"{backbone.count_params():,} parameters.")

    task = MaskedLM(backbone, next_sentence_prediction=nsp, tokenizer=tokenizer)
    common.compile(task, backbone.hidden_dim)
    metrics = common.train(task, train_data, validation_data, model_dir,
                           tokens_per_step=FLAGS.batch_size * length)
    common.finish(model_dir, metrics, attention="The class defines a method.")


if __name__ == "__main__":
    common.main(main)
