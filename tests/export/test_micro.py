"""TensorFlow Lite for Microcontrollers: artifacts that load in TFLM's own interpreter, agree with LiteRT,
say how much RAM and flash they need, and come with a C source pair a firmware project compiles."""

import json
import pathlib
import shutil
import subprocess

import numpy as np
import pytest

pytest.importorskip("tflite_micro", reason="the tflite-micro package (pip install -e '.[micro]')")


@pytest.mark.parametrize("kind", ["dense", "conv_bn"])
def test_micro_artifact_runs_in_tflm_agrees_with_litert_and_reports_its_memory(kind, build_model, make_inputs,
                                                                               tmp_path):
    from dlbootcamp.export import api, micro

    model = build_model(kind)
    report = api.export_and_verify({kind: model}, tmp_path, inputs=make_inputs(model, 24, seed=1),
                                   calibration=make_inputs(model, 64, seed=2), formats=("micro",),
                                   micro="required", labels=["a", "b", "c"])
    assert report.passed, report.failures
    (row,) = report.rows
    assert row["format"] == "micro" and row["runtime"] == "tflite-micro" and row["batch_fixed"] == 1
    assert row["micro_vs_litert_steps"] <= 1  # the same file in two interpreters: identical or one int8 step
    content = pathlib.Path(row["path"]).read_bytes()
    assert row["flash_bytes"] == len(content)
    arena = row["arena_bytes"]
    assert arena % micro.ARENA_STEP == 0 and 0 < arena < 256 * 1024
    assert micro._load(content, arena)[0] is not None  # the measured arena works ...
    assert micro._load(content, arena - micro.ARENA_STEP)[0] is None or not micro.smallest_arena(content) < arena
    assert row["fits"] == {"nano33ble": True, "pico": True, "stm32f746": True, "esp32": True}
    assert not [op for op in row["operators"] if op in ("SHAPE", "PACK", "STRIDED_SLICE")]  # static batch 1
    meta = json.loads(pathlib.Path(row["sidecar"]).read_text())
    assert meta["arena_bytes"] == arena and meta["inputs"][0]["dtype"] == "int8"
    header, source = (pathlib.Path(p) for p in row["c_sources"])
    text = header.read_text()
    assert f"constexpr std::size_t {kind}_arena_size = {arena + 1024};" in text
    assert f"{kind}_input0_zero_point" in text and f"{kind}_label_count = 3" in text
    assert f"const unsigned int {kind}_model_data_len = {len(content)};" in source.read_text()
    if shutil.which("g++"):  # the pair compiles as C++ for a firmware project
        done = subprocess.run(["g++", "-std=c++17", "-Wall", "-Werror", "-c", str(source), "-o",
                               str(tmp_path / "model_data.o")], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    # the array holds the flatbuffer byte for byte
    hexes = [int(h, 16) for h in source.read_text().split("{", 1)[1].split("}", 1)[0].replace(",", " ").split()]
    assert bytes(hexes) == content


def test_micro_metric_is_scored_like_every_artifact(tmp_path):
    """Through a lesson: the micro artifact is scored with the lesson's metric and judged by its tolerance."""
    from dlbootcamp import records, registry
    from dlbootcamp.app import pipeline

    module = registry.load("training")
    cfg = module.Config.quick()
    folder, _ = records.train_lesson(module, cfg, out=tmp_path / "runs", quick=True, name="q", verbose=False)
    report = pipeline.export_run(folder, formats=("micro",), micro="required")
    (row,) = report.rows
    assert row["metric"] == "test_accuracy" and row["metric_value"] is not None
    assert row["tolerance"] == module.LESSON.quantized_tolerance
    header = pathlib.Path(row["c_sources"][0]).read_text()
    assert 'model_labels[10]' in header.replace("extern const char* const ", "")


def test_a_missing_kernel_is_named_in_one_line(tmp_path):
    """Conv3D (CONV_3D, as in the lip-reading lesson) is a LiteRT built-in that TFLite Micro has no kernel for."""
    import keras

    from dlbootcamp.errors import ExportError
    from dlbootcamp.export import api, micro

    clip = keras.Input((4, 4, 4, 1), name="clip")
    out = keras.layers.Dense(2)(keras.layers.Flatten()(keras.layers.Conv3D(2, 2, name="motion")(clip)))
    model = keras.Model(clip, out, name="clip_reader")
    calibration = [np.random.default_rng(0).random((16, 4, 4, 4, 1), np.float32)]
    with pytest.raises(ExportError, match=r"^1 export check failed: clip_reader\.micro\.tflite: TensorFlow Lite for "
                                          r"Microcontrollers has no kernel for CONV_3D; replace those layers, or deploy "
                                          r"with LiteRT on a phone or a Linux board instead\. Details: "):
        report = api.export_and_verify({"clip_reader": model}, tmp_path, calibration=calibration,
                                       formats=("micro",), micro="required")
        report.raise_if_failed()
    assert not (tmp_path / "clip_reader.micro.tflite").exists()  # nothing written for a model TFLM cannot run
    # the default ("auto") leaves micro out with a note instead of failing the whole export
    report = api.export_and_verify({"clip_reader": model}, tmp_path / "auto", calibration=calibration,
                                   formats=("tflite", "micro"), quantizations=("fp32",))
    assert report.passed and [r["format"] for r in report.rows] == ["tflite"]
    assert any("no kernel for CONV_3D" in n for n in report.notes)
    assert micro._MISSING_OP.findall("Didn't find op for builtin opcode 'CONV_3D' version '1'") == ["CONV_3D"]


def test_board_errors_are_one_line(build_model, make_inputs, tmp_path, cli):
    from dlbootcamp.errors import ExportError
    from dlbootcamp.export import micro

    with pytest.raises(ExportError, match=r"^Unknown --board 'arduino-uno'; expected one of nano33ble, pico"):
        micro.check_board("arduino-uno")
    with pytest.raises(ExportError, match=r"^m\.micro\.tflite does not fit the Arduino Nano 33 BLE Sense: tensor "
                                          r"arena 300\.0 KB of 256 KB RAM"):
        micro.check_fits(micro.BOARDS["nano33ble"], 300 * 1024, 10 * 1024, "m.micro.tflite")
    code, _, err = cli("export", str(tmp_path / "nothing.keras"), "--to", "tflite", "--board", "pico")
    assert code == 2 and err.strip().endswith("add micro to --to (--to micro).") and len(err.strip().splitlines()) == 1
