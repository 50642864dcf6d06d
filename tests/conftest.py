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
