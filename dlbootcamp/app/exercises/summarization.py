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

    from dlbootcamp.lessons import day14_summarization as lesson

    rng = np.random.default_rng(14)
    v = rng.normal(0, 1, (7, 5))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    for weight in (-1.0, 0.0, 0.5):
        got = np.asarray(fn(v.copy(), weight), np.float64)
        expected = lesson.centrality(v, weight)
        expect_shape(f"centrality(7 sentences, {weight})", got, (7,))
        sims = v @ v.T
        if np.allclose(got, expected + 1.0, atol=1e-6) or (weight and np.allclose(got, expected + weight, atol=1e-6)):
            raise Wrong("every score is off by a sentence's similarity with itself: leave the diagonal out "
                        "(np.triu(sims, 1), np.tril(sims, -1)).")
        if weight != 1.0 and np.allclose(got, np.tril(sims, -1).sum(1) + weight * np.triu(sims, 1).sum(1), atol=1e-6):
            raise Wrong(f"with backward_weight={weight} you weighted the sentences *after* each one; they count fully, "
                        "and the ones before it are weighted.")
        expect_close(f"centrality(vectors, backward_weight={weight}) against the lesson's", got, expected, atol=1e-6)


# --- 2. predict an outcome: what the position prior keeps when nothing is central ------------------------------

PREDICTED_KEPT = [0, 1]  # no similarities: centrality is flat, the position prior alone picks: the lead


def _verify_kept(value) -> None:
    import numpy as np

    from dlbootcamp.lessons import day14_summarization as lesson

    if not isinstance(value, (list, tuple)) or not all(isinstance(i, int) for i in value):
        raise Wrong(f"PREDICTED_KEPT is {value!r}; expected a list of sentence positions (ints), e.g. [2, 4].")
    scores = lesson.salience(np.eye(5))  # five sentences, no two alike
    kept = sorted(int(i) for i in np.argsort(-scores, kind="stable")[:2])
    if sorted(value) != kept:
        raise Wrong(f"PREDICTED_KEPT = {sorted(value)}: when no sentence is similar to another, centrality is the same "
                    "for all and scales to 0; what is left of salience is position_weight x (1 - i/n).")


# --- 3. change the architecture: a plain mean of word vectors ----------------------------------------------

def build_plain_encoder(cfg, vocab_size):
    """The sentence encoder without learned word weights: a masked mean of the word vectors -> dense -> unit length."""
    import keras

    ids = keras.Input((cfg.max_len,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(vocab_size, cfg.dim, mask_zero=True, name="word_vectors")(ids)
    x = keras.layers.Dropout(cfg.dropout, seed=cfg.seed, name="word_dropout")(x)
    x = keras.layers.GlobalAveragePooling1D(name="mean_of_words")(x)
    x = keras.layers.Dense(cfg.dim, name="project")(x)
    return keras.Model(ids, keras.layers.UnitNormalization(name="sentence_vector")(x), name="plain_sentence_encoder")


def _verify_plain(fn) -> None:
    import numpy as np

    from dlbootcamp.lessons import day14_summarization as lesson

    cfg = lesson.Config.quick()
    model = fn(cfg, 300)
    left = {layer.name for layer in getattr(model, "layers", [])} & {"word_weights", "weighted"}
    if left:
        raise Wrong(f"the encoder still has {sorted(left)}: the plain mean gives every word the same weight.")
    expect_model("build_plain_encoder(Config.quick(), 300)", model, build_plain_encoder(cfg, 300))
    ids = np.zeros((2, cfg.max_len), np.int32)
    ids[:, :3] = [[5, 6, 7], [5, 6, 7]]
    ids[1, 3:6] = 0  # the same words, the padding must not count
    norms = np.linalg.norm(model.predict(ids, verbose=0), axis=1)
    expect_close("the length of each sentence vector", norms, np.ones(2), atol=1e-4)


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
             "scored by the lesson's `salience` with its default weights, and the best two are kept. Which positions "
             "(0 = the first sentence)? Write them as `PREDICTED_KEPT`, then check. What does that say about the "
             "lead baseline?",
             "PREDICTED_KEPT",
             "PREDICTED_KEPT = []  # positions, e.g. [2, 4]\n",
             PREDICTED_KEPT, _verify_kept),
    Exercise(3, "architecture", "every word weighs the same",
             "Write `build_plain_encoder(cfg, vocab_size)`: the lesson's `build_encoder` without the learned word "
             "weights (no `word_weights` embedding and no `weighted` Multiply): a masked mean of the word vectors, "
             "then `project` and `sentence_vector`. Keep the other names. The lesson starts the weights at IDF: "
             "does the plain mean summarise as well?",
             "build_plain_encoder",
             "import keras\n\n\ndef build_plain_encoder(cfg, vocab_size):\n"
             "    \"\"\"build_encoder without word_weights / weighted.\"\"\"\n"
             "    raise NotImplementedError  # start from lesson.build_encoder's code\n",
             build_plain_encoder, _verify_plain),
)
