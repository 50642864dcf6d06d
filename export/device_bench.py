#!/usr/bin/env python3
"""Run and time an exported model with nothing but NumPy and one runtime.

This file is self-contained on purpose: copy it next to an artifact and its sidecar to a
phone (Termux), a Raspberry Pi or any board, install NumPy and one runtime
(``ai-edge-litert`` or ``tflite-runtime`` for ``.tflite``, ``onnxruntime`` for ``.onnx``),
and run::

    python3 device_bench.py model.int8.tflite --threads 1,4 --json > result.json

It never imports TensorFlow or dlbootcamp. ``dlbootcamp bench`` and ``dlbootcamp verify``
use the same code (``open_artifact`` and ``bench_runner`` below), so figures from here and
from a device line up.

The sidecar (``ARTIFACT.json`` next to the artifact, schema ``dlbootcamp.sidecar/1``)
describes each input and output: name, shape (-1 = any size), dtype, and for quantized
tensors the affine ``scale``/``zero_point`` (real = scale * (q - zero_point)).

How a benchmark is measured (the names follow TFLite's ``benchmark_model`` and
``onnxruntime_perf_test``, so their figures and ours can sit in one table):

1. **init**: load the model and allocate its tensors at the benchmark's batch size
   (``benchmark_model``'s "Init", onnxruntime's "Session creation time");
2. **warm-up**: ``--warmup`` runs; the first is reported as **first inference**, all of them
   (first included) as **warm-up mean** (``benchmark_model``'s "Warmup (avg)");
3. **runs**: ``--runs`` timed inferences (or fewer if ``--max-secs`` runs out); each one is
   timed alone with ``time.perf_counter_ns`` around set-inputs / invoke / get-outputs, and we
   report min / p50 / p90 / p99 / max / mean / std of those (``numpy.percentile``, linear),
   plus throughput = batch x runs / (sum of the run times), in inferences (samples) per second.
   Objects alive before the benchmark are frozen (``gc.freeze``), so a garbage-collection pass
   over a big heap (TensorFlow's, in ``dlbootcamp bench``) cannot land inside a timed run; the
   collector itself stays on, as in an app;
4. **memory**: resident set size (``/proc/self/statm``) before loading, after init, sampled
   about every 0.1 s while running, and at the end; **peak RSS** is the highest of those,
   **RSS growth** is end minus after-warm-up (a leak shows up here), and
   ``process_peak_rss_mb`` is the process's high-water mark (``getrusage``).

Every result carries the machine it ran on (CPU model, cores, load, runtime versions) and the
settings (threads, XNNPACK on/off, batch). ``--json`` prints one document with schema
``dlbootcamp.bench/1``; docs/benchmark-schema.md describes every field.
"""

from __future__ import annotations

import argparse
import array
import gc
import json
import os
import platform
import re
import sys
import time


class _NumPy:
    """``np``: NumPy, imported on first use. `dlbootcamp --help` builds this file's flags
    (``add_arguments``) without loading it, and a bare device gets one line saying what to install."""

    def __getattr__(self, name):
        global np
        try:
            import numpy
        except ImportError:
            raise ArtifactError("NumPy is not installed; install it (pip install numpy; on Termux: pkg install "
                                "python-numpy).") from None
        np = numpy
        return getattr(numpy, name)


np = _NumPy()

BENCH_SCHEMA = "dlbootcamp.bench/1"
DEFAULT_RUNS = 100  # timed runs per artifact and thread count
DEFAULT_WARMUP = 10  # warm-up runs, the first of which is the "first inference"
DEFAULT_MAX_SECS = 30.0  # per phase (warm-up, runs): no new run starts after this many seconds
TICK_S = 0.1  # how often the progress bar and the RSS sampler look in, between runs
# Every result has exactly these keys (docs/benchmark-schema.md says what each one means).
RESULT_FIELDS = ("artifact", "name", "format", "variant", "quantization", "lesson", "export", "runtime",
                 "runtime_version", "threads", "xnnpack", "batch", "inputs", "input_shapes", "model_size_bytes",
                 "init_ms", "first_inference_ms", "warmup_runs", "warmup_mean_ms", "runs", "latency_ms",
                 "throughput_per_s", "rss_before_load_mb", "rss_after_init_mb", "rss_end_mb", "peak_rss_mb",
                 "rss_growth_mb", "process_peak_rss_mb", "memory_measured_in", "stopped_by_max_secs", "source",
                 "machine")
LATENCY_FIELDS = ("min", "p50", "p90", "p99", "max", "mean", "std")
SIDECAR_SCHEMA = "dlbootcamp.sidecar/1"
# What the exporter writes, defined once here (this file is the one every other module may import):
FORMATS = ("tflite", "onnx", "micro")  # ONNX is float32 only; micro: full-int8 batch-1 TFLite for TFLite Micro
QUANTIZATIONS = ("fp32", "fp16", "dynamic", "int8", "int8-full")  # TFLite variants, artifact NAME.QUANT.tflite
CALIBRATED = ("int8", "int8-full")  # variants that need calibration data (int8: float I/O; int8-full: int8 I/O)
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

    def make_call(self, feeds: list[np.ndarray]):
        """A no-argument function that runs one inference on ``feeds`` (raw, already quantized).

        The benchmark times this function and nothing else, so runners bind everything they can
        beforehand (buffers resized, methods looked up): the call does what an app's inference
        loop does - copy the inputs in, run, copy the outputs out - and no bookkeeping.
        """
        return lambda: self.invoke(feeds)

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

    def make_call(self, feeds):
        it = self.interpreter
        resized = False
        for i, x in zip(self._in_index, feeds):
            if tuple(x.shape) != self._shapes[i]:
                it.resize_tensor_input(i, x.shape, strict=False)
                resized = True
        if resized:  # once, before timing: allocation at this batch size counts as init
            it.allocate_tensors()
            self._shapes = {i: tuple(x.shape) for i, x in zip(self._in_index, feeds)}
        set_tensor, invoke, get_tensor = it.set_tensor, it.invoke, it.get_tensor
        pairs, outs = list(zip(self._in_index, feeds)), list(self._out_index)
        if len(pairs) == 1 and len(outs) == 1:  # the common case, without loops
            (i, x), = pairs
            o = outs[0]

            def call():
                set_tensor(i, x)
                invoke()
                return get_tensor(o)
        else:
            def call():
                for i, x in pairs:
                    set_tensor(i, x)
                invoke()
                return [get_tensor(o) for o in outs]
        return call

    def invoke(self, feeds):
        it = self.interpreter
        # (export helper) resize every input first, then allocate once: allocating between two
        # resizes fails on multi-input models whose inputs meet (XNNPack "failed to reshape").
        changed = [(i, x) for i, x in zip(self._in_index, feeds) if tuple(x.shape) != self._shapes[i]]
        if changed:  # dynamic dims: resize once per new shape
            for i, x in changed:
                it.resize_tensor_input(i, x.shape, strict=False)
            it.allocate_tensors()
            self._shapes.update({i: tuple(x.shape) for i, x in changed})
        for i, x in zip(self._in_index, feeds):
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

    def make_call(self, feeds):
        run, feed = self.session.run, dict(zip(self._names, feeds))
        return lambda: run(None, feed)


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


DEFAULT_VOCAB = 2  # integer inputs without a vocab_size hint: ids 0 and 1 are valid for any vocabulary


def generate_inputs(tensors, n: int = 1, *, seed: int = 0, hints: dict | None = None) -> list[np.ndarray]:
    """Inputs for ``tensors`` (objects with ``name``, ``shape``, ``dtype``) from a fixed seed.

    The one generated-input maker (the exporter's parity check and every benchmark use it).
    Dynamic dimensions (-1 or None) are ``n`` for the batch, 1 elsewhere. Floats are uniform in
    the input's ``range`` hint (default [0, 1)); integer inputs uniform in [0, ``vocab_size``)
    (default ``DEFAULT_VOCAB``). A quantized input (int8 with a scale) gets floats: quantize them.
    """
    rng = np.random.default_rng(seed)
    out = []
    for t in tensors:
        dims = [None if d is None or int(d) < 0 else int(d) for d in t.shape]
        shape = [n if i == 0 and d is None else (d or 1) for i, d in enumerate(dims)]
        hint = (hints or {}).get(t.name, {})
        dtype = np.dtype(t.dtype)
        if dtype.kind in "iub" and not getattr(t, "quantized", False):
            out.append(rng.integers(0, int(hint.get("vocab_size", DEFAULT_VOCAB)), size=shape).astype(dtype))
        else:
            lo, hi = hint.get("range", (0.0, 1.0))
            out.append(rng.uniform(lo, hi, size=shape).astype(np.float32 if dtype.kind != "f" else dtype))
    return out


def sample_inputs(runner: Runner, *, batch: int = 1, seed: int = 0, sidecar: dict | None = None) -> list[np.ndarray]:
    """Raw feeds for ``runner`` from ``generate_inputs``, with the sidecar's hints, quantized where it wants."""
    hints = {t["name"]: t for t in (sidecar or {}).get("inputs", [])}
    arrays = generate_inputs(runner.inputs, runner.batch_fixed or batch, seed=seed, hints=hints)
    return [spec.quantize(x) for spec, x in zip(runner.inputs, arrays)]


# --- checking what was asked, before any work starts ------------------------------------------

def check_settings(*, threads=(1,), runs=DEFAULT_RUNS, warmup=DEFAULT_WARMUP, batch=1,
                   max_secs=DEFAULT_MAX_SECS) -> None:
    """ArtifactError (one line) for a setting no benchmark can run with."""
    for flag, value in (("--runs", runs), ("--warmup", warmup), ("--batch", batch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ArtifactError(f"{flag} must be a positive integer; got {value!r}.")
    if not threads or any(isinstance(t, bool) or not isinstance(t, int) or t < 1 for t in threads):
        raise ArtifactError(f"--threads must be positive integers such as 1,2,4; got {list(threads)!r}.")
    if not max_secs or max_secs <= 0:
        raise ArtifactError(f"--max-secs must be a positive number of seconds; got {max_secs!r}.")


def parse_threads(text: str) -> tuple[int, ...]:
    """'1,2,4' -> (1, 2, 4); ArtifactError for anything else."""
    try:
        threads = tuple(int(t) for t in str(text).split(",") if t.strip())
    except ValueError:
        raise ArtifactError(f"--threads must be positive integers such as 1,2,4; got {text!r}.") from None
    check_settings(threads=threads)
    return threads


def check_artifact(path: str, extensions=tuple(RUNTIME_PACKAGES)) -> str:
    """The artifact's extension; ArtifactError when it is unknown or the file is missing."""
    ext = os.path.splitext(path)[1].lower()
    kinds = " or ".join([", ".join(extensions[:-1]), extensions[-1]]) if len(extensions) > 1 else extensions[0]
    if ext not in extensions:
        raise ArtifactError(f"{path}: unknown artifact type {ext or '(no extension)'!r}; expected {kinds}.")
    if not os.path.isfile(path):
        raise ArtifactError(f"{path} does not exist or is not a file; expected an exported {kinds} model.")
    return ext


def ensure_runtime(ext: str) -> str:
    """Import the runtime for ``ext`` now (so init times exclude the import); its package name."""
    if ext == ".tflite":
        try:
            import ai_edge_litert.interpreter  # noqa: F401
            return "ai-edge-litert"
        except ImportError:
            try:
                import tflite_runtime.interpreter  # noqa: F401
                return "tflite-runtime"
            except ImportError:
                raise ArtifactError(f"no TFLite runtime is installed; install {RUNTIME_PACKAGES['.tflite']}.") from None
    if ext == ".onnx":
        try:
            import onnxruntime  # noqa: F401
            return "onnxruntime"
        except ImportError:
            raise ArtifactError(f"onnxruntime is not installed; install {RUNTIME_PACKAGES['.onnx']}.") from None
    raise ArtifactError(f"unknown artifact type {ext!r}; expected .tflite or .onnx.")


# --- inputs: a file, the sidecar's hints, or a fixed seed -------------------------------------

def load_inputs(path: str, flag: str = "--inputs") -> dict[str, np.ndarray]:
    """Arrays from a .npz (``numpy.savez``) or .npy file, by name, in file order.

    The one .npz reader: ``--inputs``/``--calibration`` of the exporter and every benchmark use
    it (then ``match_inputs``).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ArtifactError(f"{flag} {path} does not exist; expected a .npz file written by numpy.savez "
                            f"with one array per model input.")
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.ndarray):
            return {"arr_0": loaded}
        with loaded:
            return {k: loaded[k] for k in loaded.files}
    except Exception as exc:  # zipfile, pickle and format errors all mean the same to the user
        raise ArtifactError(f"{flag} {path} is not a readable .npz file ({str(exc).splitlines()[0]}); "
                            f"expected numpy.savez output with one array per model input.") from None


def _plain(name: str) -> str:
    """Input names as different converters spell them: 'serving_default_image:0' -> 'image'."""
    name = name.split(":")[0]
    return name[len("serving_default_"):] if name.startswith("serving_default_") else name


def match_inputs(model, inputs, source: str = "--inputs") -> list[np.ndarray]:
    """One array per model input, in the model's order, from a dict (by name), list or array.

    ``model``: a Runner, or the input names. A dict matches by name (``serving_default_x:0``
    reads as ``x``); unnamed arrays (``arr_0``...) or a single array for a single input match by
    position. All arrays must have the same number of rows.
    """
    names = [t.name for t in model.inputs] if isinstance(model, Runner) else list(model)
    if isinstance(inputs, np.ndarray):
        inputs = [inputs]
    if isinstance(inputs, dict):
        by_plain = {_plain(k): v for k, v in inputs.items()}
        if all(_plain(n) in by_plain for n in names):
            arrays = [np.asarray(by_plain[_plain(n)]) for n in names]
        elif len(inputs) == len(names) and (len(names) == 1 or all(re.fullmatch(r"arr_\d+", k) for k in inputs)):
            arrays = [np.asarray(v) for v in inputs.values()]
        else:
            raise ArtifactError(f"{source} holds arrays {sorted(inputs)}; the model's inputs are {names}. "
                                f"Save one array per input, named after it: numpy.savez(FILE, {names[0]}=...).")
    else:
        inputs = list(inputs)
        if len(inputs) != len(names):
            raise ArtifactError(f"{source} gives {len(inputs)} arrays; the model takes {len(names)} "
                                f"({', '.join(names)}). Give one array per input.")
        arrays = [np.asarray(x) for x in inputs]
    lengths = sorted({len(a) if a.ndim else 1 for a in arrays})
    if len(lengths) > 1:
        raise ArtifactError(f"{source}: the input arrays have different numbers of samples {lengths}; expected the "
                            f"same number of rows in each.")
    return arrays


def make_feeds(runner: Runner, *, batch: int = 1, inputs=None, sidecar: dict | None = None, seed: int = 0,
               source: str = "--inputs") -> tuple[list[np.ndarray], str]:
    """Raw feeds of ``batch`` rows for ``runner`` and a words description of where they came from.

    With ``inputs`` (arrays or a dict), the first ``batch`` rows are used (repeated when there
    are fewer) after checking each shape against the model; without, ``sample_inputs`` draws
    them from the input spec and the sidecar's hints with a fixed seed.
    """
    if runner.batch_fixed and batch != runner.batch_fixed:
        raise ArtifactError(f"the model has a fixed batch size of {runner.batch_fixed}, so --batch {batch} "
                            f"cannot be fed; use --batch {runner.batch_fixed} or export with a dynamic batch.")
    if inputs is None:
        return sample_inputs(runner, batch=batch, seed=seed, sidecar=sidecar), f"random from the input spec (seed {seed})"
    feeds = []
    for spec, x in zip(runner.inputs, match_inputs(runner, inputs, source)):
        _check_feed(spec, x, batch_fixed=1)  # any number of rows; the rest must match
        if len(x) == 0:
            raise ArtifactError(f"{source} has no rows for input {spec.name!r}; give at least one sample.")
        rows = np.concatenate([x] * -(-batch // len(x)))[:batch] if len(x) < batch else x[:batch]
        feeds.append(np.ascontiguousarray(spec.quantize(rows)))
    return feeds, source


# --- the machine and its memory ---------------------------------------------------------------

def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _getprop(key: str) -> str:
    """An Android system property (Termux has getprop); '' elsewhere."""
    if not os.path.exists("/system/bin/getprop"):
        return ""
    import subprocess

    try:
        return subprocess.run(["/system/bin/getprop", key], capture_output=True, text=True, timeout=2).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def cpu_model() -> str:
    info = _read("/proc/cpuinfo")
    for key in ("model name", "Hardware", "Processor", "cpu model"):
        m = re.search(rf"^{key}\s*:\s*(.+)$", info, re.M)
        if m and m.group(1).strip():
            return m.group(1).strip()
    return _getprop("ro.soc.model") or platform.processor() or platform.machine()


def device_model() -> str | None:
    """The board or phone: a Raspberry Pi's device-tree model, an Android phone's maker + model."""
    model = _read("/proc/device-tree/model").strip("\x00 \n")
    if model:
        return model
    phone = " ".join(p for p in (_getprop("ro.product.manufacturer"), _getprop("ro.product.model")) if p)
    return phone or None


def package_versions(names=("numpy", "ai-edge-litert", "tflite-runtime", "onnxruntime")) -> dict[str, str]:
    """Versions of the installed ones among ``names`` (read from metadata, nothing imported)."""
    try:
        from importlib import metadata
    except ImportError:  # Python < 3.8
        return {"numpy": np.__version__}
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def machine(extra_packages=()) -> dict:
    """Where the numbers come from: paste-able into a report, stored in every result."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:
        available = os.cpu_count()
    try:
        load = round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        load = None
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "cores_available": available,
            "device": device_model(), "platform": platform.platform(), "python": platform.python_version(),
            "load_1min": load,
            "packages": package_versions(("numpy", "ai-edge-litert", "tflite-runtime", "onnxruntime",
                                          *extra_packages))}


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_mb() -> float | None:
    """Resident set size now, in MiB (Linux/Android /proc; psutil elsewhere when installed)."""
    statm = _read("/proc/self/statm").split()
    if len(statm) > 1:
        return int(statm[1]) * _PAGE / 2**20
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:
        return None


def process_peak_rss_mb() -> float | None:
    """The process's resident high-water mark since it started, in MiB."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


# --- measuring ---------------------------------------------------------------------------------

def _timed_loop(call, buf, max_ns: int, on_tick) -> int:
    """Run ``call`` up to len(buf) times, each timed alone into ``buf`` (ns); how many ran.

    Between runs, about every TICK_S, ``on_tick(done)`` samples memory and draws progress, and
    the deadline is checked. Nothing else happens inside the timed window.
    """
    clock = time.perf_counter_ns
    tick_ns = int(TICK_S * 1e9)
    deadline = clock() + max_ns
    next_tick = clock() + tick_ns
    done = len(buf)
    for k in range(len(buf)):
        t0 = clock()
        call()
        t1 = clock()
        buf[k] = t1 - t0
        if t1 >= next_tick:
            on_tick(k + 1)
            if t1 >= deadline:
                done = k + 1
                break
            next_tick = clock() + tick_ns
    return done


def latency_stats(times_ns) -> dict[str, float]:
    """min / p50 / p90 / p99 / max / mean / std in milliseconds (numpy.percentile, linear)."""
    ms = np.asarray(times_ns, dtype=np.float64) / 1e6
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return {"min": float(ms.min()), "p50": float(p50), "p90": float(p90), "p99": float(p99),
            "max": float(ms.max()), "mean": float(ms.mean()), "std": float(ms.std())}


def measure(call, *, runs: int = DEFAULT_RUNS, warmup: int = DEFAULT_WARMUP, max_secs: float = DEFAULT_MAX_SECS,
            progress=None) -> dict:
    """Warm up, then time ``runs`` calls. Returns raw times (ns) and the memory seen on the way."""
    samples = [rss_mb()]

    def tick(offset):
        def on_tick(done):
            samples.append(rss_mb())
            if progress is not None:
                progress.update(offset + done)
        return on_tick

    warm = array.array("q", [0]) * max(1, warmup)
    n_warm = _timed_loop(call, warm, int(max_secs * 1e9), tick(0))
    rss_after_warmup = rss_mb()
    times = array.array("q", [0]) * runs
    n = _timed_loop(call, times, int(max_secs * 1e9), tick(len(warm)))
    rss_end = rss_mb()
    samples += [rss_after_warmup, rss_end]
    known = [s for s in samples if s is not None]
    return {"warmup_ns": warm[:n_warm], "times_ns": times[:n], "rss_after_warmup_mb": rss_after_warmup,
            "rss_end_mb": rss_end, "rss_peak_sampled_mb": max(known) if known else None}


def _round(x, nd=4):
    return None if x is None else round(float(x), nd)


def guess_quantization(path: str, sidecar: dict | None) -> str | None:
    """fp32 / fp16 / dynamic / int8 from the sidecar, else from a name like model.int8.tflite."""
    if sidecar and sidecar.get("quantization"):
        return str(sidecar["quantization"])
    parts = os.path.basename(path).lower().split(".")[1:-1]
    for q in QUANTIZATIONS:
        if q in parts:
            return q
    return None


def guess_lesson(path: str, sidecar: dict | None = None) -> str | None:
    """The lesson id from the sidecar, else from a run folder name like cnn-features-20250101-120000
    (``dlbootcamp train``'s default) or cnn-features-seed0 (``benchmarks/seeds.py``'s)."""
    if sidecar and sidecar.get("lesson"):
        return str(sidecar["lesson"])
    for part in reversed(os.path.abspath(path).split(os.sep)[:-1]):
        m = re.match(r"^(.+?)-(?:\d{8}-\d{6}|seed\d+)(?:-quick)?$", part)
        if m:
            return m.group(1)
    return None


def bench_runner(open_fn, *, artifact: str, fmt: str, variant: str, batch: int = 1, runs: int = DEFAULT_RUNS,
                 warmup: int = DEFAULT_WARMUP, max_secs: float = DEFAULT_MAX_SECS, inputs=None, seed: int = 0,
                 sidecar: dict | None = None, threads: int | None = None, xnnpack: bool | None = None,
                 quantization: str | None = None, progress=None, source: str = "--inputs",
                 machine_info: dict | None = None) -> dict:
    """Open a runner with ``open_fn()`` (timed as init), feed it, measure it: one result dict.

    This is the one measuring path for every format: ``benchmark_artifact`` passes a
    ``.tflite``/``.onnx`` opener, ``dlbootcamp bench`` also passes Keras runners.
    """
    freeze = getattr(gc, "freeze", None)
    if freeze:  # a full collection over a big heap (TensorFlow's) must not land inside a timed run
        freeze()
    try:
        return _bench_runner(open_fn, artifact=artifact, fmt=fmt, variant=variant, batch=batch, runs=runs,
                             warmup=warmup, max_secs=max_secs, inputs=inputs, seed=seed, sidecar=sidecar,
                             threads=threads, xnnpack=xnnpack, quantization=quantization, progress=progress,
                             source=source, machine_info=machine_info)
    finally:
        if freeze:
            gc.unfreeze()


def _bench_runner(open_fn, *, artifact, fmt, variant, batch, runs, warmup, max_secs, inputs, seed, sidecar,
                  threads, xnnpack, quantization, progress, source, machine_info) -> dict:
    rss_before = rss_mb()
    t0 = time.perf_counter_ns()
    runner = open_fn()
    t_open = time.perf_counter_ns()
    feeds, inputs_desc = make_feeds(runner, batch=batch, inputs=inputs, sidecar=sidecar, seed=seed, source=source)
    t_feeds = time.perf_counter_ns()
    try:
        call = runner.make_call(feeds)
    except Exception as exc:  # e.g. a runtime that cannot resize to this batch
        shapes = [list(f.shape) for f in feeds]
        raise ArtifactError(f"{artifact} cannot be prepared for inputs of shape {shapes} "
                            f"({str(exc).splitlines()[0]}); check --batch and the inputs against the model "
                            f"(see the sidecar).") from None
    init_ms = (t_open - t0 + time.perf_counter_ns() - t_feeds) / 1e6
    rss_after_init = rss_mb()
    label = f"{os.path.basename(artifact)}" + (f" [{variant}]" if variant not in ("interpreter", "session") else "")
    label += f" threads={threads}" if threads else ""
    if progress is not None:
        progress.start(f"{label} batch={batch}", max(1, warmup) + runs)
    try:
        m = measure(call, runs=runs, warmup=warmup, max_secs=max_secs, progress=progress)
    except ArtifactError:
        raise
    except Exception as exc:  # a runtime refusing to run what it loaded: say which and why
        raise ArtifactError(f"{artifact} failed while running ({str(exc).splitlines()[0]}); "
                            f"check the inputs match the model (see the sidecar).") from None
    lat = latency_stats(m["times_ns"])
    total_s = sum(m["times_ns"]) / 1e9
    peaks = [x for x in (rss_before, rss_after_init, m["rss_peak_sampled_mb"]) if x is not None]
    result = {
        "artifact": artifact, "name": os.path.basename(artifact), "format": fmt, "variant": variant,
        "quantization": quantization or guess_quantization(artifact, sidecar),
        "lesson": guess_lesson(artifact, sidecar), "export": (sidecar or {}).get("export"),
        "runtime": getattr(runner, "runtime", "") or fmt,
        "runtime_version": (machine_info or {}).get("packages", {}).get(getattr(runner, "runtime", ""), None),
        "threads": threads, "xnnpack": xnnpack, "batch": batch, "inputs": inputs_desc,
        "input_shapes": {t.name: list(f.shape) for t, f in zip(runner.inputs, feeds)},
        "model_size_bytes": _size(artifact),
        "init_ms": _round(init_ms),
        "first_inference_ms": _round(m["warmup_ns"][0] / 1e6),
        "warmup_runs": len(m["warmup_ns"]),
        "warmup_mean_ms": _round(np.mean(m["warmup_ns"]) / 1e6),
        "runs": len(m["times_ns"]),
        "latency_ms": {k: _round(v, 6) for k, v in lat.items()},
        "throughput_per_s": _round(batch * len(m["times_ns"]) / total_s if total_s else None, 2),
        "rss_before_load_mb": _round(rss_before, 2), "rss_after_init_mb": _round(rss_after_init, 2),
        "rss_end_mb": _round(m["rss_end_mb"], 2), "peak_rss_mb": _round(max(peaks) if peaks else None, 2),
        "rss_growth_mb": _round(m["rss_end_mb"] - m["rss_after_warmup_mb"], 3)
        if m["rss_end_mb"] is not None and m["rss_after_warmup_mb"] is not None else None,
        "process_peak_rss_mb": _round(process_peak_rss_mb(), 2),
        "memory_measured_in": "this process",  # dlbootcamp bench: "a process of its own" per artifact
        "stopped_by_max_secs": len(m["times_ns"]) < runs or len(m["warmup_ns"]) < max(1, warmup),
        "source": "device_bench",
        "machine": machine_info or machine(),
    }
    if progress is not None:
        progress.finish(f"{label} batch={batch}: p50 {_ms(lat['p50'])} ms over {result['runs']} runs")
    return result


def _size(path: str) -> int | None:
    if os.path.isdir(path):
        return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
    return os.path.getsize(path) if os.path.exists(path) else None


def benchmark_artifact(path: str, *, threads: int = 1, xnnpack: bool = True, batch: int = 1,
                       runs: int = DEFAULT_RUNS, warmup: int = DEFAULT_WARMUP, max_secs: float = DEFAULT_MAX_SECS,
                       inputs=None, seed: int = 0, progress=None, machine_info: dict | None = None,
                       source: str = "--inputs") -> dict:
    """Benchmark one .tflite or .onnx file at one thread count. ArtifactError on anything wrong."""
    ext = check_artifact(path)
    ensure_runtime(ext)
    sidecar = read_sidecar(path)
    fmt = ext[1:]
    return bench_runner(lambda: open_artifact(path, threads=threads, xnnpack=xnnpack), artifact=path, fmt=fmt,
                        variant="interpreter" if fmt == "tflite" else "session", batch=batch, runs=runs,
                        warmup=warmup, max_secs=max_secs, inputs=inputs, seed=seed, sidecar=sidecar,
                        threads=threads, xnnpack=xnnpack if fmt == "tflite" else None, progress=progress,
                        machine_info=machine_info, source=source)


def run_benchmarks(paths, *, threads=(1,), runs: int = DEFAULT_RUNS, warmup: int = DEFAULT_WARMUP, batch: int = 1,
                   max_secs: float = DEFAULT_MAX_SECS, inputs=None, xnnpack: bool = True, seed: int = 0,
                   progress: bool = False) -> list[dict]:
    """Every artifact at every thread count, in order. Checks everything before measuring anything.

    ``inputs``: None (sidecar hints + fixed seed), a .npz path, or arrays / a dict of arrays.
    """
    check_settings(threads=tuple(threads), runs=runs, warmup=warmup, batch=batch, max_secs=max_secs)
    paths = [str(p) for p in paths]
    if not paths:
        raise ArtifactError("no artifact given; pass one or more .tflite or .onnx files.")
    for p in paths:
        ensure_runtime(check_artifact(p))
    source = "--inputs"
    if isinstance(inputs, (str, os.PathLike)):
        source = f"--inputs {os.path.basename(str(inputs))}"
        inputs = load_inputs(str(inputs))
    info = machine()
    bar = ProgressBar(total_jobs=len(paths) * len(threads)) if progress else None
    return [benchmark_artifact(p, threads=t, xnnpack=xnnpack, batch=batch, runs=runs, warmup=warmup,
                               max_secs=max_secs, inputs=inputs, seed=seed, progress=bar, machine_info=info,
                               source=source)
            for p in paths for t in threads]


def document(results: list[dict], *, tool: str = "device_bench.py", settings: dict | None = None,
             machine_info: dict | None = None) -> dict:
    """The one JSON document both CLIs print with --json (schema dlbootcamp.bench/1)."""
    return {"schema": BENCH_SCHEMA, "tool": tool,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": machine_info or (results[0]["machine"] if results else machine()),
            "settings": settings or {}, "results": results}


# --- showing it --------------------------------------------------------------------------------

def _ms(x) -> str:
    if x is None:
        return "-"
    return f"{x:.0f}" if x >= 100 else (f"{x:.2f}" if x >= 1 else f"{x:.4f}")


def describe_machine(m: dict, *, load: bool = True) -> str:
    """One line: device, CPU, cores, (load,) OS, Python and package versions - what is known."""
    cores = m.get("cores_available") or m.get("cores")
    bits = [m.get("device"), m.get("cpu"), f"{cores} cores" if cores else None,
            f"load {m['load_1min']}" if load and m.get("load_1min") is not None else None,
            m.get("platform"), f"Python {m['python']}" if m.get("python") else None]
    bits += [f"{k} {v}" for k, v in (m.get("packages") or {}).items()]
    return ", ".join(str(b) for b in bits if b)


def result_label(r: dict) -> str:
    """'tflite int8', 'onnx fp32', 'keras tf.function', 'tflite int8 (benchmark_model)'..."""
    words = [r.get("format", "?")]
    if r.get("quantization"):
        words.append(r["quantization"])
    if r.get("variant") not in (None, "interpreter", "session"):
        words.append(r["variant"])
    if r.get("xnnpack") is False:
        words.append("no-xnnpack")
    if r.get("source") == "benchmark_model":
        words.append("(benchmark_model)")
    return " ".join(words)


COLUMNS = (("artifact", 0), ("format", 0), ("thr", 3), ("batch", 5), ("size KB", 8), ("init ms", 8),
           ("first ms", 8), ("p50 ms", 8), ("p90 ms", 8), ("p99 ms", 8), ("mean ms", 8), ("std ms", 8),
           ("inf/s", 9), ("peak MB", 8), ("growth MB", 9))


def table_rows(results: list[dict]) -> list[list[str]]:
    rows = []
    for r in results:
        lat = r.get("latency_ms") or {}
        size = r.get("model_size_bytes")
        rows.append([r.get("name", "?"), result_label(r), str(r.get("threads") or "-"), str(r.get("batch", "-")),
                     f"{size / 1024:.1f}" if size else "-", _ms(r.get("init_ms")), _ms(r.get("first_inference_ms")),
                     _ms(lat.get("p50")), _ms(lat.get("p90")), _ms(lat.get("p99")), _ms(lat.get("mean")),
                     _ms(lat.get("std")),
                     f"{r['throughput_per_s']:.1f}" if r.get("throughput_per_s") else "-",
                     f"{r['peak_rss_mb']:.1f}" if r.get("peak_rss_mb") is not None else "-",
                     f"{r['rss_growth_mb']:+.2f}" if r.get("rss_growth_mb") is not None else "-"])
    return rows


def render_table(heads: list[str], rows: list[list], *, right_from: int | None = None,
                 markdown: bool = False) -> list[str]:
    """The lines of a table: plain text (padded columns, a dashed rule under the heads) or Markdown.

    Columns from index ``right_from`` on are right-aligned (numbers). The one table formatter of
    the package: the bench table, the export report's table and the Markdown report use it.
    """
    def right(i):
        return right_from is not None and i >= right_from

    rows = [[str(c) for c in r] for r in rows]
    if markdown:
        rule = "|" + "|".join("---:" if right(i) else "---" for i in range(len(heads))) + "|"
        return ["| " + " | ".join(heads) + " |", rule, *("| " + " | ".join(r) + " |" for r in rows)]
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(heads)]

    def line(cells):
        return "  ".join(c.rjust(w) if right(i) else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(heads), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def format_table(results: list[dict]) -> str:
    """A plain-text table for a terminal, with the machine on top."""
    rows = table_rows(results)
    heads = [c for c, _ in COLUMNS]
    machines = []
    for r in results:
        d = describe_machine(r.get("machine", {}), load=False)
        if d not in machines:
            machines.append(d)
    lines = [f"machine: {m}" for m in machines]
    loads = sorted(r["machine"]["load_1min"] for r in results if (r.get("machine") or {}).get("load_1min") is not None)
    if loads:
        lines.append(f"load average (1 min) when measured: {loads[0]}" + (f" to {loads[-1]}" if loads[-1] != loads[0]
                                                                          else ""))
    lines += render_table(heads, rows, right_from=2)
    stopped = [r["name"] for r in results if r.get("stopped_by_max_secs")]
    if stopped:
        lines.append(f"note: --max-secs stopped {', '.join(stopped)} before all runs finished (see 'runs').")
    lines.append("latency: per inference call, p50/p90/p99 = percentiles over the timed runs; "
                 "inf/s = batch x runs / total run time; growth = RSS end - RSS after warm-up.")
    return "\n".join(lines)


class ProgressBar:
    """Progress on stderr: one line redrawn in place on a terminal; only the result lines elsewhere."""

    def __init__(self, total_jobs: int = 1, stream=None, width: int = 24):
        self.stream = stream or sys.stderr
        self.live = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.width = width
        self.total_jobs = total_jobs
        self.job = 0
        self.label, self.total, self.t0 = "", 1, 0.0

    def start(self, label: str, total: int) -> None:
        self.job += 1
        self.label, self.total, self.t0 = label, max(1, total), time.perf_counter()
        self.update(0)

    def update(self, done: int) -> None:
        if not self.live:
            return
        filled = int(self.width * min(done, self.total) / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{self.job}/{self.total_jobs}] {self.label} [{bar}] {done}/{self.total} runs "
                          f"{time.perf_counter() - self.t0:.1f}s\x1b[K")
        self.stream.flush()

    def finish(self, line: str) -> None:
        self.stream.write(("\r" if self.live else "") + f"[{self.job}/{self.total_jobs}] {line}"
                          + ("\x1b[K" if self.live else "") + "\n")
        self.stream.flush()


# --- the command line --------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


EPILOG = """\
examples:
  python3 device_bench.py model.fp32.tflite model.int8.tflite --threads 1,4
  python3 device_bench.py model.onnx --batch 32 --runs 200
  python3 device_bench.py model.int8.tflite --no-xnnpack --json > phone.json
  python3 device_bench.py model.fp32.tflite --inputs samples.npz --json --out pi4.json

Copy this file, the artifacts and their .json sidecars to the device; install numpy and
one runtime (pip install ai-edge-litert | tflite-runtime | onnxruntime); bring the JSON
back and run `dlbootcamp report phone.json`."""


def build_parser(prog: str = "device_bench.py") -> argparse.ArgumentParser:
    p = _Parser(prog=prog, description="Time .tflite / .onnx models with only NumPy and one runtime: init, first "
                "inference, warm-up, latency percentiles, throughput and memory.", epilog=EPILOG,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(p)
    return p


def add_arguments(p, *, artifacts_help: str = "exported model files (.tflite, .onnx)") -> None:
    """The options shared by this script and `dlbootcamp bench` (defined here only)."""
    p.add_argument("artifacts", nargs="+", metavar="ARTIFACT", help=artifacts_help)
    g = p.add_argument_group("measurement")
    g.add_argument("--threads", default="1", help="comma-separated thread counts, one benchmark each (default: 1)")
    g.add_argument("--runs", type=int, default=DEFAULT_RUNS, help=f"timed runs (default: {DEFAULT_RUNS})")
    g.add_argument("--warmup", type=int, default=DEFAULT_WARMUP,
                   help=f"warm-up runs; the first is the 'first inference' (default: {DEFAULT_WARMUP})")
    g.add_argument("--batch", type=int, default=1, help="samples per inference call (default: 1)")
    g.add_argument("--max-secs", type=float, default=DEFAULT_MAX_SECS,
                   help=f"per phase, start no new run after this many seconds (default: {DEFAULT_MAX_SECS:g})")
    g.add_argument("--inputs", metavar="FILE.npz", help="input arrays (numpy.savez, one per model input, "
                   "named after it); default: random from the input spec and sidecar, seed 0")
    g.add_argument("--no-xnnpack", action="store_true", help="TFLite: builtin kernels without the XNNPACK delegate")
    o = p.add_argument_group("output")
    o.add_argument("--json", action="store_true", help="print one JSON document (schema dlbootcamp.bench/1) "
                   "instead of the table, and no progress bar")
    o.add_argument("--out", metavar="FILE.json", help="also write the JSON document to this file")


def settings_of(args, threads) -> dict:
    return {"threads": list(threads), "runs": args.runs, "warmup": args.warmup, "batch": args.batch,
            "max_secs": args.max_secs, "inputs": args.inputs, "xnnpack": not args.no_xnnpack}


def check_out(path: str) -> None:
    """Fail before measuring when --out cannot be written (missing folders are created when writing)."""
    folder = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise ArtifactError(f"--out {path} cannot be written ({folder} is not a writable folder); choose another "
                            f"path.")


def write_json(path: str, doc: dict) -> None:
    """Write atomically (a partial file never replaces a good one), creating missing folders."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.partial"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        np.ndarray  # noqa: B018 (NumPy first, with its own message: the runtimes need it too)
        threads = parse_threads(args.threads)
        if args.out:
            check_out(args.out)
        results = run_benchmarks(args.artifacts, threads=threads, runs=args.runs, warmup=args.warmup,
                                 batch=args.batch, max_secs=args.max_secs, inputs=args.inputs,
                                 xnnpack=not args.no_xnnpack, progress=not args.json)
        doc = document(results, settings=settings_of(args, threads))
        if args.out:
            try:
                write_json(args.out, doc)
            except OSError as exc:
                raise ArtifactError(f"--out {args.out} cannot be written ({exc.strerror}); "
                                    f"choose a writable path.") from None
    except ArtifactError as exc:
        print(f"device_bench.py: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("device_bench.py: interrupted; no result written.", file=sys.stderr)
        return 130
    print(json.dumps(doc, indent=2) if args.json else format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
