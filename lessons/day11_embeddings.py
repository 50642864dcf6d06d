"""Day 11 - Word embeddings: "man is to woman as king is to queen".

Seed 004: embed words as vectors, then play analogies - ``king - man + woman`` lands near
``queen``, "walking" is to "walked" as "swimming" is to "swam". Nobody tells the model what a
king is; it only sees which words keep company with which (Mikolov et al. 2013, word2vec).

We train **skip-gram with negative sampling** on the King James Bible (Debian ``bible-kjv``):

- every word (the *target*) is paired with the words around it (its *context*, a window of
  1..``window`` words each side, drawn anew per word) - those pairs are labelled 1;
- each true pair gets ``negatives`` random words drawn from the unigram distribution
  raised to 3/4 - labelled 0;
- very frequent words ("the", "and") are dropped at random before pairing (subsampling);
- the model is two embedding tables and a dot product: ``sigmoid(target . context)``
  should say whether the pair is real.

The pairs are drawn by a seeded NumPy sampler in the host program, fresh every epoch.

The baseline is the count-based method word2vec is usually compared with: count which words
appear within the same window, weight the counts by positive pointwise mutual information,
and compress the table with a truncated SVD to vectors of the same length (Levy, Goldberg and
Dagan 2015 showed that, tuned alike, the two are close). Same chapters, same window, no
training loop; its analogy scores sit beside the network's in docs/lessons.md.
Validation chapters (never trained on) give a validation loss; the embeddings are judged
with analogies we wrote down (family/gender, singular/plural, verb forms), each asked only
when all four words are in the vocabulary: the answer must be among the 5 nearest words to
``b - a + c`` (the three question words excluded). The exported model is the lookup
token id -> vector (an integer input); the vocabulary travels in its sidecar, so a device
turns words into ids with ``dlbootcamp/text.py`` and NumPy only::

    vocab = Vocabulary.from_dict(device_bench.read_sidecar("model.int8.tflite")["vocabulary"])
    vectors = device_bench.open_artifact("model.int8.tflite").predict(vocab.encode("king queen"))
"""

from __future__ import annotations

import dataclasses
import itertools

import keras
import numpy as np

from dlbootcamp.data import corpus
from dlbootcamp import plots, training
from dlbootcamp.lesson import Bar, LessonInfo, Trained
from dlbootcamp.text import Vocabulary

LESSON = LessonInfo(
    id="embeddings",
    day=11,
    title="Word embeddings: skip-gram with negative sampling and word analogies",
    seeds=("004",),
    datasets=("kjv",),
    topics=("word embeddings", "skip-gram", "negative sampling", "subsampling", "analogies",
            "nearest neighbours", "PCA projection"),
    summary=("Skip-gram with negative sampling on the King James Bible; man:woman::king:queen analogies "
             "(family/gender, plural, verb forms), a nearest-neighbour table and a 2-D projection."),
    bars=(Bar("family_gender_top5", ">=", 0.25),),
    quantized_tolerance=0.05,
    baselines=("PPMI + SVD",),
    resumable=True,  # one model.fit with run.callbacks(): --resume continues it
)

# Analogy pairs we wrote down; a question a:b :: c:d is made from every two pairs of a section.
ANALOGIES = {
    "family_gender": [("man", "woman"), ("king", "queen"), ("father", "mother"), ("son", "daughter"),
                      ("brother", "sister"), ("husband", "wife"), ("sons", "daughters"), ("men", "women"),
                      ("he", "she"), ("his", "her"), ("fathers", "mothers"), ("male", "female"),
                      ("manservant", "maidservant"), ("bridegroom", "bride"), ("uncle", "aunt"),
                      ("prince", "princess"), ("kings", "queens"), ("lord", "lady")],
    "singular_plural": [("man", "men"), ("woman", "women"), ("king", "kings"), ("son", "sons"),
                        ("daughter", "daughters"), ("father", "fathers"), ("city", "cities"), ("house", "houses"),
                        ("day", "days"), ("year", "years"), ("hand", "hands"), ("eye", "eyes"),
                        ("child", "children"), ("servant", "servants"), ("nation", "nations"),
                        ("priest", "priests"), ("prophet", "prophets"), ("tree", "trees"), ("horse", "horses"),
                        ("enemy", "enemies"), ("gate", "gates"), ("altar", "altars"), ("tribe", "tribes"),
                        ("god", "gods"), ("ox", "oxen"), ("foot", "feet")],
    "verb_forms": [("go", "went"), ("come", "came"), ("say", "said"), ("give", "gave"), ("take", "took"),
                   ("see", "saw"), ("know", "knew"), ("speak", "spake"), ("make", "made"), ("hear", "heard"),
                   ("bring", "brought"), ("build", "built"), ("die", "died"), ("call", "called"),
                   ("send", "sent"), ("find", "found"), ("rise", "rose"), ("sit", "sat"), ("stand", "stood"),
                   ("write", "wrote"), ("smite", "smote"), ("flee", "fled"), ("dwell", "dwelt"),
                   ("keep", "kept"), ("tell", "told"), ("slay", "slew"), ("walk", "walked")],
}
PROBES = ("king", "god", "jerusalem", "water", "father", "sword", "gold", "egypt", "love", "sin")


@dataclasses.dataclass(frozen=True)
class Config:
    dim: int = 100  # length of a word vector
    vocab_size: int = 6000  # the most frequent words (with padding and unknown); the rest -> unknown
    min_count: int = 5  # words seen fewer times than this stay out of the vocabulary
    window: int = 4  # at most this many context words each side (drawn 1..window per word)
    negatives: int = 5  # random "wrong" context words per true pair
    subsample: float = 1e-4  # Mikolov's t: a word of frequency f is kept with prob sqrt(t/f) + t/f
    epochs: int = 3  # each epoch draws fresh subsampling, windows and negatives
    batch_size: int = 1024
    learning_rate: float = 3e-3  # Adam
    seed: int = 0  # chapter split, sampler, initial weights
    chapters: int = 0  # 0 = all training chapters; the quick preset uses a few

    @classmethod
    def quick(cls) -> "Config":
        return cls(dim=16, vocab_size=500, min_count=2, epochs=1, chapters=40)


# --- data: words -> ids, outside any graph -----------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Data:
    vocab: Vocabulary
    train: list[np.ndarray]  # word ids, one array per training chapter
    val: list[np.ndarray]  # word ids of the validation chapters (validation loss only)
    source: str


def load_data(cfg: Config) -> Data:
    """KJV chapters split 80/10/10 by the seed; the vocabulary comes from training chapters only."""
    splits = corpus.kjv(seed=cfg.seed)
    train = splits.train[:cfg.chapters] if cfg.chapters else splits.train
    vocab = Vocabulary.build((c.text for c in train), "word", max_size=cfg.vocab_size, min_count=cfg.min_count)
    return Data(vocab, [vocab.encode(c.text) for c in train], [vocab.encode(c.text) for c in splits.val],
                splits.source)


def sidecar(data: Data) -> dict:
    return {"vocabulary": data.vocab.to_dict(),
            "preprocessing": "text -> lower-cased words (vocabulary.pattern) -> int32 ids via vocabulary.tokens "
                             "(unknown words -> 1); feed one id per row as token_id; the output row is its vector"}


def representative_data(data: Data, n: int = 200, split: str = "train"):
    """Token ids: the most frequent words for calibration, a spread of ids for the parity check."""
    ids = np.arange(2, len(data.vocab), dtype=np.int32)
    return ids[:n] if split == "train" else ids[np.linspace(0, len(ids) - 1, n).astype(int)]


# --- the sampler: (target, context + negatives) pairs, seeded ------------------------------------

def skipgram_pairs(chapters, counts: np.ndarray, cfg: Config, rng: np.random.Generator):
    """Targets (n,), contexts (n, 1 + negatives) with the true context first, labels (n, 1 + negatives)."""
    ratio = cfg.subsample / np.maximum(counts / counts.sum(), 1e-12)  # t / f
    keep_p = np.minimum(1.0, np.sqrt(ratio) + ratio)
    targets, contexts = [], []
    for ids in chapters:
        ids = ids[(ids > 1) & (rng.random(len(ids)) < keep_p[ids])]
        reach = rng.integers(1, cfg.window + 1, size=len(ids))  # per-word window
        for offset in range(1, cfg.window + 1):
            near = np.flatnonzero(reach[:len(ids) - offset] >= offset)
            targets += [ids[near], ids[near + offset]]
            contexts += [ids[near + offset], ids[near]]
    targets, contexts = np.concatenate(targets), np.concatenate(contexts)
    noise = counts ** 0.75
    noise[:2] = 0
    negatives = rng.choice(len(counts), size=(len(targets), cfg.negatives), p=noise / noise.sum())
    order = rng.permutation(len(targets))
    ctx = np.concatenate([contexts[:, None], negatives], axis=1).astype(np.int32)
    labels = np.zeros(ctx.shape, np.float32)
    labels[:, 0] = 1.0
    return targets[order].astype(np.int32), ctx[order], labels


# --- model: two tables and a dot product --------------------------------------------------------

def build_model(cfg: Config) -> keras.Model:
    target = keras.Input((), dtype="int32", name="target")
    context = keras.Input((cfg.negatives + 1,), dtype="int32", name="context")
    t = keras.layers.Embedding(cfg.vocab_size, cfg.dim, name="word_vectors")(target)
    c = keras.layers.Embedding(cfg.vocab_size, cfg.dim, name="context_vectors")(context)
    logits = keras.layers.Dot(axes=(1, 2), name="pair_logits")([t, c])  # (batch, 1 + negatives)
    return keras.Model([target, context], logits, name="skipgram")


def lookup_model(model: keras.Model) -> keras.Model:
    """What a device needs: token id -> word vector (the trained target table)."""
    token = keras.Input((), dtype="int32", name="token_id")
    vector = model.get_layer("word_vectors")(token)
    return keras.Model(token, keras.layers.Identity(name="vector")(vector), name="word_vectors")


def train(cfg: Config, run) -> Trained:
    training.seed_everything(cfg.seed)
    data = load_data(cfg)
    counts = np.bincount(np.concatenate(data.train), minlength=len(data.vocab)).astype(np.float64)
    run.log(f"  data: {len(data.train)} training chapters, {int(counts.sum())} words, "
            f"vocabulary {len(data.vocab)} from {data.source}")
    cfg = dataclasses.replace(cfg, vocab_size=len(data.vocab))
    # fresh pairs every epoch (subsampling and window sizes are drawn again), a fixed number of batches
    batches = training.fresh_batches(lambda rng: skipgram_pairs(data.train, counts, cfg, rng), cfg.batch_size, cfg.seed)
    vt, vc, vy = skipgram_pairs(data.val, counts, cfg, np.random.default_rng(cfg.seed + 7))
    run.log(f"  {len(batches.arrays[-1])} training pairs per epoch, {len(vt)} validation pairs")
    model = build_model(cfg)
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True))
    fit = model.fit(batches, validation_data=((vt, vc), vy), validation_batch_size=8192, epochs=cfg.epochs,
                    verbose=0, callbacks=[*run.callbacks(), training.early_stopping("val_loss", patience=2)])
    lookup = lookup_model(model)
    metrics = evaluate(training.predict_fn(lookup, batch_size=8192), data)
    vectors = lookup.predict(np.arange(len(data.vocab), dtype=np.int32), verbose=0)
    notes = [f"{w:>10}: {', '.join(ns)}" for w, ns in neighbours(vectors, data.vocab).items()]
    save_pictures(vectors, data.vocab, metrics, run)
    from dlbootcamp.baselines import ppmi_svd_vectors

    counted = ppmi_svd_vectors(data.train, len(data.vocab), cfg.window, cfg.dim, seed=cfg.seed)
    return Trained(exports={"model": lookup}, metrics=metrics, history=training.history_dict(fit),
                   notes=["nearest neighbours (cosine):", *notes],
                   baselines={"PPMI + SVD": evaluate(lambda ids: counted[ids], data)})


# --- evaluate: analogies from the vectors any runtime returns --------------------------------------

def unit_vectors(predict, vocab: Vocabulary) -> np.ndarray:
    v = np.asarray(predict(np.arange(len(vocab), dtype=np.int32)), np.float32)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-8)


def analogy_questions(vocab: Vocabulary, pairs) -> list[tuple[str, str, str, str]]:
    pairs = [p for p in pairs if p[0] in vocab and p[1] in vocab]
    return [(a, b, c, d) for (a, b), (c, d) in itertools.permutations(pairs, 2)]


def evaluate(predict, data: Data, k: int = 5) -> dict[str, float]:
    """Top-k analogy accuracy per section (3CosAdd: nearest to b - a + c, question words excluded)."""
    unit = unit_vectors(predict, data.vocab)
    unit[:2] = 0  # padding and unknown are never answers
    metrics = {}
    for section, pairs in ANALOGIES.items():
        questions = analogy_questions(data.vocab, pairs)
        ids = np.array([[data.vocab.index[w] for w in q] for q in questions], dtype=int).reshape(-1, 4)
        scores = (unit[ids[:, 1]] - unit[ids[:, 0]] + unit[ids[:, 2]]) @ unit.T
        np.put_along_axis(scores, ids[:, :3], -np.inf, axis=1)
        top = np.argsort(-scores, axis=1)[:, :k]
        metrics[f"{section}_top{k}"] = float(np.mean(np.any(top == ids[:, 3:], axis=1))) if len(ids) else 0.0
        metrics[f"{section}_questions"] = float(len(ids))
    return metrics


def neighbours(vectors: np.ndarray, vocab: Vocabulary, words=PROBES, k: int = 6) -> dict[str, list[str]]:
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-8)
    out = {}
    for w in (w for w in words if w in vocab):
        sims = unit @ unit[vocab.index[w]]
        sims[[0, 1, vocab.index[w]]] = -np.inf
        out[w] = [vocab.tokens[i] for i in np.argsort(-sims)[:k]]
    return out


def save_pictures(vectors: np.ndarray, vocab: Vocabulary, metrics: dict, run) -> None:
    from sklearn.decomposition import PCA

    plt = plots.pyplot()
    table = neighbours(vectors, vocab)
    if table:
        fig, ax = plt.subplots(figsize=(10, 0.4 * len(table) + 0.8))
        ax.axis("off")
        ax.table(cellText=[[w, *ns] for w, ns in table.items()], colLabels=["word", *[f"#{i + 1}" for i in range(6)]],
                 loc="center", cellLoc="left").scale(1, 1.3)
        ax.set_title("Nearest neighbours by cosine similarity")
        run.save_figure(fig, "nearest_neighbours")
    pairs = [p for p in ANALOGIES["family_gender"] if p[0] in vocab and p[1] in vocab]
    if len(pairs) >= 2:
        ids = [vocab.index[w] for p in pairs for w in p]
        xy = PCA(2, random_state=0).fit_transform(vectors[ids])
        fig, ax = plt.subplots(figsize=(7, 6))
        for i, (a, b) in enumerate(pairs):
            (x0, y0), (x1, y1) = xy[2 * i], xy[2 * i + 1]
            ax.annotate("", (x1, y1), (x0, y0), arrowprops={"arrowstyle": "->", "color": "tab:gray", "alpha": 0.6})
            ax.text(x0, y0, a, color="tab:blue")
            ax.text(x1, y1, b, color="tab:red")
        ax.scatter(xy[:, 0], xy[:, 1], s=6, color="k")
        ax.set_title(f"Family/gender pairs, PCA to 2-D (top-5 analogy accuracy "
                     f"{metrics['family_gender_top5']:.2f})")
        run.save_figure(fig, "projection_2d")
