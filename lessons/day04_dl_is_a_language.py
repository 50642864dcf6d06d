"""Day 4 - Deep learning is a language: say what you know in the architecture.

Seed 000: "deep learning is a language in which you can hint your model on what you want it
to learn". We predict a used car's price from two kinds of feature at once:

- raw features: a photo (32x32 pixels) that shows the body shape, the paint and any rust;
- high-level features: the seller's form - make, model, age, odometer, doors.

The listings come from a seeded generator (``dlbootcamp.worlds.cars``): the price is a new-car price
that depreciates with age and kilometres, times a paint premium or discount and a discount of 7%
per rust spot - two things only the photo shows - times noise.

The naive model hears nothing from us: a CNN branch on the photo and a dense branch on the form,
concatenated, then a dense head. With a few hundred listings its 280k-parameter photo branch
memorises the training prices (training error falls, validation error stalls and climbs).

The less naive model says, in its wiring, "image features should be less important":

- the form gets a strong, simple path: the log-price as a sum of effects, one Dense unit (a
  price that loses a fixed percentage per year, per kilometre, for a model, is linear in log
  space). It starts at the median price for every car;
- the photo gets a narrow path: a small CNN, global average pooling (it can count rust
  spots and measure paint, not memorise where pixels are), a hidden layer of 16 units (a
  paint's premium is not a straight line in its colour), and one number - a log-price
  adjustment that starts at zero and is L2-penalised;
- the two are *added* before the exponential, so the photo can only nudge the form's price by
  a percentage, never replace it.

Saying too much costs too: an earlier version gave the form path a small non-linear correction
(16 ReLU units, L2 1e-3) "just in case". It had nothing true to learn and memorised training
prices instead: training MAE $0.26k, below the $0.41k the noise alone costs, and validation
ratio 0.954 / 0.770 (seeds 0 / 2) against 0.820 / 0.747 without it.

Same data, same standardised form columns, same optimiser, same epochs; the validation curves
and the held-out MAE tell which way of saying it works. Two baselines keep the comparison
honest: the naive model *with* early stopping on validation MAE (the first fix a practitioner
reaches for against overfitting, instead of rewiring), and a form-only model (the less naive
model's form path alone: does the photo add anything at all?). Both models take two inputs (photo,
form); the less naive one is exported.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from dlbootcamp.worlds import cars
from dlbootcamp import plots, training
from dlbootcamp.lesson import Bar, LessonInfo, Trained

LESSON = LessonInfo(
    id="dl-is-a-language",
    day=4,
    title="Deep learning is a language: a car-price model told that the photo matters less",
    seeds=("000",),
    topics=("multi-input models", "raw vs high-level features", "inductive bias", "overfitting",
            "architecture as a hint", "regularisation"),
    summary=("Generated car listings (photo + make/model/age/odometer/doors -> price): a naive two-branch "
             "concatenation overfits; a model whose wiring says 'the photo matters less' wins on held-out MAE."),
    # the headline is the exported model's test MAE; the bar is the ratio on validation
    # listings (val_mae_ratio), and the test listings, never seen while choosing the design, must agree
    bars=(Bar("test_mae", "<=", 0.75), Bar("val_mae_ratio", "<=", 0.9), Bar("mae_ratio", "<=", 0.9)),
    # A float-interface int8 artifact may add at most $20 (0.02 in $1000, 3% of the MAE) to the exported
    # model's MAE. All-int8 adds ~$110-130: the standardised form is one int8 tensor whose range comes
    # from the training listings, and the odometer's long tail goes beyond it (z up to 3.9 in training,
    # 5.5 in the test listings), so high-mileage cars are clipped. The exporter's selective-float
    # search (on validation listings) then keeps the form standardisation, the photo head and the sum
    # in float (7 small layers, +2 KB) and lands within $1 of Keras. Full-integer artifacts (int8
    # input, for microcontrollers) cannot keep a layer in float: they keep the old allowance of $200.
    quantized_tolerance=0.02,
    full_integer_tolerance=0.2,
    baselines=("naive, early-stopped", "form only"),
)


@dataclasses.dataclass(frozen=True)
class Config:
    n_train: int = 300  # training listings: few enough that the naive model overfits
    n_val: int = 500  # validation listings (curves only: both models train the same fixed epochs)
    n_test: int = 1000  # held-out listings, scored once
    epochs: int = 300  # both models (the less naive one needs them to find paint and rust; 100 left it at 0.79)
    batch_size: int = 32
    learning_rate: float = 3e-3  # Adam, cosine-decayed to 0, for both models
    naive_filters: tuple[int, ...] = (16, 32)  # the naive photo branch: conv + pool per entry, then flatten
    naive_dense: int = 128  # ... then a wide dense layer, concatenated with the form branch
    photo_filters: tuple[int, ...] = (16, 32)  # the less naive photo branch: small CNN, then global pooling
    photo_hidden: int = 16  # units between the pooled photo features and the one-number adjustment
    photo_l2: float = 1e-3  # L2 penalty on the photo adjustment
    seed: int = 0  # listings, initial weights, shuffling

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_train=64, n_val=32, n_test=64, epochs=2, naive_filters=(4, 8), naive_dense=16,
                   photo_filters=(4, 4), photo_hidden=4)


# --- data ----------------------------------------------------------------------------------

PREPROCESSING = ("photo: 32x32x3 RGB float32 in [0, 1]; form: float32 vector, one-hot make and model, "
                 "age/15, odometer_km/200000, doors/5 (columns in form_columns); output: log of the price in "
                 "$1000 (price = exp(output))")


@dataclasses.dataclass(frozen=True)
class Listings:
    train: cars.Listings
    val: cars.Listings
    test: cars.Listings


def load_data(cfg: Config) -> Listings:
    """Three independent seeded draws: no listing is in two splits."""
    return Listings(*(cars.listings(n, seed=1000 * cfg.seed + k)
                      for k, n in enumerate((cfg.n_train, cfg.n_val, cfg.n_test), start=1)))


def model_inputs(listings: cars.Listings, n: int | None = None) -> list[np.ndarray]:
    """[photo, form]: the order of the models' inputs."""
    return [listings.photo[:n], listings.form()[:n]]


def representative_data(data: Listings, n: int = 200, split: str = "train"):
    return model_inputs(getattr(data, split), n)


def sidecar(data: Listings) -> dict:
    return {"preprocessing": PREPROCESSING, "form_columns": list(cars.FORM_COLUMNS), "output": "log_price_k_usd"}


# --- the naive model: two branches, concatenated ---------------------------------------------

def inputs() -> tuple[keras.KerasTensor, keras.KerasTensor]:
    return (keras.Input((cars.SIZE, cars.SIZE, 3), name="photo"),
            keras.Input((len(cars.FORM_COLUMNS),), name="form"))


def standardise(form, form_train: np.ndarray | None):
    """Form columns to mean 0 / std 1 of the training listings (both models): with raw columns a
    weight must travel far (an age effect of -1.9 per 15 years) and Adam's small steps never get there.
    (A Rescaling with per-column numbers: unlike Normalization's stored tensors it exports to ONNX.)"""
    if form_train is None:  # shapes only (tests, pictures): identity
        mean, std = np.zeros(len(cars.FORM_COLUMNS)), np.ones(len(cars.FORM_COLUMNS))
    else:
        mean, std = form_train.mean(0), np.maximum(form_train.std(0), 1e-3)
    return keras.layers.Rescaling(scale=(1 / std).tolist(), offset=(-mean / std).tolist(), name="standardise_form")(form)


def price_head(log_price):
    """Predict log-price, answer price: both models make multiplicative, positive prices."""
    return keras.layers.Activation("exponential", name="price")(log_price)


def build_naive(cfg: Config, log_start: float = 2.0, form_train: np.ndarray | None = None) -> keras.Model:
    photo, form = inputs()
    z = standardise(form, form_train)
    x = photo
    for i, f in enumerate(cfg.naive_filters, start=1):
        x = keras.layers.Conv2D(f, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        x = keras.layers.MaxPooling2D(name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(cfg.naive_dense, activation="relu", name="photo_features")(x)
    t = keras.layers.Dense(64, activation="relu", name="form_features")(z)
    h = keras.layers.Concatenate(name="both")([x, t])
    h = keras.layers.Dense(64, activation="relu", name="head")(h)
    log_price = keras.layers.Dense(1, bias_initializer=keras.initializers.Constant(log_start), name="log_price")(h)
    return keras.Model([photo, form], price_head(log_price), name="naive")


# --- the less naive model: a strong form path, a narrow photo nudge ---------------------------

def build_model(cfg: Config, log_start: float = 2.0, form_train: np.ndarray | None = None) -> keras.Model:
    photo, form = inputs()
    z = standardise(form, form_train)
    effects = keras.layers.Dense(1, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(log_start),
                                 name="form_effects")(z)
    x = photo
    for i, f in enumerate(cfg.photo_filters, start=1):
        x = keras.layers.Conv2D(f, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        if i < len(cfg.photo_filters):
            x = keras.layers.MaxPooling2D(name=f"pool{i}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool_everywhere")(x)
    x = keras.layers.Dense(cfg.photo_hidden, activation="relu", name="photo_hidden")(x)  # paint is not monotone
    nudge = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros",
                               kernel_regularizer=keras.regularizers.L2(cfg.photo_l2), name="photo_adjustment")(x)
    log_price = keras.layers.Add(name="log_price")([effects, nudge])
    return keras.Model([photo, form], price_head(log_price), name="less_naive")


# --- train ---------------------------------------------------------------------------------

def fit(model: keras.Model, cfg: Config, data: Listings, run, early_stop: bool = False) -> dict[str, list[float]]:
    steps = cfg.epochs * -(-len(data.train) // cfg.batch_size)
    # the loss adds the L2 penalties to the MAE: the curves and the ratio read a plain MAE metric
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(cfg.learning_rate, steps)),
                  loss="mae", metrics=[keras.metrics.MeanAbsoluteError(name="mae")])
    history = model.fit(model_inputs(data.train), data.train.price, epochs=cfg.epochs, batch_size=cfg.batch_size,
                        validation_data=(model_inputs(data.val), data.val.price), verbose=0,
                        callbacks=[training.early_stopping("val_mae", patience=20, mode="min")] if early_stop
                        else run.callbacks())
    return training.history_dict(history)


def train(cfg: Config, run) -> Trained:
    training.seed_everything(cfg.seed)
    data = load_data(cfg)
    run.log(f"  listings: train {len(data.train)}, val {len(data.val)}, test {len(data.test)}")
    log_start = float(np.log(np.median(data.train.price)))  # both start from the median price
    form_train = data.train.form()
    naive, model = build_naive(cfg, log_start, form_train), build_model(cfg, log_start, form_train)
    run.log(f"  naive model ({naive.count_params():,} parameters)")
    naive_history = fit(naive, cfg, data, run)
    run.log(f"  less naive model ({model.count_params():,} parameters)")
    history = fit(model, cfg, data, run)

    exported = log_price_model(model)  # what a device runs: the log-price (see log_price_model)
    naive_mae = evaluate(training.predict_fn(log_price_model(naive)), data)["test_mae"]
    metrics = evaluate(training.predict_fn(exported), data)
    metrics.update(naive_test_mae=naive_mae, mae_ratio=metrics["test_mae"] / naive_mae,
                   naive_val_mae=naive_history["val_mae"][-1], less_naive_val_mae=history["val_mae"][-1],
                   val_mae_ratio=history["val_mae"][-1] / naive_history["val_mae"][-1],
                   naive_train_mae=naive_history["mae"][-1], less_naive_train_mae=history["mae"][-1],
                   noise_floor_test_mae=noise_floor(data.test))
    save_pictures(naive, model, naive_history, history, data, run)
    notes = [f"held-out MAE: less naive ${metrics['test_mae']:.2f}k vs naive ${naive_mae:.2f}k "
             f"(ratio {metrics['mae_ratio']:.3f}); the generator's own noise alone costs "
             f"${metrics['noise_floor_test_mae']:.2f}k",
             f"naive: train MAE {metrics['naive_train_mae']:.2f} vs validation {metrics['naive_val_mae']:.2f} "
             f"(overfitting); less naive: {metrics['less_naive_train_mae']:.2f} vs {metrics['less_naive_val_mae']:.2f} "
             f"(validation ratio {metrics['val_mae_ratio']:.3f})"]
    curves = {"mae": history["mae"], "val_mae": history["val_mae"],
              "naive_mae": naive_history["mae"], "val_naive_mae": naive_history["val_mae"]}
    baselines = fit_baselines(cfg, data, run, log_start, form_train)
    return Trained(exports={"model": exported}, metrics=metrics, history=curves, notes=notes, baselines=baselines)


def build_form_only(cfg: Config, log_start: float = 2.0, form_train: np.ndarray | None = None) -> keras.Model:
    """The less naive model without its photo: the log-price as a sum of form effects."""
    photo, form = inputs()
    effects = keras.layers.Dense(1, kernel_initializer="zeros", bias_initializer=keras.initializers.Constant(log_start),
                                 name="log_price")(standardise(form, form_train))
    return keras.Model([photo, form], price_head(effects), name="form_only")


def fit_baselines(cfg: Config, data: Listings, run, log_start: float, form_train: np.ndarray) -> dict:
    """The naive model stopped at its best validation MAE (patience 20), and the form-only model."""
    out = {}
    for name, build, early in (("naive, early-stopped", build_naive, True), ("form only", build_form_only, False)):
        model = build(cfg, log_start, form_train)
        history = fit(model, cfg, data, run, early_stop=early)
        test = evaluate(training.predict_fn(log_price_model(model)), data)["test_mae"]
        out[name] = {"val_mae": float(min(history["val_mae"]) if early else history["val_mae"][-1]), "test_mae": test}
        run.log(f"  {name}: {len(history['val_mae'])} epochs, validation MAE ${out[name]['val_mae']:.3f}k")
    return out


def log_price_model(model: keras.Model) -> keras.Model:
    """The same weights, answering the log-price. int8 spreads 256 levels evenly over an output's
    range, so a price output would be cut at the largest price calibration saw (a $62k test car
    came out as $36.5k) and rounded to $0.14k everywhere; in log space a step is 1.6% of any
    price. The host computes price = exp(output)."""
    return keras.Model(model.inputs, model.get_layer("log_price").output, name=f"{model.name}_log_price")


def noise_floor(listings: cars.Listings) -> float:
    """The MAE of an oracle that knows every effect but not the noise: no model can do better."""
    return float(np.mean(np.abs(listings.price - listings.fair_price)))


# --- pictures ------------------------------------------------------------------------------

def save_pictures(naive, model, naive_history, history, data: Listings, run) -> None:
    plt = plots.pyplot()
    n = 16
    run.save_figure(plots.image_grid(data.train.photo[:n], [cars.describe(data.train, i) for i in range(n)], cols=8,
                                     size=2.2, title="Listings: the photo and the form -> the price"), "listings")

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for label, h, color in (("naive", naive_history, "tab:red"), ("less naive", history, "tab:blue")):
        ax.plot(h["mae"], color=color, ls="--", marker=plots.marker(h["mae"]), label=f"{label}: train")
        ax.plot(h["val_mae"], color=color, marker=plots.marker(h["val_mae"]), label=f"{label}: validation")
    ax.set(xlabel="epoch", ylabel="MAE ($1000)", yscale="log",
           title=f"{len(data.train)} training listings: train (dashed) vs validation")
    ax.legend()
    run.save_figure(fig, "overfitting_curves")

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    truth = data.test.price
    for ax, (label, m) in zip(axes[:2], (("naive", naive), ("less naive", model))):
        pred = m.predict(model_inputs(data.test), verbose=0)[:, 0]
        ax.scatter(truth, pred, s=4, alpha=0.5)
        ax.plot([0, truth.max()], [0, truth.max()], "k--", lw=1)
        ax.set(title=f"{label}: test MAE {np.mean(np.abs(pred - truth)):.2f}", xlabel="true price ($1000)",
               ylabel="predicted price ($1000)")
    nudge = keras.Model(model.inputs, model.get_layer("photo_adjustment").output)
    adjustment = nudge.predict(model_inputs(data.test), verbose=0)[:, 0]
    pct = 100 * (np.exp(adjustment - np.median(adjustment[data.test.blemishes == 0])) - 1)  # vs a clean car
    counts = sorted(set(data.test.blemishes))
    axes[2].boxplot([pct[data.test.blemishes == c] for c in counts], tick_labels=[str(c) for c in counts])
    axes[2].plot(range(1, len(counts) + 1), [100 * ((1 - cars.BLEMISH_DISCOUNT) ** c - 1) for c in counts], "r*",
                 label="generator's rust discount (paint aside)")
    axes[2].set(xlabel="rust spots in the photo", ylabel="photo adjustment vs a clean car (%)",
                title="What the narrow photo branch learned")
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    run.save_figure(fig, "predictions")


# --- evaluate: the exported model, scored the same way in Keras, TFLite and ONNX ----------------

def evaluate(predict, data: Listings) -> dict[str, float]:
    """``predict`` answers log-prices (the exported model's output); MAE in $1000 on the test listings."""
    price = np.exp(np.asarray(predict(model_inputs(data.test))).reshape(-1))
    return {"test_mae": float(np.mean(np.abs(price - data.test.price)))}
