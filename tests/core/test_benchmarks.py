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


def test_choices_smoke_records_only_validation(tmp_path):
    out, md = tmp_path / "choices.json", tmp_path / "lessons.md"
    md.write_text("# Lessons\n")
    cmd = [sys.executable, str(ROOT / "benchmarks" / "choices.py"), "dl-is-a-language", "--metric", "val_mae_ratio",
           "--lower-is-better", "--variant", "as configured:", "--variant", "narrow head: photo_hidden=4",
           "--seeds", "0", "--quick", "--json", str(out), "--markdown", str(md)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    entry = json.loads(out.read_text())["dl-is-a-language"]["as configured vs narrow head"]
    assert entry["metric"] == "val_mae_ratio" and entry["quick"] is True and entry["higher_is_better"] is False
    assert set(entry["variants"]) == {"as configured", "narrow head"}
    assert entry["variants"]["narrow head"]["sets"] == ["photo_hidden=4"]
    for v in entry["variants"].values():
        assert v["runs"]["0"]["value"] > 0
    text = md.read_text()
    assert "<!-- choices:begin -->" in text and "Best on validation" in text
    assert "test" not in json.dumps(entry)  # what decides never saw (or stored) a test number


def test_choices_refuses_a_test_metric(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "choices.py"), "training", "--metric",
                           "test_accuracy", "--variant", "a:", "--variant", "b: hidden=64",
                           "--json", str(tmp_path / "c.json")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "validation" in done.stderr
    assert not (tmp_path / "c.json").exists()


def test_choices_subject_to_excludes_variants_that_miss_the_constraint():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import choices

    assert choices.parse_constraint("val_c<=0.4") == {"metric": "val_c", "op": "<=", "value": 0.4}
    run = lambda v, c: {"value": v, "constraint_value": c, "wall_s": 1.0, "load_1min_before": 0.1}
    entry = {"metric": "val_s", "higher_is_better": True, "quick": False, "finished": "now",
             "subject_to": choices.parse_constraint("val_c<=0.4"),
             "variants": {"strong": {"sets": ["w=3"], "runs": {"0": run(20.0, 0.7), "1": run(18.0, 0.5)}},
                          "gentle": {"sets": ["w=1"], "runs": {"0": run(6.0, 0.3), "1": run(5.0, 0.35)}}}}
    text = choices.table({"style-transfer": {"weight": entry}})
    assert "Best on validation: **gentle**" in text and "0.6 (misses)" in text
    entry["subject_to"]["value"] = 0.1
    assert "No variant keeps the constraint" in choices.table({"style-transfer": {"weight": entry}})


def test_lesson_benchmarks_mark_a_busy_machine():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import lessons

    row = lambda load: {"machine": {"load_1min": load}}
    assert lessons.busy_banner([row(0.3), row(1.2)], 2) == []
    banner = lessons.busy_banner([row(0.3), row(5.5)], 2)
    assert "busy machine" in banner[0] and "5.5" in banner[0]
    assert ("onnx", "int8") in lessons.BENCHED_ARTIFACTS


def test_seeds_smoke_writes_the_table_and_merges_only_when_asked(tmp_path):
    out, md = tmp_path / "seeds.json", tmp_path / "lessons.md"
    md.write_text("# Lessons\n")
    base = [sys.executable, str(ROOT / "benchmarks" / "seeds.py"), "training", "--quick", "--json", str(out),
            "--markdown", str(md)]
    for extra in (["--seeds", "0"], ["--seeds", "1", "--merge"]):
        done = subprocess.run(base + extra, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
    runs = json.loads(out.read_text())["training"]
    assert set(runs) == {"0", "1"}  # --merge kept seed 0
    assert runs["0"]["quick"] and runs["0"]["onednn"] and runs["0"]["train_wall_time_s"] > 0
    assert "<!-- seeds:begin -->" in md.read_text() and "seeds 0, 1 (--quick" in md.read_text()
    done = subprocess.run(base + ["--seeds", "2"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and set(json.loads(out.read_text())["training"]) == {"2"}  # replaced, not mixed


def test_lesson_benchmarks_keep_the_sections_other_scripts_wrote():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import lessons

    old = ("# Benchmarks\n\nintro\n\n## Results\n\nold table\n\n## Training throughput\n\nprose\n\n"
           "<!-- training:begin -->\nT\n<!-- training:end -->\n\n## Reading it\n\nold\n\n## Per-operator profile\n\nP\n")
    kept = lessons.other_sections(old, {"## Results", "## Reading it"})
    assert kept.startswith("## Training throughput") and "<!-- training:begin -->" in kept
    assert "## Per-operator profile" in kept and "old table" not in kept and "## Reading it" not in kept
    assert lessons.other_sections("# only a title\n", {"## Results"}) == ""


def test_the_curriculum_tables_measured_cells_come_from_the_seed_records():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import seeds

    bar = {"metric": "test_accuracy", "op": ">=", "threshold": 0.9}
    runs = {str(s): {"quick": False, "bars": [{**bar, "value": v, "passed": v >= 0.9}]}
            for s, v in enumerate((0.95, 0.85, 0.93))}
    table = ("| day | lesson | bar | measured | wall | int8 |\n|---|---|---|---|---|---|\n"
             "| 3 | `training` | >= 0.90 | old | 7 s | 0.9 |\n| 4 | `other` | x | kept | 1 s | - |\n")
    out = seeds.summary_cells(table, {"training": runs})
    assert "| 3 | `training` | >= 0.90 | seeds 0, 1, 2: test_accuracy 0.91 +- 0.0529 (2/3) | 7 s | 0.9 |" in out
    assert "| 4 | `other` | x | kept | 1 s | - |" in out and out.endswith("\n")
    # The committed page is what the records say: regenerating it changes nothing.
    page = (ROOT / "docs" / "lessons.md").read_text()
    assert seeds.summary_cells(page, json.loads((ROOT / "docs" / "seeds.json").read_text())) == page


def test_the_int8_cells_come_from_the_seed0_export_reports(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import seeds

    export = tmp_path / "training-seed0" / "export"
    export.mkdir(parents=True)
    row = {"format": "tflite", "quantization": "int8", "name": "model", "metric_value": 0.95,
           "reference_metric_value": 0.96, "passed": True, "tolerance": 0.02, "float_layers": ["dense"]}
    (export / "model.export-report.json").write_text(json.dumps({"rows": [row, {**row, "quantization": "fp32"}]}))
    table = "| 3 | `training` | >= 0.90 | m | 7 s | old |\n| 4 | `other` | x | m | 1 s | kept |\n"
    out = seeds.int8_cells(table, tmp_path)
    assert "| 7 s | 0.95 (Keras 0.96; within +-0.02, 1 layer(s) kept in float) |" in out
    assert "| 1 s | kept |" in out  # no export for this lesson: left as it was


def test_lesson_benchmarks_merge_keeps_the_other_lessons_rows(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import lessons

    old = {"results": [{"lesson": "vqa", "artifact": "a/vqa-seed0/export/model.onnx", "p50_ms": 1.0},
                       {"lesson": "gan", "artifact": "a/gan-seed0/export/generator.onnx", "p50_ms": 2.0}],
           "runs_used": [["vqa", "vqa-seed0", False], ["gan", "gan-seed0", False]],
           "created": "2026-12-01T11:00:00Z", "dates": {"gan": "2026-11-30 08:52"}}
    (tmp_path / "benchmarks.json").write_text(json.dumps(old))
    new = [{"lesson": "vqa", "artifact": "b/vqa-seed0/export/model.onnx", "p50_ms": 0.5}]
    results, used, dates = lessons.merged(tmp_path / "benchmarks.json", new, [("vqa", "vqa-seed0", False)])
    assert dates == {"gan": "2026-11-30 08:52"}  # a kept lesson keeps the date it was measured
    assert [(r["lesson"], r["p50_ms"]) for r in results] == [("vqa", 0.5), ("gan", 2.0)]  # vqa replaced in place
    assert used == [("vqa", "vqa-seed0", False), ("gan", "gan-seed0", False)]


def test_vqa_baseline_benchmark_records_validation_curves_only(tmp_path):
    out = tmp_path / "vqa_baseline.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "vqa_baseline.py"), "--quick", "--seeds", "0",
                           "--runs", "64x2", "--every", "1", "--json", str(out)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["meta"]["quick"] is True and report["meta"]["cores"] >= 1 and "load_1min_before" in report["meta"]
    (run,) = report["results"]
    assert (run["seed"], run["images"], run["epochs"]) == (0, 64, 2)
    assert [r["epoch"] for r in run["curve"]] == [1, 2]  # every epoch, as asked
    for r in run["curve"]:
        assert r["loss"] > 0 and all(0 <= r[k] <= 1 for k in ("val_accuracy", "non_relational", "relational"))
    assert run["peak_non_relational"] == max(r["non_relational"] for r in run["curve"])
    assert run["final_non_relational"] == run["curve"][-1]["non_relational"]
    assert "test" not in json.dumps(report["results"])  # validation only: nothing scored the test images
    assert "peaks at" in done.stdout


def test_vqa_baseline_benchmark_refuses_a_malformed_run(tmp_path):
    out = tmp_path / "v.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "vqa_baseline.py"), "--runs", "2000by35",
                           "--json", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "IMAGESxEPOCHS" in done.stderr and "2000by35" in done.stderr
    assert not out.exists()
