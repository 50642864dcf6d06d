"""Read the text that TFLite's official ``benchmark_model`` prints, as bench results.

On an Android phone the reference numbers come from the C++ tool, run over adb::

    adb push model.int8.tflite /data/local/tmp/
    adb shell /data/local/tmp/benchmark_model --graph=/data/local/tmp/model.int8.tflite \\
        --num_threads=4 --report_peak_memory_footprint=true > pixel7-int8.txt
    dlbootcamp report pixel7-int8.txt --device "Pixel 7" runs/X/bench.json

This module turns that log into results of schema ``dlbootcamp.bench/1`` so they sit in the
same table and plots as ours. What the tool prints (tensorflow/lite/tools/benchmark/
benchmark_model.cc; every line starts with ``INFO:`` on stdout, or comes through logcat with
a ``tflite`` tag) and where it goes:

=============================================================  ==========================
``Graph: [PATH]``                                              artifact, name
``Num threads: [N]`` / ``#threads used for CPU inference: [N]``  threads
``Use xnnpack: [1]``, ``Created TensorFlow Lite XNNPACK ...``  xnnpack
``Input shapes: [1,28,28,1]``                                  batch (first dimension)
``The input model file size (MB): X``                          model_size_bytes (X * 1e6)
``Initialized session in X ms.``                               init_ms
first ``count=.. first=.. curr=.. min=.. max=.. avg=.. std=..``  warm-up: warmup_runs
second ``count=...`` line                                       runs, latency min/max/mean/std
``Inference timings in us: Init: A, First inference: B,``       init_ms, first_inference_ms,
``Warmup (avg): C, Inference (avg): D``                         warmup_mean_ms, latency mean
``Memory footprint delta from the start of the tool (MB):``     memory_delta_init_mb,
``init=A overall=B`` (older: ``Peak memory footprint (MB)``)    memory_delta_overall_mb
``Overall peak memory footprint (MB) via periodic monitoring``  peak_rss_mb
``- VmRSS : X MB``                                             rss_end_mb
=============================================================  ==========================

``benchmark_model`` prints no percentiles, so ``p50``/``p90``/``p99`` are None for these
results; compare them with ours on the mean (and min), which both report. ``rss_growth_mb``
is ``overall - init`` of the footprint delta: what the runs added after initialisation.
"""

from __future__ import annotations

import os
import pathlib
import re
import time

from dlbootcamp.errors import UserError
from dlbootcamp.export import device_bench as db

_STAT = re.compile(r"count=(?P<count>\d+)(?: first=(?P<first>[\d.e+-]+))? curr=(?P<curr>[\d.e+-]+)"
                   r"(?: min=(?P<min>[\d.e+-]+) max=(?P<max>[\d.e+-]+) avg=(?P<avg>[\d.e+-]+)"
                   r" std=(?P<std>[\d.e+-]+))?")
_TIMINGS = re.compile(r"Inference timings in us: Init: (?P<init>[\d.e+-]+), First inference: (?P<first>[\d.e+-]+), "
                      r"Warmup \(avg\): (?P<warmup>[\d.e+-]+), Inference \(avg\): (?P<avg>[\d.e+-]+)")
_FIELDS = {
    "graph": re.compile(r"Graph: \[(.*)\]"),
    "threads": re.compile(r"(?:Num threads|#threads used for CPU inference): \[(-?\d+)\]"),
    "xnnpack": re.compile(r"Use xnnpack: \[(\d|true|false)\]"),
    "xnnpack_created": re.compile(r"Created TensorFlow Lite XNNPACK delegate"),
    "shapes": re.compile(r"Input shapes: \[([\d,:]+)\]"),
    "size_mb": re.compile(r"The input model file size \(MB\): ([\d.e+-]+)"),
    "init_ms": re.compile(r"Initialized session in ([\d.e+-]+)\s*ms"),
    "delta": re.compile(r"(?:Memory footprint delta from the start of the tool|Peak memory footprint) \(MB\): "
                        r"init=([\d.e+-]+) overall=([\d.e+-]+)"),
    "peak": re.compile(r"Overall peak memory footprint \(MB\) via periodic monitoring: ([\d.e+-]+)"),
    "vmrss": re.compile(r"- VmRSS\s*:\s*([\d.]+) MB"),
}


class BenchmarkModelFormatError(UserError):
    """Text that is not benchmark_model output."""


def _stat(m) -> dict:
    g = {k: (float(v) if v is not None else None) for k, v in m.groupdict().items()}
    if g["min"] is None:  # "count=N curr=X(all same)": every run took the same time
        g.update(first=g["curr"], min=g["curr"], max=g["curr"], avg=g["curr"], std=0.0)
    return g


def _split_runs(text: str) -> list[str]:
    """One chunk per benchmark_model invocation (each starts with 'STARTING!')."""
    parts = re.split(r"^.*STARTING!.*$", text, flags=re.M)
    chunks = [p for p in parts if _TIMINGS.search(p)]
    return chunks


def parse(text: str, *, device: str | None = None, source_name: str = "benchmark_model output") -> list[dict]:
    """Every benchmark in ``text`` as a bench result dict (schema dlbootcamp.bench/1)."""
    chunks = _split_runs(text)
    if not chunks:
        raise BenchmarkModelFormatError(
            f"{source_name} does not look like benchmark_model output (no 'Inference timings in us' line); "
            f"save the complete stdout of `adb shell /data/local/tmp/benchmark_model --graph=...`.")
    return [_parse_one(c, device=device) for c in chunks]


def _first(name: str, chunk: str):
    m = _FIELDS[name].search(chunk)
    return m.groups() if m else None


def _parse_one(chunk: str, *, device: str | None) -> dict:
    t = _TIMINGS.search(chunk)
    timings = {k: float(v) for k, v in t.groupdict().items()}
    stats = [_stat(m) for m in _STAT.finditer(chunk[:t.start()])]
    warm, runs = (stats[0], stats[-1]) if len(stats) >= 2 else (None, stats[0] if stats else None)
    graph = (_first("graph", chunk) or [""])[0]
    threads = int((_first("threads", chunk) or ["-1"])[0])
    flag = _first("xnnpack", chunk)
    xnnpack = (flag[0] in ("1", "true")) if flag else (True if _first("xnnpack_created", chunk) else None)
    shapes = _first("shapes", chunk)
    batch = int(shapes[0].split(":")[0].split(",")[0]) if shapes else 1
    size_mb = _first("size_mb", chunk)
    delta = _first("delta", chunk)
    peak = _first("peak", chunk)
    vmrss = _first("vmrss", chunk)
    ms = lambda us: None if us is None else round(us / 1000.0, 6)
    mean_us = timings["avg"]
    latency = {"min": ms(runs["min"]) if runs else None, "p50": None, "p90": None, "p99": None,
               "max": ms(runs["max"]) if runs else None, "mean": ms(mean_us),
               "std": ms(runs["std"]) if runs else None}
    name = os.path.basename(graph) if graph else "?"
    return {
        "artifact": graph or None, "name": name, "format": "tflite", "variant": "interpreter",
        "quantization": db.guess_quantization(name, None), "lesson": None, "export": None,
        "runtime": "benchmark_model", "runtime_version": None,
        "threads": threads if threads > 0 else None, "xnnpack": xnnpack, "batch": batch,
        "inputs": "benchmark_model random inputs", "input_shapes": None,
        "model_size_bytes": int(round(float(size_mb[0]) * 1e6)) if size_mb else None,
        "init_ms": ms(timings["init"]),
        "first_inference_ms": ms(timings["first"]),
        "warmup_runs": int(warm["count"]) if warm else None,
        "warmup_mean_ms": ms(timings["warmup"]),
        "runs": int(runs["count"]) if runs else None,
        "latency_ms": latency,
        "throughput_per_s": round(batch * 1e6 / mean_us, 2) if mean_us else None,
        "rss_before_load_mb": None, "rss_after_init_mb": None,
        "rss_end_mb": float(vmrss[0]) if vmrss else None,
        "peak_rss_mb": float(peak[0]) if peak else None,
        "rss_growth_mb": round(float(delta[1]) - float(delta[0]), 3) if delta else None,
        "memory_delta_init_mb": float(delta[0]) if delta else None,
        "memory_delta_overall_mb": float(delta[1]) if delta else None,
        "process_peak_rss_mb": None,
        "memory_measured_in": "benchmark_model's own process",
        "stopped_by_max_secs": None,
        "source": "benchmark_model",
        "machine": {"device": device, "cpu": None, "cores": None, "cores_available": None, "platform": "Android"
                    if "/data/local/tmp" in graph else None, "python": None, "load_1min": None,
                    "packages": {"benchmark_model": "TFLite C++ tool"}},
    }


def read(path, *, device: str | None = None) -> dict:
    """A benchmark_model log file as a bench document (schema dlbootcamp.bench/1)."""
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UserError(f"{path} cannot be read ({exc.strerror}); expected a text file with benchmark_model "
                        f"output.") from None
    results = parse(text, device=device, source_name=str(path))
    for r in results:
        r["imported_from"] = str(path)
    return {"schema": db.BENCH_SCHEMA, "tool": "benchmark_model (imported)",
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": results[0]["machine"], "settings": {}, "results": results}
