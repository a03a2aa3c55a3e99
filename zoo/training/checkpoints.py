"""A run's checkpoint: its whole state at one step, committed as a unit.

`Checkpoint(directory).save(task)` writes the task's and its optimizer's
variables (dropout's random-seed states included) with the step and data
position; `restore(task)` loads the newest one into a task built the same
way, or refuses it, listing what differs. docs/reliability.md has the
guarantees.
"""

import json
import os
import re
import shutil

import keras
import numpy as np
import safetensors.numpy

from zoo import files


def read_json(path):
    with open(path) as file:
        try:
            return json.load(file)
        except ValueError as error:
            raise ValueError(f"{path} is corrupt (not valid JSON: {error})."
                             ) from None


def optimizer_step(model):
    """The optimizer's step count as an int (also when the variable is
    mirrored over the devices of a `tf.distribute` strategy)."""
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


class Checkpoint:
    """The last good state of a run, in `directory`, committed as one unit.

    Each checkpoint is a directory `step-00000500/` holding

        variables.safetensors   every variable of the task and of its
                                optimizer, in order, named "00007/<path>":
                                weights, optimizer moments and step, and
                                the dropout layers' random-seed states
        state.json              the step, the batches read so far, the
                                training loss, the number of variables

    It is written into a staging directory and renamed into place in one
    `os.rename`, so a reader sees a whole checkpoint or none; only then is
    the previous one deleted. The data's random draws (shuffling, window
    offsets, masks, span corruption) are functions of `--seed` and the
    batches read, so these files are the run's whole state.
    """

    VARIABLES = "variables.safetensors"
    STATE = "state.json"

    def __init__(self, directory):
        self.directory = directory

    def latest(self):
        """The newest whole checkpoint's directory, or None."""
        if not os.path.isdir(self.directory):
            return None
        if os.path.exists(os.path.join(self.directory,
                                       "checkpoint.weights.h5")):
            raise ValueError(
                f"{self.directory} holds a checkpoint in an older zoo "
                "format (checkpoint.weights.h5), which cannot be resumed "
                "exactly; start a new --model_dir.")
        steps = sorted(name for name in os.listdir(self.directory)
                       if name.startswith("step-"))
        return os.path.join(self.directory, steps[-1]) if steps else None

    def exists(self):
        return self.latest() is not None

    def state(self):
        """The newest checkpoint's state.json (`{}` if none)."""
        latest = self.latest()
        return read_json(os.path.join(latest, self.STATE)) if latest else {}

    def save(self, model, **extra):
        """Commit `model`'s variables and its optimizer's as step N."""
        step = optimizer_step(model)
        target = os.path.join(self.directory, f"step-{step:08d}")
        kept = self.latest()
        staging = files.staging_directory(target)
        try:
            names, arrays = _variables(model)
            safetensors.numpy.save_file(
                dict(zip(names, arrays)), os.path.join(staging, "variables"))
            files.write_point("checkpoint:partial", partial_file=os.path.join(
                staging, "variables"))
            os.rename(os.path.join(staging, "variables"),
                      os.path.join(staging, self.VARIABLES))
            files.write_text(os.path.join(staging, self.STATE), json.dumps(
                {"step": step, "batches_read": step, "variables": len(names),
                 **extra}, indent=2, sort_keys=True) + "\n")
            files.sync_tree(staging)
            files.write_point("checkpoint:complete")
            if os.path.exists(target):  # the same step, saved again
                os.rename(target, staging + ".replaced")
            os.rename(staging, target)
        except BaseException as error:
            shutil.rmtree(staging, ignore_errors=True)
            if not isinstance(error, Exception):
                raise
            kept = (f"the checkpoint of {kept} is kept" if kept
                    else "no earlier checkpoint exists")
            raise CheckpointWriteError(
                f"Could not write the checkpoint of step {step} to {target}: "
                f"{getattr(error, 'strerror', None) or error}; {kept}. Free "
                "space (or fix the file system) and continue with --resume."
            ) from error
        files.write_point("checkpoint:placed")
        files.sync_directory(self.directory)
        for name in os.listdir(self.directory):  # older steps, leftovers
            path = os.path.join(self.directory, name)
            if path != target:
                shutil.rmtree(path, ignore_errors=True)
        return step

    def restore(self, model):
        """Load the newest checkpoint into `model` and its optimizer;
        returns its state (`{}` when there is none)."""
        latest = self.latest()
        if latest is None:
            return {}
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        path = os.path.join(latest, self.VARIABLES)
        try:
            saved = safetensors.numpy.load_file(path)
            state = read_json(os.path.join(latest, self.STATE))
        except Exception as error:
            raise ValueError(f"The checkpoint {latest} is corrupt ({error}); "
                             "it cannot be resumed.") from None
        _, variables = _variables(model, values=False)
        check_fits(saved, variables, latest)
        for name, variable in zip(sorted(saved), variables):  # by position
            variable.assign(saved[name])
        return state


class CheckpointWriteError(OSError):
    """A checkpoint could not be written; the previous one is intact."""

    def __str__(self):
        return self.args[0]


def _variables(model, values=True):
    """`(names, arrays)` of the task's variables (weights and random-seed
    states) then its optimizer's, in order; `values=False`: the variables."""
    variables = list(model.variables) + list(model.optimizer.variables)
    names = [f"{i:05d}/{v.path}" for i, v in enumerate(variables)]
    if not values:
        return names, variables
    return names, [np.array(keras.ops.convert_to_numpy(v), order="C")
                   for v in variables]


def check_fits(saved, variables, path):
    """Refuse a checkpoint whose variables differ from the model's in
    count, order, name, shape or dtype, listing the differences. Names
    are compared without the numbers Keras appends to make them unique in
    a process ("adam_w_2", "seed_generator_5")."""
    names = sorted(saved)  # "00007/..." sorts by position
    problems = []
    if len(names) != len(variables):
        problems.append(f"it has {len(names)} variables, this model "
                        f"{len(variables)}")
    for name, variable in zip(names, variables):
        there = (_plain(name.split("/", 1)[1]), tuple(saved[name].shape),
                 np.dtype(saved[name].dtype).name)
        here = (_plain(variable.path), tuple(variable.shape),
                np.dtype(variable.dtype).name)
        if there != here:
            problems.append(f"{' '.join(map(str, there))} there, "
                            f"{' '.join(map(str, here))} here")
    if problems:
        shown = "; ".join(problems[:8]) + (
            f"; and {len(problems) - 8} more" if len(problems) > 8 else "")
        raise ValueError(
            f"The checkpoint {path} does not fit this model: {shown}. It was "
            "written by a different architecture or vocabulary; use a new "
            "--model_dir. (The checkpoint is left as it is.)")


def _plain(path):
    """A variable path without Keras' uniquifying suffixes."""
    return re.sub(r"_\d+(?=[/_])", "", path)
