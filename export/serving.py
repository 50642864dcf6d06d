"""From a Keras model to a frozen, named TensorFlow function: what every converter starts from.

Both converters (TFLite and ONNX) trace the same serving function:

1. **a signature**: one named ``tf.TensorSpec`` per model input, in ``model.inputs`` order,
   and one name per output. The names come from the model (input layer names, output layer
   names, or the keys of a dict-structured model), so the artifact's tensors read ``image``
   and ``probs`` rather than ``serving_default_x:0`` and ``Identity``;
2. **a traced function** that calls the model in inference mode and returns a dict
   output-name -> tensor (TFLite and tf2onnx take the tensor names from it);
3. **frozen weights**: the variables become constants before conversion. (Handing the Keras
   3 model to ``TFLiteConverter.from_concrete_functions`` as the "trackable object" instead
   converts without complaint and produces an artifact that reads uninitialised memory.)

Recurrent layers need two more tools, because Keras runs them as a ``tf.while_loop`` over a
``TensorList`` whose element shape must be static for TFLite's built-in ``WHILE``:

- ``fixed_batch``: the batch dimension is pinned (1 by default), and
- ``unrolled``: a clone with ``unroll=True`` in every recurrent layer (same weights), which
  replaces the loop by one cell per time step when the number of steps is known.

Everything here imports TensorFlow; callers import this module only when they convert.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import sys
import tempfile

import numpy as np

RECURRENT_CLASSES = ("RNN", "SimpleRNN", "GRU", "LSTM", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")


# --- the signature -------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """One model input or output as the artifact will name it. ``None`` in a shape = dynamic."""

    name: str
    shape: tuple
    dtype: str

    @property
    def is_integer(self) -> bool:
        return np.dtype(self.dtype).kind in "iub"


@dataclasses.dataclass(frozen=True)
class Signature:
    inputs: tuple[TensorInfo, ...]  # in model.inputs order (what predict functions take)
    outputs: tuple[TensorInfo, ...]  # in model.outputs order (what predict functions return)

    @property
    def batch_dynamic(self) -> bool:
        return all(t.shape and t.shape[0] is None for t in self.inputs)

    def with_batch(self, batch: int | None) -> "Signature":
        """The same signature with the first (batch) dimension set to ``batch``."""
        def fix(t):
            return dataclasses.replace(t, shape=(batch, *t.shape[1:])) if t.shape else t

        return Signature(tuple(fix(t) for t in self.inputs), tuple(fix(t) for t in self.outputs))


def _clean(name: str) -> str:
    """A tensor name every runtime accepts: letters, digits and underscores."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", str(name)).strip("_") or "tensor"
    return name if not name[0].isdigit() else f"t_{name}"


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}_{seen[n] - 1}")
    return out


def _producer(tensor) -> str:
    history = getattr(tensor, "_keras_history", None)
    return history.operation.name if history is not None else tensor.name


def exportable(model):
    """``model`` itself, or a functional view of it (same layers, same weights) that has ``input``/``output``.

    A ``keras.Sequential`` has ``inputs``/``outputs`` once built (from ``keras.Input``, ``build()`` or
    a first call) but no ``input``/``output`` until it is called again after loading, which the
    converters and the parity check need; the functional view has both. A Sequential saved
    before it was ever built has no input shape and no weights: ExportError saying how to fix it.
    """
    import keras

    from dlbootcamp.errors import ExportError

    try:
        model.input, model.output  # noqa: B018 (the check is the attribute access)
        return model
    except (AttributeError, ValueError):
        pass
    try:
        inputs, outputs = list(model.inputs), list(model.outputs)
    except (AttributeError, ValueError):
        inputs = outputs = []
    if not inputs or not outputs:
        kind = "Sequential model" if isinstance(model, keras.Sequential) else "Model"
        raise ExportError(f"{kind} {model.name!r} was never built, so it has no input shape and no weights to "
                          f"export; start it with keras.Input(shape=...) (or call model.build((None, ...))), train "
                          f"or load its weights, and save it again.")
    if isinstance(model, keras.Sequential) and len(inputs) == 1:
        # Its layers again on a fresh Input with a dynamic batch: built by a first call on data,
        # a Sequential records that data's batch size as its own.
        t = inputs[0]
        x = fresh = keras.Input(batch_shape=(None, *t.shape[1:]), dtype=t.dtype, name=_producer(t))
        for layer in model.layers:
            x = layer(x)
        return keras.Model(fresh, x, name=model.name)
    return keras.Model(inputs[0] if len(inputs) == 1 else inputs, outputs[0] if len(outputs) == 1 else outputs,
                       name=model.name)


def signature(model) -> Signature:
    """Names, shapes and dtypes of a built Keras model's inputs and outputs (ExportError if none)."""
    import keras

    model = exportable(model)
    inputs, outputs = list(model.inputs), list(model.outputs)
    if isinstance(model.input, dict):  # dict-structured models: the keys are the names
        in_names = [k for k, _ in sorted(model.input.items())]
    else:
        in_names = [_producer(t) for t in inputs]
    if isinstance(model.output, dict):
        out_names = [k for k, _ in sorted(model.output.items())]
    else:
        out_names = [_producer(t) for t in outputs]
        if len(set(out_names)) < len(out_names):  # several outputs of one layer
            out_names = [f"{n}_{i}" for i, n in enumerate(out_names)]
    in_names = _unique([_clean(n) for n in in_names])
    out_names = _unique([_clean(n) for n in out_names])

    def info(name, tensor):
        shape = tuple(None if d is None else int(d) for d in tensor.shape)
        return TensorInfo(name, shape, keras.backend.standardize_dtype(tensor.dtype))

    return Signature(tuple(info(n, t) for n, t in zip(in_names, inputs)),
                     tuple(info(n, t) for n, t in zip(out_names, outputs)))


# --- the traced, frozen function -----------------------------------------------------------------

def tensor_specs(sig: Signature) -> list:
    import tensorflow as tf

    return [tf.TensorSpec(t.shape, tf.as_dtype(t.dtype), name=t.name) for t in sig.inputs]


def serving_function(model, sig: Signature):
    """A ``tf.function`` over named inputs (in ``sig`` order) returning {output name: tensor}."""
    import keras
    import tensorflow as tf

    out_names = [t.name for t in sig.outputs]

    @tf.function(input_signature=tensor_specs(sig))
    def serve(*args):
        outputs = model(keras.tree.pack_sequence_as(model.input, list(args)), training=False)
        return dict(zip(out_names, keras.tree.flatten(outputs)))

    return serve


def frozen_function(model, sig: Signature):
    """The serving function traced with its weights turned into constants (a ConcreteFunction)."""
    return frozen_serving_function(model, sig).get_concrete_function()


def frozen_serving_function(model, sig: Signature):
    """``serving_function`` with every captured weight and tensor turned into a constant (a tf.function).

    Tensors a layer computed outside its variables (an adapted ``Normalization``'s mean and
    variance) are captures of the traced graph; frozen, they cannot become extra graph inputs.
    """
    import tensorflow as tf
    # The public converters freeze the same way internally; TFLite needs it done up front to
    # keep the output names (see the module docstring).
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    traced = serving_function(model, sig).get_concrete_function()
    frozen = convert_variables_to_constants_v2(traced)

    @tf.function(input_signature=tensor_specs(sig), autograph=False)
    def serve(*args):
        return tf.nest.pack_sequence_as(traced.structured_outputs, frozen(*args))

    return serve


# --- recurrent models ------------------------------------------------------------------------------

def _walk(layer):
    yield layer
    for child in getattr(layer, "layers", None) or []:
        yield from _walk(child)
    for attr in ("layer", "forward_layer", "backward_layer"):  # Bidirectional, TimeDistributed
        child = getattr(layer, attr, None)
        if child is not None and child is not layer and hasattr(child, "get_config"):
            yield from _walk(child)


def recurrent_layers(model) -> list[str]:
    """Names of the recurrent layers anywhere in ``model`` (nested models and wrappers too)."""
    return sorted({l.name for l in _walk(model) if type(l).__name__ in RECURRENT_CLASSES and l is not model})


def _unroll_config(config):
    """A layer config with ``unroll=True`` in every recurrent layer it contains."""
    if isinstance(config, dict):
        out = {k: _unroll_config(v) for k, v in config.items()}
        if out.get("class_name") in RECURRENT_CLASSES and isinstance(out.get("config"), dict):
            out["config"] = {**out["config"], "unroll": True}
        return out
    if isinstance(config, list):
        return [_unroll_config(v) for v in config]
    return config


def unrolled(model):
    """A copy of ``model`` whose recurrent layers are unrolled, with the same weights.

    Raises ValueError when a recurrent layer's number of time steps is not fixed.
    """
    import keras

    def clone(layer):
        config = layer.get_config()
        if type(layer).__name__ in RECURRENT_CLASSES:
            config = {**config, "unroll": True}
        elif recurrent_layers(layer):  # a wrapper (Bidirectional) or a nested model
            config = _unroll_config(config)
        return layer.__class__.from_config(config)

    for layer in _walk(model):
        if type(layer).__name__ in RECURRENT_CLASSES:
            try:
                steps = layer.input.shape[1]
            except (AttributeError, ValueError):  # inside a wrapper: the wrapper's input says
                steps = 0
            if steps is None:
                raise ValueError(f"recurrent layer {layer.name!r} has a variable number of time steps, so it "
                                 f"cannot be unrolled; give its input a fixed length")
    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


# --- library noise --------------------------------------------------------------------------------

# Warnings libraries print about their own internals, which a learner can neither act on nor should:
# Keras saving a model's optimizer, or calling a one-input model with a one-element list; TensorFlow
# tracing a lookup table's initializer it does not serialize, or retracing a predict function.
QUIET_WARNINGS = (r".*structure of `?inputs`? doesn't match", r".*Skipping variable loading for optimizer",
                  r".*tf\.lite\.Interpreter is deprecated", r".*Statistics for quantized inputs were expected",
                  r".*experimental_preserve_all_tensors", r".*Compiled the loaded model, but the compiled metrics",
                  r".*__array__ implementation doesn't accept a copy keyword")


@contextlib.contextmanager
def plain_embedding_lookups():
    """While tracing, an ``Embedding`` looks its ids up with one ``tf.gather``.

    Keras' ``ops.take`` first maps negative ids to the end of the table (``where(ids < 0, ids +
    n, ids)``), which TFLite writes as a SELECT operator that TensorFlow Lite for Microcontrollers
    has no kernel for. Token ids are never negative, so the lookup is the same for every valid
    input; the micro export traces its graph inside this block.
    """
    import keras
    import tensorflow as tf

    original = keras.layers.Embedding.call

    def call(self, inputs):
        ids = inputs if inputs.dtype in (tf.int32, tf.int64) else tf.cast(inputs, tf.int32)
        return tf.cast(tf.gather(self.embeddings, ids), self.compute_dtype)

    keras.layers.Embedding.call = call
    try:
        yield
    finally:
        keras.layers.Embedding.call = original


@contextlib.contextmanager
def quiet_libraries():
    """TensorFlow's and Keras' own warnings off while exporting or benchmarking (errors still show).

    Python warnings matching ``QUIET_WARNINGS`` are ignored; the ``tensorflow`` and ``absl`` loggers
    (``Issue encountered when serializing table_initializer``, retracing notices) are set to ERROR.
    """
    import warnings

    loggers = [logging.getLogger(n) for n in ("tensorflow", "absl", "tf2onnx")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        for pattern in QUIET_WARNINGS:
            warnings.filterwarnings("ignore", message=pattern)
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)


# --- converter noise ---------------------------------------------------------------------------

@contextlib.contextmanager
def captured_native_output():
    """Send what native code writes to stdout/stderr (MLIR diagnostics, TF logs) to a buffer.

    Yields a list that receives the captured text when the block ends, so a failed conversion
    can quote it and a successful one prints nothing.
    """
    captured: list[str] = []
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    loggers = [logging.getLogger(n) for n in ("tf2onnx", "tensorflow", "absl")]
    levels = [lg.level for lg in loggers]
    with tempfile.TemporaryFile(mode="w+b") as buf:
        try:
            for fd in saved:
                os.dup2(buf.fileno(), fd)
            for lg in loggers:
                lg.setLevel(logging.ERROR)
            yield captured
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)
            buf.seek(0)
            captured.append(buf.read().decode("utf-8", "replace"))
