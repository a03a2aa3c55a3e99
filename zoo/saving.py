"""Loading a `.keras` file, with an error that says what is wrong with it.

Keras reports a zero-byte or truncated `.keras` file (a zip archive cut
short, as an interrupted copy or download leaves it) as "File not found";
`load_model` here says the file is corrupt, and names it.
"""

import os
import zipfile
import zlib

import keras


def _corrupt(path, reason):
    return ValueError(
        f"The model file is not a valid .keras file (corrupt or truncated): "
        f"{path} ({reason}). Save or copy it again.")


def load_model(path, compile=False):
    """`keras.saving.load_model(path)`, once `path` is known to be a whole
    `.keras` archive (a zip with the model's `config.json`).

    Raises:
        FileNotFoundError: if there is no file at `path`.
        ValueError: if the file is empty, truncated or damaged.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No .keras file at {path}.")
    with open(path, "rb"):  # unreadable (permissions): that error, not ours
        pass
    size = os.path.getsize(path)
    if not zipfile.is_zipfile(path):
        raise _corrupt(path, f"{size:,} bytes, not a whole zip archive")
    with zipfile.ZipFile(path) as archive:
        if "config.json" not in archive.namelist():
            raise _corrupt(path, "no config.json inside")
    try:
        return keras.saving.load_model(path, compile=compile)
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise _corrupt(path, f"{type(error).__name__}: {error}") from error
