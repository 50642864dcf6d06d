"""How long each lesson's full run took when it was measured for ``docs/lessons.md``.

This table is the source of the "wall" column there (a test keeps the two equal); the run
summary of a ``--quick`` run reads it to say what the full run costs. It lives in the package,
not in ``docs/``, so an installed dlbootcamp has it too.
"""

from __future__ import annotations

MEASURED_ON = "the 2-core x86 CI machine (AMD EPYC, no GPU), TensorFlow 2.21 with oneDNN on, one run at a time, 2026-12-01"

# lesson id -> wall time of `dlbootcamp train ID` (default Config, seed 0), seconds
WALL_S: dict[str, int] = {
    "ml-vs-dl": 81,
    "perceptron": 67,
    "training": 7,
    "dl-is-a-language": 103,
    "cnn-features": 94,
    "segmentation": 93,
    "super-resolution": 55,
    "style-transfer": 48,
    "gan": 47,
    "faces": 281,
    "embeddings": 24,
    "text-generation": 49,
    "translation": 87,
    "summarization": 39,
    "assistant-intents": 10,
    "captioning": 102,
    "vqa": 393,
    "lip-reading": 87,
    "flappy-dqn": 103,
}


def duration(seconds: float) -> str:
    """``8 s``, ``5 min 19 s``, ``1 h 02 min``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
