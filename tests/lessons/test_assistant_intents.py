"""Day 15 (assistant-intents) and the utterance generator it reads (dlbootcamp.worlds.utterances)."""

import json
import random
import re

import numpy as np
import pytest

from dlbootcamp import registry, text
from dlbootcamp.worlds import utterances
from conftest import export_quick

# --- the generator -------------------------------------------------------------------------------


def test_whole_templates_are_held_out_and_the_split_is_seeded():
    split = utterances.split_templates(seed=0, val=3, test=5)
    sets = {name: set(pairs) for name, pairs in split.items()}
    assert not (sets["train"] & sets["test"] or sets["train"] & sets["val"] or sets["val"] & sets["test"])
    assert sum(map(len, sets.values())) == sum(map(len, utterances.INTENTS.values()))
    for label in range(len(utterances.LABELS)):  # every intent loses the same number of phrasings
        assert sum(1 for lab, _ in split["test"] if lab == label) == 5
        assert sum(1 for lab, _ in split["val"] if lab == label) == 3
    assert split == utterances.split_templates(seed=0, val=3, test=5)
    assert split["test"] != utterances.split_templates(seed=1, val=3, test=5)["test"]


def test_sentences_come_from_their_own_templates_with_every_slot_filled():
    said = utterances.generate(per_template=4, seed=0)
    for split in said.values():
        assert len(split.texts) == len(split.intents) == len(split.templates)
        for sentence, template in zip(split.texts, split.templates):
            assert "{" not in sentence
            pattern = re.escape(template)
            for name in utterances.slots_of(template):
                pattern = pattern.replace(re.escape("{" + name + "}"), "(" + "|".join(
                    re.escape(v) for v in utterances.SLOTS[name]) + ")")
            assert re.fullmatch(pattern, sentence), (sentence, template)
    test_templates = set(said["test"].templates)
    assert not test_templates & set(said["train"].templates)
    assert utterances.fill("Snooze the alarm", random.Random(0), 5) == ["Snooze the alarm"]


# --- tokenisation: Keras on the host, NumPy on the device ------------------------------------------------


def test_text_vectorization_and_the_numpy_vocabulary_give_the_same_ids():
    module = registry.load("assistant-intents")
    tricky = ["I'm up at 6:30!", "Turn the KIDS' room lamp on", "rock'n'roll, please", "Café au lait?",
              "lo-fi   hip hop\tnow", "don't", "''quoted''", "x" * 3 + " " + "y"]
    layer = module.vectorizer(tricky)
    vocab = text.Vocabulary(layer.get_vocabulary()[2:], "word")
    keras_ids = layer(tricky).numpy()
    np.testing.assert_array_equal(keras_ids, vocab.encode_batch(tricky, module.SEQUENCE_LENGTH))
    assert vocab.decode(keras_ids[0]) == "i'm up at"
    data = module.load_data(module.Config.quick())
    for split in ("train", "val", "test"):
        ids = data.vocabulary.encode_batch(data.texts[split].texts, module.SEQUENCE_LENGTH)
        np.testing.assert_array_equal(ids, getattr(data, split).x)
    assert (data.test.x == 1).any()  # held-out phrasings bring words the vocabulary never saw
    # no sentence the generator can write is cut: each template with its wordiest slot values fits
    for template in (t for ts in utterances.INTENTS.values() for t in ts):
        wordiest = {n: max(utterances.SLOTS[n], key=lambda v: len(text.words(v)))
                    for n in utterances.slots_of(template)}
        assert len(text.words(template.format(**wordiest))) <= module.SEQUENCE_LENGTH, template


def test_word_dropout_only_hides_real_words():
    module = registry.load("assistant-intents")
    ids = np.array([[5, 6, 7, 0, 0], [8, 1, 9, 10, 0]], np.int32)
    dropped = module.drop_words(ids, 0.5, 50, np.random.default_rng(0))
    assert dropped.shape == (100, 5)
    assert ((dropped == np.tile(ids, (50, 1))) | (dropped == 1)).all()
    assert (dropped[:, 3:][np.tile(ids, (50, 1))[:, 3:] == 0] == 0).all()  # padding stays padding
    assert 0.4 < (dropped[np.tile(ids, (50, 1)) > 1] == 1).mean() < 0.6


def test_evaluate_scores_any_predict_function():
    module = registry.load("assistant-intents")
    data = module.load_data(module.Config.quick())
    perfect = lambda x: np.eye(10)[data.test.y]  # noqa: E731 - an oracle
    assert module.evaluate(perfect, data) == {"test_accuracy": 1.0, "test_templates_mostly_right": 1.0}
    constant = lambda x: np.tile(np.eye(10)[0], (len(x), 1))  # noqa: E731
    scores = module.evaluate(constant, data)
    assert scores["test_accuracy"] < 0.3 and scores["test_templates_mostly_right"] == pytest.approx(0.1)


# --- the lesson end to end ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One --quick run through the CLI, shared by the tests below."""
    from dlbootcamp.app.cli import main

    out = tmp_path_factory.mktemp("runs")
    assert main(["train", "assistant-intents", "--quick", "--out", str(out), "--name", "q", "-q"]) == 0
    return registry.load("assistant-intents"), out / "q"


def test_quick_run_saves_the_model_and_a_confusion_matrix(quick_run):
    _, folder = quick_run
    for name in ("model.keras", "confusion_matrix.png", "hardest_templates.png", "learning_curves.png"):
        assert (folder / name).exists(), name
    record = json.loads((folder / "metrics.json").read_text())
    assert record["passed"] is None
    assert 0.0 <= record["metrics"]["test_accuracy"] <= 1.0
    assert record["notes"][0].startswith("held-out templates mostly missed:")
    # the bag-of-words baseline is scored on the same held-out templates, tuned on validation
    tfidf = record["baselines"]["tf-idf logistic regression"]
    assert 0.0 <= tfidf["test_accuracy"] <= 1.0 and 0.0 <= tfidf["val_accuracy"] <= 1.0


def test_export_parity_and_device_feeding_from_the_sidecar_vocabulary(quick_run, tmp_path):
    import keras

    from dlbootcamp.export import device_bench

    module, folder = quick_run
    cfg = module.Config.quick()
    data = module.load_data(cfg)
    model = keras.saving.load_model(folder / "model.keras")  # safe mode
    report = export_quick(module, cfg, {"model": model}, tmp_path, data=data)
    # A quick model sits near chance, where int8 rounding flips answers by luck: its tolerance is
    # judged on the full run's export; here every artifact must convert, run and match in fp32.
    assert not [f for f in report.failures if "beyond the quantized tolerance" not in f], report.failures
    rows = {(r["format"], r["quantization"]): r for r in report.rows}

    # The device: raw sentences, the sidecar's vocabulary, NumPy and the TFLite runtime - no TensorFlow.
    sentences = list(data.texts["test"].texts)
    keras_probs = model.predict(module.vectorizer(data.texts["train"].texts)(sentences).numpy(), verbose=0)
    for quantization in ("fp32", "int8"):
        artifact = str(tmp_path / f"model.{quantization}.tflite")
        meta = device_bench.read_sidecar(artifact)
        assert meta["inputs"][0]["dtype"] == "int32" and meta["labels"] == list(utterances.LABELS)
        vocab = text.Vocabulary.from_dict(meta["vocabulary"])
        ids = vocab.encode_batch(sentences, meta["sequence_length"])
        probs = device_bench.open_artifact(artifact).predict(ids)
        if quantization == "fp32":
            np.testing.assert_allclose(probs, keras_probs, atol=1e-4)
        # the device's own tokenisation reproduces the accuracy the exporter measured on this artifact
        accuracy = float((probs.argmax(-1) == data.test.y).mean())
        assert accuracy == pytest.approx(rows[("tflite", quantization)]["metric_value"])
