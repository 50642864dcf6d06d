"""Day 3 - How to train a neural network.

Seeds 001 and 003: a network is a function with free parameters; the gradient of the loss
says how much each parameter matters ("the most bang for your buck"); backpropagation
computes it; and training is a procedure - define the problem, pick a metric, set a
baseline, *record every experiment*.

This lesson trains one small MLP on scikit-learn's 8x8 handwritten digits three ways:

1. it checks that automatic differentiation is right, by comparing ``tf.GradientTape``
   gradients with finite differences (in float64, relative error < 1e-3);
2. it trains the MLP with a hand-written loop: forward pass, loss, tape, optimizer step;
3. it trains the very same architecture with ``model.fit``, which does all of that for you.

Beside it stand the two baselines a practitioner tries first, each tuned on validation as the
MLP is: a nearest-centroid classifier (one mean image per digit) and a logistic regression on
the raw 64 pixels (its regularisation C chosen on the validation digits). Logistic regression
is strong on 8x8 digits: the MLP must beat the *stronger* of the two, and docs/lessons.md shows
how often it does over seeds. The run folder is the experiment record.
"""

from __future__ import annotations

import dataclasses
import warnings

import keras
import numpy as np
import tensorflow as tf

from dlbootcamp import data as datasets
from dlbootcamp import plots, training
from dlbootcamp.lesson import Bar, LessonInfo, Trained

LESSON = LessonInfo(
    id="training",
    day=3,
    title="How to train a neural network: gradients, backprop, a loop by hand and model.fit",
    seeds=("001", "003"),
    topics=("gradient", "backpropagation", "finite differences", "training loop", "baseline",
            "record every experiment"),
    summary=("An MLP on 8x8 digits: check GradientTape against finite differences, train it with a "
             "hand-written loop and with model.fit, and compare it on held-out digits with the stronger of "
             "two tuned baselines (nearest centroid, logistic regression on raw pixels)."),
    bars=(Bar("test_accuracy", ">=", 0.95), Bar("loop_test_accuracy", ">=", 0.95),
          Bar("gradcheck_rel_error", "<", 1e-3), Bar("gain_over_baseline", ">", 0.0)),
    quantized_tolerance=0.01,
    baselines=("nearest centroid", "logistic regression (raw pixels)"),
    # distribute stays False: the hand-written loop steps the optimizer outside strategy.run.
    resumable=True,  # one model.fit with run.callbacks(): --resume continues it
)


@dataclasses.dataclass(frozen=True)
class Config:
    hidden: int = 128  # units in each of the two hidden layers
    epochs: int = 60  # passes over the training digits (early stopping on validation)
    batch_size: int = 32
    learning_rate: float = 1e-3  # Adam
    dropout: float = 0.2
    seed: int = 0  # data split, initial weights, shuffling
    train_limit: int = 0  # 0 = all training digits; the quick preset uses a few

    @classmethod
    def quick(cls) -> "Config":
        return cls(hidden=32, epochs=2, train_limit=300)


# --- data ----------------------------------------------------------------------------------

PREPROCESSING = "8x8 grayscale digit, float32 pixel values in [0, 1] (scikit-learn's 0..16 divided by 16)"


def load_data(cfg: Config) -> datasets.Splits:
    """Digits in [0, 1], 70% train / 10% validation / 20% test, stratified by the seed."""
    splits = datasets.digits(seed=cfg.seed)
    if cfg.train_limit:
        splits = datasets.subsample(splits, train=cfg.train_limit, val=100, test=200)
    return splits


def representative_data(data: datasets.Splits, n: int = 200, split: str = "train"):
    """Model inputs from a split: train calibrates int8, test feeds the export parity check."""
    return getattr(data, split).x[:n]


def sidecar(data: datasets.Splits) -> dict:
    """What a device needs to feed the exported model and read its answer."""
    return {"labels": list(data.labels), "preprocessing": PREPROCESSING}


# --- model ---------------------------------------------------------------------------------

def build_model(cfg: Config) -> keras.Model:
    inputs = keras.Input((8, 8), name="image")
    x = keras.layers.Flatten(name="flatten")(inputs)
    x = keras.layers.Dense(cfg.hidden, activation="relu", name="hidden1")(x)
    x = keras.layers.Dropout(cfg.dropout, seed=cfg.seed, name="dropout")(x)
    x = keras.layers.Dense(cfg.hidden, activation="relu", name="hidden2")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="digits_mlp")


# --- 1. is the gradient right? ---------------------------------------------------------------

def gradient_check(cfg: Config, data: datasets.Splits, eps: float = 1e-6, n_params: int = 20) -> float:
    """Max relative error between tape gradients and central finite differences (float64)."""
    rng = np.random.default_rng(cfg.seed)
    x = tf.constant(data.train.x[:16].reshape(16, -1), tf.float64)
    y = tf.constant(data.train.y[:16])
    w1 = tf.Variable(rng.normal(0, 0.3, (64, 8)))
    w2 = tf.Variable(rng.normal(0, 0.3, (8, 10)))

    def loss_fn():
        logits = tf.nn.relu(x @ w1) @ w2
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))

    with tf.GradientTape() as tape:
        loss = loss_fn()
    g1 = tape.gradient(loss, w1).numpy()
    worst = 0.0
    for flat in rng.choice(w1.shape[0] * w1.shape[1], n_params, replace=False):
        i, j = divmod(int(flat), w1.shape[1])
        old = w1[i, j].numpy()
        w1[i, j].assign(old + eps)
        up = loss_fn().numpy()
        w1[i, j].assign(old - eps)
        down = loss_fn().numpy()
        w1[i, j].assign(old)
        numeric = (up - down) / (2 * eps)
        worst = max(worst, abs(numeric - g1[i, j]) / max(abs(numeric) + abs(g1[i, j]), 1e-12))
    return float(worst)


# --- 2. a training loop by hand ---------------------------------------------------------------

def train_by_hand(cfg: Config, data: datasets.Splits, log) -> tuple[keras.Model, dict[str, list[float]]]:
    model = build_model(cfg)
    optimizer = keras.optimizers.Adam(cfg.learning_rate)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    val_acc = keras.metrics.SparseCategoricalAccuracy()

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    history: dict[str, list[float]] = {"loss": [], "val_accuracy": []}
    best, best_weights, waited = -1.0, None, 0
    for epoch in range(cfg.epochs):
        losses = [float(step(x, y)) for x, y in datasets.batches(
            data.train.x, data.train.y, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed + epoch)]
        val_acc.reset_state()
        val_acc.update_state(data.val.y, model(data.val.x, training=False))
        history["loss"].append(float(np.mean(losses)))
        history["val_accuracy"].append(float(val_acc.result()))
        if history["val_accuracy"][-1] > best:  # early stopping on validation, never on test
            best, best_weights, waited = history["val_accuracy"][-1], model.get_weights(), 0
        elif (waited := waited + 1) >= 8:
            break
    model.set_weights(best_weights)
    log(f"  hand-written loop: {len(history['loss'])} epochs, best val accuracy {best:.4f}")
    return model, history


# --- 3. the same with model.fit ---------------------------------------------------------------

def train(cfg: Config, run) -> Trained:
    training.seed_everything(cfg.seed)
    data = load_data(cfg)
    run.log(f"  data: {data.sizes()} from {data.source}")

    rel_error = gradient_check(cfg, data)
    run.log(f"  gradient check: max relative error tape vs finite differences = {rel_error:.2e}")

    baselines = fit_baselines(data, run.log)
    baseline_acc = max(b["test_accuracy"] for b in baselines.values())  # the stronger one

    loop_model, loop_history = train_by_hand(cfg, data, run.log)
    loop_acc = evaluate(training.predict_fn(loop_model), data)["test_accuracy"]

    model = build_model(cfg)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    fit = model.fit(data.train.x, data.train.y, validation_data=(data.val.x, data.val.y),
                    epochs=cfg.epochs, batch_size=cfg.batch_size, verbose=0,
                    callbacks=[*run.callbacks(), training.early_stopping("val_accuracy", patience=8)])
    metrics = evaluate(training.predict_fn(model), data)

    fig = plots.pyplot().figure(figsize=(5, 3.4))
    ax = fig.add_subplot()
    for label, curve in (("hand-written loop", loop_history["val_accuracy"]), ("model.fit", fit.history["val_accuracy"])):
        ax.plot(range(1, len(curve) + 1), curve, marker=plots.marker(curve), label=label)  # a 1-epoch run: a point
    for (name, b), style in zip(baselines.items(), (":", "--")):
        ax.axhline(b["val_accuracy"], color="gray", ls=style, label=f"{name} (validation)")
    ax.set(xlabel="epoch", ylabel="validation accuracy", title="Two ways to train the same MLP")
    ax.legend()
    run.save_figure(fig, "loops_compared")
    wrong = np.flatnonzero(model.predict(data.test.x, verbose=0).argmax(-1) != data.test.y)[:16]
    if len(wrong):
        run.save_figure(plots.image_grid(data.test.x[wrong], [f"true {data.test.y[i]}" for i in wrong],
                                         title="Test digits the MLP gets wrong"), "mistakes")
    metrics.update(loop_test_accuracy=loop_acc, gradcheck_rel_error=rel_error, baseline_accuracy=baseline_acc,
                   gain_over_baseline=min(metrics["test_accuracy"], loop_acc) - baseline_acc)
    return Trained(exports={"model": model}, metrics=metrics, history=training.history_dict(fit), baselines=baselines)


def fit_baselines(data: datasets.Splits, log) -> dict[str, dict[str, float]]:
    """Nearest centroid and logistic regression on the raw pixels, C chosen on validation."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import NearestCentroid

    from dlbootcamp.baselines import tune

    flat = {s: (getattr(data, s).x.reshape(len(getattr(data, s)), -1), getattr(data, s).y)
            for s in ("train", "val", "test")}
    with warnings.catch_warnings():  # constant border pixels: sklearn's note is not the learner's business
        warnings.simplefilter("ignore", UserWarning)
        centroid = NearestCentroid().fit(*flat["train"])
    logistic = tune(lambda c: LogisticRegression(C=c, max_iter=3000), (0.01, 0.1, 1.0, 10.0, 100.0),
                    flat["train"], flat["val"])
    log(f"  logistic regression: C = {logistic.params:g} chosen on validation (accuracy {logistic.val_score:.4f})")
    return {"nearest centroid": {"val_accuracy": float(centroid.score(*flat["val"])),
                                 "test_accuracy": float(centroid.score(*flat["test"]))},
            "logistic regression (raw pixels)": {"val_accuracy": logistic.val_score,
                                                 "test_accuracy": float(logistic.model.score(*flat["test"]))}}


# --- evaluate: the same code scores Keras, TFLite and ONNX ----------------------------------------

def evaluate(predict, data: datasets.Splits) -> dict[str, float]:
    probs = np.asarray(predict(data.test.x))
    return {"test_accuracy": float(np.mean(probs.argmax(-1) == data.test.y))}
