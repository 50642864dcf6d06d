"""Every layer family the course uses exports to every format and still matches Keras.

One tiny model per family (see conftest.py): Dense, Conv + BatchNorm + pooling, Depthwise /
Separable conv, Embedding with integer inputs, GRU, LSTM, MultiHeadAttention,
Conv2DTranspose + UpSampling, and a multi-input / multi-output model. Each is exported to
TFLite fp32/fp16/dynamic/int8 and ONNX, and every artifact is run in the standalone runtime a
device would use (ai_edge_litert, onnxruntime) and compared with Keras on held-out inputs.
"""

import json
import pathlib

QUANTIZATIONS = ("fp32", "fp16", "dynamic", "int8")
RUNTIMES = {"tflite": "ai-edge-litert", "onnx": "onnxruntime"}


def test_family_exports_to_every_format_and_matches_keras(family, build_model, make_inputs, tmp_path):
    from dlbootcamp.export import api

    model = build_model(family)
    report = api.export_and_verify({family: model}, tmp_path, inputs=make_inputs(model, 24, seed=1),
                                   calibration=make_inputs(model, 64, seed=2))
    assert report.passed, report.failures
    rows = {(r["format"], r["quantization"]): r for r in report.rows}
    assert set(rows) == {("tflite", q) for q in QUANTIZATIONS} | {("onnx", "fp32")}
    for (fmt, q), row in rows.items():
        assert row["passed"] is True and row["runtime"] == RUNTIMES[fmt]
        assert pathlib.Path(row["path"]).is_file() and pathlib.Path(row["sidecar"]).is_file()
    assert rows["tflite", "fp32"]["max_abs_error"] <= 1e-4
    assert rows["onnx", "fp32"]["max_abs_error"] <= 1e-4
    assert rows["tflite", "fp16"]["max_abs_error"] <= 1e-2
    int8 = json.loads(pathlib.Path(rows["tflite", "int8"]["sidecar"]).read_text())
    float_inputs = [t for t in int8["inputs"] if not t["dtype"].startswith("int32")]
    assert all(t["dtype"] == "int8" and t["scale"] > 0 for t in float_inputs)  # full-integer I/O
    assert all(t["dtype"] == "int8" for t in int8["outputs"])

    recurrent = family in ("gru", "lstm")
    for q in QUANTIZATIONS:  # LiteRT's WHILE needs a static batch; ONNX keeps it dynamic
        assert rows["tflite", q]["batch_fixed"] == (1 if recurrent else None)
        assert any("batch fixed to 1" in c for c in rows["tflite", q]["changes"]) == recurrent
    assert rows["onnx", "fp32"]["batch_fixed"] is None
    if not recurrent:  # the fp32 re-check at another batch size ran
        assert rows["tflite", "fp32"]["second_batch_max_abs_error"] <= 1e-4
        assert rows["onnx", "fp32"]["second_batch_max_abs_error"] <= 1e-4
    if family == "embedding":  # token ids stay integers, with the vocabulary size for device code
        assert int8["inputs"] == [{"name": "tokens", "shape": [-1, 10], "dtype": "int32", "vocab_size": 50}]
    if family == "multi_io":
        assert [t["name"] for t in int8["inputs"]] == ["image", "meta"]
        assert [t["name"] for t in int8["outputs"]] == ["probs", "value"]
