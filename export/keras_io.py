"""Load a ``.keras`` file the safe way, with errors a user can act on.

A ``.keras`` file is a zip archive: ``config.json`` (the architecture), ``model.weights.h5``
and ``metadata.json``. Loading it rebuilds every layer from its config, and a ``Lambda``
layer's config holds *Python bytecode*: loading it runs code from the file. Keras' safe mode
(``safe_mode=True``, the default here) refuses such layers; ``unsafe=True`` (``--unsafe``)
lifts that, for files you trust.

Keras reports a damaged archive as "File not found", so the archive is checked first.
Inputs to the exporter (``--inputs``/``--calibration``) are ``.npz`` files, read here too.
"""

from __future__ import annotations

import os
import pathlib
import re
import zipfile

import numpy as np

from dlbootcamp.errors import UserError


def check_keras_path(path) -> pathlib.Path:
    """``path`` as a Path if it looks like a readable .keras archive; UserError otherwise."""
    path = pathlib.Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist; expected a .keras model file or a run folder from `dlbootcamp train`.")
    if not path.is_file():
        raise UserError(f"{path} is not a file; expected a .keras model file.")
    if path.suffix != ".keras":
        raise UserError(f"{path} is not a .keras file (suffix {path.suffix or 'none'!r}); expected a model saved "
                        f"with model.save('NAME.keras') (Keras 3 format).")
    if not os.access(path, os.R_OK):
        raise UserError(f"{path} is not readable (permission denied); fix its permissions or copy it somewhere "
                        f"readable.")
    if not zipfile.is_zipfile(path):
        raise UserError(f"{path} is damaged or not a Keras archive (not a zip file); re-save the model with "
                        f"model.save('{path.name}').")
    return path


def import_custom_objects(modules) -> list[str]:
    """Import the user's modules that register custom layers (``--custom-objects MODULE[,MODULE]``).

    Each item is a module name importable from the current folder (``my_layers`` for
    ``my_layers.py``) or a path to a ``.py`` file. Importing it runs its
    ``@keras.saving.register_keras_serializable()`` decorators, so safe-mode loading finds the
    classes; it is the user's own code, named on the command line, not code from the model file.
    """
    import importlib
    import importlib.util
    import sys

    items = [m.strip() for m in (modules.split(",") if isinstance(modules, str) else modules or []) if m.strip()]
    imported = []
    for item in items:
        try:
            if item.endswith(".py"):
                file = pathlib.Path(item)
                if not file.is_file():
                    raise ImportError(f"no file {file}")
                spec = importlib.util.spec_from_file_location(file.stem, file)
                module = importlib.util.module_from_spec(spec)
                sys.modules[file.stem] = module
                spec.loader.exec_module(module)
            else:
                sys.path.insert(0, os.getcwd())
                try:
                    importlib.import_module(item)
                finally:
                    sys.path.remove(os.getcwd())
        except Exception as exc:  # ImportError, SyntaxError, or whatever the module raises
            if item.endswith(".py"):
                sys.modules.pop(pathlib.Path(item).stem, None)
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise UserError(f"--custom-objects {item} could not be imported ({first}); give a module "
                            f"importable from the current folder (my_layers for my_layers.py) or the path of a .py "
                            f"file.") from None
        imported.append(item)
    return imported


_MISSING_CLASS = re.compile(r"Could not locate (?:class|function) '([^']+)'")


def load_model(path, *, unsafe: bool = False):
    """Load a .keras model for export (not compiled). Lambda layers need ``unsafe=True``."""
    import keras

    path = check_keras_path(path)
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=not unsafe)
    except Exception as exc:  # Keras raises ValueError/TypeError/KeyError/JSONDecodeError/OSError
        message = " ".join(str(exc).split())
        if "Lambda" in message and "safe_mode" in message:
            raise UserError(f"{path} contains a Lambda layer, whose Python code would run on loading, and safe "
                            f"mode refuses it; pass --unsafe only if you trust this file, or rebuild the model "
                            f"without Lambda layers.") from None
        missing = _MISSING_CLASS.search(message)
        if missing:
            raise UserError(f"{path} uses the custom class {missing.group(1)!r}, which is not registered; pass "
                            f"--custom-objects MODULE naming the module that defines it (decorated with "
                            f"@keras.saving.register_keras_serializable()).") from None
        first = message.split(". ")[0][:300] or type(exc).__name__
        raise UserError(f"{path} could not be loaded as a Keras model ({first}); re-save it with "
                        f"model.save('{path.name}'), and import the module that registers any custom layers.") from None


def read_npz(path, names: list[str], *, flag: str) -> list[np.ndarray]:
    """Arrays for inputs ``names`` from an .npz file: by input name, or the only array for one input.

    Read and matched by ``device_bench`` (``load_inputs``, ``match_inputs``): one reader, one set of rules.
    """
    from dlbootcamp.export import device_bench

    try:
        return device_bench.match_inputs(names, device_bench.load_inputs(path, flag=flag), f"{flag} {path}")
    except device_bench.ArtifactError as exc:
        raise UserError(str(exc)) from None
