"""Writing a directory whole or not at all."""

import os
import shutil
import tempfile


def staging_directory(target):
    """A new empty directory beside `target` (same file system), to write
    into before `publish` moves it into place."""
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".zoo-staging-", dir=parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)  # mkdtemp's 0700 would stay
    return staging


def publish(staging, target):
    """Move the finished `staging` directory to `target`, replacing what is
    there only once the new one is in place: an exception at any point
    leaves the earlier `target` or the new one. (A process killed between
    the two renames leaves the earlier one at `staging + ".previous"`.)"""
    target = os.path.abspath(target)
    previous = staging + ".previous"
    if os.path.exists(target):
        os.replace(target, previous)  # kept until the new one is in
        try:
            os.replace(staging, target)
        except BaseException:
            os.replace(previous, target)
            raise
        shutil.rmtree(previous, ignore_errors=True)
    else:
        os.replace(staging, target)
