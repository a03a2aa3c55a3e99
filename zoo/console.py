"""What the zoo's commands print, and what they keep out of the way.

A normal run shows the zoo's own lines only. TensorFlow's C++ log (its
CUDA probing on a machine without a GPU, oneDNN notices, "Ignoring Assert
operator" lines) is off unless `TF_CPP_MIN_LOG_LEVEL` is set (0 shows
all of it); the devices found are said in one line of ours instead
(`devices`). Python warnings, which the commands do not expect, print as
one line each (`one_line_warnings`); `--verbosity=1` keeps Python's own
format.

This module imports nothing heavy: `zoo/__init__.py` calls
`quiet_tensorflow` before TensorFlow is loaded.
"""


import os
import sys
import tempfile
import warnings

RECIPES = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "recipes")


# What TensorFlow prints while it loads, whatever its log level: notices,
# not problems (the devices found are said by `devices()` instead).
LOADING_NOTICES = (
    "All log messages before absl::InitializeLog() is called",
    "oneDNN custom operations are on",
    "Could not find cuda drivers on your machine",
)


def quiet_tensorflow():
    """In a zoo command (a recipe, `python -m zoo.show`), turn
    TensorFlow's C++ log off unless the user set its level, and load
    TensorFlow without its loading notices.

    TensorFlow reads `TF_CPP_MIN_LOG_LEVEL` from the environment the
    process started with (setting `os.environ` later has no effect), so
    the command is started again in place (`os.execv`: same process id,
    same arguments) with the variable set. Programs that import the zoo
    as a library keep TensorFlow's own setting.
    """
    if "tensorflow" in sys.modules or not _is_zoo_command():
        return
    if "TF_CPP_MIN_LOG_LEVEL" not in os.environ:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])
    if os.environ["TF_CPP_MIN_LOG_LEVEL"] >= "1":
        _import_tensorflow_without(LOADING_NOTICES)


def _import_tensorflow_without(notices):
    """Import TensorFlow with the process's stderr (file descriptor 2,
    where its C++ code writes) going to a file, then write back every
    line but the `notices`."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            log.seek(0)
            for line in log.read().decode("utf-8", "replace").splitlines(True):
                if not any(notice in line for notice in notices):
                    sys.stderr.write(line)


def _is_zoo_command():
    """Whether Python was started as `python [options] recipes/NAME.py`
    (a script of this checkout's recipes/) or `python [options] -m
    zoo.NAME`, and not by a wrapper (coverage, a debugger) or `-c`."""
    arguments = sys.orig_argv[1:]
    while arguments and arguments[0].startswith("-"):
        option = arguments.pop(0)
        if option == "-m":
            return bool(arguments) and arguments[0].startswith("zoo.")
        if option in ("-c", "-"):
            return False
        if option in ("-W", "-X", "--check-hash-based-pycs"):
            arguments = arguments[1:]  # the option's value
    if not arguments or not arguments[0].endswith(".py"):
        return False
    script = os.path.realpath(arguments[0])
    return (os.path.isfile(script) and sys.argv[:1] != [""]
            and os.path.realpath(sys.argv[0]) == script
            and os.path.dirname(script) == os.path.realpath(RECIPES))


def one_line_warnings():
    """Print each Python warning as `warning: <message> (<where>)`."""

    def one_line(message, category, filename, lineno, line=None):
        text = " ".join(str(message).split())
        return (f"warning: {text} ({category.__name__} at "
                f"{os.path.basename(filename)}:{lineno})\n")

    warnings.formatwarning = one_line


def say(*parts):
    """One line on stdout, at once (a log file sees it in order)."""
    print(*parts, flush=True)


def devices():
    """`Keras 3.15.1 on tensorflow; no GPU found, so the CPU (2 cores)`."""
    import keras  # not at import: quiet_tensorflow must come first

    backend = keras.backend.backend()
    accelerators = []
    if backend == "tensorflow":
        import tensorflow as tf

        accelerators = [d.name for d in tf.config.list_physical_devices("GPU")]
    elif backend == "jax":
        import jax

        accelerators = [str(d) for d in jax.devices() if d.platform != "cpu"]
    elif backend == "torch":
        import torch

        accelerators = [torch.cuda.get_device_name(i)
                        for i in range(torch.cuda.device_count())]
    found = (f"{len(accelerators)} accelerator(s): {', '.join(accelerators)}"
             if accelerators else "no GPU found, so the CPU")
    if not accelerators and os.path.exists("/dev/nvidia0"):
        found = ("no usable GPU although /dev/nvidia0 exists "
                 "(TF_CPP_MIN_LOG_LEVEL=0 shows TensorFlow's reasons), so "
                 "the CPU")
    return (f"Keras {keras.__version__} on {backend}; {found} "
            f"({os.cpu_count()} cores)")
