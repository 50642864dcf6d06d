"""`dlbootcamp report SOURCE...`: benchmark results as a Markdown table and PNG plots."""

import pathlib

HELP = "turn benchmark results (bench JSON, benchmark_model logs, run folders) into a table and plots"
DESCRIPTION = """\
Read benchmark results - JSON from `dlbootcamp bench --json/--out` or from device_bench.py on
a phone or board, text logs of TFLite's benchmark_model (.txt), or folders holding them - and
write OUT/report.md (a Markdown table: size, init, first inference, p50/p90/p99 latency,
throughput, memory, and the lesson's metric and parity verdict from the exporter's
NAME.export-report.json when it is there) with PNG plots: latency vs size and metric vs latency per
format, and a per-lesson comparison once several lessons are in. The table is also printed."""
EPILOG = """\
examples:
  dlbootcamp report runs/training-20250101-120000          a run folder (bench.json inside)
  dlbootcamp report bench.json phone.json --out report/    this machine and a phone, side by side
  dlbootcamp report pixel7.txt --device "Pixel 7" bench.json   benchmark_model output joins in
  dlbootcamp report runs                                   every lesson: per-lesson comparison"""


def add_arguments(p):
    p.add_argument("sources", nargs="+", metavar="SOURCE",
                   help="bench .json files, benchmark_model .txt logs, or folders (searched recursively)")
    p.add_argument("--out", type=pathlib.Path, help="folder for report.md and the PNGs (default: FOLDER/report "
                   "for a single folder, else ./report)")
    p.add_argument("--force", action="store_true", help="replace an existing report.md and its pictures in --out")
    p.add_argument("--device", help="device name for benchmark_model logs (they do not name the phone)")
    p.add_argument("--title", default="Benchmark report", help="the report's heading")


def run(args) -> int:
    from dlbootcamp.export import report

    results, rows = report.collect(args.sources, device=args.device)
    report.attach_export_rows(results, rows)
    out = args.out or report.default_out(args.sources)
    written = report.write_report(results, out, title=args.title, sources=args.sources, force=args.force)
    print(report.markdown_table(results))
    pareto = report.pareto_table(results)
    if pareto:
        print(f"\n{pareto}")
    print(f"\nwrote {', '.join(str(p) for p in written.values())}")
    return 0
