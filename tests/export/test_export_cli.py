"""`dlbootcamp export` and `dlbootcamp verify`: the happy paths and every one-line error."""

import json
import os
import zipfile

import numpy as np
import pytest

ARTIFACTS = ("model.fp32.tflite", "model.fp16.tflite", "model.dynamic.tflite", "model.int8.tflite",
             "model.int8-full.tflite", "model.onnx", "model.int8.onnx", "model.micro.tflite")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """A quick `training` run folder (seconds), shared by the tests that need a real run."""
    from dlbootcamp import records, registry

    module = registry.load("training")
    folder, _ = records.train_lesson(module, module.Config.quick(), out=tmp_path_factory.mktemp("runs"),
                                     quick=True, name="quick", verbose=False)
    return folder


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,), name="x")
    hidden = keras.layers.Dense(16, activation="relu", name="hidden")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="probs")(hidden), name="tiny")
    model.get_layer("probs").set_weights([w * 6 for w in model.get_layer("probs").get_weights()])
    path = tmp_path_factory.mktemp("keras") / "tiny.keras"
    model.save(path)
    return path


def _one_line_error(code, err, expected_start):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(expected_start), lines[0]
    return lines[0]


# --- the main path: a run folder -------------------------------------------------------------------

def test_export_of_a_quick_training_run_writes_eight_checked_artifacts(cli, quick_run):
    code, out, err = cli("export", quick_run)
    assert code == 0, err
    export = quick_run / "export"
    for name in ARTIFACTS:
        assert (export / name).is_file() and (export / f"{name}.json").is_file()
    report = json.loads((export / "model.export-report.json").read_text())
    assert report["passed"] and report["lesson"] == "training" and report["metric"] == "test_accuracy"
    rows = {os.path.basename(r["path"]): r for r in report["rows"]}
    assert set(rows) == set(ARTIFACTS) and all(r["passed"] for r in rows.values())
    assert rows["model.fp32.tflite"]["max_abs_error"] <= 1e-4 and rows["model.onnx"]["max_abs_error"] <= 1e-4
    assert rows["model.int8.tflite"]["metric_value"] is not None
    assert rows["model.int8.tflite"]["size_ratio"] < 0.6
    assert rows["model.int8-full.tflite"]["metric_value"] is not None  # both int8 interfaces: the lesson's metric
    sidecar = json.loads((export / "model.int8-full.tflite.json").read_text())
    assert sidecar["lesson"] == "training" and sidecar["labels"] == [str(d) for d in range(10)]
    assert sidecar["inputs"][0]["dtype"] == "int8" and sidecar["inputs"][0]["range"] == [0.0, 1.0]
    float_interface = json.loads((export / "model.int8.tflite.json").read_text())
    assert float_interface["inputs"][0]["dtype"] == "float32" and float_interface["outputs"][0]["dtype"] == "float32"
    micro = rows["model.micro.tflite"]  # by default where the model fits a board: TFLite Micro, with its C source
    assert micro["format"] == "micro" and micro["arena_bytes"] > 0 and micro["metric_value"] is not None
    assert (export / "model_model_data.h").is_file() and (export / "model_model_data.cc").is_file()
    assert "microcontroller, model.micro.tflite: tensor arena" in out
    header = out.splitlines()[0].split()
    assert header == ["artifact", "format", "quant", "size", "x", "fp32", "max", "abs", "err", "top-1", "metric",
                      "passed"]
    assert "model.int8.tflite" in out and "test_accuracy" in out

    # A second export to the same place is refused, and --force replaces it.
    code, _, err = cli("export", quick_run)
    _one_line_error(code, err, f"dlbootcamp export: error: {export / 'model.fp32.tflite'} already exists (and 18 "
                               f"more) and would be overwritten; choose another --out folder or pass --force")
    code, _, err = cli("export", quick_run, "--to", "onnx", "--force", "--json")
    assert code == 0, err

    # verify: the parity check alone, against the run's model.
    code, out, err = cli("verify", export / "model.fp16.tflite", "--reference", quick_run / "model.keras")
    assert code == 0, err
    assert "model.fp16.tflite" in out and "yes" in out


def test_run_folder_errors(cli, quick_run, tmp_path):
    code, _, err = cli("export", quick_run, "--inputs", tmp_path / "x.npz")
    _one_line_error(code, err, "dlbootcamp export: error: --inputs and --calibration apply to a .keras SOURCE; a "
                               "run folder is exported with its lesson's own held-out and calibration data.")
    code, _, err = cli("export", tmp_path)
    _one_line_error(code, err, f"dlbootcamp export: error: {tmp_path} is not a run folder (missing config.json, "
                               f"metrics.json); expected a folder written by `dlbootcamp train`.")
    partial = tmp_path / "no-model"
    partial.mkdir()
    for name in ("metrics.json", "config.json"):
        (partial / name).write_bytes((quick_run / name).read_bytes())
    code, _, err = cli("export", partial)
    _one_line_error(code, err, f"dlbootcamp export: error: {partial} is not a complete run folder (missing "
                               f"model.keras); expected a folder written by `dlbootcamp train`.")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for name in ("metrics.json", "model.keras"):
        (damaged / name).write_bytes((quick_run / name).read_bytes())
    (damaged / "config.json").write_text(json.dumps({"lesson": "training", "config": {"hiden": 3}}))
    code, _, err = cli("export", damaged, "--out", tmp_path / "out")
    _one_line_error(code, err, f"dlbootcamp export: error: {damaged}/config.json does not match lesson 'training''s "
                               f"Config (Unknown config fields ['hiden']")


# --- a bare .keras file ------------------------------------------------------------------------------

def test_export_of_a_keras_file_with_npz_inputs(cli, keras_file, tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "held_out.npz", x=rng.uniform(0, 1, (40, 6)).astype("float32"))
    np.savez(tmp_path / "calib.npz", x=rng.uniform(0, 1, (80, 6)).astype("float32"))
    code, out, err = cli("export", keras_file, "--out", tmp_path / "out", "--inputs", tmp_path / "held_out.npz",
                         "--calibration", tmp_path / "calib.npz", "--quantize", "fp32,int8", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert [os.path.basename(r["path"]) for r in report["rows"]] == ["tiny.fp32.tflite", "tiny.int8.tflite",
                                                                     "tiny.onnx", "tiny.int8.onnx",
                                                                     "tiny.micro.tflite"]
    int8 = report["rows"][1]
    assert int8["passed"] and int8["top1_agreement"] >= 0.9 and int8["judged_by"].startswith("top-1 agreement")
    assert report["notes"] == []  # real inputs were given


def test_keras_file_defaults_to_export_beside_it_and_generated_inputs(cli, keras_file):
    code, out, err = cli("export", keras_file, "--quantize", "fp32,fp16,dynamic", "--to", "tflite")
    assert code == 0, err
    assert sorted(p.name for p in (keras_file.parent / "export").glob("*.tflite")) == [
        "tiny.dynamic.tflite", "tiny.fp16.tflite", "tiny.fp32.tflite"]
    assert "note: tiny: parity checked on 64 generated inputs (no held-out data given)" in out


def test_source_errors(cli, tmp_path):
    code, _, err = cli("export", tmp_path / "nowhere")
    _one_line_error(code, err, f"dlbootcamp export: error: {tmp_path / 'nowhere'} does not exist; expected a run "
                               f"folder from `dlbootcamp train` or a .keras file.")
    (tmp_path / "notes.txt").write_text("hello")
    code, _, err = cli("export", tmp_path / "notes.txt")
    _one_line_error(code, err, f"dlbootcamp export: error: {tmp_path / 'notes.txt'} is not a .keras file (suffix "
                               f"'.txt'); expected a model saved with model.save('NAME.keras')")
    (tmp_path / "broken.keras").write_bytes(b"these are not the bytes of a zip archive")
    code, _, err = cli("export", tmp_path / "broken.keras")
    _one_line_error(code, err, f"dlbootcamp export: error: {tmp_path / 'broken.keras'} is damaged or not a Keras "
                               f"archive (not a zip file); re-save the model with model.save('broken.keras').")
    with zipfile.ZipFile(tmp_path / "empty.keras", "w") as z:
        z.writestr("config.json", "{not json")
    code, _, err = cli("export", tmp_path / "empty.keras", "--quantize", "fp32")
    _one_line_error(code, err, f"dlbootcamp export: error: {tmp_path / 'empty.keras'} could not be loaded as a "
                               f"Keras model (")


def test_unreadable_keras_file(monkeypatch, tmp_path):
    from dlbootcamp.errors import UserError
    from dlbootcamp.export import keras_io

    path = tmp_path / "locked.keras"
    path.write_bytes(b"")
    monkeypatch.setattr(os, "access", lambda p, mode: False)  # tests run as root, where chmod 000 still reads
    with pytest.raises(UserError, match=r"locked\.keras is not readable \(permission denied\); fix its permissions"):
        keras_io.check_keras_path(path)


def test_choice_errors(cli, keras_file):
    code, _, err = cli("export", keras_file, "--to", "tflite,coreml")
    _one_line_error(code, err, "dlbootcamp export: error: Invalid --to tflite,coreml: unknown name 'coreml'; "
                               "expected a comma-separated list of tflite, onnx, micro.")
    code, _, err = cli("export", keras_file, "--quantize", "fp32,int4,bf16")
    _one_line_error(code, err, "dlbootcamp export: error: Invalid --quantize fp32,int4,bf16: unknown names 'int4', "
                               "'bf16'; expected a comma-separated list of fp32, fp16, dynamic, int8, int8-full.")
    code, _, err = cli("export", keras_file, "--quantize", " , ")
    _one_line_error(code, err, "dlbootcamp export: error: Invalid --quantize ' , ': no name given; expected a "
                               "comma-separated list of fp32, fp16, dynamic, int8, int8-full.")


def test_keras_file_without_calibration_skips_int8_with_a_note(cli, keras_file, tmp_path):
    code, out, err = cli("export", keras_file, "--out", tmp_path)
    assert code == 0, err
    note = ("tiny.int8.tflite and tiny.int8-full.tflite not written: int8 needs calibration data; pass "
            "--calibration FILE.npz with a few hundred representative inputs")
    assert f"note: {note}" in err and f"note: {note}" in out
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".tflite", ".onnx")) == [
        "tiny.dynamic.tflite", "tiny.fp16.tflite", "tiny.fp32.tflite", "tiny.onnx"]
    report = json.loads((tmp_path / "tiny.export-report.json").read_text())
    assert report["passed"] and note in report["notes"]


def test_int8_asked_for_without_calibration_is_refused(cli, keras_file, tmp_path):
    code, _, err = cli("export", keras_file, "--out", tmp_path, "--quantize", "fp32,int8")
    _one_line_error(code, err, "dlbootcamp export: error: int8 quantization of tiny.keras needs calibration data: "
                               "pass --calibration FILE.npz with a few hundred representative inputs")
    assert not list(tmp_path.iterdir())  # refused before anything was written


def test_two_models_exported_into_one_folder_do_not_collide(cli, keras_file, tmp_path):
    other = tmp_path / "other.keras"
    other.write_bytes(keras_file.read_bytes())
    for source in (keras_file, other):
        code, _, err = cli("export", source, "--out", tmp_path / "out", "--to", "onnx")
        assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").glob("*.export-report.json")) == [
        "other.export-report.json", "tiny.export-report.json"]


def test_npz_errors(cli, keras_file, tmp_path):
    np.savez(tmp_path / "two.npz", a=np.zeros((3, 6)), b=np.zeros((3, 6)))
    code, _, err = cli("export", keras_file, "--out", tmp_path / "o", "--quantize", "fp32", "--inputs",
                       tmp_path / "two.npz")
    _one_line_error(code, err, f"dlbootcamp export: error: --inputs {tmp_path / 'two.npz'} holds arrays ['a', 'b']; "
                               f"the model's inputs are ['x']. Save one array per input, named after it: "
                               f"numpy.savez(FILE, x=...).")
    (tmp_path / "bad.npz").write_text("not an npz")
    code, _, err = cli("export", keras_file, "--out", tmp_path / "o", "--quantize", "fp32", "--calibration",
                       tmp_path / "bad.npz")
    _one_line_error(code, err, f"dlbootcamp export: error: --calibration {tmp_path / 'bad.npz'} is not a readable "
                               f".npz file (")
    np.savez(tmp_path / "wrong_shape.npz", x=np.zeros((3, 5), "float32"))
    code, _, err = cli("export", keras_file, "--out", tmp_path / "o", "--quantize", "fp32", "--inputs",
                       tmp_path / "wrong_shape.npz")
    _one_line_error(code, err, "dlbootcamp export: error: Parity inputs for input 'x' of 'tiny' has shape [3, 5]; "
                               "the model expects ['N', 6].")


def test_lambda_layers_need_unsafe(cli, tmp_path):
    import keras

    inputs = keras.Input((4,), name="x")
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2.0, name="double")(inputs), name="lam")
    model.save(tmp_path / "lam.keras")
    code, _, err = cli("export", tmp_path / "lam.keras", "--to", "onnx")
    _one_line_error(code, err, f"dlbootcamp export: error: {tmp_path / 'lam.keras'} contains a Lambda layer, whose "
                               f"Python code would run on loading, and safe mode refuses it; pass --unsafe only if "
                               f"you trust this file")
    code, out, err = cli("export", tmp_path / "lam.keras", "--to", "onnx", "--unsafe")
    assert code == 0, err
    assert (tmp_path / "export" / "lam.onnx").is_file()


# --- verify -------------------------------------------------------------------------------------------

def test_verify_errors_and_failed_checks(cli, keras_file, tmp_path):
    import keras

    code, _, err = cli("verify", tmp_path / "none.tflite", "--reference", keras_file)
    _one_line_error(code, err, f"dlbootcamp verify: error: {tmp_path / 'none.tflite'} does not exist or is not a "
                               f"file; expected an exported .tflite or .onnx model.")
    (tmp_path / "junk.tflite").write_bytes(b"junk")
    code, _, err = cli("verify", tmp_path / "junk.tflite", "--reference", keras_file)
    _one_line_error(code, err, f"dlbootcamp verify: error: {tmp_path / 'junk.tflite'} is not a loadable TFLite model")
    code, _, err = cli("verify", keras_file, "--reference", keras_file)
    _one_line_error(code, err, f"dlbootcamp verify: error: {keras_file}: unknown artifact type '.keras'; expected "
                               f".tflite or .onnx.")

    code, _, err = cli("export", keras_file, "--out", tmp_path / "o", "--to", "onnx")
    assert code == 0, err
    other = keras.saving.load_model(keras_file)
    other.set_weights([w + 0.05 for w in other.get_weights()])
    other.save(tmp_path / "other.keras")
    code, out, err = cli("verify", tmp_path / "o" / "tiny.onnx", "--reference", tmp_path / "other.keras")
    line = _one_line_error(code, err, "dlbootcamp verify: error: 1 export check failed: tiny.onnx: output 'probs' "
                                      "differs from Keras by up to ")
    assert line.endswith("beyond the fp32 tolerance atol 0.0001 + rtol 0.0001 x |keras|")
    assert "NO" in out  # the table still shows what was measured


def test_keras_path_and_npz_errors(tmp_path):
    from dlbootcamp.errors import UserError
    from dlbootcamp.export import keras_io

    with pytest.raises(UserError, match=r"nothing\.keras does not exist; expected a \.keras model file or a run "
                                        r"folder from `dlbootcamp train`\.$"):
        keras_io.check_keras_path(tmp_path / "nothing.keras")
    (tmp_path / "folder.keras").mkdir()
    with pytest.raises(UserError, match=r"folder\.keras is not a file; expected a \.keras model file\.$"):
        keras_io.check_keras_path(tmp_path / "folder.keras")
    with pytest.raises(UserError, match=r"^--inputs .*missing\.npz does not exist; expected a \.npz file written "
                                        r"by numpy\.savez with one array per model input\.$"):
        keras_io.read_npz(tmp_path / "missing.npz", ["image", "meta"], flag="--inputs")
    np.savez(tmp_path / "uneven.npz", image=np.zeros((3, 2)), meta=np.zeros((4, 2)))
    with pytest.raises(UserError, match=r"^--calibration .*uneven\.npz: the input arrays have different numbers of "
                                        r"samples \[3, 4\]; expected the same number of rows in each\.$"):
        keras_io.read_npz(tmp_path / "uneven.npz", ["image", "meta"], flag="--calibration")


def test_pipeline_errors(cli, quick_run, tmp_path):
    import types

    from dlbootcamp.app import pipeline
    from dlbootcamp.errors import UserError

    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for name in ("metrics.json", "model.keras"):
        (damaged / name).write_bytes((quick_run / name).read_bytes())
    (damaged / "config.json").write_text(json.dumps({"quick": True}))
    code, _, err = cli("export", damaged)
    _one_line_error(code, err, f"dlbootcamp export: error: {damaged}/config.json has no lesson id and config; the "
                               f"run folder is damaged (expected what `dlbootcamp train` writes).")
    lesson = types.SimpleNamespace(LESSON=types.SimpleNamespace(id="two-models"),
                                   representative_data=lambda data, n, split: np.zeros((n, 2)))
    with pytest.raises(UserError, match=r"^Lesson 'two-models' exports encoder, decoder but representative_data "
                                        r"returned one ndarray; expected a dict export name -> inputs\.$"):
        pipeline._lesson_inputs(lesson, None, ["encoder", "decoder"], "test")


def test_profile_script_breaks_fp32_and_int8_onnx_down_by_operator(cli, quick_run, tmp_path):
    import subprocess
    import sys

    export = quick_run / "export"
    if not (export / "model.int8.onnx").exists():
        code, _, err = cli("export", quick_run)
        assert code == 0, err
    script = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "profile.py")
    out, md = tmp_path / "profile.json", tmp_path / "bench.md"
    done = subprocess.run([sys.executable, script, str(export), "--runs", "3", "--batch", "4", "--json", str(out),
                           "--markdown", str(md)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    fp32, int8 = result["models"]["model.onnx"], result["models"]["model.int8.onnx"]
    assert fp32["total_us"] > 0 and int8["total_us"] > 0
    assert not any(op.startswith("Quantize") for op in fp32["ops"])
    assert "QuantizeLinear" in int8["ops"] and "DequantizeLinear" in int8["ops"]  # a really quantized graph
    assert "<!-- profile:begin -->" in md.read_text() and "| **whole run** |" in md.read_text()
    done = subprocess.run([sys.executable, script, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "export a run first" in done.stderr
