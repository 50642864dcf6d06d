"""Exercises for day 5 (cnn-features): a convolution by hand, the shape after the conv blocks, a pooled head."""

from __future__ import annotations

from dlbootcamp.app.exercises import Exercise, Wrong, expect_close, expect_model, expect_shape, gap_instead_of_flatten


# --- 1. implement a piece: what one first-layer filter computes -----------------------------------------

def conv2d_same(image, kernel):
    """One filter over one grayscale image as Keras' Conv2D(padding="same") computes it: (H, W) * (3, 3) -> (H, W),
    a cross-correlation (the kernel is not flipped), zeros around the border."""
    import numpy as np

    image, kernel = np.asarray(image, np.float64), np.asarray(kernel, np.float64)
    kh, kw = kernel.shape
    padded = np.pad(image, ((kh // 2, kh // 2), (kw // 2, kw // 2)))
    out = np.zeros_like(image)
    for dy in range(kh):
        for dx in range(kw):
            out += kernel[dy, dx] * padded[dy:dy + image.shape[0], dx:dx + image.shape[1]]
    return out


def _verify_conv(fn) -> None:
    import keras
    import numpy as np

    rng = np.random.default_rng(5)
    image = rng.random((28, 28)).astype(np.float32)
    kernel = rng.normal(0, 1, (3, 3)).astype(np.float32)
    conv = keras.layers.Conv2D(1, 3, padding="same", use_bias=False)
    conv.build((None, 28, 28, 1))
    conv.set_weights([kernel[:, :, None, None]])
    expected = np.asarray(conv(image[None, :, :, None]))[0, :, :, 0]
    got = np.asarray(fn(image.copy(), kernel.copy()), np.float64)
    expect_shape("conv2d_same(a 28x28 image, a 3x3 kernel)", got, (28, 28))
    if np.allclose(got, conv2d_same(image, kernel[::-1, ::-1]), atol=1e-4):
        raise Wrong("you flipped the kernel (a convolution in the maths sense); Keras' Conv2D slides it as it is "
                    "(a cross-correlation): out[i, j] = sum of kernel[dy, dx] * image[i + dy - 1, j + dx - 1].")
    if not np.allclose(got, expected, atol=1e-4) and np.allclose(got[1:-1, 1:-1], expected[1:-1, 1:-1], atol=1e-4):
        raise Wrong("the inside matches Keras but the border rows and columns do not: padding='same' puts one ring of "
                    "zeros around the image, so a border pixel sums only the kernel taps that land inside it.")
    expect_close("conv2d_same against Keras' Conv2D(padding='same')", got, expected, atol=1e-4)


# --- 2. predict an outcome: the feature maps' shape after the conv blocks ---------------------------------------

PREDICTED_POOL2_SHAPE = (7, 7, 16)  # 28 -> 14 -> 7 by the two poolings; 16 filters in the second block


def _verify_shape(value) -> None:
    from dlbootcamp.lessons import day05_cnn_features as lesson

    if not isinstance(value, (tuple, list)) or len(value) != 3 or not all(isinstance(v, int) for v in value):
        raise Wrong(f"PREDICTED_POOL2_SHAPE is {value!r}; expected (height, width, channels), three ints.")
    actual = tuple(lesson.build_model(lesson.Config.quick()).get_layer("pool2").output.shape[1:])
    if tuple(value) != actual:
        hints = []
        if tuple(value[:2]) != actual[:2]:
            hints.append("padding='same' keeps 28x28 through each conv; each MaxPooling2D halves the side")
        if value[2] != actual[2]:
            hints.append("the channels are the second block's number of filters (cfg.filters)")
        raise Wrong(f"PREDICTED_POOL2_SHAPE = {tuple(value)} is not right: {'; '.join(hints)}.")


# --- 3. change the architecture: pool the maps instead of flattening them ----------------------------------

def build_gap_model(cfg):
    """The lesson's CNN whose head reads GlobalAveragePooling2D ('gap') instead of Flatten."""
    from dlbootcamp.lessons import day05_cnn_features as lesson

    return gap_instead_of_flatten(lesson.build_model(cfg), dropout=cfg.dropout, dense=cfg.dense, seed=cfg.seed,
                                  name="fashion_gap_cnn")


def _verify_gap(fn) -> None:
    import dataclasses

    from dlbootcamp.lessons import day05_cnn_features as lesson

    cfg = dataclasses.replace(lesson.Config.quick(), filters=(8, 12))
    model = fn(cfg)
    if any(layer.name == "flatten" for layer in getattr(model, "layers", [])):
        raise Wrong("the model still has the 'flatten' layer; replace it by GlobalAveragePooling2D named 'gap'.")
    expect_model("build_gap_model(filters=(8, 12))", model, build_gap_model(cfg))


EXERCISES = (
    Exercise(1, "implement", "a convolution by hand",
             "Write `conv2d_same(image, kernel)` in NumPy: one 3x3 filter slid over a (H, W) image exactly as "
             "`keras.layers.Conv2D(1, 3, padding=\"same\", use_bias=False)` does, returning (H, W). The check "
             "compares it with Keras on a random 28x28 image; look at `filters_layer1.png` for what such filters are.",
             "conv2d_same",
             "import numpy as np\n\n\ndef conv2d_same(image, kernel):\n"
             "    \"\"\"(H, W) image, (3, 3) kernel -> (H, W), as Conv2D(padding='same') without bias.\"\"\"\n"
             "    raise NotImplementedError  # your code here\n",
             conv2d_same, _verify_conv),
    Exercise(2, "predict", "the shape after two blocks",
             "Before running it: what is the output shape of layer `pool2` of `build_model(Config.quick())` for one "
             "image (height, width, channels)? Write it as `PREDICTED_POOL2_SHAPE`, then check "
             "(`model.get_layer(\"pool2\").output.shape`).",
             "PREDICTED_POOL2_SHAPE",
             "PREDICTED_POOL2_SHAPE = None  # (height, width, channels)\n",
             PREDICTED_POOL2_SHAPE, _verify_shape),
    Exercise(3, "architecture", "pool instead of flatten",
             "Write `build_gap_model(cfg)`: the lesson's `build_model` with `flatten` replaced by "
             "`keras.layers.GlobalAveragePooling2D(name=\"gap\")`; keep every other layer and name. The check builds "
             "it with `filters=(8, 12)`. How many parameters does the head lose, and does accuracy follow?",
             "build_gap_model",
             "import keras\n\n\ndef build_gap_model(cfg):\n"
             "    \"\"\"build_model with GlobalAveragePooling2D 'gap' in place of Flatten.\"\"\"\n"
             "    raise NotImplementedError  # start from lesson.build_model's code\n",
             build_gap_model, _verify_gap),
)
