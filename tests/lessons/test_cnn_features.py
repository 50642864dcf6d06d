import json

from conftest import needs_fashion_mnist


@needs_fashion_mnist
def test_quick_cnn_features_run(cli, tmp_path):
    code, out, err = cli("train", "cnn-features", "--quick", "--out", tmp_path, "--name", "q")
    assert code == 0, err
    run = tmp_path / "q"
    for name in ("model.keras", "filters_layer1.png", "activation_maps.png", "class_maximising_inputs.png",
                 "confusion_matrix.png", "learning_curves.png", "history.csv"):
        assert (run / name).exists(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= metrics["metrics"]["test_accuracy"] <= 1.0 and metrics["passed"] is None
    assert metrics["config"]["train_limit"] == 1500
    pixels = metrics["baselines"]["logistic regression (raw pixels)"]
    assert 0.5 < pixels["test_accuracy"] <= 1.0  # a linear model on 1,500 images is far above chance (0.1)
    assert "logistic regression (raw pixels)" in out  # the summary prints it beside the model
