"""Export trained Keras models to TFLite and ONNX, verify them, and benchmark them.

One module per format (``tflite``, ``onnx``), both starting from ``serving`` (the named,
frozen TensorFlow function a converter traces), plus ``verify`` (parity against Keras),
``sidecar`` (what a device needs to feed an artifact), ``keras_io`` (safe-mode ``.keras``
loading), ``api`` (``export_and_verify``: convert, write, check, report), ``device_bench``
(the measuring code, which runs without TensorFlow), ``bench`` and ``report``. Export never
imports a lesson: it receives a model, data and a metric (``dlbootcamp.app.pipeline`` brings a
lesson's). Import the submodule you need; this file imports nothing heavy.
"""
