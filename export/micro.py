"""TensorFlow Lite for Microcontrollers: prove on this machine that a model runs on a board.

Boards without an operating system (Arduino Nano 33 BLE, ESP32, Raspberry Pi Pico, STM32) run
TFLite models through TensorFlow Lite for Microcontrollers (TFLM): fewer kernels than LiteRT,
no dynamic shapes, no heap - every tensor lives in one fixed *tensor arena* the firmware
declares. The ``tflite-micro`` package ships TFLM's own interpreter built for the host, so
before anyone flashes a board we can

1. convert the model to a full-integer int8 flatbuffer with a fixed batch of 1 (``NAME.micro.tflite``);
2. load it in the TFLM interpreter: an operator TFLM has no kernel for fails here, by name;
3. search the smallest tensor arena the interpreter accepts (bisection over real allocations);
4. run it on held-out inputs and compare, step for step, with LiteRT running the same file;
5. write ``NAME_model_data.h`` / ``NAME_model_data.cc`` for a firmware project: the flatbuffer
   as an aligned byte array, its length, the arena size, the input/output scale and zero point,
   and the label names;
6. hold arena and flash against common boards' memory (``BOARDS``).

The flash figure is the model alone; TFLM's own code (the interpreter and the kernels a build
registers) adds to it, typically tens of kilobytes, and the firmware's stack and buffers add to
the RAM beside the arena. So "fits" means the model's part fits with room to spare, not that a
firmware is guaranteed to link.

    artifact = micro.export(model, "out/model", calibration=[x_train[:200]], labels=labels)
    artifact.arena_bytes, artifact.flash_bytes, artifact.fits     # {"nano33ble": True, ...}
"""

from __future__ import annotations

import dataclasses
import pathlib
import re

import numpy as np

from dlbootcamp import atomic
from dlbootcamp.errors import ExportError
from dlbootcamp.export import device_bench


@dataclasses.dataclass(frozen=True)
class Board:
    name: str
    ram_bytes: int  # all of the chip's SRAM: the arena must fit with room for the firmware
    flash_bytes: int  # program flash: the model array and the firmware's code share it
    source: str  # where the figures come from


KB = 1024
BOARDS = {
    "nano33ble": Board("Arduino Nano 33 BLE Sense", 256 * KB, 1024 * KB,
                       "Nordic nRF52840 product specification: 1 MB flash, 256 KB RAM"),
    "pico": Board("Raspberry Pi Pico", 264 * KB, 2048 * KB,
                  "RP2040 datasheet: 264 KB on-chip SRAM; Pico datasheet: 2 MB QSPI flash"),
    "stm32f746": Board("STM32F746G-DISCO", 320 * KB, 1024 * KB,
                       "STM32F746NG datasheet: 1 MB flash, 320 KB RAM"),
    "esp32": Board("ESP32 (ESP32-WROOM-32)", 520 * KB, 4096 * KB,
                   "ESP32 datasheet: 520 KB SRAM; ESP32-WROOM-32 datasheet: 4 MB SPI flash"),
}
ARENA_STEP = 16  # TFLM aligns its allocations to 16 bytes; the search stops at this resolution
SUFFIX = ".micro.tflite"
COMPARED = 64  # held-out samples run through both TFLM and LiteRT, one at a time


def check_board(name: str | None) -> Board | None:
    """The board named by ``--board``; one clear error for a name we do not know."""
    if name is None:
        return None
    if name not in BOARDS:
        raise ExportError(f"Unknown --board {name!r}; expected one of {', '.join(BOARDS)} "
                          f"({'; '.join(f'{k}: {b.name}' for k, b in BOARDS.items())}).")
    return BOARDS[name]


def _interpreter_class():
    try:
        from tflite_micro import runtime
    except ImportError:
        raise ExportError("the TFLite Micro interpreter is not installed; install it with "
                          "`pip install -e '.[micro]'` (the tflite-micro package).") from None
    return runtime.Interpreter


def _load(content: bytes, arena: int):
    """(interpreter or None, what TFLM printed): the native log is captured, never shown."""
    from dlbootcamp.export import serving

    interpreter = _interpreter_class()
    problem = ""
    with serving.captured_native_output() as captured:
        try:
            it = interpreter.from_bytes(content, arena_size=int(arena))
        except Exception as exc:  # RuntimeError from TFLM; struct.error/ValueError from a damaged flatbuffer
            it, problem = None, f"{type(exc).__name__}: {exc}"
    return it, "".join(captured) + problem


_MISSING_OP = re.compile(r"Didn't find op for builtin opcode '([A-Z0-9_]+)'")
_UNSUPPORTED = re.compile(r"(?:Unsupported|not supported)[^\n]*", re.I)


def check_kernels(content: bytes, artifact: str) -> None:
    """Fail, naming the operators, when TFLM has no kernel for some of the model's operators."""
    it, log = _load(content, max(len(content) * 20, 1 << 22))
    if it is not None:
        return
    missing = sorted(set(_MISSING_OP.findall(log)))
    if missing:
        raise ExportError(f"{artifact}: TensorFlow Lite for Microcontrollers has no kernel for "
                          f"{', '.join(missing)}; replace those layers, or deploy with LiteRT on a phone "
                          f"or a Linux board instead.")
    detail = (_UNSUPPORTED.findall(log) or [line for line in log.splitlines() if line.strip()] or ["no message"])[0]
    raise ExportError(f"{artifact}: the TFLite Micro interpreter could not load the model ({detail.strip()}).")


_SEARCH = r"""
import sys
import numpy as np
from dlbootcamp.export import micro
content = open(sys.argv[1], "rb").read()
lo, hi = int(sys.argv[2]), int(sys.argv[3])
n = micro._io_counts(content)[0]
def works(size):
    it, _ = micro._load(content, size)
    if it is None:
        return False
    try:
        for i, spec in enumerate(micro._details(it, "input", n)):
            it.set_input(np.zeros(spec["shape"], spec["dtype"]), i)
        it.invoke()
        return True
    except RuntimeError:
        return False
while hi - lo > micro.ARENA_STEP:
    mid = (lo + hi) // 2 // micro.ARENA_STEP * micro.ARENA_STEP
    if mid <= lo:
        break
    print("probe", mid, flush=True)
    if works(mid):
        hi = mid
    else:
        lo = mid
    print("bounds", lo, hi, flush=True)
print("done", hi, flush=True)
"""


def smallest_arena(content: bytes, *, upper: int | None = None) -> int:
    """The smallest tensor arena (bytes, to ``ARENA_STEP``) in which TFLM allocates the model and runs it.

    The bisection runs in a child process: on some models TFLM's host interpreter crashes (a
    segmentation fault, not an error) when an allocation fails half-way, and a crash must not take
    the export down. A size that crashed counts as too small, and the search goes on from there.
    """
    import os
    import subprocess
    import sys
    import tempfile

    n_inputs = _io_counts(content)[0]

    def works(size: int) -> bool:  # only for sizes far above the model, where TFLM does not crash
        it, _ = _load(content, size)
        if it is None:
            return False
        try:
            for i, spec in enumerate(_details(it, "input", n_inputs)):
                it.set_input(np.zeros(spec["shape"], spec["dtype"]), i)
            it.invoke()
            return True
        except RuntimeError:
            return False

    hi = upper or max(len(content) * 4, 1 << 16)
    while not works(hi):
        hi *= 2
        if hi > 1 << 30:
            raise ExportError("the TFLite Micro interpreter did not allocate the model even in a 1 GB arena.")
    lo = 0
    with tempfile.NamedTemporaryFile(suffix=".tflite", delete=False) as f:
        f.write(content)
    try:
        for _ in range(64):
            done = subprocess.run([sys.executable, "-c", _SEARCH, f.name, str(lo), str(hi)], capture_output=True,
                                  text=True, timeout=600)
            probe = None
            for line in done.stdout.splitlines():
                word, *values = line.split()
                if word == "probe":
                    probe = int(values[0])
                elif word == "bounds":
                    lo, hi, probe = int(values[0]), int(values[1]), None
                elif word == "done":
                    return int(values[0])
            if probe is None:  # the child failed before probing: not a crash to step over
                raise ExportError(f"the tensor-arena search failed ({(done.stderr.strip().splitlines() or ['no message'])[-1]}).")
            lo = probe  # it crashed on this size: too small
        raise ExportError("the tensor-arena search did not finish (TFLite Micro kept crashing).")
    finally:
        os.unlink(f.name)


def _details(it, kind: str, count: int | None = None) -> list[dict]:
    """TFLM's input or output details. TFLM cannot say how many there are, and asking past the end
    prints an error (and has crashed the process), so ``count`` comes from the flatbuffer."""
    get = it.get_input_details if kind == "input" else it.get_output_details
    return [get(i) for i in range(1 if count is None else count)]


def _io_counts(content: bytes) -> tuple[int, int]:
    """(inputs, outputs) of the model's main subgraph, read from the flatbuffer with TFLM's own schema."""
    from tflite_micro.python.tflite_micro import runtime

    model = runtime.convert_bytearray_to_object(bytearray(content))
    graph = model.subgraphs[0]
    return len(graph.inputs), len(graph.outputs)


class MicroRunner(device_bench.Runner):
    """An artifact in the TFLite Micro host interpreter, one sample at a time (a board's batch).

    TFLM knows tensors by position only; the names (and which position is which input) come from
    the file's signature, read with LiteRT, so feeds line up with the Keras model's inputs by name.
    """

    def __init__(self, content: bytes, arena: int):
        self.runtime = "tflite-micro"
        it, log = _load(content, arena)
        if it is None:
            raise device_bench.ArtifactError(f"TFLite Micro could not allocate the model in {arena} bytes "
                                             f"({(log.strip().splitlines() or ['no message'])[0]}).")
        self.interpreter = it
        n_in, n_out = _io_counts(content)
        ins, outs = _details(it, "input", n_in), _details(it, "output", n_out)
        in_names, out_names, in_pos, out_pos = _signature_positions(content, len(ins), len(outs))
        self._in_pos, self._out_pos = in_pos, out_pos
        self.inputs = [self._tensor(n, ins[k]) for n, k in zip(in_names, in_pos)]
        self.outputs = [self._tensor(n, outs[k]) for n, k in zip(out_names, out_pos)]
        self.batch_fixed = 1

    @staticmethod
    def _tensor(name: str, d: dict) -> device_bench.Tensor:
        q = d.get("quantization_parameters") or {}
        scales, zps = q.get("scales"), q.get("zero_points")
        scale = float(scales[0]) if scales is not None and len(scales) else None
        zp = int(zps[0]) if zps is not None and len(zps) else 0
        return device_bench.Tensor(name, [int(s) for s in d["shape"]], np.dtype(d["dtype"]).name, scale, zp)

    def invoke(self, feeds):
        it = self.interpreter
        for k, x in zip(self._in_pos, feeds):
            it.set_input(np.ascontiguousarray(x), k)
        it.invoke()
        return [np.array(it.get_output(k)) for k in self._out_pos]


def _signature_positions(content: bytes, n_in: int, n_out: int):
    """(input names, output names, their positions among the subgraph's inputs/outputs), in the order of
    the file's signature, which is how LiteRT (and so every other runner here) lists them."""
    try:
        from ai_edge_litert import interpreter as lite
    except ImportError:  # no LiteRT: positions are the names
        return ([f"input_{i}" for i in range(n_in)], [f"output_{i}" for i in range(n_out)],
                list(range(n_in)), list(range(n_out)))
    it = lite.Interpreter(model_content=content)
    graph_in = [d["index"] for d in it.get_input_details()]
    graph_out = [d["index"] for d in it.get_output_details()]
    sigs = it.get_signature_list()
    if not sigs:
        return ([d["name"] for d in it.get_input_details()], [d["name"] for d in it.get_output_details()],
                list(range(n_in)), list(range(n_out)))
    key = next(iter(sigs))
    runner = it.get_signature_runner(key)
    ins, outs = runner.get_input_details(), runner.get_output_details()
    in_names, out_names = list(sigs[key]["inputs"]), list(sigs[key]["outputs"])
    return (in_names, out_names, [graph_in.index(ins[n]["index"]) for n in in_names],
            [graph_out.index(outs[n]["index"]) for n in out_names])


def compare_with_litert(content: bytes, runner: MicroRunner, path: pathlib.Path, inputs: list[np.ndarray],
                        *, xnnpack: bool = False) -> int:
    """The largest difference, in int8 steps, between TFLM and LiteRT running the same file on ``inputs``.

    LiteRT runs its built-in reference kernels (``xnnpack=False``), the ones TFLM's kernels are
    ported from; XNNPACK's int8 kernels round differently (measured: up to 3 steps on a small MLP).
    """
    litert = device_bench.open_artifact(str(path), xnnpack=xnnpack)
    by_name = dict(zip([t.name for t in runner.inputs], range(len(inputs))))
    order = [by_name[t.name] for t in litert.inputs]  # both list the signature's inputs: the same order
    worst = 0
    for k in range(len(inputs[0])):
        feeds = [spec.quantize(x[k:k + 1]) for spec, x in zip(runner.inputs, inputs)]
        a, b = runner.invoke(feeds), litert.invoke([feeds[i] for i in order])
        worst = max([worst, *(int(np.max(np.abs(x.astype(np.int64) - y.astype(np.int64)))) for x, y in zip(a, b))])
    return worst


def fits(arena: int, flash: int) -> dict[str, bool]:
    return {key: arena <= board.ram_bytes and flash <= board.flash_bytes for key, board in BOARDS.items()}


def check_fits(board: Board | None, arena: int, flash: int, artifact: str) -> None:
    if board is not None and (arena > board.ram_bytes or flash > board.flash_bytes):
        raise ExportError(f"{artifact} does not fit the {board.name}: tensor arena {arena / KB:.1f} KB of "
                          f"{board.ram_bytes // KB} KB RAM, model {flash / KB:.1f} KB of {board.flash_bytes // KB} "
                          f"KB flash; shrink the model (fewer filters or units) or choose a larger board.")


# --- the C source pair a firmware project includes -------------------------------------------------

def c_identifier(name: str) -> str:
    ident = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return ident if not ident[:1].isdigit() else f"m_{ident}"


def c_sources(content: bytes, name: str, arena: int, runner: MicroRunner, labels=None) -> tuple[str, str]:
    """(header, source): the flatbuffer as a 16-byte aligned array, its length, the arena size,
    each input's and output's shape, scale and zero point, and the labels."""
    ident = c_identifier(name)
    guard = f"{ident.upper()}_MODEL_DATA_H_"
    lines = [f"// {name}: generated by dlbootcamp export --to micro. Do not edit; re-export instead.",
             f"#ifndef {guard}", f"#define {guard}", "", "#include <cstddef>", "#include <cstdint>", "",
             f"// The model flatbuffer (TFLite, full-integer int8, batch 1): {len(content)} bytes of flash.",
             f"extern const unsigned char {ident}_model_data[];",
             f"extern const unsigned int {ident}_model_data_len;", "",
             "// The smallest tensor arena the TFLite Micro host interpreter accepted, measured, plus a",
             "// margin of 1 KB for kernels whose scratch buffers differ between builds:",
             "// alignas(16) static uint8_t tensor_arena[" + f"{ident}_arena_size];",
             f"constexpr std::size_t {ident}_arena_size = {arena + 1024};", ""]
    for kind, tensors in (("input", runner.inputs), ("output", runner.outputs)):
        for i, t in enumerate(tensors):
            shape = ", ".join(str(int(d)) for d in t.shape)
            lines += [f"// {kind} {i}: int8 of shape [{shape}]; real = scale * (q - zero_point)",
                      f"constexpr float {ident}_{kind}{i}_scale = {float(t.scale or 0.0):.9g}f;",
                      f"constexpr int {ident}_{kind}{i}_zero_point = {int(t.zero_point or 0)};"]
    if labels:
        lines += ["", f"constexpr int {ident}_label_count = {len(labels)};",
                  f"extern const char* const {ident}_labels[{len(labels)}];"]
    lines += ["", f"#endif  // {guard}", ""]
    body = [f"// {name}: generated by dlbootcamp export --to micro. Do not edit; re-export instead.",
            f'#include "{name}_model_data.h"', "",
            f"alignas(16) const unsigned char {ident}_model_data[] = {{"]
    for start in range(0, len(content), 12):
        body.append("  " + ", ".join(f"0x{b:02x}" for b in content[start:start + 12]) + ",")
    body += ["};", f"const unsigned int {ident}_model_data_len = {len(content)};"]
    if labels:
        quoted = ", ".join('"' + str(label).replace("\\", "\\\\").replace('"', '\\"') + '"' for label in labels)
        body += [f"const char* const {ident}_labels[{len(labels)}] = {{{quoted}}};"]
    return "\n".join(lines), "\n".join(body) + "\n"


def write_c_sources(out_dir: pathlib.Path, name: str, header: str, source: str, *, overwrite: bool) -> list[pathlib.Path]:
    paths = [out_dir / f"{name}_model_data.h", out_dir / f"{name}_model_data.cc"]
    atomic.write_bytes(paths[0], header.encode(), overwrite=overwrite)
    atomic.write_bytes(paths[1], source.encode(), overwrite=overwrite)
    return paths
