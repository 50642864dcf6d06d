"""Day 14 (summarization): centrality, the ROUGE evaluation against retellings, export and device feeding."""

import importlib
import json
import pathlib
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


def toy_data(module, documents, references, backward_weight=0.0, position_weight=0.0):
    vocab = Vocabulary.build([s for d in documents for s in d] + references, "word")
    empty = (np.zeros((0, 4), np.int32),) * 2
    return module.Data(vocab, empty, empty, documents, references, ["toy"] * len(documents), ([], []),
                       np.ones(len(vocab), np.float32),
                       {"backward_weight": backward_weight, "position_weight": position_weight}, 4, 0, "test")


# --- ranking and scoring ------------------------------------------------------------------------------

def test_directed_centrality_favours_the_sentence_that_opens_a_topic():
    module = lesson()
    e = np.eye(3)
    vectors = np.stack([e[1], e[2], e[0], e[0], e[0]])  # sentence 2 opens what 3 and 4 go on about
    np.testing.assert_allclose(module.centrality(vectors, 0.0), [0, 0, 2, 1, 0])
    np.testing.assert_allclose(module.centrality(vectors, 1.0), [0, 0, 2, 2, 2])  # undirected: no preference


def test_salience_adds_a_position_prior_to_centrality_scaled_to_one():
    module = lesson()
    e = np.eye(3)
    vectors = np.stack([e[1], e[2], e[0], e[0], e[0]])
    np.testing.assert_allclose(module.salience(vectors, 0.0, 0.0), [0, 0, 1, 0.5, 0])  # centrality alone
    np.testing.assert_allclose(module.salience(vectors, 0.0, 1.0), [1, 0.8, 1.6, 0.9, 0.2])  # + 1 - i/n
    heavy = module.salience(vectors, 0.0, 100.0)  # a heavy prior ranks like the lead
    assert list(np.argsort(-heavy, kind="stable")) == [0, 1, 2, 3, 4]


def test_summaries_keep_the_ratio_in_document_order_and_check_it():
    module = lesson()
    vocab = Vocabulary.build(["a b c d e f"], "word")
    onehot = lambda ids: np.eye(len(vocab))[ids[:, 0]]  # noqa: E731 - a sentence is its first word
    summarize = module.summarizer(onehot, vocab, max_len=4, backward_weight=1.0, position_weight=0.0)
    text = "A one. B two. A three. C four. A five."
    assert summarize(text, 0.6) == "A one. A three. A five."
    assert summarize(text, 0.2) == "A one."
    assert summarize("?!", 0.5) == ""
    with_prior = module.summarizer(onehot, vocab, max_len=4, backward_weight=1.0, position_weight=10.0)
    assert with_prior(text, 0.4) == "A one. B two."  # the prior outweighs centrality: the lead
    with pytest.raises(ValueError, match=r"Invalid ratio 1\.5: expected a fraction of the sentences in \(0, 1\]"):
        summarize(text, 1.5)
    assert module.cut(["one two three.", "four five.", "six."], [1, 2, 0], 3) == "four five. six."


def test_rouge_evaluation_rewards_the_sentence_the_reference_retells():
    module = lesson()
    doc = ["Abram dwelt in the plain.", "Lot pitched toward Sodom.", "The cities burned with fire and brimstone.",
           "Fire came down from heaven upon the cities.", "The smoke of the cities went up."]
    data = toy_data(module, [doc], ["The cities burned with fire and brimstone."])
    e = np.eye(3)
    planted = {0: e[1], 1: e[2], 2: e[0], 3: e[0], 4: e[0]}
    predict = lambda ids: np.stack([planted[i] for i in range(len(ids))])  # noqa: E731 - vectors by position
    metrics = module.evaluate(predict, data)
    assert metrics["rouge1"] == 1.0 and metrics["lead_rouge1"] < 0.5 and metrics["random_rouge1"] < 1.0
    assert metrics["rouge1_gain_over_best_baseline"] > 0.5 and metrics["documents_beating_lead"] == 1


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
def test_quick_run_scores_every_method_and_saves_pictures(quick_run):
    module, cfg, folder, record = quick_run
    for name in ("model.keras", "history.csv", "rouge_vs_baselines.png", "centrality_example.png"):
        assert (folder / name).exists(), name
    metrics = record["metrics"]
    assert record["passed"] is None
    for key in ("rouge1", "rouge2", "lead_rouge1", "random_rouge1", "tfidf_rouge1", "centrality_only_rouge1",
                "dev_rouge1"):
        assert 0.0 < metrics[key] < 1.0, key
    gain = metrics["rouge1"] - max(metrics["lead_rouge1"], metrics["random_rouge1"])
    assert metrics["rouge1_gain_over_best_baseline"] == pytest.approx(gain)
    assert record["notes"][0].startswith("summarize(Ge1, 0.2): ")
    assert json.loads((folder / "config.json").read_text())["config"]["documents"] == cfg.documents


@needs_kjv
def test_exported_encoder_matches_keras_and_summarises_the_same_on_the_device(quick_run, tmp_path):
    import keras

    from dlbootcamp import training
    from dlbootcamp.export import device_bench

    module, cfg, folder, _ = quick_run
    encoder = keras.saving.load_model(folder / "model.keras")
    report = export_quick(module, cfg, {"model": encoder}, tmp_path, metric="rouge1_gain_over_best_baseline")
    assert all(-1.0 < r["metric_value"] < 1.0 for r in report.rows if r["quantization"] == "int8")
    # The device side: sentences -> ids with the sidecar's vocabulary -> the artifact -> ranking.
    artifact = str(tmp_path / "model.fp32.tflite")
    meta = device_bench.read_sidecar(artifact)
    vocab, runner = Vocabulary.from_dict(meta["vocabulary"]), device_bench.open_artifact(artifact)
    text = "In the beginning God created the heaven and the earth. And the earth was without form. " \
           "And God said, Let there be light: and there was light. And God saw the light, that it was good."
    on_device = module.summarizer(runner.predict, vocab, meta["max_len"], **meta["ranking"])(text, 0.5)
    in_keras = module.summarizer(training.predict_fn(encoder), vocab, cfg.max_len)(text, 0.5)
    assert on_device == in_keras and len(on_device) < len(text)
