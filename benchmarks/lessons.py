"""Benchmark every lesson model that exists, in every format, and write docs/benchmarks.md.

    python benchmarks/lessons.py                     # what runs/ holds; quick-trains what is missing
    python benchmarks/lessons.py --lessons training --runs 500

This is a benchmark, not a test: it measures and reports, and the speed figures it prints are
for people to read, not assertions. For each lesson (default: ``training`` and
``cnn-features``) it

1. takes the newest full run under ``runs/`` (else the newest ``--quick`` run, else trains one
   with ``--train``: ``quick`` by default),
2. exports it with ``dlbootcamp.app.pipeline.export_lesson`` into ``RUN/export`` (or reuses the
   export there), with the parity and metric checks the exporter does,
3. times, on the lesson's own held-out inputs, at batch 1 and at a larger batch, with one
   thread: Keras eager, the compiled ``tf.function``, TFLite fp32, fp16, dynamic-range and int8, and
   ONNX fp32 and int8 - all through the one measuring path of ``export/device_bench.py``.

Then it checks its own honesty, and prints both figures:

- **harness overhead**: the p50 that the benchmark reports for a trivial model, against a bare
  ``set_tensor`` / ``invoke`` / ``get_tensor`` loop written by hand in the same process
  (rounds interleaved, medians of the rounds); it must be within 10%;
- **memory growth**: resident memory after 10,000 invocations minus after warm-up.

Everything lands in ``docs/``: ``benchmarks.md`` (machine, table, plots, checks),
``benchmarks.json`` (every result, schema dlbootcamp.bench/1: ``dlbootcamp report
docs/benchmarks.json`` redraws it) and the PNGs. One command regenerates it all.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import pathlib
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = pathlib.Path(__file__).resolve().parents[1]
BENCHED_ARTIFACTS = (("tflite", "fp32"), ("tflite", "fp16"), ("tflite", "dynamic"), ("tflite", "int8"), ("onnx", "fp32"),
                     ("onnx", "int8"))  # int8-full (int8 input) and micro: the microcontroller section, benchmarks/micro.py


# Measured once by hand (session 16), not by this script: kept verbatim in the page it writes.
ONNX_INT8_RECURRENT = (
    '**Why ONNX int8 is larger and slower than ONNX fp32 for the recurrent models** (translation, '
    "lip-reading, text-generation). Their graphs run one recurrent cell per "
    'time step (the translation encoder at quick size: 1,261 nodes for 30 steps in two directions), and '
    "onnxruntime's static QDQ quantization wraps nearly every one of those small ops in a QuantizeLinear "
    '/ DequantizeLinear pair (2,791 more nodes), each a separate kernel call on a tensor of a few '
    'numbers. Measured on that quick encoder (2026-12-02, 64 inputs, nothing else running): fp32 317 KB '
    "and 1.06 ms; the exporter's int8 1,711 KB and 6.92 ms; quantizing only MatMul, Conv and Gemm "
    '(`op_types_to_quantize`) 646 KB and 2.21 ms (422 Q/DQ nodes) with half the error (max 0.0028 against'
    " 0.0054), still twice fp32's time. Not adopted: it would change every lesson's ONNX int8 artifact, "
    'whose full-size tables above would all need re-running. For these models deploy TFLite int8 or ONNX '
    'fp32.')


# --- 1. a run per lesson -----------------------------------------------------------------------

def find_run(lesson: str, runs_dir: pathlib.Path, seed: int | None = None) -> pathlib.Path | None:
    """The newest full run of ``lesson`` (else the newest quick run) whose folder still exists; of seed
    ``seed`` only, when given."""
    from dlbootcamp import records

    found = [r for r in records.list_runs(runs_dir) if r["lesson"] == lesson and pathlib.Path(r["path"]).is_dir()
             and (seed is None or r.get("seed") == seed)]
    found.sort(key=lambda r: (not r["quick"], r["finished"]))
    return pathlib.Path(found[-1]["path"]) if found else None


def get_run(lesson: str, runs_dir: pathlib.Path, train: str, seed: int | None = None) -> pathlib.Path:
    from dlbootcamp import records, registry

    run = find_run(lesson, runs_dir, seed) if train == "existing" or train == "quick" else None
    if run is not None:
        return run
    module = registry.load(lesson)
    quick = train != "full"
    print(f"[{lesson}] no run under {runs_dir}/: training one ({'--quick' if quick else 'full'})", flush=True)
    cfg = module.Config.quick() if quick else module.Config()
    folder, _ = records.train_lesson(module, cfg, out=runs_dir, quick=quick, verbose=False)
    return folder


# --- 2. its export -----------------------------------------------------------------------------

def export_run(lesson: str, run: pathlib.Path):
    """(module, cfg, data, export rows) for a run, exporting it into RUN/export if not done yet."""
    from dlbootcamp import lesson as contract
    from dlbootcamp import records, registry

    module = registry.load(lesson)
    info = records.read_run(run)
    cfg = contract.config_from_dict(module.Config, info["config"]["config"])
    data = module.load_data(cfg)
    out = run / "export"
    found = sorted(out.glob("*export-report.json"))  # NAME.export-report.json (export-report.json before)
    report_file = found[0] if found else None
    if report_file is None:  # all four quantizations, as `dlbootcamp export RUN` would write them
        from dlbootcamp.app import pipeline

        print(f"[{lesson}] exporting {run.name} -> {out}", flush=True)
        rep = pipeline.export_run(run, out)
        report_file = rep.path
        for failure in rep.failures:  # shown in the table's parity column too
            print(f"[{lesson}] export check failed: {failure}", flush=True)
    doc = json.loads(report_file.read_text())
    rows = doc["rows"] if isinstance(doc, dict) else doc
    return module, cfg, data, rows


def artifacts_of(rows, export_dir: pathlib.Path, export_name: str) -> list[str]:
    paths = []
    for fmt, quant in BENCHED_ARTIFACTS:
        for row in rows:
            if row.get("name", export_name) == export_name and row["format"] == fmt and \
                    (row.get("quantization") or "fp32") == quant:
                p = pathlib.Path(row["path"])
                p = p if p.is_absolute() or p.exists() else export_dir / p.name
                paths.append(str(p))
                break
    return paths


def save_inputs(module, data, model_inputs, path: pathlib.Path, export_name: str, n: int) -> pathlib.Path:
    """The lesson's own held-out inputs as the .npz that --inputs reads, named after the model inputs."""
    import numpy as np

    x = module.representative_data(data, n=n, split="test")
    if isinstance(x, dict):
        x = x[export_name]
    arrays = [x] if isinstance(x, np.ndarray) else list(x)
    np.savez(path, **{t.name: np.asarray(a) for t, a in zip(model_inputs, arrays)})
    return path


# --- 3. honesty checks ---------------------------------------------------------------------------

def trivial_tflite(folder: pathlib.Path) -> pathlib.Path:
    """A model that does almost nothing (4 inputs -> Dense(4)), so any harness overhead shows."""
    import keras

    from dlbootcamp.export import tflite

    keras.utils.set_random_seed(0)
    inp = keras.Input((4,), name="x")
    model = keras.Model(inp, keras.layers.Dense(4, name="y")(inp), name="trivial")
    path = folder / "trivial.fp32.tflite"
    path.write_bytes(tflite.convert(model, "fp32").content)
    return path


def bare_loop_p50_ms(path: pathlib.Path, n: int) -> tuple[float, float]:
    """What a user would write by hand: (p50 of per-call timings, per-call median of 50-call blocks)."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    i = it.get_input_details()[0]["index"]
    o = it.get_output_details()[0]["index"]
    x = np.random.default_rng(0).uniform(0, 1, (1, 4)).astype(np.float32)
    times = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        it.set_tensor(i, x)
        it.invoke()
        it.get_tensor(o)
        times.append(time.perf_counter_ns() - t0)
    blocks = []  # the same loop without a clock read per call: blocks of 50 calls, median per call
    for _ in range(n // 50):
        t0 = time.perf_counter_ns()
        for _ in range(50):
            it.set_tensor(i, x)
            it.invoke()
            it.get_tensor(o)
        blocks.append((time.perf_counter_ns() - t0) / 50)
    return float(np.percentile(times, 50)) / 1e6, float(np.median(blocks)) / 1e6


def overhead_check(folder: pathlib.Path, rounds: int = 7, n: int = 5000) -> dict:
    from dlbootcamp.export import device_bench as db

    path = trivial_tflite(folder)
    harness, bare, block = [], [], []
    for _ in range(rounds):  # interleaved, so drift on a shared machine hits both alike
        b50, blk = bare_loop_p50_ms(path, n)
        bare.append(b50)
        block.append(blk)
        r = db.benchmark_artifact(str(path), threads=1, runs=n, warmup=200, max_secs=120)
        harness.append(r["latency_ms"]["p50"])
    h, b = statistics.median(harness), statistics.median(bare)
    return {"model": "Dense(4) on 4 inputs, TFLite fp32, 1 thread", "rounds": rounds, "calls_per_round": n,
            "harness_p50_ms": h, "bare_loop_p50_ms": b, "bare_loop_block_ms": statistics.median(block),
            "ratio": h / b, "within_10_percent": h <= 1.10 * b,
            "harness_p50_ms_rounds": harness, "bare_loop_p50_ms_rounds": bare}


def memory_check(artifacts: list[str], n: int = 10_000) -> list[dict]:
    from dlbootcamp.export import device_bench as db

    out = []
    for path in artifacts:
        r = db.benchmark_artifact(path, threads=1, runs=n, warmup=100, max_secs=600)
        out.append({"artifact": path, "label": db.result_label(r), "invocations": r["runs"],
                    "rss_after_warmup_mb": round(r["rss_end_mb"] - r["rss_growth_mb"], 2),
                    "rss_end_mb": r["rss_end_mb"], "rss_growth_mb": r["rss_growth_mb"],
                    "peak_rss_mb": r["peak_rss_mb"]})
    return out


# --- 4. docs ----------------------------------------------------------------------------------

def reading(results, large_batch: int) -> list[str]:
    """What the table says, computed from it: a batch-1 summary of the four artifacts per model (size, p50,
    the lesson's metric), then one sentence per lesson and batch on Keras vs TFLite and int8 vs fp32."""
    from dlbootcamp.export import device_bench as db

    def key(r):
        return r.get("lesson") or "-", os.path.basename(r.get("artifact") or "").split(".")[0]

    out = ["Batch 1, one thread: size, p50 latency and the lesson's metric of each artifact (int8 p50 also as a "
           "multiple of the same runtime's fp32).", "",
           "| lesson / model | TFLite fp32 | TFLite int8 | ONNX fp32 | ONNX int8 |", "|---|---|---|---|---|"]
    models = sorted({key(r) for r in results if r.get("format") != "keras"})
    for lesson, name in models:
        rows = {db.result_label(r): r for r in results if key(r) == (lesson, name) and r["batch"] == 1}
        cells = []
        for label, base in (("tflite fp32", None), ("tflite int8", "tflite fp32"), ("onnx fp32", None),
                            ("onnx int8", "onnx fp32")):
            r = rows.get(label)
            if r is None:
                cells.append("-")
                continue
            p50 = r["latency_ms"]["p50"]
            ratio = (f" ({p50 / rows[base]['latency_ms']['p50']:.2f}x)" if base and base in rows else "")
            metric = f", {r['metric_value']:.4g}" if r.get("metric_value") is not None else ""
            cells.append(f"{r['model_size_bytes'] / 1024:.0f} KB, {p50:.3g} ms{ratio}{metric}")
        out.append(f"| {lesson}{'' if name == 'model' else f' / {name}'} | " + " | ".join(cells) + " |")
    out.append("")
    for lesson in sorted({r["lesson"] for r in results if r.get("lesson")}):
        for batch in (1, large_batch):
            rows = {db.result_label(r): r for r in results if r.get("lesson") == lesson and r["batch"] == batch
                    and key(r)[1] == "model"}
            p50 = {k: r["latency_ms"]["p50"] for k, r in rows.items()}
            if not {"keras fp32 eager", "keras fp32 tf.function", "tflite fp32", "tflite int8"} <= set(p50):
                continue
            size = {k: r["model_size_bytes"] for k, r in rows.items()}
            onnx = (f"; ONNX fp32 {p50['onnx fp32']:.4g} ms" if "onnx fp32" in p50 else "")
            onnx8 = (f"; ONNX int8 {p50['onnx int8'] / p50['onnx fp32']:.2f}x ONNX fp32's"
                     if {"onnx int8", "onnx fp32"} <= set(p50) else "")
            out.append(
                f"- `{lesson}`, batch {batch}: TFLite fp32 p50 {p50['tflite fp32']:.4g} ms is "
                f"{p50['keras fp32 eager'] / p50['tflite fp32']:.0f}x faster than a Keras eager call "
                f"({p50['keras fp32 eager']:.4g} ms) and {p50['keras fp32 tf.function'] / p50['tflite fp32']:.1f}x "
                f"faster than the compiled tf.function ({p50['keras fp32 tf.function']:.4g} ms){onnx}. "
                f"int8 is {size['tflite fp32'] / size['tflite int8']:.1f}x smaller than fp32 and its p50 is "
                f"{p50['tflite int8'] / p50['tflite fp32']:.2f}x fp32's on this CPU{onnx8}.")
    return out


# --- 4b. the page ----------------------------------------------------------------------------------

def write_docs(out: pathlib.Path, results, checks, lessons_used, args, dates: dict[str, str]) -> pathlib.Path:
    """``dates``: when each lesson's rows were measured (they differ after --merge), kept in the JSON."""
    from dlbootcamp.export import bench, device_bench as db, report

    out.mkdir(parents=True, exist_ok=True)
    doc = bench.document(results, {"threads": [args.threads], "runs": args.runs, "warmup": args.warmup,
                                   "batch": [1, args.batch], "inputs": "lesson test split"},
                         tool="benchmarks/lessons.py")
    doc["checks"] = checks
    doc["runs_used"] = [list(u) for u in lessons_used]
    doc["dates"] = dates
    by_date: dict[str, list[str]] = {}
    for lesson, date in dates.items():
        by_date.setdefault(date, []).append(f"`{lesson}`")
    (out / "benchmarks.json").write_text(json.dumps(doc, indent=2) + "\n")
    plots = {}
    for name, fn in (("latency_vs_size", report.plot_latency_vs_size),
                     ("metric_vs_latency", report.plot_metric_vs_latency), ("lessons", report.plot_lessons)):
        p = fn(results, out / f"benchmarks_{name}.png")
        if p is not None:
            plots[name] = p
    oh, mem = checks["harness_overhead"], checks["memory_growth"]
    machine = db.describe_machine(doc["machine"], load=False)
    lines = [
        "# Benchmarks: every lesson model, every format",
        "",
        "Generated by `python benchmarks/lessons.py` (regenerate with the same command; raw results in "
        "[benchmarks.json](benchmarks.json), redraw with `dlbootcamp report docs/benchmarks.json`).",
        "",
        "- Date: " + ("; ".join(f"{d} for {', '.join(ls)}" for d, ls in sorted(by_date.items(), reverse=True))
                      if len(by_date) > 1 else next(iter(by_date), "-")),
        f"- Machine: {machine}",
        f"- Load when measured: the 1-minute load average was {report.load_range(results)} on "
        f"{doc['machine'].get('cores')} cores. Nothing else ran while it was measured unless the load says "
        f"otherwise; means and tails (p99, max) are noisier than medians (p50), the figures to compare.",
        f"- Settings: {args.threads} thread(s), {args.runs} timed runs after {args.warmup} warm-up runs, batch 1 "
        f"and {args.batch}; inputs are each lesson's own test images; XNNPACK on for TFLite.",
        "- Runs: " + "; ".join(f"`{lesson}` from `{run}` ({'quick run: metric not judged' if quick else 'full run'})"
                               for lesson, run, quick in lessons_used),
        *([f"- Not measured (the script went on without them): " + "; ".join(f"`{l}`: {why}" for l, why in
                                                                             checks.get("failed", []))]
          if checks.get("failed") else []),
        "",
        "## Results",
        "",
        *busy_banner(results, doc["machine"].get("cores")),
        report.markdown_table(results),
        "",
        "Latency is per call (one batch); p50/p90/p99 are percentiles over the timed runs; init is load + "
        "allocate; first is the first call (for `tf.function` it includes tracing). inf/s counts samples. "
        "metric is the lesson's metric on held-out data as the exporter measured it (for Keras: the "
        "reference model); parity is the exporter's verdict for the artifact.",
        "",
    ]
    captions = {"latency_vs_size": "Latency vs size", "metric_vs_latency": "Metric vs latency",
                "lessons": "Per-lesson comparison"}
    for name, p in plots.items():
        lines += [f"![{captions[name]}]({p.name})", ""]
    lines += ["## Reading it", "", *reading(results, args.batch), "",
              "Peak RSS is the whole benchmark process, which also holds TensorFlow (to run the Keras rows) and "
              "every model measured before; `device_bench.py` on a device, without TensorFlow, shows what the "
              "runtime alone needs.", "", ONNX_INT8_RECURRENT, ""]
    lines += [
        "## Is the harness honest?",
        "",
        f"**Overhead.** For a trivial model ({oh['model']}), the p50 the benchmark reports is "
        f"**{oh['harness_p50_ms'] * 1000:.2f} µs**; a bare `set_tensor`/`invoke`/`get_tensor` loop timed the same "
        f"way in the same process gives **{oh['bare_loop_p50_ms'] * 1000:.2f} µs** (median of {oh['rounds']} "
        f"interleaved rounds of {oh['calls_per_round']} calls): ratio {oh['ratio']:.3f}, "
        f"{'within' if oh['within_10_percent'] else 'NOT within'} 10%. (The same bare loop timed in blocks of 50 "
        f"calls, without a clock read per call, takes {oh['bare_loop_block_ms'] * 1000:.2f} µs per call: the "
        f"difference is the cost of reading the clock.)",
        "",
        f"**Memory.** Resident memory over {mem[0]['invocations']:,} invocations (after warm-up):",
        "",
        "| artifact | invocations | RSS after warm-up MB | RSS at end MB | growth MB |",
        "|---|---:|---:|---:|---:|",
    ]
    for m in mem:
        lines.append(f"| {pathlib.Path(m['artifact']).name} ({m['label']}) | {m['invocations']:,} | "
                     f"{m['rss_after_warmup_mb']:.2f} | {m['rss_end_mb']:.2f} | {m['rss_growth_mb']:+.3f} |")
    lines.append("")
    md = out / "benchmarks.md"
    generated = {l for l in lines if l.startswith("## ")}
    kept = other_sections(md.read_text(encoding="utf-8") if md.exists() else "", generated)
    md.write_text("\n".join(lines) + ("\n" + kept if kept else ""), encoding="utf-8")
    return md


def other_sections(text: str, generated: set[str]) -> str:
    """The ``## `` sections of an existing benchmarks.md that this script does not write (the tables
    of micro.py, training.py and profile.py, with their prose), in their order, so a regeneration keeps them."""
    import re

    kept = [part for part in re.split(r"(?m)^(?=## )", text)[1:] if part.splitlines()[0] not in generated]
    return "".join(kept).rstrip() + "\n" if kept else ""


def busy_banner(results: list[dict], cores) -> list[str]:
    """A warning above the table when any row was measured at a load above the core count, else nothing."""
    loads = [r["machine"]["load_1min"] for r in results if (r.get("machine") or {}).get("load_1min") is not None]
    if not loads or not cores or max(loads) <= cores:
        return []
    return [f"**Every row below was measured on a busy machine** (1-minute load up to {max(loads):.1f} on {cores} "
            f"cores, above the core count): the latencies are not this CPU's; compare nothing from this table.", ""]


def bench_lesson(lesson: str, args, used: list, fp32_artifacts: list) -> list[dict]:
    """Export (if needed) and time one lesson's run; appends to ``used`` and ``fp32_artifacts``."""
    from dlbootcamp.export import bench

    results = []
    run = get_run(lesson, args.runs_dir, args.train, args.seed)
    quick = json.loads((run / "config.json").read_text()).get("quick", False)
    module, cfg, data, rows = export_run(lesson, run)
    used.append((lesson, run.name, quick))
    names = sorted({row.get("name", "model") for row in rows})
    for export_name in names:
        import keras

        keras_path = run / ("model.keras" if export_name == "model" else f"{export_name}.keras")
        model = keras.saving.load_model(keras_path)
        arts = artifacts_of(rows, run / "export", export_name)
        inputs = save_inputs(module, data, model.inputs, run / "export" / f"{export_name}.bench-inputs.npz",
                             export_name, n=max(args.batch, 64))
        del model
        fp32_artifacts += [a for a in arts if ".fp32." in pathlib.Path(a).name or a.endswith(".onnx")]
        for batch in (1, args.batch):
            print(f"[{lesson}] {export_name}: batch {batch}", flush=True)
            try:
                timed = bench.run_benchmarks([str(keras_path), *arts], threads=(args.threads,), runs=args.runs,
                                             warmup=args.warmup, batch=batch, inputs=inputs, progress=True)
                for r in timed:  # the Keras rows have no sidecar to name their lesson
                    r["lesson"] = r.get("lesson") or lesson
                results += timed
            except bench.BenchError as exc:  # e.g. a model exported with a fixed batch of 1: keep its batch-1 rows
                if batch == 1:
                    raise
                print(f"[{lesson}] {export_name}: batch {batch} skipped: {exc}", flush=True)
    return results


def created_date(doc: dict) -> str:
    """When a benchmarks.json was written, as the page's Date line writes it."""
    return _dt.datetime.fromisoformat(doc["created"].rstrip("Z")).strftime("%Y-%m-%d %H:%M")


def render_only(args) -> int:
    """Rewrite the page from the JSON a measuring run wrote (after a change to how the page reads)."""
    from dlbootcamp.export import device_bench as db

    path = args.out / "benchmarks.json"
    if not path.exists():
        print(f"benchmarks/lessons.py: error: {path} does not exist; run without --render-only first to measure",
              file=sys.stderr)
        return 2
    doc = json.loads(path.read_text())
    results = doc["results"]
    for r in results:
        r["lesson"] = r.get("lesson") or db.guess_lesson(r.get("artifact") or "")
    settings = doc.get("settings") or {}
    args.threads = (settings.get("threads") or [args.threads])[0]
    args.runs, args.warmup = settings.get("runs", args.runs), settings.get("warmup", args.warmup)
    args.batch = max(settings.get("batch") or [args.batch])
    used = doc.get("runs_used") or sorted({(r["lesson"], pathlib.Path(r["artifact"]).parent.name
                                           if r.get("format") == "keras" else pathlib.Path(r["artifact"]).parent.parent.name,
                                           False) for r in results if r.get("lesson")})
    created = created_date(doc)
    dates = doc.get("dates") or {u[0]: created for u in used}
    md = write_docs(args.out, results, doc["checks"], [tuple(u) for u in used], args, dates)
    print(f"rewrote {md} from {path} (nothing measured)")
    return 0


def merged(path: pathlib.Path, results: list, used: list) -> tuple[list, list, dict[str, str]]:
    """The rows and runs of the JSON at ``path``, with those of the lessons just measured (``results``,
    ``used``) in place of their old ones: the other lessons' rows are kept, in their order, with the dates
    they were measured (the third item: lesson -> date, for the kept lessons)."""
    from dlbootcamp.export import device_bench as db

    def lesson(row):
        return row.get("lesson") or db.guess_lesson(row.get("artifact") or "")

    def spliced(old, new, key):
        fresh, out, placed = {key(x) for x in new}, [], set()
        for item in old:
            k = key(item)
            if k in fresh and k not in placed:
                out += [x for x in new if key(x) == k]
                placed.add(k)
            elif k not in fresh:
                out.append(item)
        return out + [x for x in new if key(x) not in placed]

    doc = json.loads(path.read_text())
    runs = spliced([tuple(u) for u in doc.get("runs_used") or []], [tuple(u) for u in used], lambda u: u[0])
    created = created_date(doc)
    fresh = {u[0] for u in used}
    dates = {u[0]: (doc.get("dates") or {}).get(u[0], created) for u in runs if u[0] not in fresh}
    return spliced(doc["results"], results, lesson), runs, dates


# --- the script ----------------------------------------------------------------------------------

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lessons", default="training,cnn-features", help="comma-separated lesson ids")
    p.add_argument("--runs-dir", type=pathlib.Path, default=ROOT / "runs")
    p.add_argument("--train", choices=("existing", "quick", "full"), default="quick",
                   help="when a lesson has no run: train it quick (default) or full; 'existing' uses runs only")
    p.add_argument("--seed", type=int, help="use runs of this seed only (e.g. the seed-0 runs of benchmarks/seeds.py)")
    p.add_argument("--runs", type=int, default=200, help="timed runs per benchmark")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--batch", type=int, default=32, help="the larger batch (batch 1 is always measured)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=pathlib.Path, default=ROOT / "docs")
    p.add_argument("--memory-invocations", type=int, default=10_000)
    p.add_argument("--render-only", action="store_true",
                   help="measure nothing: rewrite benchmarks.md and the plots from OUT/benchmarks.json")
    p.add_argument("--merge", action="store_true",
                   help="keep the other lessons' rows of OUT/benchmarks.json (re-measure a few lessons without "
                        "dropping the rest; each lesson keeps the date its rows were measured, and each row its load)")
    p.add_argument("--allow-busy", action="store_true",
                   help="measure even when the 1-minute load is above the core count (the document then says so "
                        "above the table); without it the script refuses to start on a busy machine")
    args = p.parse_args(argv)
    from dlbootcamp import registry

    known = registry.discover()
    unknown = [l.strip() for l in args.lessons.split(",") if l.strip() and l.strip() not in known]
    if unknown:
        print(f"benchmarks/lessons.py: error: unknown lesson(s) {', '.join(unknown)}; expected ids from "
              f"`dlbootcamp lessons`: {', '.join(known)}", file=sys.stderr)
        return 2
    if args.render_only:
        return render_only(args)
    cores, load = os.cpu_count() or 1, os.getloadavg()[0]
    if load > cores and not args.allow_busy:
        print(f"benchmarks/lessons.py: error: the 1-minute load is {load:.1f} on {cores} cores: latencies measured "
              f"now would teach the wrong thing. Wait until the machine is idle (`uptime`), or pass --allow-busy "
              f"to measure anyway with every row marked.", file=sys.stderr)
        return 2

    import tensorflow as tf

    # Keras gets the same thread budget as the runtimes; TensorFlow fixes it once, before any op.
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)

    from dlbootcamp.errors import UserError
    from dlbootcamp.export import bench, report

    results, used, fp32_artifacts, failed = [], [], [], []
    t_start = time.perf_counter()
    try:
        for lesson in [l.strip() for l in args.lessons.split(",") if l.strip()]:
            try:
                results += bench_lesson(lesson, args, used, fp32_artifacts)
            except Exception as exc:  # one lesson's failure must not cost the other lessons' measurements
                if isinstance(exc, UserError) and "unknown lesson" in str(exc).lower():
                    raise
                failed.append((lesson, f"{type(exc).__name__}: {exc}".splitlines()[0][:300]))
                print(f"[{lesson}] FAILED, skipped: {failed[-1][1]}", flush=True)
        report.attach_export_rows(results)
        print("\nharness overhead check (trivial model) ...", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            overhead = overhead_check(pathlib.Path(tmp))
        print(f"  harness p50 {overhead['harness_p50_ms'] * 1000:.3f} us vs bare set_tensor/invoke/get_tensor loop "
              f"p50 {overhead['bare_loop_p50_ms'] * 1000:.3f} us: ratio {overhead['ratio']:.3f} "
              f"({'within' if overhead['within_10_percent'] else 'NOT within'} 10%)", flush=True)
        print(f"memory growth over {args.memory_invocations:,} invocations ...", flush=True)
        memory = memory_check(fp32_artifacts[-2:], n=args.memory_invocations)
        for m in memory:
            print(f"  {pathlib.Path(m['artifact']).name}: RSS {m['rss_after_warmup_mb']:.2f} -> {m['rss_end_mb']:.2f} MB "
                  f"({m['rss_growth_mb']:+.3f} MB) over {m['invocations']:,} invocations", flush=True)
    except UserError as exc:
        print(f"benchmarks/lessons.py: error: {exc}", file=sys.stderr)
        return 2
    now, kept = f"{_dt.datetime.now():%Y-%m-%d %H:%M}", {}
    if args.merge and (args.out / "benchmarks.json").exists():
        results, used, kept = merged(args.out / "benchmarks.json", results, used)
    dates = {u[0]: kept.get(u[0], now) for u in used}
    md = write_docs(args.out, results, {"harness_overhead": overhead, "memory_growth": memory, "failed": failed},
                    used, args, dates)
    print("\n" + report.markdown_table(results))
    print(f"\nwrote {md} (and benchmarks.json, PNGs) in {time.perf_counter() - t_start:.0f} s")
    return 0 if overhead["within_10_percent"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
