"""Day 17 - Visual question answering: relation networks on Sort-of-CLEVR.

Seed 004: "What is the mustache made of?" To answer a question about a picture, a model must
understand the query, extract features from the picture, and have some mechanism to relate
the parts of the picture that the query is about. This lesson builds that mechanism.

Sort-of-CLEVR (Santoro et al. 2017, "A simple neural network module for relational
reasoning"): six objects, one of each colour, each a circle or a square. For every colour c
there are three *non-relational* questions (the shape of the object of colour c; left or
right; top or bottom) and three *relational* ones (the shape of the object closest to it; of
the one furthest from it; how many objects share its shape): 36 questions per image, each an
11-number vector (colour one-hot, kind, which question), answered with one of 12 words.

A *relation network* (RN) answers with f( sum over pairs (i, j) of g(o_i, o_j, q) ): the
objects o_i are the cells of a CNN's 4x4 feature map tagged with their (x, y) position; g, one
MLP for every pair, says what the pair tells about the question; f reads the pooled result.
``pairs="all"`` is the paper's RN (all 256 pairs of cells); on a 2-core CPU it did not learn,
in our budget, which cell holds the asked colour (non-relational accuracy at chance after 8
epochs). Every question is about one object, so the default ``"subject"`` lets the question
find it by attention (question query . cell keys) and pairs that subject with the 16 cells.
Three more measured choices: a skip connection hands each cell the first conv layer's
features (colour, plainly), so the attention finds its colour within a few epochs; g sees how
much attention each cell got, to leave the subject out of "closest"; and the pairs are pooled
by mean (which counts) and by max (which picks the closest or the furthest).

g's first layer is linear, so W [o_i; o_j; q] = A o_i + B o_j + Q q is computed per object and
broadcast-added over the pairs; each image comes with all its questions (a question axis K),
so the CNN sees it once per step. The exported model takes an image and K questions.

The baseline is the paper's CNN+MLP: the same CNN, flattened, the question appended, an MLP,
no notion of pairs (paper: RN 94%, CNN+MLP 63% relational accuracy).

Where it stands (full run, 2-core CPU, about 6 minutes): relational 76.5% (count 93.5%, closest
and furthest 68%) against the bar's 85%, non-relational 99.4%; CNN+MLP 51.4% / 80.5%. The 4x4
grid of 16-pixel cells is too coarse to tell which of two nearby objects is closer; finer maps
cost more pairs than this budget has. The relation network still answers 25 points more
relational questions than the CNN+MLP of the same budget, which is the paper's point.
"""

from __future__ import annotations

import dataclasses
import math

import keras
import numpy as np

from dlbootcamp import data as datasets
from dlbootcamp import plots, scenes, training
from dlbootcamp.errors import UserError
from dlbootcamp.lesson import Bar, LessonInfo, Trained

LESSON = LessonInfo(
    id="vqa",
    day=17,
    title="Visual question answering: a relation network on Sort-of-CLEVR, against a CNN+MLP",
    seeds=("004",),
    topics=("visual question answering", "relational reasoning", "relation network", "question encoding",
            "baseline"),
    summary=("Sort-of-CLEVR: six coloured shapes, 36 questions per image. A CNN + relation network answers "
             "relational questions (closest, furthest, how many) that a CNN+MLP of the same budget cannot."),
    bars=(Bar("relational_accuracy", ">=", 0.85), Bar("non_relational_accuracy", ">=", 0.95)),
    quantized_tolerance=0.02,
)


@dataclasses.dataclass(frozen=True)
class Config:
    image_size: int = 64  # pixels per side (the paper: 75)
    n_train: int = 2000  # training images, 36 questions each
    n_val: int = 200  # images for early stopping
    n_test: int = 500  # held-out images (18,000 questions), scored once
    filters: int = 24  # channels of each of the four stride-2 convs (as in the paper)
    pairs: str = "subject"  # "subject": the question's object (by attention) with every cell; "all": the paper's
    g_units: int = 64  # width of g, the MLP applied to every pair of objects
    f_units: int = 128  # width of f, the MLP that reads the pooled relations
    mlp_units: int = 128  # width of the CNN+MLP baseline's layers
    epochs: int = 36  # passes over the training images (the best epoch on validation accuracy is kept)
    batch_size: int = 8  # images per step (each with its 36 questions)
    learning_rate: float = 1e-3  # Adam; divided by 10 for the last 20% of the steps
    seed: int = 0  # scenes, initial weights, shuffling

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_train=64, n_val=16, n_test=32, filters=8, g_units=8, f_units=16, mlp_units=16, epochs=1)


# --- data: scenes, the 36 questions, their answers --------------------------------------------------

COLOURS = tuple(scenes.COLOURS)  # one object of each colour per image
SHAPES = ("circle", "square")
ANSWERS = ("circle", "square", "left", "right", "top", "bottom", "1", "2", "3", "4", "5", "6")
KINDS = (("shape", "horizontal", "vertical"), ("closest", "furthest", "count"))  # non-relational, relational
KIND_NAMES = [k for group in KINDS for k in group]
ASKED = {"shape": "What shape is the {} object?", "horizontal": "Is the {} object on the left or the right?",
         "vertical": "Is the {} object at the top or the bottom?",
         "closest": "What shape is the object closest to the {} one?",
         "furthest": "What shape is the object furthest from the {} one?",
         "count": "How many objects have the shape of the {} one?"}
OBJECT_SIZE = 5.0  # half side of a square, radius of a circle (10-pixel objects, as in the paper)


def question_vectors() -> tuple[np.ndarray, list[str], np.ndarray]:
    """The 36 questions: vectors (36, 11), their English text, and which are relational (36,)."""
    vectors, texts, relational = [], [], []
    for c, colour in enumerate(COLOURS):
        for r, kinds in enumerate(KINDS):
            for k, kind in enumerate(kinds):
                v = np.zeros(11, np.float32)
                v[[c, 6 + r, 8 + k]] = 1
                vectors.append(v)
                texts.append(ASKED[kind].format(colour))
                relational.append(bool(r))
    return np.stack(vectors), texts, np.array(relational)


QUESTIONS, QUESTION_TEXTS, RELATIONAL = question_vectors()


def answer_all(scene: scenes.Scene) -> np.ndarray:
    """The answers (indices into ANSWERS) to the 36 questions, in QUESTIONS order."""
    centres = np.array([(o.x, o.y) for o in scene.objects])
    half = scene.image_size / 2
    out = []
    for colour in COLOURS:
        i = [o.colour for o in scene.objects].index(colour)
        me = scene.objects[i]
        dist = np.hypot(*(centres - centres[i]).T)
        dist[i] = np.nan  # an object is neither closest to nor furthest from itself
        words = (me.shape, "left" if me.x < half else "right", "top" if me.y < half else "bottom",
                 scene.objects[int(np.nanargmin(dist))].shape, scene.objects[int(np.nanargmax(dist))].shape,
                 str(sum(o.shape == me.shape for o in scene.objects)))
        out += [ANSWERS.index(w) for w in words]
    return np.array(out, np.int64)


def make_split(n: int, image_size: int, seed: tuple[int, int]) -> datasets.Split:
    """``n`` Sort-of-CLEVR images (uint8) and the answers to all their questions (n, 36)."""
    rng = np.random.default_rng(seed)
    drawn = [scenes.random_scene(rng, image_size=image_size, n_objects=6, shapes=SHAPES, colours=COLOURS,
                                 sizes=(OBJECT_SIZE,)) for _ in range(n)]
    return datasets.Split(scenes.render_many(drawn, np.uint8), np.stack([answer_all(s) for s in drawn]))


def load_data(cfg: Config) -> datasets.Splits:
    """Fixed splits, each from its own seeded stream (the test images never change with n_train)."""
    parts = [make_split(n, cfg.image_size, (cfg.seed, i)) for i, n in enumerate((cfg.n_train, cfg.n_val, cfg.n_test))]
    return datasets.Splits(*parts, labels=ANSWERS, source=f"Sort-of-CLEVR from dlbootcamp.scenes (seed {cfg.seed})")


def model_inputs(split: datasets.Split, n: int | None = None) -> list[np.ndarray]:
    """[images in [0, 1], all 36 question vectors for each] - what the model takes."""
    images = split.x[:n].astype(np.float32) / 255.0
    return [images, np.broadcast_to(QUESTIONS, (len(images), *QUESTIONS.shape)).copy()]


def representative_data(data: datasets.Splits, n: int = 200, split: str = "train") -> list[np.ndarray]:
    """Model inputs from a split: train calibrates int8, test feeds the export parity check."""
    return model_inputs(getattr(data, split), n)


def sidecar(data: datasets.Splits) -> dict:
    side = data.test.x.shape[1]
    return {"labels": list(ANSWERS), "questions": QUESTION_TEXTS, "question_vectors": QUESTIONS.astype(int).tolist(),
            "preprocessing": f"image: {side}x{side}x3 RGB, float32 in [0, 1] (uint8 / 255); questions: (K, 11) "
                             "float32 each [colour one-hot (6), non-relational/relational (2), which question (3)]"}


# --- model: a CNN finds the objects, a relation network relates them --------------------------------

@keras.saving.register_keras_serializable(package="dlbootcamp")
class AppendCoordinates(keras.layers.Layer):
    """Tag each cell with its (x, y) in [-1, 1]. No built-in layer adds constant channels: our one custom layer."""

    def call(self, x):
        ys, xs = np.meshgrid(np.linspace(-1, 1, x.shape[1]), np.linspace(-1, 1, x.shape[2]), indexing="ij")
        zero = keras.ops.zeros_like(x[..., :1])  # (batch, h, w, 1): gives the constants a batch axis
        return keras.ops.concatenate([x, zero + xs[..., None].astype("float32"),
                                      zero + ys[..., None].astype("float32")], axis=-1)

    def compute_output_shape(self, shape):
        return (*shape[:-1], shape[-1] + 2)


def objects(cfg: Config, image):
    """Four stride-2 convs make a 4x4 grid of cells, each a candidate object: its deep features, the
    first conv's features averaged over the cell (a skip: colour, plainly), and its coordinates."""
    x = image
    for i in range(1, 5):
        x = keras.layers.Conv2D(cfg.filters, 3, strides=2, padding="same", use_bias=False, name=f"conv{i}")(x)
        # GroupNormalization, not BatchNorm: with 8 images per step BatchNorm's inference statistics
        # drifted from its training ones, and held-out accuracy jumped by tens of points between epochs.
        x = keras.layers.GroupNormalization(math.gcd(cfg.filters, 6), name=f"norm{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        early = x if i == 1 else early  # the first conv's map, for the skip
    skip = keras.layers.AveragePooling2D(early.shape[1] // x.shape[1], name="skip")(early)
    x = AppendCoordinates(name="coordinates")(keras.layers.Concatenate(name="with_skip")([x, skip]))
    return keras.layers.Reshape((x.shape[1] * x.shape[2], x.shape[3]), name="objects")(x)


def inputs(cfg: Config):
    image = keras.Input((cfg.image_size, cfg.image_size, 3), name="image")
    questions = keras.Input((None, 11), name="questions")  # any number of questions per image
    return image, questions


def build_model(cfg: Config) -> keras.Model:
    """Relation network: answers (batch, K, 12) to K questions (batch, K, 11) about each image."""
    image, questions = inputs(cfg)
    o = objects(cfg, image)  # (B, n, d)
    n, g = o.shape[1], cfg.g_units
    layer = keras.layers
    # g's first layer is linear in [o_i; o_j; q], so it splits into A o_i + B o_j + Q q: each part is
    # computed once, then the parts are broadcast-added over all pairs.
    if cfg.pairs == "all":  # the paper: every ordered pair of cells, n * n pairs per question
        parts = [layer.Reshape((1, n, 1, g), name="first")(layer.Dense(g, use_bias=False, name="g_i")(o)),
                 layer.Reshape((1, 1, n, g), name="second")(layer.Dense(g, use_bias=False, name="g_j")(o)),
                 layer.Reshape((-1, 1, 1, g), name="q_per_pair")(layer.Dense(g, name="g_q")(questions))]
        pairs = n * n
    else:  # "subject": the question picks its object by attention, paired with every cell: n pairs
        keys = layer.Dense(g, name="keys")(o)
        query = layer.Dense(g, name="query")(questions)
        attention = layer.Softmax(name="attention")(layer.Dot(axes=(2, 2), name="scores")([query, keys]))
        subject = layer.Dot(axes=(2, 1), name="subject")([attention, o])  # (B, K, d): a mix of cells
        itself = layer.Reshape((-1, n, 1), name="is_subject")(attention)  # lets g leave the subject out
        parts = [layer.Reshape((-1, 1, g), name="first")(layer.Dense(g, use_bias=False, name="g_i")(subject)),
                 layer.Reshape((1, n, g), name="second")(layer.Dense(g, use_bias=False, name="g_j")(o)),
                 layer.Reshape((-1, 1, g), name="q_per_pair")(layer.Dense(g, name="g_q")(questions)),
                 layer.Dense(g, use_bias=False, name="g_self")(itself)]
        pairs = n
    x = layer.ReLU(name="g1")(layer.Add(name="pairs")(parts))
    x = layer.Dense(g, activation="relu", name="g2")(x)
    x = layer.Dense(g, activation="relu", name="g3")(x)
    x = layer.Reshape((-1, pairs, g), name="by_question")(x)
    # Pool over pairs: the RN's sum (as a mean) counts; a max picks an extreme (closest, furthest).
    mean = layer.Reshape((-1, g), name="mean")(layer.AveragePooling2D((1, pairs), name="mean_over_pairs")(x))
    top = layer.Reshape((-1, g), name="max")(layer.MaxPooling2D((1, pairs), name="max_over_pairs")(x))
    x = layer.Concatenate(name="f_in")([mean, top, questions])
    x = layer.Dense(cfg.f_units, activation="relu", name="f1")(x)
    x = layer.Dense(cfg.f_units, activation="relu", name="f2")(x)
    answers = layer.Dense(len(ANSWERS), activation="softmax", name="answers")(x)
    return keras.Model([image, questions], answers, name="relation_network")


def build_baseline(cfg: Config) -> keras.Model:
    """CNN+MLP: the same CNN, flattened, with the question appended; no notion of pairs."""
    image, questions = inputs(cfg)
    flat = keras.layers.Flatten(name="flat")(objects(cfg, image))
    u = cfg.mlp_units  # Dense([image; q]) = W1 image + W2 q: the image part once, added to every question
    img = keras.layers.Reshape((1, u), name="per_image")(keras.layers.Dense(u, name="h_image")(flat))
    per_question = keras.layers.Dense(u, name="h_q")(questions)
    x = keras.layers.ReLU(name="h1")(keras.layers.Add(name="concat")([img, per_question]))
    x = keras.layers.Dense(u, activation="relu", name="h2")(x)
    x = keras.layers.Dense(u, activation="relu", name="h3")(x)
    answers = keras.layers.Dense(len(ANSWERS), activation="softmax", name="answers")(x)
    return keras.Model([image, questions], answers, name="cnn_mlp")


# --- train: the baseline, then the relation network, on the same budget -------------------------------

def fit(model: keras.Model, cfg: Config, data: datasets.Splits, run) -> dict[str, list[float]]:
    # A constant rate for 80% of the steps (relations are learnt late), then a tenth of it to settle.
    steps = cfg.epochs * -(-len(data.train) // cfg.batch_size)
    rate = keras.optimizers.schedules.PiecewiseConstantDecay([int(0.8 * steps)],
                                                             [cfg.learning_rate, cfg.learning_rate / 10])
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(model_inputs(data.train), data.train.y, batch_size=cfg.batch_size, epochs=cfg.epochs,
                        validation_data=(model_inputs(data.val), data.val.y), verbose=0, shuffle=True,
                        callbacks=[*run.callbacks(), training.early_stopping("val_accuracy", patience=10, mode="max")])
    prefix = "" if model.name == "relation_network" else f"{model.name}_"
    return {k.replace("val_", "val_" + prefix) if k.startswith("val_") else prefix + k: v
            for k, v in training.history_dict(history).items()}


def train(cfg: Config, run) -> Trained:
    check(cfg)
    training.seed_everything(cfg.seed)
    data = load_data(cfg)
    run.log(f"  data: {data.sizes()} images x 36 questions, {data.source}")
    models = {"CNN+MLP": build_baseline(cfg), "relation network": build_model(cfg)}
    history, scores = {}, {}
    for name, model in models.items():
        history.update(fit(model, cfg, data, run))
        scores[name] = evaluate(training.predict_fn(model, batch_size=64), data)
        run.log(f"  {name}: held-out relational {scores[name]['relational_accuracy']:.3f}, "
                f"non-relational {scores[name]['non_relational_accuracy']:.3f}")
    rn, mlp = scores["relation network"], scores["CNN+MLP"]
    save_pictures(models, scores, data, history, run)
    notes = [f"relational / non-relational accuracy: relation network {rn['relational_accuracy']:.1%} / "
             f"{rn['non_relational_accuracy']:.1%}, CNN+MLP {mlp['relational_accuracy']:.1%} / "
             f"{mlp['non_relational_accuracy']:.1%} (paper: RN 94% relational, CNN+MLP 63%)"]
    return Trained(exports={"model": models["relation network"]}, history=history, notes=notes,
                   metrics={**rn, **{f"baseline_{k}": v for k, v in mlp.items()}})


def check(cfg: Config) -> None:
    if cfg.pairs not in ("subject", "all"):
        raise UserError(f"Invalid pairs={cfg.pairs!r}: expected 'subject' (the question's object with every cell) "
                        f"or 'all' (every pair of cells); fix it with --set pairs=subject.")


# --- pictures --------------------------------------------------------------------------------------

def save_pictures(models: dict, scores: dict, data: datasets.Splits, history: dict, run) -> None:
    plt = plots.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    for shift, (name, model) in zip((0.2, -0.2), models.items()):
        prefix = "" if model.name == "relation_network" else f"{model.name}_"
        axes[0].plot(history.get(f"val_{prefix}accuracy", []), label=name)
        axes[1].bar(np.arange(6) - shift, [scores[name][f"{k}_accuracy"] for k in KIND_NAMES], 0.4, label=name)
    axes[0].set(xlabel="epoch", ylabel="validation accuracy (all questions)", title="Learning curves")
    axes[1].set_xticks(np.arange(6), KIND_NAMES)
    axes[1].axvline(2.5, color="gray", ls=":")
    axes[1].set(ylim=(0, 1), ylabel="held-out accuracy", title="non-relational | relational")
    for ax in axes:
        ax.legend()
    fig.tight_layout()
    run.save_figure(fig, "learning_curves")
    # A few held-out images with questions and both models' answers.
    x = model_inputs(data.test, 4)
    said = {name: m.predict(x, verbose=0).argmax(-1) for name, m in models.items()}
    fig, axes = plt.subplots(1, 4, figsize=(16, 6.4))
    for i, ax in enumerate(axes):
        ax.imshow(x[0][i])
        ax.axis("off")
        lines = [QUESTION_TEXTS[j] + "\n    " + ", ".join(f"{n} {ANSWERS[a[i, j]]}" for n, a in said.items())
                 + f", truth {ANSWERS[data.test.y[i, j]]}" for j in range(i % 6, 36, 7)[:5]]
        ax.text(0, -0.04, "\n".join(lines), transform=ax.transAxes, va="top", fontsize=8)
    fig.subplots_adjust(bottom=0.38, top=0.98, left=0.02, right=0.98, wspace=0.3)
    run.save_figure(fig, "answers")
    rn = models["relation network"]
    if "attention" in [layer.name for layer in rn.layers]:  # where each colour's question looked
        maps = keras.Model(rn.inputs, rn.get_layer("attention").output).predict(
            [x[0][:1], QUESTIONS[None, ::6]], verbose=0)[0]  # one question per colour
        side = int(round(np.sqrt(maps.shape[-1])))
        fig, axes = plt.subplots(1, len(COLOURS), figsize=(2.2 * len(COLOURS), 2.6))
        for ax, colour, m in zip(axes, COLOURS, maps):
            ax.imshow(x[0][0])
            ax.imshow(m.reshape(side, side), cmap="magma", alpha=0.6, extent=(0, x[0].shape[2], x[0].shape[1], 0))
            ax.set(title=f"the {colour} object?", xticks=[], yticks=[])
        fig.suptitle(f"Attention of each colour's question over the {side}x{side} cells")
        run.save_figure(fig, "attention")


# --- evaluate: the same code scores Keras, TFLite and ONNX ---------------------------------------

def evaluate(predict, data: datasets.Splits) -> dict[str, float]:
    right = np.asarray(predict(model_inputs(data.test))).argmax(-1) == data.test.y  # (images, 36)
    by_kind = right.reshape(len(right), len(COLOURS), 6).mean(axis=(0, 1))
    return {"relational_accuracy": float(right[:, RELATIONAL].mean()),
            "non_relational_accuracy": float(right[:, ~RELATIONAL].mean()),
            **{f"{k}_accuracy": float(a) for k, a in zip(KIND_NAMES, by_kind)}}
