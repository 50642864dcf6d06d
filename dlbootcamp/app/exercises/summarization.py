"""Exercises for day 14 (summarization): directed centrality by hand, what the position prior keeps, a plain mean encoder."""

from __future__ import annotations

from dlbootcamp.app.exercises import Exercise, Wrong, expect_close, expect_model, expect_shape


# --- 1. implement a piece: directed centrality (PacSum) ----------------------------------------------------

def centrality(vectors, backward_weight):
    """For sentence vectors (n, D): each sentence's similarity (dot product) summed over the sentences after it,
    plus ``backward_weight`` x the sum over those before it; a sentence's similarity to itself never counts."""
    import numpy as np

    sims = np.asarray(vectors, np.float64) @ np.asarray(vectors, np.float64).T
    return np.triu(sims, 1).sum(axis=1) + backward_weight * np.tril(sims, -1).sum(axis=1)


def _verify_centrality(fn) -> None:
    import numpy as np

    from dlbootcamp import extractive

    rng = np.random.default_rng(14)
    v = rng.normal(0, 1, (7, 5))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    for weight in (-1.0, 0.0, 0.5):
        got = np.asarray(fn(v.copy(), weight), np.float64)
        expected = extractive.centrality(v, weight)
        expect_shape(f"centrality(7 sentences, {weight})", got, (7,))
        sims = v @ v.T
        if np.allclose(got, expected + 1.0, atol=1e-6) or (weight and np.allclose(got, expected + weight, atol=1e-6)):
            raise Wrong("every score is off by a sentence's similarity with itself: leave the diagonal out "
                        "(np.triu(sims, 1), np.tril(sims, -1)).")
        if weight != 1.0 and np.allclose(got, np.tril(sims, -1).sum(1) + weight * np.triu(sims, 1).sum(1), atol=1e-6):
            raise Wrong(f"with backward_weight={weight} you weighted the sentences *after* each one; they count fully, "
                        "and the ones before it are weighted.")
        expect_close(f"centrality(vectors, backward_weight={weight}) against dlbootcamp.extractive's", got, expected, atol=1e-6)


# --- 2. predict an outcome: what the position prior keeps when nothing is central ------------------------------

PREDICTED_KEPT = [0, 1]  # no similarities: centrality is flat, the position prior alone picks: the lead


def _verify_kept(value) -> None:
    import numpy as np

    from dlbootcamp import extractive

    if not isinstance(value, (list, tuple)) or not all(isinstance(i, int) for i in value):
        raise Wrong(f"PREDICTED_KEPT is {value!r}; expected a list of sentence positions (ints), e.g. [2, 4].")
    scores = extractive.salience(np.eye(5), position_weight=2.0)  # five sentences, no two alike
    kept = sorted(int(i) for i in np.argsort(-scores, kind="stable")[:2])
    if sorted(value) != kept:
        raise Wrong(f"PREDICTED_KEPT = {sorted(value)}: when no sentence is similar to another, centrality is the same "
                    "for all and scales to 0; what is left of salience is position_weight x (1 - i/n).")


# --- 3. change the architecture: a scorer that reads only the average word -----------------------------

def build_mean_only_scorer(cfg, vocab_size):
    """The lesson's full sentence scorer with the max over words removed: the sentence is the mean of its
    per-word features, beside the sentence features (position, length, centrality)."""
    import keras

    ids = keras.Input((cfg.max_len,), dtype="int32", name="token_ids")
    ctx = keras.Input((cfg.max_len, 2), name="context")
    pos = keras.Input((6,), name="position")
    x = keras.layers.Embedding(vocab_size, cfg.dim, name="word_vectors")(ids)
    x = keras.layers.Dropout(cfg.dropout, seed=cfg.seed, name="word_dropout")(x)
    x = keras.layers.Concatenate(name="word_in_document")([x, ctx])
    h = keras.layers.Dense(cfg.hidden, activation="relu", name="per_word")(x)
    mask = keras.ops.expand_dims(keras.ops.cast(keras.ops.greater(ids, 0), "float32"), -1)
    mean = keras.ops.sum(h * mask, axis=1) / keras.ops.maximum(keras.ops.sum(mask, axis=1), 1.0)
    z = keras.layers.Concatenate(name="sentence")([mean, pos])
    z = keras.layers.Dense(cfg.hidden, activation="relu", name="judge")(z)
    score = keras.layers.Dense(1, activation="sigmoid", name="score")(z)
    return keras.Model([ids, ctx, pos], score, name="mean_only_scorer")


def _verify_mean_only(fn) -> None:
    import numpy as np

    from dlbootcamp.lessons import day14_summarization as lesson

    cfg = lesson.Config.quick()
    model = fn(cfg, 300)
    reference = build_mean_only_scorer(cfg, 300)
    full = lesson.build_model(cfg, 300, "full")
    if hasattr(model, "count_params") and model.count_params() == full.count_params():
        raise Wrong(f"{model.count_params():,} parameters, as many as the lesson's full scorer: `judge` still reads "
                    f"the max over words too (mean + max + 6 features); drop the max.")
    expect_model("build_mean_only_scorer(Config.quick(), 300)", model, reference)
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 300, (3, cfg.max_len)).astype(np.int32)
    ids[:, 10:] = 0  # padding
    feed = [ids, rng.uniform(0, 1, (3, cfg.max_len, 2)).astype(np.float32),
            rng.uniform(0, 1, (3, len(lesson.SENTENCE_FEATURES))).astype(np.float32)]
    out = np.asarray(model.predict(feed, verbose=0))
    expect_shape("the scores", out, (3, 1))
    if not np.all((out > 0) & (out < 1)):
        raise Wrong("the scores are not in (0, 1): the last layer is a sigmoid, as in the lesson's scorer.")
    longer = ids.copy()
    longer[:, 10:] = 0
    again = np.asarray(model.predict([longer, feed[1], feed[2]], verbose=0))
    expect_close("the scores of the same padded sentences", again, out, atol=1e-5)


EXERCISES = (
    Exercise(1, "implement", "directed centrality",
             "Write `centrality(vectors, backward_weight)` in NumPy: for unit sentence vectors (n, D), each "
             "sentence's score is the sum of its dot products with the sentences **after** it plus "
             "`backward_weight` times the sum over those **before** it (never itself). With weight 0 a sentence is "
             "central when what follows keeps talking about it (PacSum).",
             "centrality",
             "import numpy as np\n\n\ndef centrality(vectors, backward_weight):\n"
             "    \"\"\"(n,) similarity to later sentences + backward_weight x similarity to earlier ones.\"\"\"\n"
             "    raise NotImplementedError  # your code here\n",
             centrality, _verify_centrality),
    Exercise(2, "predict", "when nothing is central",
             "Before running it: five sentences whose vectors are all orthogonal (`np.eye(5)`: no two alike) are "
             "scored by the TF-IDF baseline's `dlbootcamp.extractive.salience(vectors, position_weight=2.0)` (its setting, chosen on "
             "dev), and the best two are kept. Which positions "
             "(0 = the first sentence)? Write them as `PREDICTED_KEPT`, then check. What does that say about the "
             "lead baseline?",
             "PREDICTED_KEPT",
             "PREDICTED_KEPT = []  # positions, e.g. [2, 4]\n",
             PREDICTED_KEPT, _verify_kept),
    Exercise(3, "architecture", "only the average word",
             "Write `build_mean_only_scorer(cfg, vocab_size)`: the lesson's full scorer (`build_model(cfg, "
             "vocab_size, \"full\")`) without the max over words, so `judge` reads the masked mean of `per_word` "
             "beside the `position` features. Keep the layer names. A max lets one striking word make a sentence "
             "summary-worthy; does the mean alone score as well (train it with `fit_scorer`'s recipe and see)?",
             "build_mean_only_scorer",
             "import keras\n\n\ndef build_mean_only_scorer(cfg, vocab_size):\n"
             "    \"\"\"build_model(cfg, vocab_size, 'full') without the max over words.\"\"\"\n"
             "    raise NotImplementedError  # start from lesson.build_model's code\n",
             build_mean_only_scorer, _verify_mean_only),
)
