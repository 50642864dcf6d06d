"""The sidecar: what a device-side script needs to feed an artifact and read its answer.

Every artifact ``model.int8.tflite`` gets ``model.int8.tflite.json`` beside it, in the schema
``device_bench`` reads (``dlbootcamp.sidecar/1``)::

    {"schema": "dlbootcamp.sidecar/1", "artifact": "model.int8.tflite", "format": "tflite",
     "quantization": "int8", "model_name": "digits_mlp", "lesson": "training",
     "batch_fixed": null, "changes": [], "operators": ["DEQUANTIZE", "FULLY_CONNECTED", "QUANTIZE", ...],
     "inputs":  [{"name": "image", "shape": [-1, 8, 8], "dtype": "int8",
                  "scale": 0.0039, "zero_point": -128, "range": [0.0, 1.0]}],
     "outputs": [{"name": "probs", "shape": [-1, 10], "dtype": "int8", "scale": ..., "zero_point": ...}],
     "labels": ["0", "1", ...], "preprocessing": "8x8 grayscale digit, ..."}

Shapes use -1 for a dynamic dimension; a quantized tensor carries ``scale`` and
``zero_point`` (real = scale x (q - zero_point)); float inputs carry the ``range`` their
data covered, integer inputs (token ids) the ``vocab_size``. Tensor specs are read back from
the written artifact in its own runtime, so they describe the file, not our intentions.
Lesson extras (labels, preprocessing, vocabulary) are added at the top level.
"""

from __future__ import annotations

import pathlib

import numpy as np

from dlbootcamp import atomic
from dlbootcamp.export import device_bench

SCHEMA = device_bench.SIDECAR_SCHEMA
RESERVED = ("schema", "artifact", "format", "quantization", "model_name", "lesson", "batch_fixed", "changes",
            "operators", "inputs", "outputs")


def input_hints(model, sig, arrays: list[np.ndarray] | None) -> dict[str, dict]:
    """Per input name: ``range`` [lo, hi] for floats (from data), ``vocab_size`` for integers."""
    hints: dict[str, dict] = {}
    vocab = _embedding_sizes(model)
    for i, t in enumerate(sig.inputs):
        data = None if arrays is None else np.asarray(arrays[i])
        if t.is_integer:
            size = vocab.get(t.name)
            if size is None and data is not None and data.size:
                size = int(data.max()) + 1
            if size:
                hints[t.name] = {"vocab_size": int(size)}
        elif data is not None and data.size:
            hints[t.name] = {"range": [round(float(data.min()), 6), round(float(data.max()), 6)]}
    return hints


def _embedding_sizes(model) -> dict[str, int]:
    """Input name -> input_dim of the Embedding layer that reads that input directly."""
    from dlbootcamp.export import serving

    sig = serving.signature(model)
    by_tensor = {id(t): info.name for t, info in zip(model.inputs, sig.inputs)}
    sizes = {}
    for layer in model.layers:
        if type(layer).__name__ != "Embedding":
            continue
        for node in getattr(layer, "_inbound_nodes", []):
            for tensor in node.input_tensors:
                name = by_tensor.get(id(tensor))
                if name:
                    sizes[name] = int(layer.input_dim)
    return sizes


def build(artifact, runner: device_bench.Runner, *, fmt: str, quantization: str, model_name: str,
          lesson: str | None, changes: list[str], sig, hints: dict[str, dict] | None = None,
          extras: dict | None = None, operators: list[str] | None = None) -> dict:
    """The sidecar dict of a written artifact, in the Keras model's input/output order."""
    hints = hints or {}

    def describe(tensors, wanted):
        by_name = {t.name: t for t in tensors}
        ordered = [by_name[w.name] for w in wanted if w.name in by_name]
        ordered += [t for t in tensors if t not in ordered]
        return [{**t.describe(), **hints.get(t.name, {})} for t in ordered]

    meta = {
        "schema": SCHEMA,
        "artifact": pathlib.Path(artifact).name,
        "format": fmt,
        "quantization": quantization,
        "model_name": model_name,
        "lesson": lesson,
        "batch_fixed": runner.batch_fixed,
        "changes": list(changes),
        "operators": list(operators or []),  # every op in the file: built-ins only unless --allow-flex
        "inputs": describe(runner.inputs, sig.inputs),
        "outputs": describe(runner.outputs, sig.outputs),
    }
    for key, value in (extras or {}).items():
        if key not in RESERVED:
            meta[key] = value
    return meta


def write(artifact, meta: dict, *, overwrite: bool = False) -> pathlib.Path:
    return atomic.write_json(device_bench.sidecar_path(str(artifact)), meta, overwrite=overwrite)
