"""Day 19 flappy-dqn: the game keeps the gymnasium API, the quick run works, TFLite plays like Keras."""

import json

import numpy as np
import pytest

from dlbootcamp.worlds.flappy import FlappyBird
from conftest import export_quick, quick_cli_run


def _play(env, seed, policy):
    obs, info = env.reset(seed=seed)
    assert info == {"pipes": 0}
    done, total = False, 0.0
    while not done:
        obs, reward, terminated, truncated, info = env.step(policy(obs))
        total += reward
        done = terminated or truncated
    return info["pipes"], total, terminated


def test_game_has_the_gymnasium_api_and_is_seeded():
    env = FlappyBird()
    obs, _ = env.reset(seed=3)
    assert env.observation_space.contains(obs) and obs.dtype == np.float32
    assert env.action_space.n == 2 and env.action_space.contains(1) and not env.action_space.contains(2)
    out = env.step(0)
    assert len(out) == 5 and out[1] == pytest.approx(0.1)
    a, b = FlappyBird(), FlappyBird()
    np.testing.assert_array_equal(a.reset(seed=7)[0], b.reset(seed=7)[0])
    for _ in range(30):
        np.testing.assert_array_equal(a.step(1)[0], b.step(1)[0])


def test_pixels_and_rgb_render():
    env = FlappyBird(obs_type="pixels", render_mode="rgb_array", size=64)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (64, 64, 1) and obs.dtype == np.uint8 and env.observation_space.contains(obs)
    frame = env.render()
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8
    assert (frame == (250, 200, 40)).all(-1).sum() > 5  # the bird is drawn
    with pytest.raises(ValueError, match="Unknown obs_type 'rgb'; expected 'state' or 'pixels'"):
        FlappyBird(obs_type="rgb")
    with pytest.raises(ValueError, match="Unknown render_mode 'human'; expected None or 'rgb_array'"):
        FlappyBird(render_mode="human")


def test_a_scripted_player_passes_pipes_and_a_random_one_crashes():
    env = FlappyBird(max_pipes=20)
    pipes, total, terminated = _play(env, 1, lambda o: int(o[3] > -0.06 and o[1] <= 0))
    assert pipes == 20 and not terminated and total > 20  # truncated at the cap, not crashed
    pipes, total, terminated = _play(env, 1, lambda o: env.action_space.sample())
    assert pipes == 0 and terminated and total < 3


@pytest.fixture(scope="module")
def lesson():
    from dlbootcamp import registry

    return registry.load("flappy-dqn")


@pytest.fixture(scope="module")
def quick_run(lesson, tmp_path_factory):
    return quick_cli_run("flappy-dqn", tmp_path_factory)


def test_quick_run_records_the_agent_frames_and_scores(quick_run):
    for name in ("model.keras", "episode_frames.png", "learning_curves.png", "history.csv", "metrics.json"):
        assert (quick_run / name).exists(), name
    record = json.loads((quick_run / "metrics.json").read_text())
    metrics = record["metrics"]
    assert 0.0 <= metrics["mean_pipes"] <= 3.0 and metrics["eval_cap"] == 3.0
    assert metrics["random_mean_pipes"] == 0.0 and metrics["rule_mean_pipes"] == 3.0  # the rule reaches the cap
    assert record["baselines"]["scripted rule"]["mean_pipes"] == 3.0
    assert (quick_run / "agent_view.png").exists()
    # its own training loop logs to TensorBoard like every run (run.scalars)
    assert any((quick_run / "tensorboard").rglob("events.out.tfevents*"))


def test_the_agent_sees_only_the_screen():
    from dlbootcamp.worlds.flappy import ScreenGame, screen

    game = ScreenGame(24, 32)
    obs = game.reset(5)
    assert obs.shape == (24, 32, 2) and obs.dtype == np.float32 and 0.0 <= obs.min() and obs.max() <= 1.0
    np.testing.assert_array_equal(obs[..., 0], obs[..., 1])  # at the start the bird has not moved
    bird_row = lambda frame: (frame[:, 6:10].sum(1) * np.arange(24)).sum() / frame[:, 6:10].sum()  # noqa: E731
    before = bird_row(obs[..., 0])
    for _ in range(3):
        obs, *_ = game.step(0)  # falling: the bird moves down the screen (row 0 is the top)
    assert bird_row(obs[..., 0]) > bird_row(obs[..., 1]) > before
    # the frame is only pixels: the same game state always draws the same frame
    np.testing.assert_array_equal(screen(game.game, 24, 32), obs[..., 0])


def test_the_progress_title_says_what_the_curve_shows(lesson):
    assert lesson.progress_title([1.0, 0.4, 0.2]) == "Pipes passed during training"  # it went down: no claim
    assert lesson.progress_title([3.0]) == "Pipes passed during training"
    assert "0.0 -> 2.5" in lesson.progress_title([0.0, 2.5])


def test_tflite_policy_picks_the_same_actions_as_keras(lesson, quick_run, tmp_path):
    import keras

    from dlbootcamp.export import device_bench

    cfg = lesson.Config.quick()
    data = lesson.load_data(cfg)
    model = keras.saving.load_model(quick_run / "model.keras")
    export_quick(lesson, cfg, {"model": model}, tmp_path, data=data, metric="mean_pipes").raise_if_failed()

    states = data.states.test.x  # screens recorded from games the agent never trained on
    assert states.shape[1:] == (cfg.height, cfg.width, 2) and states.dtype == np.float32
    q_keras = model.predict(states, verbose=0)
    q_lite = device_bench.open_artifact(str(tmp_path / "model.fp32.tflite")).predict(states)
    clear = np.abs(q_keras[:, 1] - q_keras[:, 0]) > 1e-4  # ties may break either way
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(q_lite.argmax(-1)[clear], q_keras.argmax(-1)[clear])
