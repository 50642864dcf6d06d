"""Brain-MRI-like phantoms with tumours: images and exact masks from one seeded generator.

Each slice is built the way an MRI looks, in layers:

1. a head: an ellipse of soft tissue inside a bright skull ring, placed and sized at random;
2. brain tissue: grey matter, an inner ellipse of brighter white matter, two dark ventricles;
3. one or more tumours: irregular blobs (a radius that wobbles with the angle) with fuzzy edges
   and a random brightness; the mask is where the blob's profile exceeds one half;
4. acquisition effects: a slight blur (partial volume), a smooth multiplicative bias field
   (coil inhomogeneity) and Rician noise (the magnitude of a complex Gaussian signal).

Because the generator draws the tumours, the masks are exact: no annotator disagreement.
Everything comes from ``numpy.random.default_rng(seed)``: the same seed gives the same slices.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.ndimage import gaussian_filter

PREPROCESSING = ("single-channel slice, float32 intensities roughly in [0, 1] (skull ~0.9, tissue 0.4-0.6, "
                 "tumour brighter), no normalisation needed")


@dataclasses.dataclass(frozen=True)
class PhantomSpec:
    size: int = 64  # slice height and width in pixels
    max_tumours: int = 2  # each slice has 1..max_tumours tumours
    tumour_radius: tuple[float, float] = (0.09, 0.2)  # in units of the half-width of the slice
    tumour_contrast: tuple[float, float] = (0.15, 0.35)  # added intensity at the tumour's centre
    noise: tuple[float, float] = (0.02, 0.06)  # Rician noise sigma
    bias: float = 0.25  # peak-to-peak strength of the smooth bias field


def _ellipse(x, y, cx, cy, ax, ay, angle):
    """Normalised radius of each pixel in an ellipse: < 1 inside."""
    c, s = np.cos(angle), np.sin(angle)
    u, v = (x - cx) * c + (y - cy) * s, -(x - cx) * s + (y - cy) * c
    return np.sqrt((u / ax) ** 2 + (v / ay) ** 2)


def _soft(r, edge):
    """1 inside (r < 1), 0 outside, with a smooth edge of width ``edge``."""
    return 1.0 / (1.0 + np.exp((r - 1.0) / edge))


def slice_with_mask(rng: np.random.Generator, spec: PhantomSpec = PhantomSpec()) -> tuple[np.ndarray, np.ndarray]:
    """One slice (H, W) float32 and its tumour mask (H, W) float32 in {0, 1}."""
    n = spec.size
    y, x = np.mgrid[-1:1:n * 1j, -1:1:n * 1j]
    cx, cy = rng.uniform(-0.06, 0.06, 2)
    ax, ay = rng.uniform(0.68, 0.8), rng.uniform(0.8, 0.92)
    angle = rng.uniform(-0.25, 0.25)
    head = _ellipse(x, y, cx, cy, ax, ay, angle)
    skull_in = 0.9 + rng.uniform(-0.02, 0.02)  # skull thickness as a fraction of the head
    img = 0.9 * (_soft(head, 0.02) - _soft(head / skull_in, 0.02))  # bright ring
    brain = _soft(head / skull_in, 0.02)
    img += 0.42 * brain  # grey matter
    white = _ellipse(x, y, cx, cy, ax * 0.7, ay * 0.72, angle)
    img += 0.14 * _soft(white, 0.08) * brain
    for side in (-1, 1):  # two ventricles, mirrored
        v = _ellipse(x, y, cx + side * 0.12 * ax, cy - 0.05, 0.07 * ax, 0.22 * ay, angle + side * 0.3)
        img -= 0.35 * _soft(v, 0.1)
    # Tumours: a wobbly radius r(theta) = r0 (1 + a sin(k theta + phi)), fuzzy edges.
    mask = np.zeros_like(img)
    inside = head / skull_in < 0.8
    for _ in range(int(rng.integers(1, spec.max_tumours + 1))):
        iy, ix = np.argwhere(inside)[rng.integers(int(inside.sum()))]
        tx, ty = x[iy, ix], y[iy, ix]
        r0 = rng.uniform(*spec.tumour_radius)
        theta = np.arctan2(y - ty, x - tx)
        wobble = 1 + sum(rng.uniform(0.0, 0.18) * np.sin(k * theta + rng.uniform(0, 2 * np.pi)) for k in (2, 3, 5))
        r = np.hypot(x - tx, y - ty) / (r0 * wobble)
        profile = _soft(r, rng.uniform(0.06, 0.14)) * brain
        core = rng.uniform(0.0, 0.5) * _soft(r / 0.45, 0.1)  # some tumours have a darker (necrotic) core
        img += rng.uniform(*spec.tumour_contrast) * profile * (1 - core)
        mask = np.maximum(mask, (profile > 0.5).astype(np.float32))
    img = gaussian_filter(img, 0.6)
    # Smooth bias field: exp of a random low-order polynomial in x, y.
    c = rng.normal(0, 1, 5)
    field = c[0] * x + c[1] * y + c[2] * x * y + c[3] * x ** 2 + c[4] * y ** 2
    field = (field - field.min()) / (np.ptp(field) + 1e-8) - 0.5
    img = img * np.exp(spec.bias * field)
    sigma = rng.uniform(*spec.noise)  # Rician noise: |signal + complex Gaussian|
    img = np.hypot(img + rng.normal(0, sigma, img.shape), rng.normal(0, sigma, img.shape))
    return img.astype(np.float32), mask.astype(np.float32)


def brain_slices(n: int, *, seed: int, spec: PhantomSpec = PhantomSpec()) -> tuple[np.ndarray, np.ndarray]:
    """``n`` slices (n, H, W, 1) and masks (n, H, W, 1), float32, from ``seed``."""
    if n < 1:
        raise ValueError(f"Invalid number of phantoms n={n}: expected a positive integer.")
    rng = np.random.default_rng(seed)
    pairs = [slice_with_mask(rng, spec) for _ in range(n)]
    images = np.stack([p[0] for p in pairs])[..., None]
    masks = np.stack([p[1] for p in pairs])[..., None]
    return images, masks
