"""Checked exercises: what a learner writes at the end of a lesson's notebook, and its check.

Each lesson with exercises has a module here named after its id (``training`` ->
``training.py``) with ``EXERCISES``: a tuple of :class:`Exercise`. An exercise names what the
learner defines (a function or a value), gives the cell they start from (``stub``), carries the
reference solution, and a ``verify(answer)`` that raises :class:`Wrong` with a message saying what
is wrong (a shape, a value against the reference with its tolerance, a gradient check).

    >>> from dlbootcamp.app.exercises import check
    >>> check("training", globals())              # in the notebook: every exercise
    >>> check("training", globals(), exercise=2)  # one of them

``dlbootcamp check ID --file SOLUTIONS.py`` runs the same checks on a file's definitions.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from typing import Any, Callable, Mapping

from dlbootcamp.errors import UserError


class Wrong(Exception):
    """An answer that does not pass: the message says what is wrong and, where it helps, how to look."""


@dataclasses.dataclass(frozen=True)
class Exercise:
    number: int
    kind: str  # "implement", "architecture" or "predict"
    title: str
    task: str  # markdown: what to do
    name: str  # the function or value the learner defines
    stub: str  # the code cell the learner starts from
    reference: Any  # the reference solution: a function or a value
    verify: Callable[[Any], None]  # raises Wrong


@dataclasses.dataclass(frozen=True)
class Result:
    exercise: Exercise
    passed: bool
    message: str

    def line(self) -> str:
        verdict = "passed" if self.passed else "not yet"
        return f"exercise {self.exercise.number} ({self.exercise.title}): {verdict}: {self.message}"


def module_name(lesson_id: str) -> str:
    return f"dlbootcamp.app.exercises.{lesson_id.replace('-', '_')}"


def has_exercises(lesson_id: str) -> bool:
    """Whether lesson ``lesson_id`` has exercises, without importing them (or TensorFlow)."""
    return importlib.util.find_spec(module_name(lesson_id)) is not None


def exercises(lesson_id: str) -> tuple[Exercise, ...]:
    if not has_exercises(lesson_id):
        raise UserError(f"Lesson {lesson_id!r} has no exercises yet; lessons with exercises: "
                        f"{', '.join(with_exercises())}.")
    return importlib.import_module(module_name(lesson_id)).EXERCISES


def with_exercises() -> list[str]:
    """The lesson ids that have exercises."""
    import pkgutil

    return [m.name.replace("_", "-") for m in pkgutil.iter_modules(__path__)]


def select(lesson_id: str, exercise: int | None) -> tuple[Exercise, ...]:
    found = exercises(lesson_id)
    if exercise is None:
        return found
    chosen = tuple(e for e in found if e.number == exercise)
    if not chosen:
        raise UserError(f"Lesson {lesson_id!r} has no exercise {exercise}; expected one of "
                        f"{', '.join(str(e.number) for e in found)}.")
    return chosen


def references(lesson_id: str) -> dict[str, Any]:
    """The reference solutions, by the names the learner defines: what passes every check."""
    return {e.name: e.reference for e in exercises(lesson_id)}


def run_checks(lesson_id: str, answers: Mapping[str, Any], exercise: int | None = None) -> list[Result]:
    """Check the learner's ``answers`` (a namespace: name -> function or value); one Result per exercise."""
    results = []
    for e in select(lesson_id, exercise):
        if e.name not in answers:
            results.append(Result(e, False, f"define `{e.name}` (the exercise's cell starts it)."))
            continue
        try:
            e.verify(answers[e.name])
        except NotImplementedError:
            results.append(Result(e, False, f"`{e.name}` is not written yet (it raises NotImplementedError)."))
        except Wrong as exc:
            results.append(Result(e, False, str(exc)))
        except Exception as exc:  # the learner's code crashed: say where, do not stop the notebook
            results.append(Result(e, False, f"`{e.name}` raised {type(exc).__name__}: {exc}"))
        else:
            results.append(Result(e, True, "matches the reference."))
    return results


def check(lesson_id: str, answers: Mapping[str, Any], exercise: int | None = None) -> bool:
    """Print one line per exercise and return whether all passed (for the notebook: never raises on a wrong answer)."""
    results = run_checks(lesson_id, answers, exercise)
    for r in results:
        print(r.line())
    return all(r.passed for r in results)


# --- small checks the lessons' exercises share ---------------------------------------------------------

def expect_shape(what: str, array, shape: tuple) -> None:
    import numpy as np

    got = tuple(np.shape(array))
    if got != tuple(shape):
        raise Wrong(f"{what} has shape {got}; expected {tuple(shape)}.")


def expect_close(what: str, got, expected, *, atol: float, rtol: float = 0.0) -> None:
    import numpy as np

    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    expect_shape(what, got, expected.shape)
    if not np.all(np.isfinite(got)):
        raise Wrong(f"{what} contains NaN or infinity; expected finite values.")
    diff = np.abs(got - expected)
    bound = atol + rtol * np.abs(expected)
    if np.any(diff > bound):
        i = np.unravel_index(int(np.argmax(diff - bound)), diff.shape) if diff.ndim else ()
        where = f" at index {tuple(int(k) for k in i)}" if i else ""
        raise Wrong(f"{what} differs from the reference by {float(diff.max()):.3g}{where} "
                    f"(got {float(got[i]):.6g}, expected {float(expected[i]):.6g}; tolerance {atol:g}"
                    f"{f' + {rtol:g} x |expected|' if rtol else ''}).")


def expect_model(what: str, model, reference) -> None:
    """Same input and output shapes, the named layers, and the same number of parameters as ``reference``."""
    import keras

    if not isinstance(model, keras.Model):
        raise Wrong(f"{what} returned {type(model).__name__}; expected a keras.Model.")
    for side in ("input", "output"):
        got, want = getattr(model, f"{side}_shape"), getattr(reference, f"{side}_shape")
        if tuple(got) != tuple(want):
            raise Wrong(f"{what}: {side} shape {tuple(got)}; expected {tuple(want)}.")
    names = {layer.name for layer in model.layers}
    missing = [layer.name for layer in reference.layers if layer.name not in names]
    if missing:
        raise Wrong(f"{what}: no layer named {', '.join(map(repr, missing))}; name your layers as the task says "
                    f"(found {', '.join(sorted(names))}).")
    if model.count_params() != reference.count_params():
        raise Wrong(f"{what}: {model.count_params():,} parameters; expected {reference.count_params():,} "
                    f"(print model.summary() and compare layer by layer).")


def gap_instead_of_flatten(model, *, dropout: float, dense: int, seed: int, name: str):
    """A lesson CNN whose head is flatten -> dropout -> features -> probs, with GlobalAveragePooling2D ('gap') in
    place of its Flatten: the lesson's own layers up to there, a new head after (the reference solution of the
    "pool the maps instead of flattening them" exercises)."""
    import keras

    x = keras.layers.GlobalAveragePooling2D(name="gap")(model.get_layer("flatten").input)
    x = keras.layers.Dropout(dropout, seed=seed, name="dropout")(x)
    x = keras.layers.Dense(dense, activation="relu", name="features")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="probs")(x)
    return keras.Model(model.inputs, outputs, name=name)
