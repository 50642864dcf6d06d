"""Every experiment comparable: overrides echoed, recorded and shown; two runs side by side.

A fake lesson (no TensorFlow) is recorded through ``records.train_lesson``, as the CLI does."""

import dataclasses
import json
import types

import pytest

from dlbootcamp import records
from dlbootcamp.errors import UserError
from dlbootcamp.lesson import Bar, LessonInfo, Trained


class TinyModel:
    def save(self, path):
        open(path, "wb").write(b"weights")


@dataclasses.dataclass(frozen=True)
class Config:
    filters: tuple[int, ...] = (32, 64)  # a tuple field, as cnn-features has
    epochs: int = 8
    seed: int = 0

    @classmethod
    def quick(cls) -> "Config":
        return cls(epochs=1)


def fake_lesson(accuracy=0.75, baseline=0.6):
    info = LessonInfo(id="fake", day=99, title="Fake", seeds=(), topics=(), summary="s",
                      bars=(Bar("acc", ">=", 0.5),), baselines=("majority",))

    def train(cfg, run):
        return Trained(exports={"model": TinyModel()}, metrics={"acc": accuracy, "loss": 1 - accuracy},
                       history={"loss": [0.4]}, baselines={"majority": {"acc": baseline}})

    return types.SimpleNamespace(LESSON=info, Config=Config, train=train)


def test_overrides_are_echoed_at_the_start_and_recorded(tmp_path, capsys):
    cfg = dataclasses.replace(Config.quick(), filters=(32,), seed=3)
    folder, record = records.train_lesson(fake_lesson(), cfg, out=tmp_path, quick=True, name="r", verbose=True)
    out = capsys.readouterr().out
    assert "config (Config.quick(); * = overridden: filters, seed):" in out
    assert "filters=32* epochs=1 seed=3*" in out  # epochs=1 is the quick preset, not an override
    assert out.index("filters=32*") < out.index("\n", out.index("[fake]") + 1) + 200  # right after the title line
    expected = {"filters": [32], "seed": 3}
    assert json.loads((folder / "config.json").read_text())["overrides"] == expected
    assert json.loads((folder / "metrics.json").read_text())["overrides"] == expected
    assert record["overrides"] == expected
    [line] = records.list_runs(tmp_path)
    assert line["overrides"] == expected


def test_a_run_without_overrides_says_so(tmp_path, capsys):
    records.train_lesson(fake_lesson(), Config(), out=tmp_path, quick=False, name="r", verbose=True)
    assert "config (Config(), no overrides):" in capsys.readouterr().out
    assert records.list_runs(tmp_path)[0]["overrides"] == {}


def test_runs_shows_the_overrides_as_a_column(cli, tmp_path):
    records.train_lesson(fake_lesson(), Config(), out=tmp_path, quick=False, name="plain", verbose=False)
    records.train_lesson(fake_lesson(), dataclasses.replace(Config(), filters=(32,), epochs=3), out=tmp_path,
                         quick=False, name="small", verbose=False)
    code, out, err = cli("runs", "fake", "--out", tmp_path)
    assert code == 0, err
    header, rule, plain, small = out.splitlines()  # render_table: heads, a dashed rule, rows
    assert set(rule.replace(" ", "")) == {"-"}
    assert header.split()[-1] == "overrides"
    assert plain.startswith("plain") and plain.endswith("  -")
    assert small.startswith("small") and small.endswith("  filters=32 epochs=3")
    code, out, _ = cli("runs", "other-lesson", "--out", tmp_path)
    assert code == 0 and "No recorded runs" in out


def test_compare_prints_config_and_metric_differences_side_by_side(cli, tmp_path):
    records.train_lesson(fake_lesson(0.371, 0.5), dataclasses.replace(Config(), filters=(32,)), out=tmp_path,
                         quick=False, name="one-block", verbose=False)
    records.train_lesson(fake_lesson(0.714, 0.5), Config(), out=tmp_path, quick=False, name="two-blocks",
                         verbose=False)
    code, out, err = cli("runs", "--compare", "one-block", tmp_path / "two-blocks", "--out", tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["A", "one-block", "B", "two-blocks", "B", "-", "A"]
    assert lines[1].split() == ["overrides", "filters=32", "-"]
    assert "config:" in lines
    [filters] = [line for line in lines if line.startswith("filters")]
    assert filters.split() == ["filters", "32", "32,64"]
    assert not any(line.startswith(("epochs", "seed")) for line in lines)  # equal fields are not listed
    [acc] = [line for line in lines if line.startswith("acc ")]
    assert acc.split() == ["acc", "0.371", "0.714", "+0.343"]
    [base] = [line for line in lines if line.startswith("majority: acc")]
    assert base.split()[-3:] == ["0.5", "0.5", "+0"]
    code, out, _ = cli("runs", "--compare", "one-block", "two-blocks", "--out", tmp_path, "--json")
    diff = json.loads(out)
    assert diff["config"] == [["filters", [32], [32, 64]]]
    assert ["acc", 0.371, 0.714] in diff["metrics"] and ["majority: acc", 0.5, 0.5] in diff["baselines"]


def test_compare_refuses_a_run_that_does_not_exist_before_reading_anything(cli, tmp_path):
    records.train_lesson(fake_lesson(), Config(), out=tmp_path, quick=False, name="a", verbose=False)
    code, out, err = cli("runs", "--compare", "a", "nope", "--out", tmp_path)
    assert code == 2 and out == ""
    assert err.strip() == (f"dlbootcamp runs: error: No finished run 'nope': expected a run folder, or the name of a "
                           f"run in {tmp_path}/ (`dlbootcamp runs --out {tmp_path}` lists them).")
    code, _, err = cli("runs", "fake", "--compare", "a", "a", "--out", tmp_path)
    assert code == 2 and "--compare takes two runs and no lesson id" in err
    code, _, err = cli("runs", "fake", "--lesson", "other", "--out", tmp_path)
    assert code == 2 and "Two lesson ids given" in err


def test_runs_recorded_before_overrides_were_show_a_question_mark(cli, tmp_path):
    records.train_lesson(fake_lesson(), Config(), out=tmp_path, quick=False, name="a", verbose=False)
    line = json.loads((tmp_path / "index.jsonl").read_text())
    del line["overrides"]
    (tmp_path / "index.jsonl").write_text(json.dumps(line) + "\n")
    code, out, _ = cli("runs", "--out", tmp_path)
    assert code == 0 and out.splitlines()[2].endswith("  ?")


def test_find_run_accepts_a_name_or_a_folder(tmp_path):
    folder, _ = records.train_lesson(fake_lesson(), Config(), out=tmp_path, quick=False, name="a", verbose=False)
    assert records.find_run(tmp_path, "a") == folder == records.find_run(tmp_path / "elsewhere", str(folder))
    with pytest.raises(UserError, match="No finished run 'b'"):
        records.find_run(tmp_path, "b")
