"""Labelled data for BERT fine-tuning: GLUE-style TSV and CoNLL-style BIO.

TSV (GLUE's format): a header row naming the columns, then one example per
row: one or two sentence columns and a label column, e.g. SST-2's
`sentence<TAB>label` or RTE's `index<TAB>sentence1<TAB>sentence2<TAB>label`.

CoNLL (BIO tags): one token per line, its tag in the last column
(`Empire<TAB>B-location`), a blank or whitespace-only line between
sentences, `-DOCSTART-` lines ignored.

Both readers are strict: a row with the wrong number of columns, a label
the training data never had, or a tag outside the BIO scheme is an error
naming the file and line, never a skipped example.
"""

import math

import numpy as np

from zoo.data import corpus
from zoo.data import tokenizers

IGNORED_COLUMNS = ("index", "idx", "id")


def _lines(path):
    text = corpus.read_file(path)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


# GLUE-style TSV -----------------------------------------------------------------


def read_tsv(path, label_column="label", text_columns=None):
    """`(texts, labels, text_columns)` of a TSV file with a header row.

    Args:
        path: the file.
        label_column: the header name of the label column.
        text_columns: header names of the one or two sentence columns;
            default: every column but the label and an index column.

    Returns:
        `(texts, labels, line_numbers, text_columns)`: tuples of one or two
        strings, label strings, each example's line number, and the
        sentence columns used.
    """
    lines = _lines(path)
    if not lines:
        raise ValueError(f"{path} is empty; it needs a header row.")
    header = lines[0].split("\t")
    if label_column not in header:
        raise ValueError(
            f"{path}, line 1: no {label_column!r} column in the header "
            f"{header}. Name the label column with --label_column."
        )
    if text_columns is None:
        text_columns = [c for c in header if c != label_column
                        and c.lower() not in IGNORED_COLUMNS]
    missing = [c for c in text_columns if c not in header]
    if missing:
        raise ValueError(f"{path}, line 1: no column(s) {missing} in the "
                         f"header {header}.")
    if not 1 <= len(text_columns) <= 2:
        raise ValueError(
            f"{path}: {len(text_columns)} sentence columns {text_columns}; "
            "a sentence or a sentence pair needs one or two. Choose them "
            "with --text_columns."
        )
    text_index = [header.index(c) for c in text_columns]
    label_index = header.index(label_column)
    texts, labels, line_numbers = [], [], []
    for number, line in enumerate(lines[1:], 2):
        if not line.strip():
            raise ValueError(f"{path}, line {number}: empty line.")
        fields = line.split("\t")
        if len(fields) != len(header):
            raise ValueError(
                f"{path}, line {number}: {len(fields)} tab-separated "
                f"columns, but the header has {len(header)} ({header}). A "
                "sentence with a tab in it must be cleaned first."
            )
        label = fields[label_index].strip()
        if not label:
            raise ValueError(f"{path}, line {number}: empty label.")
        texts.append(tuple(fields[i] for i in text_index))
        labels.append(label)
        line_numbers.append(number)
    if not texts:
        raise ValueError(f"{path} has a header but no examples.")
    return texts, labels, line_numbers, list(text_columns)


def label_ids(labels, names, path, line_numbers):
    """Labels (strings) -> ids in `names`; unseen labels are errors."""
    index = {name: i for i, name in enumerate(names)}
    ids = []
    for label, number in zip(labels, line_numbers):
        if label not in index:
            raise ValueError(
                f"{path}, line {number}: label {label!r} was not seen in the "
                f"training data (labels: {', '.join(names)})."
            )
        ids.append(index[label])
    return np.asarray(ids, "int32")


def sort_labels(labels, path="the training data"):
    """The distinct labels in a fixed order: numerically if they are all
    finite numbers ("2" before "10"), else as strings. Fewer than two
    labels is an error: there would be nothing to tell apart."""
    distinct = sorted(set(labels))
    if len(distinct) < 2:
        raise ValueError(f"{path} has only the label(s) {distinct}; a "
                         "classifier needs at least two.")
    try:
        numbers = [float(label) for label in distinct]
    except ValueError:
        return distinct
    if not all(math.isfinite(n) for n in numbers):
        return distinct
    return [label for _, label in sorted(zip(numbers, distinct))]


def round_robin(segments, budget):
    """Cut one or two lists to `budget` items in all, taking one item from
    each in turn (the first first) while both last."""
    if len(segments) == 1:
        return [segments[0][:budget]]
    a, b = segments
    keep_a = min(len(a), max(budget - budget // 2, budget - len(b)))
    return [a[:keep_a], b[:budget - keep_a]]


def encode_texts(tokenizer, texts, sequence_length, truncate, path,
                 line_numbers):
    """Pack one or two sentences per example into BERT inputs.

    `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`, segment ids 0 for a and 1
    for b. An example longer than `sequence_length` is an error naming its
    line unless `truncate`, which cuts the longer sentence first: the
    sentences keep what keras-hub's `MultiSegmentPacker` keeps with
    `truncate="round_robin"`, as the SavedModel export does.

    Returns:
        A list of `(token_ids, segment_ids)` int32 arrays.
    """
    columns = len(texts[0])
    pieces = [tokenizers.tokenize_lines(tokenizer, [t[c] for t in texts])
              for c in range(columns)]
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    budget = sequence_length - 1 - columns
    examples = []
    for i, number in enumerate(line_numbers):
        segments = [list(pieces[c][i]) for c in range(columns)]
        total = sum(len(s) for s in segments)
        if total > budget:
            if not truncate:
                raise ValueError(
                    f"{path}, line {number}: {total + 1 + columns} tokens "
                    f"with [CLS] and [SEP], more than --sequence_length="
                    f"{sequence_length}. Raise --sequence_length or pass "
                    "--truncate."
                )
            segments = round_robin(segments, budget)
        token_ids, segment_ids = [cls], [0]
        for c, segment in enumerate(segments):
            token_ids += segment + [sep]
            segment_ids += [c] * (len(segment) + 1)
        examples.append((np.asarray(token_ids, "int32"),
                         np.asarray(segment_ids, "int32")))
    return examples


# CoNLL-style BIO -------------------------------------------------------------------


def read_conll(path):
    """`(sentences, tags, line_numbers)` of a CoNLL file.

    Each sentence is a list of tokens, each with its tag and line number.
    Every token line must have as many whitespace-separated columns as the
    first one (token first, tag last), and every tag must be `O`, `B-x` or
    `I-x`.
    """
    sentences, tags, numbers = [], [], []
    words, labels, lines_of = [], [], []
    columns = None

    def flush():
        if words:
            sentences.append(list(words))
            tags.append(list(labels))
            numbers.append(list(lines_of))
            words.clear(), labels.clear(), lines_of.clear()

    for number, line in enumerate(_lines(path), 1):
        fields = line.split()
        if not fields or fields[0] == "-DOCSTART-":
            flush()
            continue
        if columns is None:
            columns = len(fields)
            if columns < 2:
                raise ValueError(
                    f"{path}, line {number}: {line!r} has one column; a "
                    "CoNLL line is a token and a tag (tab-separated)."
                )
        if len(fields) != columns:
            raise ValueError(
                f"{path}, line {number}: {len(fields)} columns, but the "
                f"file's first token line has {columns}. Each line is a "
                "token and its tag; sentences are separated by blank lines."
            )
        tag = fields[-1]
        if not is_bio(tag):
            raise ValueError(
                f"{path}, line {number}: tag {tag!r} is not in the BIO scheme "
                "(O, B-type or I-type). Convert IOBES or IO tags to BIO first."
            )
        words.append(fields[0])
        labels.append(tag)
        lines_of.append(number)
    flush()
    if not sentences:
        raise ValueError(f"{path} holds no tagged tokens.")
    return sentences, tags, numbers


def is_bio(tag):
    prefix, dash, kind = tag.partition("-")
    return tag == "O" or (prefix in ("B", "I") and dash and kind)


def tag_names(tags, path="the training data"):
    """Every tag of the training data, `O` first, then `B-x`, `I-x` per
    type; an `I-x` whose `B-x` never occurs still gets both."""
    kinds = sorted({t[2:] for sentence in tags for t in sentence if t != "O"})
    if not kinds:
        raise ValueError(f"{path} tags no entity (every tag is O); there "
                         "would be nothing to learn.")
    return ["O"] + [f"{p}-{kind}" for kind in kinds for p in ("B", "I")]


def tag_ids(tags, names, path, numbers):
    index = {name: i for i, name in enumerate(names)}
    result = []
    for sentence, lines in zip(tags, numbers):
        for tag, number in zip(sentence, lines):
            if tag not in index:
                raise ValueError(
                    f"{path}, line {number}: tag {tag!r} was not seen in the "
                    f"training data (tags: {', '.join(names)})."
                )
        result.append(np.asarray([index[t] for t in sentence], "int32"))
    return result


def encode_words(tokenizer, sentences, sequence_length, path, numbers):
    """Tokenize each word; mark the first piece of each word.

    Returns:
        A list of `(token_ids, first_piece)`: `[CLS] pieces [SEP]` and a
        bool array, True at the first piece of each word (the position that
        carries the word's tag). A word the tokenizer turns into nothing
        (e.g. a lone control character) gets `[UNK]` so that it still has a
        tag. A sentence longer than `sequence_length` is an error naming its
        first line: cutting it would drop tags.
    """
    flat = [word for sentence in sentences for word in sentence]
    pieces = tokenizers.tokenize_lines(tokenizer, flat)
    unknown = tokenizer.token_to_id("[UNK]")
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    examples, k = [], 0
    for sentence, lines in zip(sentences, numbers):
        token_ids, first = [cls], [False]
        for _ in sentence:
            word = list(pieces[k]) or [unknown]
            k += 1
            token_ids += word
            first += [True] + [False] * (len(word) - 1)
        token_ids.append(sep)
        first.append(False)
        if len(token_ids) > sequence_length:
            raise ValueError(
                f"{path}, lines {lines[0]}-{lines[-1]}: the sentence is "
                f"{len(token_ids)} tokens with [CLS] and [SEP], more than "
                f"--sequence_length={sequence_length}. Raise "
                "--sequence_length (within the model's max_sequence_length)."
            )
        examples.append((np.asarray(token_ids, "int32"),
                         np.asarray(first, bool)))
    return examples
