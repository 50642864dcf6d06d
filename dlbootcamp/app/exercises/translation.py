"""Exercises for day 13 (translation): dot-product attention by hand, teacher forcing's inputs, where the decoder looks."""

from __future__ import annotations

from dlbootcamp.app.exercises import Exercise, Wrong, expect_close, expect_shape


# --- 1. implement a piece: the attention the decoder uses -----------------------------------------------------

def attend(decoded, encoded, scale=1.0):
    """Dot-product attention as ``keras.layers.Attention(use_scale=True)``: for decoder outputs (B, T, D) and
    encoder vectors (B, S, D), the weights softmax(scale * decoded . encoded) over the S source positions
    (B, T, S) and the context, their weighted sum of encoder vectors (B, T, D). Returns (context, weights)."""
    import numpy as np

    scores = scale * np.einsum("btd,bsd->bts", np.asarray(decoded, np.float64), np.asarray(encoded, np.float64))
    scores -= scores.max(-1, keepdims=True)
    weights = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    return np.einsum("bts,bsd->btd", weights, encoded), weights


def _verify_attend(fn) -> None:
    import keras
    import numpy as np

    rng = np.random.default_rng(13)
    decoded, encoded = rng.normal(0, 1, (2, 4, 6)).astype(np.float32), rng.normal(0, 1, (2, 7, 6)).astype(np.float32)
    layer = keras.layers.Attention(use_scale=True)
    layer.build([decoded.shape, encoded.shape])
    layer.set_weights([np.array(0.5, np.float32)])
    context, weights = (np.asarray(t) for t in layer([decoded, encoded], return_attention_scores=True))
    got = fn(decoded.copy(), encoded.copy(), 0.5)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Wrong(f"attend returned {type(got).__name__}; expected a pair (context, weights).")
    expect_shape("the attention weights", got[1], (2, 4, 7))
    sums = np.asarray(got[1], np.float64).sum(-1)
    if not np.allclose(sums, 1.0, atol=1e-4):
        raise Wrong(f"the weights of one decoder step sum to {float(sums.flat[0]):.3f} over the 7 source positions; "
                    "the softmax runs over the source positions (the last axis), so that each step's weights sum to 1.")
    expect_close("the attention weights against keras.layers.Attention(use_scale=True) with scale 0.5", got[1], weights,
                 atol=1e-4)
    expect_shape("the context", got[0], (2, 4, 6))
    expect_close("the context against keras.layers.Attention", got[0], context, atol=1e-4)


# --- 2. implement a piece: what teacher forcing feeds the decoder ---------------------------------------------

def teacher_inputs(y, start_id):
    """The decoder's inputs for targets ``y`` (N, T): at step t the true token t - 1, <start> at step 0."""
    import numpy as np

    y = np.asarray(y)
    return np.concatenate([np.full((len(y), 1), start_id, y.dtype), y[:, :-1]], 1)


def _verify_teacher(fn) -> None:
    import numpy as np

    from dlbootcamp import seq2seq

    y = np.array([[5, 6, 7, 2], [8, 9, 2, 0]], np.int32)
    got = np.asarray(fn(y.copy(), 1))
    expect_shape("teacher_inputs(y (2, 4), start_id=1)", got, y.shape)
    if np.array_equal(got, y):
        raise Wrong("you fed the decoder the very tokens it must predict: it would learn to copy its input. Shift the "
                    "targets right by one and put <start> first.")
    if np.array_equal(got[:, 1:], y[:, :-1]) and not np.all(got[:, 0] == 1):
        raise Wrong(f"the first column is {got[:, 0].tolist()}; the decoder's first input is the <start> id (1 here).")
    expected = seq2seq.teacher_inputs(y, 1)
    if not np.array_equal(got, expected):
        raise Wrong(f"teacher_inputs gave {got.tolist()}; expected {expected.tolist()}.")


# --- 3. predict an outcome: how many attention weights per written character? ----------------------------------

PREDICTED_WEIGHTS_PER_STEP = 30  # one per source position: dates are padded to MAX_SOURCE_LENGTH characters


def _verify_weights(value) -> None:
    from dlbootcamp import seq2seq
    from dlbootcamp.lessons import day13_translation as lesson

    if not isinstance(value, int) or isinstance(value, bool):
        raise Wrong(f"PREDICTED_WEIGHTS_PER_STEP is {value!r}; expected a whole number.")
    source, target = lesson.vocabularies()
    shape = seq2seq.Shape(lesson.SOURCE_LENGTH, lesson.TARGET_STEPS, len(source), len(target), 8, 8)
    step = seq2seq.inference_models(shape, seq2seq.build(shape))["decoder_step"]
    actual = int(step.output["attention"].shape[-1])
    if value != actual:
        hint = (" That is the number of steps the decoder writes; the weights are over what it reads."
                if value in (lesson.TARGET_STEPS, lesson.TARGET_STEPS - 1) else "")
        raise Wrong(f"PREDICTED_WEIGHTS_PER_STEP = {value}: at each step the decoder spreads one weight over every "
                    f"position of the (padded) source date.{hint}")


EXERCISES = (
    Exercise(1, "implement", "attention by hand",
             "Write `attend(decoded, encoded, scale=1.0)` in NumPy: for decoder outputs (B, T, D) and encoder "
             "vectors (B, S, D), the weights are `softmax(scale * decoded . encoded)` over the S source positions "
             "(B, T, S), the context their weighted sum of encoder vectors (B, T, D); return `(context, weights)`. "
             "It is what `keras.layers.Attention(use_scale=True)` computes in `seq2seq.read_out`, and the weights "
             "are the heat maps the lesson draws.",
             "attend",
             "import numpy as np\n\n\ndef attend(decoded, encoded, scale=1.0):\n"
             "    \"\"\"(context (B, T, D), weights (B, T, S)).\"\"\"\n"
             "    raise NotImplementedError  # your code here\n",
             attend, _verify_attend),
    Exercise(2, "implement", "teacher forcing",
             "Write `teacher_inputs(y, start_id)`: for target ids `y` (N, T) return what the decoder is fed while "
             "training (N, T): at step t the **true** token t - 1, and `start_id` at step 0.",
             "teacher_inputs",
             "import numpy as np\n\n\ndef teacher_inputs(y, start_id):\n"
             "    \"\"\"(N, T): <start>, then the targets shifted right by one.\"\"\"\n"
             "    raise NotImplementedError  # your code here\n",
             teacher_inputs, _verify_teacher),
    Exercise(3, "predict", "how many places to look",
             "Before running it: the dates decoder step returns attention weights with each character it writes "
             "(the heat maps). How many weights does one step give? Read `SOURCE_LENGTH` and `seq2seq.read_out`; "
             "write the number as `PREDICTED_WEIGHTS_PER_STEP`, then check.",
             "PREDICTED_WEIGHTS_PER_STEP",
             "PREDICTED_WEIGHTS_PER_STEP = None  # a whole number\n",
             PREDICTED_WEIGHTS_PER_STEP, _verify_weights),
)
