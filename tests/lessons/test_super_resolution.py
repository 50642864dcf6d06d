import importlib
import json

import numpy as np
import pytest

from dlbootcamp.data import photos
from dlbootcamp.errors import UserError
from conftest import export_quick, quick_train


@pytest.fixture(scope="module")
def lesson():
    return importlib.import_module("dlbootcamp.lessons.day07_super_resolution")


@pytest.fixture(scope="module")
def quick_run(lesson, tmp_path_factory):
    """One --quick run of the lesson, shared by the tests below."""
    return quick_train(lesson, tmp_path_factory)


def test_quick_run_records_pictures_and_metric(quick_run):
    cfg, folder, _ = quick_run
    for name in ("model.keras", "low_bicubic_model_original.png", "learning_curves.png", "history.csv"):
        assert (folder / name).exists(), name
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["passed"] is None  # --quick judges nothing
    m = metrics["metrics"]
    assert m["psnr_gain_db"] == pytest.approx(m["test_psnr"] - m["bicubic_psnr"])
    assert 20.0 < m["bicubic_psnr"] < 40.0  # bicubic x3 on real photos: high 20s dB


def test_exported_espcn_matches_keras_and_upscales_other_sizes(lesson, quick_run, tmp_path):
    import keras
    from ai_edge_litert import interpreter as lite

    cfg, folder, _ = quick_run
    model = keras.saving.load_model(folder / "model.keras", safe_mode=True)
    assert model.input.shape[1:] == (cfg.tile, cfg.tile, 1)  # the fixed tile the device gets
    report = export_quick(lesson, cfg, {"model": model}, tmp_path)
    assert report.passed, report.failures
    fp32 = {r["format"]: r for r in report.rows if r["quantization"] == "fp32"}
    # The sidecar's promise: resize the interpreter's input and the same file upscales any size.
    interpreter = lite.Interpreter(model_path=str(fp32["tflite"]["path"]))
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert "DEPTH_TO_SPACE" in ops
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, [1, 40, 52, 1], strict=False)
    interpreter.allocate_tensors()
    x = np.random.default_rng(0).random((1, 40, 52, 1), dtype=np.float32)
    interpreter.set_tensor(index, x)
    interpreter.invoke()
    out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    anysize = lesson.build_model(cfg)
    anysize.set_weights(model.get_weights())
    assert out.shape == (1, 120, 156, 1)
    np.testing.assert_allclose(out, anysize.predict(x, verbose=0), atol=1e-4)


def test_tiles_reassemble_to_whole_image_inference(lesson):
    cfg = lesson.Config.quick()
    anysize = lesson.build_model(cfg)
    image = np.random.default_rng(1).random((50, 71, 1), dtype=np.float32)
    whole = anysize.predict(image[None], verbose=0)[0]
    tiled = lesson.upscale(lambda t: anysize.predict(t, verbose=0), image, cfg.scale, tile=24)
    assert tiled.shape == whole.shape == (150, 213, 1)
    inner = slice(lesson.MARGIN * cfg.scale, -lesson.MARGIN * cfg.scale)
    np.testing.assert_allclose(tiled[inner, inner], whole[inner, inner], atol=1e-5)


def test_the_fixed_bicubic_subpixel_convolution_is_bicubic_upscaling(lesson):
    import keras
    import tensorflow as tf

    model = lesson.build_model(lesson.Config.quick())
    assert not model.get_layer("bicubic").trainable
    smooth = keras.Model(model.input, model.get_layer("bicubic").output)
    x = np.random.default_rng(2).random((1, 20, 24, 1), dtype=np.float32)
    ours = keras.ops.convert_to_numpy(keras.ops.depth_to_space(smooth(x), 3))
    reference = tf.image.resize(x, (60, 72), method="bicubic").numpy()
    # equal away from the borders (TF tabulates its cubic weights, hence 1e-3, not 1e-6)
    np.testing.assert_allclose(ours[:, 6:-6, 6:-6], reference[:, 6:-6, 6:-6], atol=1e-3)


def test_evaluate_scores_bicubic_as_zero_gain_and_nearest_as_a_loss(lesson):
    import dataclasses

    data = lesson.load_data(lesson.Config.quick())
    data = dataclasses.replace(data, test_photos=data.test_photos[:2])
    s = data.scale
    as_bicubic = lambda t: np.stack([lesson.bicubic(x, s) for x in t])  # noqa: E731
    nearest = lambda t: np.repeat(np.repeat(t, s, 1), s, 2)  # noqa: E731
    assert lesson.evaluate(as_bicubic, data)["psnr_gain_db"] == pytest.approx(0.0, abs=0.05)
    assert lesson.evaluate(nearest, data)["psnr_gain_db"] < -1.0


def test_photos_split_whole_photos_and_load_as_floats():
    assert not set(photos.TRAIN_PHOTOS) & set(photos.TEST_PHOTOS)
    assert set(photos.TRAIN_PHOTOS) | set(photos.TEST_PHOTOS) == set(photos.PHOTOS)
    rgb = photos.load("coffee")
    y = photos.load("coffee", "y")
    grey = photos.load("camera")  # a grey photo comes back with three equal channels
    assert rgb.shape == (400, 600, 3) and y.shape == (400, 600, 1) and rgb.dtype == np.float32
    assert 0.0 <= rgb.min() and rgb.max() <= 1.0
    np.testing.assert_allclose(grey[..., 0], grey[..., 2])
    np.testing.assert_allclose(photos.ycbcr_to_rgb(photos.rgb_to_ycbcr(rgb)), rgb, atol=1e-5)
    a = photos.random_patches([rgb, grey], 5, 32, seed=7)
    np.testing.assert_array_equal(a, photos.random_patches([rgb, grey], 5, 32, seed=7))
    assert a.shape == (5, 32, 32, 3)


def test_photos_say_what_names_and_modes_exist():
    with pytest.raises(UserError, match=r"Unknown photo 'lena'; expected one of astronaut, .*gravel"):
        photos.load("lena")
    with pytest.raises(UserError, match=r"Unknown photo mode 'hsv'; expected one of rgb, gray, y"):
        photos.load("coffee", "hsv")
    with pytest.raises(ValueError, match=r"Patch size 999 is larger than an image"):
        photos.random_patches([np.zeros((10, 10, 1))], 1, 999, seed=0)
    with pytest.raises(ValueError, match=r"Invalid tile size 8 with margin 4: expected size > 2 \* margin"):
        photos.tile(np.zeros((10, 10, 1)), 8, 4)
