"""Pretrain an encoder-decoder Transformer by T5-style span corruption.

With no data flags it trains `transformer_small` on the embedded pydoc_data
corpus in about six minutes, with one SentencePiece vocabulary shared by the
encoder and decoder (as translation needs later). 15% of each chunk's
tokens, in spans of mean length 3, are replaced by sentinels; the decoder
learns to write the missing spans (Raffel et al. 2020).

    python recipes/transformer_pretrain.py --model_dir=runs/transformer

It writes to --model_dir: flags.txt, run.json, tokenizer/, checkpoints/,
logs/ (TensorBoard), metrics.json, curves.png, samples.txt and model.keras (a
`zoo.tasks.Seq2SeqLM` with its tokenizer).
"""

import os

import common
from absl import flags

from zoo import files
from zoo.data import language_modeling
from zoo.data import seq2seq
from zoo.models import Transformer
from zoo.tasks import Seq2SeqLM
from zoo.training import run

common.define_flags(
    backbone=Transformer,
    preset="transformer_small",
    tokenizer="sentence_piece",
    vocabulary_size=8000,
    sequence_length=64,  # encoder tokens per example (corrupted source)
    batch_size=16,
    steps=600,
    checkpoint_every=200,
    # Vaswani et al. 2017, eq. 3, with a short warmup for a short run:
    # peak = 0.3 * 256^-0.5 * 100^-0.5 = 1.9e-3 at step 100.
    schedule="inverse_sqrt",
    learning_rate=0.3,
    warmup_steps=100,
    # XLA made this model's step slower here (1.62 s against 1.15 s at
    # batch 32 x 128 source tokens), and each length bucket compiles anew.
    fixed_shapes=False,  # --xla=auto: off
    weight_decay=0.0,  # the paper uses none
    beta_2=0.98,  # the paper's Adam betas: 0.9, 0.98
)
flags.DEFINE_integer("samples", 3, "Validation examples to decode at the end.")
common.require("samples", "non-negative")
FLAGS = flags.FLAGS


def main(_):
    model_dir = common.start("transformer_pretrain")
    train_documents, validation_documents = common.corpus()
    tokenizer = common.tokenizer(model_dir, train_documents)
    if not hasattr(tokenizer, "sentinel_ids"):
        raise ValueError("transformer_pretrain needs --tokenizer=sentence_piece "
                         "(span corruption uses its sentinel tokens).")
    backbone = common.backbone(Transformer, tokenizer)
    length = common.sequence_length(backbone)
    common.check_model_dir(model_dir, "transformer_pretrain", backbone,
                           tokenizer, sequence_length=length)

    chunk = seq2seq.chunk_length(length)
    sentinels = tokenizer.sentinel_ids()

    def pairs(documents, training, skip_batches=0):
        chunks = seq2seq.text_chunks(
            language_modeling.encode_documents(tokenizer, documents), chunk
        )
        dataset = seq2seq.span_corruption_dataset(
            chunks, sentinels, tokenizer.end_token_id, training=training,
            seed=FLAGS.seed,
        )
        # A resumed run skips whole batches after bucketing, so that its
        # buckets hold what an uninterrupted run's hold.
        return len(chunks), seq2seq.seq2seq_batches(
            dataset, FLAGS.batch_size, tokenizer.start_token_id,
            tokenizer.pad_token_id, training=training,
        ).skip(skip_batches)

    skip = run.resumed_step(model_dir)
    train_count, train_data = pairs(train_documents, True, skip)
    validation_count, validation_data = pairs(validation_documents, False)
    validation_data = validation_data.cache()
    print(f"Chunks of {chunk} tokens: {train_count:,} train, "
          f"{validation_count:,} validation; vocabulary "
          f"{tokenizer.vocabulary_size():,}; {backbone.count_params():,} "
          "parameters.")

    task = Seq2SeqLM(backbone, tokenizer, label_smoothing=0.0)
    common.compile(task, backbone.hidden_dim)
    metrics = common.train(task, train_data, validation_data, model_dir,
                           tokens_per_step=FLAGS.batch_size * length)

    samples = decode_samples(task, validation_data)
    files.write_text(os.path.join(model_dir, "samples.txt"),
                     "\n\n".join(samples) + "\n")
    print("\n\n".join(samples))
    common.finish(model_dir, metrics, attention="The class defines a method.")


def decode_samples(task, validation_data):
    """Corrupted sources, their targets and the model's greedy guesses."""
    batch = next(iter(validation_data))
    count = min(FLAGS.samples, int(batch["encoder_token_ids"].shape[0]))
    sources = {"token_ids": batch["encoder_token_ids"][:count],
               "padding_mask": batch["encoder_padding_mask"][:count]}
    guesses = task.generate(sources, max_new_tokens=32)["token_ids"]
    detokenize = task.tokenizer.detokenize
    return [
        f"source: {detokenize(sources['token_ids'][i])}\n"
        f"target: {detokenize(batch['decoder_token_ids'][i])}\n"
        f"model:  {detokenize(guesses[i])}"
        for i in range(count)
    ]


if __name__ == "__main__":
    common.main(main)
