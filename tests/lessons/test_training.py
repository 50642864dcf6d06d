import json

from dlbootcamp import registry


def test_quick_training_run_records_everything(cli, tmp_path):
    code, out, err = cli("train", "training", "--quick", "--out", tmp_path, "--name", "q")
    assert code == 0, err
    run = tmp_path / "q"
    for name in ("model.keras", "config.json", "metrics.json", "history.csv", "learning_curves.png",
                 "loops_compared.png"):
        assert (run / name).exists(), name
    assert any((run / "tensorboard").rglob("events.out.tfevents*"))
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["passed"] is None  # --quick judges nothing
    assert set(metrics["metrics"]) >= {"test_accuracy", "loop_test_accuracy", "gradcheck_rel_error",
                                       "baseline_accuracy"}
    # the gradient check is exact arithmetic, so it holds even at smoke size
    assert metrics["metrics"]["gradcheck_rel_error"] < 1e-3
    assert "not judged (--quick)" in out
    code, out, _ = cli("runs", "--out", tmp_path)
    assert code == 0 and "q" in out and "quick" in out


def test_evaluate_scores_any_predict_function():
    import numpy as np

    module = registry.load("training")
    cfg = module.Config.quick()
    data = module.load_data(cfg)
    perfect = lambda x: np.eye(10)[data.test.y]  # noqa: E731 - an oracle
    assert module.evaluate(perfect, data)["test_accuracy"] == 1.0
    constant = lambda x: np.tile(np.eye(10)[0], (len(x), 1))  # noqa: E731
    assert module.evaluate(constant, data)["test_accuracy"] < 0.3
