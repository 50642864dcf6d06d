"""`dlbootcamp train ID`: train a lesson and record the run."""

import pathlib

HELP = "train a lesson and record the run (model, config, metrics, curves, TensorBoard)"
DESCRIPTION = """\
Train one lesson's model with its Config, evaluate it on held-out data, and record the run in
a folder under --out: model.keras, config.json, metrics.json (metric, bar, passed, wall time,
versions), history.csv, PNG pictures and TensorBoard logs. One line is appended to
RUNS/index.jsonl. A full run checks the lesson's quality bar; a --quick run only checks that
the pipeline works and judges nothing.

Lessons that train with one model.fit back up every finished epoch; if such a run is killed
or interrupted, its folder is kept as RUNS/.NAME.partial and `--resume NAME` continues it from
the last finished epoch with its own settings (metrics.json and config.json say `resumed`).
Two trainings may share a runs folder: names never collide and neither touches the other."""
EPILOG = """\
examples:
  dlbootcamp train training --quick            a smoke run in seconds
  dlbootcamp train cnn-features                the full run, with the bar checked
  dlbootcamp train cnn-features --epochs 3 --seed 1 --out /tmp/runs
  dlbootcamp train training --set hidden=128   override any Config field
  dlbootcamp train cnn-features --distribute mirrored   every GPU TensorFlow sees
  dlbootcamp train cnn-features --resume cnn-features-20260101-120000   continue a killed run
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
    p.add_argument("--resume", metavar="RUN", help="continue the killed run RUN (its name, or RUNS/.RUN.partial) from "
                   "its last finished epoch, with its own settings; lessons trained by one model.fit only")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the summary")


def check(args) -> None:
    """Every flag, before TensorFlow is imported (the lesson's Config is read from its source)."""
    from dlbootcamp import records, registry
    from dlbootcamp.errors import UserError

    info = registry.entry(args.lesson).info
    check_out(args.out)
    if args.resume:
        given = [f for f, v in (("--quick", args.quick), ("--epochs", args.epochs is not None),
                                ("--seed", args.seed is not None), ("--set", args.set), ("--name", args.name)) if v]
        if given:
            raise UserError(f"--resume continues a killed run with its own settings; drop {', '.join(given)}.")
        if not info.resumable:
            raise UserError(f"Lesson {info.id!r} cannot --resume: its training is not one model.fit with "
                            f"run.callbacks() (a hand-written loop, or several fits), so there is no epoch backup to "
                            f"continue from; start a new run without --resume.")
        if args.distribute == "multiworker":
            raise UserError("--resume does not apply to --distribute multiworker: restart the same commands and the "
                            "workers' own backups continue the run.")
        name, config = records.killed_run_config(args.out, args.resume)
        if config.get("lesson") != info.id:
            raise UserError(f"Run {name!r} is a run of lesson {config.get('lesson')!r}, not {info.id!r}; resume it with "
                            f"`dlbootcamp train {config.get('lesson')} --resume {name}`.")
    else:
        check_overrides(args.lesson, epochs=args.epochs, seed=args.seed, sets=args.set)
    check_data(info)
    if args.distribute != "none" and not info.distribute:
        raise UserError(f"Lesson {info.id!r} does not support --distribute (its training loop does not run under "
                        f"a tf.distribute strategy); train it without --distribute. `dlbootcamp lessons -v` and the "
                        f"README list the lessons that do.")
    if args.distribute == "multiworker" and not args.name:
        raise UserError("--distribute multiworker needs --name NAME, the same on every worker, so that a restarted "
                        "worker finds its backup and the chief's run folder is known.")
    if args.name is not None and (not args.name or "/" in args.name or args.name.startswith(".")):
        raise UserError(f"Invalid --name {args.name!r}: expected a folder name without '/' that does not start "
                        f"with '.'.")
    if args.name and (args.out / args.name).exists():
        raise UserError(f"Run folder {args.out / args.name} already exists and is never overwritten; "
                        f"choose another --name or --out.")


def check_data(info) -> None:
    """Refuse a lesson whose dataset is neither installed here nor downloadable, before TensorFlow starts."""
    from dlbootcamp import data
    from dlbootcamp.errors import UserError

    for name in info.datasets:
        hint = data.missing(name)
        if hint and not data.can_download(name):
            raise UserError(f"Lesson {info.id!r} reads the dataset {name!r}, which is not installed on this machine; "
                            f"install it with `{hint}` (`dlbootcamp lessons` marks the lessons that need data).")


def check_out(out) -> None:
    from dlbootcamp.errors import UserError

    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; expected a folder for run records.")


_CONVERT = {"int": int, "float": float, "str": str}


def _convert(raw: str, kind: str):
    """``raw`` as the annotation ``kind`` says (int, float, str, bool, tuple[X, ...]); ValueError otherwise."""
    kind = kind.replace(" ", "")
    if kind == "bool":
        if raw.lower() not in ("true", "false", "1", "0"):
            raise ValueError(raw)
        return raw.lower() in ("true", "1")
    if kind.startswith("tuple[") and kind.endswith("]"):
        inner = [k for k in kind[6:-1].split(",") if k != "..."]
        items = raw.split(",")
        if "..." not in kind and len(items) != len(inner):
            raise ValueError(raw)
        return tuple(_convert(v, inner[0] if "..." in kind else k) for v, k in zip(items, inner * len(items)))
    if kind in _CONVERT:
        return _CONVERT[kind](raw)
    raise TypeError(kind)  # an annotation this check does not know: left to config_for


def check_overrides(lesson_id: str, *, epochs=None, seed=None, sets=()) -> None:
    """--epochs, --seed and --set against lesson ``lesson_id``'s Config as its source declares it."""
    from dlbootcamp import registry
    from dlbootcamp.errors import UserError

    fields = registry.config_fields(lesson_id)
    for flag, field, value in (("--epochs", "epochs", epochs), ("--seed", "seed", seed)):
        if value is None:
            continue
        if field not in fields:
            raise UserError(f"{flag} does not apply to lesson {lesson_id!r}: its Config has no `{field}` field "
                            f"(fields: {', '.join(fields)}).")
        if value < (1 if field == "epochs" else 0):
            raise UserError(f"Invalid {flag} {value}: expected {'a positive' if field == 'epochs' else 'a non-negative'}"
                            f" integer.")
    for item in sets:
        key, sep, raw = item.partition("=")
        if not sep or key not in fields:
            raise UserError(f"Invalid --set {item!r}: expected FIELD=VALUE with FIELD one of {', '.join(fields)}.")
        kind = fields[key].annotation
        try:
            _convert(raw, kind)
        except TypeError:
            continue
        except ValueError:
            raise UserError(f"Invalid --set {item!r}: {key} takes {_article(kind)} (Config default "
                            f"{fields[key].default!r}).") from None


def _article(kind: str) -> str:
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


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
        changes[key] = parse_value(getattr(cfg, key), raw, flag=f"--set {item!r}", field=key)
    return dataclasses.replace(cfg, **changes)


def parse_value(current, raw: str, *, flag: str, field: str):
    """Text ``raw`` as a value of the type of ``current`` (bool, tuple, int, float, str); UserError otherwise."""
    from dlbootcamp.errors import UserError

    try:
        if isinstance(current, bool):
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return raw.lower() in ("true", "1")
        if isinstance(current, tuple):
            return tuple(type(current[0])(v) if current else v for v in raw.split(","))
        return type(current)(raw)
    except ValueError:
        raise UserError(f"Invalid {flag}: {field} takes {_article(type(current).__name__)} "
                        f"(current value {current!r}).") from None


def run(args) -> int:
    from dlbootcamp import registry

    module = registry.load(args.lesson)
    from dlbootcamp import lesson as lesson_contract
    from dlbootcamp import records
    from dlbootcamp.errors import UserError

    if args.resume:
        name, config = records.killed_run_config(args.out, args.resume)
        try:
            cfg = lesson_contract.config_from_dict(module.Config, config["config"])
        except (ValueError, TypeError) as exc:
            raise UserError(f"The killed run {name!r} does not match lesson {args.lesson!r}'s Config ({exc}); it was "
                            f"made with another version of the lesson: start a new run.") from None
        folder, record = records.train_lesson(module, cfg, out=args.out, quick=bool(config.get("quick")),
                                              resume=name, verbose=not args.quiet, distribute=args.distribute)
    else:
        cfg = config_for(module, quick=args.quick, epochs=args.epochs, seed=args.seed, sets=args.set)
        folder, record = records.train_lesson(module, cfg, out=args.out, quick=args.quick, name=args.name,
                                              verbose=not args.quiet, distribute=args.distribute)
    print_summary(folder, record, out=args.out)
    return 0 if record["passed"] is not False else 1


def print_summary(folder, record, *, out=None) -> None:
    """The verdicts, the model beside its baselines, the notes; then the pictures, the run folder and,
    after --quick, what the full run costs."""
    print(f"\n{record['lesson']}: {'--quick run' if record['quick'] else 'run'} finished in "
          f"{record['wall_time_s']:.1f} s")
    for b in record["bars"]:
        verdict = "not judged (--quick)" if b["passed"] is None else ("PASSED" if b["passed"] else "FAILED")
        print(f"  {b['metric']} = {b['value']:.4g}   bar {b['metric']} {b['op']} {b['threshold']:g}: {verdict}")
    if record.get("overrides"):
        from dlbootcamp.app.commands.runs import overrides_text

        print(f"  overrides: {overrides_text(record['overrides'])}")
    if record.get("resumed"):
        print(f"  resumed after epoch {record['resumed']['from_epoch']} (the epochs before were trained by the killed run)")
    print_baselines(record)
    for note in record["notes"]:
        print(f"  note: {note}")
    figures = record.get("figures") or []
    if figures:
        print(f"  pictures ({len(figures)}): {', '.join(figures)}")
    print(f"  run folder: {folder}   (TensorBoard: tensorboard --logdir {folder})")
    if record["quick"]:
        print(f"  full run: {full_run_hint(record['lesson'], out)}")


def full_run_hint(lesson_id: str, out=None) -> str:
    """The full-run command and how long it took where it was measured (and here, if it ran here)."""
    from dlbootcamp import records
    from dlbootcamp.app import full_runs

    command = f"`dlbootcamp train {lesson_id}" + (f" --out {out}`" if out and str(out) != "runs" else "`")
    measured = full_runs.WALL_S.get(lesson_id)
    hint = command + (f", about {full_runs.duration(measured)} on {full_runs.MEASURED_ON} (docs/lessons.md)"
                      if measured else ", not measured yet")
    if out is not None:
        here = [r for r in records.list_runs(out) if r.get("lesson") == lesson_id and not r.get("quick")]
        if here:
            hint += f"; your last full run here took {full_runs.duration(here[-1]['wall_time_s'])}"
    return hint


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
    from dlbootcamp.export.device_bench import render_table  # the package's one table formatter

    rows = [[name, *(f"{values[m]:.4g}" if m in values else "-" for m in shared)]
            for name, values in [("model", record["metrics"]), *baselines.items()]]
    lines = render_table(["held out", *shared], rows, right_from=1)
    print("\n".join("  " + line for line in [lines[0], *lines[2:]]))
