"""Exercises for day 4 (dl-is-a-language): standardise the form, a photo path without its hidden layer, the start price."""

from __future__ import annotations

from dlbootcamp.app.exercises import Exercise, Wrong, expect_close, expect_model


# --- 1. implement a piece: what the standardise_form layer computes ----------------------------------------

def standardise_columns(form, form_train):
    """Each column of ``form`` (N, C) to mean 0 / std 1 of ``form_train``'s columns, the std floored at 1e-3."""
    import numpy as np

    form_train = np.asarray(form_train, np.float64)
    mean, std = form_train.mean(0), np.maximum(form_train.std(0), 1e-3)
    return (np.asarray(form, np.float64) - mean) / std


def _verify_standardise(fn) -> None:
    import keras
    import numpy as np

    from dlbootcamp.lessons import day04_dl_is_a_language as lesson

    data = lesson.load_data(lesson.Config.quick())
    train, test = data.train.form(), data.test.form()
    got = np.asarray(fn(test.copy(), train.copy()), np.float64)

    inputs = keras.Input((train.shape[1],))
    layer = keras.Model(inputs, lesson.standardise(inputs, train))  # the lesson's Rescaling layer
    expected = np.asarray(layer.predict(test, verbose=0), np.float64)
    if got.shape == expected.shape and not np.all(np.isfinite(got)):
        raise Wrong("the result has NaN or infinity: some form columns never vary in 64 training listings (a model "
                    "no one sold), so their std is 0; floor it at 1e-3 as the lesson does.")
    if got.shape == test.shape and np.allclose(got, (test - test.mean(0)) / np.maximum(test.std(0), 1e-3), atol=1e-3):
        raise Wrong("you standardised with the test listings' own mean and std; use the training listings' numbers.")
    expect_close("standardise_columns(test form, training form)", got, expected, atol=1e-3, rtol=1e-4)


# --- 2. change the architecture: a straight photo nudge ---------------------------------------------------

def build_straight_nudge_model(cfg, log_start=2.0, form_train=None):
    """The less naive model whose photo path goes from the pooled features straight to photo_adjustment."""
    import keras

    from dlbootcamp.lessons import day04_dl_is_a_language as lesson

    full = lesson.build_model(cfg, log_start, form_train)  # its layers up to the pooled photo and the form effects
    nudge = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros",
                               kernel_regularizer=keras.regularizers.L2(cfg.photo_l2),
                               name="photo_adjustment")(full.get_layer("pool_everywhere").output)
    log_price = keras.layers.Add(name="log_price")([full.get_layer("form_effects").output, nudge])
    return keras.Model(full.inputs, lesson.price_head(log_price), name="straight_nudge")


def _verify_straight(fn) -> None:
    from dlbootcamp.lessons import day04_dl_is_a_language as lesson

    cfg = lesson.Config.quick()
    model = fn(cfg)
    if any(layer.name == "photo_hidden" for layer in getattr(model, "layers", [])):
        raise Wrong("the model still has 'photo_hidden'; the pooled photo features go straight to 'photo_adjustment'.")
    expect_model("build_straight_nudge_model(Config.quick())", model, build_straight_nudge_model(cfg))


# --- 3. predict an outcome: the untrained model's price ---------------------------------------------------

PREDICTED_START_PRICE = 7.389  # exp(2.0): form effects start at the bias, the photo nudge at zero


def _verify_start(value) -> None:
    import numpy as np

    from dlbootcamp.lessons import day04_dl_is_a_language as lesson

    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise Wrong(f"PREDICTED_START_PRICE is {value!r}; expected a number (a price in $1000).")
    cfg = lesson.Config.quick()
    data = lesson.load_data(cfg)
    prices = lesson.build_model(cfg).predict(lesson.model_inputs(data.test, 8), verbose=0)[:, 0]
    if abs(value - 2.0) < 1e-3:
        raise Wrong("2.0 is the *log*-price the model starts at; the model answers exp(log-price).")
    expect_close("PREDICTED_START_PRICE (the untrained build_model(cfg) on any car, log_start=2.0)",
                 value, float(np.median(prices)), atol=0.01)


EXERCISES = (
    Exercise(1, "implement", "standardise the seller's form",
             "Write `standardise_columns(form, form_train)` in NumPy: what the lesson's `standardise_form` layer "
             "computes, each column of `form` (N, C) minus the **training** column mean, divided by the training "
             "column std floored at 1e-3. The check compares it with the lesson's layer on the quick test listings.",
             "standardise_columns",
             "import numpy as np\n\n\ndef standardise_columns(form, form_train):\n"
             "    \"\"\"(form - training mean) / max(training std, 1e-3), column by column.\"\"\"\n"
             "    raise NotImplementedError  # your code here\n",
             standardise_columns, _verify_standardise),
    Exercise(2, "architecture", "a straight photo nudge",
             "Write `build_straight_nudge_model(cfg, log_start=2.0, form_train=None)`: the lesson's `build_model` "
             "without `photo_hidden`, so the pooled photo features go straight to `photo_adjustment`. Keep every "
             "other layer and name (you may use `lesson.inputs`, `lesson.standardise`, `lesson.price_head`). The "
             "docstring says why the hidden layer is there: train both and compare the paint premium.",
             "build_straight_nudge_model",
             "import keras\n\n\ndef build_straight_nudge_model(cfg, log_start=2.0, form_train=None):\n"
             "    \"\"\"build_model without the 'photo_hidden' layer.\"\"\"\n"
             "    raise NotImplementedError  # start from lesson.build_model's code\n",
             build_straight_nudge_model, _verify_straight),
    Exercise(3, "predict", "the price before training",
             "Before running it: what price (in $1000) does an **untrained** `build_model(cfg)` (default "
             "`log_start=2.0`) give each car? Read how `form_effects` and `photo_adjustment` are initialised. "
             "Write it as `PREDICTED_START_PRICE` (within $10), then check.",
             "PREDICTED_START_PRICE",
             "PREDICTED_START_PRICE = None  # a number, in $1000\n",
             PREDICTED_START_PRICE, _verify_start),
)
