"""Fair baselines: classical models tuned on validation, exactly as the deep model is.

A baseline is only a fair fight when it gets the same data and its own hyperparameters are
chosen the same way as the model's: on the validation split, never on test. ``tune`` does that
for any scikit-learn-style estimator; the lesson then scores the chosen one on test once.

    best = tune(lambda C: LogisticRegression(C=C, max_iter=2000), [0.1, 1, 10],
                (x_train, y_train), (x_val, y_val))
    best.params, best.val_score, best.model.score(x_test, y_test)
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable, Sequence


@dataclasses.dataclass(frozen=True)
class Tuned:
    """The estimator that scored best on validation, its setting and that score."""

    model: Any
    params: Any
    val_score: float
    val_scores: dict  # every setting tried -> its validation score


def tune(make: Callable[[Any], Any], grid: Iterable[Any], train: Sequence, val: Sequence,
         score: Callable[[Any, Any, Any], float] | None = None) -> Tuned:
    """Fit ``make(p)`` on ``train`` for each ``p`` in ``grid``; keep the best on ``val``.

    ``train`` and ``val`` are ``(x, y)`` pairs. ``score(model, x, y)`` defaults to the
    estimator's own ``score`` (accuracy for classifiers); higher is better. Ties keep the first
    setting in ``grid``, so list the simplest (most regularised) first.
    """
    score = score or (lambda model, x, y: float(model.score(x, y)))
    best, scores = None, {}
    for p in grid:
        model = make(p).fit(*train)
        s = float(score(model, *val))
        scores[p] = s
        if best is None or s > best.val_score:
            best = Tuned(model, p, s, scores)
    if best is None:
        raise ValueError("tune() needs at least one setting in grid.")
    return dataclasses.replace(best, val_scores=scores)


class CharNGram:
    """A character n-gram language model, smoothed by interpolating each order with the one below.

    ``p_n(c | h) = (count(h, c) + k * p_{n-1}(c | h')) / (count(h) + k)``, where ``h'`` drops the
    oldest character of ``h``, down to an add-one unigram: the Dirichlet-prior form of
    interpolated smoothing (MacKay & Peto 1995). ``order`` (context length) and ``k`` are chosen
    on validation text. Counts are kept as sorted integer keys (a context and the next character
    packed into one int64), so building and scoring a few million characters takes seconds.
    """

    def __init__(self, ids, vocab_size: int, order: int, k: float):
        import numpy as np

        self.bits = max(1, int(vocab_size - 1).bit_length())
        if (order + 1) * self.bits > 62:
            raise ValueError(f"order {order} with {vocab_size} symbols does not fit a 62-bit key; use order "
                             f"<= {62 // self.bits - 1}.")
        self.vocab_size, self.order, self.k = vocab_size, order, float(k)
        ids = np.asarray(ids, np.int64)
        self.unigram = (np.bincount(ids, minlength=vocab_size) + 1.0) / (len(ids) + vocab_size)
        self.tables = []  # per order m >= 1: (sorted (h, c) keys, their counts, sorted h keys, their counts)
        for m in range(1, order + 1):
            joint = self._keys(ids, m)  # key of (ids[t-m:t], ids[t]) for every t >= m
            hc, hc_n = np.unique(joint, return_counts=True)
            h, h_n = np.unique(joint >> self.bits, return_counts=True)
            self.tables.append((hc, hc_n, h, h_n))

    def _keys(self, ids, m: int):
        import numpy as np

        key = np.zeros(len(ids) - m, np.int64)
        for j in range(m + 1):  # oldest context character first, the predicted one last
            key = (key << self.bits) | ids[j:len(ids) - m + j]
        return key

    @staticmethod
    def _lookup(keys, table_keys, table_counts):
        import numpy as np

        i = np.clip(np.searchsorted(table_keys, keys), 0, len(table_keys) - 1)
        return np.where(table_keys[i] == keys, table_counts[i], 0).astype(np.float64)

    def bits_per_char(self, passages) -> float:
        """Mean -log2 p of every character after the first of each passage (rows of ids), each
        predicted from the passage's own earlier characters only (as a model reading it from a
        zero state would)."""
        import numpy as np

        passages = np.asarray(passages, np.int64)
        rows, length = passages.shape
        total = 0.0
        for t in range(1, length):
            nxt = passages[:, t]
            p = self.unigram[nxt]
            for m in range(1, min(self.order, t) + 1):
                hc, hc_n, h, h_n = self.tables[m - 1]
                ctx = np.zeros(rows, np.int64)
                for j in range(t - m, t):
                    ctx = (ctx << self.bits) | passages[:, j]
                n_h = self._lookup(ctx, h, h_n)
                n_hc = self._lookup((ctx << self.bits) | nxt, hc, hc_n)
                p = (n_hc + self.k * p) / (n_h + self.k)
            total -= np.log2(p).sum()
        return float(total / (rows * (length - 1)))


def ppmi_svd_vectors(sequences, vocab_size: int, window: int, dim: int, *, smoothing: float = 0.75,
                     seed: int = 0):
    """Count-based word vectors (Levy, Goldberg & Dagan 2015): co-occurrence counts within ``window``
    words each side, positive pointwise mutual information with context-distribution smoothing,
    then a truncated SVD to ``dim`` numbers per word (U times the square root of the singular values).

    The classical rival of word2vec: the same corpus and window, no training loop. Ids 0 and 1
    (padding, unknown) are left out of the counts. Returns an array (vocab_size, dim).
    """
    import numpy as np
    from scipy import sparse
    from scipy.sparse.linalg import svds

    rows, cols = [], []
    for seq in sequences:
        seq = np.asarray(seq, np.int64)
        for offset in range(1, window + 1):
            a, b = seq[:-offset], seq[offset:]
            keep = (a > 1) & (b > 1)
            rows += [a[keep], b[keep]]
            cols += [b[keep], a[keep]]
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    counts = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(vocab_size, vocab_size))
    counts.sum_duplicates()
    total = counts.sum()
    word = np.asarray(counts.sum(axis=1)).ravel()
    context = np.asarray(counts.sum(axis=0)).ravel() ** smoothing
    context = context / context.sum()
    coo = counts.tocoo()
    pmi = np.log(coo.data * 1.0 / total) - np.log(word[coo.row] / total) - np.log(context[coo.col])
    keep = pmi > 0
    ppmi = sparse.csr_matrix((pmi[keep], (coo.row[keep], coo.col[keep])), shape=counts.shape)
    rng = np.random.default_rng(seed)
    u, s, _ = svds(ppmi, k=min(dim, vocab_size - 2), v0=rng.uniform(-1, 1, min(ppmi.shape)))
    return (u * np.sqrt(s)).astype(np.float32)


def curve_fits(train, val, test, *, max_degree: int = 15, log=print) -> dict[str, dict[str, float]]:
    """Two classical fits of a 1-D function from its training points, each split an (x, y) pair of arrays:
    piecewise-linear interpolation of the training points, and a least-squares polynomial whose degree
    (1..``max_degree``) has the lowest validation MAE (``log`` says which). Returns name -> {"test_mae"} (and
    the polynomial's "degree")."""
    import numpy as np

    x, y = (np.asarray(a, np.float64).reshape(-1) for a in train)
    order = np.argsort(x)

    def mae(predict, split):
        return float(np.mean(np.abs(predict(np.asarray(split[0]).reshape(-1)) - np.asarray(split[1]).reshape(-1))))

    linear = lambda v: np.interp(v, x[order], y[order])  # noqa: E731
    fits = {deg: np.polynomial.Polynomial.fit(x, y, deg) for deg in range(1, max_degree + 1)}
    degree = min(fits, key=lambda deg: mae(fits[deg], val))
    log(f"  polynomial: degree {degree} chosen on validation (MAE {mae(fits[degree], val):.5f})")
    return {"piecewise-linear interpolation": {"test_mae": mae(linear, test)},
            "polynomial": {"test_mae": mae(fits[degree], test), "degree": float(degree)}}
