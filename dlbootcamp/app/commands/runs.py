"""`dlbootcamp runs`: the recorded experiments."""

import json
import pathlib

HELP = "list recorded runs (from RUNS/index.jsonl)"
EPILOG = "examples:\n  dlbootcamp runs\n  dlbootcamp runs --lesson training --json"


def add_arguments(p):
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs"), help="runs folder (default: ./runs)")
    p.add_argument("--lesson", help="only runs of this lesson id")
    p.add_argument("--json", action="store_true", help="print the index lines as a JSON list")


def run(args) -> int:
    from dlbootcamp import records
    from dlbootcamp.errors import UserError

    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out} is a file; expected the runs folder written by `dlbootcamp train`.")
    rows = [r for r in records.list_runs(args.out) if not args.lesson or r["lesson"] == args.lesson]
    killed = [r for r in records.resumable_runs(args.out) if not args.lesson or r["lesson"] == args.lesson]
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
    print(f"{'run':<40} {'metric':<18} {'value':>8}  {'bar':<7} {'wall s':>7}")
    for r in rows:
        verdict = "quick" if r["passed"] is None else ("passed" if r["passed"] else "FAILED")
        value = "" if r["value"] is None else f"{r['value']:.4f}"
        print(f"{r['run']:<40} {str(r['metric']):<18} {value:>8}  {verdict:<7} {r['wall_time_s']:>7.1f}")
    return 0
