"""Scenes with captions: two big shapes and a few small ones, described in words.

A caption names the two big shapes and where one is relative to the other, along the axis on
which they are further apart, then counts the small shapes: "a red circle left of a blue square
and two small shapes". Each scene has two references (either big shape can come first). Only
scenes whose big shapes are clearly side by side or clearly one above the other are drawn, so
every caption is unambiguous. Scenes come from :mod:`dlbootcamp.worlds.scenes`.

    split = make_split(100, image_size=48, seed=(0, 0))   # x: uint8 images, y: (100, 2, MAX_LEN) token ids
    decode(split.y[0, 0])                                  # 'a red circle left of ...'
"""

from __future__ import annotations

import numpy as np

from dlbootcamp import data as datasets
from dlbootcamp.worlds import scenes

PAD, START, END = "<pad>", "<start>", "<end>"
NUMBERS = ("one", "two", "three", "four")
VOCAB = (PAD, START, END, "a", "an", "and", "small", "shape", "shapes", "above", "below", "left", "right", "of",
         *NUMBERS, *scenes.COLOURS, "circle", "square", "triangle")
MAX_LEN = 14  # <start> + at most 12 words + <end>
BIG, SMALL = 0.15, 0.0625  # object sizes (radius / half side) as fractions of the image side


def relation(a: scenes.Obj, b: scenes.Obj) -> str:
    """Where ``a`` is relative to ``b``, along the axis on which they are further apart."""
    dx, dy = a.x - b.x, a.y - b.y
    if abs(dx) > abs(dy):
        return "left of" if dx < 0 else "right of"
    return "above" if dy < 0 else "below"


def unambiguous(scene: scenes.Scene) -> bool:
    """Keep scenes whose big shapes are clearly side by side or clearly one above the other."""
    a, b = scene.objects[:2]
    dx, dy = abs(a.x - b.x), abs(a.y - b.y)
    return max(dx, dy) >= 1.5 * min(dx, dy)


def captions(scene: scenes.Scene) -> tuple[str, str]:
    """The two reference captions of a scene: either big shape can come first."""
    a, b = scene.objects[:2]
    small = len(scene.objects) - 2
    tail = f" and {NUMBERS[small - 1]} small shape{'s' if small > 1 else ''}" if small else ""
    return (f"{named(a)} {relation(a, b)} {named(b)}{tail}", f"{named(b)} {relation(b, a)} {named(a)}{tail}")


def named(obj: scenes.Obj) -> str:
    return f"{'an' if obj.colour[0] in 'aeiou' else 'a'} {obj.colour} {obj.shape}"


def encode(caption: str) -> np.ndarray:
    ids = [VOCAB.index(START), *(VOCAB.index(w) for w in caption.split()), VOCAB.index(END)]
    return np.pad(ids, (0, MAX_LEN - len(ids))).astype(np.int32)


def decode(ids) -> str:
    words = []
    for i in ids:
        if VOCAB[i] in (END, PAD):
            break
        words.append(VOCAB[i])
    return " ".join(w for w in words if w != START)


def make_split(n: int, image_size: int, seed: tuple[int, int]) -> datasets.Split:
    """``n`` scenes as uint8 images (x) and both references as token ids (y: n x 2 x MAX_LEN)."""
    rng = np.random.default_rng(seed)
    big, small = BIG * image_size, SMALL * image_size
    drawn = [scenes.random_scene(rng, image_size=image_size, n_objects=(2, 6), sizes=(big, big, small),
                                 accept=unambiguous) for _ in range(n)]
    tokens = np.array([[encode(c) for c in captions(s)] for s in drawn])
    return datasets.Split(scenes.render_many(drawn, np.uint8), tokens)
