"""Exercises for day 7 (super-resolution): the sub-pixel shuffle by hand, ESPCN's reach, ESPCN without bicubic."""

from __future__ import annotations

from dlbootcamp.app.exercises import Exercise, Wrong, expect_close, expect_model, expect_shape


# --- 1. implement a piece: depth_to_space, the sub-pixel convolution's rearrangement --------------------------

def depth_to_space(x, scale):
    """(h, w, scale*scale) -> (h*scale, w*scale, 1): channel i*scale + j of pixel (y, x) becomes
    high-resolution pixel (y*scale + i, x*scale + j)."""
    import numpy as np

    x = np.asarray(x)
    h, w, _ = x.shape
    return x.reshape(h, w, scale, scale).transpose(0, 2, 1, 3).reshape(h * scale, w * scale, 1)


def _verify_depth_to_space(fn) -> None:
    import numpy as np
    import tensorflow as tf

    x = np.arange(4 * 5 * 9, dtype=np.float32).reshape(4, 5, 9)
    expected = tf.nn.depth_to_space(x[None], 3).numpy()[0]
    got = np.asarray(fn(x.copy(), 3))
    expect_shape("depth_to_space(x (4, 5, 9), 3)", got, (12, 15, 1))
    if np.array_equal(got, x.reshape(4, 5, 3, 3).transpose(0, 3, 1, 2).reshape(12, 15, 1)):
        raise Wrong("rows and columns of each 3x3 block are swapped: channel i*3 + j goes to row offset i and column "
                    "offset j (channel 1 is the top row's middle pixel).")
    if np.array_equal(got, x.reshape(12, 15, 1)):
        raise Wrong("a plain reshape mixes pixels: the 9 channels of one low-resolution pixel must become one 3x3 "
                    "block; reshape to (h, w, 3, 3), move the axes to (h, 3, w, 3), then reshape.")
    expect_close("depth_to_space(x, 3) against tf.nn.depth_to_space", got, expected, atol=0)


# --- 2. predict an outcome: how far does one low-resolution pixel reach? --------------------------------------

PREDICTED_REACH = 4  # 5x5 (2) + 3x3 (1) + 3x3 (1): the lesson's MARGIN


def _measured_reach() -> int:
    """Nudge the centre pixel of a 17x17 input and see how far (in low-resolution pixels) the output changes."""
    import numpy as np

    from dlbootcamp.lessons import day07_super_resolution as lesson

    cfg = lesson.Config.quick()
    model = lesson.build_model(cfg, size=17)
    for layer in model.layers:  # positive weights: no unit is dead, so every path carries the nudge
        layer.set_weights([np.full(w.shape, 0.01, np.float32) for w in layer.get_weights()])
    base = np.full((1, 17, 17, 1), 0.5, np.float32)
    poked = base.copy()
    poked[0, 8, 8, 0] = 0.9
    diff = np.abs(model.predict(poked, verbose=0) - model.predict(base, verbose=0))[0, :, :, 0] > 1e-7
    rows = np.flatnonzero(diff.any(1)) // cfg.scale  # the low-resolution rows whose output changed
    return int(max(8 - rows.min(), rows.max() - 8))


def _verify_reach(value) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise Wrong(f"PREDICTED_REACH is {value!r}; expected a whole number of low-resolution pixels.")
    actual = _measured_reach()
    if value != actual:
        way = "far" if value > actual else "short"
        raise Wrong(f"PREDICTED_REACH = {value} is too {way}: a k x k convolution reaches (k - 1) / 2 pixels each "
                    "way, and the reaches of stacked convolutions add up (the fixed bicubic branch beside them is "
                    "one 5x5 convolution). The check nudges one pixel of a 17x17 input and measures it.")


# --- 3. change the architecture: learn the whole image, not the residual ---------------------------------

def build_plain_model(cfg, size=None):
    """ESPCN without residual learning: the sub-pixels alone are the image (no fixed bicubic branch)."""
    import keras

    s = cfg.scale
    lr = keras.Input((size, size, 1), name="lr_luma")
    x = keras.layers.Conv2D(cfg.filters[0], 5, padding="same", activation="relu", name="features5x5")(lr)
    x = keras.layers.Conv2D(cfg.filters[1], 3, padding="same", activation="relu", name="features3x3")(x)
    x = keras.layers.Conv2D(s * s, 3, padding="same", name="subpixels")(x)
    x = keras.ops.depth_to_space(x, s)
    hr = keras.layers.ReLU(max_value=1.0, name="hr_luma")(x)
    return keras.Model(lr, hr, name="plain_espcn")


def _verify_plain(fn) -> None:
    import numpy as np

    from dlbootcamp.lessons import day07_super_resolution as lesson

    cfg = lesson.Config.quick()
    model = fn(cfg, 16)
    names = {layer.name for layer in getattr(model, "layers", [])}
    if names & {"bicubic", "plus_bicubic"}:
        raise Wrong(f"the model still has {sorted(names & {'bicubic', 'plus_bicubic'})}: without residual learning "
                    "the sub-pixels alone become the image.")
    expect_model("build_plain_model(Config.quick(), 16)", model, build_plain_model(cfg, 16))
    out = model.predict(np.full((1, 16, 16, 1), 0.5, np.float32), verbose=0)
    expect_shape("its output for a 16x16 input", out, (1, 48, 48, 1))


EXERCISES = (
    Exercise(1, "implement", "the sub-pixel shuffle",
             "Write `depth_to_space(x, scale)` in NumPy: (h, w, scale*scale) -> (h*scale, w*scale, 1), where channel "
             "`i*scale + j` of low-resolution pixel (y, x) becomes high-resolution pixel (y*scale + i, x*scale + j). "
             "It is the step that turns ESPCN's 9 channels into a 3x larger image; the check compares it with "
             "`tf.nn.depth_to_space`.",
             "depth_to_space",
             "import numpy as np\n\n\ndef depth_to_space(x, scale):\n"
             "    \"\"\"(h, w, scale**2) -> (h*scale, w*scale, 1).\"\"\"\n"
             "    raise NotImplementedError  # your code here\n",
             depth_to_space, _verify_depth_to_space),
    Exercise(2, "predict", "how far one pixel reaches",
             "Before running it: a change in one low-resolution pixel changes the output up to how many "
             "low-resolution pixels away (in each direction)? Read `build_model`'s kernels. Write it as "
             "`PREDICTED_REACH`; the export tiles overlap by exactly that much.",
             "PREDICTED_REACH",
             "PREDICTED_REACH = None  # a whole number of low-resolution pixels\n",
             PREDICTED_REACH, _verify_reach),
    Exercise(3, "architecture", "no residual",
             "Write `build_plain_model(cfg, size=None)`: ESPCN **without** the fixed `bicubic` branch and its "
             "`plus_bicubic` Add, so the `subpixels` themselves (after `depth_to_space` and `hr_luma`) are the "
             "image. Keep the other layer names. Train both for one epoch: which starts better, and why?",
             "build_plain_model",
             "import keras\n\n\ndef build_plain_model(cfg, size=None):\n"
             "    \"\"\"build_model without the bicubic residual.\"\"\"\n"
             "    raise NotImplementedError  # start from lesson.build_model's code\n",
             build_plain_model, _verify_plain),
)
