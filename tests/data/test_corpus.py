"""Corpus readers: files, folders, the embedded default, the split."""

import pytest

from zoo.data import corpus


def test_default_corpus_is_embedded():
    documents = corpus.default_corpus()
    assert len(documents) > 50
    assert sum(map(len, documents)) > 400_000
    assert any("for_stmt" in d or "The for statement" in d for d in documents)


def test_files_folders_and_globs(tmp_path):
    (tmp_path / "a.txt").write_text("alpha\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("beta\n")
    (tmp_path / "c.md").write_text("not text\n")
    assert corpus.read_documents([str(tmp_path)]) == ["alpha\n", "beta\n"]
    assert corpus.read_documents(str(tmp_path / "*.md")) == ["not text\n"]
    assert corpus.read_documents(
        f"{tmp_path / 'a.txt'},{tmp_path / 'c.md'}") == ["alpha\n", "not text\n"]


def test_bad_files_name_the_file_and_line(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        corpus.read_documents([str(tmp_path / "missing.txt")])
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(ValueError, match="empty.txt' is empty"):
        corpus.read_documents([str(tmp_path / "empty.txt")])
    (tmp_path / "latin1.txt").write_bytes(b"one\ntwo\ncaf\xe9\n")
    with pytest.raises(ValueError, match=r"latin1.txt, line 3 .*not valid UTF-8"):
        corpus.read_documents([str(tmp_path / "latin1.txt")])
    (tmp_path / "folder").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no"):
        corpus.read_documents([str(tmp_path / "folder")])


def test_split_holds_out_the_last_fraction_of_the_text():
    train, validation = corpus.split_documents(["a" * 60, "b" * 40], 0.1)
    assert train == ["a" * 60, "b" * 30]
    assert validation == ["b" * 10]
    train, validation = corpus.split_documents(["x" * 1000], 0.1)
    assert (train, validation) == (["x" * 900], ["x" * 100])
    with pytest.raises(ValueError, match="too small"):
        corpus.split_documents(["abc"], 0.1)
