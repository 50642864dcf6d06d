"""Extractive summaries and how they are scored: ROUGE-1 at the reference's length, TF-IDF centrality.

An extractive summary keeps some of a document's sentences, in order. This module holds what any
extractive summariser is measured with and against, so that a lesson's file is its model:

- :func:`cut` - a summary as long as its reference (sentences taken in a given order, shown in
  document order), so that ROUGE recall compares like with like;
- :func:`rouge1_recall`, :func:`rouge1_scorer`, :func:`rouge_tokens`, :func:`sentence_precision` - rouge-score's ROUGE-1 with
  its stemmer, and each sentence's share of words a reference contains (the oracle's order);
- :func:`centrality`, :func:`salience`, :func:`tfidf_orders`, :func:`tune_tfidf` - the TF-IDF
  centrality baseline (LexRank-style, PacSum's directed form, MEAD's position prior), its two
  settings chosen on development documents like any model's;
- :func:`document_centrality` - the same idea inside one document, as a sentence feature;
- :func:`paired_gain` - a mean per-document gain with its paired bootstrap 95% interval.
"""
from __future__ import annotations

import collections
import functools

import numpy as np


def document_centrality(toks: list[list[str]]) -> np.ndarray:
    """Each sentence's summed cosine similarity to the others (TF-IDF with the document's own IDF), in [0, 1]."""
    words_ = sorted({w for t in toks for w in t})
    if len(toks) < 2 or not words_:
        return np.zeros(len(toks), np.float32)
    index = {w: k for k, w in enumerate(words_)}
    tf = np.zeros((len(toks), len(words_)), np.float32)
    for i, t in enumerate(toks):
        for w in t:
            tf[i, index[w]] += 1
    bag = tf * (np.log((1 + len(toks)) / (1 + (tf > 0).sum(axis=0))) + 1)
    bag /= np.maximum(np.linalg.norm(bag, axis=1, keepdims=True), 1e-12)
    c = (bag @ bag.T).sum(axis=1) - (bag * bag).sum(axis=1)
    return (c - c.min()) / max(c.max() - c.min(), 1e-12)


class _CachedStemmer:
    """rouge-score's Porter stemmer, remembered per word (labels stem every word of the corpus)."""

    def __init__(self):
        from nltk.stem import porter

        self.stem = functools.lru_cache(maxsize=None)(porter.PorterStemmer().stem)


@functools.lru_cache(maxsize=1)
def _stemmer():
    return _CachedStemmer()


def rouge_tokens(text: str) -> list[str]:
    """The tokens ROUGE-1 compares (rouge-score's tokenizer with its stemmer)."""
    from rouge_score import tokenize

    return tokenize.tokenize(text, _stemmer())


def sentence_precision(sents: list[str], reference: str) -> np.ndarray:
    """Each sentence's share of words that the reference contains (clipped counts: ROUGE-1 precision)."""
    ref = collections.Counter(rouge_tokens(reference))
    prec = []
    for s in sents:
        got = collections.Counter(rouge_tokens(s))
        prec.append(sum(min(c, ref[w]) for w, c in got.items()) / max(sum(got.values()), 1))
    return np.asarray(prec, np.float32)


def cut(sents: list[str], order, n_words: int) -> str:
    """Sentences taken in ``order`` until ``n_words`` words, shown in document order, cut at ``n_words``."""
    taken, count = [], 0
    for i in order:
        taken.append(int(i))
        count += len(sents[i].split())
        if count >= n_words:
            break
    return " ".join(" ".join(sents[i] for i in sorted(taken)).split()[:n_words])


@functools.lru_cache(maxsize=1)
def rouge1_scorer():
    """rouge-score's ROUGE-1 with its Porter stemmer (made once)."""
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1"], use_stemmer=True)


def rouge1_recall(sents: list[str], order, reference: str) -> float:
    """ROUGE-1 recall of the summary taken in ``order`` and :func:`cut` to the reference's length."""
    return rouge1_scorer().score(reference, cut(sents, order, len(reference.split())))["rouge1"].recall


def paired_gain(model: list[float], baseline: list[float], seed: int) -> tuple[float, float, float]:
    """Mean per-document gain and its 95% paired bootstrap interval (2,000 resamples of the documents)."""
    gains = np.asarray(model) - np.asarray(baseline)
    boot = np.random.default_rng(seed).choice(gains, (2000, len(gains))).mean(axis=1)
    low, high = np.percentile(boot, [2.5, 97.5])
    return float(gains.mean()), float(low), float(high)


def centrality(vectors: np.ndarray, backward_weight: float) -> np.ndarray:
    """Cosine similarity summed over the sentences after each one, plus ``backward_weight`` x over those before
    (1: plain centrality, LexRank-style; 0: PacSum's directed form, a sentence that opens a topic)."""
    sims = vectors @ vectors.T
    return np.triu(sims, 1).sum(axis=1) + backward_weight * np.tril(sims, -1).sum(axis=1)


def salience(vectors: np.ndarray, backward_weight: float = 1.0, position_weight: float = 0.0) -> np.ndarray:
    """Centrality scaled to [0, 1] plus ``position_weight`` x (1 - i/n) (MEAD's position prior)."""
    c = centrality(vectors, backward_weight)
    return (c - c.min()) / max(c.max() - c.min(), 1e-12) + position_weight * (1 - np.arange(len(c)) / len(c))


def tfidf_orders(documents, backward_weight: float = 1.0, position_weight: float = 0.0):
    """document sentences -> indices by TF-IDF centrality (IDF over the sentences of ``documents``)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer().fit([s for doc in documents for s in doc])

    def order(sents: list[str]) -> np.ndarray:
        sparse = vectorizer.transform(sents)
        # only the words this document uses: the same dot products as the full vocabulary's width, 50x faster
        bag = sparse[:, np.unique(sparse.nonzero()[1])].toarray()
        bag /= np.maximum(np.linalg.norm(bag, axis=1, keepdims=True), 1e-12)
        return np.argsort(-salience(bag, backward_weight, position_weight), kind="stable")

    return order


TFIDF_GRID = {"backward_weight": (-1.0, 0.0, 1.0), "position_weight": (0.0, 0.5, 1.0, 2.0)}


def tune_tfidf(documents, references) -> dict:
    """The TF-IDF centrality settings with the best dev ROUGE-1 (the baseline tuned as the model is)."""
    best = None
    for bw in TFIDF_GRID["backward_weight"]:
        for pw in TFIDF_GRID["position_weight"]:
            order = tfidf_orders(documents, bw, pw)
            got = np.mean([rouge1_recall(s, order(s), ref) for s, ref in zip(documents, references)])
            if best is None or got > best[0] + 1e-12:
                best = (got, {"backward_weight": bw, "position_weight": pw})
    return best[1]
