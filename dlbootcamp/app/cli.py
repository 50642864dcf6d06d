"""The `dlbootcamp` command: a thin shell over the library.

Each subcommand is a small module in :mod:`dlbootcamp.app.commands` with ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``. Command modules import TensorFlow only
inside ``run``, so ``--help`` and ``lessons`` are instant.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from dlbootcamp import __version__
from dlbootcamp.errors import UserError

COMMANDS = ("lessons", "train", "runs", "export", "verify", "bench", "report", "tour", "env")

EPILOG = """\
a first session:
  dlbootcamp tour                      train, export, verify and benchmark the default lesson
  dlbootcamp lessons                   the lessons and their quality bars
  dlbootcamp train cnn-features        a full run, recorded under ./runs
  dlbootcamp export runs/cnn-features-...  TFLite (fp32/fp16/dynamic/int8) + ONNX, with parity
  dlbootcamp bench runs/.../export/*.tflite   latency, size and memory per format

Every command has --help with examples. Errors are one line and exit with code 2.
"""


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: what was wrong and where to look."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> Parser:
    parser = Parser(prog="dlbootcamp", description="A hands-on deep learning bootcamp: lessons you train, "
                    "models you export to TFLite/ONNX, and benchmarks you can run on a phone.",
                    epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"dlbootcamp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS:
        mod = importlib.import_module(f"dlbootcamp.app.commands.{name.replace('-', '_')}")
        p = sub.add_parser(name, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP),
                           epilog=getattr(mod, "EPILOG", None), formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


def main(argv: list[str] | None = None) -> int:
    _quiet_tensorflow()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except UserError as exc:
        print(f"dlbootcamp {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"dlbootcamp {args.command}: interrupted; nothing half-written was kept.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
