"""Exercises for day 2 (perceptron): one step of Rosenblatt's rule, XOR wired by hand, which gates a perceptron learns."""

from __future__ import annotations

from dlbootcamp.app.exercises import Exercise, Wrong, expect_close, expect_shape


# --- 1. implement a piece: one step of the perceptron rule ---------------------------------------------------

def perceptron_update(w, b, x, y, lr=1.0):
    """The weights and bias after showing the perceptron one example ``x`` with label ``y`` (0 or 1)."""
    import numpy as np

    w = np.asarray(w, np.float64)
    error = y - int(float(np.dot(x, w) + b) > 0)  # +1, 0 or -1
    return w + lr * error * np.asarray(x, np.float64), float(b + lr * error)


def _verify_update(fn) -> None:
    import numpy as np

    rng = np.random.default_rng(2)
    for k in range(40):
        w, b = rng.normal(0, 1, 2), float(rng.normal(0, 1))
        x, y, lr = rng.integers(0, 2, 2).astype(float), int(rng.integers(0, 2)), float(rng.choice([1.0, 0.5]))
        got = fn(w.copy(), b, x.copy(), y, lr)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise Wrong(f"perceptron_update returned {type(got).__name__}; expected a pair (new w, new b).")
        new_w, new_b = perceptron_update(w, b, x, y, lr)
        said = int(float(x @ w + b) > 0)
        what = (f"w={np.round(w, 3).tolist()}, b={b:.3f}, x={x.tolist()}, y={y}, lr={lr} "
                f"(the perceptron says {said}, so the error y - step(x.w + b) is {y - said:+d})")
        expect_shape("the new w", got[0], (2,))
        if said == y and not np.allclose(got[0], w):
            raise Wrong(f"for {what} the weights changed; the rule leaves them alone when the answer is right.")
        if said != y and x.any() and np.allclose(got[0], w - (new_w - w)):
            raise Wrong(f"for {what} the weights moved the wrong way: add lr * error * x, with error = y - prediction.")
        expect_close(f"the new w for {what}", got[0], new_w, atol=1e-9)
        expect_close(f"the new b for {what}", got[1], new_b, atol=1e-9)


# --- 2. implement a piece: XOR with a hidden layer, weights set by hand -------------------------------------

XOR_WEIGHTS = {"w1": [[1.0, -1.0], [1.0, -1.0]], "b1": [-0.5, 1.5],  # hidden: OR, NAND
               "w2": [1.0, 1.0], "b2": -1.5}  # output: AND of the two


def _step_net(weights, x):
    import numpy as np

    h = (x @ np.asarray(weights["w1"], np.float64) + np.asarray(weights["b1"], np.float64) > 0).astype(float)
    return (h @ np.asarray(weights["w2"], np.float64) + float(weights["b2"]) > 0).astype(int)


def _verify_xor(weights) -> None:
    import numpy as np

    from dlbootcamp.lessons import day02_perceptron as lesson

    if not isinstance(weights, dict) or set(weights) != {"w1", "b1", "w2", "b2"}:
        raise Wrong(f"XOR_WEIGHTS is {weights!r}; expected a dict with keys w1 (2, 2), b1 (2,), w2 (2,) and b2 (a number).")
    for name, shape in (("w1", (2, 2)), ("b1", (2,)), ("w2", (2,)), ("b2", ())):
        expect_shape(f"XOR_WEIGHTS[{name!r}]", weights[name], shape)
    x = lesson.INPUTS.astype(np.float64)
    got = _step_net(weights, x)
    wrong = [f"{x[i].astype(int).tolist()} -> {got[i]} (expected {lesson.TRUTH['XOR'][i]})"
             for i in range(4) if got[i] != lesson.TRUTH["XOR"][i]]
    if wrong:
        raise Wrong(f"the step network says {'; '.join(wrong)}. Hint: let one hidden unit compute OR and the other "
                    "NAND (AND with the signs flipped), and the output AND them.")


# --- 3. predict an outcome: which gates can the perceptron rule learn? ---------------------------------------

PREDICTED_LEARNABLE = {"AND", "OR"}


def _verify_learnable(value) -> None:
    from dlbootcamp.lessons import day02_perceptron as lesson

    if not isinstance(value, (set, list, tuple, frozenset)) or not all(isinstance(g, str) for g in value):
        raise Wrong(f"PREDICTED_LEARNABLE is {value!r}; expected a set of gate names, e.g. {{\"AND\"}}.")
    value = {g.upper() for g in value}
    unknown = value - set(lesson.TRUTH)
    if unknown:
        raise Wrong(f"PREDICTED_LEARNABLE names {sorted(unknown)}; the gates are {sorted(lesson.TRUTH)}.")
    learned = {gate for gate, y in lesson.TRUTH.items()
               if lesson.perceptron(lesson.INPUTS, y, epochs=100, seed=0)[2][-1] == 1.0}
    if value != learned:
        parts = ([f"it never gets all four rows of {sorted(value - learned)} right" if value - learned else ""]
                 + [f"it does learn {sorted(learned - value)}" if learned - value else ""])
        raise Wrong(f"run for 100 epochs, {' and '.join(p for p in parts if p)}: a single perceptron draws one straight "
                    "line, so it learns exactly the gates whose 1s a line can separate from the 0s.")


EXERCISES = (
    Exercise(1, "implement", "one step of the perceptron rule",
             "Write `perceptron_update(w, b, x, y, lr=1.0)` in NumPy: the perceptron says `step(x . w + b)` (1 if "
             "positive, else 0); with `error = y - that`, return the new `(w, b)`: `w + lr * error * x` and "
             "`b + lr * error`. It is the body of the lesson's `perceptron` loop.",
             "perceptron_update",
             "import numpy as np\n\n\ndef perceptron_update(w, b, x, y, lr=1.0):\n"
             "    \"\"\"(new w, new b) after one example x with label y in {0, 1}.\"\"\"\n"
             "    raise NotImplementedError  # your code here\n",
             perceptron_update, _verify_update),
    Exercise(2, "implement", "XOR by hand",
             "A single perceptron cannot do XOR, one hidden layer can. Set the weights of a 2-2-1 network of "
             "*step* units yourself: `h = step(x @ w1 + b1)`, `out = step(h @ w2 + b2)`. Write them as "
             "`XOR_WEIGHTS = {\"w1\": ..., \"b1\": ..., \"w2\": ..., \"b2\": ...}`; the check runs the four inputs.",
             "XOR_WEIGHTS",
             "XOR_WEIGHTS = {\"w1\": [[0.0, 0.0], [0.0, 0.0]], \"b1\": [0.0, 0.0], \"w2\": [0.0, 0.0], \"b2\": 0.0}\n",
             XOR_WEIGHTS, _verify_xor),
    Exercise(3, "predict", "which gates does the rule learn?",
             "Before running it: given 100 epochs, on which of the lesson's gates (`AND`, `OR`, `XOR`) does the "
             "perceptron rule reach all four rows right? Write them as a set, `PREDICTED_LEARNABLE`, then check.",
             "PREDICTED_LEARNABLE",
             "PREDICTED_LEARNABLE = set()  # e.g. {\"AND\"}\n",
             PREDICTED_LEARNABLE, _verify_learnable),
)
