"""`dlbootcamp export SOURCE`: TFLite and ONNX artifacts, each proven against the Keras model."""

import pathlib

HELP = "export a run (or a .keras file) to TFLite fp32/fp16/dynamic/int8 and ONNX, and verify every artifact"
DESCRIPTION = """\
Convert a trained model into files a phone or a board can run, and prove they still give the
model's answers. SOURCE is a run folder from `dlbootcamp train` (its lesson supplies held-out
data, int8 calibration data, the metric and the label names) or any .keras file.

Writes into --out (default: RUN/export/, or export/ beside a .keras file):
  NAME.fp32.tflite  NAME.fp16.tflite  NAME.dynamic.tflite  NAME.int8.tflite  NAME.int8-full.tflite
  NAME.onnx  NAME.int8.onnx (onnxruntime static QDQ int8, when int8 is among --quantize)
(--quantize picks the variants: int8 is int8 inside with float32 input/output, int8-full
has int8 input/output for microcontrollers and NPUs; a .keras SOURCE gets them only with
--calibration. ONNX is opset 17, with a dynamic batch). An int8 artifact of a run folder whose
metric on the validation split drops more than --max-drop keeps its worst layers in float,
one step at a time, until it holds; the table shows each step), each with a sidecar
NAME....json (input names, shapes, dtypes, int8 scale/zero point, labels, preprocessing,
operators) for device-side code, and NAME.export-report.json. TFLite files use built-in ops
only (read back from each file; a Flex or custom op fails unless --allow-flex), so they run in
the standalone LiteRT runtime; where the exporter has to change something to get there (a
recurrent model's batch fixed to 1, say) the sidecar and the report say so.

Every artifact is run in its own runtime (LiteRT, onnxruntime) on held-out inputs and judged:
  fp32     every output within atol 1e-4 + rtol 1e-4 x |keras|, again at batch 1
           and in batches of 3 (batch 1 only where a recurrent loop fixes it)
  fp16     the same with 1e-2
  dynamic, int8, int8-full
           run folder: the lesson's metric at most LESSON.quantized_tolerance worse than Keras
           .keras file (no metric): top-1 agreement >= 0.9 for classifier outputs
           (probabilities), mean abs error <= 5% of the output's spread for other outputs
A failed check exits non-zero with one line per failure: artifact, output, difference,
tolerance. Nothing existing is overwritten without --force."""
EPILOG = """\
examples:
  dlbootcamp export runs/training-20260101-120000
  dlbootcamp export runs/cnn-features-... --to tflite --quantize fp32,int8
  dlbootcamp export model.keras --inputs held_out.npz --calibration train_sample.npz --out /tmp/exp
  dlbootcamp export model.keras        (no --calibration: int8 is skipped, with a note)
  dlbootcamp export runs/... --json > report.json

.npz files hold one array per model input, named after the input (any name for one input):
  numpy.savez("held_out.npz", image=x_test[:200])"""


def add_arguments(p):
    p.add_argument("source", metavar="SOURCE", type=pathlib.Path,
                   help="a run folder from `dlbootcamp train`, or a .keras model file")
    p.add_argument("--out", type=pathlib.Path, metavar="DIR",
                   help="output folder (default: RUN/export/, or export/ beside a .keras file)")
    p.add_argument("--force", action="store_true", help="replace existing artifacts and report")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    g = p.add_argument_group("formats")
    g.add_argument("--to", default=None, metavar="FORMATS",
                   help="tflite,onnx,micro (default: all three, micro only where the model can run on a "
                        "microcontroller; asked for by name, micro must work or the export fails)")
    g.add_argument("--board", default=None, metavar="BOARD",
                   help="with micro: the board the model must fit (nano33ble, pico, stm32f746, esp32)")
    g.add_argument("--quantize", default=None, metavar="MODES",
                   help="TFLite variants among fp32,fp16,dynamic,int8 (default: all four; for a .keras SOURCE "
                        "int8 only with --calibration)")
    g.add_argument("--max-drop", type=float, default=None, metavar="D",
                   help="run folder, int8: how much of the lesson's metric int8 may lose on the validation split "
                        "(metric units; default: the lesson's quantized tolerance). When it loses more, the layers "
                        "with the largest quantization error are kept in float, one at a time, until it holds")
    g.add_argument("--allow-flex", action="store_true",
                   help="keep TensorFlow (Flex) ops a model needs instead of failing; such a .tflite runs only "
                        "where the Flex delegate is linked in, so it is reported as not verified")
    g = p.add_argument_group("data for a .keras SOURCE (a run folder uses its lesson's data)")
    g.add_argument("--inputs", type=pathlib.Path, metavar="FILE.npz",
                   help="held-out inputs for the parity check (default: generated from the input spec)")
    g.add_argument("--calibration", type=pathlib.Path, metavar="FILE.npz",
                   help="representative inputs to calibrate int8 (without it, int8 is skipped)")
    add_loading_arguments(p.add_argument_group("loading"))


def add_loading_arguments(g) -> None:
    """--custom-objects and --unsafe: how a .keras file is loaded (export and verify share them)."""
    g.add_argument("--custom-objects", metavar="MODULE[,MODULE]",
                   help="import these modules (names importable from here, or .py paths) before loading, so the "
                        "custom layers they register with @keras.saving.register_keras_serializable() load in "
                        "safe mode")
    g.add_argument("--unsafe", action="store_true",
                   help="load .keras files outside Keras safe mode (runs Lambda layers' code: trusted files only)")


def check(args) -> None:
    """--to, --quantize and --board, before anything heavy is imported."""
    from dlbootcamp.errors import UserError
    from dlbootcamp.export import api, micro

    formats = api.parse_choices(args.to or api.FORMATS, api.FORMATS, "--to")
    if args.quantize is not None:
        api.parse_choices(args.quantize, api.QUANTIZATIONS, "--quantize")
    if args.max_drop is not None and not args.max_drop >= 0:
        raise UserError(f"Invalid --max-drop {args.max_drop:g}: expected a number >= 0, in the metric's own units.")
    if args.board is not None:
        micro.check_board(args.board)
        if "micro" not in formats:
            raise UserError(f"--board {args.board} applies to the micro format; add micro to --to (--to micro).")


def run(args) -> int:
    import json
    import sys

    from dlbootcamp.errors import ExportError, UserError
    from dlbootcamp.export import api

    formats = api.parse_choices(args.to or api.FORMATS, api.FORMATS, "--to")
    micro = "required" if (args.to and "micro" in formats) or args.board else "auto"
    if args.board and "micro" not in formats:
        raise UserError(f"--board {args.board} applies to the micro format; add micro to --to (--to micro).")
    quantizations = None if args.quantize is None else api.parse_choices(args.quantize, api.QUANTIZATIONS,
                                                                           "--quantize")
    source = args.source
    if not source.exists():
        raise UserError(f"{source} does not exist; expected a run folder from `dlbootcamp train` or a .keras file.")
    log = (lambda message: print(message, file=sys.stderr, flush=True)) if not args.json else None

    from dlbootcamp.export import device_bench, keras_io, serving

    if args.custom_objects:
        keras_io.import_custom_objects(args.custom_objects)
    with serving.quiet_libraries():
        return _export(args, source, formats, quantizations, micro, log)


def _export(args, source, formats, quantizations, micro, log) -> int:
    import json

    from dlbootcamp.errors import ExportError, UserError
    from dlbootcamp.export import api, device_bench

    try:
        if source.is_dir():
            if args.inputs or args.calibration:
                raise UserError("--inputs and --calibration apply to a .keras SOURCE; a run folder is exported with "
                                "its lesson's own held-out and calibration data. Drop those flags.")
            from dlbootcamp.app import pipeline

            report = pipeline.export_run(source, args.out, formats=formats,
                                         quantizations=api.QUANTIZATIONS if quantizations is None else quantizations,
                                         force=args.force, unsafe=args.unsafe, allow_flex=args.allow_flex, log=log,
                                         micro=micro, board=args.board, max_drop=args.max_drop)
        else:
            if args.max_drop is not None:
                raise UserError("--max-drop applies to a run folder (its lesson's metric judges int8); a .keras file "
                                "has no metric. Drop --max-drop, or export the run folder.")
            report = api.export_keras_file(source, args.out, inputs_npz=args.inputs, calibration_npz=args.calibration,
                                           formats=formats, quantizations=quantizations, force=args.force,
                                           unsafe=args.unsafe, allow_flex=args.allow_flex, log=log, micro=micro,
                                           board=args.board)
    except device_bench.ArtifactError as exc:
        raise ExportError(str(exc)) from None
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print(report.table())
        print(f"\nreport: {report.path}")
    report.raise_if_failed()
    return 0
