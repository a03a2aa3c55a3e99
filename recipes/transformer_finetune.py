"""Train or fine-tune an encoder-decoder Transformer for translation.

Data are line-aligned parallel files (line i of --train_source translates
line i of --train_target). As in Vaswani et al. 2017: one subword
vocabulary shared by both languages (SentencePiece here), label smoothing
ε = 0.1, Adam with β2 = 0.98, the inverse-square-root warmup schedule
(eq. 3), batches of pairs of similar length. The test set is scored with
sacreBLEU (detokenized, corpus-level) after greedy and beam-search decoding.
With no data flags it learns the embedded German -> English task of
numbers in words ("einundzwanzig" -> "twenty-one", zoo/data/numbers.py):

    python recipes/transformer_finetune.py --model_dir=runs/translate

(docs/results.md gives the Multi30k command and result). --init_from=DIR starts
from a model dir of recipes/transformer_pretrain.py or a MarianMT (opus-mt)
Hugging Face directory. Writes to --model_dir
what the pretraining recipes write (model.keras is a `zoo.tasks.Seq2SeqLM`),
plus evaluation.json (BLEU, greedy and beam) and translations.txt.
"""

import os
import time

import common
from absl import flags

from zoo import evaluation
from zoo import files
from zoo import pictures
from zoo.data import parallel
from zoo.data import seq2seq
from zoo.models import Transformer
from zoo.tasks import Seq2SeqLM
from zoo.training import run

common.define_flags(
    backbone=Transformer,
    finetuning=True,
    preset="transformer_small",
    tokenizer="sentence_piece",
    vocabulary_size=8000,
    sequence_length=128,  # tokens per sentence, with start/end tokens
    batch_size=64,
    steps=600,
    checkpoint_every=200,
    # Vaswani et al. 2017, eq. 3: lr = scale * d^-0.5 * min(t^-0.5,
    # t * warmup^-1.5); for d = 256 and warmup 100 the peak is
    # 0.3 * 0.0625 * 0.1 = 1.9e-3 at step 100. (Multi30k: docs/results.md.)
    schedule="inverse_sqrt",
    learning_rate=0.3,
    warmup_steps=100,
    # XLA made this model's step slower here, and each length bucket
    # compiles anew (see transformer_pretrain.py).
    fixed_shapes=False,  # --xla=auto: off
    weight_decay=0.0,  # the paper uses none
    beta_2=0.98,  # the paper's Adam betas: 0.9, 0.98
)
for split in parallel.SPLITS:
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
common.require("label_smoothing", "fraction")
common.require("bucket_width", "positive")
common.require("num_beams", "positive")
common.require("length_penalty", "finite")
common.require("decode_batch_size", "positive")
common.require("test_examples", "non-negative")
FLAGS = flags.FLAGS


def main(_):
    model_dir = common.start("transformer_finetune")
    data = parallel.translation_sets(
        {split: (FLAGS[f"{split}_source"].value, FLAGS[f"{split}_target"].value)
         for split in parallel.SPLITS}, FLAGS.seed)
    if data["train"][2][0].startswith("numbers:"):
        print("No --train_source: the embedded German -> English number task.")
    train_sources, train_targets, _ = data["train"]
    backbone, tokenizer, head = common.starting_point(
        model_dir, Transformer, "transformer_pretrain",
        ["\n".join(train_sources), "\n".join(train_targets)])
    if tokenizer.end_token_id is None or tokenizer.start_token_id is None:
        raise ValueError("transformer_finetune needs a tokenizer with start "
                         "and end tokens (--tokenizer=sentence_piece).")
    length = common.sequence_length(backbone)
    common.check_model_dir(
        model_dir, "transformer_finetune", backbone, tokenizer,
        sequence_length=length)
    encoded = {split: parallel.encode_pairs(tokenizer, sources, targets,
                                            length, names)
               for split, (sources, targets, names) in data.items()}

    def batches(pairs, training, skip_batches=0):
        # A resumed run skips whole batches after bucketing, so that its
        # buckets hold what an uninterrupted run's hold.
        return seq2seq.seq2seq_batches(
            parallel.pair_dataset(pairs, training, FLAGS.seed),
            FLAGS.batch_size, tokenizer.start_token_id, tokenizer.pad_token_id,
            training=training, bucket_width=FLAGS.bucket_width,
        ).skip(skip_batches)

    skip = run.resumed_step(model_dir)
    tokens = sum(len(s) + len(t) for s, t in encoded["train"])
    print(", ".join(f"{len(v):,} {k} pairs" for k, v in encoded.items())
          + f"; vocabulary {tokenizer.vocabulary_size():,}; "
          f"{backbone.count_params():,} parameters.")
    task = Seq2SeqLM(backbone, tokenizer, label_smoothing=FLAGS.label_smoothing,
                     final_logits_bias="final_logits_bias" in head)
    if "final_logits_bias" in head:  # MarianMT's
        task.final_logits_bias.assign(head["final_logits_bias"])
    common.compile(task, backbone.hidden_dim)
    metrics = common.train(
        task, batches(encoded["train"], True, skip),
        batches(encoded["validation"], False).cache(), model_dir,
        tokens_per_step=FLAGS.batch_size * tokens / len(encoded["train"]))
    results = score(task, data["test"], encoded["test"], metrics, model_dir)
    example = data["test"][0][0]  # the first test source
    common.finish(model_dir, metrics, [
        f"test BLEU {results[s]['bleu']:.2f} {s} "
        f"({results[s]['exact_match']:.1%} exact translations)"
        for s in ("greedy", "beam")], generate=example, attention=example)


def score(task, test, encoded, metrics, model_dir):
    """Translate the test sources greedily and by beam search; write the
    scores to evaluation.json, the translations to translations.txt and
    greedy BLEU by source length to evaluation.png; return the scores."""
    count = FLAGS.test_examples or len(test[0])
    sources, references = test[0][:count], test[1][:count]
    results = {"test_files": list(test[2]), "examples": len(sources),
               **{k: metrics[k] for k in ("validation_loss", "train_seconds")}}
    outputs = {}
    for sampler in ("greedy", "beam"):
        began = time.perf_counter()
        options = (dict(num_beams=FLAGS.num_beams,
                        length_penalty=FLAGS.length_penalty)
                   if sampler == "beam" else {})
        outputs[sampler] = evaluation.translate(
            task, [pair[0] for pair in encoded[:count]], sampler,
            FLAGS.decode_batch_size, **options)
        seconds = time.perf_counter() - began
        scores = evaluation.translation_scores(outputs[sampler], references)
        results[sampler] = {**scores, "decode_seconds": round(seconds, 1),
                            **options}
    results["greedy"]["bleu_by_length"] = buckets = evaluation.bleu_by_length(
        outputs["greedy"], references, [len(pair[0]) for pair in encoded[:count]])
    run.write_json(os.path.join(model_dir, "evaluation.json"), results)
    pictures.bars(
        [b["lengths"] for b in buckets], [b["bleu"] for b in buckets],
        os.path.join(model_dir, "evaluation.png"),
        f"Greedy test BLEU by source length\n{len(sources):,} sentences, "
        f"BLEU {results['greedy']['bleu']:.1f} over all", "BLEU",
        notes=[f"{b['sentences']:,}" for b in buckets],
        xlabel="source length in tokens (sentences above each bar)")
    files.write_text(os.path.join(model_dir, "translations.txt"), "".join(
        f"source: {source}\nreference: {references[i]}\n"
        f"greedy: {outputs['greedy'][i]}\nbeam: {outputs['beam'][i]}\n\n"
        for i, source in enumerate(sources)))
    return results


if __name__ == "__main__":
    common.main(main)
