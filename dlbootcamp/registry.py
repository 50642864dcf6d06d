"""Find lessons without importing them.

Each ``lessons/dayNN_topic.py`` declares ``LESSON = LessonInfo(...)`` with literal values;
the registry reads that declaration from the source with :mod:`ast`, so listing lessons
never imports TensorFlow. ``load(id)`` imports the one module asked for.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import importlib
import importlib.util
import pathlib
import re
from types import ModuleType

from dlbootcamp.errors import UserError
from dlbootcamp.lesson import Bar, LessonInfo

_MODULE_RE = re.compile(r"^day(\d\d)_[a-z0-9_]+\.py$")
_CALLS = {"LessonInfo": LessonInfo, "Bar": Bar}


@dataclasses.dataclass(frozen=True)
class Entry:
    info: LessonInfo
    module: str  # importable name, e.g. dlbootcamp.lessons.day03_training
    path: pathlib.Path


def _lessons_dir() -> pathlib.Path:
    spec = importlib.util.find_spec("dlbootcamp.lessons")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("The lessons package is missing: reinstall dlbootcamp with `pip install .`.")
    return pathlib.Path(next(iter(spec.submodule_search_locations)))


def _literal(node: ast.AST):
    """Evaluate a literal expression that may contain ``Bar(...)``/``LessonInfo(...)``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _CALLS:
        args = [_literal(a) for a in node.args]
        kwargs = {k.arg: _literal(k.value) for k in node.keywords}
        return _CALLS[node.func.id](*args, **kwargs)
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_literal(e) for e in node.elts)
    return ast.literal_eval(node)


def read_info(path: pathlib.Path) -> LessonInfo:
    """Read ``LESSON = LessonInfo(...)`` from a lesson's source without importing it."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "LESSON"
        ):
            try:
                info = _literal(node.value)
            except (ValueError, TypeError) as exc:
                raise ValueError(
                    f"{path.name}: LESSON must be LessonInfo(...) written with literal values only ({exc})."
                ) from exc
            if isinstance(info, LessonInfo):
                return info
    raise ValueError(f"{path.name}: no module-level `LESSON = LessonInfo(...)` declaration found.")


def discover(directory: pathlib.Path | None = None) -> dict[str, Entry]:
    """All lessons, by id, in day order."""
    directory = directory or _lessons_dir()
    entries = []
    for path in sorted(directory.iterdir()):
        if _MODULE_RE.match(path.name):
            info = read_info(path)
            entries.append(Entry(info, f"dlbootcamp.lessons.{path.stem}", path))
    entries.sort(key=lambda e: (e.info.day, e.info.id))
    found: dict[str, Entry] = {}
    for e in entries:
        if e.info.id in found:
            raise ValueError(f"Lesson id {e.info.id!r} is declared twice ({found[e.info.id].path.name}, {e.path.name}).")
        found[e.info.id] = e
    return found


def entry(lesson_id: str) -> Entry:
    lessons = discover()
    if lesson_id not in lessons:
        close = difflib.get_close_matches(lesson_id, list(lessons), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UserError(
            f"Unknown lesson {lesson_id!r}.{hint} Run `dlbootcamp lessons` to list the "
            f"{len(lessons)} lessons: {', '.join(lessons)}."
        )
    return lessons[lesson_id]


def load(lesson_id: str) -> ModuleType:
    """Import a lesson module (this imports TensorFlow and Keras)."""
    return importlib.import_module(entry(lesson_id).module)


@dataclasses.dataclass(frozen=True)
class ConfigField:
    """One field of a lesson's Config as written in its source: ``name: annotation = default``."""

    name: str
    annotation: str  # e.g. "int", "tuple[int, ...]"
    default: object  # the literal default, or None when it is not a literal


def config_fields(lesson_id: str) -> dict[str, ConfigField]:
    """The fields of lesson ``lesson_id``'s ``Config``, read from its source without importing it.

    What the CLI checks ``--epochs``, ``--seed`` and ``--set`` against before TensorFlow is
    imported; an empty dict when the module declares no ``class Config`` at top level.
    """
    path = entry(lesson_id).path
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Config":
            fields = {}
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    try:
                        default = ast.literal_eval(item.value) if item.value is not None else None
                    except ValueError:
                        default = None
                    fields[item.target.id] = ConfigField(item.target.id, ast.unparse(item.annotation), default)
            return fields
    return {}
