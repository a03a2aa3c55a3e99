"""Writing a directory whole or not at all."""

import os
import shutil
import tempfile


def staging_directory(target):
    """A new empty directory beside `target` (same file system), to write
    into before `publish` moves it into place."""
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    return tempfile.mkdtemp(prefix=".zoo-staging-", dir=parent)


def publish(staging, target):
    """Move the finished `staging` directory to `target`, replacing what is
    there only once the new one is in place: a failure at any point leaves
    either the earlier `target` or the new one, never neither."""
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
