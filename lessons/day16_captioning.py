"""Day 16 - Image captioning: a CNN looks, a recurrent decoder talks.

Seed 004: "You can caption images ... can you generate such a caption automatically?" A
captioner is two networks joined at the hip: a convolutional *encoder* turns the picture into
feature vectors, and a recurrent *decoder* writes the sentence one word at a time, each word
chosen from the picture and the words before it (Show and Tell, 2015); with *attention* the
decoder also decides, at every word, which part of the picture to look at (Show, Attend and
Tell, 2015).

Our pictures are generated scenes of coloured shapes (:mod:`dlbootcamp.worlds.scenes`): two big
shapes and up to four small ones. The caption names the big shapes, where one sits relative
to the other, and counts the small ones: "a red circle above a blue square and two small
shapes". Either big shape may come first, so each picture has two correct captions - two
references, as COCO has five.

- The encoder is a CNN: a grid of feature vectors ("what is where"; 6x6 for 48-pixel scenes)
  and, from the whole grid, the decoder's first state.
- The decoder step takes (previous word, state, grid) and returns (next-word logits, new state,
  attention over the grid's cells). It is one GRU cell, so it runs on a device word by word.
- Training uses *teacher forcing*: the step is unrolled over the true caption, fed the true
  previous word, and asked for the next. Inference decodes greedily, feeding back its own words.

The score is corpus BLEU-4 on held-out scenes (sacrebleu; captions are lower-case words split
on single spaces, so tokenisation is ``none``), against both references, on a 0-1 scale.
"""

from __future__ import annotations

import dataclasses
import textwrap

import keras
import numpy as np
import tensorflow as tf
from sacrebleu.metrics import BLEU

from dlbootcamp import data as datasets
from dlbootcamp import plots, training
from dlbootcamp.worlds import scenes
from dlbootcamp.lesson import Bar, LessonInfo, Trained

LESSON = LessonInfo(
    id="captioning",
    day=16,
    title="Image captioning: CNN encoder, attention GRU decoder, greedy decoding, BLEU",
    seeds=("004",),
    topics=("encoder-decoder", "teacher forcing", "attention", "greedy decoding", "BLEU"),
    summary=("Generated scenes of coloured shapes are captioned ('a red circle above a blue square and two "
             "small shapes') by a CNN encoder and an attention GRU decoder, trained with teacher forcing, "
             "decoded greedily and scored with BLEU-4 on held-out scenes."),
    bars=(Bar("bleu4", ">=", 0.6),),
    quantized_tolerance=0.03,
)


@dataclasses.dataclass(frozen=True)
class Config:
    image_size: int = 48  # pixels per side (64 works too, at twice the CPU time)
    n_train: int = 12000  # generated training scenes (each with two reference captions)
    n_val: int = 500  # scenes for early stopping
    n_test: int = 1000  # held-out scenes, scored once
    filters: tuple[int, ...] = (16, 32, 64)  # encoder conv channels, one stride-2 conv each (48 -> 6x6 grid)
    feature_dim: int = 64  # size of each of the grid's feature vectors (attention keys/values)
    units: int = 128  # GRU state size
    embed_dim: int = 32  # word embedding size
    epochs: int = 16  # passes over the training scenes (early stopping on validation loss)
    batch_size: int = 32  # small batches: more steps for the same CPU time
    learning_rate: float = 2e-3  # Adam, cosine-decayed to 0
    seed: int = 0  # scenes, initial weights, shuffling, which reference is used

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_train=256, n_val=32, n_test=32, filters=(8, 16, 16), feature_dim=16, units=32,
                   embed_dim=8, epochs=1, batch_size=32)


# --- data: scenes and the captions they imply ---------------------------------------------------

PAD, START, END = "<pad>", "<start>", "<end>"
NUMBERS = ("one", "two", "three", "four")
VOCAB = (PAD, START, END, "a", "an", "and", "small", "shape", "shapes", "above", "below", "left", "right", "of",
         *NUMBERS, *scenes.COLOURS, "circle", "square", "triangle")
MAX_LEN = 14  # <start> + at most 12 words + <end>
BIG, SMALL = 0.15, 0.0625  # object sizes (radius / half side) as fractions of the image side


def relation(a: scenes.Obj, b: scenes.Obj) -> str:
    """Where ``a`` is relative to ``b``, along the axis on which they are further apart."""
    dx, dy = a.x - b.x, a.y - b.y
    if abs(dx) > abs(dy):
        return "left of" if dx < 0 else "right of"
    return "above" if dy < 0 else "below"


def unambiguous(scene: scenes.Scene) -> bool:
    """Keep scenes whose big shapes are clearly side by side or clearly one above the other."""
    a, b = scene.objects[:2]
    dx, dy = abs(a.x - b.x), abs(a.y - b.y)
    return max(dx, dy) >= 1.5 * min(dx, dy)


def captions(scene: scenes.Scene) -> tuple[str, str]:
    """The two reference captions of a scene: either big shape can come first."""
    a, b = scene.objects[:2]
    small = len(scene.objects) - 2
    tail = f" and {NUMBERS[small - 1]} small shape{'s' if small > 1 else ''}" if small else ""
    return (f"{named(a)} {relation(a, b)} {named(b)}{tail}", f"{named(b)} {relation(b, a)} {named(a)}{tail}")


def named(obj: scenes.Obj) -> str:
    return f"{'an' if obj.colour[0] in 'aeiou' else 'a'} {obj.colour} {obj.shape}"


def encode(caption: str) -> np.ndarray:
    ids = [VOCAB.index(START), *(VOCAB.index(w) for w in caption.split()), VOCAB.index(END)]
    return np.pad(ids, (0, MAX_LEN - len(ids))).astype(np.int32)


def decode(ids) -> str:
    words = []
    for i in ids:
        if VOCAB[i] in (END, PAD):
            break
        words.append(VOCAB[i])
    return " ".join(w for w in words if w != START)


@dataclasses.dataclass(frozen=True)
class CaptionData(datasets.Splits):
    """The splits (x: uint8 images, y: two references as token ids) and the Config that made them."""

    config: Config = Config()


def make_split(n: int, image_size: int, seed: tuple[int, int]) -> datasets.Split:
    """``n`` scenes as uint8 images (x) and both references as token ids (y: n x 2 x MAX_LEN)."""
    rng = np.random.default_rng(seed)
    big, small = BIG * image_size, SMALL * image_size
    drawn = [scenes.random_scene(rng, image_size=image_size, n_objects=(2, 6), sizes=(big, big, small),
                                 accept=unambiguous) for _ in range(n)]
    tokens = np.array([[encode(c) for c in captions(s)] for s in drawn])
    return datasets.Split(scenes.render_many(drawn, np.uint8), tokens)


def load_data(cfg: Config) -> datasets.Splits:
    """Fixed splits: each drawn from its own seeded stream, so the test scenes never change with n_train."""
    parts = [make_split(n, cfg.image_size, (cfg.seed, i)) for i, n in enumerate((cfg.n_train, cfg.n_val, cfg.n_test))]
    return CaptionData(*parts, labels=VOCAB, source=f"generated by dlbootcamp.worlds.scenes (seed {cfg.seed})", config=cfg)


def as_float(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float32) / 255.0


def representative_data(data: CaptionData, n: int = 200, split: str = "train", exports: dict | None = None) -> dict:
    """Encoder: real images. Decoder step: the (features, state, word) it meets while reading true captions.

    Those come from running the trained models (``exports``). Without them, features and states
    are drawn uniformly over their tanh range [-1, 1] - enough for a parity check, but an int8
    decoder calibrated on them loses about half its BLEU (measured), so pass the models.
    """
    part, cfg = getattr(data, split), data.config
    images = as_float(part.x[:n])
    if exports is None:
        uniform = np.random.default_rng(0).uniform
        return {"encoder": images, "decoder_step": [
            uniform(-1, 1, (n, grid_cells(cfg), cfg.feature_dim)).astype(np.float32),
            uniform(-1, 1, (n, cfg.units)).astype(np.float32), part.y[:, 0, :-1].reshape(-1)[:n, None]]}
    encode_images, step = (training.predict_fn(exports[k]) for k in ("encoder", "decoder_step"))
    words = part.y[:n, 0]  # teacher forcing along each image's first reference
    features, state = encode_images(images)
    seen = []
    for t in range(MAX_LEN - 1):
        keep = words[:, t] != VOCAB.index(PAD)
        seen.append([features[keep], state[keep], words[keep, t:t + 1]])
        state = step([features, state, words[:, t:t + 1]])[2]
    pick = np.random.default_rng(0).permutation(sum(len(s[2]) for s in seen))[:n]  # all time steps mixed
    return {"encoder": images, "decoder_step": [np.concatenate(a)[pick] for a in zip(*seen)]}


def sidecar(data: CaptionData) -> dict:
    side = data.config.image_size
    return {"vocabulary": list(VOCAB),
            "preprocessing": f"{side}x{side}x3 RGB image, float32 in [0, 1] (uint8 / 255), white background",
            "decoding": (f"encoder(image) -> features, state; token = {VOCAB.index(START)} (<start>); repeat: "
                         f"decoder_step(features, state, token) -> attention, logits, next_state; token = "
                         f"argmax(logits); stop at {VOCAB.index(END)} (<end>) or after {MAX_LEN} words")}


# --- model: encoder, decoder step, and the two joined for teacher forcing ----------------------------

def grid_cells(cfg: Config) -> int:
    """Cells in the encoder's grid: each stride-2 conv halves the side (48 -> 6x6 after three)."""
    return (-(-cfg.image_size // 2 ** len(cfg.filters))) ** 2


def build_encoder(cfg: Config) -> keras.Model:
    image = keras.Input((cfg.image_size, cfg.image_size, 3), name="image")
    x = image
    for i, f in enumerate(cfg.filters, start=1):
        x = keras.layers.Conv2D(f, 3, strides=2, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
    cells = x.shape[1] * x.shape[2]
    grid = keras.layers.Reshape((cells, x.shape[3]), name="grid")(x)
    features = keras.layers.Dense(cfg.feature_dim, activation="tanh", name="features")(grid)
    state = keras.layers.Dense(cfg.units, activation="tanh", name="state")(keras.layers.Flatten(name="flat")(x))
    return keras.Model(image, [features, state], name="encoder")


def build_decoder_step(cfg: Config, cells: int) -> keras.Model:
    """One word: attend to the grid with the state as query, update the GRU, score the next word."""
    features = keras.Input((cells, cfg.feature_dim), name="features")
    state = keras.Input((cfg.units,), name="state")
    token = keras.Input((1,), dtype="int32", name="token")
    word = keras.layers.Reshape((cfg.embed_dim,), name="word")(
        keras.layers.Embedding(len(VOCAB), cfg.embed_dim, name="embed")(token))
    query = keras.layers.Dense(cfg.feature_dim, name="query")(state)
    scores = keras.layers.Dot(axes=(2, 1), name="scores")([features, query])  # one score per cell
    attention = keras.layers.Softmax(name="attention")(scores)
    context = keras.layers.Dot(axes=(1, 1), name="context")([attention, features])  # weighted mean of cells
    h, _ = keras.layers.GRUCell(cfg.units, name="gru")(keras.layers.Concatenate(name="gru_in")([word, context]), state)
    logits = keras.layers.Dense(len(VOCAB), name="logits")(keras.layers.Concatenate(name="out_in")([h, context]))
    next_state = keras.layers.Identity(name="next_state")(h)
    return keras.Model([features, state, token], [attention, logits, next_state], name="decoder_step")


class TeacherForcing(keras.Model):
    """Training only: run the step over a whole caption, feeding it the true previous words."""

    def __init__(self, encoder, step, **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.step = encoder, step

    def call(self, inputs):
        images, words = inputs
        features, state = self.encoder(images)
        logits = []
        for t in range(words.shape[1]):
            _, out, state = self.step([features, state, words[:, t:t + 1]])
            logits.append(out)
        return keras.ops.stack(logits, axis=1)


def build_model(cfg: Config) -> TeacherForcing:
    return TeacherForcing(build_encoder(cfg), build_decoder_step(cfg, grid_cells(cfg)), name="captioner")


# --- train: teacher forcing -----------------------------------------------------------------------

def caption_batches(split: datasets.Split, *, batch_size: int, seed: int, shuffle: bool):
    """((image, caption without its last word), caption without <start>), one random reference each time."""
    coins = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip((tf.data.Dataset.from_tensor_slices((split.x, split.y)), coins))
    if shuffle:
        ds = ds.shuffle(len(split), seed=seed, reshuffle_each_iteration=True)

    def pick(pair, coin):
        image, refs = pair
        words = tf.gather(refs, coin % 2)
        return (tf.cast(image, tf.float32) / 255.0, words[:-1]), words[1:]

    return ds.map(pick, num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size).prefetch(tf.data.AUTOTUNE)


def train(cfg: Config, run) -> Trained:
    training.seed_everything(cfg.seed)
    data = load_data(cfg)
    run.log(f"  data: {data.sizes()} scenes, vocabulary of {len(VOCAB)} words, {data.source}")
    model = build_model(cfg)
    steps = cfg.epochs * -(-len(data.train) // cfg.batch_size)
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(cfg.learning_rate, steps)),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0))
    fit = model.fit(caption_batches(data.train, batch_size=cfg.batch_size, seed=cfg.seed, shuffle=True), shuffle=False,
                    validation_data=caption_batches(data.val, batch_size=256, seed=cfg.seed, shuffle=False),
                    epochs=cfg.epochs, verbose=0,
                    callbacks=[*run.callbacks(), training.early_stopping("val_loss", patience=3)])
    exports = {"encoder": model.encoder, "decoder_step": model.step}
    predicts = {name: training.predict_fn(m) for name, m in exports.items()}
    metrics = evaluate(predicts, data)
    run.log(f"  held-out BLEU-4 {metrics['bleu4']:.3f}, exact captions {metrics['exact_match']:.3f}")
    save_pictures(predicts, data, run)
    return Trained(exports=exports, metrics=metrics, history=training.history_dict(fit),
                   notes=[f"BLEU-4 by sacrebleu (tokenize='none', 2 references per scene) on {len(data.test)} "
                          f"held-out scenes; {metrics['exact_match']:.1%} of captions match a reference exactly"])


# --- inference: greedy decoding, one word at a time -------------------------------------------------

def greedy_decode(predicts: dict, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Token ids (N, MAX_LEN - 1) and attention maps (N, MAX_LEN - 1, cells) from float images."""
    features, state = predicts["encoder"](images)
    token = np.full((len(images), 1), VOCAB.index(START), np.int32)
    words, maps = [], []
    for _ in range(MAX_LEN - 1):
        attention, logits, state = predicts["decoder_step"]([features, state, token])
        token = np.asarray(logits).argmax(-1).astype(np.int32)[:, None]
        words.append(token[:, 0])
        maps.append(np.asarray(attention))
    return np.stack(words, 1), np.stack(maps, 1)


# --- pictures ----------------------------------------------------------------------------------------

def save_pictures(predicts: dict, data: datasets.Splits, run, n: int = 12) -> None:
    images = as_float(data.test.x[:n])
    ids, maps = greedy_decode(predicts, images)
    titles = [textwrap.fill(decode(row), 22) for row in ids]
    run.save_figure(plots.image_grid(images, titles, cols=6, size=2.4, title="Greedy captions of held-out scenes"),
                    "captions")
    # Where the decoder looked while writing each word of the first caption.
    words = decode(ids[0]).split() or [END]
    side = int(round(np.sqrt(maps.shape[-1])))
    fig, axes = plots.pyplot().subplots(1, len(words), figsize=(1.7 * len(words), 2.1), squeeze=False)
    for t, (ax, word) in enumerate(zip(axes[0], words)):
        ax.imshow(images[0])
        ax.imshow(maps[0, t].reshape(side, side), cmap="magma", alpha=0.55, interpolation="bilinear",
                  extent=(0, images.shape[2], images.shape[1], 0))
        ax.set_title(word, fontsize=9)
        ax.axis("off")
    fig.suptitle(f"Attention over the {side}x{side} grid while writing each word")
    fig.tight_layout()
    run.save_figure(fig, "attention")


# --- evaluate: the same code scores Keras and the exported encoder + decoder step ---------------------

def evaluate(predicts: dict, data: datasets.Splits) -> dict[str, float]:
    ids, _ = greedy_decode(predicts, as_float(data.test.x))
    hypotheses = [decode(row) for row in ids]
    references = [[decode(refs[k]) for refs in data.test.y] for k in range(2)]
    bleu = BLEU(tokenize="none").corpus_score(hypotheses, references)
    exact = np.mean([h in (r0, r1) for h, r0, r1 in zip(hypotheses, *references)])
    return {"bleu4": bleu.score / 100.0, "exact_match": float(exact)}
