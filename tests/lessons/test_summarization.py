"""Day 14 (summarization): the scorer's inputs and targets, mining, the ROUGE evaluation with intervals, export."""

import importlib
import json
import pathlib
import re
import shutil

import numpy as np
import pytest

from dlbootcamp.data import corpus
from dlbootcamp.text import Vocabulary
from conftest import export_quick, quick_train

needs_kjv = pytest.mark.skipif(
    not (shutil.which("bible") and pathlib.Path("/usr/lib/bible.data").exists()),
    reason="King James Bible corpus missing: apt-get install bible-kjv bible-kjv-text",
)


def lesson():
    """The lesson module, imported directly (the registry parses every lesson, this needs one)."""
    return importlib.import_module("dlbootcamp.lessons.day14_summarization")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One --quick run of the lesson, shared by the tests below."""
    module = lesson()
    return (module, *quick_train(module, tmp_path_factory))


def toy_data(module, documents, references, tfidf=None):
    vocab = Vocabulary.build([s for d in documents for s in d] + references, "word")
    empty = ([np.zeros((0, 4), np.int32), np.zeros((0, 4, 2), np.float32), np.zeros((0, 6), np.float32)],
             np.zeros((0, 1), np.float32))
    tfidf = tfidf or {"backward_weight": 1.0, "position_weight": 0.0}
    return module.Data(vocab=vocab, train=empty, val=empty, mined_test=(documents, references), mined_tfidf=tfidf,
                       documents=documents, references=references, names=["toy"] * len(documents), dev=([], []),
                       tfidf=tfidf, mined=[], max_len=4, seed=0, source="test")


DOC = ["Abram dwelt in the plain.", "Lot pitched toward Sodom.", "The cities burned with fire and brimstone.",
       "Fire came down from heaven upon the cities.", "The smoke of the cities went up."]
RETOLD = "The cities burned with fire and brimstone."


# --- the scorer (its inputs and targets are tested in tests/core/test_extractive.py) -----------------

def test_scorer_variants_read_what_they_say():
    module = lesson()
    cfg = module.Config.quick()
    full = module.build_model(cfg, 50)
    assert [t.name for t in full.inputs] == ["token_ids", "context", "position"]
    assert [t.name for t in module.build_model(cfg, 50, "no context").inputs] == ["token_ids", "position"]
    assert [t.name for t in module.build_model(cfg, 50, "position").inputs] == ["position"]
    x = [np.zeros((3, cfg.max_len), np.int32), np.zeros((3, cfg.max_len, 2), np.float32),
         np.zeros((3, len(module.SENTENCE_FEATURES)), np.float32)]
    x[0][:, :2] = 5
    out = full.predict(x, verbose=0)
    assert out.shape == (3, 1) and np.all((out > 0) & (out < 1))
    with pytest.raises(ValueError, match=r"Invalid scorer variant 'words'"):
        module.build_model(cfg, 50, "words")


# --- summarising and scoring ----------------------------------------------------------------------------

def test_summaries_keep_the_ratio_in_document_order_and_check_it():
    module = lesson()
    vocab = Vocabulary.build(["a b c d e f"], "word")
    by_context = lambda x: x[1][:, 0, 0]  # noqa: E731 - score: how often the first word recurs elsewhere
    summarize = module.summarizer(by_context, vocab, max_len=4)
    text = "A one. B two. A three. C four. A five."
    assert summarize(text, 0.6) == "A one. A three. A five."
    assert summarize(text, 0.2) == "A one."
    assert summarize("?!", 0.5) == ""
    with pytest.raises(ValueError, match=r"Invalid ratio 1\.5: expected a fraction of the sentences in \(0, 1\]"):
        summarize(text, 1.5)


def test_rouge_evaluation_rewards_the_sentence_the_reference_retells():
    module = lesson()
    data = toy_data(module, [DOC], [RETOLD])
    planted = lambda x: (np.arange(len(x[0])) == 2).astype(np.float32)[:, None]  # noqa: E731 - picks sentence 2
    metrics = module.evaluate(planted, data)
    assert metrics["rouge1"] == 1.0 and metrics["oracle_rouge1"] == 1.0
    assert metrics["lead_rouge1"] < 0.5 and metrics["random_rouge1"] < 1.0 and metrics["tfidf_rouge1"] < 1.0
    assert metrics["rouge1_gain_over_best_baseline"] > 0.0 and metrics["documents_beating_lead"] == 1
    assert metrics["best_sentence_is_first"] == 0.0 and metrics["best_sentence_in_first_3"] == 1.0
    mined = module.evaluate_mined(planted, data)  # the same scoring on the mined held-out chapters
    assert mined["mined_test_rouge1"] == 1.0 and mined["mined_test_lead_rouge1"] == metrics["lead_rouge1"]
    lead = module.evaluate(lambda x: -x[2][:, :1], data)  # scores by -position: the lead itself
    assert lead["rouge1"] == pytest.approx(lead["lead_rouge1"]) and lead["rouge1_gain_over_best_baseline_ci_low"] <= 0


@needs_kjv
def test_retellings_name_real_passages_and_stay_apart():
    chapters, _ = corpus.kjv_chapters()
    test_docs = {r.split(":")[0] for docs, _ in corpus.RETELLINGS for r in docs}
    dev_docs = {r.split(":")[0] for docs, _ in corpus.RETELLINGS_DEV for r in docs}
    assert len(corpus.RETELLINGS) == 36 and not test_docs & dev_docs
    for docs, refs in corpus.RETELLINGS + corpus.RETELLINGS_DEV:
        assert all(corpus.passage(chapters, r) for r in docs + refs)
        assert not {r.split(":")[0] for r in refs} & test_docs  # a reference is never a scored document
        assert sum(len(corpus.passage(chapters, r)) for r in refs) < sum(len(corpus.passage(chapters, r)) for r in docs)


# --- the lesson end to end ---------------------------------------------------------------------------

@needs_kjv
def test_mined_training_retellings_never_touch_a_dev_or_test_chapter():
    module = lesson()
    chapters, _ = corpus.kjv_chapters()
    cfg = module.Config()
    mined = corpus.mine_retellings(chapters, min_similarity=cfg.min_similarity, max_similarity=cfg.max_similarity,
                                   min_refs=cfg.min_refs, max_refs=cfg.max_refs)
    held = corpus.held_out_chapters()
    assert {"Ge37", "Acts7", "Heb11", "Psa105", "Ge3", "Rom5"} <= held
    assert len(mined) > 300
    for ref, sents, verses, verse_refs in mined:
        assert ref not in held and not {v.split(":")[0] for v in verse_refs} & held, ref
        assert len(verse_refs) >= 2 and sents and len(verses) == len(verse_refs)
        book = next(c.book for c in chapters if c.ref == ref)
        assert all(re.match(r"^(\d?[A-Za-z]+)\d+:\d+$", v)[1] != book for v in verse_refs)  # other books


@needs_kjv
def test_quick_run_scores_every_method_and_saves_pictures(quick_run):
    module, cfg, folder, record = quick_run
    for name in ("model.keras", "history.csv", "rouge_vs_baselines.png", "scores_example.png"):
        assert (folder / name).exists(), name
    metrics = record["metrics"]
    assert record["passed"] is None
    for key in ("rouge1", "lead_rouge1", "random_rouge1", "tfidf_rouge1", "oracle_rouge1", "no_context_rouge1",
                "position_rouge1", "dev_rouge1", "dev_lead_rouge1", "dev_tfidf_rouge1", "mined_test_rouge1",
                "mined_test_lead_rouge1", "mined_test_tfidf_rouge1", "mined_test_no_context_rouge1"):
        assert 0.0 < metrics[key] < 1.0, key
    assert metrics["oracle_rouge1"] >= max(metrics[k] for k in ("rouge1", "lead_rouge1", "tfidf_rouge1")) - 1e-9
    gain = metrics["rouge1"] - max(metrics["lead_rouge1"], metrics["random_rouge1"], metrics["tfidf_rouge1"])
    assert metrics["rouge1_gain_over_best_baseline"] == pytest.approx(gain)
    lows = [metrics[f"gain_over_{m}_ci_low"] for m in ("lead", "random", "tfidf")]
    assert metrics["rouge1_gain_over_best_baseline_ci_low"] == min(lows)
    assert all(metrics[f"gain_over_{m}_ci_low"] <= metrics[f"gain_over_{m}"] + 1e-9 for m in ("lead", "tfidf"))
    assert record["notes"][0].startswith("summarize(Ge1, 0.2): ")
    assert json.loads((folder / "config.json").read_text())["config"]["documents"] == cfg.documents


@needs_kjv
def test_exported_scorer_matches_keras_and_summarises_the_same_on_the_device(quick_run, tmp_path):
    import keras

    from dlbootcamp import training
    from dlbootcamp.export import device_bench

    module, cfg, folder, _ = quick_run
    scorer = keras.saving.load_model(folder / "model.keras")
    report = export_quick(module, cfg, {"model": scorer}, tmp_path, metric="rouge1_gain_over_best_baseline_ci_low")
    assert all(-1.0 < r["metric_value"] < 1.0 for r in report.rows if r["quantization"] == "int8")
    # The device side: sentences -> the three inputs with the sidecar's vocabulary -> the artifact -> ranking.
    artifact = str(tmp_path / "model.fp32.tflite")
    meta = device_bench.read_sidecar(artifact)
    vocab, runner = Vocabulary.from_dict(meta["vocabulary"]), device_bench.open_artifact(artifact)
    assert len(meta["sentence_features"]) == len(module.SENTENCE_FEATURES)
    text = "In the beginning God created the heaven and the earth. And the earth was without form. " \
           "And God said, Let there be light: and there was light. And God saw the light, that it was good."
    by_name = lambda xs: runner.predict(*device_bench.match_inputs(runner, dict(zip(meta["input_order"], xs))))  # noqa
    on_device = module.summarizer(by_name, vocab, meta["max_len"])(text, 0.5)
    in_keras = module.summarizer(training.predict_fn(scorer), vocab, cfg.max_len)(text, 0.5)
    assert on_device == in_keras and len(on_device) < len(text)
