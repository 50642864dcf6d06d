"""The lesson contract.

A lesson module (`lessons/dayNN_topic.py`) declares, at module level:

- ``LESSON = LessonInfo(...)``: metadata and the quality bar, written with literal values
  only, so the registry reads it without importing the module (or TensorFlow);
- ``Config``: a frozen dataclass with the full-run defaults, one comment per field, and a
  ``quick()`` classmethod returning the smoke preset (runs in seconds);
- ``load_data(cfg)``: the lesson's data with a fixed, seeded held-out split;
- ``build_model(cfg)``: the Keras model that is trained (``train`` builds and compiles it inside
  ``with run.scope():`` - the tf.distribute strategy's scope, or nothing - and says
  ``distribute=True`` in its LessonInfo);
- ``train(cfg, run) -> Trained``: trains, evaluates on held-out data, saves pictures via
  ``run``; returns the models to export and the metrics;
- ``evaluate(predict, data) -> dict``: computes the lesson's metric from a *predict
  function* (NumPy in, NumPy out), so the same code scores Keras, TFLite and ONNX;
- ``representative_data(data, n, split="train")``: ``n`` model inputs from a split - the
  train split calibrates int8, the test split feeds the parity check. An array for a
  single-input model, a list of arrays (in ``model.inputs`` order) for a multi-input one, and a
  dict export name -> that, for lessons with several exports.
- optional ``SIDECAR`` or ``sidecar(data) -> dict``: what a device needs beyond tensor specs
  (label names, normalisation, vocabulary); it is written into every artifact's sidecar.

Lessons that export several models (an encoder and a decoder step, say) list them in
``Trained.exports``; their ``evaluate`` then receives a dict name -> predict function.
"""

from __future__ import annotations

import dataclasses
import operator
from typing import Any, Callable, Mapping

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


@dataclasses.dataclass(frozen=True)
class Bar:
    """A quality bar: ``metric op threshold``, measured on held-out data after a full run."""

    metric: str
    op: str
    threshold: float

    def __post_init__(self):
        if self.op not in _OPS:
            raise ValueError(
                f"Invalid bar operator {self.op!r}. Expected one of {sorted(_OPS)}."
            )

    @property
    def higher_is_better(self) -> bool:
        return self.op in (">=", ">")

    def passed(self, metrics: Mapping[str, float]) -> bool:
        return bool(_OPS[self.op](float(metrics[self.metric]), self.threshold))

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.threshold:g}"


@dataclasses.dataclass(frozen=True)
class LessonInfo:
    """What a lesson is, declared once at the top of its module with literal values."""

    id: str  # what the CLI takes, e.g. "cnn-features"
    day: int  # the bootcamp day
    title: str
    seeds: tuple[str, ...]  # course material it comes from (../shared/seeds/NNN_*.txt)
    topics: tuple[str, ...]  # the ideas it teaches
    summary: str  # one paragraph
    bars: tuple[Bar, ...]  # every bar must pass after a full run
    # How much the bar metric of an int8 (or dynamic-range) export may lose against the
    # Keras model, in the metric's own units (0.01 = one accuracy point).
    quantized_tolerance: float = 0.01
    # The same for full-integer artifacts (int8-full, micro: int8 input and output, for microcontrollers
    # and NPUs), which cannot keep a layer in float; None: ``quantized_tolerance``.
    full_integer_tolerance: float | None = None
    # True when train() builds and compiles its models inside ``with run.scope():`` and trains
    # with model.fit, so ``--distribute`` works (custom loops such as GANs and DQN leave it False).
    distribute: bool = False
    # The simple methods a practitioner would try first, by name, each scored by ``train`` on the
    # same held-out data as the model (``Trained.baselines``) and recorded in metrics.json.
    baselines: tuple[str, ...] = ()
    # Where no baseline applies, why (e.g. the bar is a theorem, or the lesson has no task to
    # compare on); empty when ``baselines`` names some.
    no_baseline: str = ""
    # True when train() trains through one model.fit that gets ``run.callbacks()``, so
    # ``dlbootcamp train ID --resume NAME`` can continue a killed run from its last finished
    # epoch (keras.callbacks.BackupAndRestore). Lessons with their own training loops, or with
    # several fits, leave it False and refuse --resume.
    resumable: bool = False
    # The installed datasets the lesson reads (``"fashion_mnist"``, ``"kjv"``: names
    # ``dlbootcamp.data.missing`` knows), so ``dlbootcamp lessons`` can say which are missing here
    # before anything is imported; generated worlds and data that ships with a dependency need none.
    datasets: tuple[str, ...] = ()

    @property
    def metric(self) -> str:
        """The headline metric: the one the first bar is about."""
        return self.bars[0].metric


@dataclasses.dataclass
class Trained:
    """What ``train`` returns."""

    exports: dict[str, Any]  # name -> keras.Model to export; "model" for a single one
    metrics: dict[str, float]  # held-out metrics; includes every bar's metric
    history: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)  # printed after the run
    # name -> held-out metrics of each baseline the LessonInfo declares, under the same metric
    # names as the model's where the two are comparable (e.g. {"test_accuracy": 0.96}).
    baselines: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)

    @property
    def model(self):
        return self.exports["model"] if "model" in self.exports else next(iter(self.exports.values()))


def check_baselines(info: LessonInfo, trained: Trained) -> dict[str, dict[str, float]]:
    """The baselines ``train`` scored, as plain floats; ValueError if they differ from the declared ones."""
    declared, scored = set(info.baselines), set(trained.baselines)
    if declared != scored:
        raise ValueError(f"Lesson {info.id!r} declares baselines {sorted(declared)} but train() scored "
                         f"{sorted(scored)}; return every declared baseline in Trained.baselines, and no other.")
    return {name: {k: float(v) for k, v in trained.baselines[name].items()} for name in info.baselines}


def config_from_dict(config_cls, values: Mapping[str, Any]):
    """Rebuild a frozen Config from its JSON form, ignoring nothing silently."""
    fields = {f.name for f in dataclasses.fields(config_cls)}
    unknown = set(values) - fields
    if unknown:
        raise ValueError(f"Unknown config fields {sorted(unknown)}; expected some of {sorted(fields)}.")
    converted = {}
    for f in dataclasses.fields(config_cls):
        if f.name in values:
            v = values[f.name]
            converted[f.name] = tuple(v) if isinstance(v, list) else v
    return config_cls(**converted)
