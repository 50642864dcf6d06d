"""Notebooks generated from lessons (issue #20): executed with nbclient at quick size, offline; the
exercises' checks pass the reference solutions and fail wrong answers with a message saying what is wrong."""

import os
import subprocess
import sys

import numpy as np
import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

EXECUTED = ("training", "assistant-intents")  # the two lessons with exercises so far
NOTEBOOK_TIMEOUT_S = 240  # per notebook; each takes 10-15 s on a laptop CPU


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """A `python3` kernel spec pointing at this interpreter, in a temporary JUPYTER_PATH."""
    prefix = tmp_path_factory.mktemp("jupyter")
    subprocess.run([sys.executable, "-m", "ipykernel", "install", "--prefix", str(prefix), "--name", "python3"],
                   check=True, capture_output=True)
    old = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = str(prefix / "share" / "jupyter")
    yield prefix
    if old is None:
        os.environ.pop("JUPYTER_PATH", None)
    else:
        os.environ["JUPYTER_PATH"] = old


@pytest.fixture(scope="module")
def executed(kernel_env, tmp_path_factory):
    """lesson id -> its generated notebook, executed at quick size in a temporary folder."""
    from dlbootcamp.app import notebooks

    done = {}
    for lesson_id in EXECUTED:
        folder = tmp_path_factory.mktemp(lesson_id)
        path = notebooks.write(lesson_id, folder)
        nb = nbformat.read(path, as_version=4)
        nbclient.NotebookClient(nb, timeout=NOTEBOOK_TIMEOUT_S, kernel_name="python3",
                                resources={"metadata": {"path": str(folder)}}).execute()
        done[lesson_id] = (path, nb)
    return done


def _outputs(nb):
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]


def _text(nb) -> str:
    return "\n".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in _outputs(nb))


@pytest.mark.parametrize("lesson_id", EXECUTED)
def test_notebook_runs_and_shows_summary_pictures_and_export(executed, lesson_id):
    path, nb = executed[lesson_id]
    assert path.name == {"training": "day03_training.ipynb", "assistant-intents": "day15_assistant_intents.ipynb"}[
        lesson_id]
    assert not [o for o in _outputs(nb) if o.output_type == "error"]
    text = _text(nb)
    assert "Total params" in text  # model.summary()
    pictures = [o for o in _outputs(nb) if "image/png" in o.get("data", {})]
    assert len(pictures) >= 2  # the run's PNGs, shown inline
    assert "model.int8.tflite" in text and "model.fp32.tflite" in text  # the export table
    # The exercises' stubs are checked too, and say what is missing rather than failing the notebook.
    assert "exercise 1" in text and "not written yet" in text


def test_notebook_story_comes_from_the_module():
    from dlbootcamp.app import notebooks

    nb = notebooks.build("training")
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert markdown.startswith("# Day 3 - How to train a neural network.")
    assert "## 2. a training loop by hand" in markdown and "def train_by_hand" in markdown
    assert "QUICK = True" in code and "model.summary()" in code and "export_run(folder" in code
    assert "check(LESSON_ID, globals(), exercise=1)" in code


def test_all_writes_every_lesson_and_an_index(cli, tmp_path):
    from dlbootcamp import registry

    code, out, err = cli("notebook", "--all", "--out", tmp_path)
    assert code == 0, err
    written = sorted(tmp_path.glob("*.ipynb"))
    assert len(written) == len(registry.discover()) == 19
    for path in written:
        nbformat.validate(nbformat.read(path, as_version=4))
    index = (tmp_path / "README.md").read_text()
    assert "day03_training.ipynb" in index and "day19_flappy_dqn.ipynb" in index


def test_notebook_needs_an_id_or_all(cli):
    code, _, err = cli("notebook")
    assert code == 2 and "give a lesson ID or --all" in err
    code, _, err = cli("notebook", "training", "--all")
    assert code == 2 and "not both" in err


def test_notebook_without_nbformat_names_the_extra(cli, monkeypatch):
    monkeypatch.setitem(sys.modules, "nbformat", None)  # import nbformat -> ImportError
    code, _, err = cli("notebook", "training")
    assert code == 2 and err.strip().count("\n") == 0
    assert "pip install -e '.[notebooks]'" in err


# --- exercises ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("lesson_id", EXECUTED)
def test_reference_solutions_pass_their_checks(lesson_id):
    from dlbootcamp.app import exercises

    results = exercises.run_checks(lesson_id, exercises.references(lesson_id))
    assert len(results) >= 2 and all(r.passed for r in results), [r.line() for r in results]
    assert {e.kind for e in exercises.exercises(lesson_id)} >= {"implement", "architecture", "predict"}


def _no_mean(logits, labels):
    from dlbootcamp.app.exercises import training

    loss, grad = training.softmax_cross_entropy(logits, labels)
    return loss, grad * len(labels)


def _two_hidden(cfg):
    from dlbootcamp.lessons import day03_training

    return day03_training.build_model(cfg)


def _all_dropped(ids, rate, copies, rng):
    many = np.concatenate([ids] * copies)
    return np.where(rng.random(many.shape) < rate, 1, many).astype(np.int32)  # padding dropped too


def _three_word_windows(cfg, vocab_size=1000):
    from dlbootcamp.lessons import day15_assistant_intents

    return day15_assistant_intents.build_model(cfg, vocab_size)


WRONG = [
    ("training", 1, {"softmax_cross_entropy": _no_mean}, "fails the gradient check"),
    ("training", 2, {"build_deeper_model": _two_hidden}, "no layer named 'hidden3'"),
    ("training", 3, {"PREDICTED_PARAMS": 64 * 32 + 32 * 32 + 32 * 10}, "low by 74"),
    ("assistant-intents", 1, {"drop_words": _all_dropped}, "padding (id 0) was changed"),
    ("assistant-intents", 2, {"build_wide_window_model": _three_word_windows}, "windows of 3 words; expected 5"),
    ("assistant-intents", 3, {"PREDICTED_WORDS": ["wake", "me", "up", "at", "6", "30", "please", "i'm", "late"]},
     "not kept: ['6', '30']"),
]


@pytest.mark.parametrize("lesson_id, number, answers, message", WRONG)
def test_wrong_answers_fail_with_what_is_wrong(lesson_id, number, answers, message):
    from dlbootcamp.app import exercises

    (result,) = exercises.run_checks(lesson_id, answers, exercise=number)
    assert not result.passed and message in result.message, result.message


def test_check_command(cli, tmp_path):
    code, out, _ = cli("check", "training")
    assert code == 0 and out.count(": passed:") == 3
    answers = tmp_path / "answers.py"
    answers.write_text("PREDICTED_PARAMS = 3466\n")
    code, out, _ = cli("check", "training", "--exercise", "3", "--file", answers)
    assert code == 0 and "exercise 3 (count the parameters): passed" in out
    answers.write_text("PREDICTED_PARAMS = 4000\n")
    code, out, _ = cli("check", "training", "--exercise", "3", "--file", answers)
    assert code == 1 and "high by 534" in out
    code, out, _ = cli("check", "training", "--exercise", "1", "--file", answers)
    assert code == 1 and "define `softmax_cross_entropy`" in out


def test_check_refuses_what_it_cannot_check(cli, tmp_path):
    code, _, err = cli("check", "cnn-features")
    assert code == 2 and err.strip().count("\n") == 0 and "has no exercises yet" in err
    code, _, err = cli("check", "training", "--exercise", "9")
    assert code == 2 and "has no exercise 9; expected one of 1, 2, 3" in err
    code, _, err = cli("check", "training", "--file", tmp_path / "missing.py")
    assert code == 2 and "no such file" in err
    broken = tmp_path / "broken.py"
    broken.write_text("def oops(:\n")
    code, _, err = cli("check", "training", "--file", broken)
    assert code == 2 and "does not run: SyntaxError" in err
