"""Versions and devices, for run records and bug reports (`dlbootcamp env`)."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys

PACKAGES = ("dlbootcamp", "tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert",
            "tensorflow-datasets", "numpy", "scikit-learn", "scikit-image", "matplotlib")


def versions(packages=PACKAGES) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, object]:
    return {"platform": platform.platform(), "machine": platform.machine(), "cpu": cpu_model(),
            "cores": os.cpu_count(), "python": sys.version.split()[0]}


def devices() -> list[str]:
    """Devices TensorFlow sees (imports TensorFlow)."""
    import tensorflow as tf

    return [f"{d.device_type}:{d.name}" for d in tf.config.list_logical_devices()]
