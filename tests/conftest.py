"""Shared test set-up: offline, quiet TensorFlow, and a small helper to run the CLI."""

import os

os.environ["DLBOOTCAMP_OFFLINE"] = "1"  # nothing downloads during tests
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import pathlib

import pytest

FASHION = pathlib.Path("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz")

needs_fashion_mnist = pytest.mark.skipif(
    not FASHION.exists(),
    reason="Fashion-MNIST offline copy missing: apt-get install dataset-fashion-mnist",
)


@pytest.fixture
def cli(capsys):
    """Run `dlbootcamp ARGS...` in-process; returns (exit code, stdout, stderr)."""
    from dlbootcamp.cli import main

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
    return cfg, folder, record


def quick_cli_run(lesson_id: str, tmp_path_factory):
    """One `dlbootcamp train ID --quick` through the CLI in-process; returns the run folder."""
    from dlbootcamp.cli import main

    out = tmp_path_factory.mktemp("runs")
    assert main(["train", lesson_id, "--quick", "--out", str(out), "--name", "q", "--quiet"]) == 0
    return out / "q"
