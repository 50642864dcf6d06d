"""ONNX conversion: opset >= 17, a model onnx.checker accepts, readable names, dynamic batch."""

import numpy as np
import pytest

from dlbootcamp.errors import ExportError


def test_onnx_model_is_valid_named_and_batch_dynamic(dense_model, make_inputs, tmp_path):
    import onnx

    from dlbootcamp.export import device_bench
    from dlbootcamp.export import onnx as onnx_export

    converted = onnx_export.convert(dense_model)
    proto = onnx.load_from_string(converted.content)
    onnx.checker.check_model(proto, full_check=True)
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= 17
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert (inp.name, out.name) == ("features", "probs")
    batch = inp.type.tensor_type.shape.dim[0]
    assert batch.dim_param and not batch.dim_value  # symbolic: any batch size
    path = tmp_path / "m.onnx"
    path.write_bytes(converted.content)
    runner = device_bench.open_artifact(str(path))
    for n in (1, 9):  # two batch sizes, as keras' own onnx_test does
        x = make_inputs(dense_model, n, seed=n)[0]
        np.testing.assert_allclose(runner.predict(x), dense_model.predict(x, verbose=0), atol=1e-5)


def test_recurrent_model_keeps_a_dynamic_batch_in_onnx(gru_model, make_inputs, tmp_path):
    from dlbootcamp.export import device_bench
    from dlbootcamp.export import onnx as onnx_export

    converted = onnx_export.convert(gru_model)
    assert converted.batch_fixed is None and converted.changes == []
    path = tmp_path / "gru.onnx"
    path.write_bytes(converted.content)
    runner = device_bench.open_artifact(str(path))
    assert runner.inputs[0].shape == [-1, 6, 4]
    x = make_inputs(gru_model, 5)[0]
    np.testing.assert_allclose(runner.predict(x), gru_model.predict(x, verbose=0), atol=1e-5)


def test_old_opsets_are_refused(dense_model):
    from dlbootcamp.export import onnx as onnx_export

    with pytest.raises(ExportError, match=r"^ONNX opset 13 is too old; expected 17 or newer\.$"):
        onnx_export.convert(dense_model, opset=13)


def test_tf2onnx_failures_become_one_line_export_errors(dense_model, monkeypatch):
    import tf2onnx

    from dlbootcamp.export import onnx as onnx_export

    def broken(*args, **kwargs):
        raise ValueError("Unsupported op FooBar\nsecond line")

    monkeypatch.setattr(tf2onnx.convert, "from_function", broken)
    with pytest.raises(ExportError) as info:
        onnx_export.convert(dense_model)
    assert str(info.value) == ("ONNX conversion (tf2onnx, opset 17) of model 'dense_net' failed: "
                               "Unsupported op FooBar")


def test_models_the_onnx_checker_rejects_are_export_errors(dense_model, monkeypatch):
    import onnx

    from dlbootcamp.export import onnx as onnx_export

    def reject(proto, full_check=False):
        raise onnx.checker.ValidationError("Node (Gemm_3) has input size 1 not in range [min=2, max=3].\nmore")

    monkeypatch.setattr(onnx.checker, "check_model", reject)
    with pytest.raises(ExportError) as info:
        onnx_export.convert(dense_model)
    assert str(info.value) == ("tf2onnx produced an invalid ONNX model for 'dense_net': Node (Gemm_3) has input "
                               "size 1 not in range [min=2, max=3].")


def test_constants_left_as_graph_inputs_are_refused(monkeypatch):
    """An adapted Normalization's mean/variance must not become ONNX inputs; if freezing fails to fold them, say so."""
    import keras
    import onnx

    from dlbootcamp.export import onnx as onnx_export
    from dlbootcamp.export import serving

    features = keras.Input((3,), name="features")
    norm = keras.layers.Normalization()
    norm.adapt(np.arange(12, dtype="float32").reshape(4, 3))
    model = keras.Model(features, keras.layers.Dense(2)(norm(features)), name="adapted")
    assert [i.name for i in onnx.load_from_string(onnx_export.convert(model).content).graph.input] == ["features"]
    monkeypatch.setattr(serving, "frozen_serving_function", serving.serving_function)  # freezing that folds nothing
    with pytest.raises(ExportError, match=r"^ONNX conversion of model 'adapted' made extra graph inputs \S+, \S+ "
                                          r"\(constants tf2onnx did not freeze\); the model takes only features\.$"):
        onnx_export.convert(model)
