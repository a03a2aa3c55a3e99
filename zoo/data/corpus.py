"""Plain-text corpora: files, folders, and an embedded default.

A corpus is a list of documents (strings). Each file is one document, and
a folder contributes each of its `*.txt` files (recursively, in sorted
order). The default corpus needs no download: it is the reference
documentation that ships with every CPython in the standard library's
`pydoc_data` (the text `help("for")` prints), 79 topics, 0.46 MB.
"""

import glob
import os


def default_corpus():
    """The embedded corpus: one document per `pydoc_data` help topic."""
    from pydoc_data.topics import topics

    return [topics[name] for name in sorted(topics)]


def read_file(path):
    """The text of a UTF-8 file; a clear error if it is not one."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"Data file {path!r} does not exist.")
    with open(path, "rb") as file:
        data = file.read()
    data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ValueError(
            f"{path}, line {line} (byte {error.start}): not valid UTF-8 "
            f"({error.reason}). Convert the file to UTF-8, for example with "
            f"`iconv -f latin1 -t utf-8`."
        ) from None
    return text


def list_files(paths, patterns=("*.txt",)):
    """Expand files, folders (their files matching `patterns`, recursively)
    and globs."""
    if isinstance(paths, str):
        paths = [p for p in paths.split(",") if p]
    files = []
    for path in paths:
        if os.path.isdir(path):
            found = sorted(
                name for pattern in patterns
                for name in glob.glob(os.path.join(path, "**", pattern),
                                      recursive=True))
            if not found:
                raise FileNotFoundError(
                    f"Folder {path!r} holds no {' or '.join(patterns)} files.")
            files.extend(found)
        elif any(c in path for c in "*?["):
            found = sorted(glob.glob(path))
            if not found:
                raise FileNotFoundError(f"No file matches {path!r}.")
            files.extend(found)
        else:
            files.append(path)
    return files


def read_documents(paths):
    """One document per file of `paths` (see `list_files`)."""
    documents = []
    for path in list_files(paths):
        text = read_file(path)
        if not text.strip():
            raise ValueError(f"Data file {path!r} is empty.")
        documents.append(text)
    if not documents:
        raise ValueError("No data files given.")
    return documents


def split_documents(documents, validation_fraction):
    """Split a corpus at `1 - validation_fraction` of its characters.

    The documents are laid end to end; the first part is for training, the
    rest for validation, and the document at the cut is cut in two. With a
    single document this is the usual "first 90% / last 10%" split.

    Returns:
        `(train_documents, validation_documents)`.
    """
    if not 0 < validation_fraction < 1:
        raise ValueError(
            f"validation_fraction must be in (0, 1); got {validation_fraction}."
        )
    total = sum(len(d) for d in documents)
    cut = int(round(total * (1 - validation_fraction)))
    train, validation, seen = [], [], 0
    for document in documents:
        if seen + len(document) <= cut:
            train.append(document)
        elif seen >= cut:
            validation.append(document)
        else:
            train.append(document[: cut - seen])
            validation.append(document[cut - seen:])
        seen += len(document)
    train = [d for d in train if d]
    validation = [d for d in validation if d]
    if not train or not validation:
        raise ValueError(
            "The corpus is too small to hold out a validation split of "
            f"{validation_fraction}; give more text or --validation_files."
        )
    return train, validation


def text_sets(train_files, validation_files):
    """`{"train": documents, "validation": documents}`, both required."""
    if not train_files:
        raise ValueError("--task=text needs --train_files (and "
                         "--validation_files).")
    if not validation_files:
        raise ValueError("Give --validation_files too (held-out text).")
    return {"train": read_documents(train_files),
            "validation": read_documents(validation_files)}
