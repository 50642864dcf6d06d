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
