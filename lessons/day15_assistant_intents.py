"""Day 15 - Virtual assistants: what did you ask for?

Seed 002: behind Google Assistant, Siri or Alexa, a question such as "What is my schedule
for tomorrow?" or "Show my upcoming flights" is first mapped to an *intent* - look up the
calendar, list the flights - before anything is done about it. That first step is a text
classifier, and this lesson builds one for ten intents.

The utterances are generated from templates and slot values (``dlbootcamp.worlds.utterances``),
the way assistant data is bootstrapped in practice. Whole templates are held out: the test
set is made of *phrasings the model never saw* ("Put me through to {person}"), filled with
slot values it knows. Validation templates are held out too, so early stopping also rewards
generalising to new phrasings rather than remembering old ones.

The model, text -> intent:

1. **tokenise** (outside the model): ``keras.layers.TextVectorization`` lower-cases the text,
   keeps its words and turns each into an id from a vocabulary learnt on the training
   sentences; a word it never saw becomes ``<unk>`` (id 1);
2. **embed** each id as a vector; **convolve** over windows of three words ("wake me up",
   "call me back"), **max-pool** over the sentence (did any window look like a phrase of
   this intent?), and read the ten intent probabilities.

Held-out phrasings are full of words the model never saw. *Word dropout* prepares it: in
training, words are replaced by ``<unk>`` at random, so no single word is relied on.

On a device. String ops are not TFLite ops, so tokenisation is not in the exported graph:
the model takes int32 ids, and the vocabulary ships in the artifact's sidecar as a
``dlbootcamp.text`` vocabulary, whose NumPy-only tokeniser is the same rule written for a host:

    vocab = text.Vocabulary.from_dict(sidecar["vocabulary"])
    ids = vocab.encode_batch([utterance], sidecar["sequence_length"])     # (1, 16) int32
    intent = sidecar["labels"][int(model(ids).argmax())]

``standardize`` below gives TextVectorization exactly that rule as TensorFlow string ops,
so Keras and the device produce the same ids; a test checks that on every sentence.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from dlbootcamp import data as datasets
from dlbootcamp import plots, text, training
from dlbootcamp.worlds import utterances
from dlbootcamp.lesson import Bar, LessonInfo, Trained

LESSON = LessonInfo(
    id="assistant-intents",
    day=15,
    title="Virtual assistants: intent classification on phrasings never seen in training",
    seeds=("002",),
    topics=("intent classification", "templates and slots", "held-out templates", "TextVectorization",
            "tokenisation outside the graph", "word dropout", "confusion matrix"),
    summary=("'What is my schedule for tomorrow?' -> get_schedule: a word-convolution classifier over ten "
             "assistant intents, tested on whole templates it never saw; TextVectorization runs outside the "
             "exported model and its vocabulary ships in the sidecar."),
    bars=(Bar("test_accuracy", ">=", 0.90),),
    quantized_tolerance=0.01,
    baselines=("tf-idf logistic regression",),
    resumable=True,  # one model.fit with run.callbacks(): --resume continues it
)


@dataclasses.dataclass(frozen=True)
class Config:
    per_template: int = 20  # sentences generated per template (fewer when its slots allow fewer)
    val_templates: int = 3  # whole templates per intent held out for early stopping
    test_templates: int = 5  # whole templates per intent held out for the final score
    embed: int = 64  # width of a word vector
    filters: int = 128  # phrase detectors: convolution filters over 3-word windows
    dropout: float = 0.3  # on the pooled sentence vector
    word_dropout: float = 0.35  # chance a training word is replaced by <unk>
    copies: int = 4  # each training sentence is seen this many times per epoch, differently dropped
    epochs: int = 30  # passes (early stopping on held-out-template validation accuracy)
    batch_size: int = 32
    learning_rate: float = 1e-3  # Adam
    seed: int = 0  # which templates are held out, slot values, word dropout, initial weights

    @classmethod
    def quick(cls) -> "Config":
        return cls(per_template=3, embed=16, filters=16, copies=2, epochs=4)


# --- data: templates held out whole ---------------------------------------------------------------

SEQUENCE_LENGTH = 16  # ids per sentence, padded with 0 at the end (the generator's longest has 14 words)


def standardize(texts: tf.Tensor) -> tf.Tensor:
    """``dlbootcamp.text.words`` as TensorFlow string ops: lower-case, then keep each word
    (letters with an optional apostrophe part) followed by a space, and turn anything else
    into a space. "I'm up at 6:30!" -> "i'm up at ". Splitting on whitespace then gives the
    very words the NumPy tokeniser finds."""
    lower = tf.strings.lower(texts, encoding="utf-8")
    return tf.strings.regex_replace(lower, f"({text.WORD_PATTERN})|.", r"\1 ")


def vectorizer(train_texts) -> keras.layers.TextVectorization:
    """A TextVectorization layer whose vocabulary is learnt from the training sentences only."""
    layer = keras.layers.TextVectorization(standardize=standardize, split="whitespace",
                                           output_sequence_length=SEQUENCE_LENGTH, name="tokenizer")
    layer.adapt(tf.constant(list(train_texts)))
    return layer


@dataclasses.dataclass(frozen=True)
class IntentSplits(datasets.Splits):
    """x: token ids (N, SEQUENCE_LENGTH) int32; y: intent index into ``labels``."""

    texts: dict = dataclasses.field(default_factory=dict)  # split -> utterances.Utterances
    vocabulary: text.Vocabulary | None = None  # the tokenizer's vocabulary, as the device reads it


def load_data(cfg: Config) -> IntentSplits:
    said = utterances.generate(per_template=cfg.per_template, seed=cfg.seed, val=cfg.val_templates,
                               test=cfg.test_templates)
    tokenizer = vectorizer(said["train"].texts)
    # TextVectorization says "" and "[UNK]" for ids 0 and 1; a text.Vocabulary says <pad> and <unk>.
    vocabulary = text.Vocabulary(tokenizer.get_vocabulary()[2:], "word")

    def split(u: utterances.Utterances) -> datasets.Split:
        ids = tokenizer(tf.constant(list(u.texts))).numpy().astype(np.int32)
        return datasets.Split(ids, np.asarray(u.intents, np.int64))

    return IntentSplits(split(said["train"]), split(said["val"]), split(said["test"]), labels=utterances.LABELS,
                        source=f"dlbootcamp.worlds.utterances (seed {cfg.seed})", texts=said, vocabulary=vocabulary)


def validation_view(data: IntentSplits) -> IntentSplits:
    """The same splits with the validation templates in the test slot (for choices made on validation,
    such as which layers an int8 export keeps in float): ``evaluate`` reads the texts too."""
    return dataclasses.replace(data, test=data.val, texts={**data.texts, "test": data.texts["val"]})


def representative_data(data: IntentSplits, n: int = 200, split: str = "train"):
    """Token ids from a split: train calibrates int8, test feeds the export parity check."""
    return getattr(data, split).x[:n]


def sidecar(data: IntentSplits) -> dict:
    """Labels, the vocabulary and the sequence length: all a device needs around the graph."""
    return {"labels": list(data.labels), "vocabulary": data.vocabulary.to_dict(),
            "sequence_length": SEQUENCE_LENGTH,
            "preprocessing": (f"text -> int32 ids with the sidecar vocabulary (dlbootcamp.text.Vocabulary."
                              f"encode_batch): lower-cased words, unknown words 1, padded with 0 to "
                              f"{SEQUENCE_LENGTH}")}


def drop_words(ids: np.ndarray, rate: float, copies: int, rng: np.random.Generator) -> np.ndarray:
    """``copies`` copies of ``ids`` in which each word became <unk> (1) with probability ``rate``."""
    many = np.concatenate([ids] * copies)
    dropped = (rng.random(many.shape) < rate) & (many > 1)
    return np.where(dropped, 1, many).astype(np.int32)


# --- model: words -> phrases -> intent --------------------------------------------------------------

def build_model(cfg: Config, vocab_size: int = 1000) -> keras.Model:
    """Token ids -> intent probabilities. ``vocab_size``: the tokenizer's (train passes it)."""
    ids = keras.Input((SEQUENCE_LENGTH,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(vocab_size, cfg.embed, name="word_vectors")(ids)
    x = keras.layers.Conv1D(cfg.filters, 3, padding="same", activation="relu", name="phrases")(x)
    x = keras.layers.GlobalMaxPooling1D(name="strongest_phrase")(x)
    x = keras.layers.Dropout(cfg.dropout, seed=cfg.seed, name="dropout")(x)
    probs = keras.layers.Dense(len(utterances.LABELS), activation="softmax", name="probs")(x)
    return keras.Model(ids, probs, name="intent_classifier")


# --- train ---------------------------------------------------------------------------------------

def train(cfg: Config, run) -> Trained:
    training.seed_everything(cfg.seed)
    data = load_data(cfg)
    run.log(f"  data: {data.sizes()} sentences from {data.source}; vocabulary {len(data.vocabulary)} words; "
            f"e.g. {data.texts['train'].texts[0]!r}")
    model = build_model(cfg, len(data.vocabulary))
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    x = drop_words(data.train.x, cfg.word_dropout, cfg.copies, np.random.default_rng(cfg.seed))
    y = np.concatenate([data.train.y] * cfg.copies)
    fit = model.fit(x, y, validation_data=(data.val.x, data.val.y), epochs=cfg.epochs, batch_size=cfg.batch_size,
                    verbose=0, callbacks=[*run.callbacks(), training.early_stopping("val_accuracy", patience=5)])
    metrics = evaluate(training.predict_fn(model), data)
    notes = save_pictures(model, data, run)
    baselines = {"tf-idf logistic regression": bag_of_words_baseline(data, run.log)}
    return Trained(exports={"model": model}, metrics=metrics, history=training.history_dict(fit), notes=notes,
                   baselines=baselines)


def bag_of_words_baseline(data: IntentSplits, log) -> dict[str, float]:
    """What a practitioner tries first on short texts: TF-IDF of words and word pairs, then logistic
    regression; the same tokeniser rule, the same held-out templates, C chosen on validation."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from dlbootcamp.baselines import tune

    xy = {s: (list(data.texts[s].texts), getattr(data, s).y) for s in ("train", "val", "test")}
    best = tune(lambda c: make_pipeline(TfidfVectorizer(token_pattern=text.WORD_PATTERN, ngram_range=(1, 2),
                                                        sublinear_tf=True),
                                        LogisticRegression(C=c, max_iter=3000)),
                (0.1, 1.0, 10.0, 100.0), xy["train"], xy["val"])
    log(f"  tf-idf logistic regression: C = {best.params:g} chosen on validation (accuracy {best.val_score:.4f})")
    return {"val_accuracy": best.val_score, "test_accuracy": float(best.model.score(*xy["test"]))}


# --- evaluate: the same code scores Keras, TFLite and ONNX ------------------------------------------------

def evaluate(predict, data: IntentSplits) -> dict[str, float]:
    """Accuracy on sentences from held-out templates, and the share of those templates mostly right."""
    guess = np.asarray(predict(data.test.x)).argmax(-1)
    right = guess == data.test.y
    templates = np.asarray(data.texts["test"].templates)
    mostly = [right[templates == t].mean() > 0.5 for t in np.unique(templates)]
    return {"test_accuracy": float(right.mean()), "test_templates_mostly_right": float(np.mean(mostly))}


def save_pictures(model: keras.Model, data: IntentSplits, run) -> list[str]:
    from sklearn.metrics import ConfusionMatrixDisplay

    guess = model.predict(data.test.x, verbose=0).argmax(-1)
    plt = plots.pyplot()
    fig, ax = plt.subplots(figsize=(8, 7))
    ConfusionMatrixDisplay.from_predictions(data.test.y, guess, labels=range(len(data.labels)),
                                            display_labels=list(data.labels), ax=ax, xticks_rotation=60,
                                            colorbar=False)
    ax.set_title("Held-out templates: true intent (rows) vs predicted")
    fig.tight_layout()
    run.save_figure(fig, "confusion_matrix")
    # Which held-out phrasings does it miss? One bar per template, worst first.
    said = data.texts["test"]
    intent_of = dict(zip(said.templates, said.intents))
    templates = np.asarray(said.templates)
    scores = {t: float(np.mean(guess[templates == t] == data.test.y[templates == t])) for t in intent_of}
    worst = sorted(scores, key=scores.get)[:12]
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(worst) + 1.2))
    ax.barh([f"{t} ({data.labels[intent_of[t]]})" for t in worst], [scores[t] for t in worst], color="tab:orange")
    for y, t in enumerate(worst):  # a score of 0 draws no bar: say it, so no label stands alone
        if scores[t] == 0:
            ax.text(0.01, y, "0 (none right)", va="center", fontsize=8, color="tab:red")
    zero = sum(v == 0 for v in scores.values())
    ax.set(xlim=(0, 1), title="Hardest held-out templates",
           xlabel="accuracy on its sentences" + (f"\n{zero} of {len(scores)} templates score 0" if zero else ""))
    ax.invert_yaxis()
    fig.tight_layout()
    run.save_figure(fig, "hardest_templates")
    missed = [t for t in worst if scores[t] < 0.5]
    return ([f"held-out templates mostly missed: {sum(v < 0.5 for v in scores.values())} of {len(scores)}"]
            + [f"missed: {t!r} ({data.labels[intent_of[t]]})" for t in missed[:6]])
