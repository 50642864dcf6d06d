"""Day 16 captioning: captions follow the scene, the quick run works, exports decode the same caption."""

import json

import numpy as np
import pytest

from dlbootcamp.worlds import scenes
from conftest import export_quick, quick_cli_run


@pytest.fixture(scope="module")
def lesson():
    from dlbootcamp import registry

    return registry.load("captioning")


def _scene(*objects):
    return scenes.Scene(tuple(scenes.Obj(*o) for o in objects), 64)


def test_captions_name_the_big_shapes_their_relation_and_the_small_ones(lesson):
    s = _scene(("red", "circle", 16, 20, 9), ("blue", "square", 20, 50, 9), ("green", "triangle", 50, 10, 4),
               ("gray", "circle", 50, 50, 4))
    assert lesson.captions(s) == ("a red circle above a blue square and two small shapes",
                                  "a blue square below a red circle and two small shapes")
    s = _scene(("yellow", "triangle", 50, 30, 9), ("orange", "circle", 12, 34, 9), ("red", "square", 30, 55, 4))
    assert lesson.captions(s) == ("a yellow triangle right of an orange circle and one small shape",
                                  "an orange circle left of a yellow triangle and one small shape")
    assert lesson.captions(_scene(("red", "circle", 10, 10, 9), ("blue", "square", 50, 10, 9)))[0] == \
        "a red circle left of a blue square"
    # a diagonal pair would make "above" and "left of" both right: such scenes are not drawn
    assert not lesson.unambiguous(_scene(("red", "circle", 10, 10, 9), ("blue", "square", 40, 45, 9)))
    assert lesson.unambiguous(_scene(("red", "circle", 10, 10, 9), ("blue", "square", 50, 20, 9)))


def test_captions_round_trip_through_token_ids(lesson):
    text = "a green square below a gray triangle and four small shapes"
    ids = lesson.encode(text)
    assert ids.shape == (lesson.MAX_LEN,) and ids[0] == lesson.VOCAB.index("<start>")
    assert lesson.decode(ids) == text


def test_data_is_seeded_and_the_test_split_does_not_depend_on_n_train(lesson):
    cfg = lesson.Config.quick()
    a, b = lesson.load_data(cfg), lesson.load_data(type(cfg)(**{**cfg.__dict__, "n_train": 40}))
    assert a.train.x.dtype == np.uint8 and a.train.x.shape[1:] == (cfg.image_size, cfg.image_size, 3)
    assert a.train.y.shape == (cfg.n_train, 2, lesson.MAX_LEN)
    np.testing.assert_array_equal(a.test.x, b.test.x)
    assert not np.array_equal(a.train.x[:40], a.test.x[:40])


def test_scene_generator_says_what_it_cannot_draw():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"Unknown shapes or colours \['hexagon'\]; expected shapes from"):
        scenes.random_scene(rng, shapes=("hexagon",))
    with pytest.raises(ValueError, match="7 objects with unique colours need at least 7 colours; got 6."):
        scenes.random_scene(rng, n_objects=7)
    with pytest.raises(ValueError, match="No scene found in 5 attempts: 6 objects of sizes \\(20,\\) do not fit a "
                                         "64-pixel canvas"):
        scenes.random_scene(rng, n_objects=6, sizes=(20,), attempts=5)
    image = scenes.render(scenes.random_scene(rng, n_objects=3, sizes=(6,)))
    assert image.shape == (64, 64, 3) and image.dtype == np.float32
    assert (image == 1).all(axis=-1).mean() > 0.5  # white background, objects drawn on it


@pytest.fixture(scope="module")
def quick_run(lesson, tmp_path_factory):
    """One --quick training run through the CLI, shared by the tests below."""
    return quick_cli_run("captioning", tmp_path_factory)


def test_quick_run_records_models_pictures_and_bleu(quick_run):
    for name in ("encoder.keras", "decoder_step.keras", "captions.png", "attention.png", "learning_curves.png",
                 "history.csv", "metrics.json"):
        assert (quick_run / name).exists(), name
    record = json.loads((quick_run / "metrics.json").read_text())
    assert 0.0 <= record["metrics"]["bleu4"] <= 1.0
    assert record["exports"] == ["decoder_step", "encoder"]
    assert record["bars"][0]["metric"] == "bleu4" and record["passed"] is None


def test_exports_decode_the_same_captions_as_keras(lesson, quick_run, tmp_path):
    import keras

    from dlbootcamp import training
    from dlbootcamp.export import device_bench

    cfg = lesson.Config.quick()
    data = lesson.load_data(cfg)
    exports = {n: keras.saving.load_model(quick_run / f"{n}.keras") for n in ("encoder", "decoder_step")}
    export_quick(lesson, cfg, exports, tmp_path, data=data, metric="bleu4").raise_if_failed()  # 2 models

    # Calibration from the trained models: the states and words the decoder step meets on true captions.
    features, state, token = lesson.representative_data(data, n=50, exports=exports)["decoder_step"]
    assert features.shape == (50, lesson.grid_cells(cfg), cfg.feature_dim) and state.shape == (50, cfg.units)
    assert token.shape == (50, 1) and (token != 0).all() and len(np.unique(token)) > 3

    images = lesson.as_float(data.test.x[:8])
    keras_ids, _ = lesson.greedy_decode({n: training.predict_fn(m) for n, m in exports.items()}, images)
    runners = {n: device_bench.open_artifact(str(tmp_path / f"{n}.fp32.tflite")) for n in exports}
    lite = {n: (lambda xs, n=n: _in_keras_order(runners[n], exports[n], xs)) for n in exports}
    lite_ids, _ = lesson.greedy_decode(lite, images)
    np.testing.assert_array_equal(keras_ids, lite_ids)
    assert len({lesson.decode(row) for row in keras_ids}) >= 1


def _in_keras_order(runner, model, xs):
    """Feed a TFLite runner by the Keras model's input names; read outputs back in Keras order."""
    xs = xs if isinstance(xs, list) else [xs]
    by_name = dict(zip([t.name for t in model.inputs], xs))
    outs = runner.predict(*[by_name[t.name] for t in runner.inputs])
    outs = dict(zip([t.name for t in runner.outputs], outs))
    return [outs[name] for name in model.output_names]
