"""Day 11 (embeddings) and the offline KJV corpus it reads (dlbootcamp.data.corpus)."""

import importlib
import json
import pathlib
import shutil

import numpy as np
import pytest

from dlbootcamp.data import corpus
from dlbootcamp.errors import DataUnavailable
from dlbootcamp.text import Vocabulary
from conftest import export_quick

needs_kjv = pytest.mark.skipif(
    not (shutil.which("bible") and pathlib.Path("/usr/lib/bible.data").exists()),
    reason="King James Bible corpus missing: apt-get install bible-kjv bible-kjv-text",
)


def lesson():
    """The lesson module, imported directly (the registry parses every lesson, this needs one)."""
    return importlib.import_module("dlbootcamp.lessons.day11_embeddings")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One --quick run of the lesson, recorded as the CLI does, shared by the tests below."""
    from dlbootcamp import records

    module = lesson()
    folder, _ = records.train_lesson(module, module.Config.quick(), out=tmp_path_factory.mktemp("runs"),
                                     quick=True, name="q", verbose=False)
    return module, folder


# --- the corpus ----------------------------------------------------------------------------------

@needs_kjv
def test_kjv_is_split_by_whole_chapter_with_a_seed():
    chapters, source = corpus.kjv_chapters()
    assert len(chapters) == 1189 and sum(len(c.verses) for c in chapters) == 31102
    assert chapters[0].verses[0] == "In the beginning God created the heaven and the earth."
    a, b, c = corpus.kjv(seed=0), corpus.kjv(seed=0), corpus.kjv(seed=1)
    refs = [{ch.ref for ch in getattr(a, s)} for s in ("train", "val", "test")]
    assert sum(map(len, refs)) == 1189 and not (refs[0] & refs[1] or refs[0] & refs[2] or refs[1] & refs[2])
    assert a == b and a.test != c.test
    assert 0.09 < len(a.val) / 1189 < 0.11 and 0.09 < len(a.test) / 1189 < 0.11


@needs_kjv
def test_passages_are_named_like_the_bible_command_prints_them():
    chapters, _ = corpus.kjv_chapters()
    assert corpus.passage(chapters, "Ge1:1") == ("In the beginning God created the heaven and the earth.",)
    assert len(corpus.passage(chapters, "Acts7:9-16")) == 8 and len(corpus.passage(chapters, "Psa23")) == 6
    with pytest.raises(ValueError, match=r"Invalid passage reference 'Acts:7'\. Expected BookC"):
        corpus.passage(chapters, "Acts:7")
    with pytest.raises(ValueError, match=r"Passage 'Genesis1' names no chapter of the corpus"):
        corpus.passage(chapters, "Genesis1")


def test_missing_corpus_names_the_debian_packages(monkeypatch, tmp_path):
    monkeypatch.setenv("DLBOOTCAMP_DATA", str(tmp_path))
    monkeypatch.setattr(corpus, "BIBLE_DATA", tmp_path / "no-bible.data")
    with pytest.raises(DataUnavailable, match=r"The King James Bible corpus is not on this machine: .* Install it "
                                              r"with `apt-get install bible-kjv bible-kjv-text`\."):
        corpus.kjv(seed=0)
    assert not corpus.available()


def test_a_cached_copy_is_used_first(monkeypatch, tmp_path):
    monkeypatch.setenv("DLBOOTCAMP_DATA", str(tmp_path))
    lines = [f"Ge{c}:{v} Verse {v} of chapter {c}." for c in range(1, 21) for v in range(1, 4)]
    (tmp_path / "kjv.txt").write_text("\n".join(lines) + "\n")
    splits = corpus.kjv(seed=0)
    assert splits.source.startswith("cache:") and sum(splits.sizes().values()) == 20
    assert splits.train[0].verses == tuple(f"Verse {v} of chapter {splits.train[0].number}." for v in (1, 2, 3))


# --- the sampler and the metric -------------------------------------------------------------------

def test_skipgram_pairs_come_from_the_window_and_negatives_from_the_vocabulary():
    module = lesson()
    cfg = module.Config(window=2, negatives=3, subsample=1.0)  # subsample=1: keep every word
    chapters = [np.arange(2, 12, dtype=np.int32), np.arange(12, 20, dtype=np.int32)]
    counts = np.ones(20)
    t, c, y = module.skipgram_pairs(chapters, counts, cfg, np.random.default_rng(0))
    t2, c2, _ = module.skipgram_pairs(chapters, counts, cfg, np.random.default_rng(0))
    np.testing.assert_array_equal(c, c2)
    assert c.shape == (len(t), 4) and y.shape == c.shape and (y[:, 0] == 1).all() and (y[:, 1:] == 0).all()
    gap = np.abs(c[:, 0] - t)
    assert (gap >= 1).all() and (gap <= 2).all()  # ids are positions here: context within the window
    assert not ((t < 12) & (c[:, 0] >= 12)).any()  # pairs never cross a chapter boundary
    assert c[:, 1:].min() >= 2  # padding and unknown are never drawn as negatives
    assert len(t) > 2 * (9 + 7)  # at least every neighbour pair, both ways


def test_analogy_metric_rewards_a_consistent_direction_and_not_noise():
    module = lesson()
    pairs = module.ANALOGIES["family_gender"][:6]
    words = [w for p in pairs for w in p] + [f"filler{i}" for i in range(40)]
    vocab = Vocabulary(words)
    rng = np.random.default_rng(0)
    base, gender = rng.normal(size=(len(pairs), 32)), rng.normal(size=32)
    planted = rng.normal(size=(len(vocab), 32))
    for i, (a, b) in enumerate(pairs):
        planted[vocab.index[a]], planted[vocab.index[b]] = base[i], base[i] + 3 * gender
    data = module.Data(vocab, [], [], "test")
    scores = module.evaluate(lambda ids: planted[ids], data)
    assert scores["family_gender_questions"] == 30 and scores["family_gender_top5"] == 1.0
    noise = rng.normal(size=planted.shape)
    assert module.evaluate(lambda ids: noise[ids], data)["family_gender_top5"] < 0.5


# --- the lesson end to end ---------------------------------------------------------------------------

@needs_kjv
def test_quick_run_records_metrics_neighbours_and_pictures(quick_run):
    _, folder = quick_run
    for name in ("model.keras", "history.csv", "nearest_neighbours.png", "projection_2d.png", "learning_curves.png"):
        assert (folder / name).exists(), name
    record = json.loads((folder / "metrics.json").read_text())
    assert record["passed"] is None
    for section in ("family_gender", "singular_plural", "verb_forms"):
        assert 0.0 <= record["metrics"][f"{section}_top5"] <= 1.0
    assert record["metrics"]["family_gender_questions"] >= 2
    assert any(n.strip().startswith("king:") for n in record["notes"])
    counted = record["baselines"]["PPMI + SVD"]
    assert set(counted) == {k for k in record["metrics"] if k.endswith(("_top5", "_questions"))}
    assert counted["family_gender_questions"] == record["metrics"]["family_gender_questions"]  # the same questions


@needs_kjv
def test_exported_lookup_matches_keras_and_is_fed_from_the_sidecar_vocabulary(quick_run, tmp_path):
    import keras

    from dlbootcamp.export import device_bench

    module, folder = quick_run
    model = keras.saving.load_model(folder / "model.keras")
    report = export_quick(module, module.Config.quick(), {"model": model}, tmp_path)
    assert report.passed, report.failures
    assert all(0.0 <= r["metric_value"] <= 1.0 for r in report.rows if r["quantization"] == "int8")
    # The device side: only the artifact, its sidecar and NumPy.
    artifact = str(tmp_path / "model.fp32.tflite")
    vocab = Vocabulary.from_dict(device_bench.read_sidecar(artifact)["vocabulary"])
    ids = vocab.encode("The king said unto his son")
    assert ids.dtype == np.int32 and (ids > 1).all()
    vectors = device_bench.open_artifact(artifact).predict(ids)
    np.testing.assert_allclose(vectors, model.predict(ids, verbose=0), atol=1e-5)
