import fcntl
import os
import shutil

import pytest
from recipe_runner import PRETRAINING
from recipe_runner import run_recipe


@pytest.fixture(scope="session")
def text_file(tmp_path_factory):
    """About 40 KB of the stdlib's help topics, in five documents."""
    from pydoc_data.topics import topics

    folder = tmp_path_factory.mktemp("text")
    names = sorted(topics)[:5]
    for name in names:
        (folder / f"{name}.txt").write_text(topics[name][:8000])
    return str(folder)


@pytest.fixture(scope="session")
def pretrained(tmp_path_factory, text_file):
    """`pretrained(name)`: the model dir of a 2-step run of pretraining
    recipe `name` on `text_file`, with `PRETRAINING[name]`'s flags.

    Made once per test session and shared between the xdist workers (under
    a file lock). Tests must not write into it; copy it first.
    """
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the same folder for every worker

    def get(name):
        model_dir = shared / f"pretrained_{name}"
        with open(shared / f"pretrained_{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not model_dir.exists():
                partial = shared / f"pretrained_{name}.partial"
                shutil.rmtree(partial, ignore_errors=True)
                run_recipe(name, f"--model_dir={partial}",
                           f"--train_files={text_file}", "--batch_size=4",
                           "--steps=2", "--checkpoint_every=2",
                           *PRETRAINING[name])
                partial.rename(model_dir)
        return str(model_dir)

    return get


@pytest.fixture(scope="session")
def tsv_files(tmp_path_factory):
    """A tiny GLUE-style sentence classification set: train.tsv, dev.tsv."""
    folder = tmp_path_factory.mktemp("tsv")
    rows = {"train": [("a fine , moving film", 1), ("dull and long", 0)] * 10,
            "dev": [("moving", 1), ("dull", 0), ("long , fine", 1)]}
    paths = {}
    for split, examples in rows.items():
        path = folder / f"{split}.tsv"
        path.write_text("sentence\tlabel\n" + "".join(
            f"{text} \t{label}\n" for text, label in examples))
        paths[split] = str(path)
    return paths
