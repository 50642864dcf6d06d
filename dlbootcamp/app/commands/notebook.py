"""`dlbootcamp notebook`: write a lesson's notebook (or all of them), generated from the lesson module."""

import pathlib

HELP = "write a lesson as a Jupyter notebook (dayNN_topic.ipynb) generated from its module, or --all of them"

EPILOG = """\
examples:
  dlbootcamp notebook training                 writes ./day03_training.ipynb
  dlbootcamp notebook training --out notebooks
  dlbootcamp notebook --all --out notebooks    every lesson, plus notebooks/README.md (an index)

Needs the notebooks extra: pip install -e '.[notebooks]'. Generated notebooks are not committed:
the lesson module is the source of truth.
"""


def add_arguments(p):
    p.add_argument("lesson", nargs="?", metavar="ID", help="lesson id (see `dlbootcamp lessons`)")
    p.add_argument("--all", action="store_true", help="every lesson, and a README.md index")
    p.add_argument("--out", type=pathlib.Path, default=None, help="folder to write into (default: . for one "
                   "lesson, notebooks/ for --all)")


def check(args) -> None:
    from dlbootcamp.errors import UserError

    if args.all == bool(args.lesson):
        raise UserError("give one lesson ID or --all, not both" if args.all else "give a lesson ID or --all")
    from dlbootcamp.app import notebooks

    notebooks.require_nbformat()
    if args.lesson:
        from dlbootcamp import registry

        registry.entry(args.lesson)


def run(args) -> int:
    from dlbootcamp.app import notebooks

    if args.all:
        out = args.out or pathlib.Path("notebooks")
        paths = notebooks.write_all(out)
        print(f"wrote {len(paths)} notebooks and {out / 'README.md'}")
        return 0
    path = notebooks.write(args.lesson, args.out or pathlib.Path("."))
    print(f"wrote {path}; open it with `jupyter lab {path}` (QUICK = True runs it in seconds)")
    return 0
