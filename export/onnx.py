"""Convert a Keras model to ONNX with tf2onnx: opset 17+, dynamic batch, readable names.

ONNX is the format most non-TensorFlow runtimes read (onnxruntime on a server or a phone,
TensorRT, OpenVINO, CoreML tools). The conversion traces the same named serving function as
the TFLite one (see ``serving``), so the graph's inputs and outputs are called ``image`` and
``probs``, and the batch dimension stays dynamic wherever the model allows it (recurrent
layers included: tf2onnx turns Keras' ``while`` loop into an ONNX ``Loop`` or a fused
``GRU``/``LSTM`` node). If tf2onnx cannot convert a model with a dynamic batch, we pin it to 1
and say so, as for TFLite.

Every model is checked with ``onnx.checker.check_model(full_check=True)`` before it is
returned; ONNX is exported in float32 (the TFLite artifacts carry the quantized variants).

    from dlbootcamp.export import onnx as onnx_export
    converted = onnx_export.convert(model)
    open("model.onnx", "wb").write(converted.content)
"""

from __future__ import annotations

import dataclasses

from dlbootcamp.errors import ExportError
from dlbootcamp.export import serving

OPSET = 17  # ONNX opset: 17 has LayerNormalization; onnxruntime >= 1.14 runs it


@dataclasses.dataclass
class OnnxModel:
    content: bytes
    signature: serving.Signature
    opset: int
    batch_fixed: int | None = None
    changes: list[str] = dataclasses.field(default_factory=list)


def _convert(model, sig: serving.Signature, opset: int) -> bytes:
    import onnx
    import tf2onnx

    function = serving.serving_function(model, sig)
    captured = []
    try:
        with serving.captured_native_output() as captured:
            proto, _ = tf2onnx.convert.from_function(function, input_signature=serving.tensor_specs(sig),
                                                      opset=opset)
    except Exception as exc:  # tf2onnx raises plain ValueError/RuntimeError/KeyError
        detail = str(exc).strip().splitlines()
        raise ExportError(f"ONNX conversion (tf2onnx, opset {opset}) of model {model.name!r} failed: "
                          f"{detail[0] if detail else type(exc).__name__}") from None
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:  # onnx.checker.ValidationError, onnx.shape_inference.InferenceError
        raise ExportError(f"tf2onnx produced an invalid ONNX model for {model.name!r}: "
                          f"{str(exc).splitlines()[0]}") from None
    return proto.SerializeToString()


def convert(model, *, opset: int = OPSET) -> OnnxModel:
    """Convert ``model`` to an ONNX model (bytes), checked by ``onnx.checker``."""
    if opset < OPSET:
        raise ExportError(f"ONNX opset {opset} is too old; expected {OPSET} or newer.")
    sig = serving.signature(model)
    try:
        return OnnxModel(_convert(model, sig, opset), sig, opset)
    except ExportError:
        if not sig.batch_dynamic:
            raise
    fixed = sig.with_batch(1)
    content = _convert(model, fixed, opset)  # raises the error of the fixed-batch attempt
    return OnnxModel(content, fixed, opset, 1, ["batch fixed to 1 (tf2onnx could not convert a dynamic batch)"])
