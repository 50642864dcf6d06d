"""Parity: does an exported artifact still give the Keras model's answers?

The recipe is keras' ``onnx_test.py``: compute the reference outputs with Keras, run the
artifact *in its own runtime* (LiteRT for ``.tflite``, onnxruntime for ``.onnx``, through
``device_bench.open_artifact``, the same loader a phone uses) on the same held-out inputs,
compare with stated tolerances, then once more at another batch size. Per output we measure

- **max abs error**: ``max |artifact - keras|``;
- **max rel error**: max abs error divided by the largest ``|keras|`` value of that output
  (relative to the output's scale, so it stays meaningful near zero);
- **top-1 agreement**, for classifier-like outputs (probabilities along the last axis): the
  share of samples where the artifact's arg-max is the Keras arg-max.

What passes (``judge``):

- ``fp32``: every element within ``atol 1e-4 + rtol 1e-4 x |keras|`` (``numpy.allclose``'s
  rule), at the parity batch size, again at batch 1 and in batches of 3;
- ``fp16``: the same with ``1e-2``;
- ``dynamic`` and ``int8``: the model's own **metric** on held-out data (the lesson's
  ``evaluate``), at most ``quantized_tolerance`` worse than the Keras model's. Without a
  metric (a bare ``.keras`` file): top-1 agreement >= 0.9 for classifier-like outputs, and a
  mean abs error <= 5% of the output's spread (max - min of the Keras output) for the others.

Failures are collected, one line each naming the artifact, the output, the difference and
the tolerance, and raised together (``ExportReport.raise_if_failed``).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from dlbootcamp.export import device_bench

ATOL = {"fp32": 1e-4, "fp16": 1e-2}  # also used as rtol (numpy.allclose's rule)
QUANTIZED_MIN_TOP1 = 0.9  # no metric: share of arg-max answers an int8/dynamic classifier must keep
QUANTIZED_MAX_SPREAD_ERROR = 0.05  # no metric: mean abs error / (max - min of the Keras output)
SECOND_BATCH = 3  # the fp32 re-check feeds batches of this size (and the remainder)
BATCH_ONE_SAMPLES = 16  # the fp32 re-check at batch 1 runs this many samples one at a time
CHUNK = 256  # samples per runtime call for dynamic-batch artifacts


# --- predict functions over Keras and over artifacts ------------------------------------------------

def keras_predict(model, batch_size: int = CHUNK):
    """Keras model as list-in (``model.inputs`` order) / list-out (``model.outputs`` order)."""
    import keras

    def predict(xs: list[np.ndarray]) -> list[np.ndarray]:
        structured_in = keras.tree.pack_sequence_as(model.input, list(xs))
        out = model.predict(structured_in, batch_size=batch_size, verbose=0)
        return [np.asarray(o) for o in keras.tree.flatten(out)]

    return predict


def artifact_predict(runner: device_bench.Runner, sig, *, chunk: int = CHUNK):
    """An artifact as list-in/list-out in the Keras model's order, whatever the runtime's order.

    Tensors are matched by name (LiteRT lists signature inputs alphabetically); an artifact
    with one input and one output is matched by position. Dynamic-batch artifacts are fed
    ``chunk`` samples at a time.
    """
    keras_in, keras_out = [t.name for t in sig.inputs], [t.name for t in sig.outputs]
    feed_from = _positions([t.name for t in runner.inputs], keras_in, "input")  # runtime order <- Keras order
    read_from = _positions(keras_out, [t.name for t in runner.outputs], "output")  # Keras order <- runtime order

    def predict(xs: list[np.ndarray], chunk_size: int = chunk) -> list[np.ndarray]:
        ordered = [np.asarray(xs[i]) for i in feed_from]
        n = len(ordered[0])
        parts = []
        for start in range(0, n, chunk_size):
            out = runner.predict(*[x[start:start + chunk_size] for x in ordered])
            parts.append(out if isinstance(out, list) else [out])
        outs = [np.concatenate([p[j] for p in parts]) for j in range(len(runner.outputs))]
        return [outs[j] for j in read_from]

    return predict


def _positions(wanted: list[str], have: list[str], kind: str) -> list[int]:
    """For each name in ``wanted``, its position in ``have`` (the same names in another order)."""
    if sorted(wanted) == sorted(have):
        return [have.index(n) for n in wanted]
    if len(wanted) == len(have) == 1:
        return [0]
    artifact, keras = (wanted, have) if kind == "input" else (have, wanted)
    raise device_bench.ArtifactError(
        f"the artifact's {kind}s are named {', '.join(artifact)}; the Keras model's are {', '.join(keras)}. "
        f"Verify the artifact against the model it was exported from.")


def structured(predict, model):
    """Wrap a list-in/list-out predict so it takes and returns what ``model.predict`` does.

    Lessons' ``evaluate(predict, data)`` call it with one array, a list (``model.inputs``
    order) or a dict by input name, and read one array, a list or a dict back.
    """
    import keras

    names = [t.name for t in model.inputs]

    def call(x):
        if isinstance(x, dict):  # by name: dict-structured models flatten their keys sorted
            keys = sorted(model.input) if isinstance(model.input, dict) else names
            xs = [x[k] for k in keys]
        elif isinstance(x, (list, tuple)):
            xs = list(x)
        else:
            xs = [x]
        outs = predict([np.asarray(a) for a in xs])
        packed = keras.tree.pack_sequence_as(model.output, outs)
        return list(packed) if isinstance(packed, tuple) else packed

    return call


# --- comparing outputs ------------------------------------------------------------------------------

@dataclasses.dataclass
class OutputDiff:
    name: str
    max_abs_error: float
    max_rel_error: float
    mean_abs_error: float
    spread: float  # max - min of the Keras output
    top1_agreement: float | None  # classifier-like outputs only
    worst_excess: float  # max of |diff| - (atol + rtol |ref|) for the tolerance it was checked at; <= 0 passes

    def to_dict(self) -> dict:
        return {k: (None if v is None else (round(v, 8) if isinstance(v, float) else v))
                for k, v in dataclasses.asdict(self).items()}


def is_classifier(ref: np.ndarray) -> bool:
    """Probabilities along the last axis (softmax-like): at least 2 classes, >= 0, rows sum to 1."""
    ref = np.asarray(ref, np.float64)
    if ref.ndim < 2 or ref.shape[-1] < 2 or ref.size == 0:
        return False
    return bool(ref.min() >= -1e-6 and ref.max() <= 1 + 1e-6 and np.allclose(ref.sum(-1), 1.0, atol=1e-3))


def compare(name: str, ref: np.ndarray, got: np.ndarray, atol: float = 1e-4) -> OutputDiff:
    ref = np.asarray(ref, np.float64)
    got = np.asarray(got, np.float64)
    if ref.shape != got.shape:
        raise device_bench.ArtifactError(f"output {name!r} has shape {list(got.shape)}; Keras gives {list(ref.shape)}.")
    diff = np.abs(got - ref)
    scale = float(np.abs(ref).max()) if ref.size else 0.0
    top1 = float(np.mean(got.argmax(-1) == ref.argmax(-1))) if is_classifier(ref) else None
    return OutputDiff(
        name=name,
        max_abs_error=float(diff.max()) if diff.size else 0.0,
        max_rel_error=float(diff.max() / scale) if diff.size and scale > 0 else 0.0,
        mean_abs_error=float(diff.mean()) if diff.size else 0.0,
        spread=float(ref.max() - ref.min()) if ref.size else 0.0,
        top1_agreement=top1,
        worst_excess=float((diff - (atol + atol * np.abs(ref))).max()) if diff.size else 0.0,
    )


def compare_all(names: list[str], refs: list[np.ndarray], gots: list[np.ndarray],
                atol: float = 1e-4) -> list[OutputDiff]:
    return [compare(n, r, g, atol) for n, r, g in zip(names, refs, gots)]


# --- judging ------------------------------------------------------------------------------------------

def judge_exact(artifact: str, quantization: str, diffs: list[OutputDiff], *, where: str = "") -> list[str]:
    """Failures of an fp32/fp16 artifact against ``ATOL`` (empty = passed)."""
    atol = ATOL[quantization]
    return [f"{artifact}: output {d.name!r} differs from Keras{where} by up to {d.max_abs_error:.3g} (max abs; mean "
            f"{d.mean_abs_error:.3g}{_agreement(d)}), beyond the {quantization} tolerance atol {atol:g} + rtol {atol:g} x "
            f"|keras|" for d in diffs if d.worst_excess > 0]


def _agreement(d: OutputDiff) -> str:
    """How many answers survive, for a classifier-like output: a few outputs far off with every answer kept is a
    different failure from answers that change."""
    return "" if d.top1_agreement is None else f", top-1 agreement {d.top1_agreement:.4f}"


def judge_metric(artifact: str, metric: str, value: float, reference: float, tolerance: float,
                 higher_is_better: bool) -> list[str]:
    loss = (reference - value) if higher_is_better else (value - reference)
    if loss <= tolerance + 1e-12:
        return []
    sign = "-" if higher_is_better else "+"
    return [f"{artifact}: {metric} {value:.4f} vs Keras {reference:.4f} ({sign}{loss:.4f}), "
            f"beyond the quantized tolerance {tolerance:g}"]


def judge_without_metric(artifact: str, diffs: list[OutputDiff]) -> list[str]:
    """dynamic/int8 with no metric: top-1 agreement for classifiers, spread-relative error otherwise."""
    failures = []
    for d in diffs:
        if d.top1_agreement is not None:
            if d.top1_agreement < QUANTIZED_MIN_TOP1:
                failures.append(f"{artifact}: output {d.name!r} top-1 agreement with Keras {d.top1_agreement:.3f}, "
                                f"below the tolerance {QUANTIZED_MIN_TOP1:g}")
        else:
            allowed = QUANTIZED_MAX_SPREAD_ERROR * d.spread
            if d.mean_abs_error > allowed + 1e-12:
                failures.append(f"{artifact}: output {d.name!r} mean abs error {d.mean_abs_error:.3g}, beyond the "
                                f"tolerance {QUANTIZED_MAX_SPREAD_ERROR:g} x output spread {d.spread:.3g} = "
                                f"{allowed:.3g}")
    return failures


def open_runner(path) -> device_bench.Runner:
    return device_bench.open_artifact(os.fspath(path))
