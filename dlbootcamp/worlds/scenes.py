"""Generated scenes of coloured shapes, with the description they were drawn from.

Captioning and visual question answering need pictures whose content is *known*: a scene is
a list of objects (colour, shape, centre, size), drawn onto a white canvas with NumPy. The
lesson then turns the description into words (a caption) or into questions and answers
(Sort-of-CLEVR), so every label is exact and the data is offline, seeded and unlimited.

    rng = np.random.default_rng(0)
    scene = random_scene(rng, n_objects=6, shapes=("circle", "square"), sizes=(5,))
    image = render(scene)               # (64, 64, 3) float32 in [0, 1]

Objects never overlap (placement is rejection-sampled with a gap between them), so every
object is fully visible.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np

# Sort-of-CLEVR's six colours (Santoro et al. 2017), as RGB in [0, 1], easy to tell apart.
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.86, 0.12, 0.12),
    "green": (0.13, 0.62, 0.20),
    "blue": (0.13, 0.27, 0.86),
    "orange": (0.98, 0.55, 0.05),
    "gray": (0.50, 0.50, 0.50),
    "yellow": (0.93, 0.85, 0.10),
}
SHAPES = ("circle", "square", "triangle")


@dataclasses.dataclass(frozen=True)
class Obj:
    """One object of a scene. Coordinates are pixels, x to the right, y downwards."""

    colour: str  # a key of COLOURS
    shape: str  # one of SHAPES
    x: float  # centre
    y: float
    size: float  # radius of a circle, half-side of a square or triangle


@dataclasses.dataclass(frozen=True)
class Scene:
    """What a picture shows: its objects (in drawing order) and the canvas side in pixels."""

    objects: tuple[Obj, ...]
    image_size: int


# --- sampling ------------------------------------------------------------------------------

def place(rng: np.random.Generator, sizes: Sequence[float], image_size: int, *, gap: float = 2.0,
          tries: int = 200) -> np.ndarray | None:
    """Centres (n, 2) for objects of the given sizes, inside the canvas and ``gap`` pixels apart.

    Returns None when ``tries`` random placements all collided (the caller samples again).
    """
    centres = np.zeros((len(sizes), 2))
    for i, s in enumerate(sizes):
        for _ in range(tries):
            c = rng.uniform(s + 1, image_size - s - 1, size=2)
            # Bounding circles of a square reach s*sqrt(2); keep that much room plus the gap.
            reach = (s + np.asarray(sizes[:i])) * 1.42 + gap
            if i == 0 or np.all(np.hypot(*(centres[:i] - c).T) > reach):
                centres[i] = c
                break
        else:
            return None
    return centres


def random_scene(rng: np.random.Generator, *, image_size: int = 64, n_objects: int | tuple[int, int] = (2, 6),
                 shapes: Sequence[str] = SHAPES, colours: Sequence[str] = tuple(COLOURS),
                 sizes: Sequence[float] = (5.0,), unique_colours: bool = True, gap: float = 2.0,
                 accept: Callable[[Scene], bool] | None = None, attempts: int = 1000) -> Scene:
    """A random scene: how many objects (a number or an inclusive range), their shapes and colours.

    ``sizes`` gives the size of each object in order, the last one repeating (so ``(9, 9, 4)``
    means two big objects and any number of small ones). ``accept`` may reject a scene (for
    example one whose caption would be ambiguous); another is then drawn, up to ``attempts`` times.
    """
    unknown = sorted(set(shapes) - set(SHAPES)) + sorted(set(colours) - set(COLOURS))
    if unknown:
        raise ValueError(f"Unknown shapes or colours {unknown}; expected shapes from {SHAPES} "
                         f"and colours from {tuple(COLOURS)}.")
    for _ in range(attempts):
        n = n_objects if isinstance(n_objects, int) else int(rng.integers(n_objects[0], n_objects[1] + 1))
        if unique_colours and n > len(colours):
            raise ValueError(f"{n} objects with unique colours need at least {n} colours; got {len(colours)}.")
        obj_sizes = [float(sizes[min(i, len(sizes) - 1)]) for i in range(n)]
        centres = place(rng, obj_sizes, image_size, gap=gap)
        if centres is None:
            continue
        picked = rng.choice(len(colours), n, replace=not unique_colours)
        scene = Scene(tuple(Obj(colours[int(c)], shapes[int(rng.integers(len(shapes)))], float(x), float(y), s)
                            for c, (x, y), s in zip(picked, centres, obj_sizes)), image_size)
        if accept is None or accept(scene):
            return scene
    raise ValueError(f"No scene found in {attempts} attempts: {n_objects} objects of sizes {tuple(sizes)} do not fit "
                     f"a {image_size}-pixel canvas (or `accept` rejects them all); use fewer or smaller objects.")


# --- drawing -------------------------------------------------------------------------------

def mask(obj: Obj, image_size: int) -> np.ndarray:
    """Boolean (H, W) mask of the pixels an object covers (pixel centres at i + 0.5)."""
    yy, xx = np.ogrid[0:image_size, 0:image_size]
    return np.broadcast_to(_inside(obj, xx + 0.5 - obj.x, yy + 0.5 - obj.y), (image_size, image_size))


def _inside(obj: Obj, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    if obj.shape == "circle":
        return dx * dx + dy * dy <= obj.size * obj.size
    if obj.shape == "square":
        return (np.abs(dx) <= obj.size) & (np.abs(dy) <= obj.size)
    # triangle, apex up: as wide as the square at the bottom, a point at the top
    return (np.abs(dy) <= obj.size) & (np.abs(dx) <= (dy + obj.size) / 2)


def render(scene: Scene) -> np.ndarray:
    """The scene as a (H, W, 3) float32 image in [0, 1] on a white background."""
    n = scene.image_size
    image = np.ones((n, n, 3), np.float32)
    for obj in scene.objects:  # paint each object inside its bounding box only
        x0, y0 = max(0, int(obj.x - obj.size) - 1), max(0, int(obj.y - obj.size) - 1)
        x1, y1 = min(n, int(obj.x + obj.size) + 2), min(n, int(obj.y + obj.size) + 2)
        yy, xx = np.ogrid[y0:y1, x0:x1]
        image[y0:y1, x0:x1][_inside(obj, xx + 0.5 - obj.x, yy + 0.5 - obj.y)] = COLOURS[obj.colour]
    return image


def render_many(scenes: Sequence[Scene], dtype=np.float32) -> np.ndarray:
    """Images (N, H, W, 3) of many scenes: float32 in [0, 1], or uint8 in 0..255 (4x less memory)."""
    images = np.stack([render(s) for s in scenes])
    if np.dtype(dtype) == np.uint8:
        return np.round(images * 255).astype(np.uint8)
    return images.astype(dtype, copy=False)
