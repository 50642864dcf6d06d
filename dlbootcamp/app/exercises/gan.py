"""Exercises for day 9 (gan): the discriminator's loss by hand, a Frechet distance worked out, a shorter generator."""

from __future__ import annotations

from dlbootcamp.app.exercises import Exercise, Wrong, expect_close, expect_model


# --- 1. implement a piece: the discriminator's loss ------------------------------------------------------

def discriminator_loss(real_logits, fake_logits, real_label=0.9):
    """Mean binary cross-entropy from logits: real images against ``real_label`` (one-sided label smoothing),
    generated ones against 0; the two means added, as the lesson's ``d_loss``."""
    import numpy as np

    def bce(target, logits):  # log(1 + e^-|z|) + max(z, 0) - target * z: stable for any z
        z = np.asarray(logits, np.float64)
        return float(np.mean(np.maximum(z, 0) - target * z + np.log1p(np.exp(-np.abs(z)))))

    return bce(real_label, real_logits) + bce(0.0, fake_logits)


def _verify_d_loss(fn) -> None:
    import keras
    import numpy as np

    rng = np.random.default_rng(9)
    real, fake = rng.normal(1, 2, (16, 1)), rng.normal(-1, 2, (16, 1))
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    expected = float(bce(np.full(real.shape, 0.9), real)) + float(bce(np.zeros(fake.shape), fake))
    got = fn(real.copy(), fake.copy(), 0.9)
    unsmoothed = float(bce(np.ones(real.shape), real)) + float(bce(np.zeros(fake.shape), fake))
    if np.ndim(got) == 0 and abs(float(got) - unsmoothed) < 1e-4:
        raise Wrong("you aimed the real images at 1; the lesson's discriminator aims them at real_label (0.9): "
                    "one-sided label smoothing keeps it from growing overconfident.")
    expect_close("discriminator_loss against Keras' BinaryCrossentropy(from_logits=True)", got, expected, atol=1e-4)
    big = fn(np.array([[80.0]]), np.array([[-80.0]]), 0.9)
    if not np.isfinite(big):
        raise Wrong("for logits of +-80 your loss is not finite: compute the cross-entropy from the logits directly "
                    "(log(1 + e^-|z|) + max(z, 0) - target * z), not through sigmoid then log.")


# --- 2. predict an outcome: a Frechet distance worked out by hand ----------------------------------------------

PREDICTED_FRECHET = 4.0  # the same spread, means 1 apart in each of 4 dimensions: |mu_a - mu_b|^2 = 4


def _verify_frechet(value) -> None:
    import numpy as np

    from dlbootcamp.lessons import day09_gan as lesson

    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise Wrong(f"PREDICTED_FRECHET is {value!r}; expected a number.")
    a = np.random.default_rng(0).normal(0, 1, (500, 4))
    actual = lesson.frechet_distance(a, a + 1.0)
    if abs(value - 2.0) < 0.05:
        raise Wrong("2 is the distance between the means, |mu_a - mu_b|; the Frechet distance adds its *square*.")
    expect_close("PREDICTED_FRECHET (frechet_distance(a, a + 1) for 4-dimensional features)", value, actual, atol=0.05)


# --- 3. change the architecture: a generator that starts at 4x4 ----------------------------------------------

def build_short_generator(cfg):
    """The conditional generator with one upsampling: project to 4x4, one transposed conv to 8x8, the image."""
    import keras

    from dlbootcamp.lessons import day09_gan as lesson

    noise = keras.Input((cfg.latent,), name="noise")
    one_hot = keras.Input((lesson.CLASSES,), name="class_one_hot")
    x = keras.layers.Concatenate(name="noise_and_class")([noise, one_hot])
    x = keras.layers.Dense(4 * 4 * cfg.width, name="project")(x)
    x = keras.layers.LeakyReLU(0.2, name="act0")(x)
    x = keras.layers.Reshape((4, 4, cfg.width), name="to_4x4")(x)
    x = keras.layers.Conv2DTranspose(cfg.width // 2, 4, strides=2, padding="same", name="up1")(x)
    x = keras.layers.LeakyReLU(0.2, name="act1")(x)
    image = keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid", name="image")(x)
    return keras.Model([noise, one_hot], image, name="short_generator")


def _verify_short(fn) -> None:
    from dlbootcamp.lessons import day09_gan as lesson

    cfg = lesson.Config.quick()
    model = fn(cfg)
    names = {layer.name for layer in getattr(model, "layers", [])}
    if "up2" in names:
        raise Wrong("the model still has 'up2': start at 4x4 ('to_4x4') and upsample once ('up1', to cfg.width // 2 "
                    "channels) to 8x8.")
    expect_model("build_short_generator(Config.quick())", model, build_short_generator(cfg))


EXERCISES = (
    Exercise(1, "implement", "the discriminator's loss",
             "Write `discriminator_loss(real_logits, fake_logits, real_label=0.9)` in NumPy: the mean binary "
             "cross-entropy of the real images' logits against `real_label` plus that of the generated images' "
             "logits against 0 (the lesson's `d_loss`). Compute it from the logits so that it stays finite for "
             "large ones.",
             "discriminator_loss",
             "import numpy as np\n\n\ndef discriminator_loss(real_logits, fake_logits, real_label=0.9):\n"
             "    \"\"\"BCE(real_label, real) + BCE(0, fake), each a mean, from logits.\"\"\"\n"
             "    raise NotImplementedError  # your code here\n",
             discriminator_loss, _verify_d_loss),
    Exercise(2, "predict", "a Frechet distance by hand",
             "Before running it: `a` is 500 samples of 4-dimensional features; `b = a + 1` (every feature shifted by "
             "1, the spread unchanged). What is `frechet_distance(a, b)`? Read its formula; write the number as "
             "`PREDICTED_FRECHET`, then check.",
             "PREDICTED_FRECHET",
             "PREDICTED_FRECHET = None  # a number\n",
             PREDICTED_FRECHET, _verify_frechet),
    Exercise(3, "architecture", "a shorter generator",
             "Write `build_short_generator(cfg)`: the conditional generator (`build_generator(cfg, True)`) that "
             "projects to a 4x4 map (`Reshape` named `to_4x4`) and upsamples **once** (`up1`, `cfg.width // 2` "
             "channels, then `act1`) to 8x8 before `image`. Keep the other names. Fewer layers, more weights in "
             "`project`: which learns digits faster?",
             "build_short_generator",
             "import keras\n\n\ndef build_short_generator(cfg):\n"
             "    \"\"\"(noise, class one-hot) -> 8x8 image, from a 4x4 map with one transposed conv.\"\"\"\n"
             "    raise NotImplementedError  # start from lesson.build_generator's code\n",
             build_short_generator, _verify_short),
)
