import json

import numpy as np
import pytest

from dlbootcamp import registry
from conftest import export_quick, quick_train


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One --quick run of the lesson, shared by the tests below (training is the slow part)."""
    module = registry.load("ml-vs-dl")
    return (module, *quick_train(module, tmp_path_factory))


def test_quick_run_reports_both_comparisons(quick_run):
    _, _, folder, record = quick_run
    for name in ("model.keras", "config.json", "metrics.json", "history.csv", "ml_vs_dl.png",
                 "hand_made_features.png", "learning_curves.png"):
        assert (folder / name).exists(), name
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["passed"] is None  # --quick judges nothing
    m = metrics["metrics"]
    for key in ("table_gbm_test_accuracy", "table_mlp_test_accuracy", "table_gbm_test_auc", "table_mlp_test_auc",
                "features_test_accuracy", "raw_pixels_logreg_test_accuracy", "cnn_test_accuracy"):
        assert 0.0 <= m[key] <= 1.0, key
    assert m["cnn_gain_over_features"] == pytest.approx(m["cnn_test_accuracy"] - m["features_test_accuracy"])
    # gradient boosting on the table is a real model even at smoke size
    assert m["table_gbm_test_accuracy"] > 0.85
    assert any(n.startswith("table (breast cancer") for n in record["notes"])


def test_exported_cnn_matches_keras_in_tflite_and_onnx(quick_run, tmp_path):
    import keras

    module, cfg, folder, _ = quick_run
    model = keras.saving.load_model(folder / "model.keras")
    report = export_quick(module, cfg, {"model": model}, tmp_path, metric="cnn_test_accuracy")
    assert all(0.0 <= r["metric_value"] <= 1.0 for r in report.rows if r["quantization"] == "int8")


def test_hand_made_features_describe_each_digit():
    module = registry.load("ml-vs-dl")
    data = module.load_data(module.Config.quick())
    images = data.digits.test.x[:5]
    feats = module.hand_made_features(images)
    assert feats.shape == (5, 359) and feats.dtype == np.float32 and np.isfinite(feats).all()
    # a blank image has no edges and no ink: its features differ from a digit's
    blank = module.hand_made_features(np.zeros((1, 8, 8), np.float32))
    assert not np.allclose(blank[0], feats[0])


def test_evaluate_scores_any_predict_function():
    module = registry.load("ml-vs-dl")
    data = module.load_data(module.Config.quick())
    oracle = lambda x: np.eye(10)[data.digits.test.y]  # noqa: E731
    assert module.evaluate(oracle, data)["cnn_test_accuracy"] == 1.0
    constant = lambda x: np.tile(np.eye(10)[0], (len(x), 1))  # noqa: E731
    assert module.evaluate(constant, data)["cnn_test_accuracy"] < 0.3


def test_table_note_names_the_winner_or_a_tie():
    module = registry.load("ml-vs-dl")
    m = {"table_gbm_test_accuracy": 0.95, "table_mlp_test_accuracy": 0.98, "table_gbm_test_auc": 0.99,
         "table_mlp_test_auc": 0.99}
    assert "the MLP wins" in module.table_note(m, 114)
    assert "gradient boosting wins" in module.table_note({**m, "table_gbm_test_accuracy": 1.0}, 114)
    assert "a tie within one test row" in module.table_note({**m, "table_gbm_test_accuracy": 0.975}, 114)
