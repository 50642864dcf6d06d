"""Pictures a learner would rather look at than read. Matplotlib without a screen."""

from __future__ import annotations

import pathlib


def pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


MARKERS_UP_TO = 40  # a curve with this many points or fewer gets a marker on each


def marker(points) -> str | None:
    """``"o"`` for a short series (a one-epoch run draws one visible point, not an empty axis), else None."""
    return "o" if len(points) <= MARKERS_UP_TO else None


def learning_curves(history: dict[str, list[float]], title: str = "Learning curves"):
    """One panel per metric, train and validation together; short runs get a marker per epoch. Returns the figure."""
    plt = pyplot()
    names = [k for k in history if not k.startswith("val_") and k not in ("epoch", "learning_rate")]
    fig, axes = plt.subplots(1, max(1, len(names)), figsize=(4.5 * max(1, len(names)), 3.4), squeeze=False)
    for ax, name in zip(axes[0], names):
        ax.plot(range(1, len(history[name]) + 1), history[name], marker=marker(history[name]), label="train")
        if f"val_{name}" in history:
            val = history[f"val_{name}"]
            ax.plot(range(1, len(val) + 1), val, marker=marker(val), label="validation")
        ax.set_xlabel("epoch")
        epochs = max(len(history[name]), len(history.get(f"val_{name}", ())))
        if epochs <= 12:  # whole epochs only, and a one-epoch run gets a readable axis
            ax.set_xticks(range(1, epochs + 1))
            ax.set_xlim(0.5, epochs + 0.5)
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def image_grid(images, titles=None, *, cols: int = 8, cmap="gray", title: str = "", size: float = 1.6):
    """A grid of images (N, H, W[, C]) with optional per-image titles."""
    import numpy as np

    plt = pyplot()
    images = np.asarray(images)
    n = len(images)
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows + (0.4 if title else 0)), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            img = images[i]
            if img.ndim == 3 and img.shape[-1] == 1:
                img = img[..., 0]
            ax.imshow(img, cmap=cmap if img.ndim == 2 else None)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def save(fig, path: pathlib.Path) -> pathlib.Path:
    plt = pyplot()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
