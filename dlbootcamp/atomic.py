"""Write files and folders so that an interruption never leaves half of one behind.

Everything is written under a temporary name in the destination's folder and renamed into
place when complete; nothing existing is replaced unless ``overwrite=True``.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil
import uuid

from dlbootcamp.errors import UserError


def _tmp_name(path: pathlib.Path) -> pathlib.Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")


def refuse_existing(path: pathlib.Path, flag: str = "--force") -> None:
    if path.exists():
        raise UserError(f"{path} already exists and would be overwritten; remove it, choose another "
                        f"output path, or pass {flag} to replace it.")


@contextlib.contextmanager
def writing(path: str | os.PathLike, *, overwrite: bool = False, flag: str = "--force"):
    """Yield a temporary path next to ``path``; rename it to ``path`` if the block completes.

    The temporary name keeps the suffix (``.x.tflite`` stays ``.tflite``) for writers that
    look at it.
    """
    path = pathlib.Path(path)
    if not overwrite:
        refuse_existing(path, flag)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path).with_suffix(".partial" + "".join(path.suffixes))
    try:
        yield tmp
        if not overwrite and path.exists():  # someone else wrote it meanwhile
            refuse_existing(path, flag)
        os.replace(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


def write_bytes(path, data: bytes, *, overwrite: bool = False, flag: str = "--force") -> pathlib.Path:
    with writing(path, overwrite=overwrite, flag=flag) as tmp:
        tmp.write_bytes(data)
    return pathlib.Path(path)


def write_text(path, text: str, *, overwrite: bool = False, flag: str = "--force") -> pathlib.Path:
    return write_bytes(path, text.encode("utf-8"), overwrite=overwrite, flag=flag)


def write_json(path, obj, *, overwrite: bool = False, flag: str = "--force") -> pathlib.Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_jsonable) + "\n",
                      overwrite=overwrite, flag=flag)


def _jsonable(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (pathlib.Path, set, tuple)):
        return str(o) if isinstance(o, pathlib.Path) else list(o)
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def append_line(path: str | os.PathLike, line: str) -> None:
    """Append one line with a single write on an O_APPEND file (append-only log)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line.rstrip("\n") + "\n").encode("utf-8"))
    finally:
        os.close(fd)
