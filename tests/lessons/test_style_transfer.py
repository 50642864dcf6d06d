import importlib
import json

import numpy as np
import pytest

from dlbootcamp import feature_extractors
from dlbootcamp.errors import UserError
from conftest import export_quick, quick_train


@pytest.fixture(scope="module")
def lesson():
    return importlib.import_module("dlbootcamp.lessons.day08_style_transfer")


@pytest.fixture(scope="module")
def quick_run(lesson, tmp_path_factory):
    """One --quick run of the lesson, shared by the tests below."""
    return quick_train(lesson, tmp_path_factory)


def test_quick_run_records_result_curves_and_metrics(quick_run):
    cfg, folder, _ = quick_run
    for name in ("model.keras", "optimised.png", "style_transfer.png", "stylizer_outputs.png", "learning_curves.png"):
        assert (folder / name).exists(), name
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["passed"] is None  # --quick judges nothing
    m = metrics["metrics"]
    assert {"style_reduction", "content_loss", "stylizer_style_loss", "stylizer_content_loss",
            "stylizer_vs_optimisation", "val_stylizer_style_reduction", "val_stylizer_content_loss"} <= set(m)
    assert m["style_reduction"] > 1.0  # even five pixel steps lower the style loss
    assert any("fixed random multi-scale filters" in note for note in metrics["notes"])


def test_exported_stylizer_matches_keras_in_tflite_and_onnx(lesson, quick_run, tmp_path):
    import keras

    cfg, folder, _ = quick_run
    model = keras.saving.load_model(folder / "model.keras", safe_mode=True)
    assert model.input.shape[1:] == (cfg.size, cfg.size, 3)  # fixed size for the device
    report = export_quick(lesson, cfg, {"model": model}, tmp_path)
    assert report.passed, report.failures


def test_losses_are_zero_on_their_own_targets_and_grams_are_statistics(lesson):
    import tensorflow as tf

    f = tf.constant(np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2))  # 4 positions, 2 channels
    g = lesson.gram(f).numpy()[0]
    np.testing.assert_allclose(g, [[(0 + 4 + 16 + 36) / 4, (0 + 6 + 20 + 42) / 4],
                                   [(0 + 6 + 20 + 42) / 4, (1 + 9 + 25 + 49) / 4]])
    rng = np.random.default_rng(0)
    style, content = rng.random((1, 32, 32, 3), np.float32), rng.random((2, 32, 32, 3), np.float32)
    losses = lesson.Losses(feature_extractors.build(0, prefer="random"), style)
    s, c = losses(style, style)
    assert float(s[0]) < 1e-6 and float(c[0]) < 1e-6
    s, c = losses(content, content)
    assert (s.numpy() > 1e-3).all() and (c.numpy() < 1e-6).all()
    # a shuffled copy of the style image keeps no layout but similar statistics
    shuffled = style[:, rng.permutation(32)][:, :, rng.permutation(32)]
    assert float(losses(shuffled, style)[0][0]) < float(losses(content[:1], style)[0][0])


def test_evaluate_scores_any_predict_function(lesson):
    data = lesson.load_data(lesson.Config.quick())
    identity = lesson.evaluate(lambda x: x, data)
    assert identity["stylizer_content_loss"] < 1e-6
    grey = lesson.evaluate(lambda x: np.full_like(x, 0.5), data)
    assert grey["stylizer_content_loss"] > 0.5


def test_the_loss_network_is_fixed_and_validation_photos_are_held_out(lesson):
    import dataclasses

    from dlbootcamp.data import photos

    cfg = lesson.Config.quick()
    a, b = lesson.load_data(cfg), lesson.load_data(dataclasses.replace(cfg, seed=1))
    darker = lambda x: np.clip(0.8 * x + 0.05, 0, 1)
    assert lesson.evaluate(darker, a) == lesson.evaluate(darker, b)  # another seed, the same ruler
    assert lesson.evaluate(darker, a, split="val") != lesson.evaluate(darker, a)
    assert a.val.shape == (len(cfg.val_photos), cfg.size, cfg.size, 3) and a.val_names == cfg.val_photos
    kept = [n for n in photos.TRAIN_PHOTOS if n != cfg.style]
    assert len(a.train_photos) == len(kept) - len(cfg.val_photos)  # validation photos give no training crops
    assert not set(cfg.val_photos) & set(photos.TEST_PHOTOS)
    with pytest.raises(UserError, match="val_photos .* must be training photos"):
        lesson.load_data(dataclasses.replace(cfg, val_photos=("chelsea",)))


def test_extractor_is_random_without_weights_and_vgg19_with_them(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    random = feature_extractors.build(0)
    assert random.kind == "random-multiscale" and "no ImageNet VGG19 weights" in random.description
    styles, content = random.features(np.zeros((1, 32, 32, 3), np.float32))
    assert [s.shape[1] for s in styles] == [32, 16, 8, 4] and content.shape[1] == 8
    with pytest.raises(UserError, match=r"VGG19 ImageNet weights not found at .*vgg19_weights_tf_dim_ordering"):
        feature_extractors.build(0, prefer="vgg19")
    with pytest.raises(UserError, match=r"Unknown feature extractor 'alexnet'; expected 'auto', 'vgg19' or 'random'"):
        feature_extractors.build(0, prefer="alexnet")
    # A weights file in the Keras cache (here: random weights in the legacy .h5 layout) is picked up.
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    (tmp_path / "models").mkdir()
    with h5py.File(tmp_path / "models" / feature_extractors.VGG19_FILE, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, keras.applications.VGG19(include_top=False, weights=None))
    vgg = feature_extractors.build(0)
    assert vgg.kind == "vgg19-imagenet" and feature_extractors.VGG19_FILE in vgg.description
    styles, content = vgg.features(np.zeros((1, 32, 32, 3), np.float32))
    assert len(styles) == 5 and content.shape[-1] == 512
    assert feature_extractors.build(0, prefer="random").kind == "random-multiscale"
