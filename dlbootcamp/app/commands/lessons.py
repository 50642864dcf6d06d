"""`dlbootcamp lessons`: the curriculum, read without importing TensorFlow.

Lessons whose dataset is not installed on this machine are marked, with the install command:
the data layer looks at files only (:func:`dlbootcamp.data.missing`), so the listing stays instant."""

import json

HELP = "list the lessons (day, id, title, quality bar; data not installed here is marked)"
EPILOG = "examples:\n  dlbootcamp lessons\n  dlbootcamp lessons --json | jq '.[].id'"


def add_arguments(p):
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.add_argument("-v", "--verbose", action="store_true", help="also print each lesson's summary and topics")


def missing_data(info) -> list[tuple[str, str]]:
    """(dataset, how to install it) for each dataset lesson ``info`` reads that is not on this machine."""
    from dlbootcamp import data

    return [(name, hint) for name in info.datasets if (hint := data.missing(name))]


def run(args) -> int:
    from dlbootcamp import registry

    lessons = registry.discover()
    missing = {lesson_id: missing_data(e.info) for lesson_id, e in lessons.items()}
    if args.json:
        print(json.dumps([{"id": e.info.id, "day": e.info.day, "title": e.info.title, "seeds": e.info.seeds,
                           "topics": e.info.topics, "summary": e.info.summary,
                           "bars": [str(b) for b in e.info.bars], "distribute": e.info.distribute,
                           "baselines": list(e.info.baselines), "no_baseline": e.info.no_baseline,
                           "resumable": e.info.resumable, "datasets": list(e.info.datasets),
                           "data_missing": {name: hint for name, hint in missing[e.info.id]},
                           "module": e.module} for e in lessons.values()],
                         indent=2))
        return 0
    width = max((len(i) for i in lessons), default=2)
    print(f"{'day':>3}  {'id':<{width}}  title  [bar]")
    for e in lessons.values():
        mark = "!" if missing[e.info.id] else " "
        print(f"{e.info.day:>3}{mark} {e.info.id:<{width}}  {e.info.title}  [{'; '.join(map(str, e.info.bars))}]")
        for name, hint in missing[e.info.id]:
            print(f"{'':>5}! data not installed here: {name} - install with `{hint}`")
        if args.verbose:
            print(f"{'':>5}{e.info.summary}\n{'':>5}topics: {', '.join(e.info.topics)}; seeds {', '.join(e.info.seeds)}; "
                  f"--distribute: {'yes' if e.info.distribute else 'no'}; --resume: {'yes' if e.info.resumable else 'no'}")
            print(f"{'':>5}baselines: {', '.join(e.info.baselines) if e.info.baselines else 'none (' + e.info.no_baseline + ')'}")
    absent = [i for i, m in missing.items() if m]
    print(f"\n{len(lessons)} lessons. Train one with `dlbootcamp train ID` (add --quick for a smoke run).")
    if absent:
        print(f"! {len(absent)} lesson(s) cannot train here until their data is installed: {', '.join(absent)}.")
    return 0
