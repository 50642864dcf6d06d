"""`dlbootcamp train ID`: train a lesson and record the run."""

import pathlib

HELP = "train a lesson and record the run (model, config, metrics, curves, TensorBoard)"
DESCRIPTION = """\
Train one lesson's model with its Config, evaluate it on held-out data, and record the run in
a folder under --out: model.keras, config.json, metrics.json (metric, bar, passed, wall time,
versions), history.csv, PNG pictures and TensorBoard logs. One line is appended to
RUNS/index.jsonl. A full run checks the lesson's quality bar; a --quick run only checks that
the pipeline works and judges nothing."""
EPILOG = """\
examples:
  dlbootcamp train training --quick            a smoke run in seconds
  dlbootcamp train cnn-features                the full run, with the bar checked
  dlbootcamp train cnn-features --epochs 3 --seed 1 --out /tmp/runs
  dlbootcamp train training --set hidden=128   override any Config field
  dlbootcamp train cnn-features --distribute mirrored   every GPU TensorFlow sees
  tensorboard --logdir runs                    look at the curves"""


def add_arguments(p):
    p.add_argument("lesson", metavar="ID", help="lesson id (see `dlbootcamp lessons`)")
    p.add_argument("--quick", action="store_true", help="smoke-size preset: seconds, bar not judged")
    p.add_argument("--epochs", type=int, help="override Config.epochs")
    p.add_argument("--seed", type=int, help="override Config.seed (default: the Config's)")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="override a Config field")
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs"), help="runs folder (default: ./runs)")
    p.add_argument("--name", help="run folder name (default: ID-YYYYmmdd-HHMMSS); never overwritten")
    p.add_argument("--distribute", choices=("none", "mirrored", "multiworker"), default="none",
                   help="tf.distribute strategy: mirrored = every GPU (or logical CPU) here; multiworker = the "
                        "cluster in TF_CONFIG (needs --name). Config.batch_size is the global batch.")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the summary")


def config_for(module, *, quick: bool, epochs=None, seed=None, sets=()):
    """The lesson's Config with the CLI's overrides applied, checked against its fields."""
    import dataclasses

    from dlbootcamp.errors import UserError

    cfg = module.Config.quick() if quick else module.Config()
    fields = {f.name: f for f in dataclasses.fields(cfg)}
    changes = {}
    for flag, field, value in (("--epochs", "epochs", epochs), ("--seed", "seed", seed)):
        if value is not None:
            if field not in fields:
                raise UserError(f"{flag} does not apply to lesson {module.LESSON.id!r}: its Config has no "
                                f"`{field}` field (fields: {', '.join(fields)}).")
            if value < (1 if field == "epochs" else 0):
                raise UserError(f"Invalid {flag} {value}: expected {'a positive' if field == 'epochs' else 'a non-negative'} integer.")
            changes[field] = value
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or key not in fields:
            raise UserError(f"Invalid --set {item!r}: expected FIELD=VALUE with FIELD one of {', '.join(fields)}.")
        current = getattr(cfg, key)
        try:
            if isinstance(current, bool):
                if raw.lower() not in ("true", "false", "1", "0"):
                    raise ValueError
                value = raw.lower() in ("true", "1")
            elif isinstance(current, tuple):
                value = tuple(type(current[0])(v) if current else v for v in raw.split(","))
            else:
                value = type(current)(raw)
        except ValueError:
            raise UserError(f"Invalid --set {item!r}: {key} takes a {type(current).__name__} "
                            f"(current value {current!r}).") from None
        changes[key] = value
    return dataclasses.replace(cfg, **changes)


def run(args) -> int:
    from dlbootcamp import registry
    from dlbootcamp.errors import UserError

    registry.entry(args.lesson)  # unknown ids fail before TensorFlow is imported
    if args.out.exists() and not args.out.is_dir():
        raise UserError(f"--out {args.out} is a file; expected a folder for run records.")
    module = registry.load(args.lesson)
    cfg = config_for(module, quick=args.quick, epochs=args.epochs, seed=args.seed, sets=args.set)
    from dlbootcamp import records

    folder, record = records.train_lesson(module, cfg, out=args.out, quick=args.quick, name=args.name,
                                          verbose=not args.quiet, distribute=args.distribute)
    print_summary(folder, record)
    return 0 if record["passed"] is not False else 1


def print_summary(folder, record) -> None:
    print(f"\nrun: {folder}  ({record['wall_time_s']:.1f} s)")
    for b in record["bars"]:
        verdict = "not judged (--quick)" if b["passed"] is None else ("PASSED" if b["passed"] else "FAILED")
        print(f"  {b['metric']} = {b['value']:.4f}   bar {b['metric']} {b['op']} {b['threshold']:g}: {verdict}")
    print_baselines(record)
    for note in record["notes"]:
        print(f"  note: {note}")


def print_baselines(record) -> None:
    """The model beside its baselines on the headline metric (and on every other metric they share)."""
    baselines = record.get("baselines") or {}
    if not baselines or not record["bars"]:
        return
    shared = [m for m in record["metrics"] if any(m in b for b in baselines.values())]
    head = record["bars"][0]["metric"]
    shared = ([head] if head in shared else []) + [m for m in shared if m != head]
    if not shared:
        return
    width = max(len("model"), *(len(n) for n in baselines))
    print(f"  {'held out':<{width}}  " + "  ".join(f"{m:>{max(len(m), 8)}}" for m in shared))
    for name, values in [("model", record["metrics"]), *baselines.items()]:
        cells = [f"{values[m]:>{max(len(m), 8)}.4g}" if m in values else f"{'-':>{max(len(m), 8)}}" for m in shared]
        print(f"  {name:<{width}}  " + "  ".join(cells))
