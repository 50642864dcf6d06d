"""Exercises for day 17 (vqa): a relation network's pooled relations by hand, the objects it relates, sum-only pooling."""

from __future__ import annotations

from dlbootcamp.app.exercises import Exercise, Wrong, expect_close, expect_model, expect_shape


# --- 1. implement a piece: g over every pair, then the pool ----------------------------------------------------

def relation_mean(objects, question, w, b):
    """A one-layer g applied to every ordered pair of objects: the mean over all (i, j), i and j in 0..n-1
    (i = j included), of relu([o_i; o_j; q] @ w + b). objects (n, d), question (k,), w (2d + k, g), b (g,) -> (g,)."""
    import numpy as np

    objects, question = np.asarray(objects, np.float64), np.asarray(question, np.float64)
    pairs = [np.maximum(np.concatenate([oi, oj, question]) @ w + b, 0.0) for oi in objects for oj in objects]
    return np.mean(pairs, axis=0)


def _verify_relations(fn) -> None:
    import numpy as np

    rng = np.random.default_rng(17)
    n, d, k, g = 6, 5, 11, 8
    objects, question = rng.normal(0, 1, (n, d)), rng.normal(0, 1, k)
    w, b = rng.normal(0, 0.5, (2 * d + k, g)), rng.normal(0, 0.1, g)
    got = np.asarray(fn(objects.copy(), question.copy(), w.copy(), b.copy()), np.float64)
    expect_shape("relation_mean(6 objects of 5 numbers, an 11-number question, g = 8 units)", got, (g,))
    # the lesson's trick: [o_i; o_j; q] @ w = o_i @ A + o_j @ B + q @ Q, each computed once, then broadcast-added
    a, bb, q = objects @ w[:d], objects @ w[d:2 * d], question @ w[2 * d:]
    pre = a[:, None, :] + bb[None, :, :] + q + b  # (n, n, g): every ordered pair
    if np.allclose(got, np.maximum(pre.mean((0, 1)), 0), atol=1e-6):
        raise Wrong("you pooled before the ReLU: g (with its ReLU) judges each pair on its own, then the pool "
                    "averages what g said about every pair.")
    off = ~np.eye(n, dtype=bool)
    if np.allclose(got, np.maximum(pre, 0)[off].mean(0), atol=1e-6):
        raise Wrong("you left out the pairs of an object with itself; the relation network's sum runs over all "
                    "n x n ordered pairs (i = j included).")
    expect_close("relation_mean against the decomposed computation", got, np.maximum(pre, 0).mean((0, 1)), atol=1e-6)


# --- 2. predict an outcome: what an object is ----------------------------------------------------------------

PREDICTED_OBJECTS_SHAPE = (64, 13)  # the 8x8 cells of a stride-2 conv; cfg.filters = 8 features + RGB + (x, y)


def _verify_objects(value) -> None:
    from dlbootcamp.lessons import day17_vqa as lesson

    if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(isinstance(v, int) for v in value):
        raise Wrong(f"PREDICTED_OBJECTS_SHAPE is {value!r}; expected (objects, numbers per object), two ints.")
    cfg = lesson.Config.quick()
    actual = tuple(lesson.build_model(cfg).get_layer("objects").output.shape[1:])
    if tuple(value) != actual:
        hints = []
        if value[0] != actual[0]:
            hints.append("there is one object per cell of the stride-2 conv's map (the 16x16 map halved), whatever "
                         "the image or the question")
        if value[1] != actual[1]:
            hints.append(f"each cell carries the conv's {cfg.filters} features, its mean colour (RGB) and its (x, y) "
                         "position")
        raise Wrong(f"PREDICTED_OBJECTS_SHAPE = {tuple(value)} is not right: {'; '.join(hints)}.")


# --- 3. change the architecture: pool the relations by their sum only ----------------------------------------

def build_sum_only_model(cfg):
    """The lesson's relation network whose f reads only the sum over the pairs (no max) and the question."""
    import keras

    from dlbootcamp.lessons import day17_vqa as lesson

    full = lesson.build_model(cfg)
    layer = keras.layers
    image, questions = full.inputs
    x = layer.Concatenate(name="f_in")([full.get_layer("sum_over_pairs").output, questions])
    x = layer.Dense(cfg.f_units, activation="relu", name="f1")(x)
    x = layer.Dense(cfg.f_units, activation="relu", name="f2")(x)
    answers = layer.Dense(len(lesson.ANSWERS), activation="softmax", name="answers")(x)
    return keras.Model([image, questions], answers, name="sum_only_relation_network")


def _verify_sum_only(fn) -> None:
    import numpy as np

    from dlbootcamp.lessons import day17_vqa as lesson

    cfg = lesson.Config.quick()
    model = fn(cfg)
    left = {layer.name for layer in getattr(model, "layers", [])} & {"max_over_pairs", "max"}
    if left:
        raise Wrong(f"the model still pools by the max ({sorted(left)}); f reads the sum over the pairs and the "
                    "question only.")
    expect_model("build_sum_only_model(Config.quick())", model, build_sum_only_model(cfg))
    images = np.zeros((2, cfg.image_size, cfg.image_size, 3), np.float32)
    out = model.predict([images, np.zeros((2, 5, 11), np.float32)], verbose=0)
    expect_shape("its answers to 5 questions about each of 2 images", out, (2, 5, len(lesson.ANSWERS)))


EXERCISES = (
    Exercise(1, "implement", "relations, pair by pair",
             "Write `relation_mean(objects, question, w, b)` in NumPy: a relation network with a one-layer g. For "
             "objects (n, d), a question (k,), weights w (2d + k, g) and bias b (g,), apply "
             "`relu([o_i; o_j; q] @ w + b)` to **every** ordered pair (i, j) (i = j included) and return the mean "
             "over the pairs (g,): the RN's sum, as a mean. The check compares it with the lesson's decomposition "
             "`o_i @ A + o_j @ B + q @ Q`.",
             "relation_mean",
             "import numpy as np\n\n\ndef relation_mean(objects, question, w, b):\n"
             "    \"\"\"mean over all pairs (i, j) of relu([o_i; o_j; q] @ w + b) -> (g,).\"\"\"\n"
             "    raise NotImplementedError  # your code here\n",
             relation_mean, _verify_relations),
    Exercise(2, "predict", "what an object is",
             "Before running it: the layer `objects` of `build_model(cfg)` holds the objects that g relates to the "
             "question's subject. For `Config.quick()` (`filters=8`), what is its output shape for one image "
             "(objects, numbers per object)? Write it as `PREDICTED_OBJECTS_SHAPE`, then check.",
             "PREDICTED_OBJECTS_SHAPE",
             "PREDICTED_OBJECTS_SHAPE = None  # (objects, numbers per object)\n",
             PREDICTED_OBJECTS_SHAPE, _verify_objects),
    Exercise(3, "architecture", "count, but no extremes",
             "Write `build_sum_only_model(cfg)`: the lesson's `build_model` without the max over the pairs "
             "(`max_over_pairs` and `max`), so that `f_in` concatenates only `sum_over_pairs` and the questions "
             "(tip: build the lesson's model and continue from `get_layer(\"sum_over_pairs\").output`). Keep the "
             "names `f_in`, `f1`, `f2`, `answers`. The docstring says what the max is for: train both and compare "
             "the 'closest' and 'furthest' questions (`lesson.evaluate` scores each kind).",
             "build_sum_only_model",
             "import keras\n\n\ndef build_sum_only_model(cfg):\n"
             "    \"\"\"build_model whose f reads the sum over the pairs only.\"\"\"\n"
             "    raise NotImplementedError  # start from lesson.build_model\n",
             build_sum_only_model, _verify_sum_only),
)
