"""Shared test set-up: offline, quiet TensorFlow, and a small helper to run the CLI."""

import os

os.environ["DLBOOTCAMP_OFFLINE"] = "1"  # nothing downloads during tests
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pathlib
import shutil

import pytest

FASHION = pathlib.Path("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")

needs_fashion_mnist = pytest.mark.skipif(
    not FASHION.exists(),
    reason="Fashion-MNIST offline copy missing: apt-get install dataset-fashion-mnist",
)

needs_kjv = pytest.mark.skipif(
    not (shutil.which("bible") and pathlib.Path("/usr/lib/bible.data").exists()),
    reason="King James Bible corpus missing: apt-get install bible-kjv bible-kjv-text",
)

needs_freedict = pytest.mark.skipif(
    not pathlib.Path("/usr/share/dictd/freedict-eng-deu.dict.dz").exists(),
    reason="FreeDict English-German dictionary missing: apt-get install dict-freedict-eng-deu",
)


@pytest.hookimpl(wrapper=True)  # a wrapper: it runs before xdist's own hook, which reads the groups
def pytest_collection_modifyitems(config, items):
    """The suite runs on two pytest-xdist workers (``-n 2 --dist loadgroup`` in setup.cfg). A test file's tests
    stay together on one worker, so its module-scoped fixtures (a lesson's quick run, the executed notebooks)
    run once; the tour's lessons are independent and spread over both workers."""
    for item in items:
        group = xdist_group_of(item.nodeid)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
    return (yield)


def xdist_group_of(nodeid: str) -> str | None:
    """The test's file, which its tests share a worker by; None for the tour's independent lessons."""
    path = nodeid.split("::")[0]
    return None if path.endswith("test_tour.py") else path


@pytest.fixture
def cli(capsys):
    """Run `dlbootcamp ARGS...` in-process; returns (exit code, stdout, stderr)."""
    from dlbootcamp.app.cli import main

    def run(*args):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse exits
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


def quick_train(module, tmp_path_factory):
    """One --quick run of a lesson module, recorded as the CLI does: (cfg, run folder, record)."""
    from dlbootcamp import records

    cfg = module.Config.quick()
    folder, record = records.train_lesson(module, cfg, out=tmp_path_factory.mktemp("runs"), quick=True,
                                          name="q", verbose=False)
    assert_baselines_recorded(module.LESSON, folder)
    return cfg, folder, record


def assert_baselines_recorded(info, folder):
    """metrics.json holds every baseline the lesson declares, each with finite held-out numbers."""
    import json
    import math

    baselines = json.loads((folder / "metrics.json").read_text())["baselines"]
    assert list(baselines) == list(info.baselines), (info.id, list(baselines))
    for name, values in baselines.items():
        assert values and all(isinstance(v, float) and math.isfinite(v) for v in values.values()), (name, values)


def quick_cli_run(lesson_id: str, tmp_path_factory):
    """One `dlbootcamp train ID --quick` through the CLI in-process; returns the run folder."""
    from dlbootcamp.app.cli import main

    out = tmp_path_factory.mktemp("runs")
    assert main(["train", lesson_id, "--quick", "--out", str(out), "--name", "q", "--quiet"]) == 0
    from dlbootcamp import registry

    assert_baselines_recorded(registry.entry(lesson_id).info, out / "q")
    return out / "q"


def export_quick(lesson, cfg, exports: dict, tmp_path, *, data=None, metric: str | None = None,
                 formats: tuple[str, ...] = ("tflite", "onnx")):
    """Export quick models to fp32 and int8 and check what every lesson promises: the fp32 TFLite and
    ONNX artifacts of each model match Keras within 1e-4, and every int8 artifact is scored with the
    lesson's metric; every TFLite file holds built-in ops only (read from the flatbuffer). Returns the
    report (the int8 tolerance is for each test to judge). ``formats``: a lesson whose ONNX artifacts
    the quick tour already judges (test_tour.py) may check TFLite alone here."""
    from dlbootcamp.app import pipeline

    # the formats asked, TFLite and ONNX by default (micro has its own tests and runs in the tour); int8 of each
    report = pipeline.export_lesson(lesson, cfg, exports, tmp_path, data=data, formats=formats,
                                    quantizations=("fp32", "int8"))
    fp32 = [r for r in report.rows if r["quantization"] == "fp32"]
    assert sorted(r["format"] for r in fp32) == sorted(list(formats) * len(exports))
    assert all(r["passed"] and r["max_abs_error"] <= 1e-4 for r in fp32), report.failures
    int8 = [r for r in report.rows if r["quantization"] == "int8"]
    assert int8 and all(r["metric_value"] is not None for r in int8)
    ops = {r["path"]: r["operators"] for r in report.rows if r["format"] == "tflite"}  # read from each file
    assert all(found and not [op for op in found if op.startswith("CUSTOM:")] for found in ops.values()), ops
    assert metric is None or all(r["metric"] == metric for r in int8)
    return report

