"""Fine-tune a GPT-style causal language model.

--task=completion reads JSONL files, one `{"prompt": ..., "completion":
...}` object per line, and trains on prompt + completion + end token with
the loss on the completion and end tokens only. It reports the completion
loss and the share of validation prompts completed exactly (greedy).
--task=text continues language-model training on new text files (as
recipes/gpt_pretrain.py reads them), e.g. to adapt a model to a domain.
Both save greedy samples on validation prompts before and after training.
With no data flags, the completion task is the embedded one of writing
numbers in words (zoo/data/numbers.py):

    python recipes/gpt_finetune.py --model_dir=runs/complete

--init_from=DIR starts from a model dir of recipes/gpt_pretrain.py, or a
local keras-hub GPT-2 preset directory (converted by zoo.convert). Writes
to --model_dir what the pretraining recipes write (model.keras is a
`zoo.tasks.CausalLM`), plus samples.txt and evaluation.json.
"""

import os

import common
import numpy as np
from absl import flags

from zoo import evaluation
from zoo import files
from zoo.data import completions
from zoo.data import corpus
from zoo.data import language_modeling
from zoo.generation import requests
from zoo.models import GPTDecoder
from zoo.tasks import CausalLM
from zoo.training import run

common.define_flags(
    backbone=GPTDecoder,
    finetuning=True,
    preset="gpt_nano",
    tokenizer="byte_pair",
    vocabulary_size=1000,
    dropout=0.1,
    batch_size=32,
    steps=2000,  # 600 learned the format but 0% of numbers exactly
    checkpoint_every=500,
    learning_rate=1e-3,
    final_learning_rate=1e-4,
    schedule="cosine",
    warmup_steps=60,
    weight_decay=0.1,
    beta_2=0.99,
    # Completion batches are as long as their longest example: many
    # shapes, each an XLA compile.
    fixed_shapes=False,  # --xla=auto: off
)
flags.DEFINE_enum("task", "completion", ["completion", "text"],
                  "completion: JSONL prompt -> completion; text: continue "
                  "language-model training on text files.")
flags.DEFINE_list("train_files", [],
                  "completion: JSONL files; text: text files, folders or "
                  "globs. Empty: the embedded number task.")
flags.DEFINE_list("validation_files", [],
                  "Held-out data in the same format.")
flags.DEFINE_integer("samples", 5, "Validation prompts to sample before "
                     "and after training.")
common.require("samples", "non-negative")
FLAGS = flags.FLAGS


def main(_):
    model_dir = common.start("gpt_finetune")
    if FLAGS.task == "completion":
        if not FLAGS.train_files:
            print("No --train_files: the embedded task, numbers in words.")
        data = completions.completion_sets(FLAGS.train_files,
                                           FLAGS.validation_files, FLAGS.seed)
        text = [p + c for p, c in data["train"][0]]
    else:
        data = corpus.text_sets(FLAGS.train_files, FLAGS.validation_files)
        text = data["train"]
    backbone, tokenizer, _ = common.starting_point(
        model_dir, GPTDecoder, "gpt_pretrain", ["\n".join(text)])
    if tokenizer.end_token_id is None:
        raise ValueError("gpt_finetune needs a tokenizer with an end token "
                         "(--tokenizer=byte_pair).")
    length = common.sequence_length(backbone)
    common.check_model_dir(
        model_dir, "gpt_finetune", backbone, tokenizer, task=FLAGS.task,
        sequence_length=length)
    train_data, validation_data, prompts, tokens = batches(
        data, tokenizer, length, run.resumed_step(model_dir))
    print(f"Vocabulary {tokenizer.vocabulary_size():,}; "
          f"{backbone.count_params():,} parameters.")

    task = CausalLM(backbone, tokenizer)
    before = evaluation.completion_texts(task, prompts, length)
    common.compile(task, backbone.hidden_dim)
    metrics = common.train(task, train_data, validation_data, model_dir,
                           tokens_per_step=FLAGS.batch_size * tokens)
    after = evaluation.completion_texts(task, prompts, length)
    samples = "\n\n".join(
        f"prompt: {text!r}\nbefore: {old!r}\nafter:  {new!r}"
        for text, old, new in zip(requests.detokenize(tokenizer, prompts),
                                  before, after))
    files.write_text(os.path.join(model_dir, "samples.txt"), samples + "\n")
    print(samples)

    results = {"task": FLAGS.task, "train_seconds": metrics["train_seconds"],
               "validation_loss": metrics["validation_loss"],
               "validation_perplexity": float(np.exp(metrics["validation_loss"]))}
    lines = [f"validation perplexity {results['validation_perplexity']:.2f}"]
    if FLAGS.task == "completion":
        results["exact_match"] = evaluation.exact_match(
            task, data["validation"], length)
        lines.append("exact greedy completions of validation prompts: "
                     f"{results['exact_match']:.1%}")
    run.write_json(os.path.join(model_dir, "evaluation.json"), results)
    common.finish(model_dir, metrics, lines, generate="847 in words:",
                  attention="847 in words: eight hundred forty-seven")


def batches(data, tokenizer, length, skip):
    """Training and validation batches, prompts to sample, and tokens per
    example; `data` gets each split's encoded examples (completion task)."""
    if FLAGS.task == "completion":
        for split, (pairs, lines) in data.items():
            data[split] = completions.encode_completions(tokenizer, pairs,
                                                         length, lines)
        train, validation = (completions.completion_batches(
            data[split], FLAGS.batch_size, split == "train", FLAGS.seed,
            skip * FLAGS.batch_size) for split in ("train", "validation"))
        print(", ".join(f"{len(v):,} {k} examples" for k, v in data.items()))
        return (train, validation, [p for p, _ in data["validation"]
                                    [:FLAGS.samples]],
                np.mean([len(p) + len(c) for p, c in data["train"]]))
    streams = {split: language_modeling.token_stream(
        language_modeling.encode_documents(tokenizer, documents),
        tokenizer.end_token_id) for split, documents in data.items()}
    train, validation = (language_modeling.window_dataset(
        streams[split], length, FLAGS.batch_size, split == "train",
        FLAGS.seed, skip) for split in ("train", "validation"))
    print(", ".join(f"{len(v):,} {k} tokens" for k, v in streams.items()))
    return (train, validation, language_modeling.prompts(
        streams["validation"], length // 4, FLAGS.samples), length)


if __name__ == "__main__":
    common.main(main)
