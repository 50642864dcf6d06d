"""tf.distribute on this machine: the CPU split into two logical devices, and two worker
processes on loopback. Each training runs in its own process because TensorFlow's devices
and cluster are fixed once it starts."""

import json
import os
import pathlib
import subprocess
import sys

import pytest

from dlbootcamp import distribute
from dlbootcamp.errors import UserError

from conftest import needs_fashion_mnist

# Mirrored training averages the same gradients in another order and BatchNorm sees half-batches
# per replica, so the result is close to, not equal to, single-device training.
MIRRORED_TOLERANCE = 0.05  # absolute test accuracy, quick cnn-features, 1 epoch


def _env(**extra):
    env = {**os.environ, "DLBOOTCAMP_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _train(out, name, *extra, env=None, timeout=300):
    cmd = [sys.executable, "-m", "dlbootcamp", "train", "cnn-features", "--quick", "--seed", "0",
           "--out", str(out), "--name", name, *extra]
    return subprocess.run(cmd, env=env or _env(), capture_output=True, text=True, timeout=timeout)


def _metrics(folder):
    return json.loads((pathlib.Path(folder) / "metrics.json").read_text())


@needs_fashion_mnist
def test_mirrored_on_two_logical_cpus_matches_single_device(tmp_path):
    single = _train(tmp_path, "single")
    assert single.returncode == 0, single.stderr[-2000:]
    mirrored = _train(tmp_path, "mirrored", "--distribute", "mirrored", env=_env(DLBOOTCAMP_LOGICAL_CPUS="2"))
    assert mirrored.returncode == 0, mirrored.stderr[-2000:]
    m = _metrics(tmp_path / "mirrored")
    assert m["distribute"] == {"strategy": "mirrored", "replicas": 2, "chief": True}
    assert "global batch 128 = 2 x 64" in mirrored.stdout
    a = _metrics(tmp_path / "single")["metrics"]["test_accuracy"]
    b = m["metrics"]["test_accuracy"]
    assert abs(a - b) <= MIRRORED_TOLERANCE, (a, b)


def test_multiworker_still_refuses_lessons_with_their_own_loop(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}, '
                                    '"task": {"type": "worker", "index": 0}}')
    code, _, err = cli("train", "training", "--quick", "--distribute", "multiworker", "--name", "mw",
                       "--out", tmp_path)
    assert code == 2 and "Lesson 'training' does not support --distribute" in err
    assert err.strip().count("\n") == 0 and not (tmp_path / "mw").exists()


def test_env_describes_the_cluster(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert "multiworker: no TF_CONFIG" in distribute.describe_cluster()
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["h1:1", "h2:2"]}, "task": {"type": "worker", "index": 1}}')
    line = distribute.describe_cluster()
    assert "MultiWorkerMirroredStrategy over 2 task(s) (worker 0=h1:1, worker 1=h2:2)" in line
    assert "this is worker 1 (a worker, writes no run)" in line


def test_strategy_errors_are_one_line():
    with pytest.raises(UserError, match="Unknown --distribute 'ring'; expected one of none, mirrored, multiworker"):
        distribute.make("ring")


def test_multiworker_needs_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(UserError, match="needs the TF_CONFIG environment variable"):
        distribute.make("multiworker")


def test_tf_config_is_checked(monkeypatch):
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}')
    with pytest.raises(UserError, match="TF_CONFIG is not valid"):
        distribute.tf_config()
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}')
    assert not distribute.is_chief()
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"chief": ["c:0"], "worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}')
    assert distribute.is_chief()


def test_custom_loop_lessons_refuse_distribute(cli, tmp_path):
    code, _, err = cli("train", "training", "--quick", "--distribute", "mirrored", "--out", tmp_path)
    assert code == 2 and "Lesson 'training' does not support --distribute" in err


def test_multiworker_needs_a_name(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["127.0.0.1:1"]}, "task": {"type": "worker", "index": 0}}')
    code, _, err = cli("train", "cnn-features", "--quick", "--distribute", "multiworker", "--out", tmp_path)
    assert code == 2 and "--distribute multiworker needs --name NAME" in err
