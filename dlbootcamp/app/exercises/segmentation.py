"""Exercises for day 6 (segmentation): Dice by hand, a U-Net without its skips, the bottleneck's shape."""

from __future__ import annotations

from dlbootcamp.app.exercises import Exercise, Wrong, expect_close, expect_model


# --- 1. implement a piece: the Dice score --------------------------------------------------------------

def dice_per_slice(y_true, y_prob):
    """Thresholded Dice of each slice (N, H, W, 1): 2|A and B| / (|A| + |B|), 1 when both masks are empty."""
    import numpy as np

    truth = np.asarray(y_true, np.float64).reshape(len(y_true), -1)
    pred = (np.asarray(y_prob, np.float64).reshape(len(y_prob), -1) > 0.5).astype(np.float64)
    inter, total = (truth * pred).sum(1), truth.sum(1) + pred.sum(1)
    return np.where(total == 0, 1.0, 2.0 * inter / np.maximum(total, 1.0))


def _verify_dice(fn) -> None:
    import numpy as np

    from dlbootcamp.lessons import day06_segmentation as lesson

    rng = np.random.default_rng(6)
    truth = (rng.random((6, 16, 16, 1)) < 0.1).astype(np.float32)
    prob = np.clip(truth * 0.7 + rng.random(truth.shape) * 0.45, 0, 1).astype(np.float32)
    truth[4], prob[4] = 0.0, 0.1  # no tumour, and none predicted: a perfect answer
    prob[5] = 0.9  # tumour everywhere: pixel accuracy ~90% wrong, Dice low
    expected = np.asarray(lesson.dice(truth, prob))
    got = np.asarray(fn(truth.copy(), prob.copy()), np.float64)
    if got.shape == expected.shape and not np.isfinite(got[4]):
        raise Wrong("slice 4 has no tumour and none is predicted: your Dice is 0/0 there; the lesson counts it as 1 "
                    "(a perfect answer).")
    if got.shape == expected.shape and abs(got[5] - np.mean((prob[5] > 0.5) == truth[5])) < 1e-6:
        raise Wrong("slice 5 scores like pixel accuracy; Dice is 2 |truth and prediction| / (|truth| + |prediction|).")
    expect_close("dice_per_slice against the lesson's dice", got, expected, atol=1e-5)


# --- 2. change the architecture: a U-Net without skip connections ----------------------------------------

def build_no_skip_model(cfg):
    """The lesson's U-Net with no skip connections: the decoder sees only what comes up from below."""
    import keras

    from dlbootcamp.lessons import day06_segmentation as lesson

    inputs = keras.Input((cfg.size, cfg.size, 1), name="slice")
    x = inputs
    for i, f in enumerate(cfg.filters[:-1]):
        x = lesson._conv_block(x, f, f"down{i}")
        x = keras.layers.MaxPooling2D(name=f"pool{i}")(x)
    x = lesson._conv_block(x, cfg.filters[-1], "bottleneck")
    for i in reversed(range(len(cfg.filters) - 1)):
        x = keras.layers.Conv2DTranspose(cfg.filters[i], 2, strides=2, name=f"up{i}")(x)
        x = lesson._conv_block(x, cfg.filters[i], f"dec{i}")
    outputs = keras.layers.Conv2D(1, 1, activation="sigmoid", name="tumour_prob")(x)
    return keras.Model(inputs, outputs, name="no_skip_unet")


def _verify_no_skip(fn) -> None:
    import keras

    from dlbootcamp.lessons import day06_segmentation as lesson

    cfg = lesson.Config.quick()
    model = fn(cfg)
    joins = [layer.name for layer in getattr(model, "layers", []) if isinstance(layer, keras.layers.Concatenate)]
    if joins:
        raise Wrong(f"the model still joins encoder features into the decoder ({', '.join(joins)}); without skips "
                    "each 'up' output goes straight into its 'dec' block.")
    expect_model("build_no_skip_model(Config.quick())", model, build_no_skip_model(cfg))


# --- 3. predict an outcome: the bottleneck's shape ---------------------------------------------------------

PREDICTED_BOTTLENECK_SHAPE = (16, 16, 16)  # 64 halved by two poolings; filters[-1] = 16 channels


def _verify_bottleneck(value) -> None:
    from dlbootcamp.lessons import day06_segmentation as lesson

    if not isinstance(value, (tuple, list)) or len(value) != 3 or not all(isinstance(v, int) for v in value):
        raise Wrong(f"PREDICTED_BOTTLENECK_SHAPE is {value!r}; expected (height, width, channels), three ints.")
    cfg = lesson.Config.quick()
    actual = tuple(lesson.build_model(cfg).get_layer("bottleneck_relub").output.shape[1:])
    if tuple(value) != actual:
        raise Wrong(f"PREDICTED_BOTTLENECK_SHAPE = {tuple(value)} is not right: count the poolings (one per filters "
                    f"entry but the last, each halving the {cfg.size}-pixel side), and the bottleneck's channels are "
                    "filters[-1].")


EXERCISES = (
    Exercise(1, "implement", "the Dice score",
             "Write `dice_per_slice(y_true, y_prob)` in NumPy: for masks (N, H, W, 1) and probabilities of the same "
             "shape, threshold the probabilities at 0.5 and return each slice's Dice, 2|A and B| / (|A| + |B|), "
             "as (N,); a slice with no tumour and none predicted scores 1. The check compares it with the lesson's "
             "`dice` on slices including those two edge cases.",
             "dice_per_slice",
             "import numpy as np\n\n\ndef dice_per_slice(y_true, y_prob):\n"
             "    \"\"\"(N,) thresholded Dice per slice; 1 where both masks are empty.\"\"\"\n"
             "    raise NotImplementedError  # your code here\n",
             dice_per_slice, _verify_dice),
    Exercise(2, "architecture", "a U-Net without skips",
             "Write `build_no_skip_model(cfg)`: the lesson's U-Net with the skip connections removed (no "
             "`Concatenate`: each `up{i}` output goes straight into its `dec{i}` block). Keep every other layer name "
             "(`lesson._conv_block` builds the blocks). Train it and compare the edges in `segmentations.png`.",
             "build_no_skip_model",
             "import keras\n\n\ndef build_no_skip_model(cfg):\n"
             "    \"\"\"build_model without the skip connections.\"\"\"\n"
             "    raise NotImplementedError  # start from lesson.build_model's code\n",
             build_no_skip_model, _verify_no_skip),
    Exercise(3, "predict", "the bottleneck's shape",
             "Before running it: what is the shape (height, width, channels) of the bottleneck's output "
             "(`bottleneck_relub`) in `build_model(Config.quick())`? Write it as `PREDICTED_BOTTLENECK_SHAPE`.",
             "PREDICTED_BOTTLENECK_SHAPE",
             "PREDICTED_BOTTLENECK_SHAPE = None  # (height, width, channels)\n",
             PREDICTED_BOTTLENECK_SHAPE, _verify_bottleneck),
)
