"""Export a lesson's models with the lesson's own data, metric and labels.

The export layer (``dlbootcamp.export``) knows nothing about lessons: it takes models,
inputs, a metric function and sidecar extras. This module is where the two meet. For a
lesson it passes

- ``representative_data(data, n, split="train")`` as int8 calibration data,
- ``representative_data(data, n, split="test")`` as the held-out parity inputs,
- ``evaluate(predict, data)`` as the metric, judged in the direction of the lesson's first
  bar, within ``LESSON.quantized_tolerance`` for dynamic-range and int8 artifacts,
- ``sidecar(data)`` (or ``SIDECAR``) into every artifact's sidecar (labels, preprocessing),
- ``evaluate(predict, validation_view(data))`` as the validation metric that decides which layers
  an int8 artifact keeps in float (``--max-drop``); ``validation_view`` is optional: a
  ``datasets.Splits`` gets its validation split in the test split's place.

    from dlbootcamp.app import pipeline
    report = pipeline.export_lesson(module, cfg, trained.exports, "out/")      # after train()
    report = pipeline.export_run("runs/training-20260101-120000")              # a run folder
    report.raise_if_failed()
"""

from __future__ import annotations

import pathlib

from dlbootcamp.errors import UserError
from dlbootcamp.export.device_bench import CALIBRATED, FORMATS, QUANTIZATIONS  # defined once, there

SAMPLES = 200  # calibration samples (train split) and parity samples (test split)


def _lesson_inputs(module, data, names: list[str], split: str, exports=None):
    """The lesson's representative inputs per export name.

    A lesson whose ``representative_data`` takes ``exports`` gets the trained models, so that
    it can record realistic inputs for a decoder step (states seen while decoding real data).
    """
    import inspect

    kwargs = {"exports": exports} if "exports" in inspect.signature(module.representative_data).parameters else {}
    value = module.representative_data(data, n=SAMPLES, split=split, **kwargs)
    if len(names) > 1:
        if not isinstance(value, dict):
            raise UserError(f"Lesson {module.LESSON.id!r} exports {', '.join(names)} but representative_data "
                            f"returned one {type(value).__name__}; expected a dict export name -> inputs.")
        return value
    if isinstance(value, dict) and names[0] in value:
        return value[names[0]]
    return value


def _sidecar_extras(module, data) -> dict:
    if hasattr(module, "sidecar"):
        return dict(module.sidecar(data) or {})
    return dict(getattr(module, "SIDECAR", {}) or {})


def validation_view(module, data):
    """``data`` with the validation split where ``evaluate`` reads the test split, or None.

    The lesson's ``validation_view(data)`` when it has one; else, for a dataclass with ``val``
    and ``test`` fields (``datasets.Splits``), a copy whose test split is the validation split.
    """
    import dataclasses

    if hasattr(module, "validation_view"):
        return module.validation_view(data)
    if dataclasses.is_dataclass(data) and {"val", "test"} <= {f.name for f in dataclasses.fields(data)}:
        val = getattr(data, "val")
        if val is not None and len(val):
            return dataclasses.replace(data, test=val)
    return None


def _export(module, cfg, exports, out_dir, *, data, formats, quantizations, force, allow_flex, source, log,
            micro="auto", board=None, max_drop=None):
    from dlbootcamp.export import api

    formats = api.parse_choices(formats, api.FORMATS, "--to")
    quantizations = api.parse_choices(quantizations, api.QUANTIZATIONS, "--quantize") \
        if "tflite" in formats or "onnx" in formats else ()
    if not force:  # before loading data or converting anything
        api.refuse_overwrite(api.planned_files(out_dir, list(exports), formats, quantizations))
    data = module.load_data(cfg) if data is None else data
    names = list(exports)
    info = module.LESSON
    head = info.bars[0] if info.bars else None

    def evaluate(predict):
        return module.evaluate(predict, data)

    extras = _sidecar_extras(module, data)
    validate, notes = None, []
    if "int8" in quantizations:
        val_data = validation_view(module, data)
        if val_data is None:
            notes.append(f"selective float layers not searched for lesson {info.id}: its data has no validation "
                         f"split evaluate() can read (add validation_view(data) to the lesson)")
        else:
            def validate(predict):
                return module.evaluate(predict, val_data)

    return api.export_and_verify(
        exports, out_dir,
        inputs=_lesson_inputs(module, data, names, "test", exports),
        calibration=(_lesson_inputs(module, data, names, "train", exports)
                     if any(q in CALIBRATED for q in quantizations) or "micro" in formats else None),
        evaluate=evaluate, metric=info.metric if head else None,
        higher_is_better=head.higher_is_better if head else True,
        quantized_tolerance=info.quantized_tolerance, full_integer_tolerance=info.full_integer_tolerance,
        formats=formats, quantizations=quantizations,
        sidecar_extras=extras, lesson=info.id, source=source, force=force,
        allow_flex=allow_flex, log=log, micro=micro, board=board, labels=extras.get("labels"), validate=validate,
        max_drop=max_drop, notes=notes)


def export_lesson(module, cfg, exports, out_dir, *, data=None, formats=FORMATS, quantizations=QUANTIZATIONS,
                  force=False, max_drop=None):
    """Export ``exports`` (name -> keras.Model, as in ``Trained.exports``) of lesson ``module``.

    Returns a ``dlbootcamp.export.api.ExportReport``; call ``raise_if_failed()`` to turn failed
    checks into one ExportError.
    """
    return _export(module, cfg, exports, pathlib.Path(out_dir), data=data, formats=formats,
                   quantizations=quantizations, force=force, allow_flex=False,
                   source=f"lesson {module.LESSON.id}", log=None, max_drop=max_drop)


def export_run(run_dir, out_dir=None, *, formats=FORMATS, quantizations=QUANTIZATIONS, force=False, unsafe=False,
               allow_flex=False, log=None, micro="auto", board=None, max_drop=None):
    """Export the models of a run folder written by ``dlbootcamp train`` (default out: RUN/export/).

    The lesson and its Config come from the run's config.json; the models from model.keras
    (and NAME.keras for lessons with several exports), loaded in Keras safe mode.
    """
    from dlbootcamp import lesson as lesson_contract
    from dlbootcamp import records, registry
    from dlbootcamp.export import api, keras_io

    run_dir = pathlib.Path(run_dir)
    record = records.read_run(run_dir)
    config = record["config"]
    lesson_id = config.get("lesson") if isinstance(config, dict) else None
    if not lesson_id or not isinstance(config.get("config"), dict):
        raise UserError(f"{run_dir}/config.json has no lesson id and config; the run folder is damaged "
                        f"(expected what `dlbootcamp train` writes).")
    names = record["metrics"].get("exports") or ["model"]
    out_dir = pathlib.Path(out_dir) if out_dir is not None else run_dir / "export"
    formats = api.parse_choices(formats, api.FORMATS, "--to")
    quantizations = api.parse_choices(quantizations, api.QUANTIZATIONS, "--quantize") \
        if "tflite" in formats or "onnx" in formats else ()
    if not force:
        api.refuse_overwrite(api.planned_files(out_dir, names, formats, quantizations))
    files = {n: run_dir / (records.MODEL_FILE if n == "model" else f"{n}.keras") for n in names}
    for n, f in files.items():
        keras_io.check_keras_path(f)
    module = registry.load(lesson_id)  # registers the lesson's custom layers, if any, before loading
    try:
        cfg = lesson_contract.config_from_dict(module.Config, config["config"])
    except (ValueError, TypeError) as exc:
        raise UserError(f"{run_dir}/config.json does not match lesson {lesson_id!r}'s Config ({exc}); was the run "
                        f"made with another version of the lesson?") from None
    exports = {n: keras_io.load_model(f, unsafe=unsafe) for n, f in files.items()}
    if log:
        log(f"exporting {', '.join(f.name for f in files.values())} of {lesson_id} run {run_dir.name} to {out_dir}")
    return _export(module, cfg, exports, out_dir, data=None, formats=formats, quantizations=quantizations,
                   force=force, allow_flex=allow_flex, source=str(run_dir), log=log, micro=micro, board=board,
                   max_drop=max_drop)



def register_custom_layers(path) -> None:
    """Import the lesson a ``.keras`` file belongs to (named by its run folder), so its custom layers load.

    The export layer calls this back (``bench.run_benchmarks(prepare_keras=...)``) only when a
    plain load fails; it never imports a lesson itself.
    """
    from dlbootcamp import registry
    from dlbootcamp.export import device_bench

    lesson = device_bench.guess_lesson(str(path))
    if lesson:
        registry.load(lesson)
