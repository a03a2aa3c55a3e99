"""Drawing PNG pictures with matplotlib, off screen.

Every picture the zoo draws (a run's `curves.png`, a fine-tuning run's
evaluation picture, `zoo.show`'s attention maps) is made by `figure()` and
written by `save()`: whole or not at all, like every other file of a
model dir (`zoo.files.write_with`).
"""

import matplotlib

matplotlib.use("Agg")  # no screen: draw into memory, write PNG files

from matplotlib import pyplot  # noqa: E402  (after choosing the backend)

from zoo import files  # noqa: E402


def figure(rows=1, columns=1, width=5.0, height=4.0, **kwargs):
    """`(figure, axes)`: a grid of `rows` x `columns` plots, each
    `width` x `height` inches; `axes` is always a 2-D array."""
    return pyplot.subplots(rows, columns, figsize=(width * columns,
                                                  height * rows),
                           squeeze=False, **kwargs)


def save(fig, path, dpi=110):
    """Write `fig` to `path` as a PNG (atomically) and close it."""
    try:
        fig.tight_layout()
        files.write_with(path, lambda temporary: fig.savefig(
            temporary, format="png", dpi=dpi))
    finally:
        pyplot.close(fig)
    return path
