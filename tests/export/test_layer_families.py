"""Every layer family the course uses, or a user brings, exports to every format and still matches Keras.

One tiny model per family (see conftest.py): Dense, Conv + BatchNorm + pooling, Depthwise /
Separable conv, Embedding with integer inputs, GRU, LSTM, MultiHeadAttention,
Conv2DTranspose + UpSampling, and a multi-input / multi-output model. Each is exported to
TFLite fp32/fp16/dynamic/int8 and ONNX, and every artifact is run in the standalone runtime a
device would use (ai_edge_litert, onnxruntime) and compared with Keras on held-out inputs.
"""

import json
import pathlib
import sys

import numpy as np
import pytest

QUANTIZATIONS = ("fp32", "fp16", "dynamic", "int8", "int8-full")
RUNTIMES = {"tflite": "ai-edge-litert", "onnx": "onnxruntime"}


def test_family_exports_to_every_format_and_matches_keras(family, build_model, make_inputs, tmp_path):
    from dlbootcamp.export import api

    model = build_model(family)
    report = api.export_and_verify({family: model}, tmp_path, inputs=make_inputs(model, 24, seed=1),
                                   calibration=make_inputs(model, 64, seed=2), formats=("tflite", "onnx"))
    assert report.passed, report.failures
    rows = {(r["format"], r["quantization"]): r for r in report.rows}
    assert set(rows) == {("tflite", q) for q in QUANTIZATIONS} | {("onnx", "fp32"), ("onnx", "int8")}
    for (fmt, q), row in rows.items():
        assert row["passed"] is True and row["runtime"] == RUNTIMES[fmt]
        assert pathlib.Path(row["path"]).is_file() and pathlib.Path(row["sidecar"]).is_file()
        assert row["operators"] and not [op for op in row["operators"] if op.startswith(("CUSTOM", "Flex"))]
        assert json.loads(pathlib.Path(row["sidecar"]).read_text())["operators"] == row["operators"]
    assert rows["tflite", "fp32"]["max_abs_error"] <= 1e-4
    assert rows["onnx", "fp32"]["max_abs_error"] <= 1e-4
    assert rows["tflite", "fp16"]["max_abs_error"] <= 1e-2
    int8 = json.loads(pathlib.Path(rows["tflite", "int8-full"]["sidecar"]).read_text())
    float_inputs = [t for t in int8["inputs"] if not t["dtype"].startswith("int32")]
    assert all(t["dtype"] == "int8" and t["scale"] > 0 for t in float_inputs)  # full-integer I/O
    assert all(t["dtype"] == "int8" for t in int8["outputs"])
    float_io = json.loads(pathlib.Path(rows["tflite", "int8"]["sidecar"]).read_text())  # int8 inside, float I/O
    assert all(t["dtype"] in ("float32", "int32") and "scale" not in t for t in float_io["inputs"])
    assert all(t["dtype"] == "float32" and "scale" not in t for t in float_io["outputs"])

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


# --- a user's own .keras file, through the CLI ------------------------------------------------------
# Each builder returns (model, inputs for --inputs or None). The model is saved to .keras and
# exported with `dlbootcamp export FILE --quantize fp32`; the report must show TFLite and ONNX
# parity at batch 1 and batch 3 (batch 1 only where a recurrent loop fixes the TFLite batch).

def _sequential_input():  # never called: Keras gives it no `input`/`output` after loading
    import keras

    return keras.Sequential([keras.Input((5,), name="features"), keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dense(3, activation="softmax")], name="seq_input"), None


def _sequential_built():  # no Input layer: built with build()
    import keras

    model = keras.Sequential([keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3)], name="seq_built")
    model.build((None, 5))
    return model, None


def _sequential_called():  # no Input layer: built by a first call
    import keras

    model = keras.Sequential([keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(2)], name="seq_called")
    model(np.zeros((1, 5), "float32"))
    return model, None


def _dict_io():
    import keras

    a, b = keras.Input((3,), name="a"), keras.Input((4,), name="b")
    h = keras.layers.Dense(6, activation="relu")(keras.layers.Concatenate()([a, b]))
    return keras.Model({"a": a, "b": b}, {"score": keras.layers.Dense(1)(h), "probs": keras.layers.Dense(
        3, activation="softmax")(h)}, name="dict_io"), None


def _list_io():
    import keras

    a, b = keras.Input((3,), name="left"), keras.Input((2, 2), name="right")
    h = keras.layers.Concatenate()([a, keras.layers.Flatten()(b)])
    return keras.Model([a, b], [keras.layers.Dense(2, name="first")(h), keras.layers.Dense(1, name="second")(h)],
                       name="list_io"), None


def _embedding_mask_gru():  # Embedding(mask_zero=True) into a GRU, zero-padded sequences
    import keras

    tokens = keras.Input((7,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(20, 4, mask_zero=True)(tokens)
    model = keras.Model(tokens, keras.layers.Dense(2)(keras.layers.GRU(5)(x)), name="mask_gru")
    rng = np.random.default_rng(3)
    ids = rng.integers(1, 20, (12, 7)).astype("int32")
    for i, length in enumerate(rng.integers(2, 8, 12)):
        ids[i, length:] = 0
    return model, {"tokens": ids}


def _masking_lstm():  # Masking into an LSTM, zero-padded time steps
    import keras

    steps = keras.Input((6, 3), name="steps")
    x = keras.layers.Masking(0.0)(steps)
    model = keras.Model(steps, keras.layers.LSTM(4)(x), name="masking_lstm")
    rng = np.random.default_rng(4)
    x = rng.uniform(0.1, 1, (12, 6, 3)).astype("float32")
    for i, length in enumerate(rng.integers(2, 7, 12)):
        x[i, length:] = 0.0
    return model, {"steps": x}


def _image_preprocessing():  # Rescaling, Resizing, CenterCrop inside the model, then GroupNormalization
    import keras

    image = keras.Input((12, 12, 3), name="image")
    x = keras.layers.Rescaling(1 / 255.0, offset=-0.5)(image)
    x = keras.layers.Resizing(10, 10)(x)
    x = keras.layers.CenterCrop(8, 8)(x)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GroupNormalization(groups=2)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    rng = np.random.default_rng(5)
    return keras.Model(image, keras.layers.Dense(2)(x), name="image_prep"), {
        "image": rng.uniform(0, 255, (12, 12, 12, 3)).astype("float32")}


def _normalization():  # one Normalization adapted, one given mean/variance: neither may become an input
    import keras

    features = keras.Input((4,), name="features")
    adapted = keras.layers.Normalization()
    adapted.adapt(np.random.default_rng(6).normal(3.0, 2.0, (64, 4)).astype("float32"))
    given = keras.layers.Normalization(mean=[1.0, 2.0, 3.0, 4.0], variance=[1.0, 4.0, 9.0, 16.0])
    x = keras.layers.Concatenate()([adapted(features), given(features)])
    return keras.Model(features, keras.layers.Dense(2)(x), name="normalization"), None


def _gelu_and_norms():  # exact GELU (TF's Erfc), LayerNormalization, UnitNormalization
    import keras

    x_in = keras.Input((6, 4), name="sequence")
    x = keras.layers.Dense(8, activation="gelu")(x_in)
    x = keras.layers.LayerNormalization()(x)
    x = keras.layers.Activation("gelu")(keras.layers.Dense(8)(x))
    x = keras.layers.UnitNormalization()(keras.layers.GlobalAveragePooling1D()(x))
    return keras.Model(x_in, keras.layers.Dense(3)(x), name="gelu_norms"), None


CLI_FAMILIES = {
    "sequential_input": _sequential_input, "sequential_built": _sequential_built,
    "sequential_called": _sequential_called, "dict_io": _dict_io, "list_io": _list_io,
    "embedding_mask_gru": _embedding_mask_gru, "masking_lstm": _masking_lstm,
    "image_preprocessing": _image_preprocessing, "normalization": _normalization, "gelu_norms": _gelu_and_norms,
}
RECURRENT = ("embedding_mask_gru", "masking_lstm")


def _export_cli(cli, path, out, *extra):
    code, stdout, err = cli("export", path, "--out", out, "--json", *extra)
    assert code == 0, err
    return json.loads(stdout)


def _check_batches(report, recurrent: bool):
    """TFLite and ONNX fp32 within 1e-4 at the parity batch, at batch 1 and (unless a loop fixes it) batch 3."""
    rows = {(r["format"], r["quantization"]): r for r in report["rows"]}
    for key in (("tflite", "fp32"), ("onnx", "fp32")):
        row = rows[key]
        assert row["passed"] is True, report["failures"]
        assert row["max_abs_error"] <= 1e-4 and row["parity_at_batch"]["1"] <= 1e-4
        if recurrent and key[0] == "tflite":  # LiteRT's WHILE needs a static batch
            assert row["batch_fixed"] == 1 and row["parity_at_batch"]["3"] is None
            assert row["batch_note"].startswith("batch fixed to 1")
            assert any(n.startswith(f"{pathlib.Path(row['path']).name}: batch fixed to 1") for n in report["notes"])
        else:
            assert row["batch_fixed"] is None and row["parity_at_batch"]["3"] <= 1e-4
    return rows


@pytest.mark.parametrize("name", sorted(CLI_FAMILIES))
def test_keras_file_of_each_family_exports_through_the_cli(cli, name, tmp_path):
    import keras
    import onnx

    keras.utils.set_random_seed(0)
    model, inputs = CLI_FAMILIES[name]()
    model.save(tmp_path / f"{name}.keras")
    extra = ["--quantize", "fp32"]
    if inputs is not None:
        np.savez(tmp_path / "inputs.npz", **inputs)
        extra += ["--inputs", tmp_path / "inputs.npz"]
    report = _export_cli(cli, tmp_path / f"{name}.keras", tmp_path / "out", *extra)
    rows = _check_batches(report, recurrent=name in RECURRENT)
    tflite_ops = rows["tflite", "fp32"]["operators"]  # read from the flatbuffer: built-ins only
    assert tflite_ops and not [op for op in tflite_ops if op.startswith(("CUSTOM", "Flex"))], tflite_ops
    onnx_model = onnx.load(rows["onnx", "fp32"]["path"])
    onnx.checker.check_model(onnx_model, full_check=True)
    initializers = {i.name for i in onnx_model.graph.initializer}
    graph_inputs = [i.name for i in onnx_model.graph.input if i.name not in initializers]
    assert len(graph_inputs) == len(model.inputs)  # no constant became an extra input
    assert "Erfc" not in {n.op_type for n in onnx_model.graph.node}


def test_never_called_sequential_verifies_against_its_reference(cli, tmp_path):
    import keras

    keras.utils.set_random_seed(0)
    model, _ = _sequential_input()
    model.save(tmp_path / "seq.keras")
    _export_cli(cli, tmp_path / "seq.keras", tmp_path / "out", "--quantize", "fp32")
    for artifact in ("seq.fp32.tflite", "seq.onnx"):
        code, out, err = cli("verify", tmp_path / "out" / artifact, "--reference", tmp_path / "seq.keras")
        assert code == 0, err
        assert artifact in out and "yes" in out


def test_never_built_sequential_is_one_line_error(cli, tmp_path):
    import keras

    with pytest.warns(UserWarning, match="has not yet been built"):  # Keras saves it anyway, without weights
        keras.Sequential([keras.layers.Dense(3)], name="empty").save(tmp_path / "empty.keras")
    code, _, err = cli("export", tmp_path / "empty.keras", "--out", tmp_path / "out")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.strip() == ("dlbootcamp export: error: Sequential model 'empty' was never built, so it has no input "
                           "shape and no weights to export; start it with keras.Input(shape=...) (or call "
                           "model.build((None, ...))), train or load its weights, and save it again.")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


CUSTOM_MODULE = '''
import keras


@keras.saving.register_keras_serializable(package="dlbootcamp_test")
class ApproxGelu(keras.layers.Layer):
    """GELU, tanh approximation: a custom layer a user registers."""

    def call(self, x):
        return keras.activations.gelu(x, approximate=True)
'''


def test_custom_registered_layer_needs_custom_objects(cli, tmp_path, monkeypatch):
    import keras

    from dlbootcamp.export import keras_io

    (tmp_path / "my_layers.py").write_text(CUSTOM_MODULE)
    keras_io.import_custom_objects(str(tmp_path / "my_layers.py"))
    import my_layers

    keras.utils.set_random_seed(0)
    x = keras.Input((5,), name="x")
    model = keras.Model(x, keras.layers.Dense(3)(my_layers.ApproxGelu()(keras.layers.Dense(6)(x))), name="custom")
    model.save(tmp_path / "custom.keras")
    monkeypatch.delitem(keras.saving.get_custom_objects(), "dlbootcamp_test>ApproxGelu")  # as in a fresh process
    monkeypatch.delitem(sys.modules, "my_layers")

    code, _, err = cli("export", tmp_path / "custom.keras", "--out", tmp_path / "out")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert err.strip() == (f"dlbootcamp export: error: {tmp_path / 'custom.keras'} uses the custom class "
                           f"'ApproxGelu', which is not registered; pass --custom-objects MODULE naming the module "
                           f"that defines it (decorated with @keras.saving.register_keras_serializable()).")
    code, _, err = cli("export", tmp_path / "custom.keras", "--custom-objects", tmp_path / "nowhere.py")
    assert code == 2 and err.strip() == (
        f"dlbootcamp export: error: --custom-objects {tmp_path / 'nowhere.py'} could not be imported (no file "
        f"{tmp_path / 'nowhere.py'}); give a module importable from the current folder (my_layers for "
        f"my_layers.py) or the path of a .py file.")

    monkeypatch.chdir(tmp_path)  # a module name, importable from the current folder
    report = _export_cli(cli, tmp_path / "custom.keras", tmp_path / "out", "--quantize", "fp32",
                         "--custom-objects", "my_layers")
    _check_batches(report, recurrent=False)
