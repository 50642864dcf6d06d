"""Real photos that ship with scikit-image and scikit-learn, with a fixed train/test split.

No download: every image here is inside an installed package. Whole photos are split, never
patches of one photo, so a model scored on a test photo has never seen any part of it.

- ``PHOTOS``: name -> loader, natural photos (people, animals, objects, a moon, a retina...);
- ``TRAIN_PHOTOS`` / ``TEST_PHOTOS``: the fixed split;
- ``TEXTURES``: stationary textures (brick, grass, gravel) for style and texture lessons;
- ``PORTRAITS``: photos outside the split, kept for one lesson's validation (Grace Hopper, from
  matplotlib's sample data: a second frontal face beside scikit-image's astronaut);
- ``load(name, mode)``: float32 in [0, 1] as RGB (H, W, 3), grey (H, W, 1) or luma Y (H, W, 1);
- ``random_patches``: seeded crops for training; ``tile``/``untile``: run a fixed-size,
  fully convolutional model on a whole image of any size, tile by tile.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from dlbootcamp.errors import UserError


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        image = getattr(skimage.data, name)()
        return image[0] if isinstance(image, tuple) else image  # stereo_motorcycle: the left view

    return load


def _sklearn(index: int) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_images

        return load_sample_images().images[index]

    return load


def _matplotlib(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import matplotlib.image
        from matplotlib import cbook

        return matplotlib.image.imread(cbook.get_sample_data(filename, asfileobj=False))

    return load


PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"), "camera": _skimage("camera"), "coffee": _skimage("coffee"),
    "chelsea": _skimage("chelsea"), "rocket": _skimage("rocket"), "hubble_deep_field": _skimage("hubble_deep_field"),
    "retina": _skimage("retina"), "coins": _skimage("coins"), "moon": _skimage("moon"), "clock": _skimage("clock"),
    "immunohistochemistry": _skimage("immunohistochemistry"), "motorcycle": _skimage("stereo_motorcycle"),
    "cell": _skimage("cell"), "china": _sklearn(0), "flower": _sklearn(1),
}
TEST_PHOTOS = ("chelsea", "coffee", "flower", "camera")  # held out: never cropped for training
TRAIN_PHOTOS = tuple(n for n in PHOTOS if n not in TEST_PHOTOS)
TEXTURES: dict[str, Callable[[], np.ndarray]] = {n: _skimage(n) for n in ("brick", "grass", "gravel")}
PORTRAITS: dict[str, Callable[[], np.ndarray]] = {"grace_hopper": _matplotlib("grace_hopper.jpg")}  # not in PHOTOS
MODES = ("rgb", "gray", "y")
LUMA = "Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601 luma, full range), float32 in [0, 1]"


def names() -> tuple[str, ...]:
    return tuple(PHOTOS) + tuple(TEXTURES) + tuple(PORTRAITS)


def load(name: str, mode: str = "rgb") -> np.ndarray:
    """A bundled photo or texture as float32 in [0, 1]: (H, W, 3) for "rgb", (H, W, 1) for "gray"/"y"."""
    loader = PHOTOS.get(name) or TEXTURES.get(name) or PORTRAITS.get(name)
    if loader is None:
        raise UserError(f"Unknown photo {name!r}; expected one of {', '.join(names())}.")
    if mode not in MODES:
        raise UserError(f"Unknown photo mode {mode!r}; expected one of {', '.join(MODES)}.")
    image = np.asarray(loader()).astype(np.float32) / 255.0
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    image = image[..., :3]  # drop an alpha channel
    return image if mode == "rgb" else rgb_to_y(image)


def rgb_to_y(rgb: np.ndarray) -> np.ndarray:
    """Luma (..., 1) from RGB (..., 3), both in [0, 1]."""
    return (np.asarray(rgb, np.float32) @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]


def rgb_to_ycbcr(rgb: np.ndarray) -> np.ndarray:
    """Full-range BT.601 YCbCr (..., 3) in [0, 1], chroma centred on 0.5."""
    m = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float32)
    return np.asarray(rgb, np.float32) @ m.T + np.array([0.0, 0.5, 0.5], np.float32)


def ycbcr_to_rgb(ycc: np.ndarray) -> np.ndarray:
    m = np.array([[1.0, 0.0, 1.402], [1.0, -0.344136, -0.714136], [1.0, 1.772, 0.0]], np.float32)
    return np.clip((np.asarray(ycc, np.float32) - np.array([0.0, 0.5, 0.5], np.float32)) @ m.T, 0.0, 1.0)


# --- crops for training -----------------------------------------------------------------------

def random_patches(images: list[np.ndarray], n: int, size: int, *, seed: int) -> np.ndarray:
    """``n`` random ``size`` x ``size`` crops; each image is picked in proportion to its area."""
    if any(min(im.shape[:2]) < size for im in images):
        raise ValueError(f"Patch size {size} is larger than an image; expected size <= the smallest side.")
    rng = np.random.default_rng(seed)
    areas = np.array([im.shape[0] * im.shape[1] for im in images], np.float64)
    which = rng.choice(len(images), n, p=areas / areas.sum())
    out = np.empty((n, size, size, images[0].shape[-1]), np.float32)
    for k, i in enumerate(which):
        h, w = images[i].shape[:2]
        y, x = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)
        out[k] = images[i][y:y + size, x:x + size]
    return out


# --- a fixed-size model over an image of any size -------------------------------------------------

@dataclasses.dataclass(frozen=True)
class TileLayout:
    height: int  # the image's size
    width: int
    rows: int  # tiles down and across
    cols: int
    size: int  # tile side (the model's input size)
    margin: int  # overlap discarded on each side; >= the model's receptive-field radius


def tile(image: np.ndarray, size: int, margin: int) -> tuple[np.ndarray, TileLayout]:
    """Overlapping ``size`` x ``size`` tiles (N, size, size, C) covering ``image`` (H, W, C).

    The image is mirror-padded; each tile's outer ``margin`` pixels only give context, so a
    fully convolutional model run tile by tile matches the model run on the whole image,
    as long as ``margin`` covers its receptive field.
    """
    step = size - 2 * margin
    if step < 1:
        raise ValueError(f"Invalid tile size {size} with margin {margin}: expected size > 2 * margin.")
    h, w = image.shape[:2]
    rows, cols = -(-h // step), -(-w // step)
    pad = ((margin, rows * step - h + margin), (margin, cols * step - w + margin), (0, 0))
    canvas = np.pad(image, pad, mode="symmetric")
    tiles = np.stack([canvas[r * step:r * step + size, c * step:c * step + size]
                      for r in range(rows) for c in range(cols)])
    return tiles.astype(np.float32), TileLayout(h, w, rows, cols, size, margin)


def untile(outputs: np.ndarray, layout: TileLayout, scale: int = 1) -> np.ndarray:
    """Reassemble model outputs (N, size*scale, size*scale, C) into (H*scale, W*scale, C)."""
    step, m = (layout.size - 2 * layout.margin) * scale, layout.margin * scale
    out = np.zeros((layout.rows * step, layout.cols * step, outputs.shape[-1]), np.float32)
    for k, o in enumerate(outputs):
        r, c = divmod(k, layout.cols)
        out[r * step:(r + 1) * step, c * step:(c + 1) * step] = o[m:m + step, m:m + step]
    return out[:layout.height * scale, :layout.width * scale]
