"""Turn benchmark results into a table and pictures people can read.

Inputs are bench documents (schema ``dlbootcamp.bench/1``, from ``dlbootcamp bench --json``
or ``device_bench.py --json`` on a phone), logs of TFLite's ``benchmark_model`` (``.txt``),
or folders holding them (a run folder, a whole ``runs/``). Next to the artifacts, the
exporter's ``export-report.json`` says how big each artifact is relative to the Keras model,
how well it scores (the lesson's metric on held-out data) and whether it passed its parity
check; we join those to the latency rows by artifact path.

The report is Markdown (``report.md``) with three kinds of picture:

- ``latency_vs_size.png``: p50 latency against file size, one colour per format - the
  trade-off quantization buys;
- ``metric_vs_latency.png``: the lesson's metric against p50 latency - what that costs;
- ``lessons.png``: p50 latency per format for each lesson, once several lessons are there.

The tour ends with ``summarize(results, out_dir)`` (join, print the table, write the report);
``markdown_table(results)`` is the table alone; ``dlbootcamp report`` calls ``collect``,
``attach_export_rows`` and ``write_report``.
"""

from __future__ import annotations

import json
import os
import pathlib

from dlbootcamp.errors import UserError
from dlbootcamp.export import device_bench as db

EXPORT_REPORT = "export-report.json"  # NAME.export-report.json, or this name alone (older exports)
JOINED_FIELDS = ("metric", "metric_value", "reference_metric_value", "passed", "max_abs_error", "size_ratio",
                 "top1_agreement", "tolerance", "judged_by", "float_layers", "higher_is_better")


def model_name(r: dict) -> str:
    """What a row is about: its lesson, else the exported model's name (``tiny`` for tiny.int8.tflite)."""
    if r.get("lesson"):
        return r["lesson"]
    name = r.get("export") or os.path.basename(r.get("artifact") or r.get("name") or "")
    return name.split(".")[0] or "-"


def _parity(r: dict) -> str:
    """What the exporter measured where no metric was: top-1 agreement, else max abs error."""
    if r.get("metric_value") is not None:
        return f"{r.get('metric') or ''} {r['metric_value']:.4f}".strip()
    if r.get("top1_agreement") is not None:
        return f"top-1 {r['top1_agreement']:.3f}"
    if r.get("max_abs_error") is not None:
        return f"max err {r['max_abs_error']:.1e}"
    return "-"


class ReportError(UserError):
    """Sources that cannot be read as benchmark results."""


# --- collecting results -------------------------------------------------------------------------

def _looks_like_sidecar(path: pathlib.Path) -> bool:
    return path.name.endswith((".tflite.json", ".onnx.json", ".keras.json"))


def collect(sources, *, device: str | None = None) -> tuple[list[dict], dict[str, dict]]:
    """(bench results, export rows by artifact real path) from files and folders.

    Files: a bench JSON document, an ``export-report.json``, or benchmark_model text
    (``.txt``/``.log``; ``device`` labels it). Folders are searched recursively for both JSON
    kinds. Raises ReportError when a source is missing, unreadable, or nothing is found.
    """
    results, rows = [], {}
    for src in map(pathlib.Path, sources):
        if not src.exists():
            raise ReportError(f"{src} does not exist; expected a bench JSON file, benchmark_model output "
                              f"(.txt) or a run folder.")
        files = sorted(p for p in src.rglob("*.json") if not _looks_like_sidecar(p)) if src.is_dir() else [src]
        for f in files:
            got_results, got_rows = _read_source(f, device=device, strict=not src.is_dir())
            results += got_results
            rows.update(got_rows)
        if src.is_dir() and not any(r.get("_from", "").startswith(str(src)) for r in results):
            artifacts = sorted(str(p) for ext in ("*.tflite", "*.onnx") for p in src.rglob(ext))
            hint = (f"`dlbootcamp bench {' '.join(artifacts[:6])}{' ...' if len(artifacts) > 6 else ''} "
                    f"--out {src / 'bench.json'}`") if artifacts else "`dlbootcamp bench ARTIFACT... --out FILE.json`"
            raise ReportError(f"{src} holds no benchmark results (dlbootcamp.bench/1 JSON); run {hint} first.")
    for r in results:
        r.pop("_from", None)
    return results, rows


def _read_source(path: pathlib.Path, *, device: str | None, strict: bool) -> tuple[list[dict], dict[str, dict]]:
    if path.suffix.lower() in (".txt", ".log"):
        from dlbootcamp.export import benchmark_model

        doc = benchmark_model.read(path, device=device)
        return [dict(r, _from=str(path)) for r in doc["results"]], {}
    if path.suffix.lower() != ".json":
        raise ReportError(f"{path}: unknown source type {path.suffix or '(no extension)'!r}; expected a bench "
                          f".json file, benchmark_model output (.txt) or a run folder.")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        if not strict:
            return [], {}
        raise ReportError(f"{path} is not readable JSON ({str(exc).splitlines()[0]}); expected the output of "
                          f"`dlbootcamp bench --json`.") from None
    if isinstance(doc, dict) and doc.get("schema") == db.BENCH_SCHEMA:
        out = []
        for r in doc.get("results", []):
            r = dict(r, _from=str(path))
            r.setdefault("machine", doc.get("machine", {}))
            out.append(r)
        return out, {}
    if is_export_report(path):
        return [], export_rows(path, doc)
    if strict:
        found = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise ReportError(f"{path} has schema {found!r}; expected {db.BENCH_SCHEMA!r} (from `dlbootcamp bench "
                          f"--json`) or an {EXPORT_REPORT}.")
    return [], {}


def is_export_report(path) -> bool:
    """``NAME.export-report.json`` (one per exported model) or ``export-report.json`` (older exports)."""
    name = pathlib.Path(path).name
    return name == EXPORT_REPORT or name.endswith(f".{EXPORT_REPORT}")


def export_rows(path: pathlib.Path, doc=None) -> dict[str, dict]:
    """An export report's rows keyed by the real path of each artifact."""
    path = pathlib.Path(path)
    if doc is None:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
    rows = doc.get("rows", []) if isinstance(doc, dict) else doc if isinstance(doc, list) else []
    direction = doc.get("higher_is_better") if isinstance(doc, dict) else None
    out = {}
    for row in rows:
        if not isinstance(row, dict) or not row.get("path"):
            continue
        if direction is not None:
            row = {**row, "higher_is_better": direction}
        p = pathlib.Path(row["path"])
        candidates = [p] if p.is_absolute() else [path.parent / p, path.parent / p.name, p]
        for c in candidates:
            if c.exists():
                out[os.path.realpath(c)] = row
                break
        else:
            out[os.path.realpath(path.parent / p.name)] = row
    return out


def attach_export_rows(results: list[dict], rows: dict[str, dict] | None = None) -> list[dict]:
    """Copy metric / parity fields from export reports into the results they belong to.

    Without ``rows`` for an artifact, looks for an export-report.json beside it (or in a
    subfolder of its folder, where a run keeps its exports). A ``.keras`` result gets the Keras
    model's own score (the rows' ``reference_metric_value``) from its run's export report.
    """
    rows = dict(rows or {})
    for r in results:
        art = r.get("artifact")
        if not art or r.get("source") == "benchmark_model":
            continue
        folder = pathlib.Path(os.path.realpath(art)).parent
        for rep in [*folder.glob(f"*{EXPORT_REPORT}"), *folder.glob(f"*/*{EXPORT_REPORT}")]:
            if rep.exists():
                for k, v in export_rows(rep).items():
                    rows.setdefault(k, v)
    by_name = {}
    for key, row in rows.items():
        by_name.setdefault(os.path.basename(key), []).append((key, row))
    for r in results:
        art = r.get("artifact") or ""
        key = os.path.realpath(art) if art else None
        row = rows.get(key) if key else None
        if row is None and len(by_name.get(r.get("name"), [])) == 1:
            key, row = by_name[r["name"]][0]  # a device result: the same file, copied elsewhere
        if row is not None:
            r["lesson"] = r.get("lesson") or db.guess_lesson(key)
            for k in JOINED_FIELDS:
                if r.get(k) is None and row.get(k) is not None:
                    r[k] = row[k]
            if not r.get("quantization"):
                r["quantization"] = row.get("quantization")
        elif r.get("format") == "keras" and art:
            run_dir = os.path.dirname(os.path.realpath(art)) + os.sep
            export_name = pathlib.Path(art).stem
            refs = [row for key, row in rows.items() if key.startswith(run_dir)
                    and row.get("reference_metric_value") is not None and row.get("name", export_name) == export_name]
            if refs:
                r["metric"] = refs[0].get("metric")
                r["metric_value"] = refs[0]["reference_metric_value"]
    return results


# --- the table ----------------------------------------------------------------------------------

def _fmt(x, nd=4) -> str:
    return "-" if x is None else db._ms(x)


def _sort_key(r: dict):
    order = {"keras": 0, "tflite": 1, "onnx": 2}
    quant = {q: i for i, q in enumerate(db.QUANTIZATIONS)}
    return (model_name(r), r.get("batch") or 1, r.get("threads") or 0, order.get(r.get("format"), 9),
            r.get("variant") or "", quant.get(r.get("quantization"), 9), r.get("source") or "")


def machines_of(results: list[dict]) -> list[str]:
    """The distinct machines, in order of appearance (the load at the time is not part of a machine)."""
    out = []
    for r in results:
        d = db.describe_machine(r.get("machine") or {}, load=False)
        if d not in out:
            out.append(d)
    return out


def load_range(results: list[dict]) -> str | None:
    loads = sorted(r["machine"]["load_1min"] for r in results if (r.get("machine") or {}).get("load_1min") is not None)
    if not loads:
        return None
    return f"{loads[0]}" if loads[0] == loads[-1] else f"{loads[0]} to {loads[-1]}"


def markdown_table(results: list[dict], *, sort: bool = True) -> str:
    """A Markdown table of results (one row each) with the machine(s) they ran on underneath.

    Columns: lesson, model (format / quantization / variant), threads, batch, size, init,
    first inference, p50 / p90 / p99 latency, throughput, peak RSS, RSS growth, and - when an
    export report was attached - the lesson's metric and whether the artifact passed parity.
    """
    rows = sorted(results, key=_sort_key) if sort else list(results)
    machines = machines_of(results)  # numbered in the order the sources came
    has_metric = any(r.get("metric_value") is not None or r.get("passed") is not None for r in rows)
    head = ["lesson / model", "artifact", "threads", "batch", "size KB", "init ms", "first ms", "p50 ms", "p90 ms",
            "p99 ms", "inf/s", "peak RSS MB", "RSS growth MB"]
    if has_metric:
        head += ["metric", "parity"]
    if len(machines) > 1:
        head.append("machine")
    cells_of_rows = []
    for r in rows:
        lat = r.get("latency_ms") or {}
        size = r.get("model_size_bytes")
        cells = [model_name(r), db.result_label(r), str(r.get("threads") or "-"), str(r.get("batch") or "-"),
                 f"{size / 1024:.1f}" if size else "-", _fmt(r.get("init_ms")), _fmt(r.get("first_inference_ms")),
                 _fmt(lat.get("p50")) if lat.get("p50") is not None else f"(mean {_fmt(lat.get('mean'))})",
                 _fmt(lat.get("p90")), _fmt(lat.get("p99")),
                 f"{r['throughput_per_s']:.1f}" if r.get("throughput_per_s") else "-",
                 f"{r['peak_rss_mb']:.1f}" if r.get("peak_rss_mb") is not None else "-",
                 f"{r['rss_growth_mb']:+.2f}" if r.get("rss_growth_mb") is not None else "-"]
        if has_metric:
            cells.append(_parity(r))
            cells.append({True: "passed", False: "FAILED", None: "-"}[r.get("passed")])
        if len(machines) > 1:
            cells.append(f"[{machines.index(db.describe_machine(r.get('machine') or {}, load=False)) + 1}]")
        cells_of_rows.append(cells)
    lines = db.render_table(head, cells_of_rows, right_from=2, markdown=True)
    lines.append("")
    if len(machines) == 1:
        lines.append(f"Machine: {machines[0]}.")
    else:
        lines += [f"[{i}] {m}" for i, m in enumerate(machines, 1)]
    loads = load_range(rows)
    if loads:
        lines.append(f"Load average (1 min) when measured: {loads}.")
    if any(r.get("source") == "benchmark_model" for r in rows):
        lines.append("(mean ...): TFLite's benchmark_model reports no percentiles; compare on the mean.")
    return "\n".join(lines)


def pareto_table(results: list[dict]) -> str:
    """Per lesson (or model): every artifact's metric, size and p50 latency, and which are worth having.

    An artifact is on the Pareto front when no other artifact of the same lesson, batch and threads
    is at least as good on all three (metric, size, p50) and better on one. Empty without metrics.
    """
    scored = [r for r in results if r.get("metric_value") is not None and (r.get("latency_ms") or {}).get("p50")
              is not None and r.get("model_size_bytes")]
    if not scored:
        return ""
    groups: dict[tuple, list[dict]] = {}
    for r in scored:
        groups.setdefault((model_name(r), r.get("batch") or 1, r.get("threads") or 0), []).append(r)
    lines = ["Metric vs size vs latency (front: no other artifact is as good on all three and better on one):", ""]
    rows = []
    for (who, batch, threads), rs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        up = rs[0].get("higher_is_better") is not False

        def better_or_equal(a, b):
            metric = a["metric_value"] >= b["metric_value"] if up else a["metric_value"] <= b["metric_value"]
            return metric and a["model_size_bytes"] <= b["model_size_bytes"] and \
                a["latency_ms"]["p50"] <= b["latency_ms"]["p50"]

        for r in sorted(rs, key=lambda r: r["model_size_bytes"]):
            dominated = any(o is not r and better_or_equal(o, r) and not better_or_equal(r, o) for o in rs)
            rows.append([who, db.result_label(r), str(batch), f"{r['model_size_bytes'] / 1024:.1f}",
                         _fmt(r["latency_ms"]["p50"]), f"{r.get('metric') or ''} {r['metric_value']:.4f}".strip(),
                         ", ".join(r.get("float_layers") or []) or "-", "-" if dominated else "front"])
    lines += db.render_table(["lesson / model", "artifact", "batch", "size KB", "p50 ms", "metric", "float layers",
                              "Pareto"], rows, right_from=2, markdown=True)
    return "\n".join(lines)


# --- pictures -----------------------------------------------------------------------------------

def _groups(results):
    groups = {}
    for r in results:
        if _p50(r) is not None:
            groups.setdefault(db.result_label(r), []).append(r)
    return groups


def _p50(r):
    lat = r.get("latency_ms") or {}
    return lat.get("p50") if lat.get("p50") is not None else lat.get("mean")


def _colors(labels):
    from dlbootcamp import plots

    cycle = plots.pyplot().rcParams["axes.prop_cycle"].by_key()["color"]
    return {label: cycle[i % len(cycle)] for i, label in enumerate(sorted(labels))}


def _by_batch(rs):
    """(marker, results): batch 1 as circles, larger batches as squares."""
    small = [r for r in rs if (r.get("batch") or 1) == 1]
    large = [r for r in rs if (r.get("batch") or 1) > 1]
    return [(m, sub) for m, sub in (("o", small), ("s", large)) if sub]


def _batch_legend(ax, results):
    from matplotlib.lines import Line2D

    batches = sorted({r.get("batch") or 1 for r in results})
    handles, labels = ax.get_legend_handles_labels()
    seen = dict(zip(labels, handles))
    extra = [Line2D([], [], marker="o", ls="", color="gray", label="batch 1")]
    if any(b > 1 for b in batches):
        extra.append(Line2D([], [], marker="s", ls="", color="gray",
                            label="batch " + ", ".join(str(b) for b in batches if b > 1)))
    ax.legend(list(seen.values()) + extra, list(seen) + [h.get_label() for h in extra], fontsize=7)


def plot_latency_vs_size(results, path) -> pathlib.Path | None:
    """p50 latency against file size: one colour per format, circles at batch 1, squares above."""
    from dlbootcamp import plots

    pts = {k: [r for r in v if r.get("model_size_bytes")] for k, v in _groups(results).items()}
    pts = {k: v for k, v in pts.items() if v}
    if not pts:
        return None
    plt = plots.pyplot()
    fig, ax = plt.subplots(figsize=(6.6, 4.6))
    colors = _colors(pts)
    several = len({r.get("lesson") for v in pts.values() for r in v}) > 1
    for label, rs in sorted(pts.items()):
        for i, (marker, sub) in enumerate(_by_batch(rs)):
            ax.scatter([r["model_size_bytes"] / 1024 for r in sub], [_p50(r) for r in sub], marker=marker, s=38,
                       alpha=0.85, color=colors[label], label=None if i else label)
    if several:  # name each lesson once, at its smallest batch-1 artifact
        for lesson in sorted({r.get("lesson") for v in pts.values() for r in v if r.get("lesson")}):
            mine = [r for v in pts.values() for r in v if r.get("lesson") == lesson and (r.get("batch") or 1) == 1]
            if mine:
                r = min(mine, key=lambda r: r["model_size_bytes"])
                ax.annotate(lesson, (r["model_size_bytes"] / 1024, _p50(r)), fontsize=8, xytext=(-4, -12),
                            textcoords="offset points", ha="right")
    ax.set(xscale="log", yscale="log", xlabel="model size (KB, log)", ylabel="p50 latency per call (ms, log)",
           title="Latency vs size, per format")
    ax.grid(alpha=0.3, which="both")
    _batch_legend(ax, [r for v in pts.values() for r in v])
    fig.tight_layout()
    return plots.save(fig, pathlib.Path(path))


def plot_metric_vs_latency(results, path) -> pathlib.Path | None:
    """The lesson's metric against p50 latency, one panel per lesson (metrics differ between lessons)."""
    from dlbootcamp import plots

    pts = [r for v in _groups(results).values() for r in v if r.get("metric_value") is not None]
    if not pts:
        return None
    lessons = sorted({r.get("lesson") or "-" for r in pts})
    plt = plots.pyplot()
    fig, axes = plt.subplots(1, len(lessons), figsize=(5.2 * len(lessons), 4.2), squeeze=False)
    colors = _colors({db.result_label(r) for r in pts})
    for ax, lesson in zip(axes[0], lessons):
        mine = [r for r in pts if (r.get("lesson") or "-") == lesson]
        by_label = {}
        for r in mine:
            by_label.setdefault(db.result_label(r), []).append(r)
        for label, rs in sorted(by_label.items()):
            for i, (marker, sub) in enumerate(_by_batch(rs)):
                ax.scatter([_p50(r) for r in sub], [r["metric_value"] for r in sub], marker=marker, s=38,
                           alpha=0.85, color=colors[label], label=None if i else label)
        lo, hi = min(r["metric_value"] for r in mine), max(r["metric_value"] for r in mine)
        pad = max(0.25 * (hi - lo), 0.01 * max(abs(lo), abs(hi), 1e-6))  # tiny differences stay tiny
        ax.set_ylim(lo - pad, hi + pad)
        ax.set(xscale="log", xlabel="p50 latency per call (ms, log)", ylabel=mine[0].get("metric") or "metric",
               title=f"{lesson}: metric vs latency")
        ax.grid(alpha=0.3, which="both")
        _batch_legend(ax, mine)
    fig.suptitle("Held-out metric vs latency, per format")
    fig.tight_layout()
    return plots.save(fig, pathlib.Path(path))


def plot_lessons(results, path) -> pathlib.Path | None:
    """Grouped bars: p50 at batch 1 (fewest threads) per format, one group per lesson."""
    from dlbootcamp import plots

    import numpy as np

    base = {}
    for r in sorted(results, key=_sort_key):
        if r.get("lesson") and (r.get("batch") or 1) == 1 and _p50(r) is not None:
            base.setdefault((r["lesson"], db.result_label(r)), r)
    lessons = sorted({k[0] for k in base})
    if len(lessons) < 2:
        return None
    labels = sorted({k[1] for k in base})
    plt = plots.pyplot()
    fig, ax = plt.subplots(figsize=(max(6.4, 1.6 * len(lessons) * max(1, len(labels)) / 3), 4.4))
    width = 0.8 / len(labels)
    for i, label in enumerate(labels):
        ys = [_p50(base[(l, label)]) if (l, label) in base else np.nan for l in lessons]
        ax.bar(np.arange(len(lessons)) + i * width - 0.4 + width / 2, ys, width, label=label)
    ax.set_xticks(np.arange(len(lessons)), lessons)
    ax.set(yscale="log", ylabel="p50 latency per call (ms, log)", title="Per-lesson comparison (batch 1)")
    ax.grid(alpha=0.3, axis="y", which="both")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return plots.save(fig, pathlib.Path(path))


# --- the report ---------------------------------------------------------------------------------

def write_report(results: list[dict], out_dir, *, title: str = "Benchmark report", sources=(),
                 force: bool = True) -> dict[str, pathlib.Path]:
    """report.md plus its PNGs in ``out_dir``; returns name -> path of what was written.

    ``force=False`` (the CLI's default) refuses to replace an existing report.md, as export does.
    """
    out = pathlib.Path(out_dir)
    if not force and (out / "report.md").exists():
        raise ReportError(f"{out / 'report.md'} already exists and would be overwritten; choose another --out "
                          f"folder or pass --force to replace it.")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"--out {out} cannot be created ({exc.strerror}); choose a writable folder.") from None
    written = {}
    for name, fn in (("latency_vs_size", plot_latency_vs_size), ("metric_vs_latency", plot_metric_vs_latency),
                     ("lessons", plot_lessons)):
        p = fn(results, out / f"{name}.png")
        if p is not None:
            written[name] = p
    lines = [f"# {title}", ""]
    if sources:
        lines += ["From: " + ", ".join(f"`{s}`" for s in sources), ""]
    pareto = pareto_table(results)
    lines += [markdown_table(results), "", *([pareto, ""] if pareto else []),
              "Latency is per inference call (one batch); p50/p90/p99 are percentiles over the timed runs, "
              "init is load + allocate, first is the first call after init. inf/s counts samples "
              "(batch x calls per second). RSS growth is resident memory at the end minus after warm-up.", ""]
    captions = {"latency_vs_size": "Latency vs size", "metric_vs_latency": "Metric vs latency",
                "lessons": "Per-lesson comparison"}
    for name, p in written.items():
        lines += [f"![{captions[name]}]({p.name})", ""]
    md = out / "report.md"
    md.write_text("\n".join(lines), encoding="utf-8")
    written["report"] = md
    return written


def default_out(sources) -> pathlib.Path:
    """A single folder's report goes inside it; anything else into ./report."""
    srcs = [pathlib.Path(s) for s in sources]
    if len(srcs) == 1 and srcs[0].is_dir():
        return srcs[0] / "report"
    return pathlib.Path("report")


def summarize(results: list[dict], out_dir=None, *, title: str = "Benchmark report", print_fn=print) -> str:
    """What the tour ends with: join export reports, print the table, and (with ``out_dir``) write the report.

    Returns the Markdown table.
    """
    attach_export_rows(results)
    table = markdown_table(results)
    print_fn(table)
    if out_dir is not None:
        written = write_report(results, out_dir, title=title)
        print_fn(f"\nwrote {written['report']} and {len(written) - 1} plot(s)")
    return table
