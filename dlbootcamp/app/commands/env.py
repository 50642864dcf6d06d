"""`dlbootcamp env`: versions and devices, to paste into a bug report."""

import json

HELP = "print versions of Python, TF, Keras, tf2onnx, onnxruntime, LiteRT and the devices TF sees"


def add_arguments(p):
    p.add_argument("--json", action="store_true", help="print one JSON document")


def run(args) -> int:
    from dlbootcamp import envinfo

    info = {"versions": envinfo.versions(), "machine": envinfo.machine(), "devices": envinfo.devices()}
    try:
        from dlbootcamp import distribute

        info["strategy"] = distribute.describe()
    except ImportError:
        pass
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print("- dlbootcamp environment (paste this into a bug report)")
    for k, v in info["versions"].items():
        print(f"  {k}: {v}")
    for k, v in info["machine"].items():
        print(f"  {k}: {v}")
    print(f"  TensorFlow devices: {', '.join(info['devices'])}")
    if "strategy" in info:
        print(f"  distribution strategy: {info['strategy']}")
    return 0
