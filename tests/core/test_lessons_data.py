"""`dlbootcamp lessons` marks the lessons whose data is not installed here (looked up on disk only)."""

import json
import pathlib
import subprocess
import sys

import pytest

from dlbootcamp import data
from dlbootcamp.data import corpus


@pytest.fixture
def nothing_installed(tmp_path, monkeypatch):
    """A machine without the Debian datasets and with an empty dataset cache."""
    monkeypatch.setenv("DLBOOTCAMP_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "FASHION_MNIST_DIR", tmp_path / "no-fashion-mnist")
    monkeypatch.setattr(corpus, "BIBLE_DATA", tmp_path / "no-bible.data")
    return tmp_path


def test_lessons_marks_a_missing_dataset_with_the_install_command(cli, nothing_installed):
    code, out, _ = cli("lessons")
    assert code == 0
    lines = out.splitlines()
    [cnn] = [i for i, line in enumerate(lines) if " cnn-features " in line]
    assert lines[cnn].startswith("  5! cnn-features")
    assert lines[cnn + 1].strip() == ("! data not installed here: fashion_mnist - install with "
                                      "`apt-get install dataset-fashion-mnist`")
    assert "install with `apt-get install bible-kjv bible-kjv-text`" in lines[
        [i for i, line in enumerate(lines) if " text-generation " in line][0] + 1]
    [training] = [line for line in lines if line.startswith("  3")]
    assert training.startswith("  3  training")  # digits ship with scikit-learn: never missing
    assert lines[-1] == ("! 4 lesson(s) cannot train here until their data is installed: cnn-features, "
                         "embeddings, text-generation, summarization.")
    code, out, _ = cli("lessons", "--json")
    by_id = {e["id"]: e for e in json.loads(out)}
    assert by_id["cnn-features"]["data_missing"] == {"fashion_mnist": "apt-get install dataset-fashion-mnist"}
    assert by_id["training"]["data_missing"] == {} and by_id["summarization"]["datasets"] == ["kjv"]


def test_a_cached_copy_counts_as_installed(cli, nothing_installed):
    cache = nothing_installed / "cache"
    cache.mkdir()
    (cache / "kjv.txt").write_text("Ge1:1 In the beginning God created the heaven and the earth.\n")
    assert corpus.missing() is None and data.missing("kjv") is None
    assert data.missing("fashion_mnist") == "apt-get install dataset-fashion-mnist"
    (cache / "fashion_mnist.npz").write_bytes(b"")
    assert data.missing("fashion_mnist") is None


def test_train_refuses_a_lesson_whose_data_is_missing_before_tensorflow(cli, nothing_installed, tmp_path):
    code, out, err = cli("train", "embeddings", "--quick", "--out", tmp_path / "runs")
    assert code == 2 and out == ""
    assert err.strip() == ("dlbootcamp train: error: Lesson 'embeddings' reads the dataset 'kjv', which is not "
                           "installed on this machine; install it with `apt-get install bible-kjv bible-kjv-text` "
                           "(`dlbootcamp lessons` marks the lessons that need data).")
    assert not (tmp_path / "runs").exists()


def test_an_unknown_dataset_name_is_refused():
    with pytest.raises(data.DataUnavailable, match=r"Unknown dataset 'mnist'; expected one of"):
        data.missing("mnist")


def test_listing_with_missing_data_stays_free_of_numpy_and_tensorflow(tmp_path):
    code = ("import os, pathlib, sys\n"
            "from dlbootcamp import data\n"
            "data.FASHION_MNIST_DIR = pathlib.Path(os.devnull) / 'none'\n"
            "from dlbootcamp.app.cli import main\n"
            "assert main(['lessons']) == 0\n"
            "heavy = [m for m in ('tensorflow', 'keras', 'numpy') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            env={**__import__("os").environ, "DLBOOTCAMP_DATA": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "5! cnn-features" in result.stdout
