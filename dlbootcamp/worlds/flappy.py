"""A small Flappy Bird game with the gymnasium API, in NumPy, with no gymnasium dependency.

The world is the unit square: the bird sits at ``x = 0.25`` and only moves up and down; pipes
scroll from right to left at a constant speed, each with a gap the bird must fly through.
Every step the agent chooses one of two actions: 0 = do nothing (gravity pulls the bird down),
1 = flap (the vertical speed is set to a fixed upward value). Touching a pipe, the floor or the
ceiling ends the episode.

Rewards: +0.1 for every step alive, +1 for every pipe passed, -1 for a crash.

The API follows gymnasium's ``Env``: ``reset(seed=...) -> (obs, info)``,
``step(action) -> (obs, reward, terminated, truncated, info)``, ``observation_space``,
``action_space`` and ``render()`` (``render_mode="rgb_array"``). The two space classes below
implement the parts of ``gymnasium.spaces.Box`` / ``Discrete`` that agents use (``shape``,
``n``, ``sample``, ``contains``), so the package needs no extra dependency.

Observations (``obs_type="state"``, the default), float32:
``[bird y, vertical speed / max speed, distance to the next pipe's far edge,
gap centre of the next pipe - bird y, gap centre of the pipe after - bird y]``.
With ``obs_type="pixels"`` the observation is the rendered frame in grayscale, (H, W, 1) uint8.
``ScreenGame`` wraps the game so that an agent sees nothing but a small screen: ``screen`` draws
the game as a low-resolution grayscale frame (cells averaged like a downsampled screen) and the
agent gets the current frame and the one before.
"""

from __future__ import annotations

import dataclasses

import numpy as np


class Discrete:
    """The actions ``0 .. n-1`` (the subset of ``gymnasium.spaces.Discrete`` agents use)."""

    def __init__(self, n: int, seed: int | None = None):
        self.n = int(n)
        self.shape = ()
        self.dtype = np.int64
        self._rng = np.random.default_rng(seed)

    def seed(self, seed: int | None) -> None:
        self._rng = np.random.default_rng(seed)

    def sample(self) -> int:
        return int(self._rng.integers(self.n))

    def contains(self, x) -> bool:
        return isinstance(x, (int, np.integer)) and 0 <= int(x) < self.n

    def __repr__(self) -> str:
        return f"Discrete({self.n})"


class Box:
    """A box of arrays with bounds (the subset of ``gymnasium.spaces.Box`` agents use)."""

    def __init__(self, low, high, shape: tuple[int, ...], dtype=np.float32, seed: int | None = None):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.low = np.broadcast_to(np.asarray(low, self.dtype), self.shape)
        self.high = np.broadcast_to(np.asarray(high, self.dtype), self.shape)
        self._rng = np.random.default_rng(seed)

    def sample(self) -> np.ndarray:
        if self.dtype.kind == "u":
            return self._rng.integers(self.low, self.high, endpoint=True).astype(self.dtype)
        return self._rng.uniform(self.low, self.high).astype(self.dtype)

    def contains(self, x) -> bool:
        x = np.asarray(x)
        return x.shape == self.shape and bool(np.all(x >= self.low) and np.all(x <= self.high))

    def __repr__(self) -> str:
        return f"Box({self.shape}, {self.dtype})"


@dataclasses.dataclass(frozen=True)
class Physics:
    """The game's constants, in units of the screen (height 1) and steps."""

    gravity: float = 0.004  # added to the downward speed every step
    flap_speed: float = 0.022  # upward speed right after a flap
    max_speed: float = 0.05  # fastest fall
    bird_x: float = 0.25
    bird_radius: float = 0.03
    pipe_speed: float = 0.02  # pipes move this far left per step
    pipe_width: float = 0.1
    pipe_spacing: float = 0.5  # horizontal distance between consecutive pipes
    gap: float = 0.36  # height of the opening
    gap_range: tuple[float, float] = (0.3, 0.7)  # where gap centres are drawn


class FlappyBird:
    """Flappy Bird with the gymnasium ``Env`` API. See the module docstring for the rules."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, *, obs_type: str = "state", render_mode: str | None = None, max_pipes: int = 0,
                 max_steps: int = 0, size: int = 96, physics: Physics = Physics()):
        if obs_type not in ("state", "pixels"):
            raise ValueError(f"Unknown obs_type {obs_type!r}; expected 'state' or 'pixels'.")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"Unknown render_mode {render_mode!r}; expected None or 'rgb_array'.")
        self.obs_type, self.render_mode, self.size, self.physics = obs_type, render_mode, size, physics
        self.max_pipes = max_pipes  # > 0: truncate the episode once that many pipes are passed
        self.max_steps = max_steps  # > 0: truncate after that many steps
        self.action_space = Discrete(2)
        if obs_type == "state":
            self.observation_space = Box(-2.0, 2.0, (5,), np.float32)
        else:
            self.observation_space = Box(0, 255, (size, size, 1), np.uint8)
        self._rng = np.random.default_rng()
        self.y = self.v = 0.0
        self.pipes: list[list[float]] = []  # [x of left edge, gap centre]
        self.score = self.steps = 0

    # --- the gymnasium API ---------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options=None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
            self.action_space.seed(seed)
        p = self.physics
        self.y, self.v, self.score, self.steps = 0.5, 0.0, 0, 0
        self.pipes = [[0.8 + i * p.pipe_spacing, self._gap()] for i in range(3)]
        return self._obs(), {"pipes": 0}

    def step(self, action):
        p = self.physics
        self.v = p.flap_speed if int(action) == 1 else max(self.v - p.gravity, -p.max_speed)
        self.y += self.v
        self.steps += 1
        reward = 0.1
        for pipe in self.pipes:
            before = pipe[0] + p.pipe_width
            pipe[0] -= p.pipe_speed
            if before >= p.bird_x > pipe[0] + p.pipe_width:  # its far edge just went past the bird
                self.score += 1
                reward += 1.0
        if self.pipes[0][0] + p.pipe_width < 0:  # off screen: recycle it behind the last one
            self.pipes.pop(0)
            self.pipes.append([self.pipes[-1][0] + p.pipe_spacing, self._gap()])
        terminated = self._crashed()
        if terminated:
            reward = -1.0
        truncated = not terminated and ((self.max_pipes > 0 and self.score >= self.max_pipes)
                                        or (self.max_steps > 0 and self.steps >= self.max_steps))
        return self._obs(), reward, terminated, truncated, {"pipes": self.score}

    def render(self) -> np.ndarray:
        """The frame as an (size, size, 3) uint8 RGB image."""
        p, s = self.physics, self.size
        img = np.empty((s, s, 3), np.uint8)
        img[:] = (112, 197, 206)  # sky
        cols = (np.arange(s) + 0.5) / s
        rows = 1.0 - (np.arange(s) + 0.5) / s  # row 0 is the top of the screen (y = 1)
        for x0, centre in self.pipes:
            in_x = (cols >= x0) & (cols <= x0 + p.pipe_width)
            solid = (rows > centre + p.gap / 2) | (rows < centre - p.gap / 2)
            img[np.ix_(solid, in_x)] = (83, 160, 53)
        yy, xx = np.meshgrid(rows, cols, indexing="ij")
        img[(xx - p.bird_x) ** 2 + (yy - self.y) ** 2 <= p.bird_radius ** 2] = (250, 200, 40)
        return img

    def close(self) -> None:
        pass

    # --- internals -----------------------------------------------------------------------------
    def _gap(self) -> float:
        return float(self._rng.uniform(*self.physics.gap_range))

    def _next_pipes(self) -> list[list[float]]:
        p = self.physics
        return [pipe for pipe in self.pipes if pipe[0] + p.pipe_width >= p.bird_x - p.bird_radius]

    def _crashed(self) -> bool:
        p = self.physics
        if self.y - p.bird_radius < 0 or self.y + p.bird_radius > 1:
            return True
        for x0, centre in self.pipes:
            if x0 - p.bird_radius < p.bird_x < x0 + p.pipe_width + p.bird_radius:
                if self.y - p.bird_radius < centre - p.gap / 2 or self.y + p.bird_radius > centre + p.gap / 2:
                    return True
        return False

    def _obs(self):
        if self.obs_type == "pixels":
            gray = self.render() @ np.array([0.299, 0.587, 0.114])
            return gray.astype(np.uint8)[..., None]
        p = self.physics
        nxt, after = self._next_pipes()[:2]
        return np.array([self.y, self.v / p.max_speed, nxt[0] + p.pipe_width - p.bird_x,
                         nxt[1] - self.y, after[1] - self.y], np.float32)


# --- the screen an agent sees: a small grayscale frame, and the frame before it ----------------------

def _coverage(lo: float, hi: float, n: int) -> np.ndarray:
    """The fraction of each of ``n`` equal cells of [0, 1] that the interval [lo, hi] covers."""
    edges = np.arange(n + 1) / n
    return np.clip(np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo), 0.0, None) * n


def screen(env: FlappyBird, height: int = 24, width: int = 32) -> np.ndarray:
    """The game as a (height, width) float32 frame in [0, 1], row 0 at the top: each cell holds half
    the fraction of it a pipe covers, plus the fraction the bird covers (the bird is the brightest
    thing on screen). Like a screen downsampled by averaging, so positions finer than a cell still
    show as intensities; nothing else (no speed, no distances) is in it."""
    p = env.physics
    frame = np.zeros((height, width), np.float32)
    for x0, centre in env.pipes:
        cols = _coverage(x0, x0 + p.pipe_width, width)
        if cols.any():  # rows are measured from the top: y = 1 - row position
            rows = (_coverage(0.0, 1.0 - (centre + p.gap / 2), height)
                    + _coverage(1.0 - (centre - p.gap / 2), 1.0, height))
            frame += 0.5 * np.outer(rows, cols)
    rows = _coverage(1.0 - (env.y + p.bird_radius), 1.0 - (env.y - p.bird_radius), height)
    cols = _coverage(p.bird_x - p.bird_radius, p.bird_x + p.bird_radius, width)
    frame += np.outer(rows, cols)
    return np.clip(frame, 0.0, 1.0)


class ScreenGame:
    """FlappyBird seen only through its screen: observations are (height, width, 2) float32 frames,
    the current one and the one before (two frames show which way the bird moves).

    ``reset(seed) -> obs`` and ``step(action) -> (obs, reward, terminated, truncated)``; the game
    itself is ``.game`` (its score, and its state for a scripted player to read)."""

    def __init__(self, height: int = 24, width: int = 32, **game_kwargs):
        self.game, self.height, self.width = FlappyBird(**game_kwargs), height, width
        self._previous = np.zeros((height, width), np.float32)

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.height, self.width, 2

    def _observe(self) -> np.ndarray:
        now = screen(self.game, self.height, self.width)
        obs = np.stack([now, self._previous], axis=-1)
        self._previous = now
        return obs

    def reset(self, seed: int) -> np.ndarray:
        self.game.reset(seed=int(seed))
        self._previous = screen(self.game, self.height, self.width)  # at the start: the bird is still
        return self._observe()

    def step(self, action: int):
        _, reward, terminated, truncated, _ = self.game.step(int(action))
        return self._observe(), reward, terminated, truncated

    def state(self) -> np.ndarray:
        """The engineered state vector (what a scripted player reads; the agent never does)."""
        return self.game._obs() if self.game.obs_type == "state" else None
