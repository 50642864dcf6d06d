"""dlbootcamp.extractive: the cut to a reference's length, ROUGE overlap, TF-IDF centrality, paired intervals, and a
learned sentence scorer's inputs and targets."""

import numpy as np
import pytest

from dlbootcamp import extractive
from dlbootcamp.text import Vocabulary


def test_cut_takes_sentences_in_order_shows_them_in_document_order_and_stops_at_the_length():
    assert extractive.cut(["one two three.", "four five.", "six."], [1, 2, 0], 3) == "four five. six."
    assert extractive.cut(["one two three.", "four five."], [0, 1], 2) == "one two"


def test_sentence_precision_is_the_share_of_words_the_reference_holds_with_stemming():
    got = extractive.sentence_precision(["The kings fight.", "Rain fell."], "A king fights")
    assert got[0] == pytest.approx(2 / 3) and got[1] == 0.0  # "kings" and "fight" stem to the reference's words; "the" is not in it


def test_rouge1_scorer_with_the_remembering_stemmer_scores_exactly_as_rouge_scores_own():
    from rouge_score import rouge_scorer

    theirs = rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True)
    pairs = [("The kings were fighting over the running rivers.", "A king fights; rivers ran and run."),
             ("Generously, the happiness of nations is measured.", "Nations measure happy generosity!"),
             ("", "Nothing to match."), ("Caf\u00e9s and na\u00efve users, 2026's agreed-upon rules.", "users' rules agreed")]
    for target, prediction in pairs * 2:  # twice: the second time from the stemmer's memory
        assert extractive.rouge1_scorer().score(target, prediction) == theirs.score(target, prediction)


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


DOC = ["Abram dwelt in the plain.", "Lot pitched toward Sodom.", "The cities burned with fire and brimstone.",
       "Fire came down from heaven upon the cities.", "The smoke of the cities went up."]
RETOLD = "The cities burned with fire and brimstone."


def test_inputs_tell_each_word_how_often_the_rest_of_the_document_uses_it():
    vocab = Vocabulary.build(DOC, "word")
    ids, ctx, pos = extractive.sentence_inputs(DOC, vocab, max_len=6)
    assert ids.shape == (5, 6) and ctx.shape == (5, 6, 2) and pos.shape == (5, len(extractive.SENTENCE_FEATURES))
    # sentence 2, word 1 is "cities": twice in the other four sentences, in half of them
    assert vocab.tokens[ids[2, 1]] == "cities"
    np.testing.assert_allclose(ctx[2, 1], [np.log(3), 0.5], rtol=1e-6)
    assert ids[1, 3] > 0 and ids[1, 4] == 0 and not ctx[1, 4:].any()  # "Lot pitched toward Sodom": 4 words
    np.testing.assert_allclose(pos[:, 0], [0, 0.2, 0.4, 0.6, 0.8])  # relative position
    assert list(pos[:, 1]) == [1, 0, 0, 0, 0]  # first sentence
    assert pos[:, 5].max() == 1.0 and np.argmax(pos[:, 5]) in (2, 3, 4)  # the cities are the document's topic
    assert pos[1, 5] == 0.0 < pos[0, 5]  # "Lot pitched toward Sodom" shares no word, "Abram..." shares "the"


def test_targets_mark_the_sentences_the_reference_retells():
    soft = extractive.overlap_labels(DOC, RETOLD)
    assert soft[2] == 1.0 and soft.min() == 0.0 and np.argmin(soft) in (0, 1)
    hard = extractive.overlap_labels(DOC, RETOLD, oracle=True)
    assert list(hard) == [0, 0, 1, 0, 0]  # one sentence already as long as the reference
    long_ref = extractive.overlap_labels(DOC, RETOLD + " Lot pitched toward Sodom.", oracle=True)
    assert list(long_ref) == [0, 1, 1, 0, 0]
