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
- :func:`paired_gain` - a mean per-document gain with its paired bootstrap 95% interval;
- :func:`sentence_inputs`, :func:`overlap_labels` - what a learned sentence scorer reads (a sentence's
  words, their counts in the rest of the document, :data:`SENTENCE_FEATURES`) and the target it is
  trained on (the sentence's overlap with a reference).
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
    """rouge-score's ROUGE-1 with its Porter stemmer (made once). Its own tokenizer, handed the stemmer that
    remembers each word: the same tokens, so the same scores, without stemming every word again for every
    summary a lesson scores (a quick summarization run spent 35 of its 86 s there)."""
    from rouge_score import rouge_scorer, tokenizers

    class Tokenizer(tokenizers.Tokenizer):
        def tokenize(self, text):
            return rouge_tokens(text)

    return rouge_scorer.RougeScorer(["rouge1"], tokenizer=Tokenizer())


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


# --- a learned sentence scorer's inputs and targets (host side: what a device program computes) ------

#: The five sentence features of :func:`sentence_inputs`' ``position`` input, and the sixth, centrality.
SENTENCE_FEATURES = ("relative position", "first sentence", "1 / (1 + index)", "words / 50", "log sentences / 4",
                     "TF-IDF centrality in the document, scaled to [0, 1]")


def sentence_inputs(sents: list[str], vocab, max_len: int) -> list[np.ndarray]:
    """The scorer's three inputs for every sentence of one document, in ``model.inputs`` order.

    ``token_ids`` (n, max_len) int32; ``context`` (n, max_len, 2) float32: for each word, log(1 +
    its count in the *other* sentences) and the share of the other sentences that contain it - the
    document the sentence sits in; ``position`` (n, 5) float32: :data:`SENTENCE_FEATURES`.
    """
    n = len(sents)
    toks = [vocab.tokenize(s) for s in sents]
    count = collections.Counter(w for t in toks for w in t)
    df = collections.Counter(w for t in toks for w in set(t))
    ctx = np.zeros((n, max_len, 2), np.float32)
    pos = np.zeros((n, len(SENTENCE_FEATURES)), np.float32)
    pos[:, 5] = document_centrality(toks)
    for i, t in enumerate(toks):
        own = collections.Counter(t)
        for j, w in enumerate(t[:max_len]):
            ctx[i, j] = np.log1p(count[w] - own[w]), (df[w] - 1) / max(n - 1, 1)
        pos[i, :5] = i / n, float(i == 0), 1 / (1 + i), len(t) / 50, np.log(n) / 4
    return [vocab.encode_batch(sents, max_len), ctx, pos]


def overlap_labels(sents: list[str], reference: str, oracle: bool = False) -> np.ndarray:
    """The target - which sentences a retelling keeps: :func:`sentence_precision` scaled to [0, 1] within the
    document, or (``oracle``) 1 for the sentences an oracle summary as long as the reference takes."""
    prec = sentence_precision(sents, reference)
    if oracle:  # 1 for the sentences an oracle summary as long as the reference takes (most overlap first)
        label, words_ = np.zeros(len(sents), np.float32), 0
        for i in np.argsort(-prec, kind="stable"):
            label[i], words_ = 1.0, words_ + len(sents[i].split())
            if words_ >= len(reference.split()):
                break
        return label
    return (prec - prec.min()) / max(prec.max() - prec.min(), 1e-6)
