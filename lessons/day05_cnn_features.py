"""Day 5 - What a convolutional network learns: edges -> parts -> objects.

Seeds 001, 003 and 004: deep learning learns its features instead of having an expert
hand-craft them, and it learns them as a hierarchy - "low level features like the edges",
then "more complex features", then whole objects; ImageNet (2012) is where that first beat
everything else.

We train a small CNN on Fashion-MNIST (real 28x28 photos of clothes, 10 classes) and then
look inside it:

- the first layer's filters (they are edge and blob detectors),
- activation maps of one image at each depth (from local strokes to whole-garment parts),
- class-maximising inputs: gradient ascent on the *input* to find what each output unit
  wants to see.

Data: the Debian package ``dataset-fashion-mnist`` (offline) or TFDS when online.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from dlbootcamp import data as datasets
from dlbootcamp import plots, training
from dlbootcamp.lesson import Bar, LessonInfo, Trained

LESSON = LessonInfo(
    id="cnn-features",
    day=5,
    title="Convolutional networks and the features they learn (Fashion-MNIST)",
    seeds=("001", "003", "004"),
    datasets=("fashion_mnist",),
    topics=("convolution", "feature hierarchy", "first-layer filters", "activation maps",
            "class-maximising inputs", "ImageNet story"),
    summary=("A small CNN classifies Fashion-MNIST clothes; then we look inside: first-layer filters, "
             "activation maps per depth, and the inputs that maximise each class."),
    bars=(Bar("test_accuracy", ">=", 0.90),),
    quantized_tolerance=0.01,
    distribute=True,
    baselines=("logistic regression (raw pixels)",),
    resumable=True,  # one model.fit with run.callbacks(): --resume continues it
)


@dataclasses.dataclass(frozen=True)
class Config:
    filters: tuple[int, ...] = (24, 48)  # conv channels per block (conv + BN + ReLU, then pool)
    convs_per_block: int = 1  # a second conv per block sees more context but triples the cost
    dense: int = 128  # units in the classifier head
    dropout: float = 0.3
    epochs: int = 8  # passes over 55k images (early stopping on validation): the most that fits 5 minutes here
    batch_size: int = 128
    learning_rate: float = 2e-3  # Adam, cosine-decayed to 0 over the run
    seed: int = 0  # validation split, initial weights, shuffling
    train_limit: int = 0  # 0 = all 55k training images; the quick preset uses a few

    @classmethod
    def quick(cls) -> "Config":
        return cls(filters=(8, 16), dense=32, epochs=1, train_limit=1500)


# --- data ----------------------------------------------------------------------------------

PREPROCESSING = "28x28x1 grayscale image, float32 pixel values in [0, 1] (uint8 divided by 255)"


def load_data(cfg: Config) -> datasets.Splits:
    """Fashion-MNIST: the official 10k test images; 5k training images held out for validation."""
    splits = datasets.fashion_mnist(seed=cfg.seed)
    if cfg.train_limit:
        splits = datasets.subsample(splits, train=cfg.train_limit, val=500, test=1000)
    return splits


def representative_data(data: datasets.Splits, n: int = 200, split: str = "train"):
    """Model inputs from a split: train calibrates int8, test feeds the export parity check."""
    return getattr(data, split).x[:n]


def sidecar(data: datasets.Splits) -> dict:
    """What a device needs to feed the exported model and read its answer."""
    return {"labels": list(data.labels), "preprocessing": PREPROCESSING}


# --- model: conv blocks that see ever larger patches ------------------------------------------

def build_model(cfg: Config) -> keras.Model:
    inputs = keras.Input((28, 28, 1), name="image")
    x = inputs
    for i, f in enumerate(cfg.filters, start=1):
        for j in range(cfg.convs_per_block):
            tag = f"{i}{'ab'[j] if j < 2 else j}"
            x = keras.layers.Conv2D(f, 3, padding="same", use_bias=False, name=f"conv{tag}")(x)
            x = keras.layers.BatchNormalization(name=f"bn{tag}")(x)
            x = keras.layers.ReLU(name=f"relu{tag}")(x)
        x = keras.layers.MaxPooling2D(name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(cfg.dropout, seed=cfg.seed, name="dropout")(x)
    x = keras.layers.Dense(cfg.dense, activation="relu", name="features")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="fashion_cnn")


# --- train ---------------------------------------------------------------------------------

def train(cfg: Config, run) -> Trained:
    training.seed_everything(cfg.seed)
    data = load_data(cfg)
    run.log(f"  data: {data.sizes()} from {data.source}")
    steps = cfg.epochs * -(-len(data.train) // cfg.batch_size)
    with run.scope():  # the tf.distribute strategy's, under --distribute
        model = build_model(cfg)
        model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(cfg.learning_rate, steps)),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    train_ds = datasets.batches(data.train.x, data.train.y, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed)
    val_ds = datasets.batches(data.val.x, data.val.y, batch_size=512)
    fit = model.fit(train_ds, validation_data=val_ds, epochs=cfg.epochs, verbose=0, shuffle=False,
                    callbacks=[*run.callbacks(), training.early_stopping("val_accuracy", patience=3)])
    metrics = evaluate(training.predict_fn(model), data)
    save_pictures(model, data, run)
    return Trained(exports={"model": model}, metrics=metrics, history=training.history_dict(fit),
                   baselines={"logistic regression (raw pixels)": pixel_baseline(data, cfg.seed, run.log)})


def pixel_baseline(data: datasets.Splits, seed: int, log, tune_on: int = 10_000) -> dict[str, float]:
    """What a practitioner tries before a CNN: logistic regression on the 784 raw pixels. C is chosen
    on validation with ``tune_on`` training images (each fit on all 55,000 takes ~30 s on 2 cores),
    then the chosen C is refitted on every training image."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    from dlbootcamp.baselines import tune

    flat = {s: getattr(data, s).x.reshape(len(getattr(data, s)), -1) for s in ("train", "val", "test")}
    pick = np.random.default_rng(seed).permutation(len(data.train))[:tune_on]
    with warnings.catch_warnings():  # 100 L-BFGS iterations: close enough for a baseline, and said so here
        warnings.simplefilter("ignore", ConvergenceWarning)
        best = tune(lambda c: LogisticRegression(C=c, max_iter=100), (0.01, 0.1, 1.0),
                    (flat["train"][pick], data.train.y[pick]), (flat["val"], data.val.y))
        model = LogisticRegression(C=best.params, max_iter=100).fit(flat["train"], data.train.y)
    log(f"  logistic regression on raw pixels: C = {best.params:g} chosen on validation")
    return {"val_accuracy": float(model.score(flat["val"], data.val.y)),
            "test_accuracy": float(model.score(flat["test"], data.test.y))}


# --- look inside ---------------------------------------------------------------------------

def save_pictures(model: keras.Model, data: datasets.Splits, run) -> None:
    # First-layer filters: 3x3 weights, one per output channel.
    w = model.get_layer("conv1a").get_weights()[0][:, :, 0, :]  # (3, 3, C)
    run.save_figure(plots.image_grid(np.moveaxis(w, -1, 0), cols=8, cmap="RdBu",
                                     title="First-layer filters (red/blue = +/- weight)"), "filters_layer1")
    # Activation maps of one test image at increasing depth.
    names = [n for n in (f"relu{i}a" for i in range(1, 10)) if any(l.name == n for l in model.layers)]
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    image = data.test.x[:1]
    maps = probe.predict(image, verbose=0)
    maps = maps if isinstance(maps, list) else [maps]
    plt = plots.pyplot()
    fig, axes = plt.subplots(len(names), 9, figsize=(13, 1.6 * len(names)), squeeze=False)
    for row, (name, act) in enumerate(zip(names, maps)):
        axes[row, 0].imshow(image[0, :, :, 0], cmap="gray")
        axes[row, 0].set_title("input" if row == 0 else "", fontsize=8)
        strongest = np.argsort(act[0].mean(axis=(0, 1)))[::-1][:8]
        for col, ch in enumerate(strongest, start=1):
            axes[row, col].imshow(act[0, :, :, ch], cmap="viridis")
            axes[row, col].set_title(f"{name} #{ch}", fontsize=7)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle(f"Activation maps by depth ({data.labels[data.test.y[0]]}): edges, then parts")
    fig.tight_layout()
    run.save_figure(fig, "activation_maps")
    # Class-maximising inputs: gradient ascent on the image, starting from grey.
    run.save_figure(plots.image_grid(class_maximising_inputs(model), list(data.labels), cols=5, cmap="magma",
                                     title="Inputs that maximise each class score"), "class_maximising_inputs")
    # Confusion between classes on the test set.
    from sklearn.metrics import ConfusionMatrixDisplay

    pred = model.predict(data.test.x, verbose=0).argmax(-1)
    fig, ax = plt.subplots(figsize=(7, 6))
    ConfusionMatrixDisplay.from_predictions(data.test.y, pred, display_labels=list(data.labels), ax=ax,
                                            xticks_rotation=60, colorbar=False)
    ax.set_title("Test confusion matrix")
    fig.tight_layout()
    run.save_figure(fig, "confusion_matrix")


def class_maximising_inputs(model: keras.Model, steps: int = 60, lr: float = 0.05) -> np.ndarray:
    """For each class, the input image (from grey) that gradient ascent finds maximises its logit."""
    logits_model = keras.Model(model.input, model.get_layer("probs").output)  # softmax scores
    images = tf.Variable(tf.fill((10, 28, 28, 1), 0.5))
    target = tf.one_hot(tf.range(10), 10)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            score = tf.reduce_sum(tf.math.log(logits_model(images, training=False) + 1e-9) * target)
            score -= 1e-3 * tf.reduce_sum(tf.square(images - 0.5))  # keep the image plausible
        grad = tape.gradient(score, images)
        images.assign(tf.clip_by_value(images + lr * grad / (tf.math.reduce_std(grad) + 1e-8), 0.0, 1.0))
    return images.numpy()


# --- evaluate ------------------------------------------------------------------------------

def evaluate(predict, data: datasets.Splits) -> dict[str, float]:
    probs = np.asarray(predict(data.test.x))
    return {"test_accuracy": float(np.mean(probs.argmax(-1) == data.test.y))}
