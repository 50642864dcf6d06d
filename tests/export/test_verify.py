"""Parity checks: the numbers, the rules, the wording of failures, and the report."""

import json

import numpy as np
import pytest

from dlbootcamp.errors import ExportError, UserError


# --- the numbers ---------------------------------------------------------------------------------

def test_compare_measures_abs_rel_and_top1():
    from dlbootcamp.export import verify

    ref = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.3, 0.3, 0.4]])
    got = ref + np.array([[0.0, 0.0, 0.0], [0.0, -0.2, 0.2], [0.0, 0.0, 0.01]])
    d = verify.compare("probs", ref, got, atol=1e-4)
    assert d.max_abs_error == pytest.approx(0.2)
    assert d.max_rel_error == pytest.approx(0.2 / 0.7)
    assert d.top1_agreement == pytest.approx(2 / 3)  # the second row's arg-max moved
    assert d.worst_excess > 0
    assert verify.compare("probs", ref, ref + 5e-5).worst_excess <= 0  # inside atol 1e-4 + rtol 1e-4


def test_classifier_like_means_probabilities_on_the_last_axis():
    from dlbootcamp.export import verify

    assert verify.is_classifier(np.array([[0.2, 0.8], [0.5, 0.5]]))
    assert not verify.is_classifier(np.array([[2.0, -1.0], [0.5, 0.5]]))  # logits
    assert not verify.is_classifier(np.array([[0.2], [0.9]]))  # one sigmoid unit
    assert not verify.is_classifier(np.array([[0.2, 0.3], [0.5, 0.4]]))  # rows do not sum to 1


# --- the rules and their wording ------------------------------------------------------------------

def test_failure_messages_name_output_difference_and_tolerance():
    from dlbootcamp.export import verify

    ref = np.array([[0.9, 0.1], [0.2, 0.8]])
    diffs = [verify.compare("probs", ref, ref + 0.05, atol=1e-2)]
    assert verify.judge_exact("m.fp16.tflite", "fp16", diffs) == [
        "m.fp16.tflite: output 'probs' differs from Keras by up to 0.05 (max abs; mean 0.05, top-1 agreement 1.0000), "
        "beyond the fp16 tolerance atol 0.01 + rtol 0.01 x |keras|"]
    values = np.linspace(0, 1, 10)[:, None]  # not classifier-like: no agreement to report
    assert verify.judge_exact("m.tflite", "fp32", [verify.compare("value", values, values + 0.001)]) == [
        "m.tflite: output 'value' differs from Keras by up to 0.001 (max abs; mean 0.001), beyond the fp32 tolerance "
        "atol 0.0001 + rtol 0.0001 x |keras|"]
    assert verify.judge_metric("m.int8.tflite", "test_accuracy", 0.93, 0.95, 0.01, True) == [
        "m.int8.tflite: test_accuracy 0.9300 vs Keras 0.9500 (-0.0200), beyond the quantized tolerance 0.01"]
    assert verify.judge_metric("m.int8.tflite", "test_accuracy", 0.945, 0.95, 0.01, True) == []
    assert verify.judge_metric("m.int8.tflite", "mae", 0.50, 0.40, 0.05, False) == [
        "m.int8.tflite: mae 0.5000 vs Keras 0.4000 (+0.1000), beyond the quantized tolerance 0.05"]
    flipped = np.array([[0.1, 0.9], [0.2, 0.8]])
    values = np.linspace(0, 1, 10)[:, None]
    assert verify.judge_without_metric("m.int8.tflite", [verify.compare("probs", ref, flipped)]) == [
        "m.int8.tflite: output 'probs' top-1 agreement with Keras 0.500, below the tolerance 0.9"]
    assert verify.judge_without_metric("m.int8.tflite", [verify.compare("value", values, values + 0.1)]) == [
        "m.int8.tflite: output 'value' mean abs error 0.1, beyond the tolerance 0.05 x output spread 1 = 0.05"]
    assert verify.judge_without_metric("m.int8.tflite", [verify.compare("value", values, values + 0.04)]) == []


def test_report_collects_every_failure_into_one_error(tmp_path):
    from dlbootcamp.export import api

    report = api.ExportReport(rows=[], out_dir=tmp_path, failures=["a.tflite: first", "b.onnx: second"])
    report.write()
    with pytest.raises(ExportError) as info:
        report.raise_if_failed()
    assert str(info.value) == (f"2 export checks failed: a.tflite: first; b.onnx: second. "
                               f"Details: {tmp_path / 'export-report.json'}")
    assert "\n" not in str(info.value)
    api.ExportReport(rows=[], out_dir=tmp_path).raise_if_failed()  # nothing failed: no error


# --- running artifacts in Keras order --------------------------------------------------------------

def _crossed_model():
    """Inputs and outputs whose names sort in another order than the model's (not a mere swap)."""
    import keras

    keras.utils.set_random_seed(1)
    inputs = [keras.Input((3,), name="mu"), keras.Input((2,), name="zeta"), keras.Input((4,), name="alpha")]
    joined = keras.layers.Concatenate(name="join")(inputs)
    return keras.Model(inputs, [keras.layers.Dense(2, name="ypsilon")(joined),
                                keras.layers.Dense(4, activation="softmax", name="beta")(joined),
                                keras.layers.Dense(1, name="gamma")(joined)])


def test_artifacts_are_fed_and_read_by_name_not_position(make_inputs, tmp_path):
    from dlbootcamp.export import device_bench, serving, tflite, verify

    model = _crossed_model()
    path = tmp_path / "crossed.tflite"
    path.write_bytes(tflite.convert(model, "fp32").content)
    runner = device_bench.open_artifact(str(path))
    assert [t.name for t in runner.inputs] == ["alpha", "mu", "zeta"]  # LiteRT sorts signature names
    assert [t.name for t in runner.outputs] == ["beta", "gamma", "ypsilon"]
    predict = verify.artifact_predict(runner, serving.signature(model))
    xs = make_inputs(model, 6)
    want = model.predict(xs, verbose=0)
    for got, expected in zip(predict(xs), want):
        np.testing.assert_allclose(got, expected, atol=1e-5)
    like_keras = verify.structured(predict, model)  # what a lesson's evaluate() receives
    out = like_keras({"zeta": xs[1], "alpha": xs[2], "mu": xs[0]})
    assert isinstance(out, list) and [o.shape for o in out] == [(6, 2), (6, 4), (6, 1)]
    np.testing.assert_allclose(out[2], want[2], atol=1e-5)
    wrong = serving.Signature(serving.signature(model).inputs[:1], serving.signature(model).outputs)
    with pytest.raises(device_bench.ArtifactError, match=r"^the artifact's inputs are named alpha, mu, zeta; the "
                                                         r"Keras model's are mu\. Verify the artifact against the"):
        verify.artifact_predict(runner, wrong)


# --- export_and_verify: metric, overwrite, verify_artifact -----------------------------------------

def test_quantized_artifacts_are_judged_by_the_metric(dense_model, make_inputs, tmp_path):
    from dlbootcamp.export import api

    held_out = make_inputs(dense_model, 40, seed=7)[0]
    keras_probs = dense_model.predict(held_out, verbose=0)

    def evaluate(predict):  # a metric no quantized model can match exactly
        return {"closeness": -float(np.abs(predict(held_out) - keras_probs).mean())}

    report = api.export_and_verify({"m": dense_model}, tmp_path, inputs=held_out, formats="tflite",
                                   quantizations="fp32,int8", calibration=make_inputs(dense_model, 50, seed=8),
                                   evaluate=evaluate, metric="closeness", quantized_tolerance=0.0)
    fp32, int8 = report.rows
    assert fp32["passed"] and fp32["metric_value"] == pytest.approx(0.0, abs=1e-5)
    assert int8["passed"] is False and int8["judged_by"] == "closeness within 0 of Keras"
    assert report.reference_metric_value == pytest.approx(0.0, abs=1e-6)
    assert len(report.failures) == 1 and report.failures[0].startswith("m.int8.tflite: closeness -0.0")
    assert report.failures[0].endswith("beyond the quantized tolerance 0")
    saved = json.loads((tmp_path / "m.export-report.json").read_text())
    assert saved["schema"] == "dlbootcamp.export-report/1" and saved["passed"] is False


def test_existing_files_are_not_overwritten_without_force(dense_model, tmp_path):
    from dlbootcamp.export import api

    api.export_and_verify(dense_model, tmp_path, formats="onnx")
    before = (tmp_path / "dense_net.onnx").stat().st_mtime_ns
    with pytest.raises(UserError) as info:
        api.export_and_verify(dense_model, tmp_path, formats="onnx")
    assert str(info.value) == (f"{tmp_path / 'dense_net.onnx'} already exists (and 2 more) and would be "
                               f"overwritten; choose another --out folder or pass --force to replace the files.")
    assert (tmp_path / "dense_net.onnx").stat().st_mtime_ns == before
    report = api.export_and_verify(dense_model, tmp_path, formats="onnx", force=True)
    assert report.passed and not list(tmp_path.glob(".*partial*"))  # no temporary files left


def test_verify_artifact_passes_for_its_model_and_fails_for_another(dense_model, tmp_path):
    import keras

    from dlbootcamp.export import api

    dense_model.save(tmp_path / "dense.keras")
    api.export_keras_file(tmp_path / "dense.keras", quantizations="fp32", formats="tflite")
    artifact = tmp_path / "export" / "dense.fp32.tflite"
    ok = api.verify_artifact(artifact, tmp_path / "dense.keras")
    assert ok.passed and ok.rows[0]["max_abs_error"] <= 1e-4 and ok.rows[0]["second_batch_max_abs_error"] <= 1e-4
    other = keras.models.clone_model(dense_model)
    other.set_weights([w * 1.1 for w in dense_model.get_weights()])
    other.save(tmp_path / "other.keras")
    bad = api.verify_artifact(artifact, tmp_path / "other.keras")
    assert not bad.passed and bad.rows[0]["passed"] is False
    assert bad.failures[0].startswith("dense.fp32.tflite: output 'probs' differs from Keras by up to ")
    assert bad.failures[0].endswith("beyond the fp32 tolerance atol 0.0001 + rtol 0.0001 x |keras|")


# --- what export_and_verify refuses, before any work -------------------------------------------------

def test_export_and_verify_input_errors(dense_model, make_inputs, tmp_path):
    import keras

    from dlbootcamp.export import api, verify

    with pytest.raises(ExportError, match=r"^Sequential model 'unbuilt' was never built, so it has no input shape "
                                          r"and no weights to export; start it with keras\.Input\(shape=\.\.\.\) "
                                          r"\(or call model\.build\(\(None, \.\.\.\)\)\), train or load its "
                                          r"weights, and save it again\.$"):
        api.export_and_verify(keras.Sequential([keras.layers.Dense(2)], name="unbuilt"), tmp_path)
    with pytest.raises(ExportError, match=r"^int8 quantization needs calibration data \(representative model "
                                          r"inputs\) and none was given"):
        api.export_and_verify(dense_model, tmp_path, quantizations="int8")
    x = make_inputs(dense_model, 4)[0]
    with pytest.raises(ExportError, match=r"^Parity inputs for several models must be a dict model name -> inputs "
                                          r"with keys a, b; got ndarray\.$"):
        api.export_and_verify({"a": dense_model, "b": dense_model}, tmp_path, inputs=x)
    with pytest.raises(ExportError, match=r"^Parity inputs for 'm' has keys \['pixels'\]; expected the input names "
                                          r"features\.$"):
        api.export_and_verify({"m": dense_model}, tmp_path, inputs={"pixels": x})
    with pytest.raises(ExportError, match=r"^Calibration data for 'm' has 2 arrays; the model takes 1 inputs "
                                          r"\(features\)\.$"):
        api.export_and_verify({"m": dense_model}, tmp_path, calibration=[x, x])
    (tmp_path / "file").write_text("")
    with pytest.raises(UserError, match=r"--out .*file is a file; expected a folder for the exported artifacts\.$"):
        api.export_and_verify(dense_model, tmp_path / "file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # nothing was written
    with pytest.raises(verify.device_bench.ArtifactError, match=r"^output 'probs' has shape \[2, 3\]; Keras gives "
                                                                r"\[2, 4\]\.$"):
        verify.compare("probs", np.zeros((2, 4)), np.zeros((2, 3)))
