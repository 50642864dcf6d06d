"""The `dlbootcamp` command: a thin shell over the library.

Each subcommand is a small module in :mod:`dlbootcamp.app.commands` with ``HELP``,
``add_arguments(parser)``, an optional ``check(args)`` and ``run(args) -> int``. ``check``
validates every flag without importing anything heavy (a refused flag comes back in a fraction
of a second, before TensorFlow is imported); ``run`` does the work. Command modules import
TensorFlow only inside ``run``, so ``--help`` and ``lessons`` are instant.

While a command runs, what native code (TensorFlow's C++ runtime) writes to stderr is captured
(:mod:`dlbootcamp.quiet`) and shown only with ``-v``. Output piped into a reader that stops
early (``| head``) ends the command quietly with exit code 141, as a shell tool killed by
SIGPIPE does.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from dlbootcamp import __version__, quiet
from dlbootcamp.errors import UserError

COMMANDS = ("lessons", "train", "runs", "export", "verify", "bench", "report", "tour", "notebook", "check", "env")

EPILOG = """\
a first session:
  dlbootcamp tour                      train, export, verify and benchmark the default lesson
  dlbootcamp lessons                   the lessons and their quality bars
  dlbootcamp train cnn-features        a full run, recorded under ./runs
  dlbootcamp export runs/cnn-features-...  TFLite (fp32/fp16/dynamic/int8) + ONNX, with parity
  dlbootcamp bench runs/.../export/*.tflite   latency, size and memory per format

Every command has --help with examples. Errors are one line and exit with code 2.
TensorFlow's own start-up log lines are hidden; -v (or DLBOOTCAMP_VERBOSE=1) shows them.
"""

VERBOSE_HELP = "show TensorFlow's own log lines (C++ start-up messages), hidden by default; or DLBOOTCAMP_VERBOSE=1"
BROKEN_PIPE_EXIT = 141  # 128 + SIGPIPE: what `yes | head -1` reports for its writer


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: what was wrong and where to look."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> Parser:
    parser = Parser(prog="dlbootcamp", description="A hands-on deep learning bootcamp: lessons you train, "
                    "models you export to TFLite/ONNX, and benchmarks you can run on a phone.",
                    epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"dlbootcamp {__version__}")
    parser.add_argument("-v", "--verbose", dest="native_log_top", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in COMMANDS:
        mod = importlib.import_module(f"dlbootcamp.app.commands.{name.replace('-', '_')}")
        p = sub.add_parser(name, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP),
                           epilog=getattr(mod, "EPILOG", None), formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        if not any("-v" in a.option_strings for a in p._actions):  # `lessons -v` means "more detail"
            p.add_argument("-v", "--verbose", dest="native_log", action="store_true", help=VERBOSE_HELP)
        p.set_defaults(_run=mod.run, _check=getattr(mod, "check", None))
    return parser


def _quiet_tensorflow() -> None:
    # Only the log level: oneDNN's CPU kernels stay as TensorFlow sets them (on, on x86), with or without
    # -v, so -v never changes a number. They train the lessons 1.7-4x faster per step than with
    # TF_ENABLE_ONEDNN_OPTS=0 (benchmarks/training.py, docs/benchmarks.md).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return _flush()
        verbose = args.native_log_top or getattr(args, "native_log", False) or quiet.verbose_from_env()
        if not verbose:
            _quiet_tensorflow()
        try:
            if args._check is not None:
                args._check(args)  # every flag, before anything heavy is imported
            with quiet.native_stderr_captured(show=verbose) as captured:
                try:
                    code = int(args._run(args) or 0)
                except (UserError, KeyboardInterrupt, BrokenPipeError):
                    raise
                except BaseException:
                    # A real crash: what TensorFlow logged may explain it, so show it with the traceback.
                    sys.stderr.write(captured.text())
                    raise
            return _flush(code)
        except UserError as exc:
            print(f"dlbootcamp {args.command}: error: {exc}", file=sys.stderr)
            return exc.exit_code
        except KeyboardInterrupt:
            print(f"dlbootcamp {args.command}: interrupted; no run was recorded.", file=sys.stderr)
            return 130
    except BrokenPipeError:
        # The reader went away (`dlbootcamp lessons | head -3`). Python's documented recipe
        # (the `signal` module's note on SIGPIPE): point stdout at devnull so the interpreter's
        # final flush cannot fail again, and exit without a traceback.
        _stdout_to_devnull()
        return BROKEN_PIPE_EXIT


def _flush(code: int = 0) -> int:
    sys.stdout.flush()  # inside main's try, so a closed pipe is caught there rather than at exit
    return code


def _stdout_to_devnull() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":
    raise SystemExit(main())
