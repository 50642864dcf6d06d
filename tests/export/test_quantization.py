"""int8 that keeps the caller's metric: selective float layers (TFLite and ONNX) and ONNX int8 (#18).

The broken model: a Dense layer one of whose units fires at ~30,000 while the others stay below
~3, and the next layer ignores that unit. In float nothing changes; in int8 the layer's output
tensor gets one scale for all units (per-tensor activations), so the ordinary units quantize to
zero and the model's answer is lost. The search must rank that layer first and keep it (and the
layer reading it) in float, and the metric must come back within the budget.
"""

import json
import re

import numpy as np
import pytest

MAX_DROP = 0.01


@pytest.fixture(scope="module")
def broken():
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,), name="x")
    h = keras.layers.Dense(16, activation="relu", name="h1")(inputs)
    h = keras.layers.Dense(16, activation="relu", name="spike")(h)
    h = keras.layers.Dense(16, activation="relu", name="h3")(h)
    model = keras.Model(inputs, keras.layers.Dense(1, name="y")(h), name="spiky")
    kernel, bias = model.get_layer("spike").get_weights()
    bias[0] = 3e4  # one unit with an extreme range ...
    model.get_layer("spike").set_weights([kernel, bias])
    kernel, bias = model.get_layer("h3").get_weights()
    kernel[0, :] = 0.0  # ... that the next layer does not read: the float model does not need it
    model.get_layer("h3").set_weights([kernel, bias])
    rng = np.random.default_rng(0)
    x = {split: rng.uniform(-1, 1, (300, 4)).astype(np.float32) for split in ("train", "val", "test")}
    y = {split: model.predict(v, verbose=0) for split, v in x.items()}

    def evaluate(split):
        return lambda predict: {"mae": float(np.mean(np.abs(predict(x[split]) - y[split])))}

    return model, x, evaluate


def _export(broken, out, formats, **kwargs):
    from dlbootcamp.export import api

    model, x, evaluate = broken
    return api.export_and_verify(model, out, inputs=x["test"][:100], calibration=x["train"][:200],
                                 evaluate=evaluate("test"), validate=evaluate("val"), metric="mae",
                                 higher_is_better=False, quantized_tolerance=MAX_DROP, formats=formats,
                                 quantizations="int8", **kwargs)


def test_search_finds_the_broken_layer_and_recovers_the_metric(broken, tmp_path):
    said = []
    report = _export(broken, tmp_path, "tflite,onnx", log=said.append)
    # each artifact's scoring by the metric is announced, then its result and time (it can be long)
    scoring = [i for i, line in enumerate(said) if line == "  spiky.int8.tflite: the lesson's metric ..."]
    assert len(scoring) == 1 and re.fullmatch(r"    mae \S+ \(Keras \S+\) in \d+\.\d s", said[scoring[0] + 1])
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in report.rows}
    for name in ("spiky.int8.tflite", "spiky.int8.onnx"):
        row = rows[name]
        search = row["selective"]
        assert search["ranking"][0]["layer"] == "spike", (name, search["ranking"])
        assert search["steps"][0]["float_layers"] == [] and search["steps"][0]["metric_value"] > 3 * MAX_DROP
        assert search["met"] and row["float_layers"] == ["spike", "h3"], (name, search)
        assert search["steps"][-1]["metric_value"] <= MAX_DROP
        assert row["passed"] and row["metric_value"] <= MAX_DROP  # judged once more, on the test split
    assert report.passed, report.failures
    table = report.table()
    assert "selective float layers, spiky.int8.tflite" in table and "float spike, h3: mae" in table
    saved = json.loads(report.path.read_text())
    assert [r["float_layers"] for r in saved["rows"] if r["format"] == "tflite"] == [["spike", "h3"]]


def test_no_search_without_a_validation_metric_and_a_clear_stop_when_the_budget_cannot_hold(broken, tmp_path):
    from dlbootcamp.export import api

    model, x, evaluate = broken
    plain = api.export_and_verify(model, tmp_path / "plain", inputs=x["test"][:100], calibration=x["train"][:200],
                                  evaluate=evaluate("test"), metric="mae", higher_is_better=False,
                                  quantized_tolerance=MAX_DROP, formats="tflite", quantizations="int8")
    assert plain.rows[0]["selective"] is None and not plain.passed  # no validation: int8 as converted, failed
    # a budget nothing can meet (below what int8 loses even with the spike in float) stops with a reason
    report = _export(broken, tmp_path / "tight", "tflite", max_drop=0.0)
    search = report.rows[0]["selective"]
    assert not search["met"] and "still misses the budget" in search["stop"]
    assert any("selective float layers:" in n and "still misses" in n for n in report.notes)


def test_invalid_max_drop_is_one_line(cli, tmp_path):
    from dlbootcamp.errors import UserError
    from dlbootcamp.export import api

    with pytest.raises(UserError, match=r"^Invalid --max-drop -1: expected a number >= 0"):
        api.export_and_verify({}, tmp_path, max_drop=-1)
    keras_file = tmp_path / "m.keras"
    keras_file.write_bytes(b"")
    code, out, err = cli("export", keras_file, "--max-drop", "-0.5")
    assert code == 2 and err.strip().splitlines() == [
        "dlbootcamp export: error: Invalid --max-drop -0.5: expected a number >= 0, in the metric's own units."], err


def test_onnx_int8_is_judged_by_metric_on_a_layer_family(build_model, make_inputs, tmp_path):
    from dlbootcamp.export import api

    model = build_model("conv_bn")
    x_test, x_train = make_inputs(model, 64, seed=1)[0], make_inputs(model, 200, seed=2)[0]
    keras_top1 = model.predict(x_test, verbose=0).argmax(-1)

    def evaluate(predict):  # agreement with the Keras model's answers, as a lesson's accuracy would be
        return {"accuracy": float(np.mean(predict(x_test).argmax(-1) == keras_top1))}

    report = api.export_and_verify(model, tmp_path, inputs=x_test, calibration=x_train, evaluate=evaluate,
                                   metric="accuracy", quantized_tolerance=0.05, formats="onnx", quantizations="int8")
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in report.rows}
    assert set(rows) == {"conv_bn_net.onnx", "conv_bn_net.int8.onnx"}
    row = rows["conv_bn_net.int8.onnx"]
    assert row["passed"] and row["judged_by"] == "accuracy within 0.05 of Keras" and row["metric_value"] >= 0.95
    assert "QuantizeLinear" in row["operators"] and "DequantizeLinear" in row["operators"]
    import onnx  # the weights are stored as int8 (on a model this small, QDQ's scales outweigh the saving)

    proto = onnx.load(str(tmp_path / "conv_bn_net.int8.onnx"))
    assert any(i.data_type == onnx.TensorProto.INT8 and len(i.dims) == 4 for i in proto.graph.initializer)
    assert (tmp_path / "conv_bn_net.int8.onnx.json").is_file()
