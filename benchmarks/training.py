"""Where a lesson's training time goes: steady-state throughput, oneDNN on and off, a plain-Keras reference.

    python benchmarks/training.py                                  # the fit-based lessons, 2 epochs each
    python benchmarks/training.py cnn-features segmentation --epochs 3
    python benchmarks/training.py training --quick --json /tmp/t.json --markdown /tmp/t.md   # smoke size

A benchmark, not a test: it measures and reports. For every lesson named it runs the lesson's
own ``train`` (the same ``records.train_lesson`` as ``dlbootcamp train``, seed 0, the full
Config with ``epochs`` capped at ``--epochs``; ``--quick``: the smoke preset) in a fresh process,
once with TensorFlow's oneDNN CPU kernels off (``TF_ENABLE_ONEDNN_OPTS=0``) and once on, the two
runs back to back so they see the same machine. In each process it wraps ``keras.Model.fit`` to

- time every training step (``on_train_batch_begin`` -> ``end``); the **steady-state step** is
  the median over the epochs after the first (over the last 80% of steps when there is one
  epoch), and **samples/s** is the lesson's batch size over it;
- keep the fitted model and a few of the batches it was given, then train a clone of that model
  the way a plain script would: ``compile(optimizer="adam", loss=<the lesson's loss>)`` and
  ``fit(x, y, batch_size=<the lesson's>)`` on those batches as NumPy arrays, with Keras'
  default ``jit_compile`` ("auto": off on a CPU-only machine) and with ``jit_compile=True``
  (XLA), to see what the lesson's own pipeline and settings cost or save;
- estimate the training FLOPs of a step (3 x the forward FLOPs TensorFlow's profiler counts) and
  so the achieved GFLOP/s, against this CPU's float32 matmul peak measured in the same process.

Lessons whose training is a hand-written loop (no ``model.fit``) get their wall time only.
The machine's load is recorded before and after every run: a number taken at a load above the
number of cores is marked as such. Output: a JSON (``docs/training.json``) and a table between
``<!-- training:begin -->`` and ``<!-- training:end -->`` in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- training:begin -->", "<!-- training:end -->"
DEFAULT_LESSONS = ("training", "ml-vs-dl", "dl-is-a-language", "cnn-features", "segmentation", "super-resolution",
                   "faces", "embeddings", "text-generation", "translation", "assistant-intents", "captioning", "vqa",
                   "lip-reading")
REFERENCE_STEPS = 40  # steps of the plain-Keras reference fit (the first 5 are not timed)


# --- in the child process ------------------------------------------------------------------------

def _steady(per_epoch: list[list[float]]) -> float | None:
    """The median step time after warm-up: the epochs after the first, else the last 80% of the steps."""
    if len(per_epoch) >= 2 and sum(len(e) for e in per_epoch[1:]) >= 3:
        steps = [t for e in per_epoch[1:] for t in e]
    else:
        flat = [t for e in per_epoch for t in e]
        steps = flat[len(flat) // 5:]
    return statistics.median(steps) if steps else None


def _matmul_peak_gflops() -> float:
    """float32 GEMM GFLOP/s of this CPU through TensorFlow (the best of five timed batches of 10)."""
    import tensorflow as tf

    n = 1024
    a = tf.random.stateless_normal((n, n), seed=(1, 2))
    b = tf.random.stateless_normal((n, n), seed=(3, 4))

    @tf.function
    def ten(a, b):
        c = a
        for _ in range(10):
            c = tf.matmul(c, b) * 1e-3
        return c

    ten(a, b).numpy()
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        ten(a, b).numpy()
        best = min(best, time.perf_counter() - t0)
    return 10 * 2 * n ** 3 / best / 1e9


def _forward_flops(model, batch: list) -> float | None:
    """Float operations of one forward pass over ``batch`` (TensorFlow's profiler), or None."""
    import tensorflow as tf
    from tensorflow.python.profiler import model_analyzer, option_builder

    try:
        specs = [tf.TensorSpec(x.shape, tf.as_dtype(x.dtype)) for x in batch]
        fn = tf.function(lambda *xs: model(list(xs) if len(xs) > 1 else xs[0], training=False))
        graph = fn.get_concrete_function(*specs).graph
        opts = option_builder.ProfileOptionBuilder(option_builder.ProfileOptionBuilder.float_operation()
                                                   ).with_empty_output().build()
        return float(model_analyzer.profile(graph, options=opts).total_float_ops)
    except Exception:  # noqa: BLE001 - an estimate; a model the profiler cannot read gets none
        return None


def _first_batches(x, y, batch_size, n_batches: int):
    """Up to ``n_batches`` batches of what ``fit`` was given, as NumPy (x list, y), or None."""
    import numpy as np
    import tensorflow as tf

    import keras

    if isinstance(x, (tf.data.Dataset, keras.utils.PyDataset)):
        xs, ys = [], []
        elements = (x.take(n_batches) if isinstance(x, tf.data.Dataset)
                    else [x[i] for i in range(min(n_batches, len(x)))])
        for element in elements:
            if not isinstance(element, tuple) or len(element) < 2:
                return None
            xs.append(element[0])
            ys.append(element[1])
        if not xs:
            return None
        join = lambda parts: (tf.nest.map_structure(lambda *p: np.concatenate([np.asarray(q) for q in p]), *parts))
        return join(xs), join(ys), int(len(tf.nest.flatten(xs[0])[0]))
    if y is None:
        return None
    bs = batch_size or 32
    cut = lambda a: tf.nest.map_structure(lambda v: np.asarray(v)[: bs * n_batches], a)
    return cut(x), cut(y), bs


def child(lesson: str, quick: bool, epochs: int) -> dict:
    import keras
    import numpy as np

    from dlbootcamp import records, registry
    from dlbootcamp.app.commands.train import config_for

    fits: list[dict] = []

    class Probe(keras.callbacks.Callback):
        def __init__(self, log):
            super().__init__()
            self.log = log

        def on_epoch_begin(self, epoch, logs=None):
            self.log["epochs"].append([])

        def on_train_batch_begin(self, batch, logs=None):
            self._t = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            if self.log["epochs"]:
                self.log["epochs"][-1].append(time.perf_counter() - self._t)

    original_fit = keras.Model.fit

    def fit(self, x=None, y=None, *args, **kwargs):
        log = {"model": self, "epochs": [], "x": x, "y": y, "batch_size": kwargs.get("batch_size")}
        fits.append(log)
        kwargs["callbacks"] = list(kwargs.get("callbacks") or []) + [Probe(log)]
        return original_fit(self, x, y, *args, **kwargs)

    keras.Model.fit = fit
    module = registry.load(lesson)
    cfg = config_for(module, quick=quick, epochs=None)
    if not quick and hasattr(cfg, "epochs") and cfg.epochs > epochs:
        cfg = config_for(module, quick=False, epochs=epochs)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder, record = records.train_lesson(module, cfg, out=pathlib.Path(tmp), quick=quick, verbose=False)
    wall = time.perf_counter() - t0
    keras.Model.fit = original_fit
    result = {"lesson": lesson, "wall_s": round(wall, 1), "epochs": getattr(cfg, "epochs", None),
              "metric": record["bars"][0]["metric"] if record["bars"] else None,
              "value": record["bars"][0]["value"] if record["bars"] else None, "fits": len(fits)}
    timed = [f for f in fits if f["epochs"] and any(f["epochs"])]
    if not timed:
        result["note"] = "no model.fit: a hand-written training loop (wall time only)"
        return result
    main = max(timed, key=lambda f: sum(sum(e) for e in f["epochs"]))  # the fit that took longest
    model = main["model"]
    step = _steady(main["epochs"])
    batch = _first_batches(main["x"], main["y"], main["batch_size"], 8)
    bs = batch[2] if batch else (getattr(cfg, "batch_size", None) or main["batch_size"])
    result.update({"fit_s": round(sum(sum(e) for e in main["epochs"]), 2), "steps": sum(len(e) for e in main["epochs"]),
                   "batch_size": bs, "step_ms": round(step * 1e3, 3) if step else None,
                   "samples_per_s": round(bs / step, 1) if step and bs else None})
    result["peak_gflops"] = round(_matmul_peak_gflops(), 1)
    if batch is None:
        result["reference_error"] = f"fit was given {type(main['x']).__name__}, not arrays or a tf.data.Dataset of (x, y)"
    else:
        x, y, bs = batch
        one = [np.asarray(v)[:1] for v in keras.tree.flatten(x)]
        flops = _forward_flops(model, one)
        if flops and step:
            result["train_gflop_per_step"] = round(3 * flops * bs / 1e9, 3)
            result["achieved_gflops"] = round(3 * flops * bs / step / 1e9, 2)
        for jit in ("auto", True):
            try:
                compiled, model.compiled = model.compiled, False  # clone the layers, not the lesson's compile
                try:  # (which may name losses and metrics a fresh process cannot deserialise)
                    clone = keras.models.clone_model(model)
                finally:
                    model.compiled = compiled
                clone.compile(optimizer="adam", loss=model.loss, jit_compile=jit)
                log = {"epochs": []}
                n = len(keras.tree.flatten(y)[0])
                reps = -(-REFERENCE_STEPS * bs // n)
                rep = lambda a: keras.tree.map_structure(lambda v: np.concatenate([v] * reps)[: REFERENCE_STEPS * bs], a)
                clone.fit(rep(x), rep(y), batch_size=bs, epochs=1, verbose=0, shuffle=False, callbacks=[Probe(log)])
                steps = log["epochs"][0][5:]
                key = "reference_step_ms" if jit == "auto" else "reference_xla_step_ms"
                result[key] = round(statistics.median(steps) * 1e3, 3)
            except Exception as exc:  # noqa: BLE001 - a model a plain script cannot clone is reported, not fatal
                first = (str(exc).splitlines() or [""])[0][:160]
                result.setdefault("reference_error", f"{type(exc).__name__}: {first}" if first else
                                  f"{type(exc).__name__} (a subclassed model: Keras cannot clone it)")
    return result


# --- the parent: one child per lesson and setting, then the table ------------------------------------

def run_child(lesson: str, onednn: str, quick: bool, epochs: int) -> dict:
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=onednn, TF_CPP_MIN_LOG_LEVEL="2")
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "result.json"
        cmd = [sys.executable, __file__, "--child", lesson, "--epochs", str(epochs), "--json", str(out)] + (
            ["--quick"] if quick else [])
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp)
        if done.returncode or not out.exists():
            raise SystemExit(f"training.py: {lesson} (oneDNN {onednn}) failed (exit {done.returncode}):\n"
                             f"{done.stderr.strip()[-2000:]}")
        result = json.loads(out.read_text())
    result.update({"onednn": onednn == "1", "process_wall_s": round(time.perf_counter() - t0, 1),
                   "load_1min_before": round(load, 2), "load_1min_after": round(os.getloadavg()[0], 2)})
    return result


def fmt(v, spec=".3g") -> str:
    return "-" if v is None else format(v, spec)


def markdown(results: list[dict], meta: dict) -> str:
    cores = meta["cores"]
    lines = [BEGIN, "", f"Generated by `python benchmarks/training.py{' --quick' if meta['quick'] else ''}` on "
             f"{meta['finished']}: {meta['machine']}, {cores} cores, TensorFlow {meta['tensorflow']}; seed 0, the full "
             f"Config with epochs capped at {meta['epochs']}" + (" (--quick: smoke size, not a result)" if meta["quick"] else "")
             + ". Step = median training step after the first epoch; ref = the same model, compiled with "
             "`optimizer=\"adam\"` and the lesson's loss, trained by a plain `fit` on NumPy arrays of the lesson's "
             "batches (Keras default `jit_compile`, which is off on a CPU-only machine; XLA = `jit_compile=True`). "
             "GFLOP/s = 3 x forward FLOPs per step / step time, against the float32 matmul peak measured in the same "
             "process. Load = 1-min load average before/after; rows marked * ran above "
             f"{cores} (the number of cores): their times are inflated.", "",
             "| lesson | oneDNN | wall s | step ms | samples/s | ref step ms | ref XLA step ms | GFLOP/s (peak) | load |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        busy = max(r["load_1min_before"], r["load_1min_after"]) > cores
        gf = f"{fmt(r.get('achieved_gflops'))} ({fmt(r.get('peak_gflops'))})" if r.get("achieved_gflops") else "-"
        lines.append(f"| `{r['lesson']}` | {'on' if r['onednn'] else 'off'} | {r['wall_s']:.0f} | {fmt(r.get('step_ms'))} | "
                     f"{fmt(r.get('samples_per_s'), '.0f') if r.get('samples_per_s') else '-'} | "
                     f"{fmt(r.get('reference_step_ms'))} | {fmt(r.get('reference_xla_step_ms'))} | {gf} | "
                     f"{r['load_1min_before']:.1f}/{r['load_1min_after']:.1f}{' *' if busy else ''} |")
    by = {}
    for r in results:
        by.setdefault(r["lesson"], {})[r["onednn"]] = r
    ratios = []
    for lesson, pair in by.items():
        if True in pair and False in pair and pair[True].get("step_ms") and pair[False].get("step_ms"):
            ratios.append(f"`{lesson}` {pair[False]['step_ms'] / pair[True]['step_ms']:.2f}x")
    if ratios:
        lines += ["", "Step-time speed-up of oneDNN on over off (same lesson, back-to-back runs): " + ", ".join(ratios) + "."]
    notes = [f"`{r['lesson']}`: {r['note']}" for r in results if r.get("note") and r["onednn"]]
    notes += [f"`{r['lesson']}` reference: {r['reference_error']}" for r in results if r.get("reference_error") and r["onednn"]]
    if notes:
        lines += ["", "Notes: " + "; ".join(notes) + "."]
    return "\n".join(lines + ["", END])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("lessons", nargs="*", help=f"lesson ids (default: {' '.join(DEFAULT_LESSONS)})")
    p.add_argument("--epochs", type=int, default=2, help="cap on Config.epochs (default 2: one warm-up, one timed)")
    p.add_argument("--quick", action="store_true", help="smoke size: each lesson's quick preset")
    p.add_argument("--onednn", choices=("both", "on", "off"), default="both")
    p.add_argument("--json", type=pathlib.Path, help="where the JSON goes (default docs/training.json)")
    p.add_argument("--markdown", type=pathlib.Path,
                   help="the Markdown file whose training block is replaced (default docs/benchmarks.md)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error(f"--epochs must be at least 1, got {args.epochs}")
    if args.child:
        result = child(args.child, args.quick, args.epochs)
        args.json.write_text(json.dumps(result, indent=1))
        return 0
    from dlbootcamp import registry

    lessons = args.lessons or list(DEFAULT_LESSONS)
    unknown = [x for x in lessons if x not in registry.discover()]
    if unknown:
        p.error(f"unknown lesson(s) {unknown}; see `dlbootcamp lessons`")
    settings = {"both": ("0", "1"), "on": ("1",), "off": ("0",)}[args.onednn]
    results = []
    for lesson in lessons:
        for onednn in settings:
            r = run_child(lesson, onednn, args.quick, args.epochs)
            print(f"{lesson:18s} oneDNN {'on ' if r['onednn'] else 'off'}  wall {r['wall_s']:6.1f} s  "
                  f"step {fmt(r.get('step_ms'))} ms  ref {fmt(r.get('reference_step_ms'))} ms  "
                  f"XLA {fmt(r.get('reference_xla_step_ms'))} ms  load {r['load_1min_before']:.1f}", flush=True)
            results.append(r)
    import importlib.metadata
    import platform

    from dlbootcamp.atomic import write_text
    from seeds import replace_block  # the one writer of generated doc blocks (benchmarks/seeds.py)

    meta = {"finished": _dt.datetime.now().isoformat(timespec="seconds"), "machine": platform.processor() or platform.machine(),
            "cores": os.cpu_count(), "tensorflow": importlib.metadata.version("tensorflow"), "epochs": args.epochs, "quick": args.quick}
    json_path = args.json or ROOT / "docs" / "training.json"
    write_text(json_path, json.dumps({"meta": meta, "results": results}, indent=1) + "\n", overwrite=True)
    md_path = args.markdown or ROOT / "docs" / "benchmarks.md"
    replace_block(md_path, markdown(results, meta), begin=BEGIN, end=END, heading="## Training throughput")
    print(f"wrote {json_path} and the training table in {md_path}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    sys.exit(main())
