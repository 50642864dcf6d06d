#!/usr/bin/env python3
"""Run and time an exported model with nothing but NumPy and one runtime.

This file is self-contained on purpose: copy it next to an artifact and its sidecar to a
phone (Termux), a Raspberry Pi or any board, install NumPy and one runtime
(``ai-edge-litert`` or ``tflite-runtime`` for ``.tflite``, ``onnxruntime`` for ``.onnx``),
and run::

    python3 device_bench.py model.int8.tflite --threads 1,4 --json > result.json

It never imports TensorFlow or dlbootcamp. ``dlbootcamp bench`` and ``dlbootcamp verify``
use the same code (``open_artifact`` below), so figures from here and from a device line up.

The sidecar (``ARTIFACT.json`` next to the artifact, schema ``dlbootcamp.sidecar/1``)
describes each input and output: name, shape (-1 = any size), dtype, and for quantized
tensors the affine ``scale``/``zero_point`` (real = scale * (q - zero_point)).
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

SIDECAR_SCHEMA = "dlbootcamp.sidecar/1"
RUNTIME_PACKAGES = {
    ".tflite": "ai-edge-litert (pip install ai-edge-litert) or tflite-runtime",
    ".onnx": "onnxruntime (pip install onnxruntime)",
}


class ArtifactError(Exception):
    """An artifact that cannot be opened or fed as asked. One line; the CLIs exit with code 2."""


# --- the sidecar ---------------------------------------------------------------------------

def sidecar_path(artifact: str) -> str:
    return artifact + ".json"


def read_sidecar(artifact: str) -> dict | None:
    """The sidecar next to ``artifact``, or None when there is none."""
    path = sidecar_path(artifact)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"sidecar {path} is unreadable ({exc}); re-export the model or delete the sidecar.")
    if meta.get("schema") != SIDECAR_SCHEMA:
        raise ArtifactError(f"sidecar {path} has schema {meta.get('schema')!r}; expected {SIDECAR_SCHEMA!r}.")
    return meta


# --- tensors -------------------------------------------------------------------------------

class Tensor:
    """One input or output: name, shape (-1 = dynamic), dtype, optional affine quantization."""

    def __init__(self, name, shape, dtype, scale=None, zero_point=None):
        self.name = name
        self.shape = [int(d) if d is not None and int(d) >= 0 else -1 for d in shape]
        self.dtype = np.dtype(dtype)
        self.scale = float(scale) if scale else None
        self.zero_point = int(zero_point) if scale else None

    @property
    def quantized(self) -> bool:
        return self.scale is not None and self.dtype.kind in "iu"

    def quantize(self, x: np.ndarray) -> np.ndarray:
        if self.quantized and np.asarray(x).dtype.kind == "f":
            info = np.iinfo(self.dtype)
            q = np.round(np.asarray(x, np.float32) / self.scale) + self.zero_point
            return np.clip(q, info.min, info.max).astype(self.dtype)
        return np.asarray(x).astype(self.dtype, copy=False)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        if self.quantized:
            return (np.asarray(q, np.float32) - self.zero_point) * self.scale
        return np.asarray(q)

    def describe(self) -> dict:
        d = {"name": self.name, "shape": self.shape, "dtype": self.dtype.name}
        if self.quantized:
            d.update(scale=self.scale, zero_point=self.zero_point)
        return d

    def __repr__(self):
        return f"Tensor({self.name}, {self.shape}, {self.dtype.name})"


def _check_feed(spec: Tensor, x: np.ndarray, batch_fixed: int | None) -> None:
    x = np.asarray(x)
    want = list(spec.shape)
    if batch_fixed:
        want[0] = -1  # predict() loops over samples of a fixed-batch model
    if x.ndim != len(want) or any(w not in (-1, g) for w, g in zip(want, x.shape)):
        raise ArtifactError(f"input {spec.name!r} has shape {list(x.shape)}; the model expects {spec.shape} "
                            f"(-1 = any size). Feed arrays of that shape (see the sidecar).")


# --- runners -------------------------------------------------------------------------------

class Runner:
    """A loaded artifact. ``invoke`` feeds raw tensors; ``predict`` takes float inputs of any batch.

    Subclasses set ``inputs``/``outputs`` (lists of Tensor), ``runtime`` and ``batch_fixed``.
    """

    runtime = ""
    batch_fixed: int | None = None

    def invoke(self, feeds: list[np.ndarray]) -> list[np.ndarray]:
        raise NotImplementedError

    def predict(self, *xs):
        """Float in, float out, any batch size: quantizes, loops over a fixed batch, dequantizes.

        Returns one array for a single-output model, else a list in output order.
        """
        if len(xs) == 1 and isinstance(xs[0], (list, tuple)):
            xs = tuple(xs[0])
        if len(xs) != len(self.inputs):
            raise ArtifactError(f"the model takes {len(self.inputs)} inputs "
                                f"({', '.join(t.name for t in self.inputs)}); got {len(xs)}.")
        for spec, x in zip(self.inputs, xs):
            _check_feed(spec, x, self.batch_fixed)
        n = len(xs[0])
        step = self.batch_fixed or n
        chunks = []
        for start in range(0, n, step):
            feeds = [spec.quantize(x[start:start + step]) for spec, x in zip(self.inputs, xs)]
            chunks.append([spec.dequantize(o) for spec, o in zip(self.outputs, self.invoke(feeds))])
        outs = [np.concatenate([c[i] for c in chunks]) for i in range(len(self.outputs))]
        return outs[0] if len(outs) == 1 else outs


class TFLiteRunner(Runner):
    def __init__(self, path: str, threads: int = 1, xnnpack: bool = True):
        try:
            from ai_edge_litert import interpreter as lite
            self.runtime = "ai-edge-litert"
        except ImportError:
            try:
                from tflite_runtime import interpreter as lite  # the older standalone package
                self.runtime = "tflite-runtime"
            except ImportError:
                raise ArtifactError(f"no TFLite runtime is installed; install {RUNTIME_PACKAGES['.tflite']}.")
        kwargs = {"model_path": path, "num_threads": threads}
        if not xnnpack:
            kwargs["experimental_op_resolver_type"] = lite.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        try:
            self.interpreter = lite.Interpreter(**kwargs)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ArtifactError(f"{path} is not a loadable TFLite model ({str(exc).splitlines()[0]}); "
                                f"re-export it with `dlbootcamp export`.")
        it = self.interpreter
        sigs = it.get_signature_list()
        if sigs:  # names as the exporter gave them, in signature order
            key = next(iter(sigs))
            runner = it.get_signature_runner(key)
            ins = runner.get_input_details()
            outs = runner.get_output_details()
            in_details = [ins[name] for name in sigs[key]["inputs"]]
            out_details = [outs[name] for name in sigs[key]["outputs"]]
            in_names, out_names = sigs[key]["inputs"], sigs[key]["outputs"]
        else:
            in_details, out_details = it.get_input_details(), it.get_output_details()
            in_names = [d["name"] for d in in_details]
            out_names = [d["name"] for d in out_details]
        full_in = {d["index"]: d for d in it.get_input_details()}
        full_out = {d["index"]: d for d in it.get_output_details()}
        self._in_index = [d["index"] for d in in_details]
        self._out_index = [d["index"] for d in out_details]
        self.inputs = [self._tensor(n, full_in[i]) for n, i in zip(in_names, self._in_index)]
        self.outputs = [self._tensor(n, full_out[i]) for n, i in zip(out_names, self._out_index)]
        batch = [int(full_in[i]["shape_signature"][0]) for i in self._in_index if len(full_in[i]["shape"])]
        self.batch_fixed = batch[0] if batch and batch[0] > 0 else None
        self._shapes = {i: tuple(full_in[i]["shape"]) for i in self._in_index}

    @staticmethod
    def _tensor(name, d) -> Tensor:
        scale, zp = d.get("quantization", (0.0, 0))
        sig = d.get("shape_signature", d["shape"])
        return Tensor(name, list(sig), d["dtype"], scale or None, zp)

    def invoke(self, feeds):
        it = self.interpreter
        for i, x in zip(self._in_index, feeds):
            if tuple(x.shape) != self._shapes[i]:  # dynamic dims: resize once per new shape
                it.resize_tensor_input(i, x.shape, strict=False)
                it.allocate_tensors()
                self._shapes = {j: tuple(it.get_tensor(j).shape) if j != i else tuple(x.shape) for j in self._in_index}
            it.set_tensor(i, x)
        it.invoke()
        return [it.get_tensor(i) for i in self._out_index]


class OnnxRunner(Runner):
    _DTYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
               "tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(int8)": "int8",
               "tensor(uint8)": "uint8", "tensor(bool)": "bool"}

    def __init__(self, path: str, threads: int = 1):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ArtifactError(f"onnxruntime is not installed; install {RUNTIME_PACKAGES['.onnx']}.")
        self.runtime = "onnxruntime"
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise ArtifactError(f"{path} is not a loadable ONNX model ({str(exc).splitlines()[0]}); "
                                f"re-export it with `dlbootcamp export`.")
        self.inputs = [Tensor(i.name, [d if isinstance(d, int) else -1 for d in i.shape],
                              self._DTYPES.get(i.type, "float32")) for i in self.session.get_inputs()]
        self.outputs = [Tensor(o.name, [d if isinstance(d, int) else -1 for d in o.shape],
                               self._DTYPES.get(o.type, "float32")) for o in self.session.get_outputs()]
        self._names = [t.name for t in self.inputs]
        self.batch_fixed = self.inputs[0].shape[0] if self.inputs and self.inputs[0].shape[0] > 0 else None

    def invoke(self, feeds):
        return self.session.run(None, dict(zip(self._names, feeds)))


def open_artifact(path: str, *, threads: int = 1, xnnpack: bool = True) -> Runner:
    """Load ``path`` (.tflite or .onnx) in its own runtime; ArtifactError on anything wrong."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in RUNTIME_PACKAGES:
        raise ArtifactError(f"{path}: unknown artifact type {ext or '(no extension)'!r}; expected .tflite or .onnx.")
    if not os.path.isfile(path):
        raise ArtifactError(f"{path} does not exist or is not a file; expected an exported .tflite or .onnx model.")
    if ext == ".tflite":
        return TFLiteRunner(path, threads=threads, xnnpack=xnnpack)
    return OnnxRunner(path, threads=threads)


def sample_inputs(runner: Runner, *, batch: int = 1, seed: int = 0, sidecar: dict | None = None) -> list[np.ndarray]:
    """Inputs matching the model's spec, from a fixed seed (float in [0, 1), ints in the vocabulary)."""
    rng = np.random.default_rng(seed)
    hints = {t["name"]: t for t in (sidecar or {}).get("inputs", [])}
    feeds = []
    for spec in runner.inputs:
        shape = [batch if i == 0 and d == -1 else (d if d > 0 else 1) for i, d in enumerate(spec.shape)]
        if runner.batch_fixed and shape:
            shape[0] = runner.batch_fixed
        hint = hints.get(spec.name, {})
        if spec.dtype.kind in "iu" and not spec.quantized:
            feeds.append(rng.integers(0, int(hint.get("vocab_size", 2)), size=shape).astype(spec.dtype))
        else:
            lo, hi = hint.get("range", (0.0, 1.0))
            feeds.append(spec.quantize(rng.uniform(lo, hi, size=shape).astype(np.float32)))
    return feeds
