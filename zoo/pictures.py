"""Drawing PNG pictures with matplotlib, off screen.

Every picture the zoo draws (a run's `curves.png`, a fine-tuning run's
`evaluation.png`, `zoo.show`'s attention maps) is made by `figure()` and
written by `save()`: whole or not at all, like every other file of a
model dir (`zoo.files.write_with`). `confusion_matrix` and `bars` draw the
fine-tuning recipes' evaluation pictures.
"""

import matplotlib
import numpy as np

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
    """Write `fig` to `path` as a PNG (atomically) and close it. Its plots
    are laid out tightly, unless it chose a layout engine of its own
    (`figure(..., layout="constrained")`, which makes room for colorbars)."""
    try:
        if fig.get_layout_engine() is None:
            fig.tight_layout()
        files.write_with(path, lambda temporary: fig.savefig(
            temporary, format="png", dpi=dpi))
    finally:
        pyplot.close(fig)
    return path


def confusion_matrix(matrix, names, path, title):
    """A classifier's confusion matrix: true classes down, predicted
    across, each cell's count written in it."""
    matrix = np.asarray(matrix)
    size = 1.2 + 0.6 * len(names)
    fig, axes = figure(width=max(4.0, size + 1), height=max(3.5, size))
    ax = axes[0, 0]
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    middle = matrix.max() / 2 if matrix.size else 0
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, f"{count:,}", ha="center", va="center",
                color="white" if count > middle else "black")
    fig.colorbar(image, ax=ax, label="examples")
    return save(fig, path)


def bars(labels, values, path, title, ylabel, notes=None, xlabel=None):
    """One bar per label; `notes` (optional) are written above the bars."""
    fig, axes = figure(width=max(4.5, 0.7 * len(labels) + 1.5), height=3.6)
    ax = axes[0, 0]
    ax.bar(range(len(labels)), values, color="tab:blue")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set(title=title, ylabel=ylabel, xlabel=xlabel or "")
    for i, note in enumerate(notes or []):
        ax.annotate(note, (i, values[i]), ha="center", va="bottom",
                    fontsize=8, xytext=(0, 2), textcoords="offset points")
    ax.set_ylim(0, max(list(values) + [1.0]) * 1.15)
    return save(fig, path)
