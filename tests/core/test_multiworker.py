"""--distribute multiworker for real: two worker processes on 127.0.0.1 train `super-resolution --quick`
(its photos ship with scikit-image) through dlbootcamp.distributed_fit, then a killed cluster resumes
from the chief's checkpoint. Every process runs in its own process group, under a timeout, and is
killed in a `finally`. About 40 s in all on the 2-core CI machine."""

import json
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import time

LESSON = "super-resolution"
# Same global batch (64) and the same shuffled batches; each worker computes half of each batch, the
# gradients are summed in another order: the final validation MSE lands within 5% of one process
# (measured: 0.003953 two workers vs 0.003957 one process, 3 epochs).
VAL_LOSS_TOLERANCE = 0.05  # relative
TIMEOUT = 240  # seconds, per cluster run


def _env(**extra):
    env = {**os.environ, "DLBOOTCAMP_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _cmd(out, name, epochs, *extra):
    return [sys.executable, "-m", "dlbootcamp", "train", LESSON, "--quick", "--seed", "0", "--epochs", str(epochs),
            "--out", str(out), "--name", name, *extra]


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _start_cluster(out, name, epochs, logs: pathlib.Path, tag: str):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for i in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
        log = open(logs / f"{tag}-worker{i}.log", "w")
        scratch = logs / f"{tag}-tmp{i}"  # a killed worker's temporary run folder stays in the test's folder
        scratch.mkdir()
        procs.append(subprocess.Popen(_cmd(out, name, epochs, "--distribute", "multiworker"), stdout=log,
                                      stderr=subprocess.STDOUT, env=_env(TF_CONFIG=tf_config, TMPDIR=str(scratch)),
                                      start_new_session=True))
        log.close()
    return procs


def _wait(procs, timeout):
    deadline = time.monotonic() + timeout
    return [p.wait(timeout=max(1, deadline - time.monotonic())) for p in procs]


def _kill(procs):
    for p in procs:
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        p.wait(timeout=30)


def _last_val_loss(run_dir):
    rows = (pathlib.Path(run_dir) / "history.csv").read_text().strip().splitlines()
    head = rows[0].split(",")
    return float(rows[-1].split(",")[head.index("val_loss")]), len(rows) - 1


def test_two_workers_train_like_one_process(tmp_path):
    t0 = time.monotonic()
    single = subprocess.run(_cmd(tmp_path, "single", 3), env=_env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert single.returncode == 0, single.stderr[-2000:]
    procs = _start_cluster(tmp_path, "two", 3, tmp_path, "two")
    try:
        codes = _wait(procs, TIMEOUT)
    finally:
        _kill(procs)
    logs = [(tmp_path / f"two-worker{i}.log").read_text() for i in range(2)]
    assert codes == [0, 0], "\n".join(log[-2000:] for log in logs)
    run = tmp_path / "two"
    for f in ("model.keras", "metrics.json", "history.csv", "learning_curves.png", "config.json"):
        assert (run / f).exists(), f
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["distribute"] == {"strategy": "multiworker", "replicas": 2, "chief": True}
    assert "global batch 64 = 2 x 32" in logs[0]
    assert not (tmp_path / ".two.backup").exists()  # the checkpoints go when the run is finished
    assert not list((tmp_path / "two-tmp1").iterdir())  # and so does the worker's temporary run folder
    (a, n_a), (b, n_b) = _last_val_loss(tmp_path / "single"), _last_val_loss(run)
    assert n_a == n_b == 3
    assert abs(a - b) <= VAL_LOSS_TOLERANCE * a, (a, b)
    print(f"val_loss one process {a:.6f}, two workers {b:.6f}; {time.monotonic() - t0:.1f} s")


def test_a_killed_cluster_resumes_from_the_chiefs_checkpoint(tmp_path):
    epochs = 12
    ckpts = tmp_path / ".mw.backup" / "fit1" / "chief"
    procs = _start_cluster(tmp_path, "mw", epochs, tmp_path, "first")
    try:
        deadline = time.monotonic() + TIMEOUT
        while not list(ckpts.glob("ckpt-*.index")):  # the first finished epoch
            assert time.monotonic() < deadline, "no checkpoint in time"
            assert all(p.poll() is None for p in procs), "a worker ended before its first checkpoint"
            time.sleep(0.05)
        os.killpg(procs[1].pid, signal.SIGKILL)  # worker 1 dies; the chief would wait on it for ever
        procs[1].wait(timeout=30)
        _kill(procs)
    finally:
        _kill(procs)
    saved = max(int(re.search(r"ckpt-(\d+)", p.name)[1]) for p in ckpts.glob("ckpt-*.index"))
    assert 1 <= saved < epochs, saved
    assert not (tmp_path / "mw").exists()
    procs = _start_cluster(tmp_path, "mw", epochs, tmp_path, "again")
    try:
        codes = _wait(procs, TIMEOUT)
    finally:
        _kill(procs)
    logs = [(tmp_path / f"again-worker{i}.log").read_text() for i in range(2)]
    assert codes == [0, 0], "\n".join(log[-2000:] for log in logs)
    for log in logs:  # both workers restore the chief's copy: the same epoch
        assert f"resumed from checkpoint after epoch {saved} (chief)" in log, log[-2000:]
    assert f"epoch {saved + 1}/{epochs}" in logs[0] and f"epoch {saved}/{epochs}" not in logs[0]
    val_loss, rows = _last_val_loss(tmp_path / "mw")
    assert rows >= saved + 1  # every epoch in the curves, before the kill and after (early stopping may end it)
    assert (tmp_path / "mw" / "model.keras").exists()
    print(f"killed after epoch {saved} of {epochs}; resumed there; {rows} epochs in the curves")


# --- the trainer itself, in this process, on TensorFlow's default strategy (one replica) ------------

def _model():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _data():
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64") + (x[:, 1] > 1).astype("int64")


def test_trainer_gives_fit_history_and_resumes_from_its_checkpoint(tmp_path, capsys):
    import keras
    import tensorflow as tf

    from dlbootcamp import distributed_fit

    x, y = _data()
    strategy = tf.distribute.get_strategy()
    csv = tmp_path / "history.csv"
    h = distributed_fit.fit(_model(), x, y, strategy=strategy, epochs=2, batch_size=16, validation_data=(x, y),
                            callbacks=[keras.callbacks.CSVLogger(str(csv))], checkpoint_dir=tmp_path / "ck")
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy"} and len(h.history["loss"]) == 2
    reference = _model()
    reference.fit(x, y, epochs=1, batch_size=64, shuffle=False, verbose=0)
    ours = distributed_fit.fit(_model(), x, y, strategy=strategy, epochs=1, batch_size=64, shuffle=False)
    # one full batch, one step: the same update as Keras' fit, the same loss logged
    assert abs(ours.history["loss"][0] - reference.history.history["loss"][0]) < 1e-5
    again = distributed_fit.fit(_model(), x, y, strategy=strategy, epochs=3, batch_size=16, validation_data=(x, y),
                                callbacks=[keras.callbacks.CSVLogger(str(csv))], checkpoint_dir=tmp_path / "ck")
    assert "resumed from checkpoint after epoch 2 (chief)" in capsys.readouterr().out
    assert again.history["loss"][:2] == h.history["loss"] and len(again.history["loss"]) == 3
    assert len(csv.read_text().strip().splitlines()) == 1 + 3  # the restored epochs are in the CSV too


def test_trainer_early_stopping_restores_the_best_weights():
    import keras
    import tensorflow as tf

    from dlbootcamp import distributed_fit

    x, y = _data()
    model = _model()
    stop = keras.callbacks.EarlyStopping("val_accuracy", patience=1, restore_best_weights=True)
    h = distributed_fit.fit(model, x, y, strategy=tf.distribute.get_strategy(), epochs=50, batch_size=16,
                            validation_data=(x, 1 - y.clip(0, 1)), callbacks=[stop])  # val gets worse as it learns
    assert len(h.history["loss"]) < 50 and stop.best_weights is not None
    best = max(h.history["val_accuracy"])
    assert abs(float(model.evaluate(x, 1 - y.clip(0, 1), verbose=0)[1]) - best) < 1e-6


def test_trainer_refuses_what_it_cannot_do_across_workers():
    import keras
    import pytest

    from dlbootcamp import distributed_fit
    from dlbootcamp.errors import UserError

    x, y = _data()
    with pytest.raises(UserError, match="does not take validation_split, sample_weight or class_weight"):
        distributed_fit.fit(_model(), x, y, strategy=None, validation_split=0.2)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss=["mse"])
    with pytest.raises(UserError, match="trains a model compiled with one loss"):
        distributed_fit.fit(model, x, y, strategy=None)
