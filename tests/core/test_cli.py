import json
import os
import signal
import subprocess
import sys
import time

import pytest


def test_help_and_lessons_do_not_import_tensorflow():
    # What keeps them instant (about 0.1 s here when the machine is idle; the timing itself is
    # printed by `python -X importtime -m dlbootcamp lessons`, not asserted in a unit test).
    for args in (["lessons"], ["--help"], ["train", "--help"], ["export", "--help"], ["bench", "--help"]):
        code = ("import sys; from dlbootcamp.app.cli import main\n"
                f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
                "heavy = [m for m in ('tensorflow', 'keras', 'numpy', 'onnxruntime') if m in sys.modules]\n"
                "assert not heavy, heavy")
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_lessons_lists_ids_and_bars(cli):
    code, out, _ = cli("lessons")
    assert code == 0
    assert "training" in out and "cnn-features" in out and "test_accuracy >= 0.9" in out


def test_lessons_json(cli):
    import json

    code, out, _ = cli("lessons", "--json")
    ids = [x["id"] for x in json.loads(out)]
    assert code == 0 and "training" in ids


def test_unknown_lesson_is_one_line_exit_2(cli):
    code, out, err = cli("train", "trainig")
    assert code == 2
    assert err.strip().count("\n") == 0
    assert "Unknown lesson 'trainig'. Did you mean 'training'?" in err


def test_bad_flag_is_one_line_exit_2(cli):
    code, _, err = cli("train", "training", "--epoch", "x")
    assert code == 2 and err.strip().count("\n") == 0
    assert "unrecognized arguments" in err or "invalid int value" in err


def test_bad_epochs_value(cli):
    code, _, err = cli("train", "training", "--epochs", "0", "--out", "/tmp/never-used-dlb")
    assert code == 2 and "Invalid --epochs 0: expected a positive integer." in err


def test_bad_set_field(cli):
    code, _, err = cli("train", "training", "--set", "nonsense=1")
    assert code == 2 and "Invalid --set 'nonsense=1': expected FIELD=VALUE" in err
    code, _, err = cli("train", "training", "--set", "hidden=many")
    assert code == 2 and "Invalid --set 'hidden=many': hidden takes an int (Config default 128)." in err


def test_out_that_is_a_file(cli, tmp_path):
    f = tmp_path / "file.txt"
    f.write_text("x")
    code, _, err = cli("train", "training", "--out", f)
    assert code == 2 and "is a file; expected a folder for run records" in err
    code, _, err = cli("runs", "--out", f)
    assert code == 2 and "is a file; expected the runs folder" in err


def test_runs_on_an_empty_folder(cli, tmp_path):
    code, out, _ = cli("runs", "--out", tmp_path)
    assert code == 0 and "No recorded runs" in out


def test_existing_run_name_is_refused(cli, tmp_path):
    (tmp_path / "mine").mkdir()
    code, _, err = cli("train", "training", "--quick", "--out", tmp_path, "--name", "mine")
    assert code == 2 and "already exists and is never overwritten" in err


def test_env_reports_versions_and_devices(cli):
    import json

    code, out, _ = cli("env", "--json")
    info = json.loads(out)
    assert code == 0 and info["versions"]["tensorflow"].startswith("2.")
    assert any(d.startswith("CPU") for d in info["devices"])


def dlbootcamp(*args, **kw):
    """`dlbootcamp ARGS` in a fresh interpreter with real file descriptors (what a user's terminal sees)."""
    return subprocess.run([sys.executable, "-m", "dlbootcamp", *map(str, args)], capture_output=True, text=True, **kw)


def test_refused_flags_come_back_before_tensorflow_is_imported(tmp_path):
    (tmp_path / "taken").mkdir()
    refused = [["train", "training", "--epochs", "-3"], ["train", "training", "--seed", "x"],
               ["train", "training", "--set", "hidden=many"], ["train", "training", "--set", "nonsense=1"],
               ["train", "training", "--set", "dropout"], ["train", "training", "--seed", "-1"],
               ["train", "gan", "--epochs", "0"], ["train", "training", "--distribute", "mirrored"],
               ["train", "training", "--out", str(tmp_path), "--name", "taken"],
               ["train", "training", "--resume", "nothing-here", "--out", str(tmp_path)],
               ["train", "training", "--resume", "x", "--quick"], ["train", "gan", "--resume", "x"],
               ["tour", "--runs", "0"], ["tour", "--seed", "-2"], ["tour", "--lesson", "nope"],
               ["export", str(tmp_path / "missing.keras")], ["export", str(tmp_path), "--to", "tflight"]]
    code = ("import contextlib, io, sys\nfrom dlbootcamp.app.cli import main\n"
            f"for argv in {refused!r}:\n"
            "    err = io.StringIO()\n"
            "    with contextlib.redirect_stderr(err):\n"
            "        try:\n            rc = main(argv)\n        except SystemExit as exc:\n            rc = exc.code\n"
            "    assert rc == 2, (argv, rc, err.getvalue())\n"
            "    assert err.getvalue().count('\\n') == 1, (argv, err.getvalue())\n"
            "    assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, argv\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


# The README's promise: an unknown lesson, a missing file or a bad flag gives one line and exit code 2.
BAD_INPUT = [
    ["train", "trainig"], ["train", "training", "--epochs", "-3"], ["train", "training", "--bogus"],
    ["tour", "--lesson", "trainig"], ["runs", "--out", "README.md"],
    ["export", "missing-run"], ["verify", "missing.tflite", "--reference", "missing.keras"],
    ["bench", "missing.tflite"], ["report", "missing.json"], ["env", "--bogus"], ["lessons", "--bogus"],
]


@pytest.mark.parametrize("args", BAD_INPUT, ids=lambda a: " ".join(a))
def test_each_bad_input_is_one_line_on_stderr_and_exit_2(args):
    done = dlbootcamp(*args, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert done.returncode == 2, done
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("dlbootcamp"), done.stderr


def test_tensorflow_start_up_lines_are_hidden_and_shown_with_verbose():
    quiet = dlbootcamp("env", "--json")  # imports TensorFlow and lists its devices
    assert quiet.returncode == 0 and json.loads(quiet.stdout)["versions"]["tensorflow"]
    assert quiet.stderr == "", quiet.stderr
    loud = dlbootcamp("-v", "env", "--json", env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "0"})
    assert loud.returncode == 0 and loud.stderr.strip()  # TensorFlow's own lines, now shown


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path):
    # More output than a pipe holds, so the write really meets a closed pipe.
    line = {"run": "r", "lesson": "training", "metric": "m", "value": 0.5, "passed": None, "wall_time_s": 1.0}
    (tmp_path / "index.jsonl").write_text((json.dumps(line) + "\n") * 5000)
    proc = subprocess.Popen([sys.executable, "-m", "dlbootcamp", "runs", "--out", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # what `| head -1` does
    rc = proc.wait(timeout=60)
    err = proc.stderr.read().decode()
    assert rc == 141 and err == "", (rc, err)
    done = subprocess.run(f"{sys.executable} -m dlbootcamp lessons | head -3", shell=True, capture_output=True,
                          text=True)
    assert done.stderr == "" and len(done.stdout.splitlines()) == 3


def test_two_trainings_started_together_share_a_runs_folder(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-m", "dlbootcamp", "train", "training", "--quick", "--out",
                               str(tmp_path), "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    folders = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    lines = [json.loads(x) for x in (tmp_path / "index.jsonl").read_text().splitlines()]
    assert len(folders) == 2 and sorted(x["run"] for x in lines) == folders
    assert all((tmp_path / f / "model.keras").exists() for f in folders)


SLOW_TRAIN = """
import sys, time
from dlbootcamp import records
_callbacks = records.Run.callbacks
def slow(self, **kw):
    import keras
    return [*_callbacks(self, **kw), keras.callbacks.LambdaCallback(on_epoch_end=lambda *a: time.sleep(2))]
records.Run.callbacks = slow
from dlbootcamp.app.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


def test_a_killed_run_resumes_from_its_last_finished_epoch(tmp_path, cli):
    # Epochs are slowed to 2 s so the kill lands after the first epoch's backup, mid-run.
    proc = subprocess.Popen([sys.executable, "-c", SLOW_TRAIN, "train", "training", "--quick", "--epochs", "5",
                             "--out", str(tmp_path), "--name", "k", "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    backup = tmp_path / ".k.partial" / "backup" / "fit1" / "training_metadata.json"
    deadline = time.monotonic() + 240
    while not backup.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = json.loads(backup.read_text())["epoch"]
    assert 1 <= done_before < 5 and not (tmp_path / "k").exists()
    code, out, _ = cli("runs", "--out", tmp_path)
    assert f"unfinished: k (training, killed after epoch {done_before})" in out

    code, out, err = cli("train", "training", "--resume", "k", "--out", tmp_path, "-q")
    assert code == 0, err
    run = tmp_path / "k"
    assert not (tmp_path / ".k.partial").exists() and not (run / "backup").exists()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["resumed"]["from_epoch"] == done_before
    assert json.loads((run / "config.json").read_text())["resumed"]["from_epoch"] == done_before
    epochs = [int(line.split(",")[0]) for line in (run / "history.csv").read_text().splitlines()[1:]]
    assert epochs == [0, 1, 2, 3, 4]  # continued, not restarted: each epoch once, five in all
    [line] = [json.loads(x) for x in (tmp_path / "index.jsonl").read_text().splitlines()]
    assert line["run"] == "k"


def test_resume_is_refused_where_it_cannot_work(cli, tmp_path):
    code, _, err = cli("train", "gan", "--resume", "x")
    assert code == 2 and "Lesson 'gan' cannot --resume: its training is not one model.fit" in err
    code, _, err = cli("train", "training", "--resume", "x", "--epochs", "3")
    assert code == 2 and "--resume continues a killed run with its own settings; drop --epochs." in err
    code, _, err = cli("train", "training", "--resume", "gone", "--out", tmp_path)
    assert code == 2 and "No killed run named 'gone'" in err
    (tmp_path / "done").mkdir()
    code, _, err = cli("train", "training", "--resume", "done", "--out", tmp_path)
    assert code == 2 and "Run 'done' finished" in err
    (tmp_path / ".fresh.partial").mkdir()
    code, _, err = cli("train", "training", "--resume", "fresh", "--out", tmp_path)
    assert code == 2 and "has no readable config.json" in err
