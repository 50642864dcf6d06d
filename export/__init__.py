"""Export trained Keras models to TFLite and ONNX, verify them, and benchmark them.

One module per format (``tflite``, ``onnx``), plus ``verify`` (parity against Keras),
``sidecar`` (what a device needs to feed an artifact), ``device_bench`` (the measuring code,
which runs without TensorFlow) and ``report``. Export never imports a lesson: it receives
a model, data and a metric. Import the submodule you need; this file imports nothing heavy.
"""
