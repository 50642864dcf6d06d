"""The import contract in setup.cfg ([importlinter]) holds, and it would catch an upward import.

``dlbootcamp.lessons`` and ``dlbootcamp.export`` live in their own top-level folders and are
mapped into the package by setup.cfg, which import-linter's graph builder cannot see. The test
therefore assembles the installed layout (dlbootcamp/, dlbootcamp/lessons, dlbootcamp/export)
in a temporary folder, copies only the sources, and runs ``lint-imports`` over it.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFIG = ROOT / "setup.cfg"


def _assemble(tmp: pathlib.Path) -> pathlib.Path:
    pkg = tmp / "pkg" / "dlbootcamp"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "dlbootcamp", pkg, ignore=ignore)
    shutil.copytree(ROOT / "lessons", pkg / "lessons", ignore=ignore)
    shutil.copytree(ROOT / "export", pkg / "export", ignore=ignore)
    return pkg


def _lint(tmp: pathlib.Path) -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports", path=os.path.dirname(sys.executable)) or shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports is missing: install the test extra (pip install -e '.[test]').")
    env = {**os.environ, "PYTHONPATH": str(tmp / "pkg")}
    # cwd is the temporary folder, so the checkout's own dlbootcamp/ cannot shadow the assembled one
    return subprocess.run([exe, str(CONFIG), "--no-cache"], cwd=tmp, env=env, capture_output=True, text=True,
                          timeout=120)


def test_import_contract_is_kept(tmp_path):
    _assemble(tmp_path)
    result = _lint(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "4 kept, 0 broken" in result.stdout


@pytest.mark.parametrize("where, line", [
    # a world reaching up into the app, inside a function (hidden imports count too)
    ("worlds/_upward.py", "def f():\n    from dlbootcamp.app import pipeline\n    return pipeline\n"),
    # the export layer reaching a lesson through the registry (the arrow this step removed)
    ("export/_upward.py", "def f():\n    from dlbootcamp import registry\n    return registry\n"),
    # one lesson importing another
    ("lessons/day99_upward.py", "from dlbootcamp.lessons import day03_training\n"),
    # the base importing the export layer (what pipeline.py did from the core folder)
    ("_upward.py", "def f():\n    from dlbootcamp.export import api\n    return api\n"),
])
def test_import_contract_fails_on_an_upward_import(tmp_path, where, line):
    pkg = _assemble(tmp_path)
    (pkg / where).write_text(line)
    if where == "_upward.py":  # a new base module must be named in the base contract to be checked
        config = CONFIG.read_text().replace("    dlbootcamp.training\nforbidden_modules",
                                            "    dlbootcamp.training\n    dlbootcamp._upward\nforbidden_modules")
        patched = tmp_path / "setup.cfg"
        patched.write_text(config)
        exe = shutil.which("lint-imports", path=os.path.dirname(sys.executable))
        result = subprocess.run([exe, str(patched), "--no-cache"], cwd=tmp_path, capture_output=True, text=True,
                                env={**os.environ, "PYTHONPATH": str(tmp_path / "pkg")}, timeout=120)
    else:
        result = _lint(tmp_path)
    assert result.returncode != 0, result.stdout[-2000:]
    assert "BROKEN" in result.stdout
    assert "_upward" in result.stdout


def test_every_base_module_is_under_the_base_contract():
    """A new module in the base folder must be listed in setup.cfg's base contract, or it escapes the check."""
    listed = {line.strip() for line in CONFIG.read_text().split("[importlinter:contract:base]")[1]
              .split("forbidden_modules")[0].splitlines() if line.strip().startswith("dlbootcamp.")}
    base = {f"dlbootcamp.{p.stem}" for p in (ROOT / "dlbootcamp").glob("*.py")
            if p.stem not in ("__init__", "__main__")}
    assert base == listed, f"add {sorted(base - listed)} to / remove {sorted(listed - base)} from [importlinter:contract:base]"
