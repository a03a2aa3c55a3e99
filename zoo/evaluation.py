"""Evaluation of the fine-tuned tasks: metrics, and the loops that run a
task over a test set to compute them.

- `bleu`: corpus-level BLEU of detokenized text, computed by sacreBLEU
  itself (Post 2018), so scores compare with published sacreBLEU numbers;
  `translate` and `translation_scores` run a `Seq2SeqLM` over sources.
- `entity_scores`: entity-level precision, recall and F1 over BIO tags, as
  the CoNLL-2003 `conlleval` script and WNUT-17 count them: an entity is
  right only if its type and both its boundaries are right
  (`score_tagger` runs a `TokenClassifier`).
- `classification_scores`: accuracy, and F1 of the positive class for two
  classes (GLUE reports F1 for MRPC and QQP) (`score_classifier`).
- `exact_match`: the share of prompts a `CausalLM` completes exactly.
"""

import numpy as np
import sacrebleu

from zoo.generation import requests


def bleu(hypotheses, references, lowercase=False):
    """Corpus BLEU of `hypotheses` against one reference each.

    Args:
        hypotheses: list of detokenized strings (the model's output).
        references: list of detokenized strings, aligned with hypotheses.
        lowercase: bool. Case-insensitive BLEU.

    Returns:
        dict: `score` (0-100), `signature` (sacreBLEU's, e.g.
        "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"),
        and the n-gram `precisions`, `brevity_penalty`, lengths.
    """
    if len(hypotheses) != len(references):
        raise ValueError(
            f"{len(hypotheses)} hypotheses but {len(references)} references."
        )
    metric = sacrebleu.metrics.BLEU(lowercase=lowercase)
    result = metric.corpus_score(list(hypotheses), [list(references)])
    return {
        "score": result.score,
        "signature": str(metric.get_signature()),
        "precisions": list(result.precisions),
        "brevity_penalty": result.bp,
        "hypothesis_length": result.sys_len,
        "reference_length": result.ref_len,
    }


def entities(tags):
    """The entities of one sentence's BIO tags: a set of (type, start, end).

    `end` is exclusive. As in conlleval, an `I-x` that does not continue an
    entity of type x starts a new one.

    >>> sorted(entities(["B-person", "I-person", "O", "I-location"]))
    [('location', 3, 4), ('person', 0, 2)]
    """
    found = set()
    kind, start = None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, label = tag.partition("-")
        continues = prefix == "I" and label == kind
        if kind is not None and not continues:
            found.add((kind, start, i))
            kind = None
        if prefix == "B" or (prefix == "I" and not continues):
            kind, start = label, i
    return found


def entity_scores(true_tags, predicted_tags):
    """Entity-level precision, recall and F1 over sentences of BIO tags.

    Args:
        true_tags: list of sentences, each a list of tags.
        predicted_tags: the same shape.

    Returns:
        dict of `precision`, `recall`, `f1` (fractions, 0-1), the counts
        `true_entities`, `predicted_entities`, `correct`, and `per_type`:
        the same scores for each entity type.
    """
    if len(true_tags) != len(predicted_tags):
        raise ValueError(f"{len(true_tags)} true sentences but "
                         f"{len(predicted_tags)} predicted.")
    true_all, predicted_all = set(), set()
    for i, (true, predicted) in enumerate(zip(true_tags, predicted_tags)):
        if len(true) != len(predicted):
            raise ValueError(f"Sentence {i}: {len(true)} true tags but "
                             f"{len(predicted)} predicted.")
        true_all |= {(i, *e) for e in entities(true)}
        predicted_all |= {(i, *e) for e in entities(predicted)}

    def scores(true, predicted):
        correct = len(true & predicted)
        precision = correct / len(predicted) if predicted else 0.0
        recall = correct / len(true) if true else 0.0
        f1 = (2 * precision * recall / (precision + recall)
              if precision + recall else 0.0)
        return {"precision": precision, "recall": recall, "f1": f1,
                "true_entities": len(true), "predicted_entities": len(predicted),
                "correct": correct}

    types = sorted({e[1] for e in true_all | predicted_all})
    result = scores(true_all, predicted_all)
    result["per_type"] = {
        kind: scores({e for e in true_all if e[1] == kind},
                     {e for e in predicted_all if e[1] == kind})
        for kind in types
    }
    return result


def classification_scores(labels, predictions, num_classes):
    """Accuracy, the confusion matrix (`confusion[true][predicted]`
    counts), and for two classes precision/recall/F1 of class 1."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape:
        raise ValueError(f"{labels.shape} labels but {predictions.shape} "
                         "predictions.")
    for name, ids in (("label", labels), ("prediction", predictions)):
        outside = ids[(ids < 0) | (ids >= num_classes)]
        if outside.size:
            raise ValueError(f"A {name} of {outside[0]} is not a class id of "
                             f"{num_classes} classes (0 to {num_classes - 1}).")
    confusion = np.zeros((num_classes, num_classes), "int64")
    np.add.at(confusion, (labels, predictions), 1)
    result = {"accuracy": float(np.mean(labels == predictions)),
              "examples": int(len(labels)), "confusion": confusion.tolist()}
    if num_classes == 2:
        true_positive = int(np.sum((predictions == 1) & (labels == 1)))
        predicted, actual = int(np.sum(predictions == 1)), int(np.sum(labels == 1))
        precision = true_positive / predicted if predicted else 0.0
        recall = true_positive / actual if actual else 0.0
        result["f1"] = (2 * precision * recall / (precision + recall)
                        if precision + recall else 0.0)
    return result


# Running a task over a test set -----------------------------------------------


def score_classifier(task, batches, labels, num_classes):
    """`classification_scores` of a classifier's argmax over `batches`."""
    logits = np.concatenate([
        np.asarray(task.predict_on_batch(x), "float32") for x, _ in batches])
    return classification_scores(labels, logits.argmax(-1), num_classes)


def score_tagger(task, batches, true_tags, names):
    """`entity_scores` of a tagger over `batches` of `(x, tags, weights)`,
    each word's tag read at its first piece (weight 1)."""
    predicted = []
    for x, _, weights in batches:
        logits = np.asarray(task.predict_on_batch(x), "float32")
        for row, first in zip(logits.argmax(-1), np.asarray(weights) > 0):
            predicted.append([names[i] for i in row[first]])
    return entity_scores(true_tags, predicted)


def continuations(task, prompts, length, max_new_tokens):
    """Greedy new ids of id `prompts` (stop token kept), within `length`
    tokens in all; none where the longest prompt leaves no room."""
    longest = max(len(p) for p in prompts)
    room = min(max_new_tokens, length - longest)
    if room < 1:
        return [[] for _ in prompts]
    rows = task.generate([list(p) for p in prompts], max_new_tokens=room)
    return [row[len(p):] for row, p in zip(rows, prompts)]


def completion_texts(task, prompts, length):
    """Greedy completions of id `prompts`, as text (end token left out)."""
    if not prompts:
        return []
    new = continuations(task, prompts, length, length)
    return requests.detokenize(task.tokenizer, new,
                               drop={task.tokenizer.end_token_id})


def exact_match(task, encoded, length, batch_size=100):
    """Share of `(prompt, completion)` id pairs whose greedy completion is
    exactly `completion`. Prompts of one length decode together, so that
    every row has room for its whole reference."""
    correct = 0
    by_length = {}
    for prompt, completion in encoded:
        by_length.setdefault(len(prompt), []).append((prompt, completion))
    for group in by_length.values():
        for begin in range(0, len(group), batch_size):
            chunk = group[begin:begin + batch_size]
            outputs = continuations(task, [p for p, _ in chunk], length,
                                    max(len(c) for _, c in chunk))
            for (_, completion), new in zip(chunk, outputs):
                correct += list(new) == list(completion)
    return correct / len(encoded)


def translate(task, source_ids, sampler="greedy", batch_size=128, **options):
    """Detokenized translations of `source_ids` (lists of ids), decoded in
    batches of similar length; the output keeps the input order."""
    order = np.argsort([len(ids) for ids in source_ids], kind="stable")
    outputs = [None] * len(source_ids)
    stops = {task.tokenizer.end_token_id}
    for begin in range(0, len(order), batch_size):
        chunk = order[begin:begin + batch_size]
        rows = task.generate([source_ids[i] for i in chunk], sampler=sampler,
                             **options)
        texts = requests.detokenize(task.tokenizer, rows, drop=stops)
        for i, text in zip(chunk, texts):
            outputs[i] = text
    return outputs


def bleu_by_length(hypotheses, references, lengths, buckets=5):
    """Corpus BLEU of the sentences in each of `buckets` source-length
    ranges, cut at the lengths' quantiles (one length each when there are
    no more lengths than buckets): a list of `{"lengths": "6-10",
    "sentences": n, "bleu": score}`, "6-10" the shortest and longest
    length in the range.

    Args:
        hypotheses, references: the translations and their references.
        lengths: each source's length (in subword tokens, say).
        buckets: how many ranges at most (fewer when lengths repeat).
    """
    lengths = np.asarray(lengths)
    highs = np.unique(lengths)  # each range's longest length
    if len(highs) > buckets:
        highs = np.unique(np.quantile(
            lengths, np.linspace(0, 1, buckets + 1)[1:], method="lower"))
    result, low = [], lengths.min() - 1
    for high in highs:
        chosen = np.flatnonzero((lengths > low) & (lengths <= high))
        if len(chosen):
            result.append({
                "lengths": _span(lengths[chosen]),
                "sentences": int(len(chosen)),
                "bleu": round(bleu([hypotheses[i] for i in chosen],
                                   [references[i] for i in chosen])["score"], 2),
            })
        low = high
    return result


def _span(values):
    """`"3-7"`, or `"5"` when all are 5."""
    low, high = int(values.min()), int(values.max())
    return f"{low}-{high}" if high > low else f"{low}"


def translation_scores(hypotheses, references):
    """BLEU (cased and lowercase, with sacreBLEU's signature), brevity
    penalty and the share of exact translations."""
    scores = bleu(hypotheses, references)
    return {
        "bleu": round(scores["score"], 2),
        "exact_match": float(np.mean([h == r for h, r in
                                      zip(hypotheses, references)])),
        "bleu_lowercase": round(
            bleu(hypotheses, references, lowercase=True)["score"], 2),
        "signature": scores["signature"],
        "brevity_penalty": scores["brevity_penalty"],
    }
