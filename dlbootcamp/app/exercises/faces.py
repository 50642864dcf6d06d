"""Exercises for day 10 (faces): IoU of two boxes, the NT-Xent loss by hand, what standardize does to a flat window."""

from __future__ import annotations

from dlbootcamp.app.exercises import Exercise, Wrong, expect_close


# --- 1. implement a piece: intersection over union ----------------------------------------------------------

def iou(box_a, box_b):
    """Intersection over union of two boxes (y0, x0, y1, x1); 0 when they do not overlap."""
    y0, x0 = max(box_a[0], box_b[0]), max(box_a[1], box_b[1])
    y1, x1 = min(box_a[2], box_b[2]), min(box_a[3], box_b[3])
    inter = max(0.0, y1 - y0) * max(0.0, x1 - x0)
    area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
    return float(inter / (area(box_a) + area(box_b) - inter))


def _verify_iou(fn) -> None:
    import numpy as np

    from dlbootcamp import detection
    from dlbootcamp.lessons import day10_faces as lesson

    ref = lesson.REFERENCE_BOX
    cases = [(ref, ref), (ref, (70.0, 180.0, 170.0, 280.0)), (ref, (0.0, 0.0, 50.0, 50.0)),
             ((0.0, 0.0, 10.0, 10.0), (5.0, 5.0, 15.0, 15.0)), ((0.0, 0.0, 10.0, 10.0), (10.0, 0.0, 20.0, 10.0)),
             ((0.0, 0.0, 4.0, 4.0), (1.0, 1.0, 3.0, 3.0))]
    for a, b in cases:
        got, expected = fn(a, b), float(detection.box_iou(np.array(a), np.array(b)))
        inter = expected * ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])) / (1 + expected)
        if np.ndim(got) == 0 and expected > 0 and abs(float(got) - inter / ((a[2] - a[0]) * (a[3] - a[1])
                                                                           + (b[2] - b[0]) * (b[3] - b[1]))) < 1e-6:
            raise Wrong(f"iou({a}, {b}) = {float(got):.4f}: you divided by the sum of the two areas, which counts the "
                        "overlap twice; the union is area A + area B - intersection.")
        if np.ndim(got) == 0 and expected == 0 and float(got) < 0:
            raise Wrong(f"iou({a}, {b}) = {float(got):.4f} is negative: boxes that do not overlap have intersection 0 "
                        "(clip each side of the overlap at 0).")
        expect_close(f"iou({a}, {b})", got, expected, atol=1e-6)


# --- 2. implement a piece: SimCLR's NT-Xent loss ------------------------------------------------------------

def nt_xent(z1, z2, temperature):
    """Mean cross-entropy of each of the 2B views picking its partner among the 2B - 1 others, by cosine / T
    (z1, z2: (B, D) unit vectors; row i of z1 and row i of z2 are two views of one photo)."""
    import numpy as np

    z = np.concatenate([z1, z2]).astype(np.float64)
    n = len(z1)
    logits = z @ z.T / temperature
    np.fill_diagonal(logits, -np.inf)  # a view is not its own partner
    partner = np.concatenate([np.arange(n, 2 * n), np.arange(n)])
    m = logits.max(1, keepdims=True)
    log_p = logits - m - np.log(np.exp(logits - m).sum(1, keepdims=True))
    return float(-log_p[np.arange(2 * n), partner].mean())


def _verify_nt_xent(fn) -> None:
    import numpy as np

    from dlbootcamp.lessons import day10_faces as lesson

    rng = np.random.default_rng(10)
    unit = lambda v: v / np.linalg.norm(v, axis=1, keepdims=True)  # noqa: E731
    z1 = unit(rng.normal(0, 1, (6, 8)))
    z2 = unit(z1 + rng.normal(0, 0.5, z1.shape))
    expected = float(lesson.nt_xent(z1.astype(np.float32), z2.astype(np.float32), 0.2))
    got = fn(z1.copy(), z2.copy(), 0.2)
    z = np.concatenate([z1, z2])
    logits = z @ z.T / 0.2
    partner = np.r_[np.arange(6, 12), np.arange(6)]
    no_mask = float(np.mean(np.log(np.exp(logits).sum(1)) - logits[np.arange(12), partner]))
    if np.ndim(got) == 0 and abs(float(got) - no_mask) < 1e-3:
        raise Wrong("each view's similarity with itself (cosine 1, the largest there is) is still among the choices: "
                    "mask the diagonal out, as the lesson does with - 1e9 * eye.")
    expect_close("nt_xent(z1, z2, temperature=0.2) against the lesson's", got, expected, atol=1e-3)


# --- 3. predict an outcome: what standardize does to a flat window -----------------------------------------------

PREDICTED_FLAT_WINDOW = 0.0  # zero mean, and the epsilon keeps a flat patch flat: every pixel 0


def _verify_flat(value) -> None:
    import keras
    import numpy as np

    from dlbootcamp.lessons import day10_faces as lesson

    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise Wrong(f"PREDICTED_FLAT_WINDOW is {value!r}; expected a number (the value of every output pixel).")
    window = keras.Input((lesson.SIZE, lesson.SIZE, 1))
    layer = keras.Model(window, lesson.standardize(window))
    out = layer.predict(np.full((1, lesson.SIZE, lesson.SIZE, 1), 0.7, np.float32), verbose=0)
    actual = float(np.median(out))
    if abs(value - 0.7) < 1e-3:
        raise Wrong("0.7 is the input: the layer subtracts each window's own mean before it divides by its spread.")
    expect_close("PREDICTED_FLAT_WINDOW (standardize of a window where every pixel is 0.7)", value, actual, atol=1e-3)


EXERCISES = (
    Exercise(1, "implement", "intersection over union",
             "Write `iou(box_a, box_b)` for two boxes `(y0, x0, y1, x1)`: the area of their overlap divided by the "
             "area of their union, 0 when they do not overlap. The detector's non-max suppression and its bar "
             "(IoU >= 0.5 with the reference box) both use it.",
             "iou",
             "def iou(box_a, box_b):\n"
             "    \"\"\"Intersection over union of two (y0, x0, y1, x1) boxes.\"\"\"\n"
             "    raise NotImplementedError  # your code here\n",
             iou, _verify_iou),
    Exercise(2, "implement", "the contrastive loss",
             "Write `nt_xent(z1, z2, temperature)` in NumPy: `z1`, `z2` are (B, D) unit vectors, row i of each a "
             "view of photo i. Stack them into 2B views; each view's logits are its cosine similarities to the "
             "**other** 2B - 1 views divided by `temperature`; return the mean cross-entropy of picking its partner. "
             "The check compares it with the lesson's `nt_xent`.",
             "nt_xent",
             "import numpy as np\n\n\ndef nt_xent(z1, z2, temperature):\n"
             "    \"\"\"SimCLR's loss for (B, D) unit vectors z1, z2.\"\"\"\n"
             "    raise NotImplementedError  # your code here\n",
             nt_xent, _verify_nt_xent),
    Exercise(3, "predict", "a flat window",
             "Before running it: the classifier's first layer, `standardize`, gets a window in which every pixel is "
             "0.7. What value does each output pixel have? Write it as `PREDICTED_FLAT_WINDOW`, then check.",
             "PREDICTED_FLAT_WINDOW",
             "PREDICTED_FLAT_WINDOW = None  # a number\n",
             PREDICTED_FLAT_WINDOW, _verify_flat),
)
