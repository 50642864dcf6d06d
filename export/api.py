"""Export Keras models to every format, prove each artifact works, and report.

This is the one call the CLI, the tour and the lesson pipeline make::

    from dlbootcamp.export import api
    report = api.export_and_verify({"model": model}, "out/", inputs=x_test[:200],
                                   calibration=x_train[:200], evaluate=my_metric, metric="accuracy")
    print(report.table())
    report.raise_if_failed()

For every model and every (format, quantization) pair it

1. converts (``tflite.convert`` / ``onnx.convert``), built-in ops only;
2. writes the artifact and its sidecar under a temporary name, renamed when complete
   (``OUT/NAME.{fp32,fp16,dynamic,int8,int8-full}.tflite``, ``OUT/NAME.onnx``, each with ``.json``);
3. loads it back in its own runtime and runs it on held-out inputs (``verify``);
4. scores it with the caller's metric, when there is one, exactly as the Keras model is scored;

then judges every row (``verify``'s docstring has the rules), writes
``OUT/NAME.export-report.json`` and returns an :class:`ExportReport`. Nothing existing is
overwritten unless ``force=True``; every file that would be is checked before any work starts.

The export layer knows nothing about lessons: ``dlbootcamp.app.pipeline`` feeds it a lesson's
data, metric and sidecar extras. ``export_keras_file`` and ``verify_artifact`` serve the
CLI's bare ``.keras`` and ``verify`` cases.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import pathlib
import time
from typing import Any, Callable

import numpy as np

from dlbootcamp import atomic
from dlbootcamp.errors import ExportError, UserError

from dlbootcamp.export.device_bench import CALIBRATED, FORMATS, QUANTIZATIONS  # noqa: F401 (re-exported)

QUANTIZED = ("dynamic", *CALIBRATED)  # judged by the caller's metric (or top-1 / spread error), not by atol
REPORT_SUFFIX = ".export-report.json"  # NAME.export-report.json: two models exported into one folder don't collide
REPORT_FILE = "export-report.json"  # the name before reports were named per model; still read
REPORT_SCHEMA = "dlbootcamp.export-report/1"
GENERATED_SAMPLES = 64  # parity inputs generated from the input spec when no data is given


# --- choices ------------------------------------------------------------------------------------

class Choices(tuple):
    """A checked tuple of choices; ``parse_choices`` hands it back as is, so each call parses its flags once."""

    allowed: tuple[str, ...] = ()


def parse_choices(text, allowed: tuple[str, ...], flag: str) -> tuple[str, ...]:
    """``"tflite,onnx"`` (or a sequence) -> a checked tuple in the order of ``allowed``."""
    if isinstance(text, Choices) and text.allowed == tuple(allowed):
        return text
    items = [s.strip() for s in (text.split(",") if isinstance(text, str) else text) if s.strip()]
    unknown = [s for s in items if s not in allowed]
    expected = f"expected a comma-separated list of {', '.join(allowed)}."
    if not items:
        raise UserError(f"Invalid {flag} {text!r}: no name given; {expected}")
    if unknown:
        raise UserError(f"Invalid {flag} {','.join(items)}: unknown {'name' if len(unknown) == 1 else 'names'} "
                        f"{', '.join(map(repr, unknown))}; {expected}")
    parsed = Choices(a for a in allowed if a in items)
    parsed.allowed = tuple(allowed)
    return parsed


def artifact_name(name: str, fmt: str, quantization: str) -> str:
    if fmt == "micro":
        return f"{name}.micro.tflite"
    if fmt == "onnx":
        return f"{name}.int8.onnx" if quantization == "int8" else f"{name}.onnx"
    return f"{name}.{quantization}.tflite"


def plan(names, formats, quantizations) -> list[tuple[str, str, str]]:
    """(model name, format, quantization) for every artifact to write; ONNX is float32, and int8 (QDQ,
    ``NAME.int8.onnx``) when int8 is among ``quantizations``."""
    out = []
    for name in names:
        if "tflite" in formats:
            out += [(name, "tflite", q) for q in quantizations]
        if "onnx" in formats:
            out.append((name, "onnx", "fp32"))
            if "int8" in quantizations:
                out.append((name, "onnx", "int8"))
        if "micro" in formats:  # TFLite Micro: full integer, batch 1
            out.append((name, "micro", "int8-full"))
    return out


def planned_files(out_dir, names, formats, quantizations) -> list[pathlib.Path]:
    out_dir = pathlib.Path(out_dir)
    files = []
    for name, fmt, q in plan(names, formats, quantizations):
        path = out_dir / artifact_name(name, fmt, q)
        files += [path, pathlib.Path(f"{path}.json")]
        if fmt == "micro":
            files += [out_dir / f"{name}_model_data.h", out_dir / f"{name}_model_data.cc"]
    return files + [out_dir / report_name(names)]


def report_name(names) -> str:
    """``model.export-report.json``; ``encoder+decoder.export-report.json`` for a lesson's several models."""
    return "+".join(names) + REPORT_SUFFIX


def refuse_overwrite(files: list[pathlib.Path]) -> None:
    existing = [f for f in files if f.exists()]
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise UserError(f"{existing[0]} already exists{more} and would be overwritten; choose another --out "
                        f"folder or pass --force to replace the files.")


# --- the report ------------------------------------------------------------------------------------

@dataclasses.dataclass
class ReportRow:
    """One artifact's line in the export report: what was written, measured and judged.

    Written only by ``to_dict`` (into ``NAME.export-report.json`` and ``--json``). Read like the
    dict it is written as (``row["passed"]``, ``row.get("metric")``); setting a key that is not
    a field is a KeyError, so both writers of old (export and verify) keep the same keys.
    """

    name: str
    format: str
    quantization: str
    path: str
    sidecar: str | None = None
    size_bytes: int | None = None
    size_ratio: float | None = None  # relative to the fp32 TFLite artifact (else the float32 weights)
    size_ratio_basis: str | None = None
    operators: list[str] | None = None  # every op in the file (TFLite: from the flatbuffer; ONNX: node types)
    runtime: str | None = None
    batch_fixed: int | None = None  # the artifact's batch size when not dynamic
    batch_note: str | None = None  # why parity was not checked at every batch size
    changes: list[str] = dataclasses.field(default_factory=list)  # what the exporter changed to convert
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    top1_agreement: float | None = None
    second_batch_max_abs_error: float | None = None
    parity_at_batch: dict | None = None  # fp32: batch size -> max abs error (None: not checked)
    outputs: list[dict] = dataclasses.field(default_factory=list)  # verify.OutputDiff per output
    metric: str | None = None
    metric_value: float | None = None
    reference_metric_value: float | None = None
    other_metrics: dict | None = None  # the lesson's other metrics on this artifact group: recorded, not judged
    reference_other_metrics: dict | None = None
    tolerance: float | None = None
    judged_by: str | None = None
    passed: bool | None = False  # None: not verified (Flex ops the standalone runtime cannot run)
    error: str | None = None
    # micro (TFLite Micro) artifacts only: measured memory, boards, and agreement with LiteRT on the same file
    arena_bytes: int | None = None  # the smallest tensor arena the TFLM host interpreter accepted
    flash_bytes: int | None = None  # the model flatbuffer (TFLM's own code comes on top)
    fits: dict | None = None  # board key -> True/False (export/micro.py BOARDS)
    micro_vs_litert_steps: int | None = None  # largest output difference between TFLM and LiteRT, in int8 steps
    c_sources: list[str] | None = None  # NAME_model_data.h / .cc
    # int8 artifacts that missed the metric budget on validation: the layers kept in float32 and the
    # search's steps (export/selective.py: Search.to_dict)
    float_layers: list[str] | None = None
    selective: dict | None = None

    def __getitem__(self, key):
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def __setitem__(self, key, value):
        if key not in self.__dataclass_fields__:
            raise KeyError(f"{key!r} is not a field of an export report row")
        setattr(self, key, value)

    def __contains__(self, key):
        return key in self.__dataclass_fields__

    def get(self, key, default=None):
        return getattr(self, key, default) if key in self.__dataclass_fields__ else default

    def update(self, **values) -> None:
        for key, value in values.items():
            self[key] = value

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class ExportReport:
    """Rows (one per artifact), the failures found, and where it was all written."""

    rows: list[ReportRow]
    out_dir: pathlib.Path
    source: str = ""
    lesson: str | None = None
    metric: str | None = None
    higher_is_better: bool = True
    reference_metric_value: float | None = None
    failures: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    wall_time_s: float = 0.0
    path: pathlib.Path | None = None  # export-report.json once written

    @property
    def passed(self) -> bool:
        return not self.failures

    def raise_if_failed(self) -> None:
        """One ExportError naming every failed check (artifact, output, difference, tolerance)."""
        if self.failures:
            n = len(self.failures)
            where = f". Details: {self.path}" if self.path else ""
            listed = "; ".join(f.rstrip(".") for f in self.failures)
            raise ExportError(f"{n} export check{'s' if n > 1 else ''} failed: {listed}{where}")

    def to_dict(self) -> dict:
        from dlbootcamp import envinfo
        from dlbootcamp.export import verify

        return {"schema": REPORT_SCHEMA, "source": self.source, "lesson": self.lesson, "out_dir": str(self.out_dir),
                "metric": self.metric, "higher_is_better": self.higher_is_better,
                "reference_metric_value": self.reference_metric_value,
                "tolerances": {"fp32_atol": verify.ATOL["fp32"], "fp16_atol": verify.ATOL["fp16"],
                               "rtol": "same as atol", "no_metric_min_top1": verify.QUANTIZED_MIN_TOP1,
                               "no_metric_max_mean_abs_error_over_spread": verify.QUANTIZED_MAX_SPREAD_ERROR},
                "passed": self.passed, "failures": self.failures, "notes": self.notes,
                "rows": [r.to_dict() if isinstance(r, ReportRow) else r for r in self.rows],
                "wall_time_s": round(self.wall_time_s, 2),
                "created": _dt.datetime.now().isoformat(timespec="seconds"), "versions": envinfo.versions()}

    def write(self, path=None, *, overwrite: bool = False) -> pathlib.Path:
        names = list(dict.fromkeys(r["name"] for r in self.rows))
        default = self.out_dir / (report_name(names) if names else REPORT_FILE)
        self.path = atomic.write_json(path or default, self.to_dict(), overwrite=overwrite)
        return self.path

    def table(self) -> str:
        """Format, size, ratio to fp32, errors, metric and verdict: one line per artifact."""
        from dlbootcamp.export import device_bench

        head = ["artifact", "format", "quant", "size", "x fp32", "max abs err", "top-1", "metric", "passed"]
        lines = []
        for r in self.rows:
            metric = "-"
            if r.get("metric_value") is not None:
                metric = f"{r['metric']} {r['metric_value']:.4f}"
                if r.get("reference_metric_value") is not None:
                    metric += f" (keras {r['reference_metric_value']:.4f})"
            lines.append([
                pathlib.Path(r["path"]).name, r["format"], r["quantization"], _size(r.get("size_bytes")),
                "-" if r.get("size_ratio") is None else f"{r['size_ratio']:.2f}",
                "-" if r.get("max_abs_error") is None else f"{r['max_abs_error']:.2e}",
                "-" if r.get("top1_agreement") is None else f"{r['top1_agreement']:.3f}",
                metric, {True: "yes", False: "NO", None: "not verified"}[r.get("passed")],
            ])
        text = device_bench.render_table(head, lines)
        seen = set()
        for r in self.rows:  # other metrics, once per (format, quantization) group: they score the group
            group = (r["format"], r["quantization"])
            if r.get("other_metrics") and group not in seen:
                seen.add(group)
                refs = r.get("reference_other_metrics") or {}
                shown = ", ".join(f"{k} {v:.4f}" + (f" (keras {refs[k]:.4f})" if k in refs else "")
                                  for k, v in r["other_metrics"].items())
                text.append(f"other metrics, {group[0]} {group[1]}: {shown}")
        by_ops: dict[tuple, list[str]] = {}  # artifacts with the same operators share a line
        for r in self.rows:
            if r.get("operators"):
                by_ops.setdefault(tuple(r["operators"]), []).append(pathlib.Path(r["path"]).name)
        for ops, artifacts in by_ops.items():
            text.append(f"operators, {', '.join(artifacts)}: {' '.join(ops)}")
        for r in self.rows:
            if r.get("arena_bytes") is not None:
                fitting = [k for k, ok in (r.get("fits") or {}).items() if ok]
                text.append(f"microcontroller, {pathlib.Path(r['path']).name}: tensor arena {_size(r['arena_bytes'])}, "
                            f"model {_size(r['flash_bytes'])} of flash; TFLite Micro vs LiteRT: at most "
                            f"{r['micro_vs_litert_steps']} int8 step(s) apart; fits "
                            f"{', '.join(fitting) if fitting else 'none of the boards'}; C source: "
                            f"{', '.join(pathlib.Path(c).name for c in r.get('c_sources') or [])}")
        for r in self.rows:
            text += _selective_lines(r)
        for note in self.notes:
            text.append(f"note: {note}")
        return "\n".join(text)


def _size(n) -> str:
    if n is None:
        return "-"
    return f"{n / 1024:.1f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MB"


# --- inputs ------------------------------------------------------------------------------------

def _per_model(value, names: list[str], what: str) -> dict[str, Any]:
    """Accept one value for a single model, or a dict model name -> value for several."""
    if value is None:
        return {n: None for n in names}
    if isinstance(value, dict) and set(names) <= set(value):
        return {n: value[n] for n in names}
    if len(names) == 1:
        return {names[0]: value}
    raise ExportError(f"{what} for several models must be a dict model name -> inputs with keys "
                      f"{', '.join(names)}; got {type(value).__name__}.")


def _as_list(value, sig, model_name: str, what: str) -> list[np.ndarray] | None:
    if value is None:
        return None
    if isinstance(value, dict):
        try:
            arrays = [value[t.name] for t in sig.inputs]
        except KeyError:
            raise ExportError(f"{what} for {model_name!r} has keys {sorted(value)}; expected the input names "
                              f"{', '.join(t.name for t in sig.inputs)}.") from None
    else:
        arrays = list(value) if isinstance(value, (list, tuple)) else [value]
    arrays = [np.asarray(a) for a in arrays]
    if len(arrays) != len(sig.inputs):
        raise ExportError(f"{what} for {model_name!r} has {len(arrays)} arrays; the model takes {len(sig.inputs)} "
                          f"inputs ({', '.join(t.name for t in sig.inputs)}).")
    for a, t in zip(arrays, sig.inputs):
        if a.ndim != len(t.shape) or any(d is not None and d != g for d, g in zip(t.shape[1:], a.shape[1:])):
            raise ExportError(f"{what} for input {t.name!r} of {model_name!r} has shape {list(a.shape)}; the model "
                              f"expects {['N' if d is None else d for d in t.shape]}.")
    return arrays


def generated_inputs(model, sig, n: int = GENERATED_SAMPLES, *, seed: int = 0, like=None,
                     hints: dict | None = None) -> list[np.ndarray]:
    """Inputs matching the model's spec, from a fixed seed (``device_bench.generate_inputs``).

    Hints: ``hints`` (e.g. a sidecar's inputs), else what the model and ``like`` say: a float
    input's range from ``like``, an integer input's vocabulary from the Embedding that reads it.
    """
    from dlbootcamp.export import device_bench, sidecar

    found = sidecar.input_hints(model, sig, like)
    merged = {t.name: {**found.get(t.name, {}), **(hints or {}).get(t.name, {})} for t in sig.inputs}
    return device_bench.generate_inputs(sig.inputs, n, seed=seed, hints=merged)


def _selective_lines(row) -> list[str]:
    """The selective-float search of one int8 row, a line per step (validation metric, size, latency)."""
    sel = row.get("selective")
    if not sel or not sel.get("steps"):
        return []
    name, metric = pathlib.Path(row["path"]).name, sel["metric"]
    lines = [f"selective float layers, {name}: validation {metric} (keras {sel['keras_value']:.4f}, allowed drop "
             f"{sel['max_drop']:g}):"]
    for i, step in enumerate(sel["steps"]):
        kept = ", ".join(step["float_layers"]) if step["float_layers"] else "none (all int8)"
        p50 = "" if step.get("latency_ms") is None else f", p50 {step['latency_ms']:.4f} ms"
        mark = "  <- written" if i == sel["chosen_step"] else ""
        lines.append(f"  step {i}: float {kept}: {metric} {step['metric_value']:.4f}, {_size(step['size_bytes'])}"
                     f"{p50}{mark}")
    lines.append(f"  {sel['stop']}")
    return lines


# --- export and verify ------------------------------------------------------------------------------

@dataclasses.dataclass
class _Built:
    """One artifact on its way: conversion result, runner and the numbers measured on it."""

    name: str
    fmt: str
    quantization: str
    path: pathlib.Path
    row: ReportRow
    runner: Any = None
    predict: Callable | None = None
    diffs: list | None = None  # verify.OutputDiff per output, once the artifact ran
    failures: list[str] = dataclasses.field(default_factory=list)


def export_and_verify(models, out_dir, *, inputs=None, calibration=None, evaluate=None, metric: str | None = None,
                      higher_is_better: bool = True, quantized_tolerance: float = 0.01,
                      full_integer_tolerance: float | None = None,
                      formats=FORMATS, quantizations=QUANTIZATIONS, sidecar_extras: dict | None = None,
                      lesson: str | None = None, source: str = "", force: bool = False, allow_flex: bool = False,
                      log: Callable[[str], None] | None = None, notes: list[str] | None = None,
                      micro: str = "auto", board: str | None = None, labels=None, validate=None,
                      max_drop: float | None = None) -> ExportReport:
    """Export ``models`` (a keras.Model, or a dict name -> keras.Model) and verify every artifact.

    inputs: held-out model inputs for the parity check (an array, a list in ``model.inputs``
        order, or a dict input name -> array; a dict model name -> that for several models);
        generated from the input spec when None.
    calibration: representative inputs for int8, in the same forms; required for int8.
    evaluate: ``evaluate(predict) -> dict`` of metrics, called with a predict function that
        behaves like ``model.predict`` (a dict model name -> predict for several models);
        ``metric`` names the entry that judges dynamic/int8 (default: the first).
    micro: "auto" writes the TFLite Micro artifact where the model can have one (calibration
        given, TFLM has every kernel, it fits one of ``micro.BOARDS``) and says why not elsewhere;
        "required" (``--to micro`` asked by name) makes each of those a failure. ``board``
        (``--board``) must then fit; ``labels`` go into the generated C source.
    validate: ``evaluate`` on the validation split (same form). With it, an int8 artifact whose
        metric on validation drops more than ``max_drop`` (default ``quantized_tolerance``) below
        Keras gets layers kept in float, worst first, until it holds (``selective.search``); the
        chosen artifact is then judged on ``evaluate``'s split like every other.
    """
    from dlbootcamp.export import serving

    t0 = time.perf_counter()
    log = log or (lambda message: None)
    models = models if isinstance(models, dict) else {models.name: models}
    models = {n: serving.exportable(m) for n, m in models.items()}
    names = list(models)
    formats = parse_choices(formats, FORMATS, "--to")
    quantizations = parse_choices(quantizations, QUANTIZATIONS, "--quantize") \
        if "tflite" in formats or "onnx" in formats else ()
    out_dir = pathlib.Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out {out_dir} is a file; expected a folder for the exported artifacts.")
    from dlbootcamp.export import micro as micro_export

    micro_export.check_board(board)
    if max_drop is not None and not (isinstance(max_drop, (int, float)) and max_drop >= 0):
        raise UserError(f"Invalid --max-drop {max_drop!r}: expected a number >= 0, in the metric's own units.")
    notes = list(notes or [])
    if "micro" in formats and calibration is None:
        if micro == "required":
            raise ExportError("--to micro needs calibration data (a full-integer int8 model is calibrated on "
                              "representative inputs); pass --calibration FILE.npz with a few hundred real inputs.")
        formats = Choices(f for f in formats if f != "micro")
        formats.allowed = FORMATS
        notes.append("micro (TFLite Micro) not written: it is full-integer int8 and needs calibration data; pass "
                     "--calibration FILE.npz")
    if "tflite" not in formats and "int8" in quantizations and calibration is None:  # ONNX alone: int8 if it can
        quantizations = Choices(q for q in quantizations if q not in CALIBRATED)
        quantizations.allowed = QUANTIZATIONS
        notes.append("int8 ONNX not written: it is calibrated on representative inputs; pass --calibration FILE.npz")
    refuse_overwrite([] if force else planned_files(out_dir, names, formats, quantizations))
    sigs = {n: serving.signature(m) for n, m in models.items()}
    parity = {n: _as_list(v, sigs[n], n, "Parity inputs")
              for n, v in _per_model(inputs, names, "Parity inputs").items()}
    calib = {n: _as_list(v, sigs[n], n, "Calibration data")
             for n, v in _per_model(calibration, names, "Calibration data").items()}
    if (any(q in CALIBRATED for q in quantizations) or "micro" in formats) and any(calib[n] is None for n in names):
        raise ExportError("int8 quantization needs calibration data (representative model inputs) and none was "
                          "given; pass --calibration FILE.npz with a few hundred real inputs, or leave int8 out of "
                          "--quantize.")
    for n in names:
        if parity[n] is None:
            parity[n] = generated_inputs(models[n], sigs[n], like=calib[n])
            notes.append(f"{n}: parity checked on {GENERATED_SAMPLES} generated inputs (no held-out data given); "
                         f"pass --inputs FILE.npz to use real ones")

    from dlbootcamp.export import verify

    references = {n: verify.keras_predict(models[n])(parity[n]) for n in names}
    reference_metrics = None
    if evaluate is not None:
        predicts = {n: verify.structured(verify.keras_predict(models[n]), models[n]) for n in names}
        reference_metrics = evaluate(predicts if len(names) > 1 else predicts[names[0]])
        if metric is None or metric not in reference_metrics:
            if metric is not None:
                notes.append(f"metric {metric!r} is not among evaluate's results {sorted(reference_metrics)}; "
                             f"using {next(iter(reference_metrics))!r}")
            metric = next(iter(reference_metrics))

    built: list[_Built] = []
    for name, fmt, q in plan(names, formats, quantizations):
        path = out_dir / artifact_name(name, fmt, q)
        log(f"  {path.name}: converting and checking ...")
        if fmt == "micro":
            item = _build_micro(models[name], name, path, sigs[name], parity[name], calib[name], references[name],
                                lesson=lesson, extras=sidecar_extras, force=force, required=micro == "required",
                                board=board, labels=labels, notes=notes)
            if item is not None:
                built.append(item)
            continue
        search = None
        if q == "int8" and fmt in ("tflite", "onnx") and validate is not None and evaluate is not None:
            if len(names) > 1:
                notes.append(f"{path.name}: selective float layers not searched: the lesson exports several models "
                             f"({', '.join(names)}) scored together")
            else:
                search = _search(models[name], fmt, sigs[name], calib[name], validate, metric, higher_is_better,
                                 quantized_tolerance if max_drop is None else max_drop, log, notes, path.name)
        item = _build(models[name], name, fmt, q, path, sigs[name], parity[name], calib[name], references[name],
                      lesson=lesson, extras=sidecar_extras, force=force, allow_flex=allow_flex,
                      converted=search.converted if search is not None else None)
        if search is not None:
            item.row.update(float_layers=search.steps[search.chosen].float_layers, selective=search.to_dict())
            if not search.met:
                notes.append(f"{path.name}: selective float layers: {search.stop}")
        built.append(item)

    if evaluate is not None:
        _score(built, names, models, evaluate, metric, reference_metrics, higher_is_better,
               quantized_tolerance, full_integer_tolerance, log=log)
    for item in built:
        if item.row["passed"] is not None:
            _judge(item)
    _size_ratios(built, models)
    failures = [f for item in built for f in item.failures]
    notes += [f"{item.path.name}: {item.row['batch_note']}" for item in built if item.row.get("batch_note")]
    unverified = [item.path.name for item in built if item.row["passed"] is None]
    if unverified:
        notes.append(f"not verified (needs the Flex delegate, which standalone LiteRT lacks): {', '.join(unverified)}")
    report = ExportReport(
        rows=[item.row for item in built], out_dir=out_dir, source=source, lesson=lesson, metric=metric,
        higher_is_better=higher_is_better,
        reference_metric_value=None if reference_metrics is None else float(reference_metrics[metric]),
        failures=failures, notes=notes, wall_time_s=time.perf_counter() - t0)
    report.write(overwrite=force)
    return report


def _search(model, fmt, sig, calibration, validate, metric, higher_is_better, max_drop, log, notes, artifact):
    """The selective-float search for one int8 artifact (None, with a note, when it cannot run)."""
    from dlbootcamp.export import selective, verify

    try:
        reference = float(validate(verify.structured(verify.keras_predict(model), model))[metric])
        plain = _convert(model, fmt, "int8", calibration, False)
        if fmt == "onnx":
            from dlbootcamp.export import onnx as onnx_export

            def make():
                return onnx_export.Int8Quantizer(plain.float_model, model, calibration)
        else:
            from dlbootcamp.export import tflite

            def make():
                return tflite.Int8Debugger(model, calibration, calibration)
        log(f"  {artifact}: int8 on the validation split ...")
        return selective.search(plain, make, suffix=".onnx" if fmt == "onnx" else ".tflite", sig=plain.signature,
                                model=model, validate=validate, metric=metric, reference=reference,
                                max_drop=max_drop, higher_is_better=higher_is_better, log=log)
    except ExportError:
        return None  # the conversion fails the same way in _build, which reports it
    except Exception as exc:  # a metric or a debugger that cannot run on this model: say so, export as usual
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        notes.append(f"{artifact}: selective float layers not searched ({type(exc).__name__}: {first[:200]})")
        return None


def _build(model, name, fmt, q, path, sig, parity, calibration, reference, *, lesson, extras, force,
           allow_flex, converted=None) -> _Built:
    from dlbootcamp.export import device_bench, sidecar, verify

    row = ReportRow(name, fmt, q, str(path), sidecar=f"{path}.json")
    item = _Built(name, fmt, q, path, row)
    try:
        converted = converted if converted is not None else _convert(model, fmt, q, calibration, allow_flex)
        row.operators = converted.operators
        if fmt == "tflite":  # proven from the file's own bytes, before anything is written
            from dlbootcamp.export import tflite

            tflite.check_builtin_only(row.operators, path.name, allow_flex=allow_flex)
    except ExportError as exc:
        row["error"] = str(exc)
        item.failures.append(f"{path.name}: {exc}" if not str(exc).startswith(path.name) else str(exc))
        return item
    row["changes"] = list(converted.changes)
    atomic.write_bytes(path, converted.content, overwrite=force)
    row["size_bytes"] = path.stat().st_size
    try:
        runner = verify.open_runner(path)
    except device_bench.ArtifactError as exc:
        row["error"] = str(exc)
        if getattr(converted, "flex_ops", None):
            row["passed"] = None  # the user opted into Flex ops: LiteRT cannot run them here
        else:
            item.failures.append(f"{path.name}: {exc}")
        return item
    row["runtime"], row["batch_fixed"] = runner.runtime, runner.batch_fixed
    meta = sidecar.build(path, runner, fmt=fmt, quantization=q, model_name=model.name, lesson=lesson,
                         changes=converted.changes, sig=sig,
                         hints=sidecar.input_hints(model, sig, calibration if calibration is not None else parity),
                         extras={**(extras or {}), **({"opset": converted.opset} if fmt == "onnx" else {})},
                         operators=row.operators)
    sidecar.write(path, meta, overwrite=force)
    try:
        _parity(item, runner, sig, parity, reference)
    except device_bench.ArtifactError as exc:
        row["error"] = str(exc)
        item.failures.append(f"{path.name}: {exc}")
        item.predict = None
    return item


def _build_micro(model, name, path, sig, parity, calibration, reference, *, lesson, extras, force, required, board,
                 labels, notes) -> _Built | None:
    """The TFLite Micro artifact: converted, loaded in TFLM, its arena measured, compared with LiteRT on
    the same file, the C source pair written. None (with a note) where "auto" finds it cannot be had."""
    from dlbootcamp.export import micro, sidecar, tflite

    row = ReportRow(name, "micro", "int8-full", str(path), sidecar=f"{path}.json")
    item = _Built(name, "micro", "int8-full", path, row)
    try:
        from dlbootcamp.export import serving

        with serving.plain_embedding_lookups():  # no SELECT: TFLM has no kernel for it
            converted = tflite.convert(model, "int8-full", calibration=calibration, static_batch=True)
        row.operators = converted.operators
        tflite.check_builtin_only(row.operators, path.name)
        micro.check_kernels(converted.content, path.name)
        arena, flash = micro.smallest_arena(converted.content), len(converted.content)
        fits = micro.fits(arena, flash)
        micro.check_fits(micro.check_board(board), arena, flash, path.name)
        if not any(fits.values()):
            raise ExportError(f"{path.name} fits none of the boards: tensor arena {_size(arena)}, model "
                              f"{_size(flash)}; the largest, the ESP32, has 520 KB RAM and 4 MB flash.")
    except ExportError as exc:
        if not required:
            notes.append(f"micro (TFLite Micro) not written for {name}: {exc}")
            return None
        row["error"] = str(exc)
        item.failures.append(str(exc) if str(exc).startswith(path.name) else f"{path.name}: {exc}")
        return item
    row.update(changes=list(converted.changes), arena_bytes=arena, flash_bytes=flash, fits=fits)
    atomic.write_bytes(path, converted.content, overwrite=force)
    row["size_bytes"] = flash
    runner = micro.MicroRunner(converted.content, arena)
    row["runtime"], row["batch_fixed"] = runner.runtime, 1
    by_name = dict(zip([t.name for t in sig.inputs], parity))  # the runner lists inputs as the file's signature does
    row["micro_vs_litert_steps"] = micro.compare_with_litert(
        converted.content, runner, path, [by_name.get(t.name, x)[:micro.COMPARED] for t, x in zip(runner.inputs, parity)])
    header, source = micro.c_sources(converted.content, name, arena, runner, labels)
    row["c_sources"] = [str(p) for p in micro.write_c_sources(path.parent, name, header, source, overwrite=force)]
    meta = sidecar.build(path, runner, fmt="micro", quantization="int8-full", model_name=model.name, lesson=lesson,
                         changes=converted.changes, sig=sig, hints=sidecar.input_hints(model, sig, calibration),
                         extras={**(extras or {}), "arena_bytes": arena, "flash_bytes": flash, "fits": fits},
                         operators=row.operators)
    sidecar.write(path, meta, overwrite=force)
    _parity(item, runner, sig, parity, reference)
    if row["micro_vs_litert_steps"] > 1:  # measured, stated, and judged by the lesson's metric like the rest
        notes.append(f"{path.name}: TFLite Micro and LiteRT's reference kernels differ by up to "
                     f"{row['micro_vs_litert_steps']} int8 steps on the same file (their kernels for "
                     f"{', '.join(op for op in row.operators if op not in ('FULLY_CONNECTED', 'CONV_2D', 'RESHAPE'))} "
                     f"round differently); the metric on TFLite Micro is what is judged")
    return item


def _parity(item: _Built, runner, sig, inputs, reference) -> None:
    """Run the artifact on ``inputs``, compare with Keras' ``reference`` outputs, check fp32/fp16.

    fp32 artifacts run again at batch 1 and, with a dynamic batch, in batches of ``verify.SECOND_BATCH``
    (keras' onnx_test recipe); that failure is reported only when the first check passed.
    """
    from dlbootcamp.export import verify

    row, q, names = item.row, item.quantization, [t.name for t in sig.outputs]
    item.runner, item.predict = runner, verify.artifact_predict(runner, sig)
    item.diffs = verify.compare_all(names, reference, item.predict(inputs), verify.ATOL.get(q, 1e-4))
    top1 = [d.top1_agreement for d in item.diffs if d.top1_agreement is not None]
    row.update(outputs=[d.to_dict() for d in item.diffs], max_abs_error=max(d.max_abs_error for d in item.diffs),
               max_rel_error=max(d.max_rel_error for d in item.diffs), top1_agreement=min(top1) if top1 else None)
    if q not in verify.ATOL:
        return
    failures = verify.judge_exact(item.path.name, q, item.diffs)
    if q != "fp32":
        item.failures += failures
        return
    # keras' onnx_test recipe: the same inputs again at batch 1 and at another batch size
    k = min(len(inputs[0]), verify.BATCH_ONE_SAMPLES)
    ones = verify.compare_all(names, [r[:k] for r in reference], item.predict([x[:k] for x in inputs], chunk_size=1),
                              verify.ATOL[q])
    row["parity_at_batch"] = {"1": max(d.max_abs_error for d in ones), str(verify.SECOND_BATCH): None}
    failures = failures or verify.judge_exact(item.path.name, q, ones, where=" at batch 1")
    if runner.batch_fixed is None and len(inputs[0]) > verify.SECOND_BATCH:
        again = verify.compare_all(names, reference, item.predict(inputs, chunk_size=verify.SECOND_BATCH),
                                   verify.ATOL[q])
        row["second_batch_max_abs_error"] = max(d.max_abs_error for d in again)
        row["parity_at_batch"][str(verify.SECOND_BATCH)] = row["second_batch_max_abs_error"]
        failures = failures or verify.judge_exact(item.path.name, q, again,
                                                  where=f" in batches of {verify.SECOND_BATCH}")
    elif runner.batch_fixed is not None:
        row["batch_note"] = (f"batch fixed to {runner.batch_fixed} (a recurrent loop needs a static batch): parity "
                             f"checked at batch {runner.batch_fixed} only")
    item.failures += failures


def _convert(model, fmt, q, calibration, allow_flex):
    if fmt == "onnx":
        from dlbootcamp.export import onnx as onnx_export

        converted = onnx_export.convert(model)
        return onnx_export.quantize(converted, calibration) if q == "int8" else converted
    from dlbootcamp.export import tflite

    return tflite.convert(model, q, calibration=calibration, allow_flex=allow_flex)


def _score(built, names, models, evaluate, metric, reference_metrics, higher_is_better, tolerance,
           full_integer_tolerance=None, log=lambda message: None) -> None:
    """The caller's metric on every (format, quantization) group that has all models running. Each group's
    scoring is logged with its time: a lesson's evaluate can be long, above all on the TFLite Micro host
    interpreter, which runs one sample per call."""
    from dlbootcamp.export import verify

    reference = reference_metrics[metric]
    groups: dict[tuple[str, str], dict[str, _Built]] = {}
    for item in built:
        groups.setdefault((item.fmt, item.quantization), {})[item.name] = item
    for (fmt, q), members in groups.items():
        for item in members.values():
            item.row.update(metric=metric, reference_metric_value=float(reference))
        if set(members) != set(names) or any(m.predict is None for m in members.values()):
            continue
        predicts = {n: verify.structured(members[n].predict, models[n]) for n in names}
        artifacts, started = " + ".join(m.path.name for m in members.values()), time.perf_counter()
        log(f"  {artifacts}: the lesson's metric ...")
        try:
            results = evaluate(predicts if len(names) > 1 else predicts[names[0]])
            value = float(results[metric])
            log(f"    {metric} {value:.4g} (Keras {float(reference):.4g}) in {time.perf_counter() - started:.1f} s")
        except Exception as exc:  # a metric that cannot be computed on this artifact is a failed check
            for item in members.values():
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                item.failures.append(f"{item.path.name}: computing {metric} on the artifact failed ({first})")
            continue
        others = {k: float(v) for k, v in results.items() if k != metric and isinstance(v, (int, float))}
        for item in members.values():
            item.row["metric_value"] = value
            if others:  # the lesson's other metrics on this artifact group: recorded, not judged
                item.row["other_metrics"] = others
                item.row["reference_other_metrics"] = {k: float(reference_metrics[k]) for k in others
                                                       if isinstance(reference_metrics.get(k), (int, float))}
            if q in QUANTIZED:
                allowed = full_integer_tolerance if q == "int8-full" and full_integer_tolerance is not None \
                    else tolerance  # full integer (int8-full, micro) cannot keep a layer in float
                item.row["tolerance"], item.row["judged_by"] = allowed, f"{metric} within {allowed:g} of Keras"
                item.failures += verify.judge_metric(item.path.name, metric, value, reference, allowed,
                                                     higher_is_better)


def _judge(item: _Built) -> None:
    """fp32/fp16 by tolerance; dynamic/int8 not judged by a metric by top-1 / spread error."""
    from dlbootcamp.export import verify

    row = item.row
    if row["quantization"] in verify.ATOL:
        atol = verify.ATOL[row["quantization"]]
        row["tolerance"], row["judged_by"] = atol, f"|diff| <= {atol:g} + {atol:g} x |keras|"
    elif row["judged_by"] is None and item.diffs is not None:  # no metric for this artifact
        row["judged_by"] = (f"top-1 agreement >= {verify.QUANTIZED_MIN_TOP1:g} (classifiers); mean abs error <= "
                            f"{verify.QUANTIZED_MAX_SPREAD_ERROR:g} x output spread (others)")
        row["tolerance"] = verify.QUANTIZED_MIN_TOP1 if row["top1_agreement"] is not None \
            else verify.QUANTIZED_MAX_SPREAD_ERROR
        item.failures += verify.judge_without_metric(item.path.name, item.diffs)
    row["passed"] = not item.failures


def _size_ratios(built: list[_Built], models) -> None:
    """Size relative to the fp32 TFLite artifact of the same model (else to its float32 weights)."""
    fp32 = {i.name: i.row["size_bytes"] for i in built if i.fmt == "tflite" and i.quantization == "fp32"}
    for item in built:
        size = item.row["size_bytes"]
        if size is None:
            continue
        base = fp32.get(item.name) or 4 * int(sum(np.prod(w.shape) for w in models[item.name].weights)) or None
        item.row["size_ratio"] = round(size / base, 4) if base else None
        item.row["size_ratio_basis"] = "fp32 TFLite" if fp32.get(item.name) else "float32 weights"


# --- the CLI's two other cases: a bare .keras file, and one artifact ---------------------------------

def export_keras_file(path, out_dir=None, *, inputs_npz=None, calibration_npz=None, formats=FORMATS,
                      quantizations=None, force: bool = False, unsafe: bool = False,
                      allow_flex: bool = False, log=None, micro: str = "auto", board: str | None = None) -> ExportReport:
    """Export a .keras file: no lesson, so no metric; parity on ``inputs_npz`` or generated inputs.

    The default ``out_dir`` is ``export/`` beside the file. ``quantizations=None`` means all of
    them, int8 only when ``calibration_npz`` is given (else skipped, with a note saying how to
    get it); int8 asked for by name without ``calibration_npz`` is an error.
    """
    from dlbootcamp.export import keras_io

    path = keras_io.check_keras_path(path)
    formats = parse_choices(formats, FORMATS, "--to")
    skipped_int8 = []
    if quantizations is None:
        quantizations = QUANTIZATIONS if "tflite" in formats or "onnx" in formats else ()
        if calibration_npz is None:
            skipped_int8 = [q for q in quantizations if q in CALIBRATED]
            quantizations = tuple(q for q in quantizations if q not in CALIBRATED)
    else:
        quantizations = parse_choices(quantizations, QUANTIZATIONS, "--quantize") \
        if "tflite" in formats or "onnx" in formats else ()
    if any(q in CALIBRATED for q in quantizations) and calibration_npz is None:
        raise UserError(f"int8 quantization of {path.name} needs calibration data: pass --calibration FILE.npz "
                        f"with a few hundred representative inputs (one array per model input), or leave int8 out "
                        f"of --quantize.")
    out_dir = pathlib.Path(out_dir) if out_dir is not None else path.parent / "export"
    name = path.stem
    if not force:
        refuse_overwrite(planned_files(out_dir, [name], formats, quantizations))
    model = keras_io.load_model(path, unsafe=unsafe)
    from dlbootcamp.export import serving

    names = [t.name for t in serving.signature(model).inputs]
    inputs = keras_io.read_npz(inputs_npz, names, flag="--inputs") if inputs_npz is not None else None
    calibration = keras_io.read_npz(calibration_npz, names, flag="--calibration") \
        if calibration_npz is not None else None
    notes = []
    if skipped_int8:
        notes.append(f"{' and '.join(artifact_name(name, 'tflite', q) for q in skipped_int8)} not written: int8 "
                     f"needs calibration data; pass --calibration FILE.npz with a few hundred representative inputs")
        if log:
            log(f"note: {notes[-1]}")
    return export_and_verify({name: model}, out_dir, inputs=inputs, calibration=calibration, formats=formats,
                             quantizations=quantizations, source=str(path), force=force, allow_flex=allow_flex,
                             log=log, notes=notes, micro=micro, board=board)


def verify_artifact(artifact, reference, *, inputs_npz=None, unsafe: bool = False, seed: int = 0) -> ExportReport:
    """Check one artifact against a .keras reference (no metric: see ``verify``'s rules).

    The quantization comes from the artifact's sidecar (else its file name); parity runs on
    ``inputs_npz`` or on inputs generated from the sidecar's ranges. Nothing is written.
    """
    from dlbootcamp.export import device_bench, keras_io, serving, verify

    artifact = pathlib.Path(artifact)
    try:
        runner = verify.open_runner(artifact)
        meta = device_bench.read_sidecar(str(artifact)) or {}
    except device_bench.ArtifactError as exc:
        raise ExportError(str(exc)) from None
    model = serving.exportable(keras_io.load_model(reference, unsafe=unsafe))
    sig = serving.signature(model)
    q = device_bench.guess_quantization(str(artifact), meta) or "fp32"
    fmt = "onnx" if artifact.suffix == ".onnx" else "tflite"
    names = [t.name for t in sig.inputs]
    if inputs_npz is not None:
        inputs = _as_list(keras_io.read_npz(inputs_npz, names, flag="--inputs"), sig, model.name, "--inputs")
        notes = []
    else:
        hints = {t["name"]: t for t in meta.get("inputs", [])}
        inputs = generated_inputs(model, sig, seed=seed, hints=hints)
        notes = [f"parity checked on {GENERATED_SAMPLES} generated inputs; pass --inputs FILE.npz to use real ones"]
    row = ReportRow(model.name, fmt, q, str(artifact),
                    sidecar=device_bench.sidecar_path(str(artifact)) if meta else None,
                    size_bytes=artifact.stat().st_size, runtime=runner.runtime, batch_fixed=runner.batch_fixed,
                    changes=meta.get("changes", []), operators=meta.get("operators"))
    item = _Built(model.name, fmt, q, artifact, row)
    try:
        _parity(item, runner, sig, inputs, verify.keras_predict(model)(inputs))
    except device_bench.ArtifactError as exc:
        raise ExportError(f"{artifact.name}: {exc}") from None
    _judge(item)
    return ExportReport(rows=[row], out_dir=artifact.parent, source=str(reference), failures=item.failures,
                        notes=notes)
