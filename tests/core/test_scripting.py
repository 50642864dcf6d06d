"""`dlbootcamp.run_lesson` for learners who script, and a real quick run end to end: overrides echoed,
recorded and shown, the summary's last lines, one-epoch curves with visible points, two runs compared."""

import json
import subprocess
import sys

import pytest

import dlbootcamp
from dlbootcamp import registry
from dlbootcamp.errors import UserError


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def scripted(runs):
    return dlbootcamp.run_lesson("training", quick=True, out=runs, name="scripted", verbose=False,
                                 epochs=1, hidden="16", learning_rate=0.002)


def test_run_lesson_returns_the_run_folder_and_its_metrics(scripted, runs):
    assert scripted.folder == runs / "scripted" and (scripted.folder / "model.keras").exists()
    assert 0.0 <= scripted.metrics["test_accuracy"] <= 1.0 and scripted.passed is None  # quick: not judged
    assert scripted.metrics == json.loads((scripted.folder / "metrics.json").read_text())["metrics"]
    assert scripted.record["overrides"] == {"hidden": 16, "epochs": 1, "learning_rate": 0.002}
    assert set(scripted.baselines) == set(registry.entry("training").info.baselines) != set()


def test_a_one_epoch_run_draws_visible_points(scripted):
    import matplotlib.image
    import numpy as np

    from dlbootcamp import plots, records

    history = records._read_history(scripted.folder / "history.csv")
    assert len(history["loss"]) == 1
    fig = plots.learning_curves(history)
    lines = [line for ax in fig.axes for line in ax.get_lines()]
    assert lines and all(line.get_marker() == "o" and len(line.get_xdata()) == 1 for line in lines)
    plots.pyplot().close(fig)
    # and the saved picture has the curve's colour in it, not empty axes
    png = matplotlib.image.imread(scripted.folder / "learning_curves.png")[..., :3]
    blue = np.array([31, 119, 180]) / 255  # tab:blue, the train curve
    assert (np.abs(png - blue).max(axis=-1) < 0.05).sum() > 20


def test_run_lesson_refuses_what_the_lesson_does_not_have(runs):
    with pytest.raises(UserError, match=r"Lesson 'training' has no Config field 'filters'; expected keyword "
                                        r"arguments among hidden, epochs,"):
        dlbootcamp.run_lesson("training", out=runs, filters=32)
    with pytest.raises(UserError, match=r"Invalid hidden='wide': hidden takes an int \(current value 32\)"):
        dlbootcamp.run_lesson("training", out=runs, hidden="wide")
    with pytest.raises(UserError, match=r"Invalid hidden=1.5 for lesson 'training': hidden takes int values"):
        dlbootcamp.run_lesson("training", out=runs, hidden=1.5)
    with pytest.raises(UserError, match=r"Unknown lesson 'trainin'\. Did you mean 'training'\?"):
        dlbootcamp.run_lesson("trainin", out=runs)


def test_import_dlbootcamp_and_run_lesson_stay_light():
    code = ("import sys, dlbootcamp\n"
            "f = dlbootcamp.run_lesson\n"
            "heavy = [m for m in ('tensorflow', 'keras', 'numpy') if m in sys.modules]\n"
            "assert callable(f) and not heavy, heavy\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_the_cli_echoes_overrides_records_them_and_ends_with_pictures_folder_and_full_run(cli, runs, scripted):
    code, out, err = cli("train", "training", "--quick", "--epochs", "1", "--set", "hidden=16", "--out", runs,
                         "--name", "cli")
    assert code == 0, err
    lines = out.splitlines()
    head = lines.index("  config (Config.quick(); * = overridden: hidden, epochs):")
    assert lines[head - 1].startswith("[training] day 3") and "hidden=16* epochs=1*" in lines[head + 1]
    assert "[" in out and " s this epoch, " in out and " s in all]" in out  # the epoch timer reads as cumulative
    assert "  overrides: hidden=16 epochs=1" in lines
    assert [line for line in lines if "gradcheck_rel_error =" in line][0].split()[2] != "0.0000"  # significant digits
    assert lines[-3] == "  pictures (3): learning_curves.png, loops_compared.png, mistakes.png"
    assert lines[-2] == f"  run folder: {runs / 'cli'}   (TensorBoard: tensorboard --logdir {runs / 'cli'})"
    from dlbootcamp.app import full_runs  # the measured wall time, as docs/lessons.md records it

    assert lines[-1] == (f"  full run: `dlbootcamp train training --out {runs}`, about "
                         f"{full_runs.duration(full_runs.WALL_S['training'])} on {full_runs.MEASURED_ON} (docs/lessons.md)")
    assert full_runs.MEASURED_ON.startswith("the 2-core x86 CI machine")
    assert json.loads((runs / "cli" / "config.json").read_text())["overrides"] == {"hidden": 16, "epochs": 1}
    code, out, _ = cli("runs", "training", "--out", runs)
    assert out.splitlines()[-2].endswith("  hidden=16 epochs=1 learning_rate=0.002")
    assert out.splitlines()[-1].endswith("  hidden=16 epochs=1")
    code, out, _ = cli("runs", "--compare", "scripted", "cli", "--out", runs)
    assert code == 0
    assert [line.split() for line in out.splitlines() if line.startswith("learning_rate")] == [
        ["learning_rate", "0.002", "0.001", "-0.001"]]
    assert any(line.startswith("test_accuracy ") for line in out.splitlines())
    assert any(line.startswith("nearest centroid: ") for line in out.splitlines())  # baselines compared too
