"""dlbootcamp: a hands-on deep learning bootcamp that ships as software.

The layers, from the bottom up (``docs/architecture.md`` draws them):

- this package: the base (``errors``, ``atomic``, ``envinfo``), the lesson contract
  (``lesson``, ``registry``) and the training platform (``records``, ``training``,
  ``distribute``, ``plots`` and small model helpers);
- ``dlbootcamp.data``: real data sources; ``dlbootcamp.worlds``: generated worlds;
- ``dlbootcamp.lessons``: one module per day; ``dlbootcamp.export``: TFLite/ONNX/benchmarks;
- ``dlbootcamp.app``: the CLI and the pipeline where lessons meet the export layer.

Nothing heavy is imported here, so ``dlbootcamp --help`` and ``dlbootcamp lessons`` stay instant.
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


def __getattr__(name: str):
    if name in _MOVED:
        return importlib.import_module(_MOVED[name])
    raise AttributeError(f"module 'dlbootcamp' has no attribute {name!r}")
