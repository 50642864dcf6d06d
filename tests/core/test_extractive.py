"""dlbootcamp.extractive: the cut to a reference's length, ROUGE overlap, TF-IDF centrality, paired intervals."""

import numpy as np
import pytest

from dlbootcamp import extractive


def test_cut_takes_sentences_in_order_shows_them_in_document_order_and_stops_at_the_length():
    assert extractive.cut(["one two three.", "four five.", "six."], [1, 2, 0], 3) == "four five. six."
    assert extractive.cut(["one two three.", "four five."], [0, 1], 2) == "one two"


def test_sentence_precision_is_the_share_of_words_the_reference_holds_with_stemming():
    got = extractive.sentence_precision(["The kings fight.", "Rain fell."], "A king fights")
    assert got[0] == pytest.approx(2 / 3) and got[1] == 0.0  # "kings" and "fight" stem to the reference's words; "the" is not in it


def test_centrality_never_counts_a_sentence_with_itself_and_weights_the_earlier_ones():
    v = np.eye(3) + 0.5
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    sims = v @ v.T
    forward = extractive.centrality(v, 0.0)
    assert forward == pytest.approx([sims[0, 1] + sims[0, 2], sims[1, 2], 0.0])
    assert extractive.centrality(v, 1.0) == pytest.approx(sims.sum(1) - 1.0)
    flat = extractive.salience(np.eye(4), position_weight=2.0)  # nothing alike: the position prior alone
    assert list(np.argsort(-flat, kind="stable")) == [0, 1, 2, 3]


def test_paired_bootstrap_interval_is_above_zero_only_for_a_steady_gain():
    mean, low, high = extractive.paired_gain([0.5] * 30, [0.4] * 30, seed=0)
    assert mean == pytest.approx(0.1) and low == pytest.approx(0.1) and high == pytest.approx(0.1)
    noisy = extractive.paired_gain([0.5, 0.3] * 15, [0.4] * 30, seed=0)  # +0.1 and -0.1 alternate
    assert noisy[0] == pytest.approx(0.0) and noisy[1] < 0 < noisy[2]


def test_tfidf_baseline_is_tuned_on_dev_and_can_drop_the_position_prior():
    docs = [["Grass grows.", "Rain falls.", "The king rode out.", "The king fought the battle.",
             "The king won the battle."]] * 3
    refs = ["The king fought and won the battle."] * 3
    chosen = extractive.tune_tfidf(docs, refs)
    assert chosen["position_weight"] == 0.0  # the lead is wrong here; the prior would only hurt
    assert chosen["backward_weight"] in extractive.TFIDF_GRID["backward_weight"]
