"""Exercises for day 15 (assistant-intents): word dropout by hand, a wider phrase window, the tokeniser's words."""

from __future__ import annotations

from dlbootcamp.app.exercises import Exercise, Wrong, expect_model, expect_shape


# --- 1. implement a piece: word dropout -------------------------------------------------------------------

def drop_words(ids, rate, copies, rng):
    """``copies`` copies of ``ids`` (N, L) stacked (copies*N, L); in them each word id (> 1) becomes <unk> (1)
    with probability ``rate``; padding (0) and <unk> stay as they are."""
    import numpy as np

    many = np.concatenate([ids] * copies)
    dropped = (rng.random(many.shape) < rate) & (many > 1)
    return np.where(dropped, 1, many).astype(np.int32)


def _verify_drop_words(fn) -> None:
    import numpy as np

    rng = np.random.default_rng(15)
    ids = rng.integers(2, 50, (400, 16)).astype(np.int32)
    ids[:, 10:] = 0  # padding at the end, as the tokenizer writes it
    ids[::7, 0] = 1  # a few words already unknown
    out = np.asarray(fn(ids.copy(), 0.5, 3, np.random.default_rng(0)))
    expect_shape("drop_words(ids (400, 16), rate=0.5, copies=3)", out, (1200, 16))
    if not np.issubdtype(out.dtype, np.integer):
        raise Wrong(f"drop_words returned dtype {out.dtype}; expected integer token ids (int32).")
    many = np.concatenate([ids] * 3)
    if np.any(out[many == 0] != 0):
        raise Wrong("padding (id 0) was changed; only words (ids > 1) may become <unk> (1).")
    changed = out != many
    if np.any(out[changed] != 1):
        raise Wrong("a word became something other than <unk>; a dropped word must become id 1.")
    words = many > 1
    share = float(changed[words].mean())
    if abs(share - 0.5) > 0.03:
        raise Wrong(f"at rate=0.5, {share:.1%} of the words were dropped; expected about 50% (±3%).")
    if np.array_equal(out[:400], out[400:800]):
        raise Wrong("the copies are dropped identically; each copy needs its own random draw.")
    same = np.asarray(fn(ids.copy(), 0.0, 2, np.random.default_rng(0)))
    if not np.array_equal(same, np.concatenate([ids] * 2)):
        raise Wrong("at rate=0 the copies must equal the input; some ids changed.")


# --- 2. change the architecture: five-word windows ------------------------------------------------------------

def build_wide_window_model(cfg, vocab_size=1000):
    """The lesson's model with phrase detectors over windows of five words instead of three."""
    import keras

    from dlbootcamp.lessons import day15_assistant_intents as lesson
    from dlbootcamp.worlds import utterances

    ids = keras.Input((lesson.SEQUENCE_LENGTH,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(vocab_size, cfg.embed, name="word_vectors")(ids)
    x = keras.layers.Conv1D(cfg.filters, 5, padding="same", activation="relu", name="phrases")(x)
    x = keras.layers.GlobalMaxPooling1D(name="strongest_phrase")(x)
    x = keras.layers.Dropout(cfg.dropout, seed=cfg.seed, name="dropout")(x)
    probs = keras.layers.Dense(len(utterances.LABELS), activation="softmax", name="probs")(x)
    return keras.Model(ids, probs, name="wide_window_intents")


def _verify_wide_window(fn) -> None:
    from dlbootcamp.lessons import day15_assistant_intents as lesson

    cfg = lesson.Config.quick()
    model = fn(cfg, 200)
    phrases = [layer for layer in getattr(model, "layers", []) if layer.name == "phrases"]
    if phrases and tuple(phrases[0].kernel_size) != (5,):  # the point of the exercise: say it first
        raise Wrong(f"the 'phrases' convolution looks at windows of {phrases[0].kernel_size[0]} words; expected 5.")
    expect_model("build_wide_window_model(Config.quick(), 200)", model, build_wide_window_model(cfg, 200))


# --- 3. predict an outcome: which words does the tokeniser keep? ------------------------------------------

SENTENCE = "Wake me up at 6:30, please - I'm late!"
PREDICTED_WORDS = ["wake", "me", "up", "at", "please", "i'm", "late"]


def _tokenised(sentence: str) -> list[str]:
    import tensorflow as tf

    from dlbootcamp.lessons import day15_assistant_intents as lesson

    return [w.decode() for w in tf.strings.split(lesson.standardize(tf.constant([sentence])))[0].numpy()]


def _verify_words(value) -> None:
    if not isinstance(value, (list, tuple)) or not all(isinstance(w, str) for w in value):
        raise Wrong(f"PREDICTED_WORDS is {value!r}; expected a list of strings.")
    actual = _tokenised(SENTENCE)
    if list(value) != actual:
        extra = [w for w in value if w not in actual]
        missing = [w for w in actual if w not in value]
        parts = ([f"not kept: {extra}"] if extra else []) + ([f"missed: {missing}"] if missing else [])
        raise Wrong(f"PREDICTED_WORDS differs from what `standardize` keeps ({'; '.join(parts) or 'the order differs'}); "
                    f"read its docstring: lower-case, words of letters with an optional apostrophe part.")


EXERCISES = (
    Exercise(1, "implement", "word dropout",
             "Write `drop_words(ids, rate, copies, rng)`: stack `copies` copies of the token ids `ids` (N, L) into "
             "(copies*N, L) and, in them, replace each **word** (id > 1) by `<unk>` (id 1) with probability "
             "`rate`, drawing from the NumPy generator `rng`. Padding (0) stays 0. The check tests shapes, "
             "that only words change, only to 1, and that about `rate` of them do.",
             "drop_words",
             "import numpy as np\n\n\ndef drop_words(ids, rate, copies, rng):\n"
             "    \"\"\"(copies*N, L) int32: words (id > 1) become 1 with probability rate; 0 stays 0.\"\"\"\n"
             "    raise NotImplementedError  # your code here\n",
             drop_words, _verify_drop_words),
    Exercise(2, "architecture", "five-word phrase windows",
             "Write `build_wide_window_model(cfg, vocab_size=1000)`: the lesson's `build_model` whose `phrases` "
             "convolution looks at windows of **five** words instead of three; keep every layer name. Does it "
             "do better on held-out phrasings? Train it and see.",
             "build_wide_window_model",
             "import keras\n\n\ndef build_wide_window_model(cfg, vocab_size=1000):\n"
             "    \"\"\"build_model with Conv1D 'phrases' over 5-word windows.\"\"\"\n"
             "    raise NotImplementedError  # start from lesson.build_model's code\n",
             build_wide_window_model, _verify_wide_window),
    Exercise(3, "predict", "what the tokeniser keeps",
             f"Before running it: which words does `standardize` keep of `{SENTENCE!r}`? Write them, in order, "
             "as `PREDICTED_WORDS` (a list of strings), then check.",
             "PREDICTED_WORDS",
             "PREDICTED_WORDS = []  # e.g. [\"wake\", ...]\n",
             PREDICTED_WORDS, _verify_words),
)
