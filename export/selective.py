"""Selective float layers: keep the int8 layers that cost the metric in float, until it holds.

When an int8 artifact loses more of the caller's metric than ``max_drop`` on the *validation*
split, the format's quantizer ranks the layers by their quantization error (TFLite: LiteRT's
``QuantizationDebugger``, ``tflite.Int8Debugger``; ONNX: onnxruntime's QDQ debugging tools,
``onnx.Int8Quantizer``), and the search keeps the worst layer in float, re-quantizes, scores
again on validation, and repeats, one layer at a time, until the metric is within ``max_drop``
of Keras or a stop says why not (every ranked layer in float, or ``MAX_STEPS`` steps). Nothing
here quantizes: the libraries do; this module only decides which layers stay float and records
each step (layers in float, validation metric, size, p50 latency at batch 1) for the report.

The artifact the search chooses is then written and judged like every other one, once, on the
test split. OpenVINO NNCF's ``quantize_with_accuracy_control`` does the same for OpenVINO
models; this does it for TFLite and ONNX, with the lesson's own metric.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
from typing import Any, Callable

import numpy as np

MAX_STEPS = 12  # layers tried in float, one per step, before the search stops
LATENCY_RUNS = 30  # batch-1 runs timed per step (p50): cheap, and only a guide; `dlbootcamp bench` measures


@dataclasses.dataclass
class LayerError:
    """One Keras layer's int8 error, as the format's quantization debugger measures it.

    ``score``: the worst of the layer's tensors, each the RMS of (float - dequantized int8) over the
    typical float value (``relative_error``), the quantized op fed the same input as the float one.
    """

    layer: str
    score: float
    nodes: list[str]  # TFLite: output tensor names (denylisted_nodes); ONNX: node names (nodes_to_exclude)
    ops: list[str]


def relative_error(float_values, dequantized) -> float:
    """RMS of (float - dequantized) over the typical float value (median |x| of the non-zero ones).

    A tensor whose range is set by a few extreme values quantizes its ordinary values to nothing:
    its error is then of the order of those values (score ~1), where a healthy tensor scores ~0.01.
    """
    values = np.asarray(float_values, np.float64)
    error = values - np.asarray(dequantized, np.float64)
    typical = np.median(np.abs(values[values != 0])) if np.any(values != 0) else 0.0
    return float(np.sqrt(np.mean(error ** 2)) / typical) if typical > 0 else 0.0


def layer_of(name: str, layers: list[str], outputs: list[str]) -> str:
    """The Keras layer a converted tensor or node comes from: ``model_1/relu3_1/MatMul;...`` -> ``relu3``."""
    for part in re.split(r"[/;]", name.split(";")[0]):
        for candidate in (part, re.sub(r"_\d+$", "", part)):
            if candidate in layers:
                return candidate
    if name.startswith(("PartitionedCall", "StatefulPartitionedCall", "Identity")) and outputs:
        return outputs[0]  # the graph's output tensor: the model's last layer
    return name.split(";")[0]


def readers(model) -> dict[str, list[str]]:
    """Keras layer name -> the layers that read its output (a tensor is float only if both ends are)."""
    out: dict[str, list[str]] = {}
    for layer in model.layers:
        for node in getattr(layer, "_inbound_nodes", []):
            for tensor in getattr(node, "input_tensors", []):
                history = getattr(tensor, "_keras_history", None)
                producer = history.operation.name if history is not None else None
                if producer and producer != layer.name and layer.name not in out.setdefault(producer, []):
                    out[producer].append(layer.name)
    return out


def rank(scored: list[tuple[str, float, str, str]], model) -> tuple[list[LayerError], dict[str, list[str]]]:
    """(tensor or node, score, node to exclude, op) rows -> LayerErrors per Keras layer, worst first."""
    layers = [layer.name for layer in model.layers]
    outputs = [getattr(t, "_keras_history", None).operation.name for t in model.outputs
               if getattr(t, "_keras_history", None) is not None]
    grouped: dict[str, LayerError] = {}
    for name, score, node, op in scored:
        entry = grouped.setdefault(layer_of(name, layers, outputs), LayerError(layer_of(name, layers, outputs),
                                                                                0.0, [], []))
        entry.score = max(entry.score, 0.0 if np.isnan(score) else score)
        if node not in entry.nodes:
            entry.nodes.append(node)
        if op not in entry.ops:
            entry.ops.append(op)
    return sorted(grouped.values(), key=lambda e: -e.score), readers(model)


def step_layers(layer: str, ranking: list[LayerError], reading: dict[str, list[str]]) -> list[str]:
    """What one search step keeps in float: ``layer`` and the ranked layers reading its output (a float
    layer's output is quantized again where an int8 layer reads it)."""
    ranked = {e.layer for e in ranking}
    return [layer, *(r for r in reading.get(layer, []) if r in ranked)]


@dataclasses.dataclass
class Step:
    float_layers: list[str]
    metric_value: float  # on the validation split
    size_bytes: int
    latency_ms: float | None = None  # p50 at batch 1, one thread

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Search:
    """The steps of one search and how it ended; ``converted`` is the chosen step's artifact."""

    metric: str
    reference: float  # Keras on the validation split
    max_drop: float
    higher_is_better: bool
    steps: list[Step] = dataclasses.field(default_factory=list)
    ranking: list[dict] = dataclasses.field(default_factory=list)  # layer, relative error, ops (worst first)
    met: bool = False
    stop: str = ""
    chosen: int = 0  # index of the step whose artifact is written
    converted: Any = None

    def drop(self, value: float) -> float:
        return (self.reference - value) if self.higher_is_better else (value - self.reference)

    def within(self, value: float) -> bool:
        return self.drop(value) <= self.max_drop + 1e-12

    def to_dict(self) -> dict:
        return {"split": "validation", "metric": self.metric, "keras_value": self.reference,
                "max_drop": self.max_drop, "met": self.met, "stop": self.stop, "chosen_step": self.chosen,
                "float_layers": self.steps[self.chosen].float_layers if self.steps else [],
                "steps": [s.to_dict() for s in self.steps], "ranking": self.ranking}


def score_content(content: bytes, suffix: str, sig, model, validate: Callable, metric: str,
                  latency: bool = True) -> tuple[float, float | None]:
    """The metric of an in-memory artifact on validation (``validate(predict)``), and its batch-1 p50."""
    from dlbootcamp.export import device_bench, verify

    with tempfile.TemporaryDirectory(prefix="dlbootcamp-selective-") as folder:
        path = os.path.join(folder, f"candidate{suffix}")
        with open(path, "wb") as f:
            f.write(content)
        runner = verify.open_runner(path)
        value = float(validate(verify.structured(verify.artifact_predict(runner, sig), model))[metric])
        p50 = None
        if latency:
            feeds = device_bench.make_feeds(runner, batch=runner.batch_fixed or 1)[0]
            m = device_bench.measure(runner.make_call(feeds), runs=LATENCY_RUNS, warmup=3, max_secs=2.0)
            p50 = device_bench.latency_stats(m["times_ns"])["p50"]
        return value, p50


def search(plain, make_quantizer: Callable[[], Any], *, suffix: str, sig, model, validate: Callable, metric: str,
           reference: float, max_drop: float, higher_is_better: bool, log=None,
           max_steps: int = MAX_STEPS) -> Search:
    """Score ``plain`` (the all-int8 conversion) on validation; if it misses ``max_drop``, search.

    ``make_quantizer()`` gives an object with ``ranking`` (``LayerError``s, worst first),
    ``step(layer)`` (the layers one step keeps in float: the layer and what reads it) and
    ``build(float_layers)`` -> a converted artifact with ``content``; it is made only when needed.
    """
    log = log or (lambda message: None)
    result = Search(metric, float(reference), float(max_drop), higher_is_better)
    value, p50 = score_content(plain.content, suffix, sig, model, validate, metric)
    result.steps.append(Step([], value, len(plain.content), p50))
    result.converted = plain
    log(f"    all int8: validation {metric} {value:.4f} (keras {reference:.4f}, allowed drop {max_drop:g})")
    if result.within(value):
        result.met, result.stop = True, "all-int8 artifact within the budget; no layer kept in float"
        return result
    quantizer = make_quantizer()
    result.ranking = [{"layer": e.layer, "relative_error": round(float(e.score), 6), "ops": list(e.ops)}
                      for e in quantizer.ranking]
    best, best_converted = 0, plain
    float_layers: list[str] = []
    for entry in quantizer.ranking:
        if entry.layer in float_layers:
            continue
        if len(result.steps) > max_steps:
            break
        float_layers = [*float_layers, *(l for l in quantizer.step(entry.layer) if l not in float_layers)]
        converted = quantizer.build(float_layers)
        value, p50 = score_content(converted.content, suffix, sig, model, validate, metric)
        result.steps.append(Step(list(float_layers), value, len(converted.content), p50))
        log(f"    + {', '.join(quantizer.step(entry.layer))} in float: validation {metric} {value:.4f}, {len(converted.content)} bytes")
        if result.drop(value) < result.drop(result.steps[best].metric_value):
            best, best_converted = len(result.steps) - 1, converted
        if result.within(value):
            result.met, result.chosen, result.converted = True, len(result.steps) - 1, converted
            result.stop = f"within the budget with {len(float_layers)} layer(s) in float"
            if len(float_layers) >= len(quantizer.ranking):
                result.stop += (" - every ranked layer, so nothing computes in int8 any more: the float artifact "
                                "does the same job")
            return result
    ranked = len(quantizer.ranking)
    why = (f"every quantized layer ({ranked}) is in float" if len(float_layers) >= ranked
           else f"stopped after {max_steps} steps ({len(float_layers)} of {ranked} ranked layers in float)")
    result.chosen, result.converted = best, best_converted
    result.stop = (f"{why} and validation {metric} still misses the budget (best {result.steps[best].metric_value:.4f}"
                   f" vs keras {reference:.4f}, allowed drop {max_drop:g}); the artifact is the best step's")
    return result
