"""Convert a Keras model to TensorFlow Lite, in five variants, with built-in ops only.

Five quantization modes (``QUANTIZATIONS``), from the TFLite post-training guide:

- ``fp32``: the float model as is; the parity reference for the others.
- ``fp16``: weights stored as float16 (half the size), computed in float32 on a CPU.
- ``dynamic``: dynamic-range quantization: weights stored as int8, activations quantized on
  the fly where a kernel supports it. No calibration data needed; about 4x smaller.
- ``int8``: integer quantization with a float interface: weights *and* activations int8, scales
  calibrated on representative inputs, float32 input and output tensors (a quantize op in, a
  dequantize op out), which is what an app feeding floats wants: inputs beyond the
  calibration range are not clipped on the way in.
- ``int8-full``: the same with int8 input/output tensors (``NAME.int8-full.tflite``), so that a
  microcontroller or an NPU never touches a float; the device quantizes with the sidecar's
  scale and zero point. Integer inputs (token ids) stay integers in both.

What makes an artifact *deployable* rather than merely converted:

1. **Built-in ops only.** The standalone LiteRT runtime (``ai_edge_litert``) on a phone has no
   Flex delegate, so a model that needs TensorFlow ops (``SELECT_TF_OPS``) does not load
   there. We convert with ``TFLITE_BUILTINS`` only; when a model needs TF ops, we fail and
   name them, unless the caller opts in with ``allow_flex=True``.
2. **Static shapes where loops need them.** Keras runs GRU/LSTM layers as a ``while`` loop
   over a TensorList; with a dynamic batch the converter stops with "TensorListReserve op
   requires element_shape to be static". We then pin the batch to 1, and if the loop still
   needs TF ops, convert an unrolled copy of the model (same weights). Every such change is
   recorded in ``TFLiteModel.changes`` and ends up in the sidecar and the report.

    from dlbootcamp.export import tflite
    converted = tflite.convert(model, "int8", calibration=[x_train[:200]])
    open("model.int8.tflite", "wb").write(converted.content)
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
import warnings

import numpy as np

from dlbootcamp.errors import ExportError
from dlbootcamp.export import selective, serving
from dlbootcamp.export.device_bench import CALIBRATED, QUANTIZATIONS  # defined once, there

CALIBRATION_SAMPLES = 200  # representative inputs used to calibrate int8 (the TFLite guide: 100-500)


@dataclasses.dataclass
class TFLiteModel:
    """A converted model: the flatbuffer and what was done to get it."""

    content: bytes
    quantization: str
    signature: serving.Signature  # the artifact's inputs/outputs (batch fixed or not)
    batch_fixed: int | None = None
    changes: list[str] = dataclasses.field(default_factory=list)
    flex_ops: list[str] = dataclasses.field(default_factory=list)  # TF ops kept (allow_flex only)

    @property
    def operators(self) -> list[str]:
        """The operators in the flatbuffer (see ``operators``)."""
        return operators(self.content)


# --- what a written flatbuffer contains ---------------------------------------------------------------

def operators(content: bytes) -> list[str]:
    """Every operator a .tflite flatbuffer uses, sorted: built-ins by name (``FULLY_CONNECTED``),
    custom ops as ``CUSTOM:code`` (Flex ops are custom ops whose code starts with ``Flex``).

    Read with the flatbuffer schema that ships with the runtime (``ai_edge_litert``), so the
    list describes the file itself, whatever the converter meant to write.
    """
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:  # older installs: the same generated schema inside TensorFlow
        from tensorflow.lite.python import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    model = schema.Model.GetRootAs(content, 0)
    ops = set()
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())  # the wide field, or the old byte
        if builtin == schema.BuiltinOperator.CUSTOM:
            ops.add(f"CUSTOM:{(code.CustomCode() or b'').decode()}")
        else:
            ops.add(names.get(builtin, f"BUILTIN_{builtin}"))
    return sorted(ops)


def non_builtin(ops: list[str]) -> list[str]:
    """The Flex and custom ops in an ``operators`` list (which the standalone runtime cannot run)."""
    return [op.removeprefix("CUSTOM:") for op in ops if op.startswith("CUSTOM:")]


def check_builtin_only(ops: list[str], artifact: str, *, allow_flex: bool = False) -> None:
    """ExportError when a flatbuffer holds Flex or custom ops and the caller did not allow them."""
    extra = non_builtin(ops)
    if extra and not allow_flex:
        raise ExportError(f"{artifact} holds ops that are not TFLite built-ins ({', '.join(extra)}); the standalone "
                          f"LiteRT runtime cannot run it. Replace those layers with built-in ones, or pass "
                          f"--allow-flex to keep them for a runtime linked with the Flex delegate.")


class _NeedsStaticShapes(Exception):
    pass


class _NeedsTFOps(Exception):
    def __init__(self, ops: list[str]):
        super().__init__(", ".join(ops))
        self.ops = ops


# --- the converter, configured per quantization mode -----------------------------------------------

def _converter(function, quantization: str, calibration, sig: serving.Signature, *, flex: bool):
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], tf.Module())
    ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantization in CALIBRATED:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = _representative(calibration, sig)
        ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        # Dense weights get one scale per tensor, as in TFLite's int8 spec (per-channel scales only for
        # convolutions): every int8 runtime (TFLite Micro, NPU delegates) has that kernel, and a small
        # MLP does not carry 12 bytes of scale + zero point per output unit (~20% of its file).
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
        if quantization == "int8-full":
            if any(not t.is_integer for t in sig.inputs):
                converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    if flex:
        ops = [*ops, tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
    converter.target_spec.supported_ops = ops
    return converter


def _representative(calibration, sig: serving.Signature):
    """A generator of one-sample feeds (batch as the signature wants) for int8 calibration.

    Feeds are dicts keyed by input name: the calibrator's positional order is not the model's.
    """
    arrays = [np.asarray(a) for a in calibration]
    batch = sig.inputs[0].shape[0] if sig.inputs and sig.inputs[0].shape else None
    step = batch or 1

    def generate():
        for start in range(0, len(arrays[0]) - step + 1, step):
            yield {t.name: a[start:start + step].astype(t.dtype) for a, t in zip(arrays, sig.inputs)}

    return generate


# --- reading converter errors -------------------------------------------------------------------

_TF_OP = re.compile(r"'tf\.([A-Za-z0-9_]+)' op is neither a custom op nor a flex op")
_FLEX_LIST = re.compile(r"Flex ops: ([A-Za-z0-9_, ]+)")


def _classify(message: str) -> Exception:
    if "TensorListReserve" in message and "static" in message:
        return _NeedsStaticShapes(message)
    ops = set(_TF_OP.findall(message))
    for listed in _FLEX_LIST.findall(message):
        ops.update(op.strip().removeprefix("Flex") for op in listed.split(",") if op.strip())
    if ops or "Lowering tensor list ops is failed" in message:
        return _NeedsTFOps(sorted(ops) or ["TensorList ops"])
    return ExportError(f"TFLite conversion failed: {_first_error(message)}")


def _first_error(message: str) -> str:
    for line in message.splitlines():
        if "error:" in line:
            return line.split("error:", 1)[1].strip()
    lines = [l.strip() for l in message.splitlines() if l.strip()]
    return lines[0] if lines else "no message from the converter"


def _run(converter) -> bytes:
    captured = []
    try:
        with serving.captured_native_output() as captured, warnings.catch_warnings():
            # int8 calibration runs TF's own (deprecated) interpreter internally; not ours to warn about
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
            return converter.convert()
    except Exception as exc:  # ConverterError, ValueError, RuntimeError: all read the same way
        raise _classify(f"{exc}\n{''.join(captured)}") from None


# --- convert ---------------------------------------------------------------------------------------

def _candidates(model, sig: serving.Signature, recurrent: list[str], quantization: str):
    """(model, signature, changes) to try in order: as is, batch 1, unrolled with batch 1.

    int8 (both interfaces) goes straight to the unrolled copy: TF 2.21's calibrator crashes the process
    (a segfault in ``calibrator._feed_tensors``) on a model with a WHILE loop.
    """
    fixed = sig.with_batch(1) if sig.batch_dynamic else sig
    pinned = [f"batch fixed to 1 (recurrent layers {', '.join(recurrent) or 'in a loop'} need static shapes "
              f"for TFLite's WHILE)"] if sig.batch_dynamic else []
    if not recurrent:
        yield model, sig, []
        if sig.batch_dynamic:
            yield model, fixed, ["batch fixed to 1 (a loop in the model needs static shapes)"]
        return
    if quantization not in CALIBRATED:
        yield model, fixed, pinned
    try:
        copy = serving.unrolled(model)
    except ValueError as exc:
        if quantization in CALIBRATED:
            raise ExportError(f"int8 quantization of model {model.name!r} needs its recurrent layers unrolled, and "
                              f"{exc}; export fp32/fp16/dynamic instead.") from None
        return
    yield copy, fixed, pinned + ["recurrent layers unrolled (one cell per time step, same weights)"]


def convert(model, quantization: str = "fp32", *, calibration=None, allow_flex: bool = False,
            static_batch: bool = False) -> TFLiteModel:
    """Convert ``model`` to a TFLite flatbuffer with built-in ops only.

    ``calibration``: for int8, a list of input arrays (``model.inputs`` order), one sample per row.
    ``static_batch``: fix the batch to 1 (TFLite Micro has no dynamic shapes).
    Raises ExportError naming the TF ops when the model needs ops that LiteRT lacks.
    """
    if quantization not in QUANTIZATIONS:
        raise ExportError(f"Unknown TFLite quantization {quantization!r}; expected one of {', '.join(QUANTIZATIONS)}.")
    model = serving.exportable(model)
    sig = serving.signature(model)
    pinned_batch = static_batch and sig.batch_dynamic
    if pinned_batch:
        sig = sig.with_batch(1)
    if quantization in CALIBRATED:
        calibration = _check_calibration(calibration, sig)
    recurrent = serving.recurrent_layers(model)
    tf_ops: list[str] = []
    for candidate, cand_sig, changes in _candidates(model, sig, recurrent, quantization):
        function = serving.frozen_function(candidate, cand_sig)
        try:
            content = _run(_converter(function, quantization, calibration, cand_sig, flex=False))
        except _NeedsStaticShapes:
            continue
        except _NeedsTFOps as exc:
            tf_ops = tf_ops or exc.ops
            continue
        batch = cand_sig.inputs[0].shape[0] if sig.batch_dynamic and cand_sig.inputs[0].shape[0] else None
        if pinned_batch:
            batch, changes = 1, ["batch fixed to 1 (TFLite Micro has no dynamic shapes)", *changes]
        return TFLiteModel(content, quantization, cand_sig, batch, changes)
    if not allow_flex:
        raise ExportError(
            f"Model {model.name!r} needs TensorFlow ops that TFLite has no built-in kernel for "
            f"({', '.join(tf_ops) or 'TensorList ops'}); the standalone LiteRT runtime cannot run them. Replace "
            f"those layers with built-in ones, or pass --allow-flex (allow_flex=True) to keep them as Flex ops "
            f"for a runtime linked with the Flex delegate.")
    fixed = sig.with_batch(1) if recurrent and sig.batch_dynamic else sig
    function = serving.frozen_function(model, fixed)
    try:
        content = _run(_converter(function, quantization, calibration, fixed, flex=True))
    except (_NeedsTFOps, _NeedsStaticShapes) as exc:
        raise ExportError(f"Model {model.name!r} does not convert to TFLite even with Flex ops allowed: TF ops "
                          f"{exc} have no TFLite or Flex kernel. Replace those layers with built-in ones.") from None
    changes = [f"TF (Flex) ops kept: {', '.join(tf_ops)}; needs a runtime with the Flex delegate"]
    if fixed is not sig:
        changes.insert(0, "batch fixed to 1 (recurrent layers need a static batch)")
    return TFLiteModel(content, quantization, fixed, 1 if fixed is not sig else None, changes, tf_ops)


def _check_calibration(calibration, sig: serving.Signature) -> list[np.ndarray]:
    if calibration is None:
        raise ExportError("int8 quantization needs calibration data (representative model inputs) and none was "
                          "given; pass --calibration FILE.npz with a few hundred real inputs, or leave int8 out "
                          "of --quantize.")
    arrays = [np.asarray(a) for a in (calibration if isinstance(calibration, (list, tuple)) else [calibration])]
    if len(arrays) != len(sig.inputs):
        raise ExportError(f"Calibration data has {len(arrays)} arrays; the model takes {len(sig.inputs)} inputs "
                          f"({', '.join(t.name for t in sig.inputs)}). Give one array per input.")
    for a, t in zip(arrays, sig.inputs):
        if a.ndim != len(t.shape) or any(d is not None and d != g for d, g in zip(t.shape[1:], a.shape[1:])):
            raise ExportError(f"Calibration input {t.name!r} has shape {list(a.shape)}; the model expects "
                              f"{['N' if d is None else d for d in t.shape]}.")
        if len(a) == 0:
            raise ExportError(f"Calibration input {t.name!r} is empty; give a few hundred samples.")
    return [a[:CALIBRATION_SAMPLES] for a in arrays]


# --- selective float layers: LiteRT's quantization debugger ranks the layers ----------------------------

def _relative_rmse(float_values, quantized, scale, zero_point) -> float:
    """``selective.relative_error`` of one tensor, as the debugger hands it over (int8 values, scale, zero point)."""
    return selective.relative_error(float_values, (quantized.astype(np.int32) - zero_point) * scale)


class Int8Debugger:
    """An int8 (float-interface) model, calibrated once, that can be rebuilt with some layers in float.

    LiteRT's ``QuantizationDebugger`` calibrates the model, runs an instrumented copy on
    ``debug_inputs`` and yields per-layer error statistics (``ranking``, worst first);
    ``build(float_layers)`` re-quantizes the same calibration with those layers' nodes denylisted
    (``denylisted_nodes``), so they compute in float32 between a dequantize and a quantize op.
    ``step(layer)`` is what one search step keeps in float: the layer and the layers reading its
    output, since a float layer's output is quantized again where an int8 layer reads it.
    """

    def __init__(self, model, calibration, debug_inputs, *, samples: int = 64):
        import tensorflow as tf

        plain = convert(model, "int8", calibration=calibration)  # which candidate converts, and its changes
        self.changes = list(plain.changes)
        candidate = serving.unrolled(model) if any("unrolled" in c for c in self.changes) else serving.exportable(model)
        self.signature, self.batch_fixed = plain.signature, plain.batch_fixed
        calibration = _check_calibration(calibration, self.signature)
        converter = _converter(serving.frozen_function(candidate, self.signature), "int8", calibration,
                               self.signature, flex=False)
        arrays = [np.asarray(a).astype(t.dtype) for a, t in zip(debug_inputs, self.signature.inputs)]
        order = [t.name for t in self.signature.inputs]
        n = min(samples, len(arrays[0]))

        def dataset():
            for i in range(n):
                yield [a[i:i + 1] for a in arrays]

        options = tf.lite.experimental.QuantizationDebugOptions(
            layer_direct_compare_metrics={"relative_rmse": _relative_rmse})
        with serving.captured_native_output(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
            warnings.filterwarnings("ignore", message=".*experimental_preserve_all_tensors")  # what the debugger is for
            calibrating = tf.lite.experimental.QuantizationDebugger(converter=converter, debug_dataset=dataset)
            self._calibrated = calibrating.calibrated_model
            inputs = [d["name"] for d in calibrating._quant_interpreter.get_input_details()]
            if len(order) > 1:  # the interpreter's input order, by name
                arrays = [arrays[next(i for i, o in enumerate(order) if o in name)] for name in inputs]
            # a second debugger on the instrumented model keeps every tensor, so each layer's float
            # output can be compared with its dequantized int8 output
            debugger = tf.lite.experimental.QuantizationDebugger(
                quant_debug_model_content=calibrating.quant_model, debug_dataset=dataset, debug_options=options)
            debugger.run()
            dump = io.StringIO()
            debugger.layer_statistics_dump(dump)
        rows = csv.DictReader(io.StringIO(dump.getvalue()))
        self.ranking, self._readers = selective.rank(
            [(r["tensor_name"], float(r["relative_rmse"] or "nan"), r["tensor_name"], r["op_name"]) for r in rows],
            candidate)

    def step(self, layer: str) -> list[str]:
        return selective.step_layers(layer, self.ranking, self._readers)

    def build(self, float_layers) -> TFLiteModel:
        """The int8 model with ``float_layers`` (names from ``ranking``) kept in float32."""
        from tensorflow.lite.python import convert as tf_convert  # what the debugger itself calls

        nodes = [node for e in self.ranking if e.layer in set(float_layers) for node in e.nodes]
        with serving.captured_native_output():
            content = tf_convert.mlir_quantize(self._calibrated, disable_per_channel_for_dense_layers=True,
                                               denylisted_nodes=nodes or None)
        changes = list(self.changes)
        if float_layers:
            changes.append(f"layers kept in float32 (selective quantization): {', '.join(float_layers)}")
        return TFLiteModel(content, "int8", self.signature, self.batch_fixed, changes)
