"""`dlbootcamp runs`: the recorded experiments, and two of them side by side."""

import json
import pathlib

HELP = "list recorded runs (from RUNS/index.jsonl), or compare two"
DESCRIPTION = """\
List the runs recorded in RUNS/index.jsonl, oldest first: the headline metric, the verdict, the
wall time, and the Config fields each run overrode (--epochs, --seed, --set; `-` = none, `?` =
recorded before overrides were). --compare RUN RUN prints what differs between two runs: the
Config fields, then every metric and every baseline's metrics, side by side with the difference."""
EPILOG = """\
examples:
  dlbootcamp runs
  dlbootcamp runs cnn-features                     only that lesson's runs
  dlbootcamp runs --lesson training --json
  dlbootcamp runs --compare cnn-features-20260101-120000 cnn-features-20260101-130000"""


def add_arguments(p):
    p.add_argument("lesson_id", nargs="?", metavar="ID", help="only runs of this lesson id (same as --lesson)")
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs"), help="runs folder (default: ./runs)")
    p.add_argument("--lesson", help="only runs of this lesson id")
    p.add_argument("--compare", nargs=2, metavar="RUN",
                   help="compare two runs (names in --out, or run folders): config and metric differences")
    p.add_argument("--json", action="store_true", help="print the index lines (or the comparison) as JSON")


def check(args) -> None:
    from dlbootcamp import records
    from dlbootcamp.errors import UserError

    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out} is a file; expected the runs folder written by `dlbootcamp train`.")
    if args.lesson_id and args.lesson and args.lesson_id != args.lesson:
        raise UserError(f"Two lesson ids given ({args.lesson_id!r} and --lesson {args.lesson!r}); give one.")
    if args.compare:
        if args.lesson_id or args.lesson:
            raise UserError("--compare takes two runs and no lesson id; drop ID / --lesson.")
        for run in args.compare:
            records.find_run(args.out, run)


def run(args) -> int:
    from dlbootcamp import records

    if args.compare:
        return _compare(args)
    lesson = args.lesson_id or args.lesson
    rows = [r for r in records.list_runs(args.out) if not lesson or r["lesson"] == lesson]
    killed = [r for r in records.resumable_runs(args.out) if not lesson or r["lesson"] == lesson]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for k in killed:
        state = "training now" if k["training"] else f"killed after epoch {k['epochs']}"
        hint = "" if k["training"] else (f": `dlbootcamp train {k['lesson']} --resume {k['run']} --out {args.out}`, "
                                         f"or delete {k['path']}")
        print(f"unfinished: {k['run']} ({k['lesson']}, {state}){hint}")
    if not rows:
        print(f"No recorded runs in {args.out}/. Record one with `dlbootcamp train ID --out {args.out}`.")
        return 0
    from dlbootcamp.export.device_bench import render_table  # the package's one table formatter

    table = []
    for r in rows:
        verdict = "quick" if r["passed"] is None else ("passed" if r["passed"] else "FAILED")
        value = "" if r["value"] is None else f"{r['value']:.4g}"
        table.append([r["run"], str(r["metric"]), value, verdict, f"{r['wall_time_s']:.1f}",
                      overrides_text(r.get("overrides"))])
    print("\n".join(render_table(["run", "metric", "value", "bar", "wall s", "overrides"], table)))
    return 0


def overrides_text(overrides) -> str:
    """``epochs=3 filters=32``; ``-`` when none; ``?`` for runs recorded before overrides were."""
    if overrides is None:
        return "?"
    if not overrides:
        return "-"
    return " ".join(f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in overrides.items())


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ",".join(map(str, value)) if isinstance(value, list) else str(value)
    return f"{value:.4g}"


def _diff(a, b) -> str:
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return ""
    return f"{b - a:+.4g}"


def _compare(args) -> int:
    from dlbootcamp import records

    a, b = (records.find_run(args.out, r) for r in args.compare)
    diff = records.compare_runs(a, b)
    if args.json:
        print(json.dumps(diff, indent=2))
        return 0
    na, nb = diff["runs"]
    rows = [("config", diff["config"]), ("metrics (held out)", diff["metrics"]), ("baselines", diff["baselines"])]
    from dlbootcamp.export.device_bench import render_table  # the package's one table formatter

    oa, ob = diff["overrides"]
    table = [["overrides", overrides_text(oa), overrides_text(ob), ""]]
    for title, part in rows:
        if title == "config" and not part:
            table.append(["config: the same (every field)", "", "", ""])
            continue
        if not part:
            continue
        table.append([f"{title}:", "", "", ""])
        table += [[key, _cell(x), _cell(y), _diff(x, y)] for key, x, y in part]
    lines = render_table(["", "A " + na, "B " + nb, "B - A"], table)
    print("\n".join([lines[0], *lines[2:]]))  # no rule under the heads: the sections are the structure
    return 0
