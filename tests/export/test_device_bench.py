"""The device benchmark: figures, the JSON schema, no TensorFlow, and one-line errors.

Artifacts are a tiny random-weight MLP converted like the exporter does (see
data/make_artifacts.py). Nothing here asserts a speed: speed targets live in the benchmark
script's output, never in unit tests.
"""

import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from dlbootcamp.export import device_bench as db

DATA = pathlib.Path(__file__).parent / "data"
SCRIPT = pathlib.Path(__file__).parents[2] / "export" / "device_bench.py"
FORBIDDEN = ("tensorflow", "keras", "tf_keras", "tf2onnx", "dlbootcamp")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("make_artifacts", DATA / "make_artifacts.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return {k: str(v) for k, v in mod.make(tmp_path_factory.getbasetemp() / "tiny-artifacts").items()}


def one_line(err: str) -> str:
    """The error text, checked to be exactly one line without a traceback."""
    text = err.strip()
    assert "Traceback" not in text and text.count("\n") == 0, text
    return text


# --- figures -------------------------------------------------------------------------------------

def test_tflite_and_onnx_results_have_every_figure(tiny):
    paths = [tiny["tiny.fp32.tflite"], tiny["tiny.int8.tflite"], tiny["tiny.onnx"]]
    results = db.run_benchmarks(paths, runs=40, warmup=3)
    assert [r["name"] for r in results] == ["tiny.fp32.tflite", "tiny.int8.tflite", "tiny.onnx"]
    for r, path in zip(results, paths):
        assert tuple(r) == db.RESULT_FIELDS
        assert tuple(r["latency_ms"]) == db.LATENCY_FIELDS
        lat = r["latency_ms"]
        assert 0 < lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
        assert lat["min"] <= lat["mean"] <= lat["max"] and lat["std"] >= 0
        assert r["runs"] == 40 and r["warmup_runs"] == 3 and not r["stopped_by_max_secs"]
        assert r["model_size_bytes"] == os.path.getsize(path)
        assert r["init_ms"] > 0 and r["first_inference_ms"] > 0 and r["warmup_mean_ms"] > 0
        # throughput = batch x runs / total run time = 1000 / mean latency (ms) at batch 1
        assert r["throughput_per_s"] == pytest.approx(1000 / lat["mean"], rel=1e-3)
        assert r["peak_rss_mb"] >= r["rss_after_init_mb"] > 0 and r["rss_growth_mb"] is not None
        assert r["lesson"] == "tiny" and r["export"] == "model" and r["batch"] == 1 and r["threads"] == 1
        assert r["input_shapes"] == {"image": [1, 8, 8]}
        m = r["machine"]
        assert m["cpu"] and m["cores"] >= 1 and "numpy" in m["packages"]
    assert [r["quantization"] for r in results] == ["fp32", "int8", "fp32"]
    assert [r["runtime"] for r in results] == ["ai-edge-litert", "ai-edge-litert", "onnxruntime"]
    assert results[0]["runtime_version"] == results[0]["machine"]["packages"]["ai-edge-litert"]
    assert [r["xnnpack"] for r in results] == [True, True, None]


def test_latency_stats_are_numpy_percentiles_in_ms():
    ns = [1_000_000 * v for v in (5, 1, 4, 2, 3, 100)]
    stats = db.latency_stats(ns)
    ms = np.array([5, 1, 4, 2, 3, 100], float)
    assert stats == pytest.approx({"min": 1, "p50": np.percentile(ms, 50), "p90": np.percentile(ms, 90),
                                   "p99": np.percentile(ms, 99), "max": 100, "mean": ms.mean(), "std": ms.std()})


def test_batch_threads_and_no_xnnpack_are_recorded(tiny):
    results = db.run_benchmarks([tiny["tiny.fp32.tflite"]], threads=(1, 2), runs=10, warmup=1, batch=4,
                                xnnpack=False)
    assert [(r["threads"], r["batch"], r["xnnpack"]) for r in results] == [(1, 4, False), (2, 4, False)]
    assert results[0]["input_shapes"] == {"image": [4, 8, 8]}
    # samples per second: 4 samples per call
    assert results[0]["throughput_per_s"] == pytest.approx(4000 / results[0]["latency_ms"]["mean"], rel=1e-3)
    assert db.result_label(results[0]) == "tflite fp32 no-xnnpack"


def test_inputs_file_rows_are_used_and_repeated_to_the_batch(tiny, tmp_path):
    rows = np.random.default_rng(1).uniform(0, 1, (3, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "x.npz", image=rows)
    runner = db.open_artifact(tiny["tiny.fp32.tflite"])
    feeds, desc = db.make_feeds(runner, batch=5, inputs=db.load_inputs(str(tmp_path / "x.npz")))
    np.testing.assert_array_equal(feeds[0], np.concatenate([rows, rows])[:5])
    # int8 model: float rows are quantized with the input's scale/zero point
    runner8 = db.open_artifact(tiny["tiny.int8.tflite"])
    feeds8, _ = db.make_feeds(runner8, batch=2, inputs={"arr_0": rows})
    assert feeds8[0].dtype == np.int8 and feeds8[0].shape == (2, 8, 8)
    (r,) = db.run_benchmarks([tiny["tiny.onnx"]], runs=5, warmup=1, batch=2, inputs=str(tmp_path / "x.npz"))
    assert r["inputs"] == "--inputs x.npz" and r["input_shapes"] == {"image": [2, 8, 8]}


class SlowRunner(db.Runner):
    """A fake model that takes 30 ms per call, to test the time limit without a real one."""

    runtime = "fake"

    def __init__(self, fail=False):
        self.inputs = [db.Tensor("x", [-1, 2], "float32")]
        self.outputs = [db.Tensor("y", [-1, 2], "float32")]
        self.fail = fail

    def invoke(self, feeds):
        if self.fail:
            raise RuntimeError("boom: tensor 3 has the wrong type")
        time.sleep(0.03)
        return feeds


def test_max_secs_stops_starting_new_runs(tmp_path):
    art = tmp_path / "slow.tflite"
    art.write_bytes(b"x")
    r = db.bench_runner(SlowRunner, artifact=str(art), fmt="fake", variant="interpreter", runs=1000, warmup=1,
                        max_secs=0.2)
    assert 1 <= r["runs"] < 1000 and r["stopped_by_max_secs"] is True
    assert "--max-secs stopped slow.tflite" in db.format_table([r])


class UnresizableRunner(SlowRunner):
    def make_call(self, feeds):
        raise ValueError("Cannot set tensor: Dimension mismatch. Got 4 but expected 1 for dimension 0")


def test_preparation_failure_is_one_line():
    with pytest.raises(db.ArtifactError, match=r"^m.tflite cannot be prepared for inputs of shape \[\[4, 2\]\] "
                                               r"\(Cannot set tensor: Dimension mismatch\. Got 4 but expected 1 for "
                                               r"dimension 0\); check --batch and the inputs against the model "
                                               r"\(see the sidecar\)\.$"):
        db.bench_runner(UnresizableRunner, artifact="m.tflite", fmt="fake", variant="interpreter", batch=4, runs=2)


def test_runtime_failure_is_one_line(tmp_path):
    with pytest.raises(db.ArtifactError, match=r"^m.tflite failed while running \(boom: tensor 3 has the wrong "
                                               r"type\); check the inputs match the model \(see the sidecar\)\.$"):
        db.bench_runner(lambda: SlowRunner(fail=True), artifact="m.tflite", fmt="fake", variant="interpreter",
                        runs=2, warmup=1)


def test_table_names_the_machine_and_every_column(tiny):
    results = db.run_benchmarks([tiny["tiny.fp32.tflite"]], runs=5, warmup=1)
    table = db.format_table(results)
    assert table.splitlines()[0].startswith("machine: ") and results[0]["machine"]["cpu"] in table
    for column in ("size KB", "init ms", "first ms", "p50 ms", "p90 ms", "p99 ms", "inf/s", "peak MB", "growth MB"):
        assert column in table


# --- the script on its own: CLI, JSON, no TensorFlow ----------------------------------------------

def run_script(args, *, blocked=(), cwd=None, script=SCRIPT):
    """Run device_bench.py in a fresh interpreter whose imports of ``blocked`` packages fail.

    It prints which of FORBIDDEN ended up imported on its last stderr line (LOADED=...).
    """
    wrapper = f"""
import runpy, sys
BLOCKED = {tuple(blocked)!r}
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked by the test)")
        return None
sys.meta_path.insert(0, Block())
sys.argv = [{str(script)!r}] + {list(map(str, args))!r}
code = 0
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as exc:
    code = exc.code
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({FORBIDDEN!r}))
print("LOADED=" + ",".join(loaded), file=sys.stderr)
sys.exit(code)
"""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH="")
    proc = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)
    lines = proc.stderr.strip().splitlines()
    loaded = lines[-1].removeprefix("LOADED=") if lines and lines[-1].startswith("LOADED=") else "?"
    stderr = "\n".join(l for l in lines[:-1] if "XNNPACK delegate" not in l)
    return proc.returncode, proc.stdout, stderr, loaded


def test_device_script_runs_without_tensorflow_or_dlbootcamp(tiny, tmp_path):
    """Copied alone to a 'device' folder, with TensorFlow/Keras/dlbootcamp imports made to fail."""
    device = tmp_path / "device"
    device.mkdir()
    shutil.copy(SCRIPT, device / "device_bench.py")
    for name in ("tiny.int8.tflite", "tiny.onnx"):
        shutil.copy(tiny[name], device / name)
        shutil.copy(tiny[name] + ".json", device / (name + ".json"))
    code, out, err, loaded = run_script(["tiny.int8.tflite", "tiny.onnx", "--runs", "20", "--warmup", "2",
                                         "--json"], blocked=FORBIDDEN, cwd=device,
                                        script=device / "device_bench.py")
    assert code == 0, err
    assert loaded == ""  # not one of tensorflow, keras, tf2onnx, dlbootcamp was imported
    doc = json.loads(out)
    assert doc["schema"] == "dlbootcamp.bench/1" and doc["tool"] == "device_bench.py"
    assert [(r["name"], r["format"], r["runs"]) for r in doc["results"]] == [
        ("tiny.int8.tflite", "tflite", 20), ("tiny.onnx", "onnx", 20)]
    assert doc["results"][0]["quantization"] == "int8"  # read from the sidecar copied beside it
    assert "[1/" not in err  # --json: no progress bar


def test_script_table_mode_draws_progress_on_stderr(tiny, tmp_path):
    code, out, err, _ = run_script([tiny["tiny.fp32.tflite"], "--runs", "5", "--warmup", "1",
                                    "--out", tmp_path / "r.json"])
    assert code == 0, err
    assert "p50 ms" in out and "tiny.fp32.tflite" in out
    assert "[1/1] tiny.fp32.tflite threads=1 batch=1: p50" in err
    assert json.loads((tmp_path / "r.json").read_text())["results"][0]["runs"] == 5


# --- bad input: one line, exit code 2 -------------------------------------------------------------

def cli(capsys, *args):
    code = db.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name,content,message", [
    ("missing.tflite", None, r"missing.tflite does not exist or is not a file; expected an exported .tflite or "
                             r".onnx model\."),
    ("model.pb", b"x", r"model.pb: unknown artifact type '.pb'; expected .tflite or .onnx\."),
    ("noext", b"x", r"noext: unknown artifact type '\(no extension\)'; expected .tflite or .onnx\."),
    ("corrupt.tflite", b"this is not a flatbuffer", r"corrupt.tflite is not a loadable TFLite model \(.+\); "
                                                    r"re-export it with `dlbootcamp export`\."),
    ("corrupt.onnx", b"\x00\x01garbage", r"corrupt.onnx is not a loadable ONNX model \(.+\); re-export it with "
                                         r"`dlbootcamp export`\."),
])
def test_bad_artifacts(capsys, tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    code, out, err = cli(capsys, path, "--runs", 2)
    assert code == 2 and out == ""
    assert __import__("re").fullmatch(r"device_bench.py: error: .*" + message, one_line(err))


@pytest.mark.parametrize("args,message", [
    (["--runs", "0"], "--runs must be a positive integer; got 0."),
    (["--warmup", "-1"], "--warmup must be a positive integer; got -1."),
    (["--batch", "0"], "--batch must be a positive integer; got 0."),
    (["--threads", "a,b"], "--threads must be positive integers such as 1,2,4; got 'a,b'."),
    (["--threads", "0"], "--threads must be positive integers such as 1,2,4; got [0]."),
    (["--max-secs", "0"], "--max-secs must be a positive number of seconds; got 0.0."),
])
def test_bad_settings(capsys, tiny, args, message):
    code, _, err = cli(capsys, tiny["tiny.fp32.tflite"], *args)
    assert code == 2 and one_line(err) == f"device_bench.py: error: {message}"


def test_inputs_that_do_not_match_the_model(capsys, tiny, tmp_path):
    np.savez(tmp_path / "wrong.npz", image=np.zeros((2, 28, 28), np.float32))
    code, _, err = cli(capsys, tiny["tiny.onnx"], "--inputs", tmp_path / "wrong.npz")
    assert code == 2 and one_line(err) == ("device_bench.py: error: input 'image' has shape [2, 28, 28]; the model "
                                           "expects [-1, 8, 8] (-1 = any size). Feed arrays of that shape (see the "
                                           "sidecar).")
    np.savez(tmp_path / "names.npz", a=np.zeros((1, 8, 8)), b=np.zeros((1, 8, 8)))
    code, _, err = cli(capsys, tiny["tiny.fp32.tflite"], "--inputs", tmp_path / "names.npz")
    assert code == 2 and one_line(err) == ("device_bench.py: error: --inputs names.npz holds arrays ['a', 'b']; the "
                                           "model's inputs are ['image']. Save one array per input, named after it: "
                                           "numpy.savez(FILE, image=...).")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    code, _, err = cli(capsys, tiny["tiny.fp32.tflite"], "--inputs", tmp_path / "bad.npz")
    assert code == 2 and one_line(err).startswith(f"device_bench.py: error: --inputs {tmp_path / 'bad.npz'} is not "
                                                  f"a readable .npz file (")
    assert err.strip().endswith("expected numpy.savez output with one array per model input.")
    code, _, err = cli(capsys, tiny["tiny.fp32.tflite"], "--inputs", tmp_path / "none.npz")
    assert code == 2 and one_line(err) == (f"device_bench.py: error: --inputs {tmp_path / 'none.npz'} does not "
                                           f"exist; expected a .npz file written by numpy.savez with one array per "
                                           f"model input.")


def test_input_mismatches_through_the_api(tiny):
    runner = db.open_artifact(tiny["tiny.fp32.tflite"])
    x = np.zeros((2, 8, 8), np.float32)
    with pytest.raises(db.ArtifactError, match=r"^--inputs gives 2 arrays; the model takes 1 \(image\)\. "
                                               r"Give one array per input\.$"):
        db.make_feeds(runner, inputs=[x, x])
    with pytest.raises(db.ArtifactError, match=r"^--inputs has no rows for input 'image'; give at least one "
                                               r"sample\.$"):
        db.make_feeds(runner, inputs=[x[:0]])
    with pytest.raises(db.ArtifactError, match=r"^the model takes 1 inputs \(image\); got 2\.$"):
        runner.predict(x, x)
    runner.batch_fixed = 1  # as a model exported with a fixed batch would be
    with pytest.raises(db.ArtifactError, match=r"^the model has a fixed batch size of 1, so --batch 8 cannot be "
                                               r"fed; use --batch 1 or export with a dynamic batch\.$"):
        db.make_feeds(runner, batch=8)
    with pytest.raises(db.ArtifactError, match=r"^no artifact given; pass one or more \.tflite or \.onnx files\.$"):
        db.run_benchmarks([])
    with pytest.raises(db.ArtifactError, match=r"^unknown artifact type '\.pb'; expected \.tflite or \.onnx\.$"):
        db.ensure_runtime(".pb")


def test_bad_sidecars(capsys, tiny, tmp_path):
    art = tmp_path / "m.tflite"
    shutil.copy(tiny["tiny.fp32.tflite"], art)
    (tmp_path / "m.tflite.json").write_text("{not json")
    code, _, err = cli(capsys, art, "--runs", 2)
    assert code == 2 and one_line(err).startswith(f"device_bench.py: error: sidecar {art}.json is unreadable (")
    assert err.strip().endswith("re-export the model or delete the sidecar.")
    (tmp_path / "m.tflite.json").write_text(json.dumps({"schema": "other/9"}))
    code, _, err = cli(capsys, art, "--runs", 2)
    assert code == 2 and one_line(err) == (f"device_bench.py: error: sidecar {art}.json has schema 'other/9'; "
                                           f"expected 'dlbootcamp.sidecar/1'.")


def test_unwritable_out_and_interrupt(capsys, tiny, tmp_path, monkeypatch):
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "r.json"
    code, _, err = cli(capsys, tiny["tiny.fp32.tflite"], "--runs", 2, "--out", out)
    assert code == 2 and one_line(err) == (f"device_bench.py: error: --out {out} cannot be written ({out.parent} is "
                                           f"not a writable folder); choose another path.")
    (tmp_path / "adir").mkdir()  # a folder where the file should go: found only when writing
    code, _, err = cli(capsys, tiny["tiny.fp32.tflite"], "--runs", 2, "--out", tmp_path / "adir")
    assert code == 2 and err.strip().splitlines()[-1] == (f"device_bench.py: error: --out {tmp_path / 'adir'} "
                                                          f"cannot be written (Is a directory); choose a writable "
                                                          f"path.")

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(db, "run_benchmarks", interrupted)
    code, _, err = cli(capsys, tiny["tiny.fp32.tflite"])
    assert code == 130 and one_line(err) == "device_bench.py: interrupted; no result written."


@pytest.mark.parametrize("blocked,artifact,message", [
    (("ai_edge_litert", "tflite_runtime"), "tiny.fp32.tflite",
     "no TFLite runtime is installed; install ai-edge-litert (pip install ai-edge-litert) or tflite-runtime."),
    (("onnxruntime",), "tiny.onnx", "onnxruntime is not installed; install onnxruntime (pip install onnxruntime)."),
])
def test_missing_runtime_names_the_package(tiny, blocked, artifact, message):
    code, out, err, _ = run_script([tiny[artifact]], blocked=blocked)
    assert code == 2 and out == ""
    assert one_line(err) == f"device_bench.py: error: {message}"


def test_tflite_runtime_is_the_fallback(tiny):
    """With ai-edge-litert absent, the older tflite-runtime package is tried (absent here too)."""
    code, _, err, _ = run_script([tiny["tiny.fp32.tflite"]], blocked=("ai_edge_litert",))
    installed = importlib.util.find_spec("tflite_runtime") is not None
    assert (code == 0) if installed else ("or tflite-runtime." in err and code == 2)


def test_missing_numpy_is_one_line(tiny):
    code, out, err, _ = run_script([tiny["tiny.fp32.tflite"]], blocked=("numpy",))
    assert code == 2 and out == ""
    assert one_line(err) == ("device_bench.py: error: NumPy is not installed; install it (pip install numpy; on "
                             "Termux: pkg install python-numpy).")
