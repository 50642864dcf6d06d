"""Day 6 - Segmentation: which pixels are tumour? A U-Net on brain-MRI-like slices.

Seeds 003 and 004: "automatically segmenting brain tumours with AI", and Mask R-CNN - networks
that do not just say *what* is in an image but *where*, pixel by pixel.

A classifier squeezes an image into one answer. A segmentation network must answer for every
pixel, so it needs two things at once: *context* (is this bright spot a tumour or the skull?),
which comes from downsampling until each unit sees most of the slice, and *precision* (exactly
where is the edge?), which downsampling throws away. The U-Net (Ronneberger et al., 2015)
keeps both: an encoder that pools, a decoder that upsamples back, and skip connections that
hand each decoder stage the sharp, full-resolution features of the matching encoder stage.

Data: slices from a seeded generator (``dlbootcamp.worlds.phantoms``): a skull ring, grey and white
matter, ventricles, one or more fuzzy tumour blobs, a smooth bias field and Rician noise. The
generator knows where it drew the tumours, so the masks are exact. Train, validation and test
slices come from independent seeds: the test slices are never seen in training.

We score with Dice (2|A and B| / (|A| + |B|)) averaged over test slices: pixel accuracy would
be 98% for a network that predicts "no tumour" everywhere, Dice would be 0.

The baseline is what an image analyst tries first: tumours are brighter than tissue, so smooth,
threshold the intensity (Otsu's threshold or a fixed one), and clean the mask with a
morphological opening; the smoothing, threshold and opening radius are chosen on the validation
slices. It trips over what the U-Net learns to ignore: the bright skull ring, the bias field
that makes one side of the head brighter, and faint tumours.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from dlbootcamp import data as datasets
from dlbootcamp import image_metrics, plots, training
from dlbootcamp.worlds import phantoms
from dlbootcamp.lesson import Bar, LessonInfo, Trained

LESSON = LessonInfo(
    id="segmentation",
    day=6,
    title="Segmentation: a U-Net finds tumours in brain-MRI-like slices",
    seeds=("003", "004"),
    topics=("semantic segmentation", "U-Net", "skip connections", "Dice", "medical imaging",
            "bias field and noise"),
    summary=("Generated brain-MRI-like slices with fuzzy tumours, bias field and Rician noise; a U-Net "
             "predicts the tumour mask pixel by pixel, scored by Dice on held-out slices."),
    bars=(Bar("test_dice", ">=", 0.85),),
    # int8 may lose at most 0.02 Dice against the Keras model.
    quantized_tolerance=0.02,
    distribute=True,
    baselines=("threshold + morphology",),
    resumable=True,  # one model.fit with run.callbacks(): --resume continues it
)


@dataclasses.dataclass(frozen=True)
class Config:
    size: int = 64  # slice height/width in pixels (a multiple of 2**len(filters))
    n_train: int = 2400  # generated training slices
    n_val: int = 300  # validation slices (early stopping)
    n_test: int = 500  # held-out slices, scored once
    filters: tuple[int, ...] = (8, 16, 32, 64)  # channels per U-Net level, the last is the bottleneck
    epochs: int = 10  # passes over the training slices (early stopping on validation Dice)
    batch_size: int = 32
    learning_rate: float = 3e-3  # Adam, cosine-decayed to 0 over the run
    seed: int = 0  # phantoms, initial weights, shuffling

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_train=64, n_val=16, n_test=32, filters=(4, 8, 16), epochs=1, batch_size=16)


# --- data: three independent streams of phantoms ------------------------------------------------

def load_data(cfg: Config) -> datasets.Splits:
    """Slices (N, size, size, 1) and masks (N, size, size, 1); the three splits share no seed."""
    spec = phantoms.PhantomSpec(size=cfg.size)
    train_seed, val_seed, test_seed = (int(s.generate_state(1)[0])
                                       for s in np.random.SeedSequence(cfg.seed).spawn(3))
    parts = [datasets.Split(*phantoms.brain_slices(n, seed=s, spec=spec))
             for n, s in ((cfg.n_train, train_seed), (cfg.n_val, val_seed), (cfg.n_test, test_seed))]
    return datasets.Splits(*parts, labels=("background", "tumour"), source="generated:dlbootcamp.worlds.phantoms")


def representative_data(data: datasets.Splits, n: int = 200, split: str = "train"):
    """Model inputs from a split: train calibrates int8, test feeds the export parity check."""
    return getattr(data, split).x[:n]


def sidecar(data: datasets.Splits) -> dict:
    """What a device needs to feed the exported model and read its answer."""
    return {"labels": list(data.labels), "preprocessing": phantoms.PREPROCESSING,
            "output": "per-pixel tumour probability (sigmoid); threshold at 0.5 for the mask"}


# --- model: down for context, up for precision, skips for detail ---------------------------------

def _conv_block(x, filters: int, name: str):
    for i in ("a", "b"):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"{name}_bn{i}")(x)
        x = keras.layers.ReLU(name=f"{name}_relu{i}")(x)
    return x


def build_model(cfg: Config) -> keras.Model:
    """A U-Net: encoder (conv blocks + pooling), bottleneck, decoder (upsample + skip + conv block)."""
    levels = len(cfg.filters) - 1
    if cfg.size % 2 ** levels:
        raise ValueError(f"Invalid size {cfg.size}: expected a multiple of {2 ** levels} for "
                         f"{levels} poolings (filters={cfg.filters}).")
    inputs = keras.Input((cfg.size, cfg.size, 1), name="slice")
    x, skips = inputs, []
    for i, f in enumerate(cfg.filters[:-1]):
        x = _conv_block(x, f, f"down{i}")
        skips.append(x)  # the sharp features the decoder gets back
        x = keras.layers.MaxPooling2D(name=f"pool{i}")(x)
    x = _conv_block(x, cfg.filters[-1], "bottleneck")  # each unit here sees most of the slice
    for i in reversed(range(levels)):
        x = keras.layers.Conv2DTranspose(cfg.filters[i], 2, strides=2, name=f"up{i}")(x)
        x = keras.layers.Concatenate(name=f"skip{i}")([x, skips[i]])
        x = _conv_block(x, cfg.filters[i], f"dec{i}")
    outputs = keras.layers.Conv2D(1, 1, activation="sigmoid", name="tumour_prob")(x)
    return keras.Model(inputs, outputs, name="unet")


def dice_loss(y_true, y_prob):
    """1 - soft Dice per slice: a differentiable Dice that does not drown in background pixels."""
    axes = (1, 2, 3)
    inter = keras.ops.sum(y_true * y_prob, axis=axes)
    total = keras.ops.sum(y_true, axis=axes) + keras.ops.sum(y_prob, axis=axes)
    return 1.0 - (2.0 * inter + 1.0) / (total + 1.0)


def bce_dice_loss(y_true, y_prob):
    """Cross-entropy (every pixel right) + Dice (the tumour pixels right)."""
    bce = keras.ops.mean(keras.losses.binary_crossentropy(y_true, y_prob), axis=(1, 2))
    return bce + dice_loss(y_true, y_prob)


def dice(y_true, y_prob):
    """Thresholded Dice per slice, as the test scores it (Keras averages it over slices)."""
    axes = (1, 2, 3)
    pred = keras.ops.cast(y_prob > 0.5, y_prob.dtype)
    inter = keras.ops.sum(y_true * pred, axis=axes)
    total = keras.ops.sum(y_true, axis=axes) + keras.ops.sum(pred, axis=axes)
    return keras.ops.where(total == 0, 1.0, 2.0 * inter / keras.ops.maximum(total, 1.0))


def inference_copy(model: keras.Model, cfg: Config) -> keras.Model:
    """The trained weights in an uncompiled model: it loads anywhere, without our custom loss."""
    copy = build_model(cfg)
    copy.set_weights(model.get_weights())
    return copy


# --- train ----------------------------------------------------------------------------------

def train(cfg: Config, run) -> Trained:
    training.seed_everything(cfg.seed)
    data = load_data(cfg)
    run.log(f"  data: {data.sizes()} {cfg.size}x{cfg.size} slices from {data.source}; "
            f"tumour pixels {data.train.y.mean():.1%} of training pixels")
    steps = cfg.epochs * -(-len(data.train) // cfg.batch_size)
    with run.scope():  # the tf.distribute strategy's, under --distribute
        model = build_model(cfg)
        model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(cfg.learning_rate, steps)),
                      loss=bce_dice_loss, metrics=[dice])
    train_ds = datasets.batches(data.train.x, data.train.y, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed)
    # Before each validation (and so before early stopping reads it), batch normalisation's moving averages become
    # the statistics of 400 training slices under the current weights: with the lagging averages the first epochs'
    # validation Dice sat far below training (docs/lessons.md).
    precise = training.precise_batch_norm(data.train.x[:400])
    fit = model.fit(train_ds, validation_data=(data.val.x, data.val.y), epochs=cfg.epochs, verbose=0,
                    shuffle=False, callbacks=[*run.callbacks(), precise, training.early_stopping("val_dice", 4, "max")])
    model = inference_copy(model, cfg)
    metrics = evaluate(training.predict_fn(model, batch_size=128), data)
    save_pictures(model, data, run)
    return Trained(exports={"model": model}, metrics=metrics, history=training.history_dict(fit),
                   notes=[f"Dice per held-out slice: mean {metrics['test_dice']:.3f}, "
                          f"worst decile {metrics['test_dice_p10']:.3f}"],
                   baselines={"threshold + morphology": threshold_baseline(data, run.log)})


def threshold_segment(images: np.ndarray, sigma: float, threshold: float | None, radius: int) -> np.ndarray:
    """Classical masks (N, H, W, 1): Gaussian smoothing, a threshold (None = Otsu's, per slice), opening."""
    from scipy.ndimage import gaussian_filter
    from skimage.filters import threshold_otsu
    from skimage.morphology import disk, opening

    out = []
    for image in images[..., 0]:
        smooth = gaussian_filter(image, sigma) if sigma else image
        mask = smooth > (threshold_otsu(smooth) if threshold is None else threshold)
        out.append(opening(mask, disk(radius)) if radius else mask)
    return np.stack(out)[..., None].astype(np.float32)


def threshold_baseline(data: datasets.Splits, log) -> dict[str, float]:
    """The threshold segmenter with its settings chosen on validation Dice, scored on the test slices."""
    grid = [(sigma, t, r) for sigma in (0.0, 1.0) for t in (None, 0.5, 0.55, 0.6, 0.65, 0.7) for r in (0, 1, 2, 3)]
    val = {g: image_metrics.dice(data.val.y, threshold_segment(data.val.x, *g)) for g in grid}
    best = max(grid, key=val.get)
    sigma, t, r = best
    log(f"  threshold + morphology: smoothing {sigma:g}, threshold {'Otsu' if t is None else t}, opening radius {r} "
        f"chosen on validation (Dice {val[best]:.3f})")
    scores = image_metrics.dice_per_image(data.test.y, threshold_segment(data.test.x, *best))
    return {"val_dice": val[best], "test_dice": float(scores.mean()), "test_dice_p10": float(np.percentile(scores, 10))}


# --- pictures -------------------------------------------------------------------------------

def save_pictures(model: keras.Model, data: datasets.Splits, run, n: int = 6) -> None:
    """Slice, true mask, predicted mask and overlay, for the first held-out slices."""
    x, y = data.test.x[:n], data.test.y[:n]
    prob = model.predict(x, verbose=0)
    scores = image_metrics.dice_per_image(y, prob)
    plt = plots.pyplot()
    fig, axes = plt.subplots(4, len(x), figsize=(1.9 * len(x), 8), squeeze=False)
    for j in range(len(x)):
        axes[0, j].imshow(x[j, ..., 0], cmap="gray")
        axes[1, j].imshow(y[j, ..., 0], cmap="gray", vmin=0, vmax=1)
        axes[2, j].imshow(prob[j, ..., 0] > 0.5, cmap="gray", vmin=0, vmax=1)
        axes[3, j].imshow(x[j, ..., 0], cmap="gray")
        axes[3, j].contour(y[j, ..., 0], levels=[0.5], colors="lime", linewidths=1)
        axes[3, j].contour(prob[j, ..., 0], levels=[0.5], colors="red", linewidths=1)
        axes[0, j].set_title(f"Dice {scores[j]:.2f}", fontsize=9)
    for row, label in enumerate(("slice", "true mask", "predicted mask", "overlay (true green, pred red)")):
        axes[row, 0].set_ylabel(label, fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Held-out slices: the U-Net's tumour masks")
    fig.tight_layout()
    run.save_figure(fig, "segmentations")
    all_scores = image_metrics.dice_per_image(data.test.y, model.predict(data.test.x, batch_size=128, verbose=0))
    fig = plt.figure(figsize=(5, 3.2))
    ax = fig.add_subplot()
    ax.hist(all_scores, bins=20, range=(0, 1))
    ax.set(xlabel="Dice", ylabel="held-out slices", title="Dice per held-out slice")
    run.save_figure(fig, "dice_histogram")


# --- evaluate: the same code scores Keras, TFLite and ONNX ----------------------------------------

def evaluate(predict, data: datasets.Splits) -> dict[str, float]:
    scores = image_metrics.dice_per_image(data.test.y, np.asarray(predict(data.test.x)))
    return {"test_dice": float(scores.mean()), "test_dice_p10": float(np.percentile(scores, 10))}
