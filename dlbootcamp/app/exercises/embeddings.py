"""Exercises for day 11 (embeddings): subsampling by hand, an analogy solver, the skip-gram model's size."""

from __future__ import annotations

from dlbootcamp.app.exercises import Exercise, Wrong, expect_close, expect_shape


# --- 1. implement a piece: how often a word is kept (Mikolov's subsampling) -------------------------------------

def keep_probability(counts, t):
    """For word counts (V,): the probability of keeping each occurrence, min(1, sqrt(t / f) + t / f), f = count / total."""
    import numpy as np

    counts = np.asarray(counts, np.float64)
    ratio = t / np.maximum(counts / counts.sum(), 1e-12)
    return np.minimum(1.0, np.sqrt(ratio) + ratio)


def _verify_keep(fn) -> None:
    import numpy as np

    counts = np.array([0, 0, 60_000, 20_000, 5_000, 800, 120, 30, 5, 1], np.float64)  # "the", "and", ... rare words
    got = np.asarray(fn(counts.copy(), 1e-4), np.float64)
    expected = keep_probability(counts, 1e-4)
    expect_shape("keep_probability(counts (10,), t=1e-4)", got, (10,))
    f = counts[2:] / counts.sum()
    if np.allclose(got[2:], np.sqrt(1e-4 / f) + 1e-4 / f, rtol=1e-6):
        raise Wrong("rare words get a keep probability above 1: cap it with min(1, ...) (it is a probability).")
    if np.allclose(got[2:], np.minimum(1, np.sqrt(f / 1e-4) + f / 1e-4), rtol=1e-6):
        raise Wrong("you used f / t where it is t / f: the *frequent* words must be dropped most.")
    expect_close("keep_probability(counts, t=1e-4)", got, expected, atol=1e-6, rtol=1e-6)


# --- 2. implement a piece: answer an analogy -----------------------------------------------------------------

def analogy(unit, a, b, c, k=5):
    """The ids of the ``k`` rows of ``unit`` (V, D, unit vectors) most similar (dot product) to b - a + c,
    best first, the three question ids excluded: "a is to b as c is to ?" (3CosAdd)."""
    import numpy as np

    scores = (unit[b] - unit[a] + unit[c]) @ unit.T
    scores[[a, b, c]] = -np.inf
    return [int(i) for i in np.argsort(-scores, kind="stable")[:k]]


def _verify_analogy(fn) -> None:
    import numpy as np

    rng = np.random.default_rng(11)
    unit = rng.normal(0, 1, (40, 6))
    unit[7] = unit[3] - unit[1] + unit[2] + rng.normal(0, 0.05, 6)  # 1 : 3 :: 2 : 7
    unit /= np.linalg.norm(unit, axis=1, keepdims=True)
    got = [int(i) for i in fn(unit.copy(), 1, 3, 2, 5)]
    expected = analogy(unit, 1, 3, 2, 5)
    if len(got) != 5:
        raise Wrong(f"analogy(..., k=5) returned {len(got)} ids; expected 5, best first.")
    if set(got) & {1, 2, 3}:
        raise Wrong(f"your answer {got} contains question words ({sorted(set(got) & {1, 2, 3})}): exclude a, b and c, "
                    "or 'king - man + woman' answers 'king'.")
    if got[0] != 7:
        raise Wrong(f"the best answer to 1 : 3 :: 2 : ? is row 7 (built as v3 - v1 + v2), yours is {got[0]}: "
                    "score each row by its dot product with unit[b] - unit[a] + unit[c].")
    if got != expected:
        raise Wrong(f"analogy returned {got}; expected {expected} (the k best, best first).")


# --- 3. predict an outcome: how many weights does skip-gram learn? ------------------------------------------

PREDICTED_PARAMS = 2 * 500 * 16  # two tables (word and context vectors) of vocab_size x dim


def _verify_params(value) -> None:
    from dlbootcamp.lessons import day11_embeddings as lesson

    if not isinstance(value, int) or isinstance(value, bool):
        raise Wrong(f"PREDICTED_PARAMS is {value!r}; expected a whole number (an int).")
    actual = lesson.build_model(lesson.Config.quick()).count_params()
    if value != actual:
        hint = (" Both tables count: the word vectors and the context vectors." if value * 2 == actual else
                " The Dot layer has no weights.")
        raise Wrong(f"PREDICTED_PARAMS = {value:,}; build_model(Config.quick()) (vocab_size=500, dim=16) has a "
                    f"different number.{hint}")


EXERCISES = (
    Exercise(1, "implement", "which words to drop",
             "Write `keep_probability(counts, t)` in NumPy: for the word counts (V,) return the probability of "
             "keeping each occurrence of each word, `min(1, sqrt(t / f) + t / f)` with `f = count / total` (the "
             "lesson's subsampling, `keep_p` in `skipgram_pairs`). Padding and unknown have count 0.",
             "keep_probability",
             "import numpy as np\n\n\ndef keep_probability(counts, t):\n"
             "    \"\"\"(V,) probability of keeping an occurrence of each word.\"\"\"\n"
             "    raise NotImplementedError  # your code here\n",
             keep_probability, _verify_keep),
    Exercise(2, "implement", "answer an analogy",
             "Write `analogy(unit, a, b, c, k=5)`: `unit` is the (V, D) table of unit word vectors; return the ids "
             "of the `k` words whose vectors have the largest dot product with `unit[b] - unit[a] + unit[c]`, best "
             "first, never a, b or c (the lesson's `evaluate`, for one question). Then try "
             "`[data.vocab.tokens[i] for i in analogy(...)]` on the trained vectors.",
             "analogy",
             "import numpy as np\n\n\ndef analogy(unit, a, b, c, k=5):\n"
             "    \"\"\"ids of the k nearest rows to b - a + c, question ids excluded.\"\"\"\n"
             "    raise NotImplementedError  # your code here\n",
             analogy, _verify_analogy),
    Exercise(3, "predict", "the size of skip-gram",
             "Before running it: how many parameters does `build_model(Config.quick())` have (`vocab_size=500`, "
             "`dim=16`, 5 negatives)? Write the number as `PREDICTED_PARAMS`, then check.",
             "PREDICTED_PARAMS",
             "PREDICTED_PARAMS = None  # a whole number\n",
             PREDICTED_PARAMS, _verify_params),
)
