"""dlbootcamp: a hands-on deep learning bootcamp that ships as software.

The layers, from the bottom up (``docs/architecture.md`` draws them):

- this package: the base (``errors``, ``atomic``, ``envinfo``), the lesson contract
  (``lesson``, ``registry``) and the training platform (``records``, ``training``,
  ``distribute``, ``plots`` and small model helpers);
- ``dlbootcamp.data``: real data sources; ``dlbootcamp.worlds``: generated worlds;
- ``dlbootcamp.lessons``: one module per day; ``dlbootcamp.export``: TFLite/ONNX/benchmarks;
- ``dlbootcamp.app``: the CLI and the pipeline where lessons meet the export layer.

Nothing heavy is imported here, so ``dlbootcamp --help`` and ``dlbootcamp lessons`` stay instant.

For learners who script rather than use the CLI: ``dlbootcamp.run_lesson(ID, quick=True, **overrides)``
trains and records a lesson as ``dlbootcamp train`` does and returns the run folder and metrics
(``dlbootcamp.app.scripting``, imported on first use).
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# Import paths that moved in the layering step and that users' scripts may still use:
# ``from dlbootcamp import pipeline`` and ``from dlbootcamp import cars`` keep working.
_MOVED = {
    "cli": "dlbootcamp.app.cli", "pipeline": "dlbootcamp.app.pipeline",
    "commands": "dlbootcamp.app.commands",
    "corpus": "dlbootcamp.data.corpus", "photos": "dlbootcamp.data.photos",
    **{name: f"dlbootcamp.worlds.{name}"
       for name in ("cars", "dates", "digit_videos", "flappy", "phantoms", "scenes", "utterances")},
}


# Functions for learners who script, imported when first used (the app layer imports TensorFlow
# only when a lesson is loaded): ``dlbootcamp.run_lesson("training", quick=True, hidden=32)``.
_LAZY_FUNCTIONS = {"run_lesson": "dlbootcamp.app.scripting"}


def __getattr__(name: str):
    if name in _MOVED:
        return importlib.import_module(_MOVED[name])
    if name in _LAZY_FUNCTIONS:
        return getattr(importlib.import_module(_LAZY_FUNCTIONS[name]), name)
    raise AttributeError(f"module 'dlbootcamp' has no attribute {name!r}")
