"""Exercises for day 1 (ml-vs-dl): an expert's feature by hand, a CNN head without Flatten, the feature count."""

from __future__ import annotations

from dlbootcamp.app.exercises import Exercise, Wrong, expect_close, expect_model, expect_shape, gap_instead_of_flatten


# --- 1. implement a piece: the centre of mass of the ink, one of the expert's features ------------------

def centre_of_mass(images):
    """(N, 2) float: the ink-weighted mean row and mean column of each 8x8 image (N, 8, 8)."""
    import numpy as np

    images = np.asarray(images, np.float64)
    ink = images.sum((1, 2)) + 1e-6
    rows, cols = np.mgrid[:images.shape[1], :images.shape[2]]
    return np.stack([(images * rows).sum((1, 2)) / ink, (images * cols).sum((1, 2)) / ink], axis=1)


def _verify_centre(fn) -> None:
    import numpy as np

    dot = np.zeros((1, 8, 8))
    dot[0, 1, 6] = 1.0  # one inked pixel: row 1, column 6
    got = np.asarray(fn(dot.copy()), np.float64)
    expect_shape("centre_of_mass(one image)", got, (1, 2))
    if np.allclose(got, [[6.0, 1.0]], atol=1e-3):
        raise Wrong("for a single inked pixel at row 1, column 6 you returned (6, 1): rows and columns are swapped; "
                    "the first number is the row (axis 1 of the images), the second the column (axis 2).")
    expect_close("centre_of_mass of a single inked pixel at row 1, column 6", got, [[1.0, 6.0]], atol=1e-3)
    images = np.random.default_rng(1).random((5, 8, 8))
    images[2, :, :4] *= 0.1  # a digit leaning right
    expect_close("centre_of_mass(five random images)", fn(images.copy()), centre_of_mass(images), atol=1e-4)


# --- 2. change the architecture: global average pooling instead of Flatten --------------------------------

def build_gap_model(cfg):
    """The lesson's digits CNN whose classifier reads GlobalAveragePooling2D ('gap') instead of Flatten."""
    from dlbootcamp.lessons import day01_ml_vs_dl as lesson

    return gap_instead_of_flatten(lesson.build_model(cfg), dropout=cfg.dropout, dense=cfg.cnn_dense, seed=cfg.seed,
                                  name="digits_gap_cnn")


def _verify_gap(fn) -> None:
    import dataclasses

    from dlbootcamp.lessons import day01_ml_vs_dl as lesson

    cfg = dataclasses.replace(lesson.Config.quick(), cnn_filters=(8, 24))  # not the quick preset: no copying numbers
    model = fn(cfg)
    if any(layer.name == "flatten" for layer in getattr(model, "layers", [])):
        raise Wrong("the model still has the 'flatten' layer; replace it by GlobalAveragePooling2D named 'gap'.")
    expect_model("build_gap_model(cnn_filters=(8, 24))", model, build_gap_model(cfg))


# --- 3. predict an outcome: how many numbers does the expert compute per digit? ----------------------------

PREDICTED_FEATURES = 8 * 4 * 9 + 9 * 4 + 12 + 8 + 8 + 1 + 2 + 4  # three HOGs, then profiles, ink, centre, quadrants


def _verify_features(value) -> None:
    from dlbootcamp import data as datasets
    from dlbootcamp.lessons import day01_ml_vs_dl as lesson

    if not isinstance(value, int) or isinstance(value, bool):
        raise Wrong(f"PREDICTED_FEATURES is {value!r}; expected a whole number (an int).")
    actual = lesson.hand_made_features(datasets.digits(seed=0).train.x[:2]).shape[1]
    if value != actual:
        way = "high" if value > actual else "low"
        raise Wrong(f"PREDICTED_FEATURES = {value} is {way} by {abs(value - actual)}: count each HOG's blocks x cells per "
                    "block x orientations (an 8x8 image, 2x2-pixel cells, 2x2-cell blocks: 3x3 blocks), then the row "
                    "and column profiles (8 each), total ink, the centre of mass and the four quadrants.")


EXERCISES = (
    Exercise(1, "implement", "the centre of the ink",
             "One of the expert's features: write `centre_of_mass(images)` for images (N, 8, 8) in NumPy, returning "
             "(N, 2): the ink-weighted mean **row** and mean **column** of each image (pixel values are the weights). "
             "The check tries a single inked pixel and random images against the lesson's formula.",
             "centre_of_mass",
             "import numpy as np\n\n\ndef centre_of_mass(images):\n"
             "    \"\"\"(N, 2): ink-weighted mean row and mean column of each (8, 8) image.\"\"\"\n"
             "    raise NotImplementedError  # your code here\n",
             centre_of_mass, _verify_centre),
    Exercise(2, "architecture", "average the features instead of flattening them",
             "Write `build_gap_model(cfg)`: the lesson's `build_model` with the `flatten` layer replaced by "
             "`keras.layers.GlobalAveragePooling2D(name=\"gap\")`; keep every other layer and name. The check builds "
             "it with `cnn_filters=(8, 24)`. Compare `count_params()` with the original: where did the weights go?",
             "build_gap_model",
             "import keras\n\n\ndef build_gap_model(cfg):\n"
             "    \"\"\"build_model with GlobalAveragePooling2D 'gap' in place of Flatten.\"\"\"\n"
             "    raise NotImplementedError  # start from lesson.build_model's code\n",
             build_gap_model, _verify_gap),
    Exercise(3, "predict", "how many hand-made features?",
             "Before running it: how many numbers does `hand_made_features` compute for one 8x8 digit? Read its code "
             "(three HOGs, then ink statistics) and write the count as `PREDICTED_FEATURES`, then check.",
             "PREDICTED_FEATURES",
             "PREDICTED_FEATURES = None  # a whole number, worked out by hand\n",
             PREDICTED_FEATURES, _verify_features),
)
