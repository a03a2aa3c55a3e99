import pytest


@pytest.fixture(scope="session")
def text_file(tmp_path_factory):
    """About 40 KB of the stdlib's help topics, in five documents."""
    from pydoc_data.topics import topics

    folder = tmp_path_factory.mktemp("text")
    names = sorted(topics)[:5]
    for name in names:
        (folder / f"{name}.txt").write_text(topics[name][:8000])
    return str(folder)
