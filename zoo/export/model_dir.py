"""Reading a finished recipe run for export: its model and what it knew.

A model dir (see `zoo.training.run`) holds `model.keras`, the final task
with its tokenizer, and `run.json`, which says what was trained: the
labels of a classifier or tagger, the sequence length, whether inputs are
sentence pairs. Only those two files are read here.
"""

import json
import os

from zoo import saving


def read_model_dir(model_dir):
    """`(task, export options)` of a finished run in `model_dir`."""
    path = os.path.join(model_dir, "model.keras")
    if not os.path.isfile(path):
        hint = (" The run has not finished: its final model is written after "
                "the last step." if os.path.isdir(
                    os.path.join(model_dir, "checkpoints")) else "")
        raise FileNotFoundError(
            f"No final model in {model_dir!r} (expected {path}).{hint}")
    run_file = os.path.join(model_dir, "run.json")
    if not os.path.isfile(run_file):
        raise FileNotFoundError(
            f"No run.json in {model_dir!r} (expected {run_file}): it is not "
            "a model dir written by a zoo recipe.")
    with open(run_file) as file:
        try:
            described = json.load(file)
        except json.JSONDecodeError as error:
            raise ValueError(f"{run_file} is not valid JSON ({error}); "
                             "it is damaged.") from error
    task = saving.load_model(path, compile=False)
    options = {
        "labels": described.get("labels"),
        "sequence_length": described.get("sequence_length"),
        "pairs": described.get("segments", 1) == 2,
    }
    return task, {k: v for k, v in options.items() if v is not None}
