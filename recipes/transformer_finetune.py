"""Train or fine-tune an encoder-decoder Transformer for translation.

Data are line-aligned parallel files (line i of --train_source translates
line i of --train_target). As in Vaswani et al. 2017: one subword
vocabulary shared by both languages (SentencePiece here), label smoothing
ε = 0.1, Adam with β2 = 0.98 and the inverse-square-root warmup schedule
(eq. 3), and batches of pairs of similar length. The test set is scored
with sacreBLEU (detokenized, corpus-level) after greedy and beam-search
decoding.

With no data flags it learns the embedded German -> English task of
numbers in words ("einundzwanzig" -> "twenty-one"; see zoo/data/numbers.py)
in a few minutes:

    python recipes/transformer_finetune.py --model_dir=runs/translate

Multi30k German -> English (see the README for the measured result):

    python recipes/transformer_finetune.py --model_dir=runs/multi30k_de_en \\
        --train_source=../shared/data/multi30k/train.de \\
        --train_target=../shared/data/multi30k/train.en \\
        --validation_source=../shared/data/multi30k/val.de \\
        --validation_target=../shared/data/multi30k/val.en \\
        --test_source=../shared/data/multi30k/test2016.de \\
        --test_target=../shared/data/multi30k/test2016.en

--init_from=DIR starts from a model dir of recipes/transformer_pretrain.py
(its weights and its SentencePiece vocabulary).

Writes to --model_dir what the pretraining recipes write (flags.txt,
run.json, tokenizer/, checkpoints/, logs/, metrics.json, model.keras: a
`zoo.tasks.Seq2SeqLM`), plus evaluation.json (BLEU, greedy and beam) and
translations.txt.
"""

import json
import os
import time

import numpy as np
from absl import app
from absl import flags

from zoo import evaluation
from zoo.data import numbers
from zoo.data import parallel
from zoo.data import seq2seq
from zoo.models import Transformer
from zoo.tasks import Seq2SeqLM
from zoo.generation import requests
from zoo.training import recipe
from zoo.training import run

recipe.define_flags(
    finetuning=True,
    preset="transformer_small",
    tokenizer="sentence_piece",
    vocabulary_size=8000,
    sequence_length=None,  # 128 tokens per sentence (with start/end tokens)
    batch_size=64,
    steps=600,
    checkpoint_every=200,
    # Vaswani et al. 2017, eq. 3: lr = scale * d^-0.5 * min(t^-0.5,
    # t * warmup^-1.5); for d = 256 and warmup 100 the peak is
    # 0.3 * 0.0625 * 0.1 = 1.9e-3 at step 100. (Multi30k: README.)
    schedule="inverse_sqrt",
    learning_rate=0.3,
    warmup_steps=100,
    # XLA made this model's step slower here, and each length bucket
    # compiles anew (see transformer_pretrain.py).
    xla=False,
    weight_decay=0.0,  # the paper uses none
    beta_2=0.98,  # the paper's Adam betas: 0.9, 0.98
)
for split in ("train", "validation", "test"):
    for side in ("source", "target"):
        flags.DEFINE_string(
            f"{split}_{side}", None,
            f"{split.capitalize()} {side} sentences, one per line, aligned "
            f"with --{split}_{'target' if side == 'source' else 'source'}.")
flags.DEFINE_float("label_smoothing", 0.1, "Label smoothing ε of the loss.")
flags.DEFINE_integer(
    "bucket_width", 8,
    "Batches hold pairs whose lengths round up to the same multiple of this "
    "(less padding; more distinct shapes).")
flags.DEFINE_integer("num_beams", 4, "Beam width of beam search (paper: 4).")
flags.DEFINE_float("length_penalty", 0.6, "Beam search length penalty α.")
flags.DEFINE_integer("decode_batch_size", 128, "Sentences decoded at once.")
flags.DEFINE_integer("test_examples", 0,
                     "Translate only the first N test sentences (0: all).")
FLAGS = flags.FLAGS

NUMBER_SPLITS = (20000, 500, 1000)  # the embedded task: train, val, test


def main(argv):
    del argv
    model_dir = recipe.start("transformer_finetune")
    data = read_data()
    train_sources, train_targets, _ = data["train"]
    backbone, tokenizer = recipe.starting_point(
        model_dir, Transformer, "transformer_pretrain",
        ["\n".join(train_sources), "\n".join(train_targets)],
    )
    if tokenizer.end_token_id is None or tokenizer.start_token_id is None:
        raise ValueError("transformer_finetune needs a tokenizer with start "
                         "and end tokens (--tokenizer=sentence_piece).")
    length = recipe.sequence_length(backbone, default=128)
    recipe.check_model_dir(
        model_dir, "transformer_finetune", backbone, tokenizer,
        init_from=FLAGS.init_from, sequence_length=length,
        data={split: list(data[split][2]) for split in data},
    )

    encoded = {
        split: parallel.encode_pairs(tokenizer, sources, targets, length,
                                     names)
        for split, (sources, targets, names) in data.items()
    }

    def batches(pairs, training, skip=0):
        dataset = parallel.pair_dataset(pairs, training, FLAGS.seed, skip)
        return seq2seq.seq2seq_batches(
            dataset, FLAGS.batch_size, tokenizer.start_token_id,
            tokenizer.pad_token_id, training=training,
            bucket_width=FLAGS.bucket_width,
        )

    # Resume skips step * batch_size pairs of the shuffled stream, counted
    # before the length buckets fill: close to, not exactly, where the
    # interrupted run stood.
    skip = run.resumed_step(model_dir) * FLAGS.batch_size
    train_data = batches(encoded["train"], True, skip)
    validation_data = batches(encoded["validation"], False).cache()
    tokens = sum(len(s) + len(t) for s, t in encoded["train"])
    print(f"Pairs: {len(encoded['train']):,} train ({tokens:,} tokens), "
          f"{len(encoded['validation']):,} validation, "
          f"{len(encoded['test']):,} test; vocabulary "
          f"{tokenizer.vocabulary_size():,}; {backbone.count_params():,} "
          "parameters.")

    task = Seq2SeqLM(backbone, tokenizer,
                     label_smoothing=FLAGS.label_smoothing)
    recipe.compile(task, backbone.hidden_dim)
    metrics = recipe.train(
        task, train_data, validation_data, model_dir,
        tokens_per_step=FLAGS.batch_size * tokens / len(encoded["train"]),
    )
    print(json.dumps(metrics, indent=2))

    test_sources, test_targets, _ = data["test"]
    if FLAGS.test_examples:
        test_sources = test_sources[:FLAGS.test_examples]
        test_targets = test_targets[:FLAGS.test_examples]
    source_ids = [pair[0] for pair in encoded["test"][:len(test_sources)]]
    results = {"test_files": list(data["test"][2]),
               "examples": len(test_sources),
               "validation_loss": metrics["validation_loss"],
               "train_seconds": metrics["train_seconds"]}
    outputs = {}
    for sampler in ("greedy", "beam"):
        began = time.perf_counter()
        outputs[sampler] = translate(task, source_ids, sampler)
        seconds = time.perf_counter() - began
        scores = evaluation.bleu(outputs[sampler], test_targets)
        lowercase = evaluation.bleu(outputs[sampler], test_targets,
                                    lowercase=True)
        exact = np.mean([h == r for h, r in zip(outputs[sampler],
                                                 test_targets)])
        results[sampler] = {
            "bleu": round(scores["score"], 2),
            "exact_match": float(exact),
            "bleu_lowercase": round(lowercase["score"], 2),
            "signature": scores["signature"],
            "brevity_penalty": scores["brevity_penalty"],
            "decode_seconds": round(seconds, 1),
        }
        if sampler == "beam":
            results[sampler].update(num_beams=FLAGS.num_beams,
                                    length_penalty=FLAGS.length_penalty)
        print(f"Test BLEU, {sampler}: {scores['score']:.2f} "
              f"({scores['signature']}); lowercase {lowercase['score']:.2f}; "
              f"exact {exact:.1%}; decoding took {seconds:.0f} s.")
    run.write_json(os.path.join(model_dir, "evaluation.json"), results)
    with open(os.path.join(model_dir, "translations.txt"), "w") as file:
        for i, source in enumerate(test_sources):
            file.write(f"source: {source}\nreference: {test_targets[i]}\n"
                       f"greedy: {outputs['greedy'][i]}\n"
                       f"beam: {outputs['beam'][i]}\n\n")
    for i in range(min(3, len(test_sources))):
        print(f"source: {test_sources[i]}\nreference: {test_targets[i]}\n"
              f"beam: {outputs['beam'][i]}\n")


def read_data():
    """{split: (sources, targets, file names)} from the flags, or the
    embedded number task."""
    given = {
        split: (FLAGS[f"{split}_source"].value, FLAGS[f"{split}_target"].value)
        for split in ("train", "validation", "test")
    }
    for split, (source, target) in given.items():
        if (source is None) != (target is None):
            raise ValueError(f"Give both --{split}_source and "
                             f"--{split}_target, or neither.")
    if given["train"][0] is None:
        if any(paths[0] for paths in given.values()):
            raise ValueError("Validation or test files need --train_source "
                             "and --train_target too.")
        # German -> English: a German number is one word, and BLEU counts
        # n-grams up to 4, so German targets would score 0 even when right.
        print("No --train_source: the embedded German -> English number task.")
        data = {}
        for split, values in zip(("train", "validation", "test"),
                                 numbers.splits(NUMBER_SPLITS, FLAGS.seed)):
            data[split] = ([numbers.german(n) for n in values],
                           [numbers.english(n) for n in values],
                           (f"numbers:{split}.de", f"numbers:{split}.en"))
        return data
    for split in ("validation", "test"):
        if given[split][0] is None:
            raise ValueError(f"Give --{split}_source and --{split}_target "
                             "(held-out pairs to validate and score on).")
    return {split: (*parallel.read_parallel(*paths), paths)
            for split, paths in given.items()}


def translate(task, source_ids, sampler):
    """Detokenized translations of `source_ids`, decoded in batches of
    similar length (the output keeps the input order)."""
    order = np.argsort([len(ids) for ids in source_ids], kind="stable")
    outputs = [None] * len(source_ids)
    size = FLAGS.decode_batch_size
    stops = [task.tokenizer.end_token_id]
    for begin in range(0, len(order), size):
        chunk = order[begin:begin + size]
        rows = task.generate(
            [source_ids[i] for i in chunk], sampler=sampler,
            num_beams=FLAGS.num_beams, length_penalty=FLAGS.length_penalty,
        )
        texts = requests.detokenize(task.tokenizer, rows, drop=set(stops))
        for i, text in zip(chunk, texts):
            outputs[i] = text
    return outputs


if __name__ == "__main__":
    app.run(main)
