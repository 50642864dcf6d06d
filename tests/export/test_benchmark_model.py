"""Importing TFLite's benchmark_model output (as run on Android over adb) into our schema."""

import pathlib

import pytest

from dlbootcamp.errors import UserError
from dlbootcamp.export import benchmark_model as bm
from dlbootcamp.export import device_bench as db

SAMPLE = pathlib.Path(__file__).parent / "data" / "benchmark_model_android.txt"

# The older wording (TF <= 2.4): "#threads used", "Peak memory footprint", no "Use xnnpack" line.
OLD = """STARTING!
Min num runs: [50]
Num threads: [1]
Graph: [/data/local/tmp/espcn.tflite]
#threads used for CPU inference: [1]
Loaded model /data/local/tmp/espcn.tflite
The input model file size (MB): 0.004448
Initialized session in 0.855ms.
Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
count=15 first=49060 curr=33682 min=32825 max=49060 avg=34825.1 std=3930

Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
count=50 first=32891 curr=33978 min=32641 max=34005 avg=33209.4 std=450

Inference timings in us: Init: 855, First inference: 49060, Warmup (avg): 34825.1, Inference (avg): 33209.4
Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
Peak memory footprint (MB): init=0 overall=12.8672
"""


def test_sample_file_gives_two_results_with_every_field():
    doc = bm.read(SAMPLE, device="Google Pixel 7")
    assert doc["schema"] == db.BENCH_SCHEMA and doc["tool"] == "benchmark_model (imported)"
    int8, fp32 = doc["results"]
    # the same schema as device_bench (plus the tool's two memory-delta figures)
    assert set(db.RESULT_FIELDS) <= set(int8) and set(int8) - set(db.RESULT_FIELDS) == {
        "memory_delta_init_mb", "memory_delta_overall_mb", "imported_from"}
    assert int8["artifact"] == "/data/local/tmp/model.int8.tflite" and int8["name"] == "model.int8.tflite"
    assert (int8["format"], int8["quantization"], int8["threads"], int8["xnnpack"], int8["batch"]) == (
        "tflite", "int8", 4, True, 1)
    assert int8["model_size_bytes"] == 489232
    assert int8["init_ms"] == 12.345 and int8["first_inference_ms"] == 2.874
    assert int8["warmup_runs"] == 412 and int8["warmup_mean_ms"] == 1.2134 and int8["runs"] == 843
    assert int8["latency_ms"] == {"min": 1.131, "p50": None, "p90": None, "p99": None, "max": 1.655,
                                  "mean": 1.1873, "std": 0.041}
    assert int8["throughput_per_s"] == pytest.approx(1e6 / 1187.3, abs=0.01)
    assert int8["peak_rss_mb"] == 9.85547 and int8["rss_end_mb"] == 10.0
    assert int8["rss_growth_mb"] == pytest.approx(6.01562 - 4.32812, abs=1e-3)
    assert int8["source"] == "benchmark_model" and int8["machine"]["device"] == "Google Pixel 7"
    assert int8["machine"]["platform"] == "Android"
    assert (fp32["quantization"], fp32["model_size_bytes"], fp32["runs"], fp32["latency_ms"]["mean"]) == (
        "fp32", 1878520, 614, 1.6286)
    assert db.result_label(int8) == "tflite int8 (benchmark_model)"


def test_older_wording_is_read_too():
    (r,) = bm.parse(OLD)
    assert (r["threads"], r["xnnpack"], r["init_ms"], r["first_inference_ms"], r["runs"]) == (1, None, 0.855,
                                                                                              49.06, 50)
    assert r["model_size_bytes"] == 4448 and r["latency_ms"]["min"] == 32.641 and r["latency_ms"]["std"] == 0.45
    assert r["memory_delta_overall_mb"] == 12.8672 and r["peak_rss_mb"] is None


def test_logcat_prefixes_and_all_same_runs():
    """From the Android benchmark app, lines come through logcat with a 'tflite' tag."""
    text = "\n".join(f"11-21 10:00:00.123  4567  4567 I tflite  : {line}" for line in OLD.splitlines())
    text = text.replace("count=50 first=32891 curr=33978 min=32641 max=34005 avg=33209.4 std=450",
                        "count=50 curr=33209(all same)")
    (r,) = bm.parse(text)
    assert r["runs"] == 50 and r["latency_ms"]["min"] == r["latency_ms"]["max"] == 33.209
    assert r["latency_ms"]["std"] == 0.0 and r["latency_ms"]["mean"] == 33.2094


def test_not_benchmark_model_output(tmp_path):
    (tmp_path / "notes.txt").write_text("hello\ncount=3\n")
    with pytest.raises(UserError, match=r"notes\.txt does not look like benchmark_model output \(no 'Inference "
                                        r"timings in us' line\); save the complete stdout of `adb shell "
                                        r"/data/local/tmp/benchmark_model --graph=\.\.\.`\.$"):
        bm.read(tmp_path / "notes.txt")
    with pytest.raises(UserError, match=r"gone\.txt cannot be read \(No such file or directory\); expected a text "
                                        r"file with benchmark_model output\.$"):
        bm.read(tmp_path / "gone.txt")


def test_report_joins_the_phone_with_this_machine(cli, tmp_path):
    code, out, err = cli("report", SAMPLE, "--device", "Google Pixel 7", "--out", tmp_path / "rep")
    assert code == 0, err
    assert "| tflite int8 (benchmark_model) | 4 | 1 | 477.8 | 12.35 | 2.87 | (mean 1.19) |" in out
    assert "Machine: Google Pixel 7, Android, benchmark_model TFLite C++ tool." in out
    assert "benchmark_model reports no percentiles" in out
    assert (tmp_path / "rep" / "latency_vs_size.png").exists()
    code, _, err = cli("report", tmp_path / "rep" / "report.md")
    assert code == 2 and "unknown source type '.md'" in err
