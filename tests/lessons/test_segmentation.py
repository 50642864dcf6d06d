import importlib
import json

import numpy as np
import pytest

from dlbootcamp import image_metrics
from dlbootcamp.worlds import phantoms
from conftest import export_quick, quick_train


@pytest.fixture(scope="module")
def lesson():
    return importlib.import_module("dlbootcamp.lessons.day06_segmentation")


@pytest.fixture(scope="module")
def quick_run(lesson, tmp_path_factory):
    """One --quick run of the lesson, shared by the tests below (training is the slow part)."""
    return (lesson, *quick_train(lesson, tmp_path_factory))


def test_quick_run_records_pictures_and_metric(quick_run):
    _, _, folder, record = quick_run
    for name in ("model.keras", "segmentations.png", "dice_histogram.png", "learning_curves.png", "history.csv"):
        assert (folder / name).exists(), name
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["passed"] is None  # --quick judges nothing
    assert 0.0 <= metrics["metrics"]["test_dice"] <= 1.0
    assert "val_dice" in (folder / "history.csv").read_text().splitlines()[0]


def test_exported_unet_matches_keras_in_tflite_and_onnx(quick_run, tmp_path):
    import keras

    module, cfg, folder, _ = quick_run
    model = keras.saving.load_model(folder / "model.keras")  # loads without the lesson's custom loss
    report = export_quick(module, cfg, {"model": model}, tmp_path)
    assert report.passed, report.failures
    assert all(0.0 <= r["metric_value"] <= 1.0 for r in report.rows if r["quantization"] == "int8")


def test_phantoms_are_seeded_and_masks_mark_bright_blobs():
    a, ma = phantoms.brain_slices(6, seed=3)
    b, mb = phantoms.brain_slices(6, seed=3)
    c, _ = phantoms.brain_slices(6, seed=4)
    assert a.shape == (6, 64, 64, 1) and ma.shape == a.shape and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ma, mb)
    assert not np.allclose(a, c)
    assert set(np.unique(ma)) == {0.0, 1.0}
    assert (ma.reshape(6, -1).sum(1) > 0).all()  # every slice has a tumour
    # tumours are brighter than the rest of the head (pixels above the background level)
    head = (a > 0.25) & (ma == 0)
    assert a[ma == 1].mean() > a[head].mean() + 0.05


def test_phantoms_reject_a_bad_count():
    with pytest.raises(ValueError, match=r"Invalid number of phantoms n=0: expected a positive integer"):
        phantoms.brain_slices(0, seed=0)


def test_dice_counts_overlap_and_ignores_background():
    mask = np.zeros((3, 8, 8, 1), np.float32)
    mask[:, 2:4, 2:4] = 1
    assert image_metrics.dice(mask, mask) == 1.0
    assert image_metrics.dice(mask, np.zeros_like(mask)) == 0.0
    half = np.zeros_like(mask)
    half[:, 2:4, 2:3] = 1  # half the tumour found: 2 * 2 / (4 + 2)
    np.testing.assert_allclose(image_metrics.dice_per_image(mask, half), [2 / 3] * 3)
    assert image_metrics.dice(np.zeros_like(mask), np.zeros_like(mask)) == 1.0
    with pytest.raises(ValueError, match=r"Masks and predictions differ in shape: .* expected one prediction"):
        image_metrics.dice(mask, mask[:, :4])


def test_evaluate_scores_any_predict_function(lesson):
    module = lesson
    data = module.load_data(module.Config.quick())
    assert module.evaluate(lambda x: data.test.y, data)["test_dice"] == 1.0
    assert module.evaluate(lambda x: np.zeros_like(x), data)["test_dice"] == 0.0


def test_unet_rejects_a_size_it_cannot_pool(lesson):
    import dataclasses

    cfg = dataclasses.replace(lesson.Config.quick(), size=30)
    with pytest.raises(ValueError, match=r"Invalid size 30: expected a multiple of 4 for 2 poolings"):
        lesson.build_model(cfg)
