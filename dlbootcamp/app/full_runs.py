"""How long each lesson's full run took when it was measured for ``docs/lessons.md``.

This table is the source of the "wall" column there (a test keeps the two equal); the run
summary of a ``--quick`` run reads it to say what the full run costs. It lives in the package,
not in ``docs/``, so an installed dlbootcamp has it too.
"""

from __future__ import annotations

MEASURED_ON = "the 2-core x86 CI machine (AMD EPYC, no GPU), TensorFlow 2.21, 2026-11-21"

# lesson id -> wall time of `dlbootcamp train ID` (default Config, seed 0), seconds
WALL_S: dict[str, int] = {
    "ml-vs-dl": 32,
    "perceptron": 202,
    "training": 8,
    "dl-is-a-language": 197,
    "cnn-features": 224,
    "segmentation": 165,
    "super-resolution": 79,
    "style-transfer": 124,
    "gan": 117,
    "faces": 142,
    "embeddings": 62,
    "text-generation": 82,
    "translation": 214,
    "summarization": 43,
    "assistant-intents": 15,
    "captioning": 155,
    "vqa": 157,
    "lip-reading": 121,
    "flappy-dqn": 200,
}


def duration(seconds: float) -> str:
    """``8 s``, ``5 min 19 s``, ``1 h 02 min``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
