"""`dlbootcamp check`: check a learner's answers to a lesson's exercises against the reference."""

import pathlib
import textwrap

HELP = "check your answers to a lesson's exercises (the functions you wrote in its notebook, or in a file)"

EPILOG = """\
examples:
  dlbootcamp check training --list                           what each exercise asks, and the name to define
  dlbootcamp check training --file my_answers.py            every exercise of day 3
  dlbootcamp check training --exercise 1 --file my_answers.py
  dlbootcamp check training                                  the reference solutions check themselves

The file defines what each exercise asks for (the names its notebook cell starts); it is run as
Python. Exit code 0 when every checked exercise passes, 1 when one does not, 2 on a usage error.
"""


def add_arguments(p):
    p.add_argument("lesson", metavar="ID", help="lesson id (see `dlbootcamp lessons`)")
    p.add_argument("--exercise", type=int, default=None, metavar="N", help="check exercise N only")
    p.add_argument("--file", type=pathlib.Path, default=None, metavar="SOLUTIONS.py",
                   help="a Python file with your answers (default: check the package's reference solutions)")
    p.add_argument("--list", action="store_true", help="list the lesson's exercises (what to write, and the name "
                   "to define) instead of checking anything")


def check(args) -> None:
    from dlbootcamp import registry
    from dlbootcamp.app import exercises
    from dlbootcamp.errors import UserError

    registry.entry(args.lesson)
    if not exercises.has_exercises(args.lesson):
        raise UserError(f"Lesson {args.lesson!r} has no exercises yet; lessons with exercises: "
                        f"{', '.join(exercises.with_exercises())}.")
    if args.list and args.file is not None:
        raise UserError("--list shows the exercises, --file checks answers: give one of them, not both.")
    if args.file is not None and not args.file.is_file():
        raise UserError(f"--file {args.file}: no such file; expected a Python file defining your answers.")
    exercises.select(args.lesson, args.exercise)  # an unknown exercise number, before anything runs


def run(args) -> int:
    import runpy

    from dlbootcamp.app import exercises
    from dlbootcamp.errors import UserError

    if args.list:
        for e in exercises.select(args.lesson, args.exercise):
            print(f"exercise {e.number} ({e.kind}): {e.title}; define `{e.name}`")
            print(textwrap.indent(textwrap.fill(e.task.replace("`", ""), 96), "    "))
        print(f"check your answers: dlbootcamp check {args.lesson} --file my_answers.py [--exercise N]")
        return 0
    if args.file is None:
        answers, source = exercises.references(args.lesson), "the reference solutions"
    else:
        try:
            answers, source = runpy.run_path(str(args.file)), str(args.file)
        except Exception as exc:
            raise UserError(f"--file {args.file} does not run: {type(exc).__name__}: {exc}") from None
    print(f"checking {source} for lesson {args.lesson}")
    return 0 if exercises.check(args.lesson, answers, args.exercise) else 1
