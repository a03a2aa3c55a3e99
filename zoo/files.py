"""Writing files and directories whole or not at all.

Every file a run writes goes through `write_text`, `write_with` or a
staging directory that `publish` (or one `os.rename`) moves into place: a
reader, or a run resumed after a kill, sees the earlier version or the new
one, never a part. Files are flushed to the disk (fsync) before they are
renamed into place.

Two environment variables let the tests break a write at a named point
(`write_point`), so that crash-safety is tested, not assumed:

    ZOO_CRASH_AT=NAME[#N]   the process kills itself (SIGKILL) at the N-th
                            time (default: first) it reaches point NAME
    ZOO_FAIL_AT=NAME[#N]    the write fails there with "No space left on
                            device", as a full disk would
    ZOO_WRITE_LOG=PATH      every point reached is appended to PATH

A point's NAME is `<file>:<stage>`: `<file>` is the written file's (or
directory's) name, e.g. `metrics.json` or `checkpoint`, and `<stage>` is
`partial` (half the bytes written), `complete` (all written, not yet in
place), `aside` (a directory's earlier version moved aside, the new one
not yet in place) or `placed` (renamed into place).
"""

import errno
import os
import shutil
import signal
import tempfile

_reached = {}


def write_point(name, partial_file=None):
    """Test hook: crash or fail here if ZOO_CRASH_AT / ZOO_FAIL_AT name
    this point. `partial_file` is cut to half its size before a crash at
    a `partial` point (a kill in the middle of writing it)."""
    log = os.environ.get("ZOO_WRITE_LOG")
    if log:
        with open(log, "a") as file:
            file.write(name + "\n")
    _reached[name] = _reached.get(name, 0) + 1
    for variable in ("ZOO_CRASH_AT", "ZOO_FAIL_AT"):
        target = os.environ.get(variable)
        if not target:
            continue
        point, _, count = target.partition("#")
        if point != name or _reached[name] != int(count or 1):
            continue
        if variable == "ZOO_FAIL_AT":
            raise OSError(errno.ENOSPC, "No space left on device (injected "
                          f"by ZOO_FAIL_AT={target})", partial_file)
        if partial_file and os.path.isfile(partial_file):
            os.truncate(partial_file, os.path.getsize(partial_file) // 2)
        os.kill(os.getpid(), signal.SIGKILL)


def write_text(path, text):
    """Write `text` to `path` atomically (UTF-8)."""
    write_with(path, lambda temporary: _write_bytes(temporary,
                                                    text.encode("utf-8")))


def write_with(path, writer):
    """`writer(temporary_path)` writes the file; it is then fsynced and
    renamed to `path`. On any error the temporary file is removed and
    `path` is as it was."""
    directory = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    os.makedirs(directory, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".partial"
                                         + os.path.splitext(name)[1],
                                         dir=directory)
    os.close(handle)
    try:
        writer(temporary)
        write_point(f"{name}:partial", partial_file=temporary)
        _fsync(temporary)
        write_point(f"{name}:complete", partial_file=temporary)
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    _fsync(directory)
    write_point(f"{name}:placed")


def _write_bytes(path, data):
    with open(path, "wb") as file:
        file.write(data)


def _fsync(path):
    """Flush a file's (or a directory's entries') data to the disk. A
    failure is an error (a full disk may show only here), except that
    some file systems cannot fsync a directory at all."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    except OSError as error:
        if not (os.path.isdir(path) and error.errno in (
                errno.EINVAL, errno.ENOTSUP, errno.EBADF)):
            raise
    finally:
        os.close(descriptor)


def _read_umask():
    umask = os.umask(0o022)  # the only way to read it; set back at once
    os.umask(umask)
    return umask


_UMASK = _read_umask()  # once: changing it later races other threads


def _umask():
    return _UMASK


def staging_directory(target):
    """A new empty directory beside `target` (same file system), to write
    into before `publish` moves it into place."""
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(
        prefix=f".{os.path.basename(target)}.staging-", dir=parent)
    os.chmod(staging, 0o777 & ~_umask())  # mkdtemp's 0700 would stay
    return staging


def remove_leftovers(directory):
    """Delete what killed writers left in `directory` (not below it):
    their temporary files and staging directories; a directory that
    `publish` had moved aside when it was killed is put back. Only the one
    process that writes `directory` may call it."""
    if not os.path.isdir(directory):
        return
    for name in os.listdir(directory):
        target = os.path.join(directory, name.split(".staging-")[0][1:])
        if (name.startswith(".") and name.endswith(".previous")
                and not os.path.exists(target)):
            os.replace(os.path.join(directory, name), target)  # see publish
            continue
        if name.startswith(".") and (".partial" in name or ".replaced" in name
                                     or ".staging-" in name):
            path = os.path.join(directory, name)
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.remove(path)


def sync_directory(directory):
    """fsync a directory: its entries' renames reach the disk."""
    _fsync(directory)


def sync_tree(directory):
    """fsync every file under `directory`, then the directories."""
    for root, _, names in os.walk(directory):
        for name in names:
            _fsync(os.path.join(root, name))
        _fsync(root)


def publish(staging, target):
    """Move the finished `staging` directory to `target`, replacing what is
    there only once the new one is in place: an exception at any point
    leaves the earlier `target` or the new one. (A process killed between
    the two renames leaves the earlier one at `staging + ".previous"`,
    which `remove_leftovers` puts back.)"""
    target = os.path.abspath(target)
    name = os.path.basename(target)
    sync_tree(staging)
    write_point(f"{name}:complete")
    previous = staging + ".previous"
    if os.path.exists(target):
        os.replace(target, previous)  # kept until the new one is in
        write_point(f"{name}:aside")
        try:
            os.replace(staging, target)
        except BaseException:
            os.replace(previous, target)
            raise
        shutil.rmtree(previous, ignore_errors=True)
    else:
        os.replace(staging, target)
    _fsync(os.path.dirname(target))
    write_point(f"{name}:placed")
