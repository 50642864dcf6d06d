"""tf.distribute on this machine: the CPU split into two logical devices, and two worker
processes on loopback. Each training runs in its own process because TensorFlow's devices
and cluster are fixed once it starts."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import pytest

from dlbootcamp import distribute, records
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


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _start_workers(out, name, ports, epochs):
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for i in range(len(ports)):
        env = _env(TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}))
        cmd = [sys.executable, "-m", "dlbootcamp", "train", "cnn-features", "--quick", "--seed", "0",
               "--epochs", str(epochs), "--distribute", "multiworker", "--out", str(out), "--name", name]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                      start_new_session=True))
    return procs


def _wait(procs, timeout):
    deadline = time.monotonic() + timeout
    outs = []
    try:
        for p in procs:
            out, _ = p.communicate(timeout=max(1, deadline - time.monotonic()))
            outs.append(out)
    finally:
        for p in procs:  # bounded: nothing outlives the test
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    return [p.returncode for p in procs], outs


@needs_fashion_mnist
def test_two_workers_on_loopback_train_and_the_chief_writes_the_run(tmp_path):
    procs = _start_workers(tmp_path, "mw", _free_ports(2), epochs=2)
    codes, outs = _wait(procs, timeout=400)
    assert codes == [0, 0], "\n".join(o[-1500:] for o in outs)
    m = _metrics(tmp_path / "mw")
    assert m["distribute"]["strategy"] == "multiworker" and m["distribute"]["replicas"] == 2
    assert [r["run"] for r in records.list_runs(tmp_path)] == ["mw"]  # only the chief recorded it
    assert not (tmp_path / ".mw.backup").exists()  # a finished run removes its backup


@needs_fashion_mnist
def test_killed_workers_resume_from_the_backup(tmp_path):
    ports = _free_ports(2)
    procs = _start_workers(tmp_path, "mr", ports, epochs=4)
    backup = tmp_path / ".mr.backup" / "worker-0"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not any(backup.rglob("*.json")):  # an epoch was backed up
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.5)
    for p in procs:  # kill mid-run, as a preempted machine would be
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    assert any(backup.rglob("*.json")), "no backup was written before the workers were killed"
    assert not (tmp_path / "mr").exists()
    codes, outs = _wait(_start_workers(tmp_path, "mr", _free_ports(2), epochs=4), timeout=400)
    assert codes == [0, 0], "\n".join(o[-1500:] for o in outs)
    history = (tmp_path / "mr" / "history.csv").read_text().strip().splitlines()
    assert len(history) - 1 < 4, "the restarted run trained all epochs again instead of resuming"


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
