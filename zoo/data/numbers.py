"""Numbers written out in English and German: the fine-tuning recipes'
embedded default data (no download).

Writing a number in words is a small, exact translation problem with real
structure: German puts units before tens ("einundzwanzig", one-and-twenty)
and writes a number below a million as one word, so a model has to reorder
and to segment. The fine-tuning recipes build their default tasks from it:
German -> English translation, prompt -> completion ("847 in words:" ->
"eight hundred forty-seven"), sentence-pair classification (is the first
number larger?) and tagging (where each number in a run starts and ends).

    >>> english(321412)
    'three hundred twenty-one thousand four hundred twelve'
    >>> german(321412)
    'dreihunderteinundzwanzigtausendvierhundertzwölf'
"""

import numpy as np

LIMIT = 1_000_000  # numbers in [0, LIMIT)

_ENGLISH_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve "
    "thirteen fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_ENGLISH_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()

_GERMAN_UNITS = (
    "null eins zwei drei vier fünf sechs sieben acht neun zehn elf zwölf "
    "dreizehn vierzehn fünfzehn sechzehn siebzehn achtzehn neunzehn"
).split()
_GERMAN_TENS = (
    "_ _ zwanzig dreißig vierzig fünfzig sechzig siebzig achtzig neunzig"
).split()


def _check(number):
    if not 0 <= number < LIMIT:
        raise ValueError(f"{number} is outside [0, {LIMIT:,}).")


def english(number):
    """`number` in English words, e.g. 'forty-two thousand one'."""
    _check(number)
    if number == 0:
        return "zero"

    def below_thousand(n):
        words = []
        if n >= 100:
            words += [_ENGLISH_UNITS[n // 100], "hundred"]
            n %= 100
        if n >= 20:
            tens, units = divmod(n, 10)
            words.append(_ENGLISH_TENS[tens] + (f"-{_ENGLISH_UNITS[units]}"
                                                if units else ""))
        elif n:
            words.append(_ENGLISH_UNITS[n])
        return words

    thousands, rest = divmod(number, 1000)
    words = below_thousand(thousands) + ["thousand"] if thousands else []
    return " ".join(words + below_thousand(rest))


def german(number):
    """`number` in German words: one word below a million, e.g.
    'zweiundvierzigtausendeins'."""
    _check(number)
    if number == 0:
        return "null"

    def below_thousand(n, final):
        word = ""
        if n >= 100:
            word += ("ein" if n // 100 == 1 else _GERMAN_UNITS[n // 100]) + "hundert"
            n %= 100
        if n >= 20:
            tens, units = divmod(n, 10)
            if units:  # units first: "einundzwanzig"
                word += ("ein" if units == 1 else _GERMAN_UNITS[units]) + "und"
            word += _GERMAN_TENS[tens]
        elif n == 1:
            word += "eins" if final else "ein"  # "eins", "eintausend"
        elif n:
            word += _GERMAN_UNITS[n]
        return word

    thousands, rest = divmod(number, 1000)
    word = below_thousand(thousands, False) + "tausend" if thousands else ""
    return word + below_thousand(rest, True)


def sample(count, seed, exclude=()):
    """`count` distinct numbers in [0, LIMIT), none in `exclude`.

    Small numbers are over-represented (a third are below 1,000), so that
    every word of the two vocabularies is seen often.
    """
    rng = np.random.default_rng(seed)
    exclude = set(exclude)
    if count + len(exclude) > LIMIT // 2:
        raise ValueError(f"Cannot draw {count:,} distinct numbers.")
    chosen = []
    seen = set(exclude)
    while len(chosen) < count:
        high = int(rng.choice([1000, LIMIT], p=[1 / 3, 2 / 3]))
        number = int(rng.integers(0, high))
        if number not in seen:
            seen.add(number)
            chosen.append(number)
    return chosen


def splits(sizes, seed=0):
    """Disjoint lists of numbers, one per size in `sizes` (train, val, ...)."""
    result, used = [], []
    for i, size in enumerate(sizes):
        numbers = sample(size, [seed, i], exclude=used)
        result.append(numbers)
        used.extend(numbers)
    return result


# The fine-tuning recipes' embedded tasks -------------------------------------


def comparisons(values, seed):
    """Sentence pairs `(english(a), english(b))` and labels "1" where a > b
    ("0" otherwise), b a shuffle of `values`."""
    rng = np.random.default_rng([seed, len(values)])
    others = rng.permutation(values)
    texts = [(english(a), english(b)) for a, b in zip(values, others)]
    return texts, [str(int(a > b)) for a, b in zip(values, others)]


def number_runs(values, seed):
    """Sentences of 1-3 numbers, each in English words ("forty-two
    thousand one", tagged B-words I-words I-words I-words) or in digits
    ("42,001", tagged B-digits). Where one number in words ends and the
    next begins has to be learned from how numbers are written.

    Returns:
        `(sentences, tags, line_numbers)`, as `labelled.read_conll` does.
    """
    rng = np.random.default_rng([seed, len(values), 7])
    sentences, tags, line_numbers = [], [], []
    i = 0
    while i < len(values):
        words, labels = [], []
        for number in values[i:i + int(rng.integers(1, 4))]:
            i += 1
            if rng.random() < 0.7:
                new, kind = english(number).split(), "words"
            else:
                new, kind = [f"{number:,}"], "digits"
            words += new
            labels += [f"B-{kind}"] + [f"I-{kind}"] * (len(new) - 1)
        sentences.append(words)
        tags.append(labels)
        line_numbers.append(list(range(1, len(words) + 1)))
    return sentences, tags, line_numbers


def completions(values):
    """`("847 in words:", " eight hundred forty-seven")` pairs."""
    return [(f"{n} in words:", f" {english(n)}") for n in values]
