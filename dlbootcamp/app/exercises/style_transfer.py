"""Exercises for day 8 (style-transfer): the Gram matrix by hand, what the untrained filter does, total variation."""

from __future__ import annotations

from dlbootcamp.app.exercises import Exercise, Wrong, expect_close, expect_shape


# --- 1. implement a piece: the Gram matrix, the statistics the style loss compares --------------------------------

def gram_matrix(features):
    """(B, H, W, C) feature maps -> (B, C, C): which channels fire together, averaged over the H*W positions."""
    import numpy as np

    f = np.asarray(features, np.float64)
    b, h, w, c = f.shape
    flat = f.reshape(b, h * w, c)
    return np.einsum("bnc,bnd->bcd", flat, flat) / (h * w)


def _verify_gram(fn) -> None:
    import numpy as np

    from dlbootcamp.lessons import day08_style_transfer as lesson

    f = np.random.default_rng(8).random((2, 6, 5, 4)).astype(np.float32)
    expected = np.asarray(lesson.gram(f), np.float64)
    got = np.asarray(fn(f.copy()), np.float64)
    expect_shape("gram_matrix(features (2, 6, 5, 4))", got, (2, 4, 4))
    ratio = float(np.median(got / expected))
    if abs(ratio - 30) < 0.5:
        raise Wrong("your Gram matrix is 30 times the lesson's: average over the 6 x 5 positions (divide by H * W), "
                    "so that the style statistics do not grow with the image size.")
    expect_close("gram_matrix against the lesson's gram", got, expected, atol=1e-5)
    shuffled = f.reshape(2, 30, 4)[:, np.random.default_rng(0).permutation(30)].reshape(2, 6, 5, 4)
    expect_close("gram_matrix of the same features with the positions shuffled (the layout must not matter)",
                 fn(shuffled), got, atol=1e-5)


# --- 2. predict an outcome: what does the untrained phone filter do to a photo? ------------------------------

PREDICTED_UNTRAINED_CHANGE = 0.0  # the 'change' convolution starts at zero: out = the photo itself


def _verify_untrained(value) -> None:
    import numpy as np

    from dlbootcamp.lessons import day08_style_transfer as lesson

    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise Wrong(f"PREDICTED_UNTRAINED_CHANGE is {value!r}; expected a number (the largest change of a pixel).")
    cfg = lesson.Config.quick()
    photo = np.random.default_rng(1).random((1, 32, 32, 3)).astype(np.float32)
    actual = float(np.abs(lesson.build_model(cfg).predict(photo, verbose=0) - photo).max())
    if abs(value - actual) > 1e-3:
        raise Wrong(f"PREDICTED_UNTRAINED_CHANGE = {value:g}, but an untrained stylizer changes no pixel by more than "
                    f"{actual:.3g}: look at how the 'change' layer is initialised and what 'plus_content' adds it to.")


# --- 3. implement a piece: total variation, the loss that keeps pixel noise down ----------------------------------

def total_variation(images):
    """Mean absolute difference between vertical neighbours plus the same between horizontal neighbours."""
    import numpy as np

    x = np.asarray(images, np.float64)
    return float(np.mean(np.abs(x[:, 1:] - x[:, :-1])) + np.mean(np.abs(x[:, :, 1:] - x[:, :, :-1])))


def _verify_tv(fn) -> None:
    import numpy as np

    from dlbootcamp.lessons import day08_style_transfer as lesson

    images = np.random.default_rng(3).random((2, 9, 7, 3)).astype(np.float32)
    images[1, :, :4] = 0.5  # a flat region
    got = fn(images.copy())
    expected = float(lesson.total_variation(images))
    vertical_only = float(np.mean(np.abs(images[:, 1:] - images[:, :-1])))
    if np.ndim(got) == 0 and abs(float(got) - vertical_only) < 1e-5:
        raise Wrong("you counted only vertical neighbours (along the rows axis); add the horizontal ones (axis 2).")
    expect_close("total_variation against the lesson's", got, expected, atol=1e-5)
    flat = np.full((1, 8, 8, 3), 0.3, np.float32)
    expect_close("total_variation of a flat image", fn(flat), 0.0, atol=1e-7)


EXERCISES = (
    Exercise(1, "implement", "the Gram matrix",
             "Write `gram_matrix(features)` in NumPy: feature maps (B, H, W, C) -> (B, C, C), entry (c, d) the "
             "product of channels c and d **averaged** over the H*W positions. The check compares it with the "
             "lesson's `gram` and shuffles the positions: the layout must not matter, only which textures occur.",
             "gram_matrix",
             "import numpy as np\n\n\ndef gram_matrix(features):\n"
             "    \"\"\"(B, H, W, C) -> (B, C, C), averaged over positions.\"\"\"\n"
             "    raise NotImplementedError  # your code here\n",
             gram_matrix, _verify_gram),
    Exercise(2, "predict", "the untrained phone filter",
             "Before running it: by how much at most does an **untrained** `build_model(cfg)` change any pixel of a "
             "photo (values in [0, 1])? Write the number as `PREDICTED_UNTRAINED_CHANGE`, then check.",
             "PREDICTED_UNTRAINED_CHANGE",
             "PREDICTED_UNTRAINED_CHANGE = None  # a number\n",
             PREDICTED_UNTRAINED_CHANGE, _verify_untrained),
    Exercise(3, "implement", "total variation",
             "Write `total_variation(images)` in NumPy for a batch (B, H, W, 3): the mean absolute difference between "
             "each pixel and the one below it, plus the same between each pixel and the one to its right. Both the "
             "optimisation and the stylizer add `tv_weight` times it to their loss.",
             "total_variation",
             "import numpy as np\n\n\ndef total_variation(images):\n"
             "    \"\"\"mean |vertical neighbour differences| + mean |horizontal neighbour differences|.\"\"\"\n"
             "    raise NotImplementedError  # your code here\n",
             total_variation, _verify_tv),
)
