"""Training beyond one device, on TensorFlow's own distribution engine (tf.distribute).

``--distribute none`` trains on the default device (a GPU when TensorFlow sees one, with no
flag). ``mirrored`` copies the model to every GPU TensorFlow sees - or, without GPUs, to the
logical CPU devices it was given - and averages gradients. ``multiworker`` reads the standard
``TF_CONFIG`` and uses ``MultiWorkerMirroredStrategy`` across processes or machines; the chief
writes the run. Keras 3's ``model.fit`` fails under that strategy (keras-team/keras#20585), so
under ``multiworker`` a lesson's ``model.fit`` runs on :mod:`dlbootcamp.distributed_fit`, TensorFlow's
documented custom training loop, which checkpoints every epoch so a restarted cluster resumes.

A lesson's ``batch_size`` is the *global* batch: each of N replicas gets ``batch_size / N``.
"""

from __future__ import annotations

import json
import os

from dlbootcamp.errors import UserError

STRATEGIES = ("none", "mirrored", "multiworker")
LOGICAL_CPUS_ENV = "DLBOOTCAMP_LOGICAL_CPUS"  # split the CPU into N logical devices (for testing)


def split_cpu(n: int) -> None:
    """Give TensorFlow ``n`` logical CPU devices. Must run before TensorFlow initialises devices."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)


def _apply_env_split() -> None:
    raw = os.environ.get(LOGICAL_CPUS_ENV)
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise UserError(f"Invalid {LOGICAL_CPUS_ENV}={raw!r}: expected a positive integer (number of logical CPUs).")
        try:
            split_cpu(int(raw))
        except RuntimeError:  # already initialised: keep what TensorFlow has
            pass


def tf_config() -> dict | None:
    """The parsed ``TF_CONFIG``, checked; None when unset."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None
    try:
        cfg = json.loads(raw)
        cluster, task = cfg["cluster"], cfg["task"]
        members = cluster[task["type"]]
        int(task["index"])
        if not isinstance(members, list) or int(task["index"]) >= len(members):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise UserError('TF_CONFIG is not valid: expected JSON like {"cluster": {"worker": ["host1:port", '
                        '"host2:port"]}, "task": {"type": "worker", "index": 0}} with the index inside the list.') from None
    return cfg


def is_chief() -> bool:
    """The chief writes the run: task type 'chief', or worker 0 when the cluster has no chief."""
    cfg = tf_config()
    if cfg is None:
        return True
    task = cfg["task"]
    if "chief" in cfg["cluster"]:
        return task["type"] == "chief"
    return task["type"] == "worker" and int(task["index"]) == 0


def make(name: str):
    """The tf.distribute strategy for ``name`` (None for ``none``: the default device placement)."""
    if name not in STRATEGIES:
        raise UserError(f"Unknown --distribute {name!r}; expected one of {', '.join(STRATEGIES)}.")
    if name == "none":
        return None
    if name == "multiworker":
        if tf_config() is None:
            raise UserError("--distribute multiworker needs the TF_CONFIG environment variable describing the cluster "
                            "(see README, 'Scaling out').")
    _apply_env_split()
    import tensorflow as tf

    if name == "mirrored":
        gpus = [d.name for d in tf.config.list_logical_devices("GPU")]
        devices = gpus or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    return tf.distribute.MultiWorkerMirroredStrategy()


def describe() -> str:
    """What `--distribute mirrored` would use on this machine (imports TensorFlow)."""
    _apply_env_split()
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    cpus = tf.config.list_logical_devices("CPU")
    if gpus:
        default = f"default: {gpus[0].name} (TensorFlow places work on the GPU with no flag)"
        mirrored = f"mirrored over {len(gpus)} GPU(s)"
    else:
        default = "default: CPU"
        mirrored = f"mirrored over {len(cpus)} logical CPU device(s)"
    return f"{default}; {mirrored}; {describe_cluster()}"


def describe_cluster() -> str:
    """What ``--distribute multiworker`` would use, from ``TF_CONFIG`` (reads no TensorFlow state)."""
    cfg = tf_config()
    if cfg is None:
        return "multiworker: no TF_CONFIG (set it to describe the cluster; see README, 'Scaling out')"
    members = ", ".join(f"{kind} {i}={addr}" for kind, addrs in cfg["cluster"].items() for i, addr in enumerate(addrs))
    task = cfg["task"]
    role = "the chief, writes the run" if is_chief() else "a worker, writes no run"
    n = sum(len(a) for a in cfg["cluster"].values())
    return (f"multiworker: MultiWorkerMirroredStrategy over {n} task(s) ({members}); this is {task['type']} "
            f"{task['index']} ({role}); model.fit runs on dlbootcamp.distributed_fit")
