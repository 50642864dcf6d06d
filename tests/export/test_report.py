"""`dlbootcamp report`: results joined with export reports, a Markdown table and the plots."""

import json
import pathlib

import pytest

from dlbootcamp.export import device_bench as db
from dlbootcamp.export import report

MACHINE = {"cpu": "Test CPU 3000", "cores": 4, "cores_available": 4, "device": None, "platform": "Linux-test",
           "python": "3.11.7", "load_1min": 0.5, "packages": {"numpy": "2.0", "ai-edge-litert": "2.3.0"}}


def result(artifact, fmt="tflite", quantization="fp32", variant="interpreter", p50=1.0, size=40_000, batch=1,
           lesson=None, machine=MACHINE, **extra):
    """A result as device_bench writes it, with made-up figures."""
    r = dict.fromkeys(db.RESULT_FIELDS)
    r.update(artifact=str(artifact), name=pathlib.Path(artifact).name, format=fmt, variant=variant,
             quantization=quantization, lesson=lesson or db.guess_lesson(str(artifact)), runtime="ai-edge-litert",
             threads=1, xnnpack=fmt == "tflite" or None, batch=batch, model_size_bytes=size, init_ms=3.0,
             first_inference_ms=2 * p50, warmup_runs=10, warmup_mean_ms=1.1 * p50, runs=100,
             latency_ms={"min": 0.9 * p50, "p50": p50, "p90": 1.2 * p50, "p99": 1.5 * p50, "max": 2 * p50,
                         "mean": 1.05 * p50, "std": 0.1 * p50},
             throughput_per_s=batch * 1000 / (1.05 * p50), peak_rss_mb=80.0, rss_growth_mb=0.01,
             source="device_bench", machine=machine, **extra)
    return r


@pytest.fixture
def run_folder(tmp_path):
    """A run folder as train + export + bench leave it, with made-up numbers."""
    run = tmp_path / "runs" / "training-20250101-120000"
    (run / "export").mkdir(parents=True)
    (run / "model.keras").write_bytes(b"k" * 120_000)
    rows = []
    for q, size, value, passed in (("fp32", 110_000, 0.9611, True), ("int8", 30_000, 0.9583, True)):
        (run / "export" / f"model.{q}.tflite").write_bytes(b"t" * size)
        rows.append({"name": "model", "format": "tflite", "quantization": q, "path": f"model.{q}.tflite",
                     "size_bytes": size, "size_ratio": size / 120_000, "max_abs_error": 1e-6, "top1_agreement": 1.0,
                     "metric": "test_accuracy", "metric_value": value, "reference_metric_value": 0.9611,
                     "tolerance": 0.01, "passed": passed, "changes": []})
    (run / "export" / "model.onnx").write_bytes(b"o" * 100_000)
    rows.append({"name": "model", "format": "onnx", "quantization": "fp32", "path": "model.onnx",
                 "size_bytes": 100_000, "metric": "test_accuracy", "metric_value": 0.9611,
                 "reference_metric_value": 0.9611, "passed": False, "changes": []})
    (run / "export" / "export-report.json").write_text(json.dumps({"passed": False, "rows": rows}))
    results = [result(run / "model.keras", "keras", variant="eager", p50=9.0, size=120_000),
               result(run / "export" / "model.fp32.tflite", p50=0.05, size=110_000),
               result(run / "export" / "model.int8.tflite", quantization="int8", p50=0.03, size=30_000),
               result(run / "export" / "model.onnx", "onnx", variant="session", p50=0.08, size=100_000)]
    (run / "bench.json").write_text(json.dumps(db.document(results, tool="dlbootcamp bench")))
    return run


def test_collect_joins_export_report_metrics_and_parity(run_folder):
    results, rows = report.collect([run_folder])
    report.attach_export_rows(results, rows)
    by_name = {r["name"]: r for r in results}
    assert by_name["model.int8.tflite"]["metric_value"] == 0.9583
    assert by_name["model.int8.tflite"]["passed"] is True and by_name["model.onnx"]["passed"] is False
    assert by_name["model.fp32.tflite"]["size_ratio"] == pytest.approx(110 / 120)
    # the Keras model is scored by the reference value the exporter measured
    assert by_name["model.keras"]["metric_value"] == 0.9611 and by_name["model.keras"].get("passed") is None
    assert {r["lesson"] for r in results} == {"training"}


def test_attach_finds_the_export_report_beside_the_artifact(run_folder):
    results = [result(run_folder / "export" / "model.int8.tflite", quantization=None)]
    report.attach_export_rows(results)
    assert results[0]["metric_value"] == 0.9583 and results[0]["quantization"] == "int8"


def test_markdown_table(run_folder):
    results, rows = report.collect([run_folder])
    table = report.markdown_table(report.attach_export_rows(results, rows))
    lines = table.splitlines()
    assert lines[0] == ("| lesson / model | artifact | threads | batch | size KB | init ms | first ms | p50 ms | p90 ms | p99 ms "
                        "| inf/s | peak RSS MB | RSS growth MB | metric | parity |")
    body = [l for l in lines[2:] if l.startswith("| ")]
    assert [l.split(" | ")[1] for l in body] == ["keras fp32 eager", "tflite fp32", "tflite int8", "onnx fp32"]
    int8 = body[2].strip("| ").split(" | ")
    assert int8[0] == "training" and int8[4] == "29.3" and int8[7] == "0.0300"
    assert int8[-2:] == ["test_accuracy 0.9583", "passed"] and body[3].endswith("| FAILED |")
    assert lines[-2] == f"Machine: {db.describe_machine(MACHINE, load=False)}."
    assert lines[-1] == "Load average (1 min) when measured: 0.5."


def test_table_lists_machines_when_there_are_several(tmp_path):
    phone = dict(MACHINE, cpu="Tensor G2", device="Google Pixel 7", cores=8, cores_available=8)
    table = report.markdown_table([result(tmp_path / "a.tflite"), result(tmp_path / "a.tflite", machine=phone)])
    assert table.splitlines()[0].endswith("| machine |")
    assert "[1] Test CPU 3000" in table and "[2] Google Pixel 7, Tensor G2, 8 cores" in table


def test_write_report_plots_and_per_lesson_comparison(run_folder, tmp_path):
    results, rows = report.collect([run_folder])
    report.attach_export_rows(results, rows)
    written = report.write_report(results, tmp_path / "one")
    assert sorted(written) == ["latency_vs_size", "metric_vs_latency", "report"]  # one lesson: no comparison
    other = [result(tmp_path / "cnn-features-20250101-130000" / "model.fp32.tflite", p50=0.9, size=1_800_000),
             result(tmp_path / "cnn-features-20250101-130000" / "model.int8.tflite", "tflite", "int8", p50=0.4,
                    size=470_000)]
    written = report.write_report(results + other, tmp_path / "two", title="Two lessons")
    assert sorted(written) == ["latency_vs_size", "lessons", "metric_vs_latency", "report"]
    for name, path in written.items():
        assert path.exists() and path.stat().st_size > (1000 if name != "report" else 100)
        if name != "report":
            assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = written["report"].read_text()
    assert md.startswith("# Two lessons") and "![Per-lesson comparison](lessons.png)" in md
    assert "| cnn-features | tflite int8 |" in md


def test_report_command_on_a_run_folder(cli, run_folder):
    code, out, err = cli("report", run_folder)
    assert code == 0, err
    assert "| training | tflite int8 |" in out and "passed" in out
    assert (run_folder / "report" / "report.md").exists() and (run_folder / "report" / "latency_vs_size.png").exists()
    assert f"wrote {run_folder / 'report'}" in out


def test_report_command_with_several_files(cli, run_folder, tmp_path):
    other = db.document([result(tmp_path / "phone" / "model.int8.tflite", "tflite", "int8", p50=0.7,
                                machine=dict(MACHINE, device="Raspberry Pi 4 Model B Rev 1.4", cpu="Cortex-A72"))])
    (tmp_path / "pi.json").write_text(json.dumps(other))
    code, out, err = cli("report", run_folder / "bench.json", tmp_path / "pi.json", "--out", tmp_path / "rep")
    assert code == 0, err
    # the device result is joined to the exporter's row by file name (the same artifact, copied)
    pi_row = [l for l in out.splitlines() if l.endswith("| [2] |")]
    assert pi_row and pi_row[0].startswith("| training | tflite int8 |")
    assert len(pi_row) == 1 and "test_accuracy 0.9583" in pi_row[0]
    assert "[2] Raspberry Pi 4 Model B Rev 1.4, Cortex-A72" in out
    assert (tmp_path / "rep" / "report.md").exists()


def test_two_models_rows_are_labelled_by_name_and_keras_exports_show_parity(cli, tmp_path):
    """Two models built outside the project: rows say which model, and the exporter's verdict is there."""
    docs = []
    for name in ("tiny", "small"):
        export = tmp_path / name / "export"
        export.mkdir(parents=True)
        (export / f"{name}.fp32.tflite").write_bytes(b"t" * 4000)
        rows = [{"name": name, "format": "tflite", "quantization": "fp32", "path": str(export / f"{name}.fp32.tflite"),
                 "max_abs_error": 2e-7, "top1_agreement": 1.0, "passed": True}]
        (export / f"{name}.export-report.json").write_text(json.dumps({"rows": rows}))
        docs.append(result(export / f"{name}.fp32.tflite"))
    (tmp_path / "bench.json").write_text(json.dumps(db.document(docs)))
    code, out, err = cli("report", tmp_path / "bench.json", "--out", tmp_path / "rep")
    assert code == 0, err
    body = [l for l in out.splitlines() if "tflite fp32" in l]
    assert [l.split(" | ")[0] for l in body] == ["| small", "| tiny"], body
    assert all(l.endswith("| top-1 1.000 | passed |") for l in body), body
    # a second report into the same folder is refused, as export refuses, unless --force
    code, out, err = cli("report", tmp_path / "bench.json", "--out", tmp_path / "rep")
    assert code == 2 and error_line(err) == (f"{tmp_path / 'rep' / 'report.md'} already "
                                             f"exists and would be overwritten; choose another --out folder or pass "
                                             f"--force to replace it.")
    assert cli("report", tmp_path / "bench.json", "--out", tmp_path / "rep", "--force")[0] == 0


# --- bad input ------------------------------------------------------------------------------------

def error_line(err):
    lines = [l for l in err.strip().splitlines() if l.startswith("dlbootcamp report: error:")]
    assert "Traceback" not in err and len(lines) == 1, err
    return lines[0].removeprefix("dlbootcamp report: error: ")


def test_bad_sources(cli, tmp_path):
    code, _, err = cli("report", tmp_path / "nope.json")
    assert code == 2 and error_line(err) == (f"{tmp_path / 'nope.json'} does not exist; expected a bench JSON file, "
                                             f"benchmark_model output (.txt) or a run folder.")
    (tmp_path / "r.csv").write_text("a,b")
    code, _, err = cli("report", tmp_path / "r.csv")
    assert code == 2 and error_line(err) == (f"{tmp_path / 'r.csv'}: unknown source type '.csv'; expected a bench "
                                             f".json file, benchmark_model output (.txt) or a run folder.")
    (tmp_path / "bad.json").write_text("{")
    code, _, err = cli("report", tmp_path / "bad.json")
    assert code == 2 and error_line(err).startswith(f"{tmp_path / 'bad.json'} is not readable JSON (")
    assert err.strip().endswith("expected the output of `dlbootcamp bench --json`.")
    (tmp_path / "other.json").write_text(json.dumps({"schema": "something/2"}))
    code, _, err = cli("report", tmp_path / "other.json")
    assert code == 2 and error_line(err) == (f"{tmp_path / 'other.json'} has schema 'something/2'; expected "
                                             f"'dlbootcamp.bench/1' (from `dlbootcamp bench --json`) or an "
                                             f"export-report.json.")


def test_a_folder_without_results_says_what_to_run(cli, tmp_path):
    run = tmp_path / "training-20250101-120000"
    (run / "export").mkdir(parents=True)
    (run / "export" / "model.fp32.tflite").write_bytes(b"x")
    (run / "export" / "model.fp32.tflite.json").write_text("{}")  # a sidecar is not a result
    code, _, err = cli("report", run)
    assert code == 2 and error_line(err) == (f"{run} holds no benchmark results (dlbootcamp.bench/1 JSON); run "
                                             f"`dlbootcamp bench {run / 'export' / 'model.fp32.tflite'} --out "
                                             f"{run / 'bench.json'}` first.")
    code, _, err = cli("report", tmp_path / "training-20250101-120000" / "export" / "..")
    assert code == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = cli("report", empty)
    assert code == 2 and error_line(err) == (f"{empty} holds no benchmark results (dlbootcamp.bench/1 JSON); run "
                                             f"`dlbootcamp bench ARTIFACT... --out FILE.json` first.")


def test_unwritable_out(cli, run_folder, tmp_path):
    (tmp_path / "afile").write_text("x")
    code, _, err = cli("report", run_folder, "--out", tmp_path / "afile" / "rep")
    assert code == 2 and error_line(err).startswith(f"--out {tmp_path / 'afile' / 'rep'} cannot be created (")
    assert err.strip().endswith("choose a writable folder.")


def test_summarize_for_the_tour(run_folder, tmp_path):
    results = report.collect([run_folder / "bench.json"])[0]
    printed = []
    table = report.summarize(results, tmp_path / "tour", print_fn=printed.append)
    assert printed[0] == table and "test_accuracy 0.9583" in table  # export-report found beside the artifacts
    assert printed[1].startswith(f"\nwrote {tmp_path / 'tour' / 'report.md'} and 2 plot(s)")  # one lesson: no comparison


def test_pareto_table_marks_what_each_precision_buys(tmp_path):
    """#18: per lesson, metric vs size vs latency for every artifact; the front is what is worth having."""
    def scored(name, q, size, p50, value, **extra):
        return result(tmp_path / "runs" / "perceptron-20250101-120000" / "export" / name, quantization=q, size=size,
                      p50=p50, metric="approx_test_mae", metric_value=value, higher_is_better=False, **extra)

    results = [scored("model.fp32.tflite", "fp32", 5400, 0.0013, 0.0108),
               scored("model.fp16.tflite", "fp16", 7500, 0.0013, 0.0109),  # bigger and no better: dominated
               scored("model.int8.tflite", "int8", 5800, 0.0012, 0.0151, float_layers=["y", "relu1"])]
    lines = report.pareto_table(results).splitlines()
    rows = {l.split(" | ")[1]: l for l in lines if l.startswith("| perceptron")}
    assert rows["tflite fp32"].endswith("| - | front |") and rows["tflite fp16"].endswith("| - | - |")
    assert rows["tflite int8"].endswith("| y, relu1 | front |")  # faster, though less accurate
    assert report.pareto_table([result(tmp_path / "a.tflite")]) == ""  # no metric: no picture to draw
