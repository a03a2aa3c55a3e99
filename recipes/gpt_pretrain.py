"""Pretrain a GPT-style causal language model.

With no data flags it trains `gpt_nano` on the embedded pydoc_data corpus
(byte-level BPE) in about a minute; with --train_files it trains on
your text. nanoGPT's Tiny Shakespeare run (docs/results.md):

    python recipes/gpt_pretrain.py --model_dir=runs/shakespeare \\
        --train_files=input.txt --tokenizer=character --steps=2000 \\
        --dropout=0.0

It writes to --model_dir: flags.txt, run.json, tokenizer/, checkpoints/,
logs/ (TensorBoard), metrics.json, curves.png, samples.txt and model.keras (a
`zoo.tasks.CausalLM` with its tokenizer).
"""

import os

import common
from absl import flags

from zoo import files
from zoo.data import language_modeling
from zoo.models import GPTDecoder
from zoo.tasks import CausalLM
from zoo.training import run

common.define_flags(
    backbone=GPTDecoder,
    preset="gpt_nano",
    tokenizer="byte_pair",
    vocabulary_size=4096,
    # The 0.1 M-token embedded corpus overfits without dropout (validation
    # loss 4.90 after 2,000 steps at 0.0, 4.58 after 1,000 at 0.1).
    dropout=0.1,
    steps=1000,
    checkpoint_every=250,
    # nanoGPT's Tiny Shakespeare recipe (config/train_shakespeare_char.py):
    batch_size=12,
    learning_rate=1e-3,
    final_learning_rate=1e-4,
    warmup_steps=100,
    # nanoGPT decays by a cosine over all 2,000 steps; holding the peak and
    # decaying linearly over the last 20% (warmup-stable-decay) reached a
    # lower validation loss here (CHANGELOG.md, 2026-11-21).
    schedule="linear",
    decay_fraction=0.2,
    weight_decay=0.1,
    beta_2=0.99,  # small batches: a shorter second-moment memory
)
flags.DEFINE_integer("samples", 3, "Samples to generate at the end.")
flags.DEFINE_float("temperature", 0.8, "Sampling temperature.")
flags.DEFINE_integer("top_k", 40, "Sample from the k likeliest tokens.")
common.require("samples", "non-negative")
common.require("temperature", "positive")
common.require("top_k", "positive")
FLAGS = flags.FLAGS


def main(_):
    model_dir = common.start("gpt_pretrain")
    train_documents, validation_documents = common.corpus()
    tokenizer = common.tokenizer(model_dir, train_documents)
    backbone = common.backbone(GPTDecoder, tokenizer)
    length = common.sequence_length(backbone)
    common.check_model_dir(model_dir, "gpt_pretrain", backbone, tokenizer,
                           sequence_length=length)

    separator = tokenizer.end_token_id
    streams = [
        language_modeling.token_stream(
            language_modeling.encode_documents(tokenizer, documents), separator
        )
        for documents in (train_documents, validation_documents)
    ]
    train_data = language_modeling.window_dataset(
        streams[0], length, FLAGS.batch_size, seed=FLAGS.seed,
        skip_batches=run.resumed_step(model_dir),
    )
    validation_data = language_modeling.window_dataset(
        streams[1], length, FLAGS.batch_size, training=False
    )
    print(f"Tokens: {len(streams[0]):,} train, {len(streams[1]):,} validation; "
          f"vocabulary {tokenizer.vocabulary_size():,}; "
          f"{backbone.count_params():,} parameters.")

    task = CausalLM(backbone, tokenizer)
    common.compile(task, backbone.hidden_dim)
    metrics = common.train(task, train_data, validation_data, model_dir,
                           tokens_per_step=FLAGS.batch_size * length)

    samples = sample(task, validation_documents, length)
    files.write_text(os.path.join(model_dir, "samples.txt"),
                     "\n\n---\n\n".join(samples) + "\n")
    for text in samples:
        print(f"--- sample\n{text}")
    common.finish(model_dir, metrics, generate="The class",
                  attention="The class defines a method.")


def sample(task, documents, length):
    """Continue the first words of validation lines (top-k sampling)."""
    lines = [line for d in documents for line in d.splitlines() if line.strip()]
    step = max(1, len(lines) // max(FLAGS.samples, 1))
    prompts = [" ".join(line.split()[:2]) for line in lines[::step]]
    prompts = prompts[: FLAGS.samples]
    if not prompts:
        return []
    longest = max(len(p) for p in task.tokenizer(prompts))
    return task.generate(
        prompts, max_new_tokens=max(1, length - longest), sampler="top_k",
        top_k=FLAGS.top_k, temperature=FLAGS.temperature, seed=FLAGS.seed,
    )


if __name__ == "__main__":
    common.main(main)
