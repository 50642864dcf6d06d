"""Exercises for day 3 (training): a loss and its gradient by hand, a deeper MLP, a parameter count."""

from __future__ import annotations

from dlbootcamp.app.exercises import Exercise, Wrong, expect_close, expect_model, expect_shape


# --- 1. implement a piece: softmax cross-entropy and its gradient -----------------------------------------

def softmax_cross_entropy(logits, labels):
    """Mean sparse softmax cross-entropy of ``logits`` (N, C) against integer ``labels`` (N,), and its
    gradient with respect to the logits (N, C): (softmax - one_hot) / N."""
    import numpy as np

    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)  # the same softmax, without overflow
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    n = len(labels)
    loss = -np.mean(np.log(probs[np.arange(n), labels]))
    grad = probs.copy()
    grad[np.arange(n), labels] -= 1.0
    return float(loss), grad / n


def _verify_cross_entropy(fn) -> None:
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(3)
    logits = rng.normal(0, 1.5, (6, 10))
    labels = rng.integers(0, 10, 6)
    loss, grad = fn(logits.copy(), labels)
    expected = float(tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits)))
    expect_close("the loss", loss, expected, atol=1e-6)
    expect_shape("the gradient", grad, logits.shape)
    # The gradient check of the lesson: central finite differences of the loss, entry by entry.
    eps = 1e-5
    numeric = np.zeros_like(logits)
    for i, j in np.ndindex(*logits.shape):
        up, down = logits.copy(), logits.copy()
        up[i, j] += eps
        down[i, j] -= eps
        numeric[i, j] = (fn(up, labels)[0] - fn(down, labels)[0]) / (2 * eps)
    # relative error, with a floor so that entries near 0 are judged by their absolute error
    worst = float(np.max(np.abs(numeric - grad) / np.maximum(np.abs(numeric) + np.abs(grad), 1e-4)))
    if worst > 1e-4:
        ratio = float(np.median(np.asarray(grad)[np.abs(numeric) > 1e-3] / numeric[np.abs(numeric) > 1e-3]))
        hint = f" Your gradient is about {ratio:.3g} times the numeric one: is the 1/N of the mean there?" \
            if abs(ratio - 1) > 0.05 else ""
        raise Wrong(f"the gradient fails the gradient check: max relative error against central finite "
                    f"differences is {worst:.2e} (expected < 1e-4).{hint}")


# --- 2. change the architecture: a third hidden layer ----------------------------------------------------

def build_deeper_model(cfg):
    """The lesson's MLP with a third hidden layer ``hidden3`` (cfg.hidden units, relu) before ``probs``."""
    import keras

    inputs = keras.Input((8, 8), name="image")
    x = keras.layers.Flatten(name="flatten")(inputs)
    x = keras.layers.Dense(cfg.hidden, activation="relu", name="hidden1")(x)
    x = keras.layers.Dropout(cfg.dropout, seed=cfg.seed, name="dropout")(x)
    x = keras.layers.Dense(cfg.hidden, activation="relu", name="hidden2")(x)
    x = keras.layers.Dense(cfg.hidden, activation="relu", name="hidden3")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="deeper_digits_mlp")


def _verify_deeper(fn) -> None:
    from dlbootcamp.lessons import day03_training as lesson

    cfg = lesson.Config.quick()
    model = fn(cfg)
    expect_model("build_deeper_model(Config.quick())", model, build_deeper_model(cfg))
    units = model.get_layer("hidden3").units
    if units != cfg.hidden:
        raise Wrong(f"hidden3 has {units} units; expected cfg.hidden = {cfg.hidden}.")


# --- 3. predict an outcome: how many parameters? ----------------------------------------------------------

def _quick_param_count() -> int:
    from dlbootcamp.lessons import day03_training as lesson

    return int(lesson.build_model(lesson.Config.quick()).count_params())


PREDICTED_PARAMS = 64 * 32 + 32 + 32 * 32 + 32 + 32 * 10 + 10  # weights + biases of hidden1, hidden2, probs


def _verify_params(value) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise Wrong(f"PREDICTED_PARAMS is {value!r}; expected a whole number (an int).")
    actual = _quick_param_count()
    if value != actual:
        way = "high" if value > actual else "low"
        raise Wrong(f"PREDICTED_PARAMS = {value:,} is {way} by {abs(value - actual):,}: count weights AND biases "
                    f"of every Dense layer (Flatten and Dropout have none); 64 pixels come in.")


EXERCISES = (
    Exercise(1, "implement", "softmax cross-entropy and its gradient",
             "Write `softmax_cross_entropy(logits, labels)` in NumPy: the **mean** sparse softmax cross-entropy "
             "of `logits` (N, C) against integer `labels` (N,), and its gradient with respect to the logits "
             "(N, C). The check compares the loss with TensorFlow's and runs the lesson's gradient check "
             "(central finite differences) on your gradient.",
             "softmax_cross_entropy",
             "import numpy as np\n\n\ndef softmax_cross_entropy(logits, labels):\n"
             "    \"\"\"Return (mean loss, d loss / d logits) for logits (N, C) and int labels (N,).\"\"\"\n"
             "    raise NotImplementedError  # your code here\n",
             softmax_cross_entropy, _verify_cross_entropy),
    Exercise(2, "architecture", "a deeper MLP",
             "Write `build_deeper_model(cfg)`: the lesson's `build_model` with a third hidden layer named "
             "`hidden3` (`cfg.hidden` units, relu) between `hidden2` and `probs`; keep every other layer and "
             "name. Train it the same way, if you like, and compare.",
             "build_deeper_model",
             "import keras\n\n\ndef build_deeper_model(cfg):\n"
             "    \"\"\"build_model with a third Dense layer 'hidden3' (cfg.hidden units, relu).\"\"\"\n"
             "    raise NotImplementedError  # start from lesson.build_model's code\n",
             build_deeper_model, _verify_deeper),
    Exercise(3, "predict", "count the parameters",
             "Before you run anything: how many parameters does `build_model(Config.quick())` have "
             "(`hidden=32`)? Write the number as `PREDICTED_PARAMS`, then check it (and `model.count_params()`).",
             "PREDICTED_PARAMS",
             "PREDICTED_PARAMS = None  # a whole number, worked out by hand\n",
             PREDICTED_PARAMS, _verify_params),
)
