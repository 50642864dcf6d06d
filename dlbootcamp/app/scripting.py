"""Train a lesson from Python: what ``dlbootcamp train`` does, for learners who script.

    >>> import dlbootcamp
    >>> result = dlbootcamp.run_lesson("training", quick=True, hidden=32)
    >>> result.folder, result.metrics["test_accuracy"]

The run is recorded exactly as the CLI records it (a folder under ``out`` and a line in
``out/index.jsonl``), the overrides are checked against the lesson's Config and marked as such,
and the lesson's data is checked before TensorFlow is imported. Errors are
:class:`dlbootcamp.errors.UserError` with the one-line message the CLI prints.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

from dlbootcamp.errors import UserError


@dataclasses.dataclass(frozen=True)
class LessonRun:
    """What ``run_lesson`` returns: the run folder, its held-out metrics and the whole record (metrics.json)."""

    folder: pathlib.Path
    metrics: dict[str, float]
    record: dict[str, Any]

    @property
    def passed(self) -> bool | None:
        """The quality bar's verdict; None after a quick run, which judges nothing."""
        return self.record["passed"]

    @property
    def baselines(self) -> dict[str, dict[str, float]]:
        return self.record.get("baselines") or {}


def run_lesson(lesson_id: str, quick: bool = True, *, out: str | pathlib.Path = "runs", name: str | None = None,
               verbose: bool = True, **overrides: Any) -> LessonRun:
    """Train lesson ``lesson_id`` (its ``Config.quick()`` preset by default) with Config ``overrides``.

    ``overrides`` are Config fields, e.g. ``epochs=3, seed=1, filters=(32,)``; a string is read as
    ``--set`` reads it (``hidden="128"``). ``out`` is the runs folder, ``name`` the run's folder name
    (default ``ID-YYYYmmdd-HHMMSS``, never overwritten). ``verbose`` prints the progress and the summary.
    """
    from dlbootcamp import registry
    from dlbootcamp.app.commands import train as train_command

    out = pathlib.Path(out)
    info = registry.entry(lesson_id).info
    train_command.check_out(out)
    train_command.check_data(info)
    fields = registry.config_fields(lesson_id)
    unknown = [k for k in overrides if k not in fields]
    if unknown:
        raise UserError(f"Lesson {lesson_id!r} has no Config field {', '.join(map(repr, unknown))}; expected "
                        f"keyword arguments among {', '.join(fields)} (and out, name, verbose).")
    if name is not None and (not name or "/" in name or name.startswith(".")):
        raise UserError(f"Invalid name {name!r}: expected a folder name without '/' that does not start with '.'.")

    from dlbootcamp import records

    module = registry.load(lesson_id)
    cfg = module.Config.quick() if quick else module.Config()
    cfg = dataclasses.replace(cfg, **{k: _value(lesson_id, cfg, k, v) for k, v in overrides.items()})
    folder, record = records.train_lesson(module, cfg, out=out, quick=quick, name=name, verbose=verbose)
    if verbose:
        train_command.print_summary(folder, record, out=out)
    return LessonRun(folder, dict(record["metrics"]), record)


def _value(lesson_id: str, cfg, key: str, value: Any):
    """``value`` for Config field ``key``, text converted as ``--set`` converts it; UserError when it does not fit."""
    from dlbootcamp.app.commands.train import parse_value

    current = getattr(cfg, key)
    if isinstance(value, str) and not isinstance(current, str):
        return parse_value(current, value, flag=f"{key}={value!r}", field=key)
    if isinstance(current, tuple) and isinstance(value, (list, tuple)):
        return tuple(value)
    if isinstance(current, bool) or isinstance(value, bool):
        ok = isinstance(current, bool) and isinstance(value, bool)
    elif isinstance(current, float):
        ok = isinstance(value, (int, float))
    else:
        ok = isinstance(value, type(current))
    if not ok:
        raise UserError(f"Invalid {key}={value!r} for lesson {lesson_id!r}: {key} takes "
                        f"{type(current).__name__} values (preset {current!r}).")
    return float(value) if isinstance(current, float) else value
