"""Day 19 - A deep learning agent that learns to play Flappy Bird (deep Q-learning).

Seed 002: "the agent is able to play without being told any information about the structure of
the game or its rules. It automatically discovers the rules of the game by finding out how well
it did each time. This approach is called Deep Reinforcement Learning."

The agent never sees the rules, and it never sees the game's variables either: it sees the
*screen*, a 32 x 24 grayscale frame (pipes grey, the bird bright, cells averaged like a
downsampled screen) and the frame before it (two frames show which way the bird is moving).
It picks an action (flap or not) and gets a reward (+0.1 per step alive, +1 per pipe, -1 for a
crash). Deep Q-learning (DQN, Mnih et al. 2015) learns Q(s, a): the total future
reward of doing ``a`` in ``s`` and playing well afterwards. The policy is ``argmax_a Q(s, a)``.

Three tricks make it train:

- a **replay buffer**: transitions are stored and replayed in random mini-batches, so a batch is
  not a run of near-identical consecutive frames;
- a **target network**: a frozen copy of the Q-network gives the regression targets
  ``r + gamma * max_a' Q_target(s', a')`` and is refreshed every few hundred steps, so the target
  does not move with every update (we pick ``a'`` with the online network: Double DQN);
- an **epsilon schedule**: the agent explores with random actions at first, then less and less.

The game is ``dlbootcamp.worlds.flappy.FlappyBird`` seen through ``ScreenGame`` (frames only).
The score is the mean number of pipes passed over 10 seeded evaluation games, capped at
``eval_cap`` (200) pipes each, so that the cap hides no difference between players. Beside the
agent stand a random player and a *scripted rule*: one line written by a programmer who reads
the game's variables (flap when below the next gap's centre and not rising). The rule is what
knowing the game's structure buys; the agent had to find it in pixels, from rewards alone. The
exported model is the Q-network: a device feeds it the two frames and flaps when Q(flap) > Q(wait).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from dlbootcamp import data as datasets
from dlbootcamp import plots, training
from dlbootcamp.worlds.flappy import ScreenGame
from dlbootcamp.lesson import Bar, LessonInfo, Trained

LESSON = LessonInfo(
    id="flappy-dqn",
    day=19,
    title="Deep reinforcement learning: a DQN agent learns Flappy Bird from the screen",
    seeds=("002",),
    topics=("reinforcement learning", "Q-learning", "DQN", "learning from pixels", "replay buffer",
            "target network", "epsilon-greedy exploration", "gymnasium API"),
    summary=("A DQN agent (replay buffer, target network, epsilon schedule) learns Flappy Bird from the screen "
             "(two 32x24 frames) and rewards alone; scored by pipes passed over 10 seeded evaluation games "
             "(cap 200), beside a random player and a scripted rule that reads the game's variables."),
    bars=(Bar("mean_pipes", ">=", 10.0),),
    # int8 may flip actions where Q(flap) and Q(wait) are nearly equal: allow 2 pipes on average.
    quantized_tolerance=2.0,
    baselines=("random policy", "scripted rule"),
)

ACTIONS = ("wait", "flap")
EVAL_SEEDS = tuple(range(10_000, 10_010))  # the evaluation episodes: never seen in training
VAL_SEEDS = tuple(range(20_000, 20_005))  # pick the best checkpoint on these, never on the evaluation seeds


@dataclasses.dataclass(frozen=True)
class Config:
    height: int = 24  # screen rows the agent sees
    width: int = 32  # screen columns
    hidden: int = 128  # units in each of the Q-network's two hidden layers
    n_envs: int = 16  # games played side by side; each vector step adds n_envs transitions
    steps: int = 15000  # vector steps of training (one gradient step each)
    buffer_size: int = 50_000  # replay buffer capacity (transitions, frames stored as uint8)
    batch_size: int = 128
    learning_rate: float = 1e-3  # Adam
    gamma: float = 0.99  # discount of future rewards
    epsilon_start: float = 1.0
    epsilon_end: float = 0.01
    epsilon_fraction: float = 0.4  # share of the steps over which epsilon decays linearly
    explore_flap: float = 0.2  # a random action flaps with this probability (0.5 hits the ceiling)
    target_every: int = 250  # gradient steps between target-network refreshes
    learning_starts: int = 1000  # transitions collected before the first update
    check_every: int = 500  # vector steps between validation checks (best checkpoint kept)
    eval_cap: int = 200  # an evaluation game stops after this many pipes (high, so the cap hides nothing)
    val_cap: int = 50  # a validation game (best checkpoint) stops after this many pipes
    seed: int = 0  # game seeds, initial weights, exploration, replay sampling

    @classmethod
    def quick(cls) -> "Config":
        return cls(height=12, width=16, hidden=16, n_envs=4, steps=150, learning_starts=100, check_every=100,
                   eval_cap=3, val_cap=3)


# --- data: recorded game states (for int8 calibration and the export parity check) ---------------

PREPROCESSING = ("float32 (height, width, 2): the screen now and one step before, each cell in [0, 1] "
                 "(dlbootcamp.worlds.flappy.screen: half the pipe coverage plus the bird coverage); "
                 "action = argmax of the 2 Q-values (0 wait, 1 flap)")


@dataclasses.dataclass(frozen=True)
class Games:
    """What ``evaluate`` and the exporter need: recorded states and the evaluation protocol."""

    states: datasets.Splits  # x: screens seen by the scripted player, y: its actions
    eval_seeds: tuple[int, ...]
    eval_cap: int
    screen: tuple[int, int]  # (height, width)


def record_states(seeds, screen: tuple[int, int], per_game: int = 100) -> datasets.Split:
    """Screens a scripted player sees (it plays decently), and its actions."""
    xs, ys = [], []
    for seed in seeds:
        env = ScreenGame(*screen, max_steps=per_game)
        obs, done = env.reset(seed), False
        while not done:
            action = int(scripted_rule(env.state()[None])[0])
            xs.append(obs)
            ys.append(action)
            obs, _, terminated, truncated = env.step(action)
            done = terminated or truncated
    return datasets.Split(np.stack(xs), np.array(ys))


def scripted_rule(states: np.ndarray) -> np.ndarray:
    """A one-line player written by reading the game's variables (not the screen): flap when below the
    next gap's centre and not rising. ``states``: FlappyBird state vectors (n, 5)."""
    return ((states[:, 3] > -0.06) & (states[:, 1] <= 0)).astype(np.int64)


def load_data(cfg: Config) -> Games:
    shape = (cfg.height, cfg.width)
    states = datasets.Splits(train=record_states(range(100, 110), shape), val=record_states(range(200, 203), shape),
                             test=record_states(range(300, 310), shape), labels=ACTIONS, source="FlappyBird screens")
    return Games(states, EVAL_SEEDS, cfg.eval_cap, shape)


def representative_data(data: Games, n: int = 200, split: str = "train"):
    """Recorded screens: train calibrates int8, test feeds the export parity check."""
    return getattr(data.states, split).x[:n]


def sidecar(data: Games) -> dict:
    return {"labels": list(ACTIONS), "preprocessing": PREPROCESSING}


# --- model: the Q-network ---------------------------------------------------------------------

def build_model(cfg: Config) -> keras.Model:
    inputs = keras.Input((cfg.height, cfg.width, 2), name="screen")
    x = keras.layers.Flatten(name="pixels")(inputs)
    x = keras.layers.Dense(cfg.hidden, activation="relu", name="hidden1")(x)
    x = keras.layers.Dense(cfg.hidden, activation="relu", name="hidden2")(x)
    outputs = keras.layers.Dense(len(ACTIONS), name="q_values")(x)
    return keras.Model(inputs, outputs, name="q_network")


# --- playing: the same loop scores Keras, TFLite and ONNX policies --------------------------------

def play(policy, seeds, cap: int, screen: tuple[int, int], record: int = -1, *, sees: str = "screen"):
    """Play one game per seed side by side; returns pipes per game (and the RGB frames of game ``record``).

    ``policy`` gets a batch of screens (``sees="screen"``) or of the game's state vectors
    (``sees="state"``: the scripted rule's view)."""
    envs = [ScreenGame(*screen, max_pipes=cap) for _ in seeds]
    obs = np.stack([env.reset(s) for env, s in zip(envs, seeds)])
    alive = np.ones(len(envs), bool)
    frames = []
    while alive.any():
        seen = obs[alive] if sees == "screen" else np.stack([envs[i].state() for i in np.flatnonzero(alive)])
        actions = policy(seen)
        for i, a in zip(np.flatnonzero(alive), actions):
            obs[i], _, terminated, truncated = envs[i].step(int(a))
            alive[i] = not (terminated or truncated)
        if record >= 0 and alive[record]:
            frames.append(envs[record].game.render())
    return np.array([env.game.score for env in envs]), frames


def greedy(predict):
    return lambda states: np.asarray(predict(states.astype(np.float32))).argmax(-1)


def evaluate(predict, data: Games) -> dict[str, float]:
    pipes, _ = play(greedy(predict), data.eval_seeds, data.eval_cap, data.screen)
    return {"mean_pipes": float(pipes.mean())}


# --- DQN -------------------------------------------------------------------------------------

class ReplayBuffer:
    """A fixed-size ring of transitions (s, a, r, s', done), sampled uniformly."""

    def __init__(self, size: int, shape: tuple[int, ...], rng: np.random.Generator):
        # screens are stored as uint8 (cells in [0, 1] times 255): a quarter of the memory of float32
        self.s, self.s2 = np.zeros((size, *shape), np.uint8), np.zeros((size, *shape), np.uint8)
        self.a, self.r, self.done = np.zeros(size, np.int32), np.zeros(size, np.float32), np.zeros(size, np.float32)
        self.size, self.n, self.i, self.rng = size, 0, 0, rng

    def add(self, s, a, r, s2, done):
        idx = (self.i + np.arange(len(s))) % self.size
        self.s[idx], self.s2[idx] = np.round(s * 255), np.round(s2 * 255)
        self.a[idx], self.r[idx], self.done[idx] = a, r, done
        self.i, self.n = (self.i + len(s)) % self.size, min(self.n + len(s), self.size)

    def sample(self, k: int):
        idx = self.rng.integers(self.n, size=k)
        scale = np.float32(1 / 255)
        return self.s[idx] * scale, self.a[idx], self.r[idx], self.s2[idx] * scale, self.done[idx]


def make_update(cfg: Config, q_net, target_net, optimizer):
    loss_fn = keras.losses.Huber()

    @tf.function
    def update(s, a, r, s2, done):
        best_next = tf.argmax(q_net(s2), axis=-1)  # Double DQN: the online net chooses a' ...
        q_next = tf.gather(target_net(s2), best_next, batch_dims=1)  # ... the target net values it
        target = r + cfg.gamma * (1.0 - done) * q_next
        with tf.GradientTape() as tape:
            q = tf.gather(q_net(s, training=True), a, batch_dims=1)
            loss = loss_fn(tf.stop_gradient(target), q)
        grads = tape.gradient(loss, q_net.trainable_variables)
        optimizer.apply_gradients(zip(grads, q_net.trainable_variables))
        return loss

    return update


def epsilon(cfg: Config, step: int) -> float:
    frac = min(1.0, step / max(1, cfg.epsilon_fraction * cfg.steps))
    return cfg.epsilon_start + frac * (cfg.epsilon_end - cfg.epsilon_start)


def train_dqn(cfg: Config, log, scalars=lambda step, **values: None):
    rng = np.random.default_rng(cfg.seed)
    q_net, target_net = build_model(cfg), build_model(cfg)
    target_net.set_weights(q_net.get_weights())
    optimizer = keras.optimizers.Adam(cfg.learning_rate)
    update = make_update(cfg, q_net, target_net, optimizer)
    act = tf.function(lambda s: tf.argmax(q_net(s), axis=-1))
    envs = [ScreenGame(cfg.height, cfg.width, max_steps=2000) for _ in range(cfg.n_envs)]
    buffer = ReplayBuffer(cfg.buffer_size, envs[0].shape, rng)
    obs = np.stack([env.reset(cfg.seed * 1000 + i) for i, env in enumerate(envs)])
    history = {"step": [], "epsilon": [], "loss": [], "train_pipes": [], "val_pipes": []}
    finished, losses, best, best_weights, updates = [], [], -1.0, q_net.get_weights(), 0
    for step in range(1, cfg.steps + 1):
        eps = epsilon(cfg, step)
        actions = act(obs).numpy()
        explore = rng.random(cfg.n_envs) < eps
        actions[explore] = (rng.random(explore.sum()) < cfg.explore_flap).astype(int)
        nxt = np.empty_like(obs)
        rewards, dones, ended = (np.zeros(cfg.n_envs, np.float32) for _ in range(3))
        for i, env in enumerate(envs):
            nxt[i], rewards[i], terminated, truncated = env.step(actions[i])
            dones[i] = terminated  # a truncated game is not an end: keep bootstrapping
            ended[i] = terminated or truncated
        buffer.add(obs, actions, rewards, nxt, dones)
        for i in np.flatnonzero(ended):  # start a new game where one ended (new seed from the rng)
            finished.append(envs[i].game.score)
            nxt[i] = envs[i].reset(int(rng.integers(1 << 30)))
        obs = nxt
        if buffer.n >= cfg.learning_starts:
            losses.append(float(update(*buffer.sample(cfg.batch_size))))
            updates += 1
            if updates % cfg.target_every == 0:
                target_net.set_weights(q_net.get_weights())
        if step % cfg.check_every == 0 or step == cfg.steps:
            val = float(play(greedy(lambda s: q_net(s).numpy()), VAL_SEEDS, cfg.val_cap, (cfg.height, cfg.width))[0].mean())
            history["step"].append(step)
            history["epsilon"].append(eps)
            history["loss"].append(float(np.mean(losses)) if losses else float("nan"))
            history["train_pipes"].append(float(np.mean(finished[-50:])) if finished else 0.0)
            history["val_pipes"].append(val)
            scalars(step, **{k: history[k][-1] for k in ("epsilon", "loss", "train_pipes", "val_pipes")})
            log(f"  step {step}/{cfg.steps}  epsilon {eps:.2f}  loss {history['loss'][-1]:.4g}  "
                f"training games {history['train_pipes'][-1]:.1f} pipes  validation {val:.1f} pipes")
            losses = []
            if val > best:  # keep the best checkpoint by validation games, never by evaluation games
                best, best_weights = val, q_net.get_weights()
    q_net.set_weights(best_weights)
    return q_net, history


def progress_title(val_pipes) -> str:
    """What the validation curve shows, not what it should: "learns" only when the last check beats the first."""
    if len(val_pipes) > 1 and val_pipes[-1] > val_pipes[0]:
        return f"Pipes passed during training: {val_pipes[0]:.1f} -> {val_pipes[-1]:.1f} (greedy, validation)"
    return "Pipes passed during training"


# --- train -----------------------------------------------------------------------------------

def train(cfg: Config, run) -> Trained:
    training.seed_everything(cfg.seed)
    data = load_data(cfg)
    q_net, history = train_dqn(cfg, run.log, run.scalars)  # TensorBoard: tensorboard --logdir RUN
    metrics = evaluate(lambda s: q_net(s).numpy(), data)
    rng = np.random.default_rng(cfg.seed)
    random_pipes, _ = play(lambda s: rng.integers(2, size=len(s)), data.eval_seeds, data.eval_cap, data.screen)
    rule_pipes, _ = play(scripted_rule, data.eval_seeds, data.eval_cap, data.screen, sees="state")
    metrics.update(random_mean_pipes=float(random_pipes.mean()), rule_mean_pipes=float(rule_pipes.mean()),
                   eval_cap=float(cfg.eval_cap))

    pipes, frames = play(greedy(lambda s: q_net(s).numpy()), data.eval_seeds[:1], min(cfg.eval_cap, 20),
                         data.screen, record=0)
    shown = frames[:: max(1, len(frames) // 16)][:16]
    run.save_figure(plots.image_grid(shown, [f"step {i * max(1, len(frames) // 16)}" for i in range(len(shown))],
                                     cmap=None, title=f"Evaluation game 1, first {min(cfg.eval_cap, 20)} pipes: "
                                                      f"{pipes[0]} passed"), "episode_frames")
    seen = data.states.test.x[:24:3]  # what the Q-network is given: the screen now and one step before
    run.save_figure(plots.image_grid(np.concatenate([seen[..., 0], seen[..., 1]])[..., None],
                                     [f"now {i}" for i in range(len(seen))] + [f"before {i}" for i in range(len(seen))],
                                     cols=len(seen), title=f"What the agent sees: {cfg.width}x{cfg.height} screens"),
                    "agent_view")
    plt = plots.pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    ax1.plot(history["step"], history["train_pipes"], marker=plots.marker(history["step"]),
             label="training games (exploring)")
    ax1.plot(history["step"], history["val_pipes"], marker=plots.marker(history["step"]),
             label="validation games (greedy)")
    ax1.set(xlabel="vector step", ylabel="pipes passed", title=progress_title(history["val_pipes"]))
    ax1.legend()
    ax2.plot(history["step"], history["epsilon"], marker=plots.marker(history["step"]))
    ax2.set(xlabel="vector step", ylabel="epsilon", title="Exploration schedule")
    fig.tight_layout()
    run.save_figure(fig, "learning_curves")
    notes = [f"mean pipes over {len(data.eval_seeds)} evaluation games (cap {cfg.eval_cap}): "
             f"DQN from the screen {metrics['mean_pipes']:.1f}, random player {metrics['random_mean_pipes']:.1f}, "
             f"scripted rule reading the game's variables {metrics['rule_mean_pipes']:.1f}"]
    baselines = {"random policy": {"mean_pipes": float(random_pipes.mean())},
                 "scripted rule": {"mean_pipes": float(rule_pipes.mean())}}
    return Trained(exports={"model": q_net}, metrics=metrics, history=history, notes=notes, baselines=baselines)
