"""`dlbootcamp bench`: every format through one measuring path, a table or one JSON document,
TensorFlow only for .keras, and one-line errors with exit code 2."""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from dlbootcamp.export import bench
from dlbootcamp.export import device_bench as db

DATA = pathlib.Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("make_artifacts", DATA / "make_artifacts.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return {k: str(v) for k, v in mod.make(tmp_path_factory.getbasetemp() / "tiny-artifacts").items()}


def error_line(err: str) -> str:
    lines = [l for l in err.strip().splitlines() if l.startswith("dlbootcamp bench: error:")]
    assert "Traceback" not in err and len(lines) == 1, err
    return lines[0].removeprefix("dlbootcamp bench: error: ")


def test_every_format_in_one_table_with_progress(cli, tiny):
    code, out, err = cli("bench", tiny["tiny.keras"], tiny["tiny.fp32.tflite"], tiny["tiny.int8.tflite"],
                         tiny["tiny.onnx"], "--runs", 10, "--warmup", 2)
    assert code == 0, err
    rows = [l.split()[:4] for l in out.splitlines() if l.startswith("tiny.")]
    assert rows == [["tiny.keras", "keras", "fp32", "eager"], ["tiny.keras", "keras", "fp32", "tf.function"],
                    ["tiny.fp32.tflite", "tflite", "fp32", "1"], ["tiny.int8.tflite", "tflite", "int8", "1"],
                    ["tiny.onnx", "onnx", "fp32", "1"]]
    assert out.startswith("machine: ") and "tensorflow" in out.splitlines()[0]
    # the progress bar's result lines, one per benchmark, on stderr
    # (Keras says threads=N only when TensorFlow accepted the setting: not once it has started)
    lines = [l.split(":")[0].replace(" threads=1", "") for l in err.splitlines() if l.startswith("[")]
    assert lines == ["[1/5] tiny.keras [eager] batch=1", "[2/5] tiny.keras [tf.function] batch=1",
                     "[3/5] tiny.fp32.tflite batch=1", "[4/5] tiny.int8.tflite batch=1", "[5/5] tiny.onnx batch=1"]


def test_json_is_one_document_with_the_schema(cli, tiny, tmp_path):
    code, out, err = cli("bench", tiny["tiny.fp32.tflite"], tiny["tiny.onnx"], "--runs", 8, "--warmup", 1,
                         "--threads", "1,2", "--batch", 3, "--json", "--out", tmp_path / "b.json")
    assert code == 0, err
    doc = json.loads(out)  # nothing else on stdout
    assert doc["schema"] == "dlbootcamp.bench/1" and doc["tool"] == "dlbootcamp bench"
    assert doc["settings"] == {"threads": [1, 2], "runs": 8, "warmup": 1, "batch": 3, "max_secs": 30.0,
                               "inputs": None, "xnnpack": True}
    assert [(r["name"], r["threads"], r["batch"], r["runs"]) for r in doc["results"]] == [
        ("tiny.fp32.tflite", 1, 3, 8), ("tiny.fp32.tflite", 2, 3, 8), ("tiny.onnx", 1, 3, 8), ("tiny.onnx", 2, 3, 8)]
    assert all(tuple(r) == db.RESULT_FIELDS for r in doc["results"])
    assert not [l for l in err.splitlines() if l.startswith("[")]  # no progress bar in --json mode
    assert json.loads((tmp_path / "b.json").read_text()) == doc


def test_run_benchmarks_api_for_the_tour(tiny):
    x = np.random.default_rng(0).uniform(0, 1, (4, 8, 8)).astype(np.float32)
    results = bench.run_benchmarks([tiny["tiny.keras"], tiny["tiny.int8.tflite"]], threads=(1,), runs=5,
                                   warmup=1, batch=2, inputs={"image": x})
    assert [(r["format"], r["variant"]) for r in results] == [("keras", "eager"), ("keras", "tf.function"),
                                                              ("tflite", "interpreter")]
    assert all(r["inputs"] == "--inputs" and r["input_shapes"] == {"image": [2, 8, 8]} for r in results)
    keras_eager, keras_fn, lite = results
    assert keras_eager["runtime"] == "tensorflow" and keras_eager["runtime_version"]
    # tracing happens on the first call of the tf.function: it is reported, not hidden
    assert keras_fn["first_inference_ms"] > keras_fn["latency_ms"]["p50"]
    assert lite["quantization"] == "int8" and lite["xnnpack"] is True


def test_keras_runs_once_per_thread_setting_tensorflow_accepts(tiny):
    results = bench.run_benchmarks([tiny["tiny.keras"]], threads=(1, 2), runs=3, warmup=1)
    threads = {r["threads"] for r in results}
    # TensorFlow fixes its pools at start-up: one setting, reported as it is, never two fake rows
    assert len(results) == 2 and len(threads) == 1


def test_tflite_and_onnx_do_not_import_tensorflow(tiny, tmp_path):
    code = (f"import sys; from dlbootcamp.app.cli import main; "
            f"rc = main(['bench', {tiny['tiny.fp32.tflite']!r}, {tiny['tiny.onnx']!r}, '--runs', '3', '--json']); "
            f"print('TF_LOADED', 'tensorflow' in sys.modules, 'keras' in sys.modules, rc, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert "TF_LOADED False False 0" in proc.stderr, proc.stderr
    assert len(json.loads(proc.stdout)["results"]) == 2


def test_help_has_examples(cli):
    code, out, _ = cli("bench", "--help")
    assert code == 0 and "examples:" in out and "--no-xnnpack" in out and "dlbootcamp.bench/1" in out


# --- bad input --------------------------------------------------------------------------------

def test_missing_unknown_and_corrupt_artifacts(cli, tmp_path):
    code, _, err = cli("bench", tmp_path / "gone.tflite")
    assert code == 2 and error_line(err) == (f"{tmp_path / 'gone.tflite'} does not exist or is not a file; "
                                             f"expected an exported .tflite, .onnx or .keras model.")
    (tmp_path / "m.h5").write_bytes(b"x")
    code, _, err = cli("bench", tmp_path / "m.h5")
    assert code == 2 and error_line(err) == (f"{tmp_path / 'm.h5'}: unknown artifact type '.h5'; expected .tflite, "
                                             f".onnx or .keras.")
    (tmp_path / "broken.tflite").write_bytes(b"garbage")
    code, _, err = cli("bench", tmp_path / "broken.tflite", "--runs", 2)
    assert code == 2 and error_line(err).startswith(f"{tmp_path / 'broken.tflite'} is not a loadable TFLite model (")
    (tmp_path / "broken.keras").write_bytes(b"not a zip")
    code, _, err = cli("bench", tmp_path / "broken.keras", "--runs", 2)
    assert code == 2
    line = error_line(err)
    assert line.startswith(f"{tmp_path / 'broken.keras'} is not a loadable Keras model (")
    assert line.endswith("re-save it with model.save(...) or retrain with `dlbootcamp train`.")


def test_bad_settings_and_inputs(cli, tiny, tmp_path):
    code, _, err = cli("bench", tiny["tiny.fp32.tflite"], "--threads", "2,x")
    assert code == 2 and error_line(err) == "--threads must be positive integers such as 1,2,4; got '2,x'."
    code, _, err = cli("bench", tiny["tiny.fp32.tflite"], "--runs", -3)
    assert code == 2 and error_line(err) == "--runs must be a positive integer; got -3."
    np.savez(tmp_path / "wrong.npz", image=np.zeros((1, 4, 4), np.float32))
    code, _, err = cli("bench", tiny["tiny.keras"], "--inputs", tmp_path / "wrong.npz", "--runs", 2)
    assert code == 2 and error_line(err) == ("input 'image' has shape [1, 4, 4]; the model expects [-1, 8, 8] "
                                             "(-1 = any size). Feed arrays of that shape (see the sidecar).")
    code, _, err = cli("bench", tiny["tiny.onnx"], "--inputs", tmp_path / "missing.npz")
    assert code == 2 and error_line(err).startswith(f"--inputs {tmp_path / 'missing.npz'} does not exist;")
    code, _, err = cli("bench", tiny["tiny.onnx"], "--runs", 2, "--out", tmp_path / "adir")
    assert code == 0  # a folder that does not exist yet is created...
    (tmp_path / "file").write_text("x")
    code, _, err = cli("bench", tiny["tiny.onnx"], "--runs", 2, "--out", tmp_path / "file" / "b.json")
    assert code == 2 and error_line(err) == (f"--out {tmp_path / 'file' / 'b.json'} cannot be written "
                                             f"({tmp_path / 'file'} is not a writable folder); choose another path.")


def test_api_errors_are_user_errors(tiny, tmp_path):
    from dlbootcamp.errors import UserError

    with pytest.raises(UserError, match=r"^no artifact given; pass one or more \.tflite, \.onnx or \.keras files\.$"):
        bench.run_benchmarks([])
    with pytest.raises(UserError, match=r"^unknown Keras variant 'xla'; expected one of eager, tf\.function\.$"):
        bench.KerasRunner(tiny["tiny.keras"], "xla")
    (tmp_path / "x.json").write_text("[1, 2]")
    with pytest.raises(UserError, match=r"has schema 'list'; expected 'dlbootcamp\.bench/1' \(the output of "):
        bench.read(tmp_path / "x.json")
    (tmp_path / "y.json").write_text("{oops")
    with pytest.raises(UserError, match=r"y\.json is not a readable JSON file \(.*\); expected the output of "
                                        r"`dlbootcamp bench --json` or device_bench\.py --json\.$"):
        bench.read(tmp_path / "y.json")


def test_a_run_folder_stands_for_its_exported_artifacts(tiny, tmp_path):
    import shutil

    run = tmp_path / "run"
    (run / "export").mkdir(parents=True)
    for name in ("tiny.fp32.tflite", "tiny.onnx"):
        shutil.copy(tiny[name], run / "export" / name)
    assert [pathlib.Path(p).name for p in bench.check_paths([run])] == ["tiny.fp32.tflite", "tiny.onnx"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(bench.BenchError, match="dlbootcamp export"):
        bench.check_paths([tmp_path / "empty"])


def test_memory_of_an_artifact_beside_a_keras_file_is_its_own(tiny):
    """#25: an int8 TFLite file benchmarked after a .keras one (TensorFlow in the process) reports the
    memory it reports alone, within 20%: each .tflite/.onnx runs in a process of its own."""
    beside = bench.run_benchmarks([tiny["tiny.keras"], tiny["tiny.int8.tflite"]], runs=5, warmup=1)
    alone = bench.run_benchmarks([tiny["tiny.int8.tflite"]], runs=5, warmup=1)
    keras_rss, lite, lite_alone = beside[0]["peak_rss_mb"], beside[-1]["peak_rss_mb"], alone[0]["peak_rss_mb"]
    assert abs(lite - lite_alone) <= 0.2 * lite_alone, (lite, lite_alone, keras_rss)
    assert lite < keras_rss / 2, (lite, keras_rss)  # TensorFlow's hundreds of MB are not the artifact's
    assert beside[-1]["memory_measured_in"] == alone[0]["memory_measured_in"] == "a process of its own"
    assert beside[0]["memory_measured_in"] == "this process (TensorFlow included)"


def test_bench_of_a_trained_keras_file_prints_no_library_warning(tmp_path):
    """#25: a .keras file saved after training (optimizer state inside) benchmarks without Keras'
    "Skipping variable loading for optimizer" or any other library warning on stderr."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,), name="x")
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="probs")(inputs), name="trained")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(np.zeros((8, 6), np.float32), np.zeros(8, np.int64), epochs=1, verbose=0)
    model.save(tmp_path / "trained.keras")
    code = "import sys; from dlbootcamp.app.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", code, "bench", str(tmp_path / "trained.keras"), "--runs", "3",
                           "--warmup", "1"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    noise = [l for l in proc.stderr.splitlines() if not l.startswith("[")]  # the progress lines are ours
    assert noise == [], noise
