"""Sort-of-CLEVR (Santoro et al. 2017): six coloured objects a picture, 36 questions about them.

Each image holds one object of each of six colours, a circle or a square. For every colour there
are three *non-relational* questions (its shape; left or right; top or bottom) and three
*relational* ones (the shape of the object closest to it; furthest from it; how many objects
share its shape). A question is an 11-number vector (colour one-hot, non-relational or
relational, which of the three); an answer is one of 12 words. Scenes come from
:mod:`dlbootcamp.worlds.scenes`, so every answer is exact.

    split = make_split(100, image_size=64, seed=(0, 0))   # x: (100, 64, 64, 3) uint8, y: (100, 36)
"""

from __future__ import annotations

import numpy as np

from dlbootcamp import data as datasets
from dlbootcamp.worlds import scenes

COLOURS = tuple(scenes.COLOURS)  # one object of each colour per image
SHAPES = ("circle", "square")
ANSWERS = ("circle", "square", "left", "right", "top", "bottom", "1", "2", "3", "4", "5", "6")
KINDS = (("shape", "horizontal", "vertical"), ("closest", "furthest", "count"))  # non-relational, relational
KIND_NAMES = [k for group in KINDS for k in group]
ASKED = {"shape": "What shape is the {} object?", "horizontal": "Is the {} object on the left or the right?",
         "vertical": "Is the {} object at the top or the bottom?",
         "closest": "What shape is the object closest to the {} one?",
         "furthest": "What shape is the object furthest from the {} one?",
         "count": "How many objects have the shape of the {} one?"}
N_OBJECTS = len(COLOURS)  # and as many object slots
OBJECT_SIZE = 5.0  # half side of a square, radius of a circle (10-pixel objects, as in the paper)


def question_vectors() -> tuple[np.ndarray, list[str], np.ndarray]:
    """The 36 questions: vectors (36, 11), their English text, and which are relational (36,)."""
    asked = [(c, r, k) for c in range(len(COLOURS)) for r in range(2) for k in range(3)]
    vectors = np.zeros((len(asked), 11), np.float32)
    for i, (c, r, k) in enumerate(asked):
        vectors[i, [c, 6 + r, 8 + k]] = 1  # colour, non-relational or relational, which question
    texts = [ASKED[KINDS[r][k]].format(COLOURS[c]) for c, r, k in asked]
    return vectors, texts, np.array([r == 1 for _, r, _ in asked])


QUESTIONS, QUESTION_TEXTS, RELATIONAL = question_vectors()


def answer_all(scene: scenes.Scene) -> np.ndarray:
    """The answers (indices into ANSWERS) to the 36 questions, in QUESTIONS order."""
    centres = np.array([(o.x, o.y) for o in scene.objects])
    half = scene.image_size / 2
    out = []
    for colour in COLOURS:
        i = [o.colour for o in scene.objects].index(colour)
        me = scene.objects[i]
        dist = np.hypot(*(centres - centres[i]).T)
        dist[i] = np.nan  # an object is neither closest to nor furthest from itself
        words = (me.shape, "left" if me.x < half else "right", "top" if me.y < half else "bottom",
                 scene.objects[int(np.nanargmin(dist))].shape, scene.objects[int(np.nanargmax(dist))].shape,
                 str(sum(o.shape == me.shape for o in scene.objects)))
        out += [ANSWERS.index(w) for w in words]
    return np.array(out, np.int64)


def make_split(n: int, image_size: int, seed: tuple[int, int]) -> datasets.Split:
    """``n`` Sort-of-CLEVR images (uint8) and the answers to all their questions (n, 36)."""
    rng = np.random.default_rng(seed)
    drawn = [scenes.random_scene(rng, image_size=image_size, n_objects=6, shapes=SHAPES, colours=COLOURS,
                                 sizes=(OBJECT_SIZE,)) for _ in range(n)]
    return datasets.Split(scenes.render_many(drawn, np.uint8), np.stack([answer_all(s) for s in drawn]))


def painted_cells(images: np.ndarray, side: int) -> np.ndarray:
    """(n, colours, side * side): which cells of a side x side grid each colour's object touches in ``images``
    (n, h, h, 3) uint8 - exact, since every object is drawn in its colour's own RGB."""
    (n, h), rgb = images.shape[:2], np.round(np.array([scenes.COLOURS[c] for c in COLOURS]) * 255)[:, None, None]
    painted = (images[:, None] == rgb).all(-1).reshape(n, N_OBJECTS, side, h // side, side, h // side)
    return painted.any(axis=(3, 5)).reshape(n, N_OBJECTS, -1)
