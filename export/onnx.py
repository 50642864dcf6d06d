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
Two repairs make ordinary Keras models valid: TF's ``Erfc`` (exact GELU), which tf2onnx passes
through although no ONNX opset has it, becomes ``1 - Erf``; and when tf2onnx leaves captured
constants (an adapted ``Normalization``'s mean and variance) as extra graph inputs, the fully
frozen function is converted instead.

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
    float_model: "OnnxModel | None" = None  # int8: the float32 model it was quantized from

    @property
    def operators(self) -> list[str]:
        """Every node type in the graph and its subgraphs (Loop bodies), sorted; ``domain:Op`` outside ai.onnx."""
        import onnx

        proto = onnx.load_from_string(self.content)
        return sorted({n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}:{n.op_type}"
                       for g in _graphs(proto.graph) for n in g.node})


def _convert(model, sig: serving.Signature, opset: int) -> bytes:
    import onnx
    import tf2onnx

    wanted = [t.name for t in sig.inputs]
    # tf2onnx freezes variables itself, but turns other captured tensors (an adapted Normalization's
    # mean and variance) into extra graph inputs; then convert the fully frozen function instead.
    # (Not always: frozen, a recurrent layer's loop keeps a PartitionedCall tf2onnx cannot convert.)
    for make_function in (serving.serving_function, serving.frozen_serving_function):
        try:
            with serving.captured_native_output():
                proto, _ = tf2onnx.convert.from_function(make_function(model, sig),
                                                          input_signature=serving.tensor_specs(sig), opset=opset)
        except Exception as exc:  # tf2onnx raises plain ValueError/RuntimeError/KeyError
            detail = str(exc).strip().splitlines()
            raise ExportError(f"ONNX conversion (tf2onnx, opset {opset}) of model {model.name!r} failed: "
                              f"{detail[0] if detail else type(exc).__name__}") from None
        initializers = {i.name for i in proto.graph.initializer}
        extra = [i.name for i in proto.graph.input if i.name not in initializers and i.name not in wanted]
        if not extra:
            break
    else:
        raise ExportError(f"ONNX conversion of model {model.name!r} made extra graph inputs {', '.join(extra)} "
                          f"(constants tf2onnx did not freeze); the model takes only {', '.join(wanted)}.")
    _replace_erfc(proto)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:  # onnx.checker.ValidationError, onnx.shape_inference.InferenceError
        raise ExportError(f"tf2onnx produced an invalid ONNX model for {model.name!r}: "
                          f"{str(exc).splitlines()[0]}") from None
    return proto.SerializeToString()


def _replace_erfc(proto) -> None:
    """Rewrite ``Erfc(x)`` as ``1 - Erf(x)``: tf2onnx passes TF's Erfc (exact GELU) through, no ONNX opset has it.

    Where erfc is tiny (x > 3), 1 - erf(x) in float32 is off by up to ~6e-8; GELU multiplies it
    by 0.5 x, far inside the fp32 tolerance.
    """
    import numpy as np
    from onnx import helper, numpy_helper

    for graph in _graphs(proto.graph):
        nodes = list(graph.node)
        if not any(n.op_type == "Erfc" and n.domain in ("", "ai.onnx") for n in nodes):
            continue
        del graph.node[:]
        for node in nodes:
            if node.op_type != "Erfc":
                graph.node.append(node)
                continue
            one, erf = f"{node.name}__one", f"{node.name}__erf"
            graph.initializer.append(numpy_helper.from_array(np.array(1.0, np.float32), one))
            graph.node.extend([helper.make_node("Erf", [node.input[0]], [erf], name=f"{node.name}__Erf"),
                               helper.make_node("Sub", [one, erf], list(node.output), name=node.name)])


def _graphs(graph):
    """``graph`` and every subgraph (Loop/If/Scan bodies) inside it."""
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.g is not None and attr.g.node:
                yield from _graphs(attr.g)
            for g in attr.graphs:
                yield from _graphs(g)


def convert(model, *, opset: int = OPSET) -> OnnxModel:
    """Convert ``model`` to an ONNX model (bytes), checked by ``onnx.checker``."""
    if opset < OPSET:
        raise ExportError(f"ONNX opset {opset} is too old; expected {OPSET} or newer.")
    model = serving.exportable(model)
    sig = serving.signature(model)
    try:
        return OnnxModel(_convert(model, sig, opset), sig, opset)
    except ExportError:
        if not sig.batch_dynamic:
            raise
    fixed = sig.with_batch(1)
    content = _convert(model, fixed, opset)  # raises the error of the fixed-batch attempt
    return OnnxModel(content, fixed, opset, 1, ["batch fixed to 1 (tf2onnx could not convert a dynamic batch)"])


# --- int8: onnxruntime's static QDQ quantization -------------------------------------------------------

CALIBRATION_SAMPLES = 200  # as for TFLite int8
CALIBRATION_CHUNK = 20  # samples per calibration batch (where the batch is dynamic)


def _reader(sig: serving.Signature, calibration, batch_fixed: int | None):
    """An onnxruntime ``CalibrationDataReader`` over the calibration arrays (model.inputs order)."""
    import numpy as np
    from onnxruntime.quantization import CalibrationDataReader

    arrays = [np.asarray(a)[:CALIBRATION_SAMPLES].astype(t.dtype) for a, t in zip(calibration, sig.inputs)]
    declared = sig.inputs[0].shape[0] if sig.inputs and sig.inputs[0].shape else None  # a model built with a batch
    step = batch_fixed or declared or CALIBRATION_CHUNK

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._feeds = iter([{t.name: a[i:i + step] for a, t in zip(arrays, sig.inputs)}
                                for i in range(0, len(arrays[0]) - step + 1, step)])

        def get_next(self):
            return next(self._feeds, None)

    return Reader()


def quantize(model: OnnxModel, calibration, *, nodes_to_exclude=(), per_channel: bool = True) -> OnnxModel:
    """``model`` (float32) statically quantized to int8, QDQ format, calibrated on ``calibration``.

    onnxruntime's ``quantize_static``: weights int8 per output channel (convolutions and MatMuls),
    activations int8 per tensor (MinMax calibration); float32 inputs and outputs. Nodes in
    ``nodes_to_exclude`` stay float32. Integer inputs (token ids) stay integers.
    """
    import logging
    import os
    import tempfile

    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    with tempfile.TemporaryDirectory(prefix="dlbootcamp-onnx-int8-") as folder:
        source, target = os.path.join(folder, "float.onnx"), os.path.join(folder, "int8.onnx")
        with open(source, "wb") as f:
            f.write(model.content)
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # "Please consider to run pre-processing before quantization": not the user's
        try:
            with serving.captured_native_output():
                quantize_static(source, target, _reader(model.signature, calibration, model.batch_fixed),
                                quant_format=QuantFormat.QDQ, per_channel=per_channel,
                                activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                                nodes_to_exclude=list(nodes_to_exclude) or None,
                                extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
        except Exception as exc:  # onnxruntime raises plain ValueError/RuntimeError
            detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ExportError(f"ONNX int8 quantization (onnxruntime quantize_static, QDQ) failed: {detail}") from None
        finally:
            root.setLevel(level)
        with open(target, "rb") as f:
            content = f.read()
    changes = list(model.changes)
    if nodes_to_exclude:
        changes.append(f"nodes kept in float32 (selective quantization): {len(list(nodes_to_exclude))}")
    return OnnxModel(content, model.signature, model.opset, model.batch_fixed, changes, float_model=model)


class Int8Quantizer:
    """ONNX int8 that can be rebuilt with some layers in float (``selective.search``'s quantizer).

    ``ranking``: every activation tensor's quantize-dequantize error on ``debug_inputs``, from
    onnxruntime's QDQ debugging tools (``qdq_loss_debug``: the QDQ model made to output its
    intermediate tensors, ``collect_activations``, ``create_activation_matching``), grouped by the
    Keras layer whose node writes the tensor. ``build(float_layers)``: ``quantize`` with those
    layers' nodes in ``nodes_to_exclude``.
    """

    def __init__(self, float_model: OnnxModel, keras_model, calibration, debug_inputs=None):
        import os
        import tempfile

        import onnx
        from onnxruntime.quantization import qdq_loss_debug as qdq

        from dlbootcamp.export import selective

        self.float_model = float_model
        self.calibration = calibration
        plain = quantize(float_model, calibration)
        proto = onnx.load_from_string(float_model.content)
        writer = {out: (node.name, node.op_type) for node in proto.graph.node for out in node.output}
        with tempfile.TemporaryDirectory(prefix="dlbootcamp-onnx-debug-") as folder:
            qdq_path, augmented = os.path.join(folder, "int8.onnx"), os.path.join(folder, "int8.debug.onnx")
            with open(qdq_path, "wb") as f:
                f.write(plain.content)
            with serving.captured_native_output():
                qdq.modify_model_output_intermediate_tensors(qdq_path, augmented)
                activations = qdq.collect_activations(
                    augmented, _reader(float_model.signature, debug_inputs if debug_inputs is not None
                                       else calibration, float_model.batch_fixed))
        matched = qdq.create_activation_matching(activations)
        scored = []
        for tensor, pair in matched.items():
            if tensor not in writer or "pre_qdq" not in pair or "post_qdq" not in pair:
                continue
            import numpy as np

            before = np.concatenate([np.ravel(a) for a in pair["pre_qdq"]])
            after = np.concatenate([np.ravel(a) for a in pair["post_qdq"]])
            node, op = writer[tensor]
            scored.append((node, selective.relative_error(before, after), node, op))
        keras_model = serving.exportable(keras_model)
        self.ranking, self._readers = selective.rank(scored, keras_model)
        # every node of a layer stays float with it (tf2onnx writes a Dense as MatMul, Add, Relu)
        layers = [layer.name for layer in keras_model.layers]
        by_layer = {e.layer: e for e in self.ranking}
        for node in proto.graph.node:
            entry = by_layer.get(selective.layer_of(node.name, layers, []))
            if entry is not None and node.name not in entry.nodes:
                entry.nodes.append(node.name)

    def step(self, layer: str) -> list[str]:
        from dlbootcamp.export import selective

        return selective.step_layers(layer, self.ranking, self._readers)

    def build(self, float_layers) -> OnnxModel:
        nodes = [node for e in self.ranking if e.layer in set(float_layers) for node in e.nodes]
        return quantize(self.float_model, self.calibration, nodes_to_exclude=nodes)
