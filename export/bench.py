"""Benchmark exported models - and the Keras model they came from - the same way everywhere.

``dlbootcamp bench`` and the tour call this module; ``device_bench.py`` is its measuring core
and runs alone on a phone or a board. Here we add what only a machine with TensorFlow can
do: time the ``.keras`` model itself, twice,

- **eager**: ``model(x, training=False)``, the way a notebook calls it, op by op;
- **tf.function**: the same call traced once into a graph (``tf.function`` with an input
  signature); its first inference includes the tracing,

so the table shows what exporting buys over running Keras. TensorFlow is imported only when
a ``.keras`` artifact is in the list.

    from dlbootcamp.export import bench, report
    results = bench.run_benchmarks(["runs/x/export/model.int8.tflite", "runs/x/model.keras"],
                                   threads=(1, 2), runs=200)
    print(report.markdown_table(results))

Every figure is defined in ``device_bench``'s docstring and docs/benchmark-schema.md. Keras
threads: TensorFlow fixes its thread pools when it starts, so a ``.keras`` model runs once
per thread setting TensorFlow accepted (``threads`` in the result says which; None = all
cores, TensorFlow's default).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

from dlbootcamp.errors import UserError
from dlbootcamp.export import device_bench as db

BENCH_SCHEMA = db.BENCH_SCHEMA
EXTENSIONS = (".tflite", ".onnx", ".keras")
KERAS_VARIANTS = ("eager", "tf.function")


class BenchError(UserError):
    """A benchmark that cannot run as asked (bad artifact, settings or inputs)."""


# --- the Keras model as a Runner, so it is measured by the same code ----------------------------

class KerasRunner(db.Runner):
    """A ``.keras`` model called eagerly or through a traced ``tf.function``."""

    def __init__(self, path: str, variant: str = "eager", prepare=None):
        import keras
        import tensorflow as tf

        self.runtime = "tensorflow"
        self.variant = variant
        self.model = load_keras(path, prepare)
        self.inputs = [db.Tensor(t.name, [-1 if d is None else int(d) for d in t.shape], _dtype(t.dtype))
                       for t in self.model.inputs]
        self.outputs = [db.Tensor(t.name, [-1 if d is None else int(d) for d in t.shape], _dtype(t.dtype))
                        for t in self.model.outputs]
        batch = self.inputs[0].shape[0] if self.inputs and self.inputs[0].shape else -1
        self.batch_fixed = batch if batch > 0 else None
        single = len(self.model.inputs) == 1
        model = self.model

        def forward(*xs):
            return model(xs[0] if single else list(xs), training=False)

        if variant == "tf.function":
            sig = [tf.TensorSpec([None, *t.shape[1:]], t.dtype, name=_safe_name(t.name)) for t in self.model.inputs]
            self._fn = tf.function(forward, input_signature=sig)
        elif variant == "eager":
            self._fn = forward
        else:
            raise BenchError(f"unknown Keras variant {variant!r}; expected one of {', '.join(KERAS_VARIANTS)}.")
        self._to_numpy = keras.ops.convert_to_numpy

    def make_call(self, feeds):
        fn, to_numpy, feeds = self._fn, self._to_numpy, list(feeds)
        if len(feeds) == 1 and len(self.outputs) == 1:
            x = feeds[0]
            return lambda: to_numpy(fn(x))

        def call():
            out = fn(*feeds)
            return [to_numpy(o) for o in (out if isinstance(out, (list, tuple)) else [out])]
        return call

    def invoke(self, feeds):
        out = self._fn(*feeds)
        return [self._to_numpy(o) for o in (out if isinstance(out, (list, tuple)) else [out])]


def _dtype(dtype) -> str:
    return getattr(dtype, "name", None) or str(dtype)


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "_." else "_" for c in name) or "input"


def load_keras(path: str, prepare=None):
    """keras.saving.load_model with a one-line error.

    ``prepare(path)``, when given, is called once if the first load fails, to register the
    custom layers the file needs (the app passes one that imports the lesson module a run
    folder names); the export layer itself never imports a lesson.
    """
    import keras

    try:
        return keras.saving.load_model(path)
    except Exception as first:
        if prepare is not None:
            try:
                prepare(path)
                return keras.saving.load_model(path)
            except Exception:
                pass
        raise BenchError(f"{path} is not a loadable Keras model ({str(first).splitlines()[0][:200]}); "
                         f"re-save it with model.save(...) or retrain with `dlbootcamp train`.") from None


def _keras_threads(want: int | None) -> int | None:
    """Ask TensorFlow for ``want`` intra-op threads; what it actually uses (None = all cores)."""
    import tensorflow as tf

    if want:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(want)
        except RuntimeError:  # TensorFlow already started its thread pools
            pass
    return tf.config.threading.get_intra_op_parallelism_threads() or None


# --- running ------------------------------------------------------------------------------------

def machine(with_tensorflow: bool = False) -> dict:
    """device_bench's machine description, plus TensorFlow/Keras versions when they are used."""
    return db.machine(extra_packages=("tensorflow", "keras") if with_tensorflow else ())


def parse_threads(text: str) -> tuple[int, ...]:
    try:
        return db.parse_threads(text)
    except db.ArtifactError as exc:
        raise BenchError(str(exc)) from None


def expand_folder(path) -> list[str]:
    """A folder stands for the artifacts in it: a run folder's export/ (or the folder itself), in name order."""
    folder = pathlib.Path(path)
    if not folder.is_dir():
        return [str(path)]
    if (folder / "export").is_dir():
        folder = folder / "export"
    found = sorted(str(f) for f in folder.iterdir() if f.suffix in (".tflite", ".onnx"))
    if not found:
        raise BenchError(f"{path} is a folder without .tflite or .onnx files; pass the artifacts, or export the run "
                         f"first: dlbootcamp export {path}")
    return found


def check_paths(paths) -> list[str]:
    """Every path exists with a known extension and its runtime is installed: checked before any work."""
    paths = [q for p in paths for q in expand_folder(p)]
    if not paths:
        raise BenchError("no artifact given; pass one or more .tflite, .onnx or .keras files.")
    try:
        for p in paths:
            ext = db.check_artifact(p, EXTENSIONS)
            if ext != ".keras":
                db.ensure_runtime(ext)
    except db.ArtifactError as exc:
        raise BenchError(str(exc)) from None
    return paths


def run_benchmarks(paths, threads=(1,), runs: int = db.DEFAULT_RUNS, warmup: int = db.DEFAULT_WARMUP,
                   batch: int = 1, max_secs: float = db.DEFAULT_MAX_SECS, inputs=None, progress: bool = False,
                   xnnpack: bool = True, seed: int = 0, prepare_keras=None) -> list[dict]:
    """Benchmark every artifact at every thread count; one result dict each (schema dlbootcamp.bench/1).

    ``paths``: .tflite / .onnx / .keras files (a .keras file gives two results: eager and
    tf.function). ``inputs``: None (sidecar hints + fixed ``seed``), a .npz path, an array, a
    list of arrays or a dict name -> array. ``progress``: draw a progress bar on stderr.
    ``prepare_keras(path)``: registers a ``.keras`` file's custom layers if loading it fails.
    Raises BenchError (a UserError: one line, exit 2) before measuring anything when an
    artifact, a setting or the inputs are wrong.
    """
    threads = tuple(threads)
    try:
        db.check_settings(threads=threads, runs=runs, warmup=warmup, batch=batch, max_secs=max_secs)
    except db.ArtifactError as exc:
        raise BenchError(str(exc)) from None
    paths = check_paths(paths)
    source = "--inputs"
    try:
        if isinstance(inputs, (str, os.PathLike)):
            source = f"--inputs {os.path.basename(str(inputs))}"
            inputs = db.load_inputs(str(inputs))
    except db.ArtifactError as exc:
        raise BenchError(str(exc)) from None
    uses_keras = any(p.endswith(".keras") for p in paths)
    if uses_keras:
        import tensorflow  # noqa: F401  (imported here, never at CLI start-up, and not timed as init)
    info = machine(with_tensorflow=uses_keras)
    jobs = _jobs(paths, threads)
    bar = db.ProgressBar(total_jobs=len(jobs)) if progress else None
    common = dict(batch=batch, runs=runs, warmup=warmup, max_secs=max_secs, inputs=inputs, seed=seed,
                  progress=bar, machine_info=info, source=source)
    results, keras_done = [], set()
    try:
        for path, t, variant in jobs:
            if variant is None:
                results.append(_artifact_alone(path, t, xnnpack, common))
                continue
            actual = _keras_threads(t)
            if (path, variant, actual) in keras_done:  # TensorFlow kept its earlier thread count
                if bar is not None:
                    bar.start(f"{os.path.basename(path)} [{variant}] threads={t}", 1)
                    bar.finish(f"{os.path.basename(path)} [{variant}]: TensorFlow keeps {actual or 'all'} "
                               f"threads once started; skipped threads={t}")
                continue
            keras_done.add((path, variant, actual))
            results.append(db.bench_runner(lambda: KerasRunner(path, variant, prepare_keras), artifact=path, fmt="keras",
                                           variant=variant, threads=actual, xnnpack=None,
                                           quantization="fp32", sidecar=None, **common))
            results[-1]["memory_measured_in"] = "this process (TensorFlow included)"
    except db.ArtifactError as exc:
        raise BenchError(str(exc)) from None
    return results


def _npz_of(inputs, folder: str) -> str | None:
    """Inputs as a .npz file a child process can read (None: they cannot be written as one)."""
    if isinstance(inputs, dict):
        arrays = {str(k): np.asarray(v) for k, v in inputs.items()}
    elif isinstance(inputs, np.ndarray) or (isinstance(inputs, (list, tuple)) and len(inputs) == 1):
        arrays = {"input": np.asarray(inputs if isinstance(inputs, np.ndarray) else inputs[0])}
    else:
        return None
    path = os.path.join(folder, "inputs.npz")
    np.savez(path, **arrays)
    return path


def _artifact_alone(path, threads, xnnpack, common) -> dict:
    """One .tflite/.onnx benchmark in a Python process of its own (``device_bench.py``, as on a device).

    Memory is the process's resident set, so measured beside TensorFlow (a ``.keras`` file in the
    same list) or after other artifacts it would count them too: a fresh process counts only NumPy,
    the runtime and this model. Inputs that cannot be handed over as a file, or a seed other than
    device_bench's 0, fall back to this process (``memory_measured_in`` says which).
    """
    bar, inputs = common["progress"], common["inputs"]
    with tempfile.TemporaryDirectory(prefix="dlbootcamp-bench-") as folder:
        npz = None if inputs is None else _npz_of(inputs, folder)
        if (inputs is not None and npz is None) or common["seed"] != 0:
            result = db.benchmark_artifact(path, threads=threads, xnnpack=xnnpack, **common)
            result["memory_measured_in"] = "this process"
            return result
        argv = [sys.executable, db.__file__, path, "--threads", str(threads), "--runs", str(common["runs"]),
                "--warmup", str(common["warmup"]), "--batch", str(common["batch"]),
                "--max-secs", str(common["max_secs"]), "--json"]
        argv += ["--no-xnnpack"] if not xnnpack else []
        argv += ["--inputs", npz] if npz else []
        label = f"{os.path.basename(path)} threads={threads} batch={common['batch']}"
        if bar is not None:
            bar.start(label, 1)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        errors = [l.removeprefix("device_bench.py: error: ") for l in proc.stderr.splitlines()
                  if l.startswith("device_bench.py: error: ")]
        raise db.ArtifactError(errors[-1] if errors else f"{path}: the benchmark process failed "
                               f"({(proc.stderr.strip().splitlines() or ['no message'])[-1]})")
    result = json.loads(proc.stdout)["results"][0]
    result["machine"] = common["machine_info"] or result["machine"]
    result["runtime_version"] = (common["machine_info"] or {}).get("packages", {}).get(result["runtime"],
                                                                                        result["runtime_version"])
    if inputs is not None:
        result["inputs"] = common["source"]
    result["memory_measured_in"] = "a process of its own"
    if bar is not None:
        bar.finish(f"{label}: p50 {db._ms(result['latency_ms']['p50'])} ms over {result['runs']} runs")
    return result


def _jobs(paths, threads):
    jobs = []
    for p in paths:
        for t in threads:
            if p.endswith(".keras"):
                jobs += [(p, t, v) for v in KERAS_VARIANTS]
            else:
                jobs.append((p, t, None))
    return jobs


# --- results as a document ----------------------------------------------------------------------

def document(results: list[dict], settings: dict | None = None, tool: str = "dlbootcamp bench") -> dict:
    """The JSON document `dlbootcamp bench --json` prints (schema dlbootcamp.bench/1)."""
    return db.document(results, tool=tool, settings=settings)


def check_out(path) -> None:
    """Fail before measuring when --out cannot be written (``device_bench.check_out``'s rule)."""
    try:
        db.check_out(os.fspath(path))
    except db.ArtifactError as exc:
        raise BenchError(str(exc)) from None


def write(doc: dict, path) -> pathlib.Path:
    """Write a bench document atomically; BenchError when the place cannot be written."""
    path = pathlib.Path(path)
    try:
        db.write_json(str(path), doc)
    except OSError as exc:
        raise BenchError(f"--out {path} cannot be written ({exc.strerror}); choose a writable path.") from None
    return path


def read(path) -> dict:
    """A bench document from disk; BenchError when it is not one."""
    path = pathlib.Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BenchError(f"{path} is not a readable JSON file ({exc}); expected the output of "
                         f"`dlbootcamp bench --json` or device_bench.py --json.") from None
    if not isinstance(doc, dict) or doc.get("schema") != BENCH_SCHEMA:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise BenchError(f"{path} has schema {found!r}; expected {BENCH_SCHEMA!r} "
                         f"(the output of `dlbootcamp bench --json` or device_bench.py --json).")
    return doc


format_table = db.format_table


def save_inputs(path, arrays: dict[str, np.ndarray]) -> pathlib.Path:
    """Write input arrays (name -> array) as the .npz that --inputs reads."""
    path = pathlib.Path(path)
    np.savez(path, **arrays)
    return path
