"""A lesson's full run on several seeds: model and baselines as mean +- std, and which bars hold on every seed.

    python benchmarks/seeds.py training assistant-intents        # seeds 0-2, full runs, one at a time
    python benchmarks/seeds.py training --seeds 0 1 2 3 4
    python benchmarks/seeds.py training --seeds 1 2 --merge   # add seeds to the lesson's recorded ones
    python benchmarks/seeds.py training --quick --json /tmp/s.json --markdown /tmp/s.md   # smoke size

One result is never a result: a seed fixes the data split, the initial weights and the
shuffling, so the spread over seeds is the spread a learner will see. For every lesson named,
this script runs ``dlbootcamp train ID --seed S`` for each seed, in a fresh process, one run at
a time (never two trainings at once: the wall times are recorded too), reads each run's
``metrics.json``, and

- merges the runs into ``docs/seeds.json`` (lesson -> seed -> metrics, baselines, bars,
  wall time, the machine and its load before and after the run), keeping other lessons' entries;
- regenerates the table between ``<!-- seeds:begin -->`` and ``<!-- seeds:end -->`` in
  ``docs/lessons.md`` from everything in ``docs/seeds.json``: per lesson, each bar metric of the
  model and the same metric of each baseline as mean +- std, and on how many seeds each bar held;
- rewrites the "measured" cell of each lesson's row in the curriculum table of that page
  (``| day | `id` | bar | measured | wall | int8 |``) from the same records. The wall cells come
  from the idle seed-0 timings (docs/walls.json), not from here;
- with ``--int8-from RUNS`` (no lesson ids needed), rewrites the int8 cells instead, from the export
  reports of the seed-0 runs (``RUNS/ID-seed0/export/*export-report.json``, written by
  ``dlbootcamp export RUNS/ID-seed0``): each exported model's int8 TFLite metric against Keras.

The numbers in docs/lessons.md come from here, not from docstrings.
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
BEGIN, END = "<!-- seeds:begin -->", "<!-- seeds:end -->"


def run_seed(lesson: str, seed: int, runs_dir: pathlib.Path, quick: bool, *, sets: list[str] = (),
             name: str | None = None) -> dict:
    """One ``dlbootcamp train`` (with ``--set`` overrides ``sets``) in its own process; its metrics.json, with
    wall time and load."""
    name = name or f"{lesson}-seed{seed}" + ("-quick" if quick else "")
    cmd = [sys.executable, "-m", "dlbootcamp", "train", lesson, "--seed", str(seed), "--out", str(runs_dir),
           "--name", name, "-q"] + [a for s in sets for a in ("--set", s)] + (["--quick"] if quick else [])
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if not (runs_dir / name / "metrics.json").exists():
        raise SystemExit(f"seeds.py: `{' '.join(cmd[2:])}` wrote no run (exit {done.returncode}):\n"
                         f"{done.stderr.strip()[-2000:]}")
    record = json.loads((runs_dir / name / "metrics.json").read_text())
    return {"metrics": record["metrics"], "baselines": record.get("baselines", {}), "bars": record["bars"],
            "passed": record["passed"], "quick": quick, "train_wall_time_s": record["wall_time_s"],
            "process_wall_time_s": round(wall, 1), "load_1min_before": round(load_before, 2),
            "load_1min_after": round(os.getloadavg()[0], 2), "cores": os.cpu_count(),
            "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "1") not in ("0", "false", "False"),
            "finished": _dt.datetime.now().isoformat(timespec="seconds")}


def mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.4g} (1 seed)"
    return f"{statistics.mean(values):.4g} +- {statistics.stdev(values):.2g}"


def lesson_table(lesson: str, seeds: dict) -> list[str]:
    """Markdown lines: one row per bar metric, columns model and each baseline; then the bars' verdicts."""
    runs = [seeds[s] for s in sorted(seeds, key=int)]
    quick = any(r["quick"] for r in runs)
    names = list(dict.fromkeys(n for r in runs for n in r["baselines"]))
    head = [b["metric"] for b in runs[0]["bars"]]
    lines = [f"### `{lesson}`: seeds {', '.join(sorted(seeds, key=int))}" + (" (--quick: smoke size, not a result)" if quick else ""),
             "", "| metric | model | " + " | ".join(names) + " |" if names else "| metric | model |",
             "|---|---|" + "---|" * len(names)]
    shared = [m for m in runs[0]["metrics"] if m not in head and any(m in r["baselines"].get(n, {})
                                                                      for r in runs for n in names)]
    for metric in head + shared:
        cells = [mean_std([r["metrics"][metric] for r in runs if metric in r["metrics"]])]
        cells += [mean_std([r["baselines"][n][metric] for r in runs if metric in r["baselines"].get(n, {})])
                  for n in names]
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    lines.append("")
    verdicts = []
    for i, bar in enumerate(runs[0]["bars"]):
        held = sum(1 for r in runs if r["bars"][i]["passed"])
        judged = sum(1 for r in runs if r["bars"][i]["passed"] is not None)
        text = f"`{bar['metric']} {bar['op']} {bar['threshold']:g}`: "
        text += "not judged (--quick)" if not judged else (f"holds on {held} of {judged} seeds"
                                                             + ("" if held == judged else " **(not on every seed)**"))
        verdicts.append(text)
    lines.append("Bars: " + "; ".join(verdicts) + ".")
    walls = [r["train_wall_time_s"] for r in runs]
    loads = [r["load_1min_before"] for r in runs]
    lines.append(f"Training wall time {mean_std(walls)} s on {runs[0]['cores']} cores "
                 f"(1-minute load before each run: {', '.join(f'{x:.1f}' for x in loads)}).")
    lines.append("")
    return lines


def render(all_seeds: dict) -> str:
    lines = [BEGIN, "", "_Generated by `python benchmarks/seeds.py LESSON...` from docs/seeds.json; do not edit by hand._", ""]
    for lesson in all_seeds:
        lines += lesson_table(lesson, all_seeds[lesson])
    return "\n".join(lines + [END])


def short(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def measured_cell(seeds: dict) -> str:
    """The curriculum table's measured cell: each bar metric's mean +- std and on how many seeds it held."""
    runs = [seeds[s] for s in sorted(seeds, key=int)]
    parts = []
    for i, bar in enumerate(runs[0]["bars"]):
        values = [r["bars"][i]["value"] for r in runs]
        held = sum(bool(r["bars"][i]["passed"]) for r in runs)
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        parts.append(f"{bar['metric']} {short(statistics.mean(values))} +- {short(spread)} ({held}/{len(runs)})")
    return f"seeds {', '.join(sorted(seeds, key=int))}: " + "; ".join(parts)


def rewrite_rows(text: str, cell: int, value) -> str:
    """``text`` with cell ``cell`` of every curriculum-table row (``| day | `id` | bar | measured | wall | int8 |``)
    replaced by ``value(lesson id)``, where that returns a string (None leaves the row as it was)."""
    out = []
    for line in text.splitlines():
        cells = line[2:-2].split(" | ") if line.startswith("| ") and line.endswith(" |") else []
        new = value(cells[1].strip("`")) if len(cells) == 6 else None
        if new is not None:
            cells[cell] = new
            line = "| " + " | ".join(cells) + " |"
        out.append(line)
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def summary_cells(text: str, all_seeds: dict) -> str:
    """``text`` with the measured cell of every curriculum-table row whose lesson has seeds rewritten."""
    return rewrite_rows(text, 3, lambda lesson: measured_cell(all_seeds[lesson]) if lesson in all_seeds and not any(
        r["quick"] for r in all_seeds[lesson].values()) else None)


def int8_cell(export_dir: pathlib.Path) -> str | None:
    """The curriculum table's int8 cell from a run's export reports, or None when it was not exported."""
    parts = []
    for report in sorted(export_dir.glob("*export-report.json")):
        for row in json.loads(report.read_text())["rows"]:
            if row["format"] != "tflite" or row["quantization"] != "int8" or row.get("metric_value") is None:
                continue
            name = "" if row.get("name", "model") == "model" else f"{row['name']}: "
            kept = row.get("float_layers") or []
            parts.append(f"{name}{row['metric_value']:.4g} (Keras {row['reference_metric_value']:.4g}; "
                         f"{'within' if row['passed'] else 'OUTSIDE'} +-{row['tolerance']:g}"
                         + (f", {len(kept)} layer(s) kept in float)" if kept else ")"))
    scores = {p.split(": ", 1)[-1] for p in parts}
    if len(parts) > 1 and len(scores) == 1:  # every exported model scored by the same end-to-end metric
        parts = [f"all {len(parts)} models: " + scores.pop()]
    return "; ".join(parts) or None


def int8_cells(text: str, runs: pathlib.Path) -> str:
    """``text`` with the int8 cell of every curriculum-table row whose seed-0 run under ``runs`` was exported."""
    return rewrite_rows(text, 5, lambda lesson: int8_cell(runs / f"{lesson}-seed0" / "export"))


def rewrite_page(path: pathlib.Path, rewrite) -> None:
    """Apply ``rewrite`` (text -> text) to the Markdown file ``path``, written atomically."""
    from dlbootcamp import atomic

    atomic.write_bytes(path, rewrite(path.read_text()).encode(), overwrite=True)


def replace_block(path: pathlib.Path, block: str, *, begin: str = BEGIN, end: str = END,
                  heading: str = "## Over seeds: model and baselines", empty: str = "") -> None:
    """Put ``block`` (which starts with ``begin`` and ends with ``end``) in place of the generated
    section of the Markdown file ``path``, or append it under ``heading``; written atomically."""
    from dlbootcamp import atomic

    text = path.read_text() if path.exists() else empty
    if begin in text and end in text:
        text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + f"\n\n{heading}\n\n" + block + "\n"
    atomic.write_bytes(path, text.encode(), overwrite=True)


write_markdown = replace_block  # the name this script has always used


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("lessons", nargs="*", metavar="ID")
    parser.add_argument("--int8-from", type=pathlib.Path, metavar="RUNS",
                        help="only rewrite the int8 cells of the curriculum table from RUNS/ID-seed0/export")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true", help="smoke size (the table says so); for tests")
    parser.add_argument("--json", type=pathlib.Path, default=ROOT / "docs" / "seeds.json")
    parser.add_argument("--markdown", type=pathlib.Path, default=ROOT / "docs" / "lessons.md")
    parser.add_argument("--runs", type=pathlib.Path, help="where the runs go (default: a temporary folder)")
    parser.add_argument("--merge", action="store_true",
                        help="keep the lesson's recorded seeds that this run does not repeat (default: a lesson's "
                             "entry is replaced, so the table never mixes configurations by accident). Use it only "
                             "when the code and Config are unchanged since those seeds ran")
    args = parser.parse_args(argv)
    if args.int8_from:
        rewrite_page(args.markdown, lambda text: int8_cells(text, args.int8_from))
        print(f"rewrote the int8 cells of {args.markdown} from {args.int8_from}/ID-seed0/export")
        return 0
    if not args.lessons:
        parser.error("name at least one lesson id (or pass --int8-from RUNS)")
    if any(s < 0 for s in args.seeds):
        parser.error("--seeds takes non-negative integers")
    all_seeds = json.loads(args.json.read_text()) if args.json.exists() else {}
    with tempfile.TemporaryDirectory(prefix="dlbootcamp-seeds-") as tmp:
        runs_dir = args.runs or pathlib.Path(tmp)
        for lesson in args.lessons:
            results = {}
            for seed in args.seeds:
                print(f"[{lesson}] seed {seed} ...", flush=True)
                results[str(seed)] = r = run_seed(lesson, seed, runs_dir, args.quick)
                head = r["bars"][0] if r["bars"] else {}
                print(f"[{lesson}] seed {seed}: {head.get('metric')} = {head.get('value', float('nan')):.4f}, "
                      f"passed {r['passed']}, {r['train_wall_time_s']:.0f} s", flush=True)
            all_seeds[lesson] = {**all_seeds.get(lesson, {}), **results} if args.merge else results
            args.json.parent.mkdir(parents=True, exist_ok=True)
            tmp_json = args.json.with_name(f".{args.json.name}.tmp")
            tmp_json.write_text(json.dumps(all_seeds, indent=1) + "\n")
            os.replace(tmp_json, args.json)
            write_markdown(args.markdown, render(all_seeds))
            rewrite_page(args.markdown, lambda text: summary_cells(text, all_seeds))
    print(f"wrote {args.json} and the seeds table in {args.markdown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
