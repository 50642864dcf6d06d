"""The benchmark scripts run at smoke size and write what they promise (numbers are not judged here)."""

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_training_benchmark_smoke(tmp_path):
    out, md = tmp_path / "training.json", tmp_path / "bench.md"
    md.write_text("# Benchmarks\n\nkept text\n")
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "training.py"), "training", "--quick",
                           "--json", str(out), "--markdown", str(md)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["meta"]["quick"] is True and report["meta"]["cores"] >= 1
    rows = report["results"]
    assert [r["onednn"] for r in rows] == [False, True]  # both settings, back to back
    for r in rows:
        assert r["lesson"] == "training" and r["steps"] > 0 and r["batch_size"] == 32
        assert r["step_ms"] > 0 and r["samples_per_s"] > 0
        assert r["reference_step_ms"] > 0 and r["reference_xla_step_ms"] > 0  # the plain-Keras reference ran
        assert r["peak_gflops"] > 0 and r["achieved_gflops"] > 0
        assert "load_1min_before" in r
    text = md.read_text()
    assert text.startswith("# Benchmarks\n\nkept text")  # the rest of the page is kept
    assert "<!-- training:begin -->" in text and "| `training` | off |" in text and "| `training` | on |" in text


def test_training_benchmark_refuses_unknown_lesson(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "training.py"), "no-such-lesson",
                           "--json", str(tmp_path / "t.json")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "unknown lesson" in done.stderr
    assert not (tmp_path / "t.json").exists()
