"""Keep TensorFlow's native log lines off the user's terminal.

TensorFlow's C++ runtime writes straight to file descriptor 2: ``WARNING: All log messages
before absl::InitializeLog() is called are written to STDERR``, ``cudart_stub.cc... Could not
find cuda drivers``, ``failed call to cuInit`` at the first operation. ``TF_CPP_MIN_LOG_LEVEL``
does not stop the lines written before absl is initialised, so environment variables alone
cannot silence them.

:func:`native_stderr_captured` points descriptor 2 at a temporary file for the duration of a
command, while Python's ``sys.stderr`` keeps writing to the real terminal (through a copy of
the original descriptor). Our own messages, Python warnings and tracebacks still reach the
user; only what native code writes to descriptor 2 is held back. ``dlbootcamp -v`` (or
``DLBOOTCAMP_VERBOSE=1``) captures nothing, so everything shows as it happens.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile

VERBOSE_ENV = "DLBOOTCAMP_VERBOSE"


def verbose_from_env() -> bool:
    return os.environ.get(VERBOSE_ENV, "").strip().lower() not in ("", "0", "false", "no")


class Captured:
    """What native code wrote to descriptor 2 while captured (read it with :meth:`text`)."""

    def __init__(self, file=None):
        self._file = file

    def text(self) -> str:
        if self._file is None or self._file.closed:
            return ""
        self._file.flush()
        self._file.seek(0)
        return self._file.read().decode("utf-8", errors="replace")


@contextlib.contextmanager
def native_stderr_captured(show: bool = False):
    """Capture descriptor 2 (native code's stderr) unless ``show``; yields a :class:`Captured`.

    When ``sys.stderr`` is the process's real stderr it is replaced, for the duration, by a
    stream on a copy of the original descriptor, so Python-level output is not captured.
    """
    if show:
        yield Captured()
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no descriptor 2 to redirect (embedded, closed)
        yield Captured()
        return
    capture = tempfile.TemporaryFile(prefix="dlbootcamp-native-stderr-")
    os.dup2(capture.fileno(), 2)
    python_stderr = sys.stderr
    swapped = _is_fd2(python_stderr)
    if swapped:
        # Left open on purpose: a logging handler created during the command keeps a reference
        # to this stream, and it must still reach the terminal after the command returns.
        sys.stderr = io.TextIOWrapper(os.fdopen(saved, "wb", buffering=0, closefd=False),
                                      encoding=python_stderr.encoding, errors=python_stderr.errors,
                                      line_buffering=True, write_through=True)
    try:
        yield Captured(capture)
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(saved, 2)
        if swapped:
            sys.stderr = python_stderr
        else:
            os.close(saved)
        capture.close()


def _is_fd2(stream) -> bool:
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False
