"""BLEU (through sacreBLEU), entity-level F1 and classification scores."""

import pytest

from zoo import evaluation

REFERENCES = ["A man is riding a bicycle down the street.",
              "Two dogs play in the snow."]


def test_bleu_of_a_perfect_hypothesis_is_100():
    result = evaluation.bleu(REFERENCES, REFERENCES)
    assert result["score"] == pytest.approx(100.0)
    assert "tok:13a" in result["signature"]  # sacreBLEU's default tokenizer


def test_bleu_of_an_empty_hypothesis_is_0():
    assert evaluation.bleu(["", ""], REFERENCES)["score"] == 0.0


def test_bleu_is_corpus_level_and_case_sensitive_by_default():
    hypotheses = ["a man is riding a bicycle down the street.",
                  "Two dogs play in the snow."]
    cased = evaluation.bleu(hypotheses, REFERENCES)["score"]
    lowercase = evaluation.bleu(hypotheses, REFERENCES, lowercase=True)["score"]
    assert cased < 100.0 and lowercase == pytest.approx(100.0)
    with pytest.raises(ValueError, match="1 hypotheses but 2 references"):
        evaluation.bleu(hypotheses[:1], REFERENCES)


def test_entities_follow_conlleval():
    tags = ["B-person", "I-person", "O", "I-location", "B-location",
            "I-person", "B-group"]
    assert evaluation.entities(tags) == {
        ("person", 0, 2),
        ("location", 3, 4),  # an I- without a B- starts an entity
        ("location", 4, 5),  # B- after I- of the same type: a new one
        ("person", 5, 6),  # I- of another type: a new entity
        ("group", 6, 7),  # an entity at the very end
    }


def test_entity_f1_matches_a_hand_computed_example():
    true = [["B-person", "I-person", "O", "B-location"],
            ["O", "B-group", "I-group", "I-group"],
            ["B-product", "O"]]
    predicted = [["B-person", "I-person", "O", "B-person"],  # 1 right, 1 wrong type
                 ["O", "B-group", "I-group", "O"],  # wrong end
                 ["B-product", "B-product"]]  # 1 right, 1 spurious
    # True entities: person, location, group, product = 4.
    # Predicted: person(0-2), person(3), group(1-3), product(0), product(1) = 5.
    # Correct: person(0-2) and product(0) = 2.
    # P = 2/5, R = 2/4, F1 = 2PR/(P+R) = 0.4/0.9 = 4/9.
    result = evaluation.entity_scores(true, predicted)
    assert result["correct"] == 2
    assert result["predicted_entities"] == 5 and result["true_entities"] == 4
    assert result["precision"] == pytest.approx(0.4)
    assert result["recall"] == pytest.approx(0.5)
    assert result["f1"] == pytest.approx(4 / 9)
    assert result["per_type"]["person"]["precision"] == pytest.approx(0.5)
    assert result["per_type"]["location"]["recall"] == 0.0


def test_entity_scores_refuse_misaligned_tags():
    with pytest.raises(ValueError, match="Sentence 0: 2 true tags but 1"):
        evaluation.entity_scores([["O", "O"]], [["O"]])


def test_classification_scores():
    result = evaluation.classification_scores([1, 0, 1, 1], [1, 1, 0, 1], 2)
    assert result["accuracy"] == 0.5
    # P = 2/3, R = 2/3.
    assert result["f1"] == pytest.approx(2 / 3)
    assert result["confusion"] == [[0, 1], [1, 2]]  # [true][predicted]
    assert "f1" not in evaluation.classification_scores([0, 2], [0, 1], 3)
    with pytest.raises(ValueError, match="A label of -1 is not a class id"):
        evaluation.classification_scores([-1, 0], [0, 0], 2)
    with pytest.raises(ValueError, match="A prediction of 2 is not"):
        evaluation.classification_scores([1, 0], [2, 0], 2)


def test_bleu_by_length_scores_each_length_range_as_a_corpus():
    references = ["a b c d", "e f g h", "i j k l m n", "o p q r s t"]
    hypotheses = ["a b c d", "e f g h", "x x x x x x", "y y y y y y"]
    buckets = evaluation.bleu_by_length(hypotheses, references,
                                        [3, 4, 9, 9], buckets=2)
    assert buckets == [
        {"lengths": "3-4", "sentences": 2, "bleu": 100.0},
        {"lengths": "9", "sentences": 2, "bleu": 0.0},
    ]
    few = evaluation.bleu_by_length(hypotheses, references, [2, 3, 9, 9])
    assert [b["lengths"] for b in few] == ["2", "3", "9"]
    assert evaluation.bleu_by_length(["a"], ["a"], [7]) == [
        {"lengths": "7", "sentences": 1, "bleu": 0.0}]
