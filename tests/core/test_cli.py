import subprocess
import sys


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
    assert code == 2 and "hidden takes a int" in err


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
