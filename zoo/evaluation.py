"""Evaluation metrics of the fine-tuning recipes.

- `bleu`: corpus-level BLEU of detokenized text, computed by sacreBLEU
  itself (Post 2018), so scores compare with published sacreBLEU numbers.
- `entity_scores`: entity-level precision, recall and F1 over BIO tags, as
  the CoNLL-2003 `conlleval` script and WNUT-17 count them: an entity is
  right only if its type and both its boundaries are right.
- `classification_scores`: accuracy, and F1 of the positive class for two
  classes (GLUE reports F1 for MRPC and QQP).
"""

import numpy as np


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
    import sacrebleu

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
    """Accuracy, and for two classes precision/recall/F1 of class 1."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    result = {"accuracy": float(np.mean(labels == predictions)),
              "examples": int(len(labels))}
    if num_classes == 2:
        true_positive = int(np.sum((predictions == 1) & (labels == 1)))
        predicted, actual = int(np.sum(predictions == 1)), int(np.sum(labels == 1))
        precision = true_positive / predicted if predicted else 0.0
        recall = true_positive / actual if actual else 0.0
        result["f1"] = (2 * precision * recall / (precision + recall)
                        if precision + recall else 0.0)
    return result
