"""Short seeded videos that "say" a sequence of handwritten digits, for sequence-reading lessons.

Each video is a fixed number of small grayscale frames. A sequence of 2-4 digits is shown one
after another: every digit stays on screen for a few frames (a variable duration, like a spoken
word), wobbling by a pixel or two (jitter) with its brightness varying; short blank pauses
separate the digits and pad the video at both ends; every frame gets Gaussian noise. The
reader must output the digit sequence - not which frame shows what, which it is never told.

The digit pictures are scikit-learn's ``load_digits`` (1,797 8x8 scans, offline). They are split
*once, by picture* into train / validation / test pools with a seed, so a test video only shows
pictures that no training video ever used.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from dlbootcamp import data as datasets

BLANK = 10  # the CTC blank: class index after the ten digits
PAD = -1  # fills label rows shorter than max_digits


@dataclasses.dataclass(frozen=True)
class VideoSpec:
    frames: int = 24  # video length (fixed, so the reader is a static graph)
    size: int = 12  # frame height and width in pixels (the 8x8 digit moves inside)
    min_digits: int = 2
    max_digits: int = 4
    duration: tuple[int, int] = (2, 4)  # frames each digit stays on screen (inclusive)
    pause: tuple[int, int] = (1, 2)  # blank frames between two digits (inclusive)
    jitter: int = 2  # max shift of the digit from the frame centre, in pixels, per frame
    noise: float = 0.1  # standard deviation of the Gaussian noise on [0, 1] pixels

    def __post_init__(self):
        longest = self.max_digits * self.duration[1] + (self.max_digits - 1) * self.pause[1]
        if longest > self.frames:
            raise ValueError(f"A video of {self.frames} frames cannot hold {self.max_digits} digits of up to "
                             f"{self.duration[1]} frames with pauses of up to {self.pause[1]} ({longest} frames); "
                             f"raise frames or lower max_digits, duration or pause.")
        if self.size < 8 + 2 * self.jitter:
            raise ValueError(f"Frame size {self.size} is too small for 8x8 digits with jitter {self.jitter}; "
                             f"expected size >= {8 + 2 * self.jitter}.")


def picture_pools(seed: int = 0) -> datasets.Splits:
    """The digit pictures in [0, 1], split by picture: 65% train / 10% validation / 25% test."""
    splits = datasets.digits(seed=seed, val=0.1, test=0.25)
    return splits


def make_videos(pool: datasets.Split, n: int, spec: VideoSpec, seed: int | tuple[int, ...]) -> datasets.Split:
    """``n`` videos (n, frames, size, size, 1) float32 and labels (n, max_digits) int32 padded with PAD."""
    rng = np.random.default_rng(seed)
    by_digit = [np.flatnonzero(pool.y == d) for d in range(10)]
    videos = np.zeros((n, spec.frames, spec.size, spec.size, 1), np.float32)
    labels = np.full((n, spec.max_digits), PAD, np.int32)
    centre = (spec.size - 8) // 2
    for i in range(n):
        k = int(rng.integers(spec.min_digits, spec.max_digits + 1))
        digits = rng.integers(10, size=k)
        durations = rng.integers(spec.duration[0], spec.duration[1] + 1, size=k)
        pauses = rng.integers(spec.pause[0], spec.pause[1] + 1, size=k - 1)
        used = durations.sum() + pauses.sum()
        t = int(rng.integers(0, spec.frames - used + 1))  # leading blank frames
        for j, (digit, dur) in enumerate(zip(digits, durations)):
            picture = pool.x[rng.choice(by_digit[digit])]
            for _ in range(dur):
                dy, dx = rng.integers(-spec.jitter, spec.jitter + 1, size=2)
                top, left = centre + dy, centre + dx
                videos[i, t, top:top + 8, left:left + 8, 0] = picture * rng.uniform(0.7, 1.0)
                t += 1
            t += int(pauses[j]) if j < k - 1 else 0
        labels[i, :k] = digits
    videos += rng.normal(0.0, spec.noise, videos.shape).astype(np.float32)
    return datasets.Split(np.clip(videos, 0.0, 1.0), labels)


def digit_videos(*, n_train: int, n_val: int, n_test: int, spec: VideoSpec = VideoSpec(),
                 seed: int = 0) -> datasets.Splits:
    """Train / validation / test videos; each split draws pictures from its own pool only."""
    pools = picture_pools(seed)
    return datasets.Splits(
        train=make_videos(pools.train, n_train, spec, seed + 1),
        val=make_videos(pools.val, n_val, spec, seed + 2),
        test=make_videos(pools.test, n_test, spec, seed + 3),
        labels=tuple(str(d) for d in range(10)) + ("<blank>",),
        source="generated from scikit-learn load_digits (pictures split train/val/test before drawing)")


def label_text(row) -> str:
    return "".join(str(int(d)) for d in row if d != PAD)


def endless_videos(first: datasets.Split, spec: VideoSpec, seed: int, batch_size: int):
    """A Keras ``PyDataset``: the videos ``first`` (the training split of ``digit_videos(..., seed=seed)``)
    for the first epoch, then as many new ones from the training pictures for every further epoch
    (seeded by ``(seed + 1, epoch)``, the training stream's seed and the epoch): a generator never runs
    out, so the model sees each video once and cannot learn the videos by heart - only the digits."""
    import keras  # only the lessons that train on endless videos need Keras here

    pool = picture_pools(seed).train

    class EndlessVideos(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch, self.split = 0, first

        def __len__(self):
            return -(-len(first) // batch_size)

        def __getitem__(self, i):
            part = slice(i * batch_size, (i + 1) * batch_size)
            return self.split.x[part], self.split.y[part]

        def on_epoch_end(self):
            self.epoch += 1
            self.split = make_videos(pool, len(first), spec, (seed + 1, self.epoch))

    return EndlessVideos()


def inkiest_windows(videos: np.ndarray, side: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Every frame of (n, frames, h, w, 1) videos read as a still: (the ink of its inkiest ``side``-square
    window (n * frames,), that window (n * frames, side, side)). Where a digit is, if anywhere."""
    frames = videos[..., 0].reshape(-1, *videos.shape[2:4])
    reach = frames.shape[1] - side + 1
    windows = np.stack([frames[:, r:r + side, c:c + side] for r in range(reach) for c in range(reach)], 1)
    ink = windows.mean((2, 3))
    return ink.max(1), windows[np.arange(len(frames)), ink.argmax(1)]


def digits_from_runs(inked: np.ndarray, probs: np.ndarray, max_digits: int) -> np.ndarray:
    """Labels (n, max_digits) read by a rule: each run of inked frames (n, frames) is one digit, the most
    probable summed over the run (probs (n, frames, 10)); rows padded with PAD, and a row with more runs
    than ``max_digits`` ends in BLANK, so it never matches a label."""
    out = np.full((len(inked), max_digits), PAD, np.int64)
    for i, row in enumerate(inked):
        kept, start = [], None
        for k, on in enumerate([*row, False]):
            if on and start is None:
                start = k
            elif not on and start is not None:
                kept.append(int(probs[i, start:k].sum(0).argmax()))
                start = None
        out[i, :min(len(kept), max_digits)] = kept[:max_digits]
        if len(kept) > max_digits:
            out[i, -1] = BLANK
    return out
