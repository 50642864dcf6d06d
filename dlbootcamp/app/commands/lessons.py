"""`dlbootcamp lessons`: the curriculum, read without importing TensorFlow."""

import json

HELP = "list the lessons (day, id, title, quality bar)"
EPILOG = "examples:\n  dlbootcamp lessons\n  dlbootcamp lessons --json | jq '.[].id'"


def add_arguments(p):
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.add_argument("-v", "--verbose", action="store_true", help="also print each lesson's summary and topics")


def run(args) -> int:
    from dlbootcamp import registry

    lessons = registry.discover()
    if args.json:
        print(json.dumps([{"id": e.info.id, "day": e.info.day, "title": e.info.title, "seeds": e.info.seeds,
                           "topics": e.info.topics, "summary": e.info.summary,
                           "bars": [str(b) for b in e.info.bars], "distribute": e.info.distribute,
                           "baselines": list(e.info.baselines), "no_baseline": e.info.no_baseline,
                           "resumable": e.info.resumable,
                           "module": e.module} for e in lessons.values()],
                         indent=2))
        return 0
    width = max((len(i) for i in lessons), default=2)
    print(f"{'day':>3}  {'id':<{width}}  title  [bar]")
    for e in lessons.values():
        print(f"{e.info.day:>3}  {e.info.id:<{width}}  {e.info.title}  [{'; '.join(map(str, e.info.bars))}]")
        if args.verbose:
            print(f"{'':>5}{e.info.summary}\n{'':>5}topics: {', '.join(e.info.topics)}; seeds {', '.join(e.info.seeds)}; "
                  f"--distribute: {'yes' if e.info.distribute else 'no'}; --resume: {'yes' if e.info.resumable else 'no'}")
            print(f"{'':>5}baselines: {', '.join(e.info.baselines) if e.info.baselines else 'none (' + e.info.no_baseline + ')'}")
    print(f"\n{len(lessons)} lessons. Train one with `dlbootcamp train ID` (add --quick for a smoke run).")
    return 0
