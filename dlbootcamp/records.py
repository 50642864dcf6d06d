"""Run records: every experiment leaves a folder and a line in an append-only index.

A run folder holds ``model.keras`` (the inference model; more exports as ``NAME.keras``),
``config.json``, ``metrics.json`` (metrics, bars, passed, wall time, versions),
``history.csv``, PNG pictures, and TensorBoard logs under ``tensorboard/``. It is written as
``.NAME.partial`` and renamed when complete, so an interrupted run never leaves a
half-written model, and an existing run folder is never replaced. ``runs/index.jsonl`` gets
one JSON line per completed run.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as _dt
import json
import os
import pathlib
import shutil
import tempfile
import time
from typing import Any

from dlbootcamp import atomic, envinfo
from dlbootcamp.errors import UserError
from dlbootcamp.lesson import check_baselines

INDEX = "index.jsonl"
MODEL_FILE = "model.keras"


class Run:
    """What ``train(cfg, run)`` writes through. Files land in a partial folder until ``finish``."""

    def __init__(self, root: pathlib.Path, name: str, *, verbose: bool = True):
        self.root = pathlib.Path(root)
        self.name = name
        self.final_dir = self.root / name
        if self.final_dir.exists():
            raise UserError(f"Run folder {self.final_dir} already exists and is never overwritten; "
                            f"choose another --name or --out.")
        self.dir = self.root / f".{name}.partial"
        self.verbose = verbose
        self.figures: list[str] = []
        self.backup_dir: pathlib.Path | None = None  # set under multi-worker training
        self.strategy = None  # the tf.distribute strategy, when training is distributed
        self._fits = 0

    def __enter__(self) -> "Run":
        self.root.mkdir(parents=True, exist_ok=True)
        if self.dir.exists():  # left by a run that was killed: it never became a run
            shutil.rmtree(self.dir)
        self.dir.mkdir()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.dir.exists():  # not finished: interrupted or failed
            shutil.rmtree(self.dir, ignore_errors=True)

    # --- used by lessons ---------------------------------------------------------------------
    def log(self, message: str) -> None:
        if self.verbose:
            print(message, flush=True)

    def path(self, name: str) -> pathlib.Path:
        return self.dir / name

    def save_figure(self, fig, name: str) -> pathlib.Path:
        """Save a Matplotlib figure as PNG in the run (``name`` without extension)."""
        from dlbootcamp import plots

        path = plots.save(fig, self.path(f"{name}.png"))
        self.figures.append(path.name)
        return path

    def scope(self):
        """Build and compile models inside ``with run.scope():`` so ``--distribute`` can place them."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    def callbacks(self, *, progress: bool = True) -> list:
        """Keras callbacks every ``fit`` in a lesson should get: CSV history, TensorBoard, progress."""
        import keras

        from dlbootcamp.training import EpochLine

        cbs = [keras.callbacks.CSVLogger(str(self.path("history.csv"))),
               keras.callbacks.TensorBoard(log_dir=str(self.path("tensorboard")), histogram_freq=0,
                                           write_graph=False)]
        if progress and self.verbose:
            cbs.append(EpochLine.make(self.log))
        if self.backup_dir is not None:  # resume after a worker restart (multi-worker runs)
            self._fits += 1
            cbs.append(keras.callbacks.BackupAndRestore(str(self.backup_dir / f"fit{self._fits}")))
        return cbs

    # --- used by the driver -------------------------------------------------------------------
    def finish(self, record: dict[str, Any], exports: dict[str, Any], history: dict[str, list[float]]) -> pathlib.Path:
        for export_name, model in exports.items():
            filename = MODEL_FILE if export_name == "model" else f"{export_name}.keras"
            model.save(self.path(filename))
        if history and not self.path("history.csv").exists():
            _write_history(self.path("history.csv"), history)
        if history and "learning_curves.png" not in self.figures:
            from dlbootcamp import plots

            self.save_figure(plots.learning_curves(history, title=record["lesson"]), "learning_curves")
        record = {**record, "figures": sorted(self.figures)}
        (self.path("metrics.json")).write_text(json.dumps(record, indent=2, default=str) + "\n")
        os.rename(self.dir, self.final_dir)  # fails rather than replace a non-empty folder
        atomic.append_line(self.root / INDEX, json.dumps(_index_line(record, self.final_dir)))
        return self.final_dir


def _write_history(path: pathlib.Path, history: dict[str, list[float]]) -> None:
    keys = list(history)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", *keys])
        for i in range(max(len(v) for v in history.values())):
            w.writerow([i, *(history[k][i] if i < len(history[k]) else "" for k in keys)])


def _index_line(record: dict[str, Any], run_dir: pathlib.Path) -> dict[str, Any]:
    head = record["bars"][0] if record["bars"] else {}
    return {"run": run_dir.name, "path": str(run_dir), "lesson": record["lesson"], "quick": record["quick"],
            "seed": record["config"].get("seed"), "metric": head.get("metric"), "value": head.get("value"),
            "passed": record["passed"], "wall_time_s": record["wall_time_s"], "finished": record["finished"]}


def run_name(lesson_id: str, *, quick: bool, now: _dt.datetime | None = None) -> str:
    now = now or _dt.datetime.now()
    return f"{lesson_id}-{now:%Y%m%d-%H%M%S}" + ("-quick" if quick else "")


def train_lesson(module, cfg, *, out: pathlib.Path, quick: bool, name: str | None = None,
                 verbose: bool = True, distribute: str = "none") -> tuple[pathlib.Path, dict[str, Any]]:
    """Train a lesson module with ``cfg`` and record the run. Returns (run folder, record).

    ``distribute`` names a tf.distribute strategy (see :mod:`dlbootcamp.distribute`): the
    lesson's ``train`` - model building, compile and fit - runs under its scope. Under
    ``multiworker`` only the chief keeps the run; other workers write to a temporary folder.
    """
    from dlbootcamp import distribute as dist

    info = module.LESSON
    if distribute != "none" and not info.distribute:
        raise UserError(f"Lesson {info.id!r} does not support --distribute (its training loop does not run under "
                        f"a tf.distribute strategy); train it without --distribute. `dlbootcamp lessons -v` and the "
                        f"README list the lessons that do.")
    if distribute == "multiworker" and not name:
        raise UserError("--distribute multiworker needs --name NAME, the same on every worker, so that a restarted "
                        "worker finds its backup and the chief's run folder is known.")
    strategy = dist.make(distribute)
    chief = dist.is_chief() if distribute == "multiworker" else True
    final_root = pathlib.Path(out)
    if not chief:
        out, verbose = pathlib.Path(tempfile.mkdtemp(prefix="dlbootcamp-worker-")), False
    name = name or run_name(info.id, quick=quick)
    with Run(out, name, verbose=verbose) as run:
        run.strategy = strategy
        if distribute == "multiworker":
            task = dist.tf_config()["task"]  # one backup per worker: they never write the same file
            run.backup_dir = final_root / f".{name}.backup" / f"{task['type']}-{task['index']}"
        replicas = strategy.num_replicas_in_sync if strategy is not None else 1
        atomic_json = dataclasses.asdict(cfg)
        run.path("config.json").write_text(json.dumps({"lesson": info.id, "quick": quick, "config": atomic_json},
                                                      indent=2) + "\n")
        run.log(f"[{info.id}] day {info.day}: {info.title}" + ("  (--quick)" if quick else ""))
        if strategy is not None:
            batch = getattr(cfg, "batch_size", None)
            per = f"; global batch {batch} = {replicas} x {batch // replicas}" if batch else ""
            run.log(f"  distribute: {distribute}, {replicas} replica(s){per}")
        t0 = time.perf_counter()
        trained = module.train(cfg, run)
        wall = time.perf_counter() - t0
        bars = [{"metric": b.metric, "op": b.op, "threshold": b.threshold,
                 "value": float(trained.metrics[b.metric]),
                 "passed": None if quick else b.passed(trained.metrics)} for b in info.bars]
        record = {
            "lesson": info.id, "day": info.day, "quick": quick, "config": atomic_json,
            "metrics": {k: float(v) for k, v in trained.metrics.items()},
            "baselines": check_baselines(info, trained),
            "bars": bars,
            # Bars are for full runs; a --quick run computes the metric but judges nothing.
            "passed": None if quick else all(b["passed"] for b in bars),
            "wall_time_s": round(wall, 2), "exports": sorted(trained.exports),
            "distribute": {"strategy": distribute, "replicas": replicas, "chief": chief},
            "notes": trained.notes, "versions": envinfo.versions(), "machine": envinfo.machine(),
            "finished": _dt.datetime.now().isoformat(timespec="seconds"),
        }
        final = run.finish(record, trained.exports, trained.history)
    if not chief:
        shutil.rmtree(out, ignore_errors=True)
    return final, record


def list_runs(root: pathlib.Path) -> list[dict[str, Any]]:
    """Completed runs from the index, oldest first; lines that do not parse are skipped."""
    index = pathlib.Path(root) / INDEX
    if not index.exists():
        return []
    out = []
    for line in index.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def read_run(run_dir: pathlib.Path) -> dict[str, Any]:
    """A run folder's config and metrics; a clear error when the folder is not a run."""
    run_dir = pathlib.Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir} is not a directory; expected a run folder written by `dlbootcamp train`.")
    missing = [f for f in ("config.json", "metrics.json") if not (run_dir / f).exists()]
    if missing:
        raise UserError(f"{run_dir} is not a run folder (missing {', '.join(missing)}); expected a folder "
                        f"written by `dlbootcamp train`.")
    try:
        config = json.loads((run_dir / "config.json").read_text())
        metrics = json.loads((run_dir / "metrics.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{run_dir}: config.json or metrics.json is unreadable ({exc}); the run folder is damaged.")
    models = [MODEL_FILE if n == "model" else f"{n}.keras" for n in metrics.get("exports") or ["model"]]
    absent = [m for m in models if not (run_dir / m).exists()]
    if absent:
        raise UserError(f"{run_dir} is not a complete run folder (missing {', '.join(absent)}); expected a folder "
                        f"written by `dlbootcamp train`.")
    return {"config": config, "metrics": metrics}
