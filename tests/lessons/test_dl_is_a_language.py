import json

import numpy as np
import pytest

from dlbootcamp.worlds import cars
from dlbootcamp import registry
from conftest import export_quick, quick_train


@pytest.fixture(scope="module")
def lesson():
    return registry.load("dl-is-a-language")


@pytest.fixture(scope="module")
def quick_run(lesson, tmp_path_factory):
    """One --quick run of the lesson, shared by the tests below (training is the slow part)."""
    return quick_train(lesson, tmp_path_factory)


def test_quick_run_trains_both_models_and_draws_the_curves(quick_run):
    _, folder, record = quick_run
    for name in ("model.keras", "metrics.json", "history.csv", "listings.png", "overfitting_curves.png",
                 "predictions.png", "learning_curves.png"):
        assert (folder / name).exists(), name
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["passed"] is None  # --quick judges nothing
    m = metrics["metrics"]
    assert m["test_mae"] > 0 and m["naive_test_mae"] > 0
    assert m["mae_ratio"] == pytest.approx(m["test_mae"] / m["naive_test_mae"])
    assert m["val_mae_ratio"] == pytest.approx(m["less_naive_val_mae"] / m["naive_val_mae"])
    assert 0 < m["noise_floor_test_mae"] < m["test_mae"]


def test_exported_two_input_model_matches_keras_in_tflite_and_onnx(lesson, quick_run, tmp_path):
    import keras

    cfg, folder, _ = quick_run
    model = keras.saving.load_model(folder / "model.keras")
    assert [t.name for t in model.inputs] == ["photo", "form"]
    report = export_quick(lesson, cfg, {"model": model}, tmp_path, metric="test_mae")
    assert all(r["metric_value"] > 0.0 for r in report.rows if r["quantization"] == "int8")


def test_listings_are_seeded_and_priced_by_form_and_photo():
    a, b, c = cars.listings(300, seed=5), cars.listings(300, seed=5), cars.listings(300, seed=6)
    np.testing.assert_array_equal(a.photo, b.photo)
    np.testing.assert_array_equal(a.price, b.price)
    assert not np.allclose(a.price, c.price)
    assert a.photo.shape == (300, 32, 32, 3) and a.photo.dtype == np.float32
    assert 0.0 <= a.photo.min() and a.photo.max() <= 1.0
    assert a.form().shape == (300, len(cars.FORM_COLUMNS))
    log_ratio = np.log(a.price / a.fair_price)
    assert abs(log_ratio.std() - cars.NOISE) < 0.015  # the noise is what the generator says
    # older cars and rusty cars are cheaper, all else equal (in log space the effects add up)
    resid = np.log(a.fair_price) - np.log([cars.MODELS[m][3] for m in a.model])
    assert np.corrcoef(a.age, resid)[0, 1] < -0.8
    assert np.corrcoef(a.blemishes, resid + a.age * -np.log(cars.DEPRECIATION))[0, 1] < 0
    # doors follow the body: sedans have 4, SUVs 5
    body = np.array([cars.MODELS[m][2] for m in a.model])
    assert set(a.doors[body == "sedan"]) == {4} and set(a.doors[body == "suv"]) == {5}


def test_every_rust_spot_can_be_counted_in_the_photo():
    cars_ = cars.listings(200, seed=1)
    assert {0, 1, 2, 3} <= set(cars_.blemishes)
    near = (np.abs(cars_.photo - np.array(cars.RUST)).max(-1) < 0.12).sum((1, 2))  # rust-coloured pixels
    counted = np.round(near / cars.RUST_SIZE ** 2)  # spots never touch: pixels / 9 = spots
    assert np.mean(counted == cars_.blemishes) > 0.95


def test_listings_reject_a_bad_count():
    with pytest.raises(ValueError, match=r"Invalid number of listings n=0: expected a positive integer\."):
        cars.listings(0, seed=0)


def test_evaluate_scores_any_predict_function(lesson):
    data = lesson.load_data(lesson.Config.quick())
    photo, form = lesson.representative_data(data, n=8, split="test")
    assert photo.shape == (8, 32, 32, 3) and form.shape == (8, len(cars.FORM_COLUMNS))
    assert lesson.evaluate(lambda xs: np.log(data.test.price), data)["test_mae"] == pytest.approx(0.0, abs=1e-5)
    assert lesson.evaluate(lambda xs: np.zeros(len(xs[0])), data)["test_mae"] == pytest.approx(
        np.mean(np.abs(data.test.price - 1.0)), rel=1e-5)  # log-price 0 = $1k
