"""The fair-fight contract: every lesson names its baselines, train() scores them, the run records and prints them."""

import json

import numpy as np
import pytest

from dlbootcamp import baselines, registry
from dlbootcamp.lesson import Bar, LessonInfo, Trained, check_baselines


def test_every_lesson_names_its_baselines_or_says_why_none_applies():
    for lesson_id, entry in registry.discover().items():
        info = entry.info
        assert info.baselines or info.no_baseline, f"{lesson_id}: declare baselines=(...) or no_baseline='why'"
        assert len(set(info.baselines)) == len(info.baselines), lesson_id


def test_a_lesson_must_score_exactly_the_baselines_it_declares():
    info = LessonInfo(id="x", day=1, title="t", seeds=(), topics=(), summary="s", bars=(Bar("acc", ">=", 0.5),),
                      baselines=("majority class",))
    ok = Trained(exports={}, metrics={"acc": 0.9}, baselines={"majority class": {"acc": np.float32(0.5)}})
    assert check_baselines(info, ok) == {"majority class": {"acc": 0.5}}
    assert isinstance(check_baselines(info, ok)["majority class"]["acc"], float)
    with pytest.raises(ValueError, match=r"declares baselines \['majority class'\] but train\(\) scored \[\]"):
        check_baselines(info, Trained(exports={}, metrics={"acc": 0.9}))


def test_a_quick_run_records_baselines_and_prints_them_beside_the_model(cli, tmp_path):
    code, out, err = cli("train", "training", "--quick", "--out", tmp_path, "--name", "q")
    assert code == 0, err
    record = json.loads((tmp_path / "q" / "metrics.json").read_text())
    assert list(record["baselines"]) == ["nearest centroid", "logistic regression (raw pixels)"]
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.strip().startswith("held out"))
    assert "test_accuracy" in lines[header]
    assert lines[header + 1].split()[0] == "model"
    assert lines[header + 2].strip().startswith("nearest centroid")
    assert lines[header + 3].strip().startswith("logistic regression (raw pixels)")
    assert f"{record['baselines']['nearest centroid']['test_accuracy']:.4g}" in lines[header + 2]


def test_lessons_verbose_and_json_name_the_baselines(cli):
    code, out, _ = cli("lessons", "-v")
    assert code == 0 and "baselines: nearest centroid, logistic regression (raw pixels)" in out
    code, out, _ = cli("lessons", "--json")
    by_id = {e["id"]: e for e in json.loads(out)}
    assert by_id["text-generation"]["baselines"] == ["character n-gram"]


def test_tune_keeps_the_setting_best_on_validation_and_the_first_on_ties():
    class Fixed:
        def __init__(self, p):
            self.p = p

        def fit(self, x, y):
            return self

        def score(self, x, y):
            return {1: 0.5, 2: 0.9, 3: 0.9}[self.p]

    best = baselines.tune(Fixed, [1, 2, 3], (None, None), (None, None))
    assert best.params == 2 and best.val_score == 0.9 and best.val_scores == {1: 0.5, 2: 0.9, 3: 0.9}
    with pytest.raises(ValueError, match="at least one setting"):
        baselines.tune(Fixed, [], (None, None), (None, None))


def test_char_ngram_learns_a_repeating_text_and_is_near_uniform_on_noise():
    text = np.tile(np.array([2, 3, 4, 5, 6]), 400)  # "abcde" over and over
    model = baselines.CharNGram(text, vocab_size=8, order=3, k=1.0)
    assert model.bits_per_char(text[:201].reshape(1, -1)) < 0.5  # predictable after a few characters
    noise = np.random.default_rng(0).integers(0, 8, 2000)
    random_model = baselines.CharNGram(noise, vocab_size=8, order=2, k=4.0)
    assert 2.8 < random_model.bits_per_char(np.random.default_rng(1).integers(0, 8, (4, 100))) < 3.3  # log2 8 = 3
    with pytest.raises(ValueError, match="does not fit a 62-bit key"):
        baselines.CharNGram(text, vocab_size=200, order=8, k=1.0)


def test_ppmi_svd_puts_words_that_share_contexts_together():
    rng = np.random.default_rng(0)
    # words 2 and 3 always appear between 10 and 11; words 4 and 5 between 12 and 13
    sentences = [np.array([10, w, 11]) if w in (2, 3) else np.array([12, w, 13]) for w in rng.integers(2, 6, 400)]
    v = baselines.ppmi_svd_vectors(sentences, vocab_size=14, window=1, dim=3)
    unit = v / np.linalg.norm(v, axis=1, keepdims=True).clip(1e-9)
    assert v.shape == (14, 3)
    assert unit[2] @ unit[3] > 0.9 and abs(unit[2] @ unit[4]) < 0.5


def test_curve_fits_choose_the_polynomial_degree_on_validation():
    from dlbootcamp.baselines import curve_fits

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 200)
    cubic = lambda v: v ** 3 - v  # noqa: E731
    val_x, test_x = np.linspace(-1, 1, 51), np.linspace(-0.99, 0.99, 50)
    said = []
    fits = curve_fits((x, cubic(x)), (val_x, cubic(val_x)), (test_x, cubic(test_x)), max_degree=6, log=said.append)
    assert fits["polynomial"]["degree"] >= 3 and fits["polynomial"]["test_mae"] < 1e-9  # exact from degree 3
    assert 0 < fits["piecewise-linear interpolation"]["test_mae"] < 1e-3  # close, not exact, between points
    assert said and "chosen on validation" in said[0]
    noisy = curve_fits((x, cubic(x) + rng.normal(0, 0.1, 200)), (val_x, cubic(val_x)), (test_x, cubic(test_x)),
                       max_degree=15, log=said.append)
    assert noisy["polynomial"]["degree"] < 15  # validation stops the degree before it fits the noise
