"""Turning a patch classifier into a detector: windows over an image pyramid, IoU, NMS.

The classic recipe (Viola-Jones, Dalal-Triggs) before one-stage detectors: a classifier that
answers "is this fixed-size patch an object?" is slid over the image at every position, and
over shrunken copies of the image (a pyramid) so that big objects fit the window too. Windows
it scores highly become candidate boxes; each is ranked by the votes of the candidates that
overlap it (a real object fires the classifier many times over), and overlapping boxes are
thinned out by non-max suppression.

Boxes are ``(y0, x0, y1, x1)`` in pixels of the original image (the order
``tf.image.non_max_suppression`` uses). ``detect`` takes a *predict function*, NumPy in and
NumPy out, so the same detector runs on a Keras model or on an exported TFLite/ONNX artifact.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Detections:
    boxes: np.ndarray  # (K, 4) y0, x0, y1, x1 in original-image pixels, best first
    scores: np.ndarray  # (K,) the classifier's score of each box's window
    votes: np.ndarray  # (K,) summed scores of the candidate windows that overlap the box (its support)
    windows: int  # how many windows were scored


def sliding_windows(image: np.ndarray, size: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Every ``size`` x ``size`` patch of a 2-D image, ``stride`` pixels apart: (patches, boxes)."""
    h, w = image.shape[:2]
    if h < size or w < size:
        return np.zeros((0, size, size), image.dtype), np.zeros((0, 4), np.float32)
    view = np.lib.stride_tricks.sliding_window_view(image, (size, size))[::stride, ::stride]
    ys, xs = np.meshgrid(np.arange(view.shape[0]) * stride, np.arange(view.shape[1]) * stride, indexing="ij")
    boxes = np.stack([ys, xs, ys + size, xs + size], -1).reshape(-1, 4).astype(np.float32)
    return view.reshape(-1, size, size), boxes


def pyramid_windows(image: np.ndarray, size: int, scales: Sequence[float], stride: int):
    """Windows of a 2-D image rescaled by each factor; boxes mapped back to original pixels."""
    from skimage.transform import rescale

    patches, boxes = [], []
    for s in scales:
        small = rescale(image, s, anti_aliasing=s < 1, preserve_range=True).astype(np.float32)
        p, b = sliding_windows(small, size, stride)
        patches.append(p)
        boxes.append(b / s)
    return np.concatenate(patches), np.concatenate(boxes)


def window_scales(size: int, smallest: float, largest: float, step: float = 1.2) -> tuple[float, ...]:
    """Pyramid factors so that the window covers objects from ``smallest`` to ``largest`` pixels."""
    if not 0 < smallest <= largest or step <= 1:
        raise ValueError(f"Invalid object sizes ({smallest}, {largest}) or step {step}: expected "
                         f"0 < smallest <= largest and step > 1.")
    n = int(np.floor(np.log(largest / smallest) / np.log(step))) + 1
    return tuple(float(size / (smallest * step ** i)) for i in range(n))


def random_windows(images: Sequence[np.ndarray], size: int, scales: Sequence[float], stride: int, per_image: int,
                   *, seed: int) -> np.ndarray:
    """``per_image`` random pyramid windows of each 2-D image (as many as there are, if fewer): (N, size, size)."""
    rng = np.random.default_rng(seed)
    found = []
    for image in images:
        patches, _ = pyramid_windows(image, size, scales, stride)
        found.append(patches[rng.choice(len(patches), min(per_image, len(patches)), replace=False)])
    return np.concatenate(found)


def pasted(patches: Sequence[np.ndarray], backgrounds: Sequence[np.ndarray], sizes: tuple[int, int], *, seed: int,
           canvas: int = 320) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Test images with known boxes: patch i, enlarged to a random side within ``sizes``, pasted at a random
    place on a random ``canvas``-square crop of 2-D background ``i % len(backgrounds)``. Returns (images,
    boxes (N, 4) as y0, x0, y1, x1)."""
    from skimage import transform

    rng = np.random.default_rng(seed)
    images, boxes = [], []
    for i, patch in enumerate(patches):
        bg = backgrounds[i % len(backgrounds)]
        y, x = (int(rng.integers(0, d - canvas + 1)) for d in bg.shape[:2])
        image = bg[y:y + canvas, x:x + canvas].copy()
        side = int(rng.integers(sizes[0], min(sizes[-1], canvas) + 1))
        fy, fx = (int(v) for v in rng.integers(0, canvas - side + 1, 2))
        image[fy:fy + side, fx:fx + side] = transform.resize(patch, (side, side), order=1)
        images.append(image)
        boxes.append((fy, fx, fy + side, fx + side))
    return tuple(images), np.asarray(boxes, np.float32).reshape(-1, 4)


def hard_negatives(predict: Callable[[np.ndarray], np.ndarray], images: Sequence[np.ndarray], size: int,
                   scales: Sequence[float], stride: int, per_image: int) -> np.ndarray:
    """The windows of object-free images that ``predict`` scores highest - its most confident
    mistakes - at most ``per_image`` non-overlapping ones per image: (N, size, size)."""
    found = []
    for image in images:
        patches, boxes = pyramid_windows(image, size, scales, stride)
        scores = score_windows(predict, patches)
        found.append(patches[non_max_suppression(boxes, scores, max_boxes=per_image, score_threshold=0.0)])
    return np.concatenate(found)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of boxes ``a`` (..., 4) and ``b`` (..., 4), broadcast."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    dy = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    dx = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = dy * dx
    area = lambda z: (z[..., 2] - z[..., 0]) * (z[..., 3] - z[..., 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-12)


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, *, max_boxes: int = 10,
                        iou_threshold: float = 0.3, score_threshold: float = 0.5) -> np.ndarray:
    """Indices of the boxes kept, best first: a box is dropped when a better one overlaps it."""
    import tensorflow as tf

    keep = tf.image.non_max_suppression(np.asarray(boxes, np.float32), np.asarray(scores, np.float32),
                                        max_output_size=int(max_boxes), iou_threshold=float(iou_threshold),
                                        score_threshold=float(score_threshold))
    return keep.numpy()


def score_windows(predict: Callable[[np.ndarray], np.ndarray], patches: np.ndarray, batch: int = 2048) -> np.ndarray:
    """``predict`` on (N, size, size) windows in chunks of exactly ``batch`` (the last one padded), so a
    compiled predict function sees one shape only; returns one score per window."""
    if not len(patches):
        return np.zeros(0, np.float32)
    n = len(patches)
    padded = np.concatenate([patches, np.zeros((-n % batch, *patches.shape[1:]), patches.dtype)])[..., None]
    return np.concatenate([np.asarray(predict(padded[i:i + batch])).reshape(-1)
                           for i in range(0, len(padded), batch)])[:n]


def neighbour_votes(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.5) -> np.ndarray:
    """For each box, the summed score of every box overlapping it by IoU >= ``iou_threshold`` (itself included).

    A real object fires the classifier at many nearby positions and scales; a texture that fools
    it tends to fire alone. (OpenCV's ``detectMultiScale`` asks for ``minNeighbors`` for this reason.)
    """
    overlap = box_iou(boxes[:, None, :], boxes[None, :, :]) >= iou_threshold
    return overlap.astype(np.float64) @ np.asarray(scores, np.float64)


def detect(predict: Callable[[np.ndarray], np.ndarray], image: np.ndarray, *, size: int,
           scales: Sequence[float], stride: int = 2, score_threshold: float = 0.5, iou_threshold: float = 0.3,
           max_boxes: int = 10, max_candidates: int = 2000, batch: int = 2048, vote_iou: float = 0.5) -> Detections:
    """Score every pyramid window of a 2-D image with ``predict``; rank the windows above
    ``score_threshold`` by their neighbours' votes; keep the best non-overlapping boxes.

    ``predict`` takes windows shaped (N, size, size, 1) and returns the object probability (N,)
    or (N, 1).
    """
    patches, boxes = pyramid_windows(image, size, scales, stride)
    scores = score_windows(predict, patches, batch)
    return select(boxes, scores, score_threshold=score_threshold, iou_threshold=iou_threshold, max_boxes=max_boxes,
                  max_candidates=max_candidates, vote_iou=vote_iou)


def select(boxes: np.ndarray, scores: np.ndarray, *, score_threshold: float = 0.5, iou_threshold: float = 0.3,
           max_boxes: int = 10, max_candidates: int = 2000, vote_iou: float = 0.5) -> Detections:
    """The second half of ``detect``: from every scored window to the best non-overlapping boxes. Split
    out so that several thresholds can be tried on windows scored once."""
    candidates = np.argsort(-scores, kind="stable")[:max_candidates]
    candidates = candidates[scores[candidates] >= score_threshold]
    kept_boxes, kept_scores = boxes[candidates], scores[candidates]
    votes = neighbour_votes(kept_boxes, kept_scores, vote_iou)  # windows overlapping by vote_iou support a box
    keep = non_max_suppression(kept_boxes, votes, max_boxes=max_boxes, iou_threshold=iou_threshold,
                               score_threshold=0.0)
    return Detections(kept_boxes[keep], kept_scores[keep], votes[keep], len(scores))


def best_box_ious(predict: Callable[[np.ndarray], np.ndarray], image: np.ndarray, box, *, size: int,
                  scales: Sequence[float], stride: int, thresholds: Sequence[float],
                  vote_iou: float = 0.5) -> dict[float, float]:
    """IoU of the best box with ``box`` for each score threshold (0 when nothing is found): how a threshold is
    chosen on images with a known box. The windows are scored once; the thresholds only change which vote."""
    patches, boxes = pyramid_windows(image, size, scales, stride)
    scores = score_windows(predict, patches)
    found = {t: select(boxes, scores, score_threshold=t, vote_iou=vote_iou) for t in thresholds}
    return {t: float(box_iou(f.boxes[0], box)) if len(f.boxes) else 0.0 for t, f in found.items()}


def hog_descriptors(windows: np.ndarray, cell: int = 5) -> np.ndarray:
    """HOG descriptors (N, D) of gray windows (N, H, W, 1), Dalal and Triggs' classical detection feature:
    9 gradient orientations per ``cell``x``cell``-pixel cell, normalised over blocks of 2x2 cells."""
    from skimage.feature import hog

    return np.stack([hog(w[..., 0], orientations=9, pixels_per_cell=(cell, cell), cells_per_block=(2, 2))
                     for w in windows]).astype(np.float32)
