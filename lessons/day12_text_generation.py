"""Day 12 - Text generation: a character-level language model with temperature sampling.

Seed 004: networks can *synthesise* text. The simplest honest version is a language model:
read text one character at a time and, at every step, give a probability to each possible
next character. Trained on the King James Bible (Debian ``bible-kjv``), a GRU learns
spelling, then words, then the cadence of "And it came to pass...".

How good is it? **Bits per character** on chapters it never saw (the corpus is split by
whole chapter: 80% train, 10% validation for early stopping, 10% test): the average of
``-log2 p(next character)``. Guessing uniformly among the 65 characters costs 6 bits; a
good English model, far less. Bar: <= 2.2 bits, measured with the exported step model on 32
test passages of 256 characters read one at a time (``test_bits_per_char``); the sequence
model also scores every test character (``test_bits_per_char_all``).

The baseline is the language model of the 1990s: a character n-gram that counts what
followed each context of the last few characters in the training text, smoothed by
interpolating each order with the one below (its order and smoothing chosen on validation
passages), scored on the same test passages. Count how it fares against the GRU in
docs/lessons.md before believing that a network must win: a few minutes of CPU training buys
a GRU far less than it needs to beat counting over three million characters, while the n-gram
cannot generalise past the contexts it has seen, has no state to carry, and grows with its
order (a 5-gram table holds hundreds of thousands of contexts, the GRU a few hundred thousand
weights).

Generation runs one character at a time: feed a character and the recurrent state, get
logits for the next character and the new state, pick one with **temperature** ``T``
(``softmax(logits / T)``: low T = safe and repetitive, high T = adventurous and misspelt),
feed it back. So the exported model is that *single step* - char id + state in, logits +
state out, batch 1 - and the loop, the sampler and the vocabulary (in the sidecar) live in
the host program, on a phone as well as here. Same model, same seed: same text. On a
device, with ``device_bench.py`` and ``text.py`` copied next to the artifact::

    meta = device_bench.read_sidecar("model.fp32.tflite")
    vocab, runner = Vocabulary.from_dict(meta["vocabulary"]), device_bench.open_artifact("model.fp32.tflite")
    state = np.zeros((1, meta["state_size"]), np.float32)
    # per character: feed {"char_id": [[id]], "state": state} in runner.inputs order; read "logits" and
    # "next_state" by runner.outputs names; sample the next id and feed it back (see ``generate``)
"""

from __future__ import annotations

import dataclasses
import math
import textwrap

import keras
import numpy as np

from dlbootcamp.data import corpus
from dlbootcamp import plots, training
from dlbootcamp import data as datasets
from dlbootcamp.lesson import Bar, LessonInfo, Trained
from dlbootcamp.text import Vocabulary

LESSON = LessonInfo(
    id="text-generation",
    day=12,
    title="Text generation: a character-level GRU language model and temperature sampling",
    seeds=("004",),
    datasets=("kjv",),
    topics=("language model", "characters as tokens", "GRU", "bits per character", "temperature sampling",
            "stateful step model"),
    summary=("A character-level GRU trained on the King James Bible; bits per character on held-out chapters, "
             "samples at several temperatures, and a single-step model that generates text on a device."),
    bars=(Bar("test_bits_per_char", "<=", 2.2),),
    quantized_tolerance=0.1,
    baselines=("character n-gram",),
    resumable=True,  # one model.fit with run.callbacks(): --resume continues it
)


@dataclasses.dataclass(frozen=True)
class Config:
    units: int = 256  # GRU state size
    embed_dim: int = 32  # length of a character's vector
    seq_len: int = 100  # characters per training window (the GRU is unrolled over them)
    epochs: int = 3  # rounds of `steps` batches, each followed by validation (early stopping)
    steps: int = 125  # batches per round, drawn from the shuffled windows of the training text
    batch_size: int = 64
    learning_rate: float = 3e-3  # Adam
    seed: int = 0  # chapter split, weights, shuffling
    chapters: int = 0  # 0 = all training chapters; the quick preset uses a few
    eval_streams: int = 32  # held-out passages scored with the step model, in parallel
    eval_chars: int = 256  # characters per passage

    @classmethod
    def quick(cls) -> "Config":
        return cls(units=32, embed_dim=8, seq_len=40, epochs=1, steps=20, chapters=20, eval_streams=4, eval_chars=48)


# --- data: characters -> ids, outside the graph -------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Data:
    vocab: Vocabulary
    train: np.ndarray  # char ids of the training chapters, verses separated by "\n"
    val: np.ndarray  # validation chapters (early stopping)
    test: np.ndarray  # test chapters (the score)
    units: int  # the step model's state size (representative inputs need it)
    eval_streams: int
    eval_chars: int
    source: str


def load_data(cfg: Config) -> Data:
    """KJV chapters split 80/10/10 by the seed; the character set comes from training text only."""
    splits = corpus.kjv(seed=cfg.seed)
    if cfg.chapters:
        splits = dataclasses.replace(splits, train=splits.train[:cfg.chapters], val=splits.val[:cfg.chapters // 4],
                                     test=splits.test[:cfg.chapters // 4])
    vocab = Vocabulary.build([splits.text("train")], "char")
    return Data(vocab, *(vocab.encode(splits.text(s)) for s in ("train", "val", "test")),
                cfg.units, cfg.eval_streams, cfg.eval_chars, splits.source)


def windows(ids: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Non-overlapping windows: inputs ids[i:i+L], targets shifted by one character."""
    n = (len(ids) - 1) // length
    x = ids[:n * length].reshape(n, length)
    y = ids[1:n * length + 1].reshape(n, length)
    return x, y


def sidecar(data: Data) -> dict:
    return {"vocabulary": data.vocab.to_dict(), "state_size": data.units,
            "preprocessing": "text -> characters -> int32 ids via vocabulary.tokens (unknown -> 1). Start with "
                             "state = zeros(1, state_size); each step feed char_id (1, 1) and state (1, state_size), "
                             "read logits (1, vocabulary size) and next_state; sample the next id from "
                             "softmax(logits / temperature) and feed it back with next_state."}


def representative_data(data: Data, n: int = 200, split: str = "train"):
    """[char ids (n, 1), states (n, units)]: characters of the split, states uniform in the GRU's range (-1, 1)."""
    rng = np.random.default_rng(1 if split == "train" else 2)
    ids = getattr(data, split)
    chars = ids[rng.integers(0, len(ids), n)].reshape(n, 1).astype(np.int32)
    return [chars, rng.uniform(-1, 1, (n, data.units)).astype(np.float32)]


# --- model: one GRU over the sequence; the same weights as a single step ----------------------------

def build_model(cfg: Config, vocab_size: int = 64) -> keras.Model:
    chars = keras.Input((None,), dtype="int32", name="chars")
    x = keras.layers.Embedding(vocab_size, cfg.embed_dim, name="char_embedding")(chars)
    x = keras.layers.GRU(cfg.units, return_sequences=True, name="gru")(x)
    return keras.Model(chars, keras.layers.Dense(vocab_size, name="logits")(x), name="char_gru")


def step_model(model: keras.Model) -> keras.Model:
    """Batch 1, one character: (char_id, state) -> (logits, next_state), sharing the trained weights."""
    embedding, gru, dense = (model.get_layer(n) for n in ("char_embedding", "gru", "logits"))
    char_id = keras.Input((1,), batch_size=1, dtype="int32", name="char_id")
    state = keras.Input((gru.units,), batch_size=1, name="state")
    x = keras.layers.Embedding(embedding.input_dim, embedding.output_dim, name="char_embedding")(char_id)
    out, h = keras.layers.GRU(gru.units, return_state=True, unroll=True, name="gru")(x, initial_state=state)
    logits = keras.layers.Dense(dense.units, name="logits")(out)
    step = keras.Model([char_id, state], [logits, keras.layers.Identity(name="next_state")(h)], name="char_gru_step")
    for layer in (embedding, gru, dense):
        step.get_layer(layer.name).set_weights(layer.get_weights())
    return step


def keras_step(step: keras.Model):
    """A fast NumPy-in/NumPy-out call of the step model (model.predict is slow for one character)."""
    return lambda xs: [np.asarray(o) for o in step(xs, training=False)]


def train(cfg: Config, run) -> Trained:
    training.seed_everything(cfg.seed)
    data = load_data(cfg)
    run.log(f"  data: {len(data.train)} training / {len(data.val)} validation / {len(data.test)} test characters, "
            f"{len(data.vocab)} symbols, from {data.source}")
    model = build_model(cfg, len(data.vocab))
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate, clipnorm=1.0),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = windows(data.train, cfg.seq_len)
    batches = datasets.batches(x, y, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed).repeat()
    vx, vy = windows(data.val, cfg.seq_len)
    every = max(1, len(vx) // 1000)  # 1000 validation windows spread over the validation chapters
    fit = model.fit(batches, validation_data=datasets.batches(vx[::every], vy[::every], batch_size=256),
                    epochs=cfg.epochs, steps_per_epoch=cfg.steps, shuffle=False, verbose=0,
                    callbacks=[*run.callbacks(), training.early_stopping("val_loss", patience=1)])
    step = step_model(model)
    metrics = evaluate(keras_step(step), data)
    metrics["test_bits_per_char_all"] = float(model.evaluate(*windows(data.test, cfg.seq_len), batch_size=256,
                                                             verbose=0) / math.log(2))
    samples = {t: generate(keras_step(step), data.vocab, "And it came to pass", 240, units=cfg.units,
                           temperature=t, seed=cfg.seed)
               for t in (0.0, 0.5, 1.0, 1.5)}
    save_pictures(training.history_dict(fit), samples, run)
    notes = [f"T={t}: {s[:200]!r}" for t, s in samples.items()]
    baselines = {"character n-gram": ngram_baseline(data, run.log)}
    return Trained(exports={"model": step}, metrics=metrics, history=training.history_dict(fit), notes=notes,
                   baselines=baselines)


def ngram_baseline(data: Data, log) -> dict[str, float]:
    """The classic language model: a smoothed character n-gram on the same training text, its
    order and smoothing chosen on validation passages, scored on the very test passages the GRU reads."""
    from dlbootcamp.baselines import CharNGram

    val = passages(data.val, data, streams=4 * data.eval_streams)
    best = None
    for order in (3, 5, 7):
        model = CharNGram(data.train, len(data.vocab), order, k=1.0)
        for k in (4.0, 16.0, 64.0):
            model.k = k
            bits = model.bits_per_char(val)
            if best is None or bits < best[0]:
                best = (bits, order, k)
    bits, order, k = best
    model = CharNGram(data.train, len(data.vocab), order, k)
    log(f"  character n-gram: order {order}, k {k:g} chosen on validation ({bits:.3f} bits/char)")
    return {"val_bits_per_char": bits, "test_bits_per_char": model.bits_per_char(passages(data.test, data)),
            "order": float(order)}


# --- generation: the loop and the sampler live outside the model ------------------------------------

def sample(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """Greedy when temperature is 0; else draw from softmax(logits / temperature) by inverse CDF."""
    if temperature <= 0:
        return int(np.argmax(logits))
    z = logits.astype(np.float64) / temperature
    p = np.exp(z - z.max())
    return int(min(np.searchsorted(np.cumsum(p), rng.random() * p.sum()), len(p) - 1))


def generate(step, vocab: Vocabulary, prompt: str, length: int, *, units: int, temperature: float = 1.0,
             seed: int = 0) -> str:
    """``prompt`` and ``length`` generated characters; ``step`` is any predict of the step model."""
    rng = np.random.default_rng(seed)
    state = np.zeros((1, units), np.float32)
    for i in vocab.encode(prompt):
        logits, state = step([np.array([[i]], np.int32), state])
    out = []
    for _ in range(length):
        out.append(sample(np.asarray(logits)[0], temperature, rng))
        logits, state = step([np.array([[out[-1]]], np.int32), state])
    return prompt + vocab.decode(out)


# --- evaluate: bits per character, fed one character at a time ----------------------------------------

def passages(ids: np.ndarray, data: Data, streams: int | None = None) -> np.ndarray:
    """(streams, eval_chars + 1) ids: passages starting at verses spread evenly over ``ids``."""
    starts = np.flatnonzero(ids[:-data.eval_chars - 1] == data.vocab.index["\n"]) + 1
    starts = starts[np.linspace(0, len(starts) - 1, streams or data.eval_streams).astype(int)]
    return ids[starts[:, None] + np.arange(data.eval_chars + 1)]


def evaluate(predict, data: Data) -> dict[str, float]:
    """Bits per character of the step model on ``eval_streams`` test passages of ``eval_chars`` characters.

    Each passage starts at a verse, with a zero state, and is read one character at a time,
    exactly as a device would; the state carries over between characters.
    """
    text = passages(data.test, data)  # (streams, chars + 1)
    state = np.zeros((len(text), data.units), np.float32)
    nats = 0.0
    for t in range(data.eval_chars):
        logits, state = predict([text[:, t:t + 1].astype(np.int32), state])
        z = np.asarray(logits, np.float64)
        z = z - z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        nats -= log_p[np.arange(len(text)), text[:, t + 1]].sum()
        state = np.asarray(state, np.float32)
    return {"test_bits_per_char": float(nats / text[:, 1:].size / math.log(2))}


def save_pictures(history: dict, samples: dict[float, str], run) -> None:
    plt = plots.pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for key, label in (("loss", "train"), ("val_loss", "validation")):
        ax.plot(range(1, len(history[key]) + 1), np.array(history[key]) / math.log(2), marker="o", label=label)
    ax.axhline(2.2, color="gray", ls="--", label="bar (2.2)")
    ax.set(xlabel="epoch", ylabel="bits per character", title="Cross-entropy in bits per character")
    ax.legend()
    run.save_figure(fig, "bits_per_char")
    fig, ax = plt.subplots(figsize=(9, 0.9 * len(samples) + 0.5))
    ax.axis("off")
    body = "\n\n".join(f"temperature {t}" + (" (greedy)" if t == 0 else "") + ":\n" + textwrap.fill(s, 100)
                         for t, s in samples.items())
    ax.text(0, 1, body, va="top", family="monospace", fontsize=8)
    ax.set_title("Samples at each sampling temperature (0 = greedy)")
    run.save_figure(fig, "samples_by_temperature")
