import dataclasses
import json
import os
import types

import numpy as np
import pytest

from dlbootcamp import atomic, records
from dlbootcamp.errors import UserError
from dlbootcamp.lesson import Bar, LessonInfo, Trained


class TinyModel:
    """Stands in for a keras.Model: records only need .save()."""

    def save(self, path):
        open(path, "wb").write(b"weights")


@dataclasses.dataclass(frozen=True)
class Config:
    seed: int = 0
    epochs: int = 1


def fake_lesson(train):
    info = LessonInfo(id="fake", day=99, title="Fake", seeds=(), topics=(), summary="s",
                      bars=(Bar("acc", ">=", 0.5),))
    return types.SimpleNamespace(LESSON=info, train=train)


def good_train(cfg, run):
    run.log("training")
    return Trained(exports={"model": TinyModel()}, metrics={"acc": 0.75},
                   history={"loss": [1.0, 0.5], "val_loss": [1.1, 0.7]})


def test_a_run_writes_its_folder_and_one_index_line(tmp_path):
    folder, record = records.train_lesson(fake_lesson(good_train), Config(), out=tmp_path, quick=False,
                                          name="r1", verbose=False)
    assert folder == tmp_path / "r1"
    for name in ("model.keras", "config.json", "metrics.json", "history.csv", "learning_curves.png"):
        assert (folder / name).exists(), name
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["passed"] is True and metrics["bars"][0]["value"] == 0.75
    assert {"python", "tensorflow", "keras"} <= set(metrics["versions"])
    assert json.loads((folder / "config.json").read_text())["config"] == {"seed": 0, "epochs": 1}
    [line] = records.list_runs(tmp_path)
    assert line["run"] == "r1" and line["value"] == 0.75 and line["passed"] is True


def test_history_csv_keeps_every_fit_not_only_the_last(tmp_path):
    def two_fits(cfg, run):  # as Keras' CSVLogger leaves it after a second fit: the last model's columns only
        run.path("history.csv").write_text("epoch,loss\n0,0.9\n1,0.4\n")
        return Trained(exports={"model": TinyModel()}, metrics={"acc": 0.75},
                       history={"baseline_loss": [1.2, 1.0, 0.8], "loss": [0.9, 0.4]})

    folder, _ = records.train_lesson(fake_lesson(two_fits), Config(), out=tmp_path, quick=False, name="two",
                                     verbose=False)
    kept = records._read_history(folder / "history.csv")
    assert kept == {"baseline_loss": [1.2, 1.0, 0.8], "loss": [0.9, 0.4]}

    def one_fit(cfg, run):  # the logger's file already has every column: it is left as Keras wrote it
        run.path("history.csv").write_text("epoch,loss\n0,0.90000001\n")
        return Trained(exports={"model": TinyModel()}, metrics={"acc": 0.75}, history={"loss": [0.9]})

    folder, _ = records.train_lesson(fake_lesson(one_fit), Config(), out=tmp_path, quick=False, name="one",
                                     verbose=False)
    assert (folder / "history.csv").read_text() == "epoch,loss\n0,0.90000001\n"


def test_quick_runs_compute_the_metric_but_judge_nothing(tmp_path):
    _, record = records.train_lesson(fake_lesson(good_train), Config(), out=tmp_path, quick=True,
                                     name="q", verbose=False)
    assert record["passed"] is None and record["bars"][0]["passed"] is None
    assert record["bars"][0]["value"] == 0.75


def test_failed_bar_is_recorded_as_failed(tmp_path):
    def weak(cfg, run):
        return Trained(exports={"model": TinyModel()}, metrics={"acc": 0.1})

    _, record = records.train_lesson(fake_lesson(weak), Config(), out=tmp_path, quick=False, name="w",
                                     verbose=False)
    assert record["passed"] is False


def test_an_existing_run_folder_is_never_overwritten(tmp_path):
    (tmp_path / "r1").mkdir()
    (tmp_path / "r1" / "model.keras").write_bytes(b"precious")
    with pytest.raises(UserError, match="already exists and is never overwritten"):
        records.train_lesson(fake_lesson(good_train), Config(), out=tmp_path, quick=False, name="r1",
                             verbose=False)
    assert (tmp_path / "r1" / "model.keras").read_bytes() == b"precious"


def test_an_interrupted_run_leaves_no_model_and_no_index_line(tmp_path):
    def interrupted(cfg, run):
        TinyModel().save(run.path("model.keras"))  # half-way through writing outputs
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        records.train_lesson(fake_lesson(interrupted), Config(), out=tmp_path, quick=False, name="r2",
                             verbose=False)
    assert not (tmp_path / "r2").exists()
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob(".*partial"))
    assert records.list_runs(tmp_path) == []


def test_index_is_append_only(tmp_path):
    lesson = fake_lesson(good_train)
    records.train_lesson(lesson, Config(), out=tmp_path, quick=True, name="a", verbose=False)
    first = (tmp_path / "index.jsonl").read_text()
    records.train_lesson(lesson, Config(), out=tmp_path, quick=True, name="b", verbose=False)
    assert (tmp_path / "index.jsonl").read_text().startswith(first)
    assert [r["run"] for r in records.list_runs(tmp_path)] == ["a", "b"]


def test_read_run_rejects_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(UserError, match=r"is not a run folder \(missing config.json, metrics.json\)"):
        records.read_run(tmp_path)
    with pytest.raises(UserError, match="is not a directory"):
        records.read_run(tmp_path / "nope")


def test_atomic_write_refuses_to_overwrite_and_cleans_up(tmp_path):
    target = tmp_path / "out.json"
    atomic.write_json(target, {"a": np.float32(1.5)})
    assert json.loads(target.read_text()) == {"a": 1.5}
    with pytest.raises(UserError, match=r"already exists and would be overwritten.*pass --force"):
        atomic.write_json(target, {"a": 2})
    with pytest.raises(RuntimeError):
        with atomic.writing(tmp_path / "x.bin") as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]
    atomic.write_json(target, {"a": 3}, overwrite=True)
    assert json.loads(target.read_text()) == {"a": 3}


def test_a_generated_name_that_is_taken_gets_a_suffix_and_the_live_run_is_untouched(tmp_path):
    with records.Run(tmp_path, "same", unique=True) as first:
        (first.dir / "weights").write_bytes(b"training")
        with records.Run(tmp_path, "same", unique=True) as second:
            assert second.name == "same-2" and second.dir.exists()
        assert (first.dir / "weights").read_bytes() == b"training"  # never taken for a leftover
        assert first.dir.name == ".same.partial"


def test_an_explicit_name_owned_by_a_live_run_is_refused_and_left_alone(tmp_path):
    with records.Run(tmp_path, "mine") as live:
        with pytest.raises(UserError, match=rf"A run named 'mine' is training now in .* \(pid {os.getpid()}\)"):
            records.Run(tmp_path, "mine").__enter__()
        assert live.dir.exists()


def test_dead_leftovers_are_removed_unless_they_can_be_resumed(tmp_path):
    dead = records.partial_dir(tmp_path, "dead")
    dead.mkdir()
    (dead / records.OWNER).write_text("999999\n")  # nobody holds its lock: its process is gone
    killed = records.partial_dir(tmp_path, "killed")
    (killed / records.BACKUP / "fit1").mkdir(parents=True)
    (killed / records.OWNER).write_text("999999\n")
    (killed / records.BACKUP / "fit1" / "training_metadata.json").write_text('{"epoch": 3, "batch": 0}')
    with records.Run(tmp_path, "new", unique=True):
        pass
    assert not dead.exists() and killed.exists()
    assert records.resumable_runs(tmp_path) == [{"run": "killed", "lesson": None, "epochs": 3, "training": False,
                                                 "path": str(killed)}]
    with pytest.raises(UserError, match=r"is a killed run that can be resumed with .*--resume killed"):
        records.Run(tmp_path, "killed").__enter__()
    with records.Run(tmp_path, "killed", resume=True) as run:
        assert run.resumed_from_epoch == 3


def test_an_interrupted_resumable_run_keeps_its_backup_and_says_how_to_resume(tmp_path, capsys):
    with pytest.raises(KeyboardInterrupt):
        with records.Run(tmp_path, "r", backup=True) as run:
            (run.backup_dir / "fit1").mkdir(parents=True)
            (run.backup_dir / "fit1" / "training_metadata.json").write_text('{"epoch": 2, "batch": 0}')
            raise KeyboardInterrupt
    assert run.kept and records.backed_up_epochs(tmp_path / ".r.partial") == 2
    assert "--resume r" in capsys.readouterr().err
