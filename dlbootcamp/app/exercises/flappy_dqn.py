"""Exercises for day 19 (flappy-dqn): Double DQN targets by hand, the exploration schedule, a convolutional Q-network."""

from __future__ import annotations

from dlbootcamp.app.exercises import Exercise, Wrong, expect_close, expect_model, expect_shape


# --- 1. implement a piece: the regression targets of Double DQN ---------------------------------------------

def double_dqn_targets(reward, done, q_next_online, q_next_target, gamma):
    """r + gamma * (1 - done) * Q_target(s', a'), where a' = argmax_a Q_online(s', a): the online network chooses
    the next action, the target network values it. reward, done (N,); q_next_* (N, actions) -> (N,)."""
    import numpy as np

    best = np.asarray(q_next_online).argmax(-1)
    value = np.take_along_axis(np.asarray(q_next_target, np.float64), best[:, None], 1)[:, 0]
    return np.asarray(reward, np.float64) + gamma * (1.0 - np.asarray(done, np.float64)) * value


def _verify_targets(fn) -> None:
    import numpy as np

    rng = np.random.default_rng(19)
    n = 12
    reward = rng.choice([0.1, 1.0, -1.0], n)
    done = (reward == -1.0).astype(np.float32)  # a crash ends the game
    online, target = rng.normal(0, 1, (n, 2)), rng.normal(0, 1, (n, 2))
    target[np.arange(n), online.argmax(1)] -= 2.0  # the two networks disagree on the best action's value
    got = np.asarray(fn(reward.copy(), done.copy(), online.copy(), target.copy(), 0.99), np.float64)
    expect_shape("double_dqn_targets for 12 transitions", got, (n,))
    expected = double_dqn_targets(reward, done, online, target, 0.99)
    if np.allclose(got, reward + 0.99 * (1 - done) * target.max(1), atol=1e-6):
        raise Wrong("you took the target network's own best value (plain DQN): in Double DQN the *online* network "
                    "picks a' = argmax Q_online(s', .) and the target network says what a' is worth.")
    if np.allclose(got, reward + 0.99 * online.max(1) * (1 - done), atol=1e-6):
        raise Wrong("you valued the next state with the online network; the target network (the frozen copy) gives "
                    "the value of the action the online network picks.")
    crashed = done == 1
    if not np.allclose(got[crashed], reward[crashed], atol=1e-6):
        raise Wrong("after a crash (done = 1) there is no future: the target is the reward alone; multiply the "
                    "future value by (1 - done).")
    expect_close("double_dqn_targets against the lesson's update", got, expected, atol=1e-6)


# --- 2. predict an outcome: how much does the agent still explore? ----------------------------------------------

PREDICTED_EPSILON = 0.505  # 3000 of the 6000 decay steps (40% of 15000): halfway from 1.0 to 0.01


def _verify_epsilon(value) -> None:
    from dlbootcamp.lessons import day19_flappy_dqn as lesson

    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise Wrong(f"PREDICTED_EPSILON is {value!r}; expected a probability.")
    cfg = lesson.Config()
    actual = lesson.epsilon(cfg, 3000)
    if abs(value - (1.0 + 3000 / cfg.steps * (cfg.epsilon_end - 1.0))) < 1e-3:
        raise Wrong(f"PREDICTED_EPSILON = {value:g} decays over all {cfg.steps} steps; epsilon reaches its end value "
                    f"after epsilon_fraction = {cfg.epsilon_fraction} of them.")
    expect_close("PREDICTED_EPSILON (epsilon(Config(), 3000))", value, actual, atol=1e-3)


# --- 3. change the architecture: a convolution looks at the screen --------------------------------------------

def build_conv_model(cfg):
    """The Q-network with a convolution first: Conv2D 'conv' (16 filters, 3x3, stride 2, relu) on the two frames,
    then the lesson's layers (Flatten 'pixels', Dense 'hidden1', 'hidden2', 'q_values')."""
    import keras

    from dlbootcamp.lessons import day19_flappy_dqn as lesson

    inputs = keras.Input((cfg.height, cfg.width, 2), name="screen")
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.Flatten(name="pixels")(x)
    x = keras.layers.Dense(cfg.hidden, activation="relu", name="hidden1")(x)
    x = keras.layers.Dense(cfg.hidden, activation="relu", name="hidden2")(x)
    outputs = keras.layers.Dense(len(lesson.ACTIONS), name="q_values")(x)
    return keras.Model(inputs, outputs, name="conv_q_network")


def _verify_conv(fn) -> None:
    from dlbootcamp.lessons import day19_flappy_dqn as lesson

    cfg = lesson.Config.quick()
    model = fn(cfg)
    layers = {layer.name: layer for layer in getattr(model, "layers", [])}
    if "conv" in layers and tuple(layers["conv"].strides) != (2, 2):
        raise Wrong(f"'conv' has strides {tuple(layers['conv'].strides)}; expected 2: it halves the screen's side.")
    expect_model("build_conv_model(Config.quick())", model, build_conv_model(cfg))


EXERCISES = (
    Exercise(1, "implement", "Double DQN's targets",
             "Write `double_dqn_targets(reward, done, q_next_online, q_next_target, gamma)` in NumPy: for N "
             "transitions, `a'` is the action the **online** network rates best in the next state, and the target is "
             "`reward + gamma * (1 - done) * q_next_target[a']` (N,). It is the first half of the lesson's "
             "`make_update`.",
             "double_dqn_targets",
             "import numpy as np\n\n\ndef double_dqn_targets(reward, done, q_next_online, q_next_target, gamma):\n"
             "    \"\"\"(N,) regression targets of Double DQN.\"\"\"\n"
             "    raise NotImplementedError  # your code here\n",
             double_dqn_targets, _verify_targets),
    Exercise(2, "predict", "how much the agent explores",
             "Before running it: in the full run (`Config()`: 15,000 steps, epsilon from 1.0 to 0.01 over the first "
             "`epsilon_fraction = 0.4` of them), what is `epsilon(cfg, 3000)`, the share of random actions at step "
             "3,000? Write it as `PREDICTED_EPSILON`, then check.",
             "PREDICTED_EPSILON",
             "PREDICTED_EPSILON = None  # a probability\n",
             PREDICTED_EPSILON, _verify_epsilon),
    Exercise(3, "architecture", "a convolution on the screen",
             "Write `build_conv_model(cfg)`: the lesson's Q-network with "
             "`keras.layers.Conv2D(16, 3, strides=2, padding=\"same\", activation=\"relu\", name=\"conv\")` on the "
             "two frames before `pixels`; keep the other layers and names. How do the parameter counts compare?",
             "build_conv_model",
             "import keras\n\n\ndef build_conv_model(cfg):\n"
             "    \"\"\"build_model with a stride-2 Conv2D 'conv' before Flatten.\"\"\"\n"
             "    raise NotImplementedError  # start from lesson.build_model's code\n",
             build_conv_model, _verify_conv),
)
