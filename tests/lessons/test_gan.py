"""The gan lesson at smoke size: the CLI run, the judge's metrics, and export parity of the generator."""

import json

import numpy as np
import pytest

from dlbootcamp.lessons import day09_gan as lesson
from conftest import export_quick, quick_cli_run


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    return quick_cli_run("gan", tmp_path_factory)


@pytest.fixture(scope="module")
def data():
    return lesson.load_data(lesson.Config.quick())


def test_quick_run_records_generator_metrics_and_pictures(quick_run):
    record = json.loads((quick_run / "metrics.json").read_text())
    for name in ("conditional_accuracy", "judge_test_accuracy", "frechet_generated", "frechet_noise",
                 "frechet_real_train", "frechet_dcgan", "dcgan_classes_covered"):
        assert np.isfinite(record["metrics"][name]), name
    assert 0.0 <= record["metrics"]["conditional_accuracy"] <= 1.0
    assert record["passed"] is None  # --quick judges nothing
    assert record["exports"] == ["model"]
    for picture in ("samples_per_class", "evolution", "dcgan_samples", "judge_over_training", "learning_curves"):
        assert f"{picture}.png" in record["figures"], picture
        assert (quick_run / f"{picture}.png").stat().st_size > 0
    import keras

    generator = keras.saving.load_model(quick_run / "model.keras")
    assert [t.name for t in generator.inputs] == ["noise", "class_one_hot"]
    images = generator.predict(lesson.generator_inputs(lesson.Config.quick().latent, 2, seed=0), verbose=0)
    assert images.shape == (20, 8, 8, 1) and images.min() >= 0.0 and images.max() <= 1.0


def test_frechet_distance_matches_the_matrix_square_root_formula():
    from scipy import linalg

    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 5)) @ rng.normal(size=(5, 5))
    b = rng.normal(size=(300, 5)) * 2.0 + 0.5
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(ca + cb - 2 * np.real(linalg.sqrtm(ca @ cb)))
    assert lesson.frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    assert lesson.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    singular = np.c_[a[:, :3], np.zeros((400, 2))]  # dead units: a singular covariance stays finite
    assert np.isfinite(lesson.frechet_distance(singular, b))


def test_evaluate_rewards_a_generator_that_draws_the_requested_digit(data):
    real = data.splits.train

    def copier(inputs):  # "generates" a real training digit of the requested class
        asked = np.asarray(inputs[1]).argmax(-1)
        return np.stack([real.x[np.flatnonzero(real.y == c)[i % np.sum(real.y == c)]] for i, c in enumerate(asked)])

    def constant(inputs):  # always the same image, whatever was asked
        return np.repeat(real.x[:1], len(inputs[0]), axis=0)

    good, bad = lesson.evaluate(copier, data), lesson.evaluate(constant, data)
    assert good["conditional_accuracy"] >= 0.9
    assert bad["conditional_accuracy"] == pytest.approx(0.1)
    assert good["frechet_generated"] < bad["frechet_generated"]


def test_representative_data_is_seeded_noise_and_one_hot_classes(data):
    noise, one_hot = lesson.representative_data(data, n=50, split="train")
    again = lesson.representative_data(data, n=50, split="train")[0]
    test_noise = lesson.representative_data(data, n=50, split="test")[0]
    assert noise.shape == (50, data.latent) and one_hot.shape == (50, 10)
    assert np.array_equal(noise, again) and not np.allclose(noise, test_noise)
    assert np.all(one_hot.sum(-1) == 1) and len(np.unique(one_hot.argmax(-1))) == 10


def test_config_rejects_too_few_samples_for_a_covariance():
    from dlbootcamp.errors import UserError

    with pytest.raises(UserError, match=r"Invalid samples_per_class 1: expected at least 2 generated digits per "
                                        r"class \(a Frechet distance needs a covariance\); set --set "
                                        r"samples_per_class=100\."):
        lesson.Config(samples_per_class=1)


def test_generator_exports_with_parity(quick_run, data, tmp_path):
    import keras

    generator = keras.saving.load_model(quick_run / "model.keras")
    report = export_quick(lesson, lesson.Config.quick(), {"model": generator}, tmp_path, data=data,
                          metric="conditional_accuracy")
    assert len(report.rows) == 4  # TFLite fp32 and int8, ONNX fp32 and int8
    report.raise_if_failed()
