import json

import numpy as np
import pytest

from dlbootcamp import registry
from conftest import export_quick, quick_train


@pytest.fixture(scope="module")
def lesson():
    return registry.load("perceptron")


@pytest.fixture(scope="module")
def quick_run(lesson, tmp_path_factory):
    """One --quick run of the lesson, shared by the tests below (training is the slow part)."""
    return quick_train(lesson, tmp_path_factory)


def test_quick_run_records_gates_curves_and_fits(quick_run):
    cfg, folder, record = quick_run
    for name in ("model.keras", "metrics.json", "history.csv", "logic_gates.png", "perceptron_rule.png",
                 "fits_by_depth.png", "learning_curves.png"):
        assert (folder / name).exists(), name
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["passed"] is None  # --quick judges nothing
    m = metrics["metrics"]
    # the perceptron rule is exact arithmetic: even at smoke size AND/OR converge and XOR cannot
    assert m["perceptron_and_accuracy"] == m["perceptron_or_accuracy"] == 1.0
    assert m["perceptron_xor_best_accuracy"] <= 0.75
    assert m["dense_unit_matches_perceptron_and"] == m["dense_unit_matches_perceptron_or"] == 1.0
    for d in cfg.depths:
        assert m[f"approx_depth{d}_test_mae"] >= 0.0
    assert m["approx_best_depth"] in cfg.depths
    assert m["approx_test_mae"] == pytest.approx(m[f"approx_depth{int(m['approx_best_depth'])}_test_mae"])


def test_exported_approximator_matches_keras_in_tflite_and_onnx(lesson, quick_run, tmp_path):
    import keras

    cfg, folder, _ = quick_run
    model = keras.saving.load_model(folder / "model.keras")
    hidden = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)][:-1]
    assert hidden and all(layer.units == cfg.width == 5 for layer in hidden)  # width n + 4, n = 1
    report = export_quick(lesson, cfg, {"model": model}, tmp_path, metric="approx_test_mae")
    assert all(r["metric_value"] >= 0.0 for r in report.rows if r["quantization"] == "int8")


def test_perceptron_rule_learns_and_or_but_cycles_on_xor(lesson):
    for gate in ("AND", "OR"):
        w, b, acc = lesson.perceptron(lesson.INPUTS, lesson.TRUTH[gate], epochs=50, seed=0)
        assert acc[-1] == 1.0 and len(acc) < 50
        np.testing.assert_array_equal(lesson.step(lesson.INPUTS @ w + b), lesson.TRUTH[gate])
    _, _, acc = lesson.perceptron(lesson.INPUTS, lesson.TRUTH["XOR"], epochs=200, seed=0)
    assert len(acc) == 200 and max(acc) <= 0.75


def test_no_line_separates_xor(lesson):
    """Brute force over many lines: none gets all four XOR inputs right (the proof is in the docstring)."""
    rng = np.random.default_rng(0)
    lines = rng.normal(size=(20000, 3))
    scores = lesson.step(lesson.INPUTS @ lines[:, :2].T + lines[:, 2]).T  # (lines, 4)
    assert (scores == lesson.TRUTH["XOR"]).all(axis=1).sum() == 0
    assert (scores == lesson.TRUTH["AND"]).all(axis=1).sum() > 0


def test_data_grids_are_held_out_and_evaluate_scores_predictions(lesson):
    data = lesson.load_data(lesson.Config.quick())
    assert not set(data.val.x[:, 0]) & set(data.test.x[:, 0])
    assert data.test.x.min() == -2.0 and data.test.x.max() == 2.0
    assert lesson.evaluate(lambda x: lesson.target(x), data)["approx_test_mae"] == 0.0
    assert lesson.evaluate(lambda x: np.zeros_like(x), data)["approx_test_mae"] > 0.3
    spread = lesson.representative_data(data, n=10, split="test")
    assert spread.shape == (10, 1) and spread.min() == -2.0 and spread.max() == 2.0
