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

A *relation network* (RN) answers with f( sum over pairs (i, j) of g(o_i, o_j, q) ): g, one MLP
for every pair of objects, says what the pair tells about the question; f reads the pooled
result. The paper's objects are a CNN's feature-map cells. On a 4x4 map of 16-pixel cells we
measured "closest" at 68% (too coarse to tell which of two nearby objects is nearer), and a
finer map has too many cells to pair on a CPU. So our objects come from *attention*: the CNN
keeps a 16x16 map; each of six slots (a learned query) scores every cell, and its softmax over
the cells averages their features and (x, y): what the object is, and where, finer than a cell.
A question is about one object, so g sees its 6 pairs (subject, object j, question, is-it-the-
subject), not all 36, pooled by mean (which counts) and by max (closest, furthest). The baseline
is the paper's CNN+MLP: the same CNN, two more stride-2 convs, flattened, the question appended.

Three measured choices. A question names its object by colour, so slot k stands for colour k:
the question's colour one-hot picks its subject, and the questions alone teach each slot which
colour to find (the "slots" picture checks it). When the question chose its slot by attention
instead, the slots never split the six colours (validation after 12 epochs: 78% non-relational,
52% relational, against 99% and 90%). The slot scores are multiplied by 10 before the softmax:
without it the attention over 256 cells stayed uniform and nothing was learnt in 12 epochs; with
it each slot holds its colour after two. And the CNN has no normalization layer (see ``cnn``).

Measured numbers (per seed, with the baseline) are in docs/lessons.md.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from dlbootcamp import data as datasets
from dlbootcamp import plots, training
from dlbootcamp.worlds import scenes
from dlbootcamp.worlds.sort_of_clevr import (ANSWERS, COLOURS, KIND_NAMES, N_OBJECTS, QUESTION_TEXTS, QUESTIONS,
                                             RELATIONAL, answer_all, make_split)
from dlbootcamp.lesson import Bar, LessonInfo, Trained

LESSON = LessonInfo(
    id="vqa",
    day=17,
    title="Visual question answering: a relation network on Sort-of-CLEVR, against a CNN+MLP",
    seeds=("004",),
    topics=("visual question answering", "relational reasoning", "relation network", "attention", "baseline"),
    summary=("Sort-of-CLEVR: six coloured shapes, 36 questions per image. Attention finds the objects in a CNN's map "
             "and a relation network relates them: it answers relational questions (closest, furthest, how many) "
             "that a CNN+MLP of the same budget cannot."),
    bars=(Bar("relational_accuracy", ">=", 0.85), Bar("non_relational_accuracy", ">=", 0.95)),
    quantized_tolerance=0.02,
    baselines=("CNN+MLP",),
)


@dataclasses.dataclass(frozen=True)
class Config:
    image_size: int = 64  # pixels per side (the paper: 75)
    n_train: int = 2000  # training images, 36 questions each
    n_val: int = 200  # images for early stopping
    n_test: int = 500  # held-out images (18,000 questions), scored once
    filters: int = 32  # channels of each of the CNN's convs
    g_units: int = 64  # width of g, the MLP applied to every pair of objects
    f_units: int = 128  # width of f, the MLP that reads the pooled relations
    mlp_units: int = 128  # width of the CNN+MLP baseline's layers
    epochs: int = 20  # passes over the training images (the best epoch on validation accuracy is kept)
    batch_size: int = 8  # images per step (each with its 36 questions)
    learning_rate: float = 1e-3  # Adam; divided by 10 for the last 20% of the steps
    seed: int = 0  # scenes, initial weights, shuffling

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_train=64, n_val=16, n_test=32, filters=8, g_units=8, f_units=16, mlp_units=16, epochs=1)


# --- data: Sort-of-CLEVR scenes, the 36 questions, their answers (dlbootcamp.worlds.sort_of_clevr) ----

def load_data(cfg: Config) -> datasets.Splits:
    """Fixed splits, each from its own seeded stream (the test images never change with n_train)."""
    parts = [make_split(n, cfg.image_size, (cfg.seed, i)) for i, n in enumerate((cfg.n_train, cfg.n_val, cfg.n_test))]
    return datasets.Splits(*parts, labels=ANSWERS, source=f"Sort-of-CLEVR from dlbootcamp.worlds.scenes (seed {cfg.seed})")


def model_inputs(split: datasets.Split, n: int | None = None) -> list[np.ndarray]:
    """[images in [0, 1], all 36 question vectors for each] - what the model takes."""
    images = split.x[:n].astype(np.float32) / 255.0
    return [images, np.broadcast_to(QUESTIONS, (len(images), *QUESTIONS.shape)).copy()]


def representative_data(data: datasets.Splits, n: int = 200, split: str = "train") -> list[np.ndarray]:
    return model_inputs(getattr(data, split), n)  # train calibrates int8, test feeds the parity check


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
        grid = np.stack([xs, ys], axis=-1).astype("float32")  # (h, w, 2); zeros_like gives it a batch axis
        return keras.ops.concatenate([x, keras.ops.zeros_like(x[..., :2]) + grid], axis=-1)


def cnn(cfg: Config, image, strides=(2, 2, 1)):
    """Two stride-2 convs and a stride-1 one: a 16x16 map of 4-pixel cells that each see 15 pixels, a whole
    10-pixel object. No normalization: GroupNormalization's groups here are mostly white background, their
    spread tiny next to their mean, and x * s - mean * s (s = 1 / spread) magnified rounding (TensorFlow,
    TFLite and ONNX Runtime sum in different orders) to 3e-4 on the exported answers; fp32 parity asks 1e-4."""
    x = image
    for i, stride in enumerate(strides, start=1):
        x = keras.layers.Conv2D(cfg.filters, 3, strides=stride, padding="same", activation="relu", name=f"conv{i}")(x)
    return x


def objects(cfg: Config, image):
    """Six slots, each a learned query scoring every cell; its softmax over the cells averages the
    cells' features and (x, y): what its object is, and where, finer than a cell. (B, 6, filters + 2)"""
    x = cnn(cfg, image)
    n, layer = x.shape[1] * x.shape[2], keras.layers
    cells = layer.Reshape((n, cfg.filters), name="cells")(x)
    keys = layer.Dense(cfg.g_units, activation="relu", name="cell_keys")(cells)
    scores = layer.Permute((2, 1), name="per_slot")(layer.Dense(N_OBJECTS, use_bias=False, name="slot_queries")(keys))
    where = layer.Softmax(name="slots")(layer.Rescaling(10.0, name="sharpen")(scores))  # (B, 6, n)
    tagged = layer.Reshape((n, cfg.filters + 2), name="tagged")(AppendCoordinates(name="coordinates")(x))
    return layer.Dot(axes=(2, 1), name="objects")([where, tagged])


def inputs(cfg: Config):  # an image, and any number K of questions about it
    return keras.Input((cfg.image_size, cfg.image_size, 3), name="image"), keras.Input((None, 11), name="questions")


def build_model(cfg: Config) -> keras.Model:
    """Relation network: answers (batch, K, 12) to K questions (batch, K, 11) about each image. Training
    gives each image all 36 of its questions, so the CNN sees it once per step."""
    image, questions = inputs(cfg)
    o = objects(cfg, image)  # (B, 6, d)
    n, g, layer = N_OBJECTS, cfg.g_units, keras.layers
    # The question's colour one-hot (its first six numbers) picks its subject: slot k is colour k's object.
    colour = layer.Permute((2, 1), name="colour")(layer.Cropping1D((0, 5), name="first_six")(
        layer.Permute((2, 1), name="by_number")(questions)))  # (B, K, 6)
    subject = layer.Dot(axes=(2, 1), name="subject")([colour, o])  # (B, K, d)
    # g's first layer is linear in [o_i; o_j; q], so it splits into A o_i + B o_j + Q q: each part is
    # computed once, then broadcast-added over the K x 6 pairs; a fourth part marks the subject itself.
    parts = [layer.Reshape((-1, 1, g), name="first")(layer.Dense(g, use_bias=False, name="g_i")(subject)),
             layer.Reshape((1, n, g), name="second")(layer.Dense(g, use_bias=False, name="g_j")(o)),
             layer.Reshape((-1, 1, g), name="q_per_pair")(layer.Dense(g, name="g_q")(questions)),
             layer.Dense(g, use_bias=False, name="g_self")(layer.Reshape((-1, n, 1), name="is_subject")(colour))]
    x = layer.ReLU(name="g1")(layer.Add(name="pairs")(parts))
    x = layer.Dense(g, activation="relu", name="g2")(x)
    x = layer.Dense(g, activation="relu", name="g3")(x)
    # Pool over the pairs: the RN's sum (as a mean) counts; a max picks an extreme (closest, furthest).
    mean = layer.Reshape((-1, g), name="mean")(layer.AveragePooling2D((1, n), name="mean_over_pairs")(x))
    top = layer.Reshape((-1, g), name="max")(layer.MaxPooling2D((1, n), name="max_over_pairs")(x))
    x = layer.Concatenate(name="f_in")([mean, top, questions])
    x = layer.Dense(cfg.f_units, activation="relu", name="f1")(x)
    x = layer.Dense(cfg.f_units, activation="relu", name="f2")(x)
    answers = layer.Dense(len(ANSWERS), activation="softmax", name="answers")(x)
    return keras.Model([image, questions], answers, name="relation_network")


def build_baseline(cfg: Config) -> keras.Model:
    """CNN+MLP: the same CNN down to a 4x4 grid (as after the paper's four stride-2 convs), flattened,
    with the question appended; no objects, no pairs."""
    image, questions = inputs(cfg)
    u, layer = cfg.mlp_units, keras.layers  # Dense([image; q]) = W1 image + W2 q: W1 image once per image
    flat = layer.Flatten(name="flat")(cnn(cfg, image, strides=(2, 2, 1, 2, 2)))
    img = layer.Reshape((1, u), name="per_image")(layer.Dense(u, name="h_image")(flat))
    x = layer.ReLU(name="h1")(layer.Add(name="concat")([img, layer.Dense(u, name="h_q")(questions)]))
    x = layer.Dense(u, activation="relu", name="h2")(x)
    x = layer.Dense(u, activation="relu", name="h3")(x)
    answers = layer.Dense(len(ANSWERS), activation="softmax", name="answers")(x)
    return keras.Model([image, questions], answers, name="cnn_mlp")


# --- train: the baseline, then the relation network, on the same budget -------------------------------

def fit(model: keras.Model, cfg: Config, data: datasets.Splits, run) -> dict[str, list[float]]:
    # A constant rate for 80% of the steps (relations are learnt late), then a tenth of it to settle.
    steps, lr = cfg.epochs * -(-len(data.train) // cfg.batch_size), cfg.learning_rate
    rate = keras.optimizers.schedules.PiecewiseConstantDecay([int(0.8 * steps)], [lr, lr / 10])
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(model_inputs(data.train), data.train.y, batch_size=cfg.batch_size, epochs=cfg.epochs,
                        validation_data=(model_inputs(data.val), data.val.y), verbose=0, shuffle=True,
                        callbacks=[*run.callbacks(), training.early_stopping("val_accuracy", patience=10, mode="max")])
    prefix = "" if model.name == "relation_network" else f"{model.name}_"
    return {k.replace("val_", "val_" + prefix) if k.startswith("val_") else prefix + k: v
            for k, v in training.history_dict(history).items()}


def train(cfg: Config, run) -> Trained:
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
    slots = slot_colours(models["relation network"], data.test)
    save_pictures(models, scores, slots, data, run)
    notes = [f"relational / non-relational accuracy: relation network {rn['relational_accuracy']:.1%} / "
             f"{rn['non_relational_accuracy']:.1%}, CNN+MLP {mlp['relational_accuracy']:.1%} / "
             f"{mlp['non_relational_accuracy']:.1%} (paper: RN 94% relational, CNN+MLP 63%)",
             f"slot k holds colour k's object in {slots['binding']:.1%} of held-out (image, slot) pairs"]
    return Trained(exports={"model": models["relation network"]}, history=history, notes=notes,
                   metrics={**rn, "slot_binding": slots["binding"], **{f"baseline_{k}": v for k, v in mlp.items()}},
                   baselines={"CNN+MLP": mlp})


def slot_colours(model: keras.Model, split: datasets.Split) -> dict:
    """Each slot's attention (n, 6, cells), the colour painted under most of it (n, 6), and ``binding``:
    how often slot k holds colour k, as the questions taught it."""
    where = keras.Model(model.inputs[0], model.get_layer("slots").output).predict(split.x / np.float32(255), verbose=0)
    (n, h), side = split.x.shape[:2], int(round(np.sqrt(where.shape[-1])))  # side: cells per side
    rgb = np.round(np.array([scenes.COLOURS[c] for c in COLOURS]) * 255)[:, None, None]
    painted = (split.x[:, None] == rgb).all(-1).reshape(n, N_OBJECTS, side, h // side, side, h // side)
    colour = np.einsum("nsx,ncx->nsc", where, painted.any(axis=(3, 5)).reshape(n, N_OBJECTS, -1)).argmax(-1)
    return {"where": where, "colour": colour, "binding": float((colour == np.arange(N_OBJECTS)).mean())}


# --- pictures --------------------------------------------------------------------------------------

def save_pictures(models: dict, scores: dict, slots: dict, data: datasets.Splits, run) -> None:
    """Accuracy by kind of question (the paper's table), answers to a few questions, where the slots look.
    (The run records the learning curves of both models from the history.)"""
    plt = plots.pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for shift, name in zip((-0.2, 0.2), models):
        ax.bar(np.arange(6) + shift, [scores[name][f"{k}_accuracy"] for k in KIND_NAMES], 0.4, label=name)
    ax.set_xticks(np.arange(6), KIND_NAMES)
    ax.axvline(2.5, color="gray", ls=":")
    ax.set(ylim=(0, 1.15), ylabel="held-out accuracy", title="non-relational | relational questions")
    ax.legend(ncol=2, loc="upper center")
    run.save_figure(fig, "by_kind")
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
    # Where each slot looks in one held-out image, and how often it holds its own colour.
    side, size = int(round(np.sqrt(slots["where"].shape[-1]))), x[0].shape[1]
    fig, axes = plt.subplots(1, N_OBJECTS, figsize=(2.2 * N_OBJECTS, 2.7))
    for k, ax in enumerate(axes):
        ax.imshow(x[0][0])
        ax.imshow(slots["where"][0, k].reshape(side, side), cmap="magma", alpha=0.6, extent=(0, size, size, 0))
        ax.set(title=f"slot {k}: {(slots['colour'][:, k] == k).mean():.0%} on {COLOURS[k]}", xticks=[], yticks=[])
    fig.suptitle(f"Where each object slot looks (softmax over {side}x{side} cells), and how often it holds its colour")
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    run.save_figure(fig, "slots")


# --- evaluate: the same code scores Keras, TFLite and ONNX ---------------------------------------

def evaluate(predict, data: datasets.Splits) -> dict[str, float]:
    right = np.asarray(predict(model_inputs(data.test))).argmax(-1) == data.test.y  # (images, 36)
    by_kind = right.reshape(len(right), len(COLOURS), 6).mean(axis=(0, 1))
    return {"relational_accuracy": float(right[:, RELATIONAL].mean()),
            "non_relational_accuracy": float(right[:, ~RELATIONAL].mean()),
            **{f"{k}_accuracy": float(a) for k, a in zip(KIND_NAMES, by_kind)}}
