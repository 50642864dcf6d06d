"""Day 1 - Machine learning vs deep learning: who makes the features?

Seeds 002 and 003: "in traditional machine learning most of the features need to be
identified by a domain expert"; deep learning "tries to learn features from data", low-level
ones first (edges), then combinations of them. And the other half of the story, which the
same slides tell: on *structured* data (a table of measurements) the tool of choice is a
gradient boosted machine, not a neural network.

We run two honest, side-by-side comparisons - same split, same metric, held-out scores:

(a) a real table, scikit-learn's breast-cancer measurements (569 tumours x 30 numbers,
    malignant or benign): gradient boosted trees vs a small Keras MLP. We report whichever
    wins and say why; on a table this small and clean the two are often within a test row
    or two of each other.
(b) images, scikit-learn's 8x8 handwritten digits: an expert's features (histograms of
    oriented gradients at three scales plus ink statistics) fed to logistic regression, vs
    a small CNN that sees nothing but raw pixels and learns its own features. The CNN must
    win on held-out digits.

Every baseline is tuned the way the networks are, on the validation split: the boosted trees'
depth, number of rounds and learning rate; logistic regression's regularisation. And the seeds'
claim that "classic ML plateaus while deep learning keeps improving with more data" is put to a
small test rather than asserted: the learning curve (``learning_curve.png``) trains the features
+ logistic regression and the CNN on growing shares of the training digits and plots held-out
accuracy against the number of training images. With at most 1,259 digits it shows where each
stands at this scale, not what happens at a million images.

The exported model is the digits CNN.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from dlbootcamp import data as datasets
from dlbootcamp import plots, training
from dlbootcamp.lesson import Bar, LessonInfo, Trained

LESSON = LessonInfo(
    id="ml-vs-dl",
    day=1,
    title="ML vs DL: gradient boosting vs an MLP on a table, hand-made features vs a CNN on digits",
    seeds=("002", "003"),
    topics=("machine learning vs deep learning", "feature engineering", "gradient boosting",
            "structured data", "HOG features", "learned features", "CNN"),
    summary=("Two fair fights on held-out data: gradient boosting vs an MLP on the breast-cancer table, "
             "and HOG + pixel statistics + logistic regression vs a small CNN on raw 8x8 digits."),
    bars=(Bar("cnn_test_accuracy", ">=", 0.97), Bar("cnn_gain_over_features", ">", 0.0)),
    quantized_tolerance=0.01,
    baselines=("gradient boosting (tuned)", "HOG + logistic regression", "raw pixels + logistic regression"),
)


@dataclasses.dataclass(frozen=True)
class Config:
    gbm_rounds: tuple[int, ...] = (100, 300)  # boosting rounds (trees) tried; validation picks
    gbm_depths: tuple[int, ...] = (2, 3, 4)  # tree depths tried
    gbm_rates: tuple[float, ...] = (0.05, 0.1)  # learning rates (shrinkage) tried
    mlp_hidden: tuple[int, ...] = (32, 16)  # units per hidden layer of the table MLP
    mlp_epochs: int = 150  # table MLP epochs (early stopping on validation loss)
    logreg_c: tuple[float, ...] = (0.1, 1.0, 10.0)  # inverse regularisation tried; validation picks
    cnn_filters: tuple[int, ...] = (32, 64)  # conv channels per block (two convs + pool each)
    cnn_dense: int = 128  # units in the CNN's classifier head
    cnn_epochs: int = 30  # passes over the training digits (cosine-decayed learning rate)
    batch_size: int = 32
    learning_rate: float = 3e-3  # Adam, for both networks
    dropout: float = 0.4
    seed: int = 0  # both splits, trees, initial weights, shuffling
    train_limit: int = 0  # 0 = all training rows and digits; the quick preset uses a few
    curve_shares: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0)  # shares of the training digits on the learning curve

    @classmethod
    def quick(cls) -> "Config":
        return cls(gbm_rounds=(20,), gbm_depths=(2, 3), gbm_rates=(0.1,), mlp_hidden=(8,), mlp_epochs=3, logreg_c=(1.0,),
                   cnn_filters=(8, 16), cnn_dense=16, cnn_epochs=2, train_limit=300, curve_shares=(0.5, 1.0))


# --- data: one table, one set of images -------------------------------------------------------

PREPROCESSING = "8x8 grayscale digit, float32 pixel values in [0, 1] (scikit-learn's 0..16 divided by 16)"


@dataclasses.dataclass(frozen=True)
class Data:
    table: datasets.Splits  # breast cancer: 30 measurements -> 0 malignant / 1 benign
    digits: datasets.Splits  # 8x8 digits in [0, 1] -> 0..9 (what the exported CNN reads)


def load_data(cfg: Config) -> Data:
    """Both data sets, 70% train / 10% validation / 20% test, stratified by the seed."""
    arrays, source = datasets.resolve("breast_cancer")
    table = datasets.split_arrays(arrays["x"], arrays["y"], seed=cfg.seed, labels=("malignant", "benign"),
                                  source=source)
    digits = datasets.digits(seed=cfg.seed)
    if cfg.train_limit:
        digits = datasets.subsample(digits, train=cfg.train_limit, val=100, test=200)
    return Data(table, digits)


def representative_data(data: Data, n: int = 200, split: str = "train"):
    """CNN inputs from a digits split: train calibrates int8, test feeds the export parity check."""
    return getattr(data.digits, split).x[:n]


def sidecar(data: Data) -> dict:
    return {"labels": list(data.digits.labels), "preprocessing": PREPROCESSING}


# --- (a) the table: gradient boosted trees vs an MLP ------------------------------------------

def fit_gbm(cfg: Config, data: Data, log=print):
    """Each new shallow tree fits what the trees before it still get wrong. Trees need no scaling:
    each split is a threshold on one raw column. Depth, rounds and learning rate are chosen on
    validation log-loss (finer than accuracy on 57 validation rows)."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.metrics import log_loss

    from dlbootcamp.baselines import tune

    t = data.table
    grid = [(n, d, r) for d in cfg.gbm_depths for n in cfg.gbm_rounds for r in cfg.gbm_rates]
    best = tune(lambda p: GradientBoostingClassifier(n_estimators=p[0], max_depth=p[1], learning_rate=p[2],
                                                     random_state=cfg.seed),
                grid, (t.train.x, t.train.y), (t.val.x, t.val.y),
                score=lambda m, x, y: -log_loss(y, m.predict_proba(x)[:, 1], labels=[0, 1]))
    log(f"  gradient boosting: {best.params[0]} rounds, depth {best.params[1]}, learning rate {best.params[2]:g} "
        f"chosen on validation ({len(grid)} settings)")
    return best.model


def build_table_mlp(cfg: Config, train_x: np.ndarray) -> keras.Model:
    """An MLP needs standardised inputs; the Normalization layer learns mean/std from train only."""
    inputs = keras.Input((train_x.shape[1],), name="measurements")
    norm = keras.layers.Normalization(name="standardise")
    norm.adapt(train_x)
    x = norm(inputs)
    for i, units in enumerate(cfg.mlp_hidden, start=1):
        x = keras.layers.Dense(units, activation="relu", name=f"hidden{i}")(x)
        x = keras.layers.Dropout(cfg.dropout / 2, seed=cfg.seed, name=f"dropout{i}")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="p_benign")(x)
    return keras.Model(inputs, outputs, name="table_mlp")


def compare_on_table(cfg: Config, data: Data, run) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    t = data.table
    gbm = fit_gbm(cfg, data, run.log)
    mlp = build_table_mlp(cfg, t.train.x)
    mlp.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss="binary_crossentropy",
                metrics=["accuracy"])
    mlp.fit(t.train.x, t.train.y, validation_data=(t.val.x, t.val.y), epochs=cfg.mlp_epochs,
            batch_size=cfg.batch_size, verbose=0,
            callbacks=[*run.callbacks(progress=False), training.early_stopping("val_loss", patience=15)])
    p_gbm = gbm.predict_proba(t.test.x)[:, 1]
    p_mlp = mlp.predict(t.test.x, verbose=0)[:, 0]
    return {"table_gbm_test_accuracy": float(np.mean((p_gbm > 0.5) == t.test.y)),
            "table_mlp_test_accuracy": float(np.mean((p_mlp > 0.5) == t.test.y)),
            "table_gbm_test_auc": float(roc_auc_score(t.test.y, p_gbm)),
            "table_mlp_test_auc": float(roc_auc_score(t.test.y, p_mlp))}


def table_note(m: dict[str, float], n_test: int) -> str:
    """Say who won the table, and why that is not the whole story."""
    gbm, mlp = m["table_gbm_test_accuracy"], m["table_mlp_test_accuracy"]
    one_row = 1.0 / n_test
    if abs(gbm - mlp) < 1.5 * one_row:
        verdict = f"a tie within one test row ({one_row:.3f})"
    else:
        verdict = "gradient boosting wins" if gbm > mlp else "the MLP wins"
    if gbm > mlp + 1.5 * one_row:
        why = ("trees cut each raw column at learned thresholds, need no scaling, and a few hundred rows "
               "give an MLP little to learn a representation from")
    else:
        why = ("thirty smooth, already meaningful measurements are nearly linearly separable, so a "
               "standardised MLP is as good as trees here; boosting earns its reputation on messier tables "
               "(categorical columns, missing values, sharp thresholds)")
    return (f"table (breast cancer, {n_test} test rows): GBM accuracy {gbm:.3f} / AUC "
            f"{m['table_gbm_test_auc']:.3f} vs MLP {mlp:.3f} / {m['table_mlp_test_auc']:.3f}: {verdict}, because "
            f"{why}. Either way an expert designed the 30 features; learning them pays off on raw signals (b).")


# --- (b) the digits: an expert's features vs features a CNN learns ----------------------------

def hand_made_features(images: np.ndarray) -> np.ndarray:
    """What an image expert would compute: edge-direction histograms at three scales + ink statistics."""
    from skimage.feature import hog

    def hogs(img):
        return np.concatenate([hog(img, orientations=8, pixels_per_cell=(2, 2), cells_per_block=(2, 2)),
                               hog(img, orientations=9, pixels_per_cell=(4, 4), cells_per_block=(1, 1)),
                               hog(img, orientations=12, pixels_per_cell=(8, 8), cells_per_block=(1, 1))])

    ink = images.sum((1, 2)) + 1e-6
    rows, cols = np.mgrid[:8, :8]
    stats = [images.mean(2), images.mean(1), ink[:, None] / 64,  # row and column profiles, total ink
             ((images * rows).sum((1, 2)) / ink)[:, None], ((images * cols).sum((1, 2)) / ink)[:, None],
             images.reshape(-1, 2, 4, 2, 4).mean((2, 4)).reshape(len(images), 4)]  # centre of mass, quadrants
    return np.concatenate([np.stack([hogs(img) for img in images]), *stats], axis=1).astype(np.float32)


def fit_logreg(cfg: Config, x_train, y_train, x_val, y_val):
    """Logistic regression on standardised inputs; the regularisation strength is chosen on validation."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    fitted = [make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000)).fit(x_train, y_train)
              for c in cfg.logreg_c]
    return max(fitted, key=lambda clf: clf.score(x_val, y_val))


def build_model(cfg: Config) -> keras.Model:
    """The digits CNN: raw pixels in, its own features (conv blocks) in the middle, class probabilities out."""
    inputs = keras.Input((8, 8), name="image")
    x = keras.layers.Reshape((8, 8, 1), name="add_channel")(inputs)
    for i, f in enumerate(cfg.cnn_filters, start=1):
        for part in "ab":
            x = keras.layers.Conv2D(f, 3, padding="same", use_bias=False, name=f"conv{i}{part}")(x)
            x = keras.layers.BatchNormalization(name=f"bn{i}{part}")(x)
            x = keras.layers.ReLU(name=f"relu{i}{part}")(x)
        x = keras.layers.MaxPooling2D(name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(cfg.dropout, seed=cfg.seed, name="dropout")(x)
    x = keras.layers.Dense(cfg.cnn_dense, activation="relu", name="features")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")


def train_cnn(cfg: Config, data: Data, run, record: bool = True):
    d = data.digits
    model = build_model(cfg)
    steps = cfg.cnn_epochs * -(-len(d.train) // cfg.batch_size)
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(cfg.learning_rate, steps)),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    # Before each validation, batch normalisation's moving averages become the statistics of the training digits
    # under the current weights: with the lagging averages the first epochs' validation sat far below training,
    # which a learner would read as overfitting (docs/lessons.md).
    precise = training.precise_batch_norm(d.train.x)
    fit = model.fit(datasets.batches(d.train.x, d.train.y, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed),
                    validation_data=(d.val.x, d.val.y), epochs=cfg.cnn_epochs, verbose=0, shuffle=False,
                    callbacks=[*(run.callbacks() if record else []), precise])
    return model, training.history_dict(fit)


# --- train: both comparisons, side by side ----------------------------------------------------

def train(cfg: Config, run) -> Trained:
    training.seed_everything(cfg.seed)
    data = load_data(cfg)
    run.log(f"  table: {data.table.sizes()} from {data.table.source}; digits: {data.digits.sizes()}")
    metrics = compare_on_table(cfg, data, run)

    d = data.digits
    feats = {name: hand_made_features(getattr(d, name).x) for name in ("train", "val", "test")}
    logreg = fit_logreg(cfg, feats["train"], d.train.y, feats["val"], d.val.y)
    flat = {name: getattr(d, name).x.reshape(len(getattr(d, name)), -1) for name in ("train", "val", "test")}
    raw = fit_logreg(cfg, flat["train"], d.train.y, flat["val"], d.val.y)
    metrics["features_test_accuracy"] = float(logreg.score(feats["test"], d.test.y))
    metrics["raw_pixels_logreg_test_accuracy"] = float(raw.score(flat["test"], d.test.y))
    run.log(f"  hand-made features: {feats['train'].shape[1]} numbers per digit, logistic regression "
            f"C={logreg[-1].C:g}: test accuracy {metrics['features_test_accuracy']:.4f}")

    model, history = train_cnn(cfg, data, run)
    metrics.update(evaluate(training.predict_fn(model), data))
    metrics["cnn_gain_over_features"] = metrics["cnn_test_accuracy"] - metrics["features_test_accuracy"]
    save_pictures(metrics, data, run)
    curve = learning_curve(cfg, data, feats, run, full=(metrics["features_test_accuracy"], metrics["cnn_test_accuracy"]))
    notes = [table_note(metrics, len(data.table.test)),
             f"digits ({len(d.test)} test images): CNN {metrics['cnn_test_accuracy']:.4f} vs hand-made features "
             f"{metrics['features_test_accuracy']:.4f} (raw pixels + logistic regression "
             f"{metrics['raw_pixels_logreg_test_accuracy']:.4f})",
             "learning curve (held-out accuracy, features + logreg / CNN): "
             + ", ".join(f"{n} digits {a:.3f} / {b:.3f}" for n, a, b in curve)]
    baselines = {"gradient boosting (tuned)": {"table_mlp_test_accuracy": metrics["table_gbm_test_accuracy"],
                                               "table_mlp_test_auc": metrics["table_gbm_test_auc"]},
                 "HOG + logistic regression": {"cnn_test_accuracy": metrics["features_test_accuracy"]},
                 "raw pixels + logistic regression": {"cnn_test_accuracy": metrics["raw_pixels_logreg_test_accuracy"]}}
    return Trained(exports={"model": model}, metrics=metrics, history=history, notes=notes, baselines=baselines)


def learning_curve(cfg: Config, data: Data, feats: dict, run, full: tuple[float, float]) -> list[tuple[int, float, float]]:
    """(training digits, features + logreg accuracy, CNN accuracy) on growing stratified shares of the
    training digits, each CNN trained for as many steps as the full one; the validation and test
    digits stay the same. ``full``: the two accuracies
    already measured on all of them. Saved as learning_curve.png."""
    from sklearn.model_selection import train_test_split

    d, points = data.digits, []
    for share in cfg.curve_shares:
        idx = np.arange(len(d.train))
        if share >= 1:
            points.append((len(idx), *full))
            continue
        idx, _ = train_test_split(idx, train_size=share, stratify=d.train.y, random_state=cfg.seed)
        logreg = fit_logreg(cfg, feats["train"][idx], d.train.y[idx], feats["val"], d.val.y)
        part = dataclasses.replace(data, digits=dataclasses.replace(d, train=datasets.Split(d.train.x[idx],
                                                                                          d.train.y[idx])))
        # The same number of optimizer steps as on all digits (more epochs over fewer images): a smaller
        # set must not also mean a shorter training.
        cnn, _ = train_cnn(dataclasses.replace(cfg, cnn_epochs=round(cfg.cnn_epochs / share)), part, run, record=False)
        points.append((len(idx), float(logreg.score(feats["test"], d.test.y)),
                       evaluate(training.predict_fn(cnn), data)["cnn_test_accuracy"]))
        run.log(f"  learning curve: {points[-1][0]} training digits: features + logreg {points[-1][1]:.4f}, "
                f"CNN {points[-1][2]:.4f}")
    fig = plots.pyplot().figure(figsize=(5.5, 3.6))
    ax = fig.add_subplot()
    n, feat, cnn = zip(*points)
    ax.plot(n, feat, "o-", color="tab:blue", label="HOG + stats + logistic regression")
    ax.plot(n, cnn, "s-", color="tab:orange", label="CNN on raw pixels")
    ax.set(xscale="log", xlabel="training digits", ylabel="held-out accuracy",
           title="Held-out accuracy against the number of training digits")
    ax.legend()
    run.save_figure(fig, "learning_curve")
    return points


def save_pictures(metrics: dict[str, float], data: Data, run) -> None:
    plt = plots.pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    ml, dl, plain = "tab:blue", "tab:orange", "tab:gray"  # expert features, learned features, neither
    groups = [(left, "(a) table: breast cancer", {"gradient boosting": ("table_gbm_test_accuracy", ml),
                                                  "MLP": ("table_mlp_test_accuracy", dl)}),
              (right, "(b) images: 8x8 digits", {"HOG + stats\n+ logreg": ("features_test_accuracy", ml),
                                                 "raw pixels\n+ logreg": ("raw_pixels_logreg_test_accuracy", plain),
                                                 "CNN": ("cnn_test_accuracy", dl)})]
    for ax, title, bars in groups:
        values = [metrics[key] for key, _ in bars.values()]
        ax.bar(list(bars), values, color=[color for _, color in bars.values()])
        for i, v in enumerate(values):
            ax.text(i, v + 0.002, f"{v:.3f}", ha="center", va="bottom")
        ax.set(title=title, ylabel="held-out accuracy", ylim=(min(values) - 0.05, 1.01))
    fig.suptitle("Machine learning vs deep learning, same split, same metric")
    fig.tight_layout()
    run.save_figure(fig, "ml_vs_dl")

    from skimage.feature import hog
    from skimage.transform import resize

    images = data.digits.test.x[:8]
    big = [resize(img, (64, 64), order=1) for img in images]  # enlarged so the glyphs are visible
    glyphs = [hog(img, orientations=8, pixels_per_cell=(8, 8), cells_per_block=(1, 1), visualize=True)[1]
              for img in big]
    run.save_figure(plots.image_grid(np.concatenate([np.stack(big), np.stack(glyphs)]), cols=8,
                                     title="Digits (top) and the edge directions HOG measures in each cell (bottom)"),
                    "hand_made_features")


# --- evaluate: the exported CNN, scored the same way in Keras, TFLite and ONNX ------------------

def evaluate(predict, data: Data) -> dict[str, float]:
    probs = np.asarray(predict(data.digits.test.x))
    return {"cnn_test_accuracy": float(np.mean(probs.argmax(-1) == data.digits.test.y))}
