"""Scores for image-to-image models: Dice for masks, PSNR and SSIM for pictures.

- Dice = 2 |A and B| / (|A| + |B|): the overlap of a predicted mask with the true one, 1 when
  they coincide, 0 when they do not touch. Unlike pixel accuracy it ignores the (easy, huge)
  background, which is why segmentation papers report it.
- PSNR and SSIM come from TensorFlow (``tf.image.psnr``/``tf.image.ssim``), so our numbers
  mean what everyone else's mean; this module only feeds them NumPy arrays.
"""

from __future__ import annotations

import numpy as np


def dice_per_image(y_true: np.ndarray, y_prob: np.ndarray, *, threshold: float = 0.5) -> np.ndarray:
    """Dice of each image's thresholded prediction against its mask, shape (N,).

    An image where both the mask and the prediction are empty scores 1 (nothing to find, nothing found).
    """
    t = np.asarray(y_true).reshape(len(y_true), -1) > 0.5
    p = np.asarray(y_prob).reshape(len(y_prob), -1) > threshold
    if t.shape != p.shape:
        raise ValueError(f"Masks and predictions differ in shape: {np.shape(y_true)} vs {np.shape(y_prob)}; "
                         f"expected one prediction per mask pixel.")
    inter = np.logical_and(t, p).sum(1)
    total = t.sum(1) + p.sum(1)
    return np.where(total == 0, 1.0, 2.0 * inter / np.maximum(total, 1))


def dice(y_true: np.ndarray, y_prob: np.ndarray, *, threshold: float = 0.5) -> float:
    """Mean per-image Dice (every image counts the same, small tumours included)."""
    return float(np.mean(dice_per_image(y_true, y_prob, threshold=threshold)))


def psnr(a: np.ndarray, b: np.ndarray, *, max_val: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB between two images (H, W[, C]) in [0, max_val] (tf.image.psnr)."""
    import tensorflow as tf

    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if a.shape != b.shape:
        raise ValueError(f"Images differ in shape: {a.shape} vs {b.shape}; expected the same shape.")
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    return float(tf.image.psnr(a, b, max_val=max_val))


def ssim(a: np.ndarray, b: np.ndarray, *, max_val: float = 1.0) -> float:
    """Structural similarity between two images (H, W[, C]) in [0, max_val] (tf.image.ssim)."""
    import tensorflow as tf

    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    return float(tf.image.ssim(a, b, max_val=max_val))
