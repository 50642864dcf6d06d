"""Run records: every experiment leaves a folder and a line in an append-only index.

A run folder holds ``model.keras`` (the inference model; more exports as ``NAME.keras``),
``config.json``, ``metrics.json`` (metrics, bars, passed, wall time, versions),
``history.csv``, PNG pictures, and TensorBoard logs under ``tensorboard/``. It is written as
``.NAME.partial`` and renamed when complete, so an interrupted run never leaves a
half-written model, and an existing run folder is never replaced. ``runs/index.jsonl`` gets
one JSON line per completed run.

Several processes may train into one runs folder at once. A partial folder belongs to the
process that holds the ``fcntl.flock`` lock on its ``.owner`` file (which also names its pid);
the lock goes with the process, so a killed run's folder is known to be dead without guessing
from pids. Names are claimed under a lock on ``RUNS/.lock``: a generated name that is taken
gets a suffix (``-2``, ``-3``...), a partial folder whose owner is alive is never touched.

Resumable lessons (``LessonInfo.resumable``) back up every finished epoch into
``.NAME.partial/backup/`` (``keras.callbacks.BackupAndRestore``). A run killed or interrupted
after such a backup keeps its partial folder, and ``train_lesson(..., resume=NAME)`` continues
it from the last finished epoch; other dead partial folders are removed the next time a run
starts in that folder. ``resumable_runs(root)`` lists the ones waiting.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as _dt
import fcntl
import json
import os
import pathlib
import shutil
import sys
import tempfile
import time
from typing import Any

from dlbootcamp import atomic, envinfo
from dlbootcamp.errors import UserError
from dlbootcamp.lesson import check_baselines

INDEX = "index.jsonl"
MODEL_FILE = "model.keras"
OWNER = ".owner"  # in a partial folder: flock-ed by the training process, holds its pid
BACKUP = "backup"  # in a partial folder: BackupAndRestore's files, one folder per fit
ROOT_LOCK = ".lock"  # in the runs folder: held while a name is claimed or a leftover removed


def partial_dir(root: pathlib.Path, name: str) -> pathlib.Path:
    return pathlib.Path(root) / f".{name}.partial"


@contextlib.contextmanager
def _locked(path: pathlib.Path):
    """Hold an exclusive flock on ``path`` (created if missing) for the block."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _owner_alive(folder: pathlib.Path) -> int | None:
    """The pid of the live process that owns partial ``folder``, or None when it has none.

    A folder without an ``.owner`` file counts as owned: it was made by a version that did not
    write one, or it is about to get one; it is never removed on a guess.
    """
    owner = folder / OWNER
    try:
        fd = os.open(owner, os.O_RDONLY)
    except FileNotFoundError:
        return -1
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            return int(os.read(fd, 32).decode().strip() or -1)
        except ValueError:
            return -1
    finally:
        os.close(fd)
    return None


def backed_up_epochs(folder: pathlib.Path) -> int:
    """Epochs finished and backed up in partial ``folder`` (0 when there is no backup)."""
    epochs = 0
    for meta in sorted(pathlib.Path(folder, BACKUP).glob("*/training_metadata.json")):
        try:
            epochs = max(epochs, int(json.loads(meta.read_text())["epoch"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return epochs


class Run:
    """What ``train(cfg, run)`` writes through. Files land in a partial folder until ``finish``.

    ``unique=True`` (a generated name) adds a suffix when the name is taken; an explicit name
    that is taken is refused. ``resume=True`` adopts the dead partial folder ``.NAME.partial``
    and its backup instead of starting a new one.
    """

    def __init__(self, root: pathlib.Path, name: str, *, verbose: bool = True, unique: bool = False,
                 resume: bool = False, backup: bool = False):
        self.root = pathlib.Path(root)
        self.name = name
        self.unique = unique
        self.resume = resume
        self.verbose = verbose
        self.figures: list[str] = []
        self.backup_dir: pathlib.Path | None = None  # set for resumable lessons (multiworker: see distributed_fit)
        self._backup = backup
        self.resumed_from_epoch: int | None = None  # set when resuming: epochs already finished
        self.strategy = None  # the tf.distribute strategy, when training is distributed
        self._fits = 0
        self._scalar_writer = None  # tf.summary writer of scalars(), made on first use
        self._owner_fd: int | None = None
        self.kept = False  # True when an interrupted run's backup was kept for --resume
        if not unique and not resume and self.final_dir.exists():
            raise UserError(f"Run folder {self.final_dir} already exists and is never overwritten; "
                            f"choose another --name or --out.")

    @property
    def final_dir(self) -> pathlib.Path:
        return self.root / self.name

    @property
    def dir(self) -> pathlib.Path:
        return partial_dir(self.root, self.name)

    def __enter__(self) -> "Run":
        self.root.mkdir(parents=True, exist_ok=True)
        with _locked(self.root / ROOT_LOCK):
            self._remove_dead_leftovers()
            if self.resume:
                self._adopt()
            else:
                self._claim()
        if self._backup and self.backup_dir is None:
            self.backup_dir = self.dir / BACKUP
        return self

    def _claim(self) -> None:
        base = self.name
        for n in range(1, 1000):
            self.name = base if n == 1 else f"{base}-{n}"
            if not self.final_dir.exists() and not self.dir.exists():
                break
            if self.unique:
                continue
            if self.final_dir.exists():
                raise UserError(f"Run folder {self.final_dir} already exists and is never overwritten; "
                                f"choose another --name or --out.")
            pid = _owner_alive(self.dir)
            if pid is not None:
                raise UserError(f"A run named {base!r} is training now in {self.dir}"
                                f"{f' (pid {pid})' if pid > 0 else ''}; choose another --name.")
            raise UserError(f"{self.dir} is a killed run that can be resumed with `dlbootcamp train LESSON --resume "
                            f"{base}`; delete that folder to start {base!r} afresh, or choose another --name.")
        else:  # pragma: no cover - a thousand runs in one second
            raise UserError(f"Could not find a free run name after {base}-999 in {self.root}; choose a --name.")
        self.dir.mkdir()
        self._own()

    def _adopt(self) -> None:
        if self.final_dir.exists():
            raise UserError(f"Run {self.name!r} finished ({self.final_dir}); there is nothing to resume. Start a new "
                            f"run without --resume.")
        if not self.dir.is_dir():
            raise UserError(f"No killed run named {self.name!r} in {self.root} (no {self.dir.name}); expected the name "
                            f"of a run that was interrupted (`dlbootcamp runs --out {self.root}` lists them).")
        pid = _owner_alive(self.dir)
        if pid is not None:
            raise UserError(f"Run {self.name!r} is still training{f' (pid {pid})' if pid > 0 else ''}; wait for it or "
                            f"stop it before resuming.")
        self.resumed_from_epoch = backed_up_epochs(self.dir)
        self._own()

    def _own(self) -> None:
        fd = os.open(self.dir / OWNER, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: we hold the root lock and checked it
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._owner_fd = fd

    def _remove_dead_leftovers(self) -> None:
        """Partial folders of killed runs that have nothing to resume (called under the root lock)."""
        for folder in self.root.glob(".*.partial"):
            if folder.is_dir() and (folder / OWNER).exists() and _owner_alive(folder) is None \
                    and not backed_up_epochs(folder):
                shutil.rmtree(folder, ignore_errors=True)

    def _release(self) -> None:
        if self._owner_fd is not None:
            os.close(self._owner_fd)
            self._owner_fd = None

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._close_scalars()
            if self.dir.exists():  # not finished: interrupted or failed
                if self._backup and backed_up_epochs(self.dir):
                    self.kept = True
                    print(f"kept {self.dir} ({backed_up_epochs(self.dir)} epoch(s) backed up): continue it with "
                          f"`dlbootcamp train LESSON --resume {self.name} --out {self.root}`, or delete the folder.",
                          file=sys.stderr, flush=True)
                else:
                    shutil.rmtree(self.dir, ignore_errors=True)
        finally:
            self._release()

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

        cbs = [keras.callbacks.CSVLogger(str(self.path("history.csv")), append=self.resumed_from_epoch is not None),
               keras.callbacks.TensorBoard(log_dir=str(self.path("tensorboard")), histogram_freq=0,
                                           write_graph=False)]
        if progress and self.verbose:
            cbs.append(EpochLine.make(self.log))
        if self.backup_dir is not None:  # resume after a kill (resumable lessons)
            self._fits += 1
            cbs.append(keras.callbacks.BackupAndRestore(str(self.backup_dir / f"fit{self._fits}")))
        return cbs

    def scalars(self, step: int, **values: float) -> None:
        """Log scalars at ``step`` to the run's TensorBoard folder, for lessons with their own training loop
        (what ``callbacks()`` gives a ``model.fit``): ``run.scalars(step, loss=0.3, epsilon=0.5)``."""
        import tensorflow as tf

        if self._scalar_writer is None:
            self._scalar_writer = tf.summary.create_file_writer(str(self.path("tensorboard") / "train"))
        with self._scalar_writer.as_default(step=int(step)):
            for name, value in values.items():
                tf.summary.scalar(name, float(value))

    def _close_scalars(self) -> None:
        if self._scalar_writer is not None:
            self._scalar_writer.close()
            self._scalar_writer = None

    # --- used by the driver -------------------------------------------------------------------
    def finish(self, record: dict[str, Any], exports: dict[str, Any], history: dict[str, list[float]]) -> pathlib.Path:
        for export_name, model in exports.items():
            filename = MODEL_FILE if export_name == "model" else f"{export_name}.keras"
            model.save(self.path(filename))
        logged = self.path("history.csv")  # what Keras' CSVLogger wrote: the last fit only, if there were several
        fresh = self.resumed_from_epoch is None
        if history and (not logged.exists() or (fresh and set(history) - set(_read_history(logged)))):
            _write_history(logged, history)  # every model's curves, as the lesson returned them
        if not fresh and logged.exists():
            history = _read_history(logged) or history  # every epoch, not only the resumed ones
        if history and "learning_curves.png" not in self.figures:
            from dlbootcamp import plots

            self.save_figure(plots.learning_curves(history, title=record["lesson"]), "learning_curves")
        self._close_scalars()
        record = {**record, "figures": sorted(self.figures)}
        (self.path("metrics.json")).write_text(json.dumps(record, indent=2, default=str) + "\n")
        shutil.rmtree(self.path(BACKUP), ignore_errors=True)
        os.rename(self.dir, self.final_dir)  # fails rather than replace a non-empty folder
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.final_dir / OWNER)
        self._release()
        atomic.append_line(self.root / INDEX, json.dumps(_index_line(record, self.final_dir)))
        return self.final_dir


def _write_history(path: pathlib.Path, history: dict[str, list[float]]) -> None:
    keys = list(history)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", *keys])
        for i in range(max(len(v) for v in history.values())):
            w.writerow([i, *(history[k][i] if i < len(history[k]) else "" for k in keys)])


def _read_history(path: pathlib.Path) -> dict[str, list[float]]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    keys = [k for k in (rows[0] if rows else {}) if k != "epoch"]
    return {k: [float(r[k]) for r in rows if r.get(k) not in (None, "")] for k in keys}


def _truncate_history(path: pathlib.Path, epochs: int) -> None:
    """Keep the rows of the first ``epochs`` epochs: a killed run may have logged one more than it backed up."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    kept = [rows[0]] + [r for r in rows[1:] if r and r[0].isdigit() and int(r[0]) < epochs]
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as f:
        csv.writer(f).writerows(kept)
    os.replace(tmp, path)


def _index_line(record: dict[str, Any], run_dir: pathlib.Path) -> dict[str, Any]:
    head = record["bars"][0] if record["bars"] else {}
    return {"run": run_dir.name, "path": str(run_dir), "lesson": record["lesson"], "quick": record["quick"],
            "seed": record["config"].get("seed"), "overrides": record.get("overrides") or {},
            "metric": head.get("metric"), "value": head.get("value"),
            "passed": record["passed"], "wall_time_s": record["wall_time_s"], "finished": record["finished"]}


def config_overrides(module, cfg, *, quick: bool) -> dict[str, Any]:
    """The fields of ``cfg`` that differ from the lesson's preset (``Config.quick()`` or ``Config()``).

    What a learner changed with ``--epochs``, ``--seed`` or ``--set`` (or ``run_lesson(**overrides)``),
    as JSON values; empty when the module has no ``Config`` to compare with.
    """
    config_cls = getattr(module, "Config", None)
    if config_cls is None or not dataclasses.is_dataclass(cfg):
        return {}
    preset = dataclasses.asdict(config_cls.quick() if quick and hasattr(config_cls, "quick") else config_cls())
    effective = json.loads(json.dumps(dataclasses.asdict(cfg), default=str))
    preset = json.loads(json.dumps(preset, default=str))
    return {k: v for k, v in effective.items() if preset.get(k) != v}


def config_lines(config: dict[str, Any], overrides: dict[str, Any], *, quick: bool, width: int = 100) -> list[str]:
    """The effective Config as a few printable lines, overridden fields marked with ``*``."""
    import textwrap

    preset = "Config.quick()" if quick else "Config()"
    fields = " ".join(f"{k}={_short(v)}{'*' if k in overrides else ''}" for k, v in config.items())
    head = (f"  config ({preset}; * = overridden: {', '.join(overrides)}):" if overrides
            else f"  config ({preset}, no overrides):")
    return [head, *textwrap.wrap(fields, width=width, initial_indent="    ", subsequent_indent="    ",
                                 break_on_hyphens=False)]


def _short(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value)) if value else "()"
    return str(value)


def run_name(lesson_id: str, *, quick: bool, now: _dt.datetime | None = None) -> str:
    now = now or _dt.datetime.now()
    return f"{lesson_id}-{now:%Y%m%d-%H%M%S}" + ("-quick" if quick else "")


def train_lesson(module, cfg, *, out: pathlib.Path, quick: bool, name: str | None = None,
                 verbose: bool = True, distribute: str = "none",
                 resume: str | None = None) -> tuple[pathlib.Path, dict[str, Any]]:
    """Train a lesson module with ``cfg`` and record the run. Returns (run folder, record).

    Without ``name`` the run is called ``ID-YYYYmmdd-HHMMSS`` (plus a suffix if that is taken).
    ``resume=NAME`` continues the killed run ``.NAME.partial`` of a resumable lesson from its
    last backed-up epoch (``cfg`` should be the one in its config.json, see
    :func:`killed_run_config`); the record says so under ``resumed``.

    ``distribute`` names a tf.distribute strategy (see :mod:`dlbootcamp.distribute`): the
    lesson's ``train`` - model building, compile and fit - runs under its scope. Under
    ``multiworker`` only the chief keeps the run; other workers write to a temporary folder; the
    lesson's ``model.fit`` runs on :mod:`dlbootcamp.distributed_fit` (Keras 3's own fails there),
    checkpointing every epoch into ``OUT/.NAME.backup/`` so restarted workers resume.
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
    if resume and not info.resumable:
        raise UserError(f"Lesson {info.id!r} cannot --resume: its training is not one model.fit with run.callbacks() "
                        f"(a hand-written loop, or several fits), so there is no epoch backup to continue from; "
                        f"start a new run without --resume.")
    if resume and distribute == "multiworker":
        raise UserError("--resume does not apply to --distribute multiworker: restart the same commands and the "
                        "workers' own backups continue the run.")
    strategy = dist.make(distribute)
    chief = dist.is_chief() if distribute == "multiworker" else True
    final_root = pathlib.Path(out)
    scratch = contextlib.ExitStack()  # a non-chief worker's run goes to a temporary folder, removed at the end
    if not chief:
        out, verbose = pathlib.Path(tempfile.mkdtemp(prefix="dlbootcamp-worker-")), False
        scratch.callback(shutil.rmtree, out, ignore_errors=True)
    unique = not name and not resume
    name = resume or name or run_name(info.id, quick=quick)
    with scratch, Run(out, name, verbose=verbose, unique=unique, resume=bool(resume),
                      backup=info.resumable and distribute != "multiworker") as run:
        name = run.name
        run.strategy = strategy
        checkpoints = final_root / f".{name}.backup"  # multiworker: dlbootcamp.distributed_fit's checkpoints
        replicas = strategy.num_replicas_in_sync if strategy is not None else 1
        atomic_json = dataclasses.asdict(cfg)
        overrides = config_overrides(module, cfg, quick=quick)
        resumed = None
        if run.resumed_from_epoch is not None:
            resumed = {"from_epoch": run.resumed_from_epoch, "at": _dt.datetime.now().isoformat(timespec="seconds")}
            _truncate_history(run.path("history.csv"), run.resumed_from_epoch)
        config_doc = {"lesson": info.id, "quick": quick, "config": atomic_json, "overrides": overrides}
        if resumed:
            config_doc["resumed"] = resumed
        with atomic.writing(run.path("config.json"), overwrite=True) as tmp:
            tmp.write_text(json.dumps(config_doc, indent=2) + "\n")
        run.log(f"[{info.id}] day {info.day}: {info.title}" + ("  (--quick)" if quick else "")
                + (f"  (resumed after epoch {resumed['from_epoch']})" if resumed else ""))
        for line in config_lines(atomic_json, overrides, quick=quick):
            run.log(line)
        if strategy is not None:
            batch = getattr(cfg, "batch_size", None)
            per = f"; global batch {batch} = {replicas} x {batch // replicas}" if batch else ""
            run.log(f"  distribute: {distribute}, {replicas} replica(s){per}")
        t0 = time.perf_counter()
        with _multiworker_fit(strategy if distribute == "multiworker" else None, checkpoints):
            trained = module.train(cfg, run)
        wall = time.perf_counter() - t0
        bars = [{"metric": b.metric, "op": b.op, "threshold": b.threshold,
                 "value": float(trained.metrics[b.metric]),
                 "passed": None if quick else b.passed(trained.metrics)} for b in info.bars]
        record = {
            "lesson": info.id, "day": info.day, "quick": quick, "config": atomic_json, "overrides": overrides,
            "metrics": {k: float(v) for k, v in trained.metrics.items()},
            "baselines": check_baselines(info, trained),
            "bars": bars,
            # Bars are for full runs; a --quick run computes the metric but judges nothing.
            "passed": None if quick else all(b["passed"] for b in bars),
            "wall_time_s": round(wall, 2), "exports": sorted(trained.exports),
            "distribute": {"strategy": distribute, "replicas": replicas, "chief": chief},
            "resumed": resumed,
            "notes": trained.notes, "versions": envinfo.versions(), "machine": envinfo.machine(),
            "finished": _dt.datetime.now().isoformat(timespec="seconds"),
        }
        final = run.finish(record, trained.exports, trained.history)
        record["figures"] = sorted(run.figures)  # as metrics.json has them, learning curves included
    if distribute == "multiworker":  # finished: this worker's checkpoints go; the chief also removes the folder
        task = dist.tf_config()["task"]
        mine = "chief" if chief else f"{task['type']}-{task['index']}"
        for folder in checkpoints.glob(f"fit*/{mine}"):
            shutil.rmtree(folder, ignore_errors=True)
            with contextlib.suppress(OSError):
                folder.parent.rmdir()  # once the other workers' copies are gone too
        with contextlib.suppress(OSError):
            checkpoints.rmdir()
    return final, record


@contextlib.contextmanager
def _multiworker_fit(strategy, checkpoints: pathlib.Path):
    """Under ``--distribute multiworker``, a lesson's ``model.fit`` is :func:`dlbootcamp.distributed_fit.fit`
    (Keras 3's own fails under MultiWorkerMirroredStrategy, keras-team/keras#20585), checkpointing into
    ``checkpoints/fitN/``; elsewhere, nothing changes."""
    if strategy is None:
        yield
        return
    from dlbootcamp.distributed_fit import routing_fit

    with routing_fit(strategy, checkpoints):
        yield


def killed_run_config(root: pathlib.Path, name_or_path: str) -> tuple[str, dict[str, Any]]:
    """(run name, config.json) of the killed run ``NAME`` in ``root`` (or the path of its partial folder).

    Reads files only, so the CLI can check ``--resume`` before TensorFlow is imported.
    """
    given = pathlib.Path(name_or_path)
    if given.name.startswith(".") and given.name.endswith(".partial") and given.is_dir():
        root, name = given.parent, given.name[1:-len(".partial")]
    else:
        name = given.name
    folder = partial_dir(root, name)
    if (pathlib.Path(root) / name).is_dir() and not folder.exists():
        raise UserError(f"Run {name!r} finished ({pathlib.Path(root) / name}); there is nothing to resume. Start a new "
                        f"run without --resume.")
    if not folder.is_dir():
        raise UserError(f"No killed run named {name!r} in {root}/ (no {folder.name}); expected the name of an "
                        f"interrupted run (`dlbootcamp runs --out {root}` lists them) and the same --out.")
    try:
        config = json.loads((folder / "config.json").read_text())
        config["lesson"], config["config"]  # noqa: B018 - both must be there
    except (OSError, ValueError, KeyError, TypeError):
        raise UserError(f"{folder} has no readable config.json; it was killed before it started and cannot be "
                        f"resumed: delete it and start a new run.") from None
    if not backed_up_epochs(folder):
        raise UserError(f"{folder} has no finished epoch backed up, so there is nothing to continue; delete it and "
                        f"start a new run.")
    pid = _owner_alive(folder)
    if pid is not None:
        raise UserError(f"Run {name!r} is still training{f' (pid {pid})' if pid > 0 else ''}; wait for it or stop it "
                        f"before resuming.")
    return name, config


def resumable_runs(root: pathlib.Path) -> list[dict[str, Any]]:
    """Killed runs waiting in ``root``: name, lesson, epochs backed up, and whether a process owns them now."""
    out = []
    for folder in sorted(pathlib.Path(root).glob(".*.partial")):
        epochs = backed_up_epochs(folder) if folder.is_dir() else 0
        if not epochs:
            continue
        try:
            lesson = json.loads((folder / "config.json").read_text()).get("lesson")
        except (OSError, ValueError):
            lesson = None
        out.append({"run": folder.name[1:-len(".partial")], "lesson": lesson, "epochs": epochs,
                    "training": _owner_alive(folder) is not None, "path": str(folder)})
    return out


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


def find_run(root: pathlib.Path, name_or_path: str) -> pathlib.Path:
    """The finished run folder ``name_or_path``: a path to one, or a run's name in ``root``."""
    for folder in (pathlib.Path(name_or_path), pathlib.Path(root) / name_or_path):
        if (folder / "metrics.json").is_file() and (folder / "config.json").is_file():
            return folder
    raise UserError(f"No finished run {name_or_path!r}: expected a run folder, or the name of a run in {root}/ "
                    f"(`dlbootcamp runs --out {root}` lists them).")


def _read_json(path: pathlib.Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} is unreadable ({exc}); the run folder is damaged.") from None


def compare_runs(a: pathlib.Path, b: pathlib.Path) -> dict[str, Any]:
    """What differs between two finished runs, side by side: rows of (name, value in a, value in b).

    ``config``: the preset (quick or full) and every Config field whose values differ; ``metrics``:
    every held-out metric of either run; ``baselines``: each baseline's metrics (``NAME: METRIC``);
    ``overrides``: what each run changed from its preset. Reads files only (no TensorFlow).
    """
    ra, rb = _read_json(pathlib.Path(a) / "metrics.json"), _read_json(pathlib.Path(b) / "metrics.json")

    def union(x: dict, y: dict) -> list[str]:
        return list(x) + [k for k in y if k not in x]

    ca, cb = ra.get("config") or {}, rb.get("config") or {}
    config = [(k, ca.get(k), cb.get(k)) for k in union(ca, cb) if ca.get(k) != cb.get(k)]
    for key in ("quick", "lesson"):
        if ra.get(key) != rb.get(key):
            config.insert(0, (key, ra.get(key), rb.get(key)))
    ma, mb = ra.get("metrics") or {}, rb.get("metrics") or {}
    metrics = [(k, ma.get(k), mb.get(k)) for k in union(ma, mb)]
    metrics.append(("wall_time_s", ra.get("wall_time_s"), rb.get("wall_time_s")))
    ba, bb = ra.get("baselines") or {}, rb.get("baselines") or {}
    baselines = [(f"{name}: {m}", (ba.get(name) or {}).get(m), (bb.get(name) or {}).get(m))
                 for name in union(ba, bb) for m in union(ba.get(name) or {}, bb.get(name) or {})]
    return {"runs": (pathlib.Path(a).name, pathlib.Path(b).name), "config": config, "metrics": metrics,
            "baselines": baselines, "overrides": (ra.get("overrides"), rb.get("overrides"))}
