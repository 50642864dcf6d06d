"""Day 14 - Extractive summarisation: a sentence scorer that learns what gets retold.

Seed 003 calls ``summarize(text, 0.6)`` and gets the sentences that matter back. An *extractive*
summariser writes nothing new: it keeps the best ``ratio`` of a text's sentences, in order. Which
are best? Here a small network **learns** it (a supervised sentence scorer, after SummaRuNNer,
Nallapati et al. 2017): it reads one sentence *in its document* - its words, and for each word how
often the document's other sentences use it - plus sentence features (position, length, TF-IDF
centrality in the document), and outputs a score; ``summarize`` keeps the best-scoring sentences.

The data. Test: ``corpus.RETELLINGS``, 36 King James chapters paired with short retellings by other
biblical authors (Stephen in Acts 7, Hebrews 11, Psalms 78/105/106: genuine human summaries, chosen
by hand); dev: ``corpus.RETELLINGS_DEV``, 44 more, for every choice. 80 pairs cannot train a scorer,
so the training pairs are **mined** from the rest of the Bible (``corpus.mine_retellings``): a verse of
another book that is most similar (TF-IDF cosine >= 0.2) to a chapter counts as retelling it, and a
chapter with at least 2 such verses is a document whose reference is its closest such verses, at
most 8 (parallel accounts such as Kings/Chronicles and the gospels, quotations, retellings - and
some noise, a shared formula also matches). No chapter of a dev or test pair, as document or as
reference, is mined. Targets: each sentence's share of words the reference contains (ROUGE-1
precision), scaled to [0, 1] per document; loss: binary cross-entropy. The mined chapters are split
by the seed 80/10/10: train, validation (early stopping; the TF-IDF baseline's settings for the
mined test) and a **mined test** never trained or tuned on - a second, in-domain evaluation whose
references are machine-paired, so it is reported beside the curated one, never instead of it.

Scoring: ROUGE-1 recall (rouge-score, stemmed) of a summary cut to its reference's length, against
**lead**, **random** (20 draws) and **TF-IDF centrality** with MEAD's position prior, its two
settings (direction -1/0/1 x prior 0/0.5/1/2) chosen on dev. An **oracle** that reads the reference
and takes the sentences with most overlap first gives the ceiling. A paired bootstrap (2,000
resamples of the documents) gives a 95% interval for the gain over each baseline; the bar metric is
the lowest of the three lower ends (above 0 = beats every baseline), on the curated test set and,
as a second bar, on the mined test set. The run also records how often a document's sentence with
the most overlap is its first, or among its first three: whether position alone could answer. An
ablation (``Config.ablations``) trains, the same way, a scorer without the context and one on the
sentence features alone.

On a device: the exported model is the scorer (token ids, per-word context, sentence features ->
score); sentence splitting, the context counts and the ranking run in the host program
(``dlbootcamp.extractive.sentence_inputs``, :func:`summarizer`), with the vocabulary from the sidecar.

How it was built, the choices made on dev and the variants that were rejected:
docs/evidence/summarization.md. Measured numbers (per seed, with the baselines): docs/lessons.md.
"""
from __future__ import annotations

import dataclasses

import keras
import numpy as np

from dlbootcamp.data import corpus
from dlbootcamp import plots, training
from dlbootcamp.lesson import Bar, LessonInfo, Trained
from dlbootcamp.extractive import (SENTENCE_FEATURES, overlap_labels, paired_gain, rouge1_recall, sentence_inputs,
                                   sentence_precision, tfidf_orders, tune_tfidf)
from dlbootcamp.text import Vocabulary, sentences

LESSON = LessonInfo(
    id="summarization",
    day=14,
    title="Extractive summarisation with a learned sentence scorer: summarize(text, 0.6)",
    seeds=("003",),
    datasets=("kjv",),
    topics=("extractive summarisation", "sentence scoring", "distant supervision", "ROUGE", "lead baseline",
            "TF-IDF centrality", "paired bootstrap", "ablation"),
    summary=("A sentence scorer reads each sentence with its document's word counts and position and learns which "
             "sentences a retelling keeps, from retellings mined across the King James Bible; scored with ROUGE "
             "against 36 retellings the Bible itself contains, versus lead, TF-IDF centrality (tuned on 44 dev "
             "retellings) and random, with paired bootstrap intervals and an ablation."),
    bars=(Bar("rouge1_gain_over_best_baseline_ci_low", ">", 0.0),
          Bar("mined_test_rouge1_gain_over_best_baseline_ci_low", ">", 0.0)),
    quantized_tolerance=0.01,
    baselines=("lead", "random", "tf-idf centrality"),
    resumable=True,  # one model.fit with run.callbacks(): --resume continues it
)



@dataclasses.dataclass(frozen=True)
class Config:
    dim: int = 32  # word vector length
    hidden: int = 32  # width of the per-word and per-sentence layers
    vocab_size: int = 8000  # most frequent words of the training documents (with padding and unknown)
    max_len: int = 48  # words per sentence fed to the scorer (longer ones are cut)
    min_similarity: float = 0.2  # mining: a verse retells a chapter of another book at TF-IDF cosine >= this
    max_similarity: float = 1.0  # mining: drop closer verses (copies); 1 keeps all (0.4 did not help on dev)
    max_refs: int = 8  # mining: at most this many retelling verses per chapter (the most similar)
    min_refs: int = 2  # mining: a chapter with fewer retelling verses is not a training document
    oracle_labels: bool = False  # targets: overlap share scaled per document (False) or 0/1 oracle sentences (dev)
    dropout: float = 0.2  # on word vectors while training
    epochs: int = 12  # passes over the training sentences (early stopping on validation documents)
    batch_size: int = 256  # sentences per step, from all training documents mixed
    learning_rate: float = 2e-3  # Adam
    seed: int = 0  # split of the mined documents, weights, shuffling, random baseline, bootstrap
    ablations: bool = True  # also train the scorer without context, and one on the sentence features alone
    chapters: int = 0  # 0 = every mined training document; the quick preset uses a few
    documents: int = 0  # 0 = all retellings; the quick preset scores a few

    @classmethod
    def quick(cls) -> "Config":
        return cls(dim=8, hidden=8, vocab_size=800, epochs=1, chapters=40, documents=4)


# --- data: retellings mined from the KJV (training), the curated ones (dev and test) -------------------

@dataclasses.dataclass(frozen=True)
class Data:
    vocab: Vocabulary
    train: tuple[list[np.ndarray], np.ndarray]  # scorer inputs of every training sentence, and their targets
    val: tuple[list[np.ndarray], np.ndarray]  # the same for the validation documents (early stopping)
    mined_test: tuple[list[list[str]], list[str]]  # mined documents never trained or tuned on, their references
    mined_tfidf: dict  # the TF-IDF centrality settings for them, chosen on the mined validation documents
    documents: list[list[str]]  # evaluation documents as sentences
    references: list[str]  # their retellings
    names: list[str]  # "Ge37 -> Acts7:9 Psa105:17-18"
    dev: tuple[list[list[str]], list[str]]  # development documents and retellings (choices, never scores)
    tfidf: dict  # the TF-IDF centrality baseline's settings, chosen on dev
    mined: list[str]  # names of the mined training documents
    max_len: int
    seed: int
    source: str


def _stack(docs, vocab, max_len, oracle=False):
    """All sentences of ``docs`` ((sentences, reference) pairs) as one batch of inputs and targets."""
    parts = [sentence_inputs(s, vocab, max_len) for s, _ in docs]
    inputs = [np.concatenate([p[k] for p in parts]) for k in range(3)]
    return inputs, np.concatenate([overlap_labels(s, r, oracle) for s, r in docs])[:, None]


def load_data(cfg: Config) -> Data:
    """Mined retellings (split 80/10/10 by the seed: train, validation, mined test); dev and test retellings held
    out."""
    chapters, source = corpus.kjv_chapters()
    found = corpus.mine_retellings(chapters, min_similarity=cfg.min_similarity, max_similarity=cfg.max_similarity,
                                   min_refs=cfg.min_refs, max_refs=cfg.max_refs)
    mined = [(ref, s, " ".join(r)) for ref, s, r, _ in found]
    order, tenth = np.random.default_rng(cfg.seed).permutation(len(mined)), len(mined) // 10
    test = [mined[i] for i in sorted(order[:tenth])]
    val = [mined[i] for i in sorted(order[tenth:2 * tenth])]
    train = [mined[i] for i in sorted(order[2 * tenth:])][:cfg.chapters or None]
    vocab = Vocabulary.build((s for _, doc, _ in train for s in doc), "word", max_size=cfg.vocab_size, min_count=2)
    retellings = corpus.RETELLINGS[:cfg.documents] if cfg.documents else corpus.RETELLINGS
    text = lambda refs: " ".join(v for r in refs for v in corpus.passage(chapters, r))  # noqa: E731
    dev = ([sentences(text(d)) for d, _ in corpus.RETELLINGS_DEV], [text(r) for _, r in corpus.RETELLINGS_DEV])
    return Data(vocab, _stack([(s, r) for _, s, r in train], vocab, cfg.max_len, cfg.oracle_labels),
                _stack([(s, r) for _, s, r in val], vocab, cfg.max_len, cfg.oracle_labels),
                ([s for _, s, _ in test], [r for _, _, r in test]),
                tune_tfidf([s for _, s, _ in val], [r for _, _, r in val]),
                [sentences(text(d)) for d, _ in retellings], [text(r) for _, r in retellings],
                [f"{'+'.join(d)} -> {' '.join(r)}" for d, r in retellings], dev, tune_tfidf(*dev),
                [ref for ref, _, _ in train], cfg.max_len, cfg.seed, source)


def sidecar(data: Data) -> dict:
    return {"vocabulary": data.vocab.to_dict(), "max_len": data.max_len,
            "input_order": ["token_ids", "context", "position"],  # what sentence_inputs returns
            "sentence_features": list(SENTENCE_FEATURES),
            "preprocessing": "split the text into sentences (after . ! ?); per sentence: lower-cased words "
                             "(vocabulary.pattern) -> token_ids int32 via vocabulary.tokens (unknown -> 1), cut or "
                             "padded with 0 to max_len; context (max_len, 2) float32 per word: log(1 + count of the "
                             "word in the document's other sentences), share of the other sentences holding it (0 "
                             "on padding); position (6,) float32: i/n, i == 0, 1/(1+i), words/50, log(n)/4, TF-IDF "
                             "centrality (summed cosine to the other sentences, the document's own IDF, scaled to "
                             "[0, 1]; document_centrality). Feed the artifact by input name (its own order may "
                             "differ). Output: a score in (0, 1); keep the highest-scoring sentences, in order."}


def representative_data(data: Data, n: int = 200, split: str = "train") -> list[np.ndarray]:
    """Scorer inputs: training sentences calibrate int8, the evaluation documents feed the parity check."""
    if split == "train":
        return [x[:n] for x in data.train[0]]
    parts = [sentence_inputs(doc, data.vocab, data.max_len) for doc in data.documents]
    return [np.concatenate([p[k] for p in parts])[:n] for k in range(3)]


# --- model: a sentence scorer that reads the sentence with its document -------------------------------

VARIANT_INPUTS = {"full": (0, 1, 2), "no context": (0, 2), "position": (2,)}  # which of the three inputs each reads


def build_model(cfg: Config, vocab_size: int = 8000, variant: str = "full") -> keras.Model:
    """Sentence -> score in (0, 1). ``variant``: "full" (words + document context + sentence features),
    "no context" (words + sentence features: the ablation that cannot see the document's word counts),
    "position" (the ``position`` input alone: position, length and TF-IDF centrality, no words)."""
    if variant not in VARIANT_INPUTS:
        raise ValueError(f"Invalid scorer variant {variant!r}: expected one of {sorted(VARIANT_INPUTS)}.")
    ids = keras.Input((cfg.max_len,), dtype="int32", name="token_ids")
    ctx = keras.Input((cfg.max_len, 2), name="context")
    pos = keras.Input((len(SENTENCE_FEATURES),), name="position")
    inputs, parts = [pos], [pos]
    if variant != "position":
        x = keras.layers.Embedding(vocab_size, cfg.dim, name="word_vectors")(ids)
        x = keras.layers.Dropout(cfg.dropout, seed=cfg.seed, name="word_dropout")(x)
        if variant == "full":
            x = keras.layers.Concatenate(name="word_in_document")([x, ctx])
        h = keras.layers.Dense(cfg.hidden, activation="relu", name="per_word")(x)
        mask = keras.ops.expand_dims(keras.ops.cast(keras.ops.greater(ids, 0), "float32"), -1)
        h = h * mask  # padding says nothing (relu output >= 0, so the max below ignores it too)
        mean = keras.ops.sum(h, axis=1) / keras.ops.maximum(keras.ops.sum(mask, axis=1), 1.0)
        parts = [mean, keras.ops.max(h, axis=1), pos]
        inputs = [ids, ctx, pos] if variant == "full" else [ids, pos]
    z = keras.layers.Concatenate(name="sentence")(parts) if len(parts) > 1 else parts[0]
    z = keras.layers.Dense(cfg.hidden, activation="relu", name="judge")(z)
    score = keras.layers.Dense(1, activation="sigmoid", name="score")(z)
    return keras.Model(inputs, score, name={"full": "sentence_scorer", "no context": "scorer_without_context",
                                            "position": "position_scorer"}[variant])


def fit_scorer(cfg: Config, data: Data, variant: str, run=None):
    """Build, train (binary cross-entropy on the overlap targets) and return one scorer variant."""
    pick = lambda xs: [xs[k] for k in VARIANT_INPUTS[variant]]  # noqa: E731
    model = build_model(cfg, len(data.vocab), variant)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss="binary_crossentropy")
    callbacks = [*(run.callbacks() if run else []), training.early_stopping("val_loss", patience=2)]
    fit = model.fit(pick(data.train[0]), data.train[1], batch_size=cfg.batch_size, epochs=cfg.epochs,
                    validation_data=(pick(data.val[0]), data.val[1]), shuffle=True, verbose=0, callbacks=callbacks)
    return model, fit, pick


def train(cfg: Config, run) -> Trained:
    training.seed_everything(cfg.seed)
    data = load_data(cfg)
    run.log(f"  data: {len(data.train[1])} training / {len(data.val[1])} validation sentences from "
            f"{len(data.mined)} mined training chapters, vocabulary {len(data.vocab)}; {len(data.documents)} test "
            f"documents with retellings; TF-IDF centrality settings (dev) {data.tfidf}; from {data.source}")
    model, fit, _ = fit_scorer(cfg, data, "full", run)
    metrics, scored = evaluate(training.predict_fn(model), data, details=True)
    dev = rouge_scores(scorer_orders(training.predict_fn(model), data.vocab, data.max_len), data, *data.dev)
    metrics.update({f"dev_{m}rouge1": float(np.mean(dev[k])) for m, k in (("", "model"), ("lead_", "lead"),
                                                                          ("tfidf_", "tfidf"), ("oracle_", "oracle"))})
    metrics.update(evaluate_mined(training.predict_fn(model), data))
    if cfg.ablations:
        for variant in ("no context", "position"):
            training.seed_everything(cfg.seed)
            ablated, _, pick = fit_scorer(cfg, data, variant)
            predict = training.predict_fn(ablated)
            key = variant.replace(" ", "_")
            got = rouge_scores(scorer_orders(lambda xs: predict(pick(xs)), data.vocab, data.max_len), data,
                               data.documents, data.references, methods=("model",))
            scored[key] = got["model"]
            metrics[f"{key}_rouge1"] = float(np.mean(got["model"]))
            metrics[f"gain_of_full_over_{key}"], metrics[f"gain_of_full_over_{key}_ci_low"], _ = \
                paired_gain(scored["model"], got["model"], cfg.seed)
            in_domain = evaluate_mined(lambda xs: predict(pick(xs)), data)
            metrics[f"mined_test_{key}_rouge1"] = in_domain["mined_test_rouge1"]
    save_pictures(scored, model, data, run)
    summarize = summarizer(training.predict_fn(model), data.vocab, cfg.max_len)
    notes = [f"summarize({data.names[0].split(' ->')[0]}, 0.2): {summarize(' '.join(data.documents[0]), 0.2)[:400]}"]
    baselines = {name: {"rouge1": metrics[f"{key}_rouge1"]}
                 for name, key in (("lead", "lead"), ("random", "random"), ("tf-idf centrality", "tfidf"))}
    return Trained(exports={"model": model}, metrics=metrics, history=training.history_dict(fit), notes=notes,
                   baselines=baselines)


# --- summarise: score every sentence, keep the best, in order -----------------------------------------

def scorer_orders(predict, vocab: Vocabulary, max_len: int):
    """document sentences -> sentence indices, best first, by the scorer behind ``predict``."""
    def order(sents: list[str]) -> np.ndarray:
        scores = np.asarray(predict(sentence_inputs(sents, vocab, max_len))).reshape(-1)
        return np.argsort(-scores, kind="stable")

    return order


def summarizer(predict, vocab: Vocabulary, max_len: int):
    """``summarize(text, ratio)``: the ``ratio`` best sentences by the scorer, in document order."""
    order = scorer_orders(predict, vocab, max_len)

    def summarize(text: str, ratio: float = 0.6) -> str:
        if not 0.0 < ratio <= 1.0:
            raise ValueError(f"Invalid ratio {ratio!r}: expected a fraction of the sentences in (0, 1], e.g. 0.6.")
        sents = [s for s in sentences(text) if len(vocab.tokenize(s))]
        if not sents:
            return ""
        keep = order(sents)[:max(1, round(ratio * len(sents)))]
        return " ".join(sents[i] for i in sorted(keep))

    return summarize


# --- evaluate: ROUGE at the reference's length, against lead, TF-IDF centrality and random --------------

def rouge_scores(model_order, data: Data, documents, references,
                 methods=("model", "lead", "random", "tfidf", "oracle")) -> dict[str, list[float]]:
    """Per document, the ROUGE-1 recall of each method's summary, cut to the reference's length ("oracle": the
    ceiling, which reads the reference and takes the sentences with most overlap first)."""
    rng = np.random.default_rng(data.seed)
    tfidf = tfidf_orders(documents, **data.tfidf)
    scored = {m: [] for m in methods}
    for sents, ref in zip(documents, references):
        options = {"model": lambda: [model_order(sents)], "lead": lambda: [range(len(sents))],
                   "random": lambda: [rng.permutation(len(sents)) for _ in range(20)],
                   "tfidf": lambda: [tfidf(sents)],
                   "oracle": lambda: [np.argsort(-sentence_precision(sents, ref), kind="stable")]}
        for m in methods:
            scored[m].append(float(np.mean([rouge1_recall(sents, o, ref) for o in options[m]()])))
    return scored


def evaluate(predict, data: Data, details: bool = False):
    """Mean ROUGE-1 recall of the scorer and each baseline on the test retellings; gains with 95% intervals."""
    scored = rouge_scores(scorer_orders(predict, data.vocab, data.max_len), data, data.documents, data.references)
    metrics = {"rouge1": float(np.mean(scored["model"]))}
    for m in ("lead", "random", "tfidf"):
        metrics[f"{m}_rouge1"] = float(np.mean(scored[m]))
        metrics[f"gain_over_{m}"], metrics[f"gain_over_{m}_ci_low"], metrics[f"gain_over_{m}_ci_high"] = \
            paired_gain(scored["model"], scored[m], data.seed)
    metrics["rouge1_gain_over_best_baseline"] = metrics["rouge1"] - max(metrics[f"{m}_rouge1"]
                                                                        for m in ("lead", "random", "tfidf"))
    # the bar: the scorer beats *each* baseline with a 95% interval above zero - the lowest interval end
    metrics["rouge1_gain_over_best_baseline_ci_low"] = min(metrics[f"gain_over_{m}_ci_low"]
                                                           for m in ("lead", "random", "tfidf"))
    metrics["documents_beating_lead"] = float(np.sum(np.asarray(scored["model"]) > np.asarray(scored["lead"])))
    # where the reference content sits: is the document's best sentence (most overlap) at its start?
    metrics["oracle_rouge1"] = float(np.mean(scored["oracle"]))
    best = np.array([np.argmax(sentence_precision(s, r)) for s, r in zip(data.documents, data.references)])
    metrics["best_sentence_is_first"] = float(np.mean(best == 0))
    metrics["best_sentence_in_first_3"] = float(np.mean(best < 3))
    return (metrics, scored) if details else metrics


def evaluate_mined(predict, data: Data) -> dict[str, float]:
    """The same evaluation on the held-out *mined* chapters (references found by similarity, not by hand)."""
    mined = dataclasses.replace(data, tfidf=data.mined_tfidf)
    scored = rouge_scores(scorer_orders(predict, data.vocab, data.max_len), mined, *data.mined_test)
    metrics = {f"mined_test_{m}_rouge1": float(np.mean(scored[m])) for m in ("lead", "random", "tfidf", "oracle")}
    metrics["mined_test_rouge1"] = float(np.mean(scored["model"]))
    lows = [paired_gain(scored["model"], scored[m], data.seed)[1] for m in ("lead", "random", "tfidf")]
    metrics["mined_test_gain_over_lead_ci_low"], _, metrics["mined_test_gain_over_tfidf_ci_low"] = lows
    metrics["mined_test_rouge1_gain_over_best_baseline_ci_low"] = min(lows)
    best = np.array([np.argmax(sentence_precision(s, r)) for s, r in zip(*data.mined_test)])
    metrics["mined_test_best_sentence_is_first"] = float(np.mean(best == 0))
    metrics["mined_test_best_sentence_in_first_3"] = float(np.mean(best < 3))
    return metrics


def save_pictures(scored: dict, model: keras.Model, data: Data, run) -> None:
    plt = plots.pyplot()
    labels = {"model": "learned\nscorer", "lead": "lead", "random": "random", "tfidf": "TF-IDF\ncentrality",
              "no_context": "scorer\nw/o context", "position": "sentence\nfeatures only", "oracle": "oracle\n(ceiling)"}
    methods = [m for m in labels if m in scored]
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    means = [np.mean(scored[m]) for m in methods]
    ax.bar(np.arange(len(methods)), means, 0.6, color=["tab:red"] + ["tab:gray"] * (len(methods) - 1))
    for i, v in enumerate(means):
        ax.text(i, v + 0.005, f"{v:.3f}", ha="center", fontsize=8)
    ax.set_xticks(np.arange(len(methods)), [labels[m] for m in methods], fontsize=8)
    ax.set_ylabel("ROUGE-1 recall")
    ax.set_title(f"Summaries vs retellings ({len(data.documents)} chapters), as long as the reference")
    ax.set_ylim(0, max(means) * 1.25)
    run.save_figure(fig, "rouge_vs_baselines")
    sents = data.documents[0]
    scores = np.asarray(model.predict(sentence_inputs(sents, data.vocab, data.max_len), verbose=0)).reshape(-1)
    target = overlap_labels(sents, data.references[0])
    shown = min(len(sents), 24)
    fig, ax = plt.subplots(figsize=(11, 0.32 * shown + 0.8))
    ax.axis("off")
    top = set(np.argsort(-scores, kind="stable")[:max(1, len(sents) // 5)])
    for i in range(shown):
        ax.text(0, 1 - (i + 0.5) / shown, f"{scores[i]:.2f} {target[i]:.2f}  {sents[i][:125]}", fontsize=7,
                family="monospace", weight="bold" if i in top else "normal", color="tab:red" if i in top else "black",
                va="center")
    ax.set_title(f"{data.names[0]}: scorer's score, overlap with the retelling (0-1); red = kept at 0.2")
    run.save_figure(fig, "scores_example")
