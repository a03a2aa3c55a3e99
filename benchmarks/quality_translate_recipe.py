"""The recipe `benchmarks.quality_translate` trains every library with:
recipes/transformer_finetune.py's Multi30k run (docs/results.md), and the
data every library sees.

This process prepares the data once (`prepare`, with zoo's data code: the
shared SentencePiece vocabulary, the recipe's length-bucketed batches,
the evaluation sources) and writes it to one .npz file; each worker reads
it back (`load`, NumPy only) and takes the batches in order
(`training_batches`) and the evaluation sentences (`evaluation_set`).
"""

import numpy as np

PRESET = "transformer_small"
# transformer_small's sizes (tests/benchmarks check them against the
# preset). keras-hub's blocks drop out the attention probabilities at the
# dropout rate, with no setting of their own: zoo's are told to do the
# same (the recipe's model has none there).
MODEL = dict(num_layers=3, num_heads=8, hidden_dim=256, intermediate_dim=512,
             dropout=0.1)
ATTENTION_DROPOUT = 0.1
SEQUENCE_LENGTH = 128  # tokens per sentence at most, the recipe's default
BUCKET_WIDTH = 8  # batches hold pairs of lengths in the same multiple of 8
LABEL_SMOOTHING = 0.1
BETA_1, BETA_2 = 0.9, 0.98  # Vaswani et al. 2017; no weight decay
EPSILON = 1e-8  # zoo's adamw (Keras' own default is 1e-7)
CLIPNORM = 1.0  # the global gradient norm, the recipe's default
DECODE_BATCH = 128  # sentences decoded at once, the recipe's default
# Greedy decoding writes at most the longest evaluation source + this many
# tokens (zoo's `generate` default for one batch), in every library.
MORE_TOKENS = 50
# A training batch: `Seq2SeqLM`'s inputs, as zoo's `seq2seq_batches` makes
# them: (B, S) source ids and mask, (B, T) start token + target + end token
# and mask.
KEYS = ("encoder_token_ids", "encoder_padding_mask", "decoder_token_ids",
        "decoder_padding_mask")


def learning_rates(steps, warmup_steps, scale, width=MODEL["hidden_dim"]):
    """The learning rate of each step (from 0), as zoo's
    `InverseSquareRoot` gives it (Vaswani et al. 2017, eq. 3): scale *
    width^-0.5 * min(s^-0.5, s * warmup^-1.5), s = step + 1."""
    s = np.arange(1, steps + 1, dtype="float64")
    rates = scale * width**-0.5 * np.minimum(s**-0.5, s * warmup_steps**-1.5)
    return rates.tolist()


def bleu(hypotheses, references):
    """Corpus BLEU of detokenized text, sacreBLEU's defaults: the score of
    `zoo.evaluation.bleu`, without importing zoo."""
    import sacrebleu

    metric = sacrebleu.metrics.BLEU()
    return metric.corpus_score(list(hypotheses), [list(references)]).score


# This process: the data, once ------------------------------------------------


def read_pairs(spec):
    """(train sources, train targets, eval sources, eval references) from
    the spec's four files, checked line-aligned; the first
    `eval_sentences` evaluation pairs (all when 0)."""
    from zoo.data import parallel

    train = parallel.read_parallel(spec["train_source"], spec["train_target"])
    sources, references = parallel.read_parallel(spec["eval_source"],
                                                 spec["eval_target"])
    count = spec["eval_sentences"] or len(sources)
    return (*train, sources[:count], references[:count])


def pack(batches):
    """`{key: every batch's key, flattened and joined, key_shape: (steps,
    2) their shapes}` of a list of batches (dicts of 2-D arrays)."""
    packed = {}
    for key in KEYS:
        packed[key] = np.concatenate([b[key].ravel() for b in batches])
        packed[f"{key}_shape"] = np.array([b[key].shape for b in batches])
    return packed


def unpack(data, key):
    """The batches' `key` arrays, in order (views of `data[key]`)."""
    shapes = data[f"{key}_shape"]  # (steps, 2)
    ends = np.cumsum(shapes.prod(axis=1))[:-1]
    return [flat.reshape(shape)
            for flat, shape in zip(np.split(data[key], ends), shapes)]


def prepare(spec, path):
    """Write every library's data to `path` (.npz): the SentencePiece
    vocabulary trained on the training text of both languages, the
    spec's `steps` training batches of `batch_size` pairs as the recipe
    makes them (zoo's `pair_dataset`, shuffled with `seed`, and
    `seq2seq_batches`), the evaluation sources and references, and the
    decoding limit. Returns a summary (sizes, for the report). Raises
    ValueError on bad files (different line counts, empty lines, a
    sentence over `SEQUENCE_LENGTH` tokens)."""
    import keras

    from zoo.data import parallel
    from zoo.data import seq2seq
    from zoo.data import tokenizers

    train_sources, train_targets, sources, references = read_pairs(spec)
    tokenizer = tokenizers.train_sentence_piece(
        ["\n".join(train_sources), "\n".join(train_targets)],
        spec["vocabulary_size"])
    names = [(spec[f"{split}_source"], spec[f"{split}_target"])
             for split in ("train", "eval")]
    pairs = parallel.encode_pairs(tokenizer, train_sources, train_targets,
                                  SEQUENCE_LENGTH, names[0])
    evaluation = [source for source, _ in parallel.encode_pairs(
        tokenizer, sources, references, SEQUENCE_LENGTH, names[1])]
    keras.utils.set_random_seed(spec["seed"])  # as the recipe's start
    batches = seq2seq.seq2seq_batches(
        parallel.pair_dataset(pairs, True, spec["seed"]), spec["batch_size"],
        tokenizer.start_token_id, tokenizer.pad_token_id, training=True,
        bucket_width=BUCKET_WIDTH).take(spec["steps"])
    batches = [{key: value.numpy() for key, value in batch.items()}
               for batch in batches]
    summary = dict(
        vocabulary_size=tokenizers.vocabulary_size(tokenizer),
        train_pairs=len(pairs), eval_sentences=len(evaluation),
        max_new_tokens=max(len(ids) for ids in evaluation) + MORE_TOKENS,
        tokens_per_batch=round(np.mean([b["encoder_padding_mask"].sum()
                                        + b["decoder_padding_mask"].sum()
                                        for b in batches])))
    np.savez(path, **pack(batches), **summary,
             proto=np.frombuffer(tokenizer.proto, "uint8"),
             start_id=tokenizer.start_token_id,
             end_id=tokenizer.end_token_id, pad_id=tokenizer.pad_token_id,
             eval_source_ids=np.concatenate(evaluation),
             eval_source_lengths=[len(ids) for ids in evaluation],
             eval_references=np.array(references))
    return summary


# The workers: the data, read back --------------------------------------------


def load(path):
    """What `prepare` wrote: a dict of arrays (`proto` as bytes; the
    scalars as ints)."""
    with np.load(path, allow_pickle=False) as saved:
        data = {key: saved[key] for key in saved.files}
    for key, value in data.items():
        if value.ndim == 0:
            data[key] = int(value)
    data["proto"] = data["proto"].tobytes()
    return data


def targets(x):
    """(labels, weights) of a batch, as zoo's `Seq2SeqLM` makes them from
    its inputs: the decoder ids shifted left (B, T), 0 after the last,
    and weight 1 where the next token is real (the padding's 0)."""
    ids, mask = x["decoder_token_ids"], x["decoder_padding_mask"]  # (B, T)
    labels = np.pad(ids[:, 1:], [(0, 0), (0, 1)])
    weights = np.pad(mask[:, 1:], [(0, 0), (0, 1)]).astype("float32")
    return labels, weights


def training_batches(data):
    """Each step's `(x, labels, weights)`, in order: x `Seq2SeqLM`'s four
    inputs, int32 ids and bool masks."""
    split = {key: unpack(data, key) for key in KEYS}
    for step in range(len(split[KEYS[0]])):
        x = {key: split[key][step] for key in KEYS}
        yield (x, *targets(x))


def evaluation_set(data):
    """(sources, references): the evaluation sources' ids (a list of int32
    arrays, in file order) and the reference translations (strings)."""
    ends = np.cumsum(data["eval_source_lengths"])[:-1]
    sources = np.split(data["eval_source_ids"].astype("int32"), ends)
    return sources, data["eval_references"].tolist()
