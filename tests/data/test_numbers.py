"""The embedded number-words data of the fine-tuning recipes."""

import pytest

from zoo.data import numbers


@pytest.mark.parametrize("number, english, german", [
    (0, "zero", "null"),
    (1, "one", "eins"),
    (17, "seventeen", "siebzehn"),
    (21, "twenty-one", "einundzwanzig"),
    (101, "one hundred one", "einhunderteins"),
    (1001, "one thousand one", "eintausendeins"),
    (70000, "seventy thousand", "siebzigtausend"),
    (321412, "three hundred twenty-one thousand four hundred twelve",
     "dreihunderteinundzwanzigtausendvierhundertzwölf"),
])
def test_spellings(number, english, german):
    assert numbers.english(number) == english
    assert numbers.german(number) == german


def test_out_of_range():
    with pytest.raises(ValueError, match="outside"):
        numbers.english(numbers.LIMIT)
    with pytest.raises(ValueError, match="outside"):
        numbers.german(-1)


def test_splits_are_disjoint_and_reproducible():
    train, test = numbers.splits((500, 100), seed=3)
    assert len(set(train)) == 500 and len(set(test)) == 100
    assert not set(train) & set(test)
    assert numbers.splits((500, 100), seed=3) == [train, test]
