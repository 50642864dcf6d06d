"""Named datasets, resolved offline first, with fixed seeded splits.

``load(name)`` looks for a dataset in this order and uses the first that answers:

1. a local cache (``$DLBOOTCAMP_DATA`` or ``~/.cache/dlbootcamp/datasets``), ``NAME.npz``;
2. an offline copy that an installed package ships (scikit-learn, scikit-image, Debian files);
3. TensorFlow Datasets, which downloads (skipped when ``DLBOOTCAMP_OFFLINE=1``);

and otherwise raises :class:`DataUnavailable` naming what to install. Splits are seeded and
fixed: the test split is for the final score only, never for training or early stopping.

:func:`missing` says whether a dataset is on this machine by looking at files only; this module
imports NumPy inside the functions that need it, so ``dlbootcamp lessons`` can ask it instantly.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import pathlib
from typing import TYPE_CHECKING, Callable

from dlbootcamp.errors import DataUnavailable

if TYPE_CHECKING:
    import numpy as np

FASHION_MNIST_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_LABELS = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


@dataclasses.dataclass(frozen=True)
class Split:
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.x)

    def take(self, n: int) -> "Split":
        return Split(self.x[:n], self.y[:n])


@dataclasses.dataclass(frozen=True)
class Splits:
    """Train / validation / test. Validation drives early stopping; test scores once."""

    train: Split
    val: Split
    test: Split
    labels: tuple[str, ...] = ()
    source: str = ""  # where the data came from, for the run record

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


@dataclasses.dataclass(frozen=True)
class Source:
    """One place a dataset can come from."""

    name: str  # e.g. "debian:dataset-fashion-mnist"
    load: Callable[[], dict[str, np.ndarray]]
    available: Callable[[], bool]
    how_to_get: str  # shown when no source answers
    downloads: bool = False  # True when it fetches from the network (not "installed on this machine")


# --- splits --------------------------------------------------------------------------------

def split_indices(n: int, *, fractions: tuple[float, float], seed: int,
                  stratify: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded train/val/test indices; ``fractions`` = (val, test). Stratified when labels are given."""
    import numpy as np

    val_frac, test_frac = fractions
    if not (0 <= val_frac < 1 and 0 < test_frac < 1 and val_frac + test_frac < 1):
        raise ValueError(f"Invalid split fractions {fractions}: expected val >= 0, test > 0, val + test < 1.")
    rng = np.random.default_rng(seed)
    groups = [np.arange(n)] if stratify is None else [np.flatnonzero(stratify == c) for c in np.unique(stratify)]
    train, val, test = [], [], []
    for g in groups:
        g = rng.permutation(g)
        n_test = max(1, round(len(g) * test_frac))
        n_val = round(len(g) * val_frac)
        test.append(g[:n_test])
        val.append(g[n_test:n_test + n_val])
        train.append(g[n_test + n_val:])
    return tuple(np.sort(np.concatenate(part)) for part in (train, val, test))


def split_arrays(x: np.ndarray, y: np.ndarray, *, val: float = 0.1, test: float = 0.2, seed: int = 0,
                 stratify: bool = True, labels: tuple[str, ...] = (), source: str = "") -> Splits:
    tr, va, te = split_indices(len(x), fractions=(val, test), seed=seed, stratify=y if stratify else None)
    return Splits(Split(x[tr], y[tr]), Split(x[va], y[va]), Split(x[te], y[te]), labels, source)


# --- sources --------------------------------------------------------------------------------

def cache_dir() -> pathlib.Path:
    return pathlib.Path(os.environ.get("DLBOOTCAMP_DATA", pathlib.Path.home() / ".cache" / "dlbootcamp" / "datasets"))


def _read_idx(path: pathlib.Path) -> np.ndarray:
    import numpy as np

    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _fashion_debian() -> dict[str, np.ndarray]:
    d = FASHION_MNIST_DIR
    return {
        "x_train": _read_idx(d / "train-images-idx3-ubyte.gz"),
        "y_train": _read_idx(d / "train-labels-idx1-ubyte.gz"),
        "x_test": _read_idx(d / "t10k-images-idx3-ubyte.gz"),
        "y_test": _read_idx(d / "t10k-labels-idx1-ubyte.gz"),
    }


def _tfds(name: str) -> Callable[[], dict[str, np.ndarray]]:
    def load() -> dict[str, np.ndarray]:
        import tensorflow_datasets as tfds

        out = {}
        for split in ("train", "test"):
            x, y = tfds.as_numpy(tfds.load(name, split=split, batch_size=-1, as_supervised=True))
            out[f"x_{split}"], out[f"y_{split}"] = x, y
        return out

    return load


def _tfds_allowed() -> bool:
    if os.environ.get("DLBOOTCAMP_OFFLINE", "") not in ("", "0"):
        return False
    import importlib.util

    return importlib.util.find_spec("tensorflow_datasets") is not None


def _digits() -> dict[str, np.ndarray]:
    import numpy as np

    from sklearn.datasets import load_digits

    d = load_digits()
    return {"x": d.images.astype(np.uint8), "y": d.target.astype(np.int64)}


def _breast_cancer() -> dict[str, np.ndarray]:
    import numpy as np

    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer()
    return {"x": d.data.astype(np.float32), "y": d.target.astype(np.int64),
            "feature_names": np.array(d.feature_names)}


def _always() -> bool:
    return True


SOURCES: dict[str, list[Source]] = {
    "digits": [Source("scikit-learn:load_digits", _digits, _always, "pip install scikit-learn")],
    "breast_cancer": [Source("scikit-learn:load_breast_cancer", _breast_cancer, _always, "pip install scikit-learn")],
    "fashion_mnist": [
        Source("debian:dataset-fashion-mnist", _fashion_debian,
               lambda: (FASHION_MNIST_DIR / "t10k-labels-idx1-ubyte.gz").exists(),
               "apt-get install dataset-fashion-mnist"),
        Source("tfds:fashion_mnist", _tfds("fashion_mnist"), _tfds_allowed,
               "go online with tensorflow-datasets installed (unset DLBOOTCAMP_OFFLINE)", downloads=True),
    ],
}


def resolve(name: str, sources: dict[str, list[Source]] | None = None) -> tuple[dict[str, np.ndarray], str]:
    """Arrays of a named dataset and the name of the source that gave them."""
    import numpy as np

    sources = SOURCES if sources is None else sources
    if name not in sources:
        raise DataUnavailable(f"Unknown dataset {name!r}; expected one of {sorted(sources)}.")
    cached = cache_dir() / f"{name}.npz"
    if cached.exists():
        with np.load(cached, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}, f"cache:{cached}"
    tried = []
    for src in sources[name]:
        if not src.available():
            tried.append(src)
            continue
        try:
            return src.load(), src.name
        except Exception as exc:  # a source that fails is reported with the others
            tried.append(dataclasses.replace(src, how_to_get=f"{src.how_to_get} (it failed: {exc})"))
    hints = "; or ".join(s.how_to_get for s in tried)
    raise DataUnavailable(f"Dataset {name!r} is not available on this machine: no cached copy at {cached} "
                          f"and no offline source found. To get it: {hints}.")


def missing(name: str) -> str | None:
    """How to install dataset ``name`` when no copy is on this machine; None when one is.

    Looks at files only (the cache, then each offline source), the way :func:`resolve` and
    :func:`dlbootcamp.data.corpus.kjv_chapters` find them; a source that would download does not
    count as installed. ``name`` is a key of :data:`SOURCES` or ``"kjv"`` (the Bible corpus).
    """
    if name == "kjv":
        from dlbootcamp.data import corpus

        return corpus.missing()
    if name not in SOURCES:
        raise DataUnavailable(f"Unknown dataset {name!r}; expected one of {sorted([*SOURCES, 'kjv'])}.")
    if (cache_dir() / f"{name}.npz").exists():
        return None
    offline = [src for src in SOURCES[name] if not src.downloads]
    if any(src.available() for src in offline):
        return None
    return "; or ".join(src.how_to_get for src in offline)


def can_download(name: str) -> bool:
    """True when a source of ``name`` would download it now (online, with its package installed)."""
    return any(src.downloads and src.available() for src in SOURCES.get(name, ()))


def save_to_cache(name: str, arrays: dict[str, np.ndarray]) -> pathlib.Path:
    """Write arrays to the cache atomically (so a later load finds them offline)."""
    import numpy as np

    path = cache_dir() / f"{name}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    return path


# --- named datasets with their fixed splits ---------------------------------------------------

def digits(*, seed: int = 0, val: float = 0.1, test: float = 0.2) -> Splits:
    """scikit-learn's 1797 8x8 digits, scaled to [0, 1], split stratified by a seed."""
    import numpy as np

    arrays, src = resolve("digits")
    x = arrays["x"].astype(np.float32) / 16.0
    return split_arrays(x, arrays["y"], val=val, test=test, seed=seed,
                        labels=tuple(str(i) for i in range(10)), source=src)


def fashion_mnist(*, seed: int = 0, val: int = 5000) -> Splits:
    """Fashion-MNIST 28x28x1 in [0, 1]: the official 10k test set, ``val`` images of train held out."""
    import numpy as np

    arrays, src = resolve("fashion_mnist")
    x_train = arrays["x_train"].reshape(-1, 28, 28, 1).astype(np.float32) / 255.0
    x_test = arrays["x_test"].reshape(-1, 28, 28, 1).astype(np.float32) / 255.0
    y_train, y_test = arrays["y_train"].astype(np.int64), arrays["y_test"].astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x_train))
    va, tr = order[:val], order[val:]
    return Splits(Split(x_train[tr], y_train[tr]), Split(x_train[va], y_train[va]),
                  Split(x_test, y_test), FASHION_MNIST_LABELS, src)


def subsample(splits: Splits, *, train: int, val: int, test: int) -> Splits:
    """The first n of each split (for --quick presets); the splits stay disjoint."""
    return dataclasses.replace(splits, train=splits.train.take(train), val=splits.val.take(val),
                               test=splits.test.take(test))


def batches(x, y=None, *, batch_size: int, shuffle: bool = False, seed: int = 0):
    """A batched, prefetched ``tf.data`` pipeline over arrays (shuffled with ``seed``)."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if shuffle:
        ds = ds.shuffle(len(x) if not isinstance(x, (tuple, dict)) else 10_000, seed=seed,
                        reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
