"""TFLite conversion: four precisions, built-in ops only, recurrent models, and its errors."""

import numpy as np
import pytest

from dlbootcamp.errors import ExportError


def _run(content: bytes, tmp_path, name="m.tflite"):
    from dlbootcamp.export import device_bench

    path = tmp_path / name
    path.write_bytes(content)
    return device_bench.open_artifact(str(path))


def test_fp32_keeps_names_and_dynamic_batch_and_matches_keras(dense_model, make_inputs, tmp_path):
    from dlbootcamp.export import tflite

    converted = tflite.convert(dense_model, "fp32")
    runner = _run(converted.content, tmp_path)
    assert runner.runtime == "ai-edge-litert"
    assert [(t.name, t.shape, t.dtype.name) for t in runner.inputs] == [("features", [-1, 12], "float32")]
    assert [t.name for t in runner.outputs] == ["probs"]
    assert runner.batch_fixed is None and converted.changes == []
    x = make_inputs(dense_model, 5)[0]
    np.testing.assert_allclose(runner.predict(x), dense_model.predict(x, verbose=0), atol=1e-5)


def test_quantized_variants_are_smaller_and_int8_full_has_integer_io(make_inputs, tmp_path):
    import keras

    from dlbootcamp.export import tflite

    keras.utils.set_random_seed(0)  # big enough for the weight quantizers to bother (>= 1024 weights)
    inputs = keras.Input((64,), name="x")
    hidden = keras.layers.Dense(128, activation="relu", name="hidden")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="probs")(hidden))
    calibration = make_inputs(model, 50, seed=3)
    sizes = {q: len(tflite.convert(model, q, calibration=calibration).content) for q in tflite.QUANTIZATIONS}
    assert sizes["fp16"] < 0.6 * sizes["fp32"]
    assert sizes["dynamic"] < 0.35 * sizes["fp32"] and sizes["int8"] < 0.35 * sizes["fp32"]
    assert sizes["int8-full"] < 0.35 * sizes["fp32"]
    x = make_inputs(model, 40, seed=4)[0]
    for q, io in (("int8-full", "int8"), ("int8", "float32")):  # int8 in/out; int8 inside with float in/out
        runner = _run(tflite.convert(model, q, calibration=calibration).content, tmp_path)
        (x_spec,), (p_spec,) = runner.inputs, runner.outputs
        assert x_spec.dtype.name == io and p_spec.dtype.name == io and ((x_spec.scale or 0) > 0) == (io == "int8")
        agreement = np.mean(runner.predict(x).argmax(-1) == model.predict(x, verbose=0).argmax(-1))
        assert agreement >= 0.9


def test_recurrent_model_gets_a_fixed_batch_and_says_so(gru_model, make_inputs, tmp_path):
    from dlbootcamp.export import tflite

    converted = tflite.convert(gru_model, "fp32")
    assert converted.batch_fixed == 1
    assert converted.changes == ["batch fixed to 1 (recurrent layers gru need static shapes for TFLite's WHILE)"]
    runner = _run(converted.content, tmp_path)
    assert runner.batch_fixed == 1 and runner.inputs[0].shape == [1, 6, 4]
    x = make_inputs(gru_model, 3)[0]  # predict() loops over the fixed batch
    np.testing.assert_allclose(runner.predict(x), gru_model.predict(x, verbose=0), atol=1e-5)


def test_dynamic_batch_gru_is_what_fails_without_the_fix(gru_model):
    """The converter's own error, which convert() avoids by fixing the batch."""
    from dlbootcamp.export import serving, tflite

    sig = serving.signature(gru_model)
    function = serving.frozen_function(gru_model, sig)
    with pytest.raises(Exception) as info:
        tflite._run(tflite._converter(function, "fp32", None, sig, flex=False))
    assert isinstance(info.value, tflite._NeedsStaticShapes)
    assert "TensorListReserve" in str(info.value) and "element_shape to be static" in str(info.value)


def test_int8_recurrent_model_is_unrolled_with_the_same_weights(gru_model, make_inputs, tmp_path):
    from dlbootcamp.export import serving, tflite

    copy = serving.unrolled(gru_model)
    assert copy.get_layer("gru").unroll is True
    x = make_inputs(gru_model, 4)[0]
    np.testing.assert_allclose(copy.predict(x, verbose=0), gru_model.predict(x, verbose=0), atol=1e-6)
    converted = tflite.convert(gru_model, "int8-full", calibration=make_inputs(gru_model, 30, seed=5))
    assert "recurrent layers unrolled (one cell per time step, same weights)" in converted.changes
    assert _run(converted.content, tmp_path).inputs[0].dtype.name == "int8"


def test_unrolling_needs_a_fixed_number_of_time_steps():
    import keras

    from dlbootcamp.export import serving, tflite

    inputs = keras.Input((None, 3), name="sequence")
    model = keras.Model(inputs, keras.layers.LSTM(4, name="lstm")(inputs))
    with pytest.raises(ValueError, match="recurrent layer 'lstm' has a variable number of time steps"):
        serving.unrolled(model)
    with pytest.raises(ExportError, match=r"int8 quantization of model .* needs its recurrent layers unrolled, and "
                                          r"recurrent layer 'lstm' has a variable number of time steps"):
        tflite.convert(model, "int8", calibration=[np.zeros((4, 5, 3), "float32")])


def _determinant_model():
    import keras
    import tensorflow as tf

    class Determinant(keras.layers.Layer):  # MatrixDeterminant has no TFLite built-in kernel
        def call(self, x):
            return tf.linalg.det(tf.reshape(x, (-1, 2, 2)))

    inputs = keras.Input((4,), name="x")
    return keras.Model(inputs, Determinant(name="det")(inputs), name="det_net")


def test_tf_ops_fail_with_their_names_unless_flex_is_allowed():
    from dlbootcamp.export import tflite

    model = _determinant_model()
    with pytest.raises(ExportError) as info:
        tflite.convert(model, "fp32")
    assert str(info.value) == (
        "Model 'det_net' needs TensorFlow ops that TFLite has no built-in kernel for (MatrixDeterminant); the "
        "standalone LiteRT runtime cannot run them. Replace those layers with built-in ones, or pass --allow-flex "
        "(allow_flex=True) to keep them as Flex ops for a runtime linked with the Flex delegate.")
    converted = tflite.convert(model, "fp32", allow_flex=True)
    assert converted.flex_ops == ["MatrixDeterminant"]
    assert converted.changes == ["TF (Flex) ops kept: MatrixDeterminant; needs a runtime with the Flex delegate"]


def test_flex_artifacts_are_reported_as_not_verified(tmp_path):
    from dlbootcamp.export import api

    report = api.export_and_verify(_determinant_model(), tmp_path, quantizations="fp32", formats="tflite",
                                   allow_flex=True)
    (row,) = report.rows
    assert row["passed"] is None and "FlexMatrixDeterminant" in row["error"]
    assert report.passed  # the user opted in; the note says what was not checked
    assert report.notes[-1] == ("not verified (needs the Flex delegate, which standalone LiteRT lacks): "
                                "det_net.fp32.tflite")


def test_bad_quantization_and_calibration_messages(dense_model):
    from dlbootcamp.export import tflite

    with pytest.raises(ExportError, match=r"^Unknown TFLite quantization 'int4'; expected one of fp32, fp16, "
                                          r"dynamic, int8, int8-full\.$"):
        tflite.convert(dense_model, "int4")
    with pytest.raises(ExportError, match=r"^int8 quantization needs calibration data \(representative model "
                                          r"inputs\) and none was given; pass --calibration FILE\.npz"):
        tflite.convert(dense_model, "int8")
    with pytest.raises(ExportError, match=r"^Calibration input 'features' has shape \[5, 7\]; the model expects "
                                          r"\['N', 12\]\.$"):
        tflite.convert(dense_model, "int8", calibration=np.zeros((5, 7), "float32"))
    with pytest.raises(ExportError, match=r"^Calibration data has 2 arrays; the model takes 1 inputs \(features\)"):
        tflite.convert(dense_model, "int8", calibration=[np.zeros((5, 12))] * 2)
    with pytest.raises(ExportError, match=r"^Calibration input 'features' is empty; give a few hundred samples\.$"):
        tflite.convert(dense_model, "int8", calibration=np.zeros((0, 12), "float32"))


def test_converter_failures_are_one_line_export_errors():
    from dlbootcamp.export import tflite

    error = tflite._classify("blah\nloc(...): error: 'tfl.conv_2d' op has mismatched shapes\nmore")
    assert isinstance(error, ExportError)
    assert str(error) == "TFLite conversion failed: 'tfl.conv_2d' op has mismatched shapes"


def test_ops_without_any_kernel_fail_even_with_flex():
    import keras
    import tensorflow as tf

    from dlbootcamp.export import tflite

    class InverseErf(keras.layers.Layer):  # Erfinv: neither a TFLite built-in nor on the Flex allowlist
        def call(self, x):
            return tf.math.erfinv(x)

    inputs = keras.Input((4,), name="x")
    model = keras.Model(inputs, InverseErf(name="erfinv")(inputs), name="erfinv_net")
    with pytest.raises(ExportError, match=r"^Model 'erfinv_net' needs TensorFlow ops that TFLite has no built-in "
                                          r"kernel for \(Erfinv\)"):
        tflite.convert(model, "fp32")
    with pytest.raises(ExportError) as info:
        tflite.convert(model, "fp32", allow_flex=True)
    assert str(info.value) == ("Model 'erfinv_net' does not convert to TFLite even with Flex ops allowed: TF ops "
                               "Erfinv have no TFLite or Flex kernel. Replace those layers with built-in ones.")


def test_operators_are_read_from_the_flatbuffer_and_a_flex_op_fails(monkeypatch, tmp_path):
    from dlbootcamp.export import api, tflite

    flex = tflite.convert(_determinant_model(), "fp32", allow_flex=True)
    assert "CUSTOM:FlexMatrixDeterminant" in flex.operators and "RESHAPE" in flex.operators
    assert tflite.non_builtin(flex.operators) == ["FlexMatrixDeterminant"]
    expected = ("det_net.fp32.tflite holds ops that are not TFLite built-ins (FlexMatrixDeterminant); the standalone "
                "LiteRT runtime cannot run it. Replace those layers with built-in ones, or pass --allow-flex to keep "
                "them for a runtime linked with the Flex delegate.")
    with pytest.raises(ExportError) as info:
        tflite.check_builtin_only(flex.operators, "det_net.fp32.tflite")
    assert str(info.value) == expected
    tflite.check_builtin_only(flex.operators, "det_net.fp32.tflite", allow_flex=True)  # opted in: no error

    # A converter that slipped a Flex op past TFLITE_BUILTINS: the exporter catches it in the bytes
    monkeypatch.setattr(tflite, "convert", lambda model, q, calibration=None, allow_flex=False: flex)
    report = api.export_and_verify(_determinant_model(), tmp_path, quantizations="fp32", formats="tflite")
    assert report.failures == [expected]
    assert not (tmp_path / "det_net.fp32.tflite").exists()  # nothing invalid left behind
