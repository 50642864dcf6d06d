"""Exercises for day 12 (text-generation): bits per character by hand, an LSTM in place of the GRU, a guesser's bits."""

from __future__ import annotations

from dlbootcamp.app.exercises import Exercise, Wrong, expect_close, expect_model


# --- 1. implement a piece: bits per character --------------------------------------------------------------

def bits_per_char(logits, targets):
    """Mean of -log2 p(target) over every position: ``logits`` (N, V) unnormalised scores, ``targets`` (N,) ids."""
    import numpy as np

    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(z)), np.asarray(targets)].mean() / np.log(2))


def _verify_bits(fn) -> None:
    import numpy as np

    rng = np.random.default_rng(12)
    logits = rng.normal(0, 3, (50, 65))
    targets = rng.integers(0, 65, 50)
    got = fn(logits.copy(), targets.copy())
    expected = bits_per_char(logits, targets)
    if np.ndim(got) == 0 and abs(float(got) - expected * np.log(2)) < 1e-6:
        raise Wrong(f"you returned {float(got):.4f}, the loss in nats (natural log); bits use log base 2: divide by ln 2.")
    expect_close("bits_per_char(logits (50, 65), targets)", got, expected, atol=1e-6)
    expect_close("bits_per_char of logits 1000 apart (softmax must not overflow)",
                 fn(np.array([[1000.0, 0.0]]), np.array([0])), 0.0, atol=1e-6)


# --- 2. change the architecture: an LSTM reads the text ----------------------------------------------------

def build_lstm_model(cfg, vocab_size=64):
    """The lesson's character model with an LSTM ('lstm', cfg.units) in place of the GRU."""
    import keras

    chars = keras.Input((None,), dtype="int32", name="chars")
    x = keras.layers.Embedding(vocab_size, cfg.embed_dim, name="char_embedding")(chars)
    x = keras.layers.LSTM(cfg.units, return_sequences=True, name="lstm")(x)
    return keras.Model(chars, keras.layers.Dense(vocab_size, name="logits")(x), name="char_lstm")


def _verify_lstm(fn) -> None:
    import keras

    from dlbootcamp.lessons import day12_text_generation as lesson

    cfg = lesson.Config.quick()
    model = fn(cfg, 40)
    if any(isinstance(layer, keras.layers.GRU) for layer in getattr(model, "layers", [])):
        raise Wrong("the model still has a GRU; replace it by keras.layers.LSTM named 'lstm'.")
    lstm = [layer for layer in getattr(model, "layers", []) if isinstance(layer, keras.layers.LSTM)]
    if lstm and not lstm[0].return_sequences:
        raise Wrong("the LSTM returns only its last output: the model must predict the next character at every "
                    "position (return_sequences=True).")
    expect_model("build_lstm_model(Config.quick(), 40)", model, build_lstm_model(cfg, 40))


# --- 3. predict an outcome: the bits of a model that knows nothing ------------------------------------------

PREDICTED_UNIFORM_BITS = 6.0  # log2(64): every one of 64 characters equally likely


def _verify_uniform(value) -> None:
    import numpy as np

    from dlbootcamp.lessons import day12_text_generation as lesson

    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise Wrong(f"PREDICTED_UNIFORM_BITS is {value!r}; expected a number of bits.")
    model = lesson.build_model(lesson.Config.quick(), vocab_size=64)
    model.get_layer("logits").set_weights([np.zeros(w.shape, np.float32) for w in model.get_layer("logits").get_weights()])
    chars = np.random.default_rng(0).integers(0, 64, (2, 20)).astype(np.int32)
    logits = model.predict(chars, verbose=0)  # all zero: the model gives no character a preference
    actual = bits_per_char(logits[:, :-1].reshape(-1, 64), chars[:, 1:].reshape(-1))
    if abs(value - np.log(64)) < 0.01:
        raise Wrong(f"{value:.3f} is ln 64, in nats; bits per character use log base 2.")
    expect_close("PREDICTED_UNIFORM_BITS (a 64-character model whose logits are all zero)", value, actual, atol=0.01)


EXERCISES = (
    Exercise(1, "implement", "bits per character",
             "Write `bits_per_char(logits, targets)` in NumPy: `logits` (N, V) are a model's scores for the next "
             "character at N positions, `targets` (N,) the characters that came; return the mean of "
             "`-log2 softmax(logits)[target]` (the lesson's score). Keep the softmax stable for large logits.",
             "bits_per_char",
             "import numpy as np\n\n\ndef bits_per_char(logits, targets):\n"
             "    \"\"\"mean -log2 p(target) for logits (N, V) and target ids (N,).\"\"\"\n"
             "    raise NotImplementedError  # your code here\n",
             bits_per_char, _verify_bits),
    Exercise(2, "architecture", "an LSTM instead of the GRU",
             "Write `build_lstm_model(cfg, vocab_size=64)`: the lesson's `build_model` with "
             "`keras.layers.LSTM(cfg.units, return_sequences=True, name=\"lstm\")` in place of the GRU; keep the "
             "other layer names. Compare `count_params()`: an LSTM has four gates' weights where a GRU has three.",
             "build_lstm_model",
             "import keras\n\n\ndef build_lstm_model(cfg, vocab_size=64):\n"
             "    \"\"\"build_model with an LSTM 'lstm' in place of the GRU.\"\"\"\n"
             "    raise NotImplementedError  # start from lesson.build_model's code\n",
             build_lstm_model, _verify_lstm),
    Exercise(3, "predict", "the bits of a blind guesser",
             "Before running it: a model that has learnt nothing gives every one of 64 characters the same "
             "probability. How many bits per character does it score? Write it as `PREDICTED_UNIFORM_BITS`; the "
             "lesson's bar (2.2 bits) and the n-gram baseline read against it.",
             "PREDICTED_UNIFORM_BITS",
             "PREDICTED_UNIFORM_BITS = None  # a number of bits\n",
             PREDICTED_UNIFORM_BITS, _verify_uniform),
)
