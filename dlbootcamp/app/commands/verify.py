"""`dlbootcamp verify ARTIFACT --reference MODEL.keras`: the parity check alone."""

import pathlib

HELP = "check one .tflite/.onnx artifact against the Keras model it came from"
DESCRIPTION = """\
Run ARTIFACT in its own runtime (LiteRT for .tflite, onnxruntime for .onnx) and the reference
Keras model on the same inputs, and compare: max abs and relative error per output, top-1
agreement for classifier outputs. The quantization comes from the artifact's sidecar (or its
file name). Rules, with no lesson metric at hand:
  fp32     every output within atol 1e-4 + rtol 1e-4 x |keras|, again at batch 1
           and in batches of 3 (batch 1 only where a recurrent loop fixes it)
  fp16     the same with 1e-2
  dynamic, int8
           top-1 agreement >= 0.9 for classifier outputs (probabilities), mean abs error
           <= 5% of the output's spread for other outputs
(`dlbootcamp export` of a run folder judges dynamic/int8 by the lesson's own metric instead.)
Inputs: --inputs FILE.npz, else generated within the ranges the sidecar records. A failed
check exits non-zero, naming the output, the difference and the tolerance."""
EPILOG = """\
examples:
  dlbootcamp verify runs/training-.../export/model.int8.tflite --reference runs/training-.../model.keras
  dlbootcamp verify model.onnx --reference model.keras --inputs held_out.npz --json"""


def add_arguments(p):
    p.add_argument("artifact", metavar="ARTIFACT", type=pathlib.Path, help="a .tflite or .onnx file")
    p.add_argument("--reference", type=pathlib.Path, required=True, metavar="MODEL.keras",
                   help="the Keras model the artifact was exported from")
    p.add_argument("--inputs", type=pathlib.Path, metavar="FILE.npz",
                   help="inputs to compare on, one array per model input (default: generated)")
    from dlbootcamp.app.commands.export import add_loading_arguments

    add_loading_arguments(p.add_argument_group("loading the reference"))
    p.add_argument("--json", action="store_true", help="print the result as JSON instead of a table")


def run(args) -> int:
    import json

    from dlbootcamp.export import api, keras_io

    if args.custom_objects:
        keras_io.import_custom_objects(args.custom_objects)
    report = api.verify_artifact(args.artifact, args.reference, inputs_npz=args.inputs, unsafe=args.unsafe)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        print(report.table())
    report.raise_if_failed()
    return 0
