"""Tiny artifacts for the benchmark tests: a digits-sized MLP as .keras, .tflite (fp32, int8) and .onnx.

The tests need real artifacts but not a trained lesson, so this builds a two-layer MLP on an
(8, 8) input named ``image`` with random weights (fixed seed), converts it with the same
converters the exporter uses, and writes a minimal ``dlbootcamp.sidecar/1`` next to each
artifact. Run it by hand with ``python tests/export/data/make_artifacts.py OUT_DIR``.

``make(out_dir)`` builds once per folder: the test files share one folder per session.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys

FILES = ("tiny.keras", "tiny.fp32.tflite", "tiny.int8.tflite", "tiny.onnx")


def _sidecar(path: pathlib.Path, quantization: str, inputs: list[dict], outputs: list[dict]) -> None:
    meta = {"schema": "dlbootcamp.sidecar/1", "lesson": "tiny", "export": "model", "format": path.suffix[1:],
            "quantization": quantization, "inputs": inputs, "outputs": outputs,
            "labels": [str(i) for i in range(10)], "preprocessing": "8x8 floats in [0, 1]"}
    (path.parent / (path.name + ".json")).write_text(json.dumps(meta, indent=2))


def make(out_dir) -> dict[str, pathlib.Path]:
    """Write the tiny artifacts into ``out_dir`` (once) and return name -> path."""
    out = pathlib.Path(out_dir)
    paths = {name: out / name for name in FILES}
    if all(p.exists() for p in paths.values()):
        return paths
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import tensorflow as tf
    import tf2onnx

    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8), name="image")
    x = keras.layers.Flatten(name="flatten")(inputs)
    x = keras.layers.Dense(16, activation="relu", name="hidden")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="probs")(x)
    model = keras.Model(inputs, outputs, name="tiny_mlp")
    model.save(paths["tiny.keras"])

    sig = [tf.TensorSpec([None, 8, 8], tf.float32, name="image")]

    @tf.function(input_signature=sig)
    def serve(image):
        return {"probs": model(image, training=False)}

    concrete = serve.get_concrete_function()
    float_io = ([{"name": "image", "shape": [-1, 8, 8], "dtype": "float32", "range": [0.0, 1.0]}],
                [{"name": "probs", "shape": [-1, 10], "dtype": "float32"}])

    conv = tf.lite.TFLiteConverter.from_concrete_functions([concrete], serve)
    paths["tiny.fp32.tflite"].write_bytes(conv.convert())
    _sidecar(paths["tiny.fp32.tflite"], "fp32", *float_io)

    rng = np.random.default_rng(0)

    def representative():
        for _ in range(32):
            yield [rng.uniform(0, 1, (1, 8, 8)).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_concrete_functions([concrete], serve)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    paths["tiny.int8.tflite"].write_bytes(conv.convert())
    _sidecar(paths["tiny.int8.tflite"], "int8", *float_io)

    tf2onnx.convert.from_function(serve, input_signature=sig, opset=17, output_path=str(paths["tiny.onnx"]))
    _sidecar(paths["tiny.onnx"], "fp32", *float_io)
    return paths


if __name__ == "__main__":
    for name, path in make(sys.argv[1] if len(sys.argv) > 1 else "tiny-artifacts").items():
        print(f"{name}: {path} ({path.stat().st_size} bytes)")
