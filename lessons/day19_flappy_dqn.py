"""Day 19 - A deep learning agent that learns to play Flappy Bird (deep Q-learning).

Seed 002: "the agent is able to play without being told any information about the structure of
the game or its rules. It automatically discovers the rules of the game by finding out how well
it did each time. This approach is called Deep Reinforcement Learning."

The agent never sees the rules. It sees a state (where the bird is, how fast it falls, where the
next gaps are), picks an action (flap or not), and gets a reward (+0.1 per step alive, +1 per
pipe, -1 for a crash). Deep Q-learning (DQN, Mnih et al. 2015) learns Q(s, a): the total future
reward of doing ``a`` in ``s`` and playing well afterwards. The policy is ``argmax_a Q(s, a)``.

Three tricks make it train:

- a **replay buffer**: transitions are stored and replayed in random mini-batches, so a batch is
  not a run of near-identical consecutive frames;
- a **target network**: a frozen copy of the Q-network gives the regression targets
  ``r + gamma * max_a' Q_target(s', a')`` and is refreshed every few hundred steps, so the target
  does not move with every update (we pick ``a'`` with the online network: Double DQN);
- an **epsilon schedule**: the agent explores with random actions at first, then less and less.

The game is ``dlbootcamp.worlds.flappy.FlappyBird`` (gymnasium API, state vectors). The score is the
mean number of pipes passed over 10 seeded evaluation episodes, capped at ``eval_cap`` pipes
each (a good agent would otherwise play forever). A random agent is reported beside it. The
exported model is the Q-network: a device feeds it the state and flaps when Q(flap) > Q(wait).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from dlbootcamp import data as datasets
from dlbootcamp import plots, training
from dlbootcamp.worlds.flappy import FlappyBird
from dlbootcamp.lesson import Bar, LessonInfo, Trained

LESSON = LessonInfo(
    id="flappy-dqn",
    day=19,
    title="Deep reinforcement learning: a DQN agent learns to play Flappy Bird",
    seeds=("002",),
    topics=("reinforcement learning", "Q-learning", "DQN", "replay buffer", "target network",
            "epsilon-greedy exploration", "gymnasium API"),
    summary=("A DQN agent (replay buffer, target network, epsilon schedule) learns Flappy Bird from rewards "
             "alone; scored by pipes passed over 10 seeded evaluation episodes, beside a random agent."),
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
    hidden: int = 64  # units in each of the Q-network's two hidden layers
    n_envs: int = 16  # games played side by side; each vector step adds n_envs transitions
    steps: int = 6000  # vector steps of training (one gradient step each)
    buffer_size: int = 50_000  # replay buffer capacity (transitions)
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
    eval_cap: int = 50  # an evaluation episode stops after this many pipes
    seed: int = 0  # game seeds, initial weights, exploration, replay sampling

    @classmethod
    def quick(cls) -> "Config":
        return cls(hidden=16, n_envs=4, steps=150, learning_starts=100, check_every=100, eval_cap=3)


# --- data: recorded game states (for int8 calibration and the export parity check) ---------------

PREPROCESSING = ("float32 state [bird y, vertical speed / 0.05, distance to the next pipe's far edge, "
                 "next gap centre - bird y, following gap centre - bird y]; action = argmax of the 2 Q-values")


@dataclasses.dataclass(frozen=True)
class Games:
    """What ``evaluate`` and the exporter need: recorded states and the evaluation protocol."""

    states: datasets.Splits  # x: states visited by a simple scripted player, y: its actions
    eval_seeds: tuple[int, ...]
    eval_cap: int


def record_states(seeds, per_game: int = 100) -> datasets.Split:
    """States from a scripted player that flaps when below the gap (it plays decently)."""
    xs, ys = [], []
    for seed in seeds:
        env = FlappyBird(max_steps=per_game)
        obs, _ = env.reset(seed=int(seed))
        done = False
        while not done:
            action = int(scripted_rule(obs[None])[0])
            xs.append(obs)
            ys.append(action)
            obs, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
    return datasets.Split(np.stack(xs), np.array(ys))


def scripted_rule(states: np.ndarray) -> np.ndarray:
    """A one-line player written by reading the state: flap when below the gap's centre and not rising."""
    return ((states[:, 3] > -0.06) & (states[:, 1] <= 0)).astype(np.int64)


def load_data(cfg: Config) -> Games:
    states = datasets.Splits(train=record_states(range(100, 110)), val=record_states(range(200, 203)),
                             test=record_states(range(300, 310)), labels=ACTIONS, source="FlappyBird rollouts")
    return Games(states, EVAL_SEEDS, cfg.eval_cap)


def representative_data(data: Games, n: int = 200, split: str = "train"):
    """Recorded states: train calibrates int8, test feeds the export parity check."""
    return getattr(data.states, split).x[:n]


def sidecar(data: Games) -> dict:
    return {"labels": list(ACTIONS), "preprocessing": PREPROCESSING}


# --- model: the Q-network ---------------------------------------------------------------------

def build_model(cfg: Config) -> keras.Model:
    inputs = keras.Input((5,), name="state")
    x = keras.layers.Dense(cfg.hidden, activation="relu", name="hidden1")(inputs)
    x = keras.layers.Dense(cfg.hidden, activation="relu", name="hidden2")(x)
    outputs = keras.layers.Dense(len(ACTIONS), name="q_values")(x)
    return keras.Model(inputs, outputs, name="q_network")


# --- playing: the same loop scores Keras, TFLite and ONNX policies --------------------------------

def play(policy, seeds, cap: int, record: int = -1):
    """Play one game per seed side by side, greedily; returns pipes per game (and frames of one)."""
    envs = [FlappyBird(max_pipes=cap) for _ in seeds]
    obs = np.stack([env.reset(seed=int(s))[0] for env, s in zip(envs, seeds)])
    alive = np.ones(len(envs), bool)
    frames = []
    while alive.any():
        actions = policy(obs[alive])
        for i, a in zip(np.flatnonzero(alive), actions):
            obs[i], _, terminated, truncated, _ = envs[i].step(int(a))
            alive[i] = not (terminated or truncated)
        if record >= 0 and alive[record]:
            frames.append(envs[record].render())
    return np.array([env.score for env in envs]), frames


def greedy(predict):
    return lambda states: np.asarray(predict(states.astype(np.float32))).argmax(-1)


def evaluate(predict, data: Games) -> dict[str, float]:
    pipes, _ = play(greedy(predict), data.eval_seeds, data.eval_cap)
    return {"mean_pipes": float(pipes.mean())}


# --- DQN -------------------------------------------------------------------------------------

class ReplayBuffer:
    """A fixed-size ring of transitions (s, a, r, s', done), sampled uniformly."""

    def __init__(self, size: int, rng: np.random.Generator):
        self.s, self.s2 = np.zeros((size, 5), np.float32), np.zeros((size, 5), np.float32)
        self.a, self.r, self.done = np.zeros(size, np.int32), np.zeros(size, np.float32), np.zeros(size, np.float32)
        self.size, self.n, self.i, self.rng = size, 0, 0, rng

    def add(self, s, a, r, s2, done):
        idx = (self.i + np.arange(len(s))) % self.size
        self.s[idx], self.a[idx], self.r[idx], self.s2[idx], self.done[idx] = s, a, r, s2, done
        self.i, self.n = (self.i + len(s)) % self.size, min(self.n + len(s), self.size)

    def sample(self, k: int):
        idx = self.rng.integers(self.n, size=k)
        return self.s[idx], self.a[idx], self.r[idx], self.s2[idx], self.done[idx]


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
    buffer = ReplayBuffer(cfg.buffer_size, rng)
    envs = [FlappyBird(max_steps=2000) for _ in range(cfg.n_envs)]
    obs = np.stack([env.reset(seed=cfg.seed * 1000 + i)[0] for i, env in enumerate(envs)])
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
            nxt[i], rewards[i], terminated, truncated, _ = env.step(actions[i])
            dones[i] = terminated  # a truncated game is not an end: keep bootstrapping
            ended[i] = terminated or truncated
        buffer.add(obs, actions, rewards, nxt, dones)
        for i in np.flatnonzero(ended):  # start a new game where one ended (new seed from the rng)
            finished.append(envs[i].score)
            nxt[i] = envs[i].reset(seed=int(rng.integers(1 << 30)))[0]
        obs = nxt
        if buffer.n >= cfg.learning_starts:
            losses.append(float(update(*buffer.sample(cfg.batch_size))))
            updates += 1
            if updates % cfg.target_every == 0:
                target_net.set_weights(q_net.get_weights())
        if step % cfg.check_every == 0 or step == cfg.steps:
            val = float(play(greedy(lambda s: q_net(s).numpy()), VAL_SEEDS, cfg.eval_cap)[0].mean())
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
    random_pipes, _ = play(lambda s: rng.integers(2, size=len(s)), data.eval_seeds, data.eval_cap)
    metrics["random_policy_mean_pipes"] = float(random_pipes.mean())
    rule_pipes, _ = play(lambda s: scripted_rule(s), data.eval_seeds, data.eval_cap)
    metrics["eval_cap"] = float(cfg.eval_cap)

    pipes, frames = play(greedy(lambda s: q_net(s).numpy()), data.eval_seeds[:1], data.eval_cap, record=0)
    shown = frames[:: max(1, len(frames) // 16)][:16]
    run.save_figure(plots.image_grid(shown, [f"step {i * max(1, len(frames) // 16)}" for i in range(len(shown))],
                                     cmap=None, title=f"Evaluation game 1: {pipes[0]} pipes"), "episode_frames")
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
             f"DQN {metrics['mean_pipes']:.1f}, random policy {metrics['random_policy_mean_pipes']:.1f}, "
             f"scripted rule {rule_pipes.mean():.1f}: the engineered state makes the game easy to script"]
    baselines = {"random policy": {"mean_pipes": float(random_pipes.mean())},
                 "scripted rule": {"mean_pipes": float(rule_pipes.mean())}}
    return Trained(exports={"model": q_net}, metrics=metrics, history=history, notes=notes, baselines=baselines)
