"""Day 17 - Visual question answering: relation networks on Sort-of-CLEVR.

Seed 004: "What is the mustache made of?" To answer a question about a picture, a model must
understand the query, extract features from the picture, and have some mechanism to relate the
parts of the picture that the query is about. This lesson builds that mechanism.

Sort-of-CLEVR (Santoro et al. 2017, "A simple neural network module for relational reasoning"): six
objects, one of each colour, each a circle or a square. For every colour c there are three
*non-relational* questions (the shape of the object of colour c; left or right; top or bottom) and
three *relational* ones (the shape of the object closest to it; of the one furthest from it; how
many objects share its shape): 36 questions per image, each an 11-number vector (colour one-hot,
kind, which question), answered with one of 12 words.

A *relation network* (RN) answers with f( sum over pairs (i, j) of g(o_i, o_j, q) ): g, one MLP for
every pair of objects, says what the pair tells about the question; f reads the pooled result. Here
the model has to find everything itself. A CNN keeps a 16x16 map of 4-pixel cells, each tagged with
its mean colour and its (x, y). Twelve *slots* (learnt queries, tied to no colour) each take a softmax
over the cells, competing for them: the objects. The *question* finds its subject the same way: a
query computed from the whole question vector scores every cell, and its softmax averages the cells'
features and (x, y). A question is about one object, so g sees its pairs (subject, slot j, question,
how much the question's attention and slot j's overlap, and the pair's offsets dx, dy and their
squares), pooled by sum (which counts) and by max (closest, furthest), each pair weighted by a learnt
sigmoid of slot j. The baseline is the paper's CNN+MLP: the same CNN, the same colour and (x, y)
channels, two stride-2 convs to a 4x4 grid (with (x, y) again), flattened, the question appended,
three layers.

How it was built, all measured on validation (200 images; relational / non-relational accuracy; the
test images were not looked at). The first design wired the question's colour one-hot to slot k,
handing the model the object binding; it is gone. Attention from the question straight to the cells
finds the subject only if the cells carry their mean colour (without it 62% non-relational after 12
epochs; with it 89% after 8). Objects tried before the slots, each for 14-20 epochs: the paper's
objects (the 8x8 cells of a stride-2 conv, all of them paired with the subject) 52-59% / 99%; the
16x16 cells 51% / 97%; a second attention from (question, subject) to the cells, to pick the related
object, 72% / 99.6% on seed 0, closest and furthest at their priors (66% / 67%) even when the cells'
keys carried x^2 + y^2; one objectness query with inhibition of return (each slot loses the cells
earlier slots took) settled on the image's border (0.3 objects held). Slots worked, once three things
were found, each on seeds 0-2 (a slot *holds* an object when over half its attention lies on it):

1. The shape. Every relational answer is a shape or a count of shapes, and without normalisation the
   CNN never learnt circle from square on seed 1 (shape 0.54 after 12 epochs, relational at priors).
   Batch normalisation after each conv: shape 1.00 on all three seeds, non-relational 0.99-1.00.
2. The slots must hold all six objects. Six slots held 3.7 / 2.7 / 2.6 objects per image (seeds 0-2,
   20 epochs, the normalised CNN; seed 1 with the pair offsets of 3.): the colours no slot found
   could not be related. Twelve slots held 5.0 / 5.7 / 3.5 (seed 0 with the offsets); sixteen, 4.3
   on seed 0 (with them). Twelve slots that compete for cells (``ShareAmongSlots``, Slot Attention's
   softmax over the slots), with the offsets: 5.8 / 6.0 / 6.0 after 50 epochs (seed 0: 6.0 after
   20).
3. Distance. With the slots split and g given each object's (x, y) alone, closest and furthest stayed
   at 66% / 72% after 20 epochs (seed 1). With the pair's offsets and their squares (``PairOffsets``),
   seed 1 reached 93% / 95% in 20 epochs; seeds 0 and 2 learnt them after plateaus of 20-30 epochs.

With all three, 50 epochs: 96.8% / 99.4%, 94.8% / 99.2%, 92.6% / 99.6% on seeds 0, 1, 2. Training
is not smooth: seed 0 lost everything for a few epochs at epoch 34 and recovered, so there is no
early stop; the best epoch on validation is kept.

Where it still breaks. Those runs wrote the competition as ``log_softmax``; int8 could not hold that
(see ``ShareAmongSlots``), so it became ``s - logsumexp``: the same function, other rounding. With
it the full runs of seeds 0-2 learnt the relations on none of the three (docs/lessons.md: on seed 0
the slots held 4.7 objects; on seeds 1 and 2 they held all six and counted, but closest and furthest
stayed near their priors after 50 epochs). Relations are learnt late, after long plateaus, and
whether they are learnt in the budget depends on the initialisation and on rounding. A longer budget
alone does not fix it: seed 1 trained for 80 epochs (validation, slots holding all six objects)
crept to 82.3% relational, closest 72% and furthest 75%, where the log_softmax build had jumped from
69% to 90% closest between epochs 27 and 42. Seeds 3, 4, 5 (validation, the relation network alone,
50 epochs): relational 89.5% / 97.5% / 77.2% (seed 5's slots held 4.7 objects). This design reaches
the paper's accuracy on some runs (about one in three to one in two), not reliably. The test split
was read once per seed; nothing was re-selected after it.

Earlier measurements kept: a loss on the slots' overlap, or sharpening the question's own attention,
made things worse; the rate 2e-3 (against 1e-3) is faster. The distance features are a choice a
reviewer should know about: g is handed the squared offsets it would otherwise have to learn (as
E(n)-equivariant graph networks hand their edge function the squared distance); the CNN+MLP has no
pairs to hand them to.

The baseline's own tuning, also on validation (selected on validation accuracy over all questions,
like its early stopping; relational / non-relational; before batch normalisation): 128 units, rate
1e-3 49% / 72%; 512 units 48% / 69%; 256 units with an 8x8 grid and dropout 0.25 never left chance
(42% / 49%); 256 units, batch normalization after its own convs, dropout 0.25 near chance (45% /
54%); 256 units, rate 3e-4 54% / 71%, the best, kept; with twice the epochs, a little better again.
With the model's batch-normalised CNN and its 50 epochs (seed 0): 52.1% / 74.2% at its best epoch,
against 49.7% / 74.6% without normalisation (63.2% against 62.2% over all questions), so it keeps
the same CNN as the model, normalisation included. Its rate, again, with that CNN: 1e-4 49.8% /
60.7% (55.3% over all), 3e-4 63.2%, 1e-3 73.2% / 57.0% (65.1%, best at epoch 19): 1e-3 is kept. It
is the better model over all questions and on the relational ones, the worse on the non-relational
ones: the rule (validation accuracy over all questions) was fixed before, and it chose. On 2,000
images it does not learn to look up a colour at any rate tried (non-relational 57-75% on validation;
at 3e-4 its training loss kept falling while validation stayed flat); see docs/lessons.md for why
its bar is not met.

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
    summary=("Sort-of-CLEVR: six coloured shapes, 36 questions per image. Competing slots find the objects in a "
             "CNN's map, the question finds its own subject among the cells, and a relation network relates them. "
             "It answers the non-relational questions on every seed; counting, closest and furthest are learnt "
             "late and only on some runs (0 of 3 seeds reach the relational bar), and a tuned CNN+MLP with the same "
             "CNN beats it on relational questions on one seed of three while failing to find the colours."),
    bars=(Bar("relational_accuracy", ">=", 0.85), Bar("non_relational_accuracy", ">=", 0.95),
          Bar("baseline_non_relational_accuracy", ">=", 0.90)),
    quantized_tolerance=0.02,
    # int8-full (int8 in and out, for NPUs) keeps no layer in float: measured -0.071 on seed 0 (-0.132 on an earlier
    # build of the same design). The slots' scores are sharpened x10 before their softmax over the cells, and 256
    # levels do not separate the cells; the int8 TFLite artifact keeps those layers in float and holds (-0.018);
    # ONNX int8 holds with none in float.
    full_integer_tolerance=0.15,
    baselines=("CNN+MLP",),
)


@dataclasses.dataclass(frozen=True)
class Config:
    image_size: int = 64  # pixels per side (the paper: 75)
    n_train: int = 2000  # training images, 36 questions each
    n_val: int = 200  # images for early stopping
    n_test: int = 500  # held-out images (18,000 questions), scored once
    filters: int = 32  # channels of each of the CNN's convs
    attention_units: int = 32  # width of the cells' keys and of the question's query
    slots: int = 12  # objects found by attention (learnt queries tied to no colour); twice the objects, see above
    slot_compete: float = 1.0  # weight of each slot's log share of a cell among the slots (0: no competition)
    slot_sharpen: float = 10.0  # slot scores are multiplied by this before their softmax over the cells
    sharpen: float = 1.0  # the question's scores are multiplied by this before their softmax over the cells
    g_units: int = 64  # width of g, the MLP applied to every pair (subject, object j)
    f_units: int = 128  # width of f, the MLP that reads the pooled relations
    mlp_units: int = 256  # width of the CNN+MLP baseline's layers
    mlp_downsample: int = 2  # the baseline's stride-2 convs after the CNN: 2 -> a 4x4 grid, 1 -> 8x8
    mlp_batchnorm: bool = False  # batch normalisation after the baseline's own convs
    mlp_dropout: float = 0.0  # dropout before the baseline's 2nd and 3rd layers
    mlp_learning_rate: float = 1e-3  # the baseline's Adam rate (tuned on validation like the model's)
    mlp_epochs: int = 50  # the baseline's passes over the training images (the model's budget)
    epochs: int = 50  # passes over the training images (the best epoch on validation accuracy is kept)
    batch_size: int = 8  # images per step (each with its 36 questions)
    learning_rate: float = 2e-3  # Adam; divided by 10 for the last 20% of the steps
    seed: int = 0  # scenes, initial weights, shuffling

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_train=64, n_val=16, n_test=32, filters=8, attention_units=8, g_units=8, f_units=16, mlp_units=16,
                   epochs=1, mlp_epochs=1)


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


@keras.saving.register_keras_serializable(package="dlbootcamp")
class ShareAmongSlots(keras.layers.Layer):
    """Slots compete for cells: each slot's score for a cell gains ``weight`` x log(its share of that cell among
    the slots), a softmax over the slots (as in Slot Attention, Locatello et al. 2020). A cell one slot holds
    strongly is cheap for no other, so the slots spread over the objects instead of piling onto a few.
    Written as s + w (s - logsumexp over the slots) rather than with log_softmax: the same numbers, but TFLite's
    int8 LOG_SOFTMAX has a fixed output range that ends at -16 and clipped the shares (relational accuracy 0.74
    instead of 0.96 with no layer in float), where max, exp, sum and log are each calibrated."""

    def __init__(self, weight: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.weight = weight

    def call(self, scores):  # (B, slots, cells)
        return scores + self.weight * (scores - keras.ops.logsumexp(scores, axis=1, keepdims=True))

    def get_config(self):
        return {**super().get_config(), "weight": self.weight}


@keras.saving.register_keras_serializable(package="dlbootcamp")
class PairOffsets(keras.layers.Layer):
    """The geometry of every (subject, object) pair: (dx, dy, dx^2, dy^2) from their (x, y), the last two channels.
    g reads them beside the pair's features, as the edge function of an E(n)-equivariant graph network reads the
    squared distance (Satorras et al. 2021): (B, K, 11) questions' subjects x (B, n, c) objects -> (B, K, n, 4)."""

    def call(self, inputs):
        subject, objects = inputs  # the (x, y) sliced on the last axis only: TFLite has no new-axis strided slice
        d = keras.ops.expand_dims(objects[..., -2:], 1) - keras.ops.expand_dims(subject[..., -2:], 2)
        return keras.ops.concatenate([d, d * d], axis=-1)


def cnn(cfg: Config, image, strides=(2, 2, 1)):
    """Two stride-2 convs and a stride-1 one: a 16x16 map of 4-pixel cells that each see 15 pixels, a whole
    10-pixel object. Each conv is batch-normalised: without it, whether the CNN learnt an object's shape at
    all depended on the seed (validation shape accuracy 0.54 after 12 epochs on seed 1; 1.00 with it). At
    inference batch normalisation is a fixed scale and shift, folded into the conv on export (GroupNormalization,
    which normalises each image by its own mostly white statistics, had missed fp32 parity at 3e-4)."""
    x = image
    for i, stride in enumerate(strides, start=1):
        x = keras.layers.Conv2D(cfg.filters, 3, strides=stride, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(keras.layers.BatchNormalization(name=f"norm{i}")(x))
    return x


def cells(x, name: str):
    """A feature map (B, h, w, c) as its cells, each tagged with its (x, y): (B, h * w, c + 2)."""
    h, w, c = x.shape[1:]
    return keras.layers.Reshape((h * w, c + 2), name=name)(AppendCoordinates(name=f"{name}_xy")(x))


def inputs(cfg: Config):  # an image, and any number K of questions about it
    return keras.Input((cfg.image_size, cfg.image_size, 3), name="image"), keras.Input((None, 11), name="questions")


def build_model(cfg: Config) -> keras.Model:
    """Relation network: answers (batch, K, 12) to K questions (batch, K, 11) about each image. Training
    gives each image all 36 of its questions, so the CNN sees it once per step."""
    image, questions = inputs(cfg)
    layer, g, a = keras.layers, cfg.g_units, cfg.attention_units
    x = cnn(cfg, image)  # (B, 16, 16, filters)
    colour = layer.AveragePooling2D(cfg.image_size // x.shape[1], name="cell_colour")(image)  # each cell's mean RGB
    fine = cells(layer.Concatenate(name="with_colour")([x, colour]), "fine_cells")  # (B, 256, filters + 5)
    keys = layer.Dense(a, name="cell_keys")(layer.Dense(a, activation="relu", name="cell_hidden")(fine))
    # The objects: slots, each a learnt query scoring every cell; its softmax over the cells averages their
    # features and (x, y). A slot is tied to no colour and to no question: what it holds, it learns.
    slot_scores = layer.Permute((2, 1), name="per_slot")(layer.Dense(cfg.slots, use_bias=False,
                                                                      name="slot_queries")(keys))
    slot_scores = layer.Rescaling(cfg.slot_sharpen, name="slot_sharpen")(slot_scores)
    slots = layer.Softmax(name="slots")(ShareAmongSlots(cfg.slot_compete, name="share_among_slots")(slot_scores))
    o = layer.Dot(axes=(2, 1), name="objects")([slots, fine])  # (B, slots, filters + 5)
    # The question finds its subject: a query from the whole question vector scores every cell against the
    # same keys; the softmax averages the cells. Nothing ties a colour to a place or a slot: the question has
    # to learn which features its colour makes.
    query = layer.Dense(a, name="query")(questions)  # (B, K, a)
    scores = layer.Dot(axes=(2, 2), name="scores")([query, keys])
    where = layer.Softmax(name="attention")(layer.Rescaling(cfg.sharpen, name="sharpen")(scores))  # (B, K, 256)
    subject = layer.Dot(axes=(2, 1), name="subject")([where, fine])  # (B, K, filters + 5)
    n = cfg.slots
    # g's first layer is linear in [subject; o_j; q; overlap; geometry], so it splits into A subject + B o_j +
    # Q q + c overlap + D geometry: each part computed once, then broadcast-added over the K x n pairs. The
    # overlap of the question's attention with slot j's says whether slot j holds the subject itself; the
    # geometry is the pair's offsets and their squares, from which one linear unit is the squared distance.
    overlap = layer.Reshape((-1, n, 1), name="is_subject")(layer.Dot(axes=(2, 2), name="overlap")([where, slots]))
    parts = [layer.Reshape((-1, 1, g), name="first")(layer.Dense(g, use_bias=False, name="g_i")(subject)),
             layer.Reshape((1, n, g), name="second")(layer.Dense(g, use_bias=False, name="g_j")(o)),
             layer.Reshape((-1, 1, g), name="q_per_pair")(layer.Dense(g, name="g_q")(questions)),
             layer.Dense(g, use_bias=False, name="g_self")(overlap),
             layer.Dense(g, use_bias=False, name="g_geometry")(PairOffsets(name="pair_offsets")([subject, o]))]
    x = layer.ReLU(name="g1")(layer.Add(name="pairs")(parts))
    x = layer.Dense(g, activation="relu", name="g2")(x)
    x = layer.Dense(g, activation="relu", name="g3")(x)
    # Each pair weighted by a learnt sigmoid of slot j: a slot that holds background or a duplicate drops out.
    gate = layer.Reshape((1, n, 1), name="per_object")(layer.Dense(1, activation="sigmoid", name="gate")(o))
    x = layer.Multiply(name="gated")([x, gate])
    # Pool over the pairs: the RN's sum counts; a max picks an extreme (closest, furthest).
    total = layer.Rescaling(float(n), name="sum")(layer.AveragePooling2D((1, n), name="mean_over_pairs")(x))
    total = layer.Reshape((-1, g), name="sum_over_pairs")(total)
    top = layer.Reshape((-1, g), name="max")(layer.MaxPooling2D((1, n), name="max_over_pairs")(x))
    x = layer.Concatenate(name="f_in")([total, top, questions])
    x = layer.Dense(cfg.f_units, activation="relu", name="f1")(x)
    x = layer.Dense(cfg.f_units, activation="relu", name="f2")(x)
    answers = layer.Dense(len(ANSWERS), activation="softmax", name="answers")(x)
    return keras.Model([image, questions], answers, name="relation_network")


def build_baseline(cfg: Config) -> keras.Model:
    """CNN+MLP: the same CNN, the same mean colour and (x, y) channels on its cells, then stride-2 convs down
    to a grid (as after the paper's four stride-2 convs), flattened, with the question appended; no objects,
    no pairs."""
    image, questions = inputs(cfg)
    u, layer = cfg.mlp_units, keras.layers  # Dense([image; q]) = W1 image + W2 q: W1 image once per image
    x = cnn(cfg, image)
    colour = layer.AveragePooling2D(cfg.image_size // x.shape[1], name="cell_colour")(image)
    x = AppendCoordinates(name="fine_xy")(layer.Concatenate(name="with_colour")([x, colour]))
    for i in range(cfg.mlp_downsample):
        x = layer.Conv2D(cfg.filters, 3, strides=2, padding="same", activation="relu", name=f"conv{4 + i}")(x)
        if cfg.mlp_batchnorm:  # the paper's CNN+MLP normalises its convs (this model is not exported)
            x = layer.BatchNormalization(name=f"norm{4 + i}")(x)
    flat = layer.Flatten(name="flat")(AppendCoordinates(name="grid_xy")(x))
    img = layer.Reshape((1, u), name="per_image")(layer.Dense(u, name="h_image")(flat))
    x = layer.ReLU(name="h1")(layer.Add(name="concat")([img, layer.Dense(u, name="h_q")(questions)]))
    for i in (2, 3):
        x = layer.Dense(u, activation="relu", name=f"h{i}")(layer.Dropout(cfg.mlp_dropout, seed=cfg.seed)(x))
    answers = layer.Dense(len(ANSWERS), activation="softmax", name="answers")(x)
    return keras.Model([image, questions], answers, name="cnn_mlp")


# --- train: the baseline, then the relation network, on the same budget -------------------------------

def fit(model: keras.Model, cfg: Config, data: datasets.Splits, run) -> dict[str, list[float]]:
    # A constant rate for 80% of the steps (relations are learnt late), then a tenth of it to settle.
    rn = model.name == "relation_network"
    lr, epochs = (cfg.learning_rate, cfg.epochs) if rn else (cfg.mlp_learning_rate, cfg.mlp_epochs)
    steps = epochs * -(-len(data.train) // cfg.batch_size)
    rate = keras.optimizers.schedules.PiecewiseConstantDecay([int(0.8 * steps)], [lr, lr / 10])
    model.compile(optimizer=keras.optimizers.Adam(rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    # Relations are learnt late, after plateaus of 20-30 epochs: no early stop, the best epoch is kept.
    best = training.early_stopping("val_accuracy", patience=epochs, mode="max")
    history = model.fit(model_inputs(data.train), data.train.y, batch_size=cfg.batch_size, epochs=epochs,
                        validation_data=(model_inputs(data.val), data.val.y), verbose=0, shuffle=True,
                        callbacks=[*run.callbacks(), best])
    prefix = "" if model.name == "relation_network" else f"{model.name}_"
    return {k.replace("val_", "val_" + prefix) if k.startswith("val_") else prefix + k: v
            for k, v in training.history_dict(history).items()}


def train(cfg: Config, run) -> Trained:
    training.seed_everything(cfg.seed)
    data = load_data(cfg)
    run.log(f"  data: {data.sizes()} images x 36 questions, {data.source}")
    history, scores, models = {}, {}, {}
    for name, build in (("CNN+MLP", build_baseline), ("relation network", build_model)):
        training.seed_everything(cfg.seed)  # each model's weights and shuffling depend on the seed alone
        models[name] = model = build(cfg)
        history.update(fit(model, cfg, data, run))
        scores[name] = evaluate(training.predict_fn(model, batch_size=64), data)
        run.log(f"  {name}: held-out relational {scores[name]['relational_accuracy']:.3f}, "
                f"non-relational {scores[name]['non_relational_accuracy']:.3f}")
    rn, mlp = scores["relation network"], scores["CNN+MLP"]
    found = subjects_found(models["relation network"], data.test)
    save_pictures(models, scores, found, data, run)
    notes = [f"relational / non-relational accuracy: relation network {rn['relational_accuracy']:.1%} / "
             f"{rn['non_relational_accuracy']:.1%}, CNN+MLP {mlp['relational_accuracy']:.1%} / "
             f"{mlp['non_relational_accuracy']:.1%}: a relational gap of "
             f"{rn['relational_accuracy'] - mlp['relational_accuracy']:.1%} (paper: RN 94%, CNN+MLP 63%)",
             f"the question's attention rests mostly on its colour's object in {found['found']:.1%} of held-out "
             f"(image, question) pairs; the {cfg.slots} slots hold {found['objects_held']:.2f} of the 6 objects per "
             "held-out image"]
    return Trained(exports={"model": models["relation network"]}, history=history, notes=notes,
                   metrics={**rn, "relational_gap": rn["relational_accuracy"] - mlp["relational_accuracy"],
                            "subject_found": found["found"],
                            "objects_held": found["objects_held"], **{f"baseline_{k}": v for k, v in mlp.items()}},
                   baselines={"CNN+MLP": mlp})


def subjects_found(model: keras.Model, split: datasets.Split) -> dict:
    """Where each question looks (n, 36, cells), how much of that attention lies on each colour's object
    (n, 36, 6), ``found``: how often the most of it lies on the question's own colour, and ``objects_held``: how
    many of the six objects the slots hold per image (a slot holds an object when over half its attention
    lies on it; the relations need all six)."""
    probe = keras.Model(model.inputs, [model.get_layer("attention").output, model.get_layer("slots").output])
    where, slots = probe.predict(model_inputs(split), verbose=0, batch_size=64)
    (n, h), side = split.x.shape[:2], int(round(np.sqrt(where.shape[-1])))  # side: cells per side
    rgb = np.round(np.array([scenes.COLOURS[c] for c in COLOURS]) * 255)[:, None, None]
    painted = (split.x[:, None] == rgb).all(-1).reshape(n, N_OBJECTS, side, h // side, side, h // side)
    painted = painted.any(axis=(3, 5)).reshape(n, N_OBJECTS, -1)  # (n, colours, cells): the cells it touches
    mass = np.einsum("nqx,ncx->nqc", where, painted)
    held = np.einsum("nsx,ncx->nsc", slots, painted)  # (n, slots, colours)
    objects = [len(set(held[i].argmax(-1)[held[i].max(-1) > 0.5])) for i in range(n)]
    asked = QUESTIONS[:, :N_OBJECTS].argmax(-1)  # (36,) the colour each question names
    return {"where": where, "mass": mass, "found": float((mass.argmax(-1) == asked).mean()), "slots": slots,
            "objects_held": float(np.mean(objects))}


# --- pictures --------------------------------------------------------------------------------------

def save_pictures(models: dict, scores: dict, found: dict, data: datasets.Splits, run) -> None:
    """Accuracy by kind of question (the paper's table), answers to a few questions, where the questions look.
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
    # Where the shape question about each colour looks in one held-out image.
    side, size = int(round(np.sqrt(found["where"].shape[-1]))), x[0].shape[1]
    asked = QUESTIONS[:, :N_OBJECTS].argmax(-1)
    fig, axes = plt.subplots(1, N_OBJECTS, figsize=(2.2 * N_OBJECTS, 2.7))
    for k, ax in enumerate(axes):
        q = 6 * k  # "What shape is the <colour k> object?"
        ax.imshow(x[0][0])
        ax.imshow(found["where"][0, q].reshape(side, side), cmap="magma", alpha=0.6, extent=(0, size, size, 0))
        on = (found["mass"][:, asked == k].argmax(-1) == k).mean()
        ax.set(title=f"{COLOURS[k]}: found {on:.0%}", xticks=[], yticks=[])
    fig.suptitle(f"Where a question about each colour looks (softmax over {side}x{side} cells), how often it finds it")
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    run.save_figure(fig, "attention")
    # What each slot holds in the same image: the objects g relates the subject to.
    n_slots = found["slots"].shape[1]
    fig, axes = plt.subplots(2, -(-n_slots // 2), figsize=(1.9 * -(-n_slots // 2), 4.2))
    for k, ax in enumerate(axes.flat):
        ax.set(xticks=[], yticks=[])
        if k < n_slots:
            ax.imshow(x[0][0])
            ax.imshow(found["slots"][0, k].reshape(side, side), cmap="magma", alpha=0.6, extent=(0, size, size, 0))
            ax.set_title(f"slot {k}", fontsize=9)
    fig.suptitle(f"What the {n_slots} slots hold (competing for cells); on held-out images they hold "
                 f"{found['objects_held']:.2f} of the 6 objects")
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    run.save_figure(fig, "slots")


# --- evaluate: the same code scores Keras, TFLite and ONNX ---------------------------------------

def evaluate(predict, data: datasets.Splits) -> dict[str, float]:
    right = np.asarray(predict(model_inputs(data.test))).argmax(-1) == data.test.y  # (images, 36)
    by_kind = right.reshape(len(right), len(COLOURS), 6).mean(axis=(0, 1))
    return {"relational_accuracy": float(right[:, RELATIONAL].mean()),
            "non_relational_accuracy": float(right[:, ~RELATIONAL].mean()),
            **{f"{k}_accuracy": float(a) for k, a in zip(KIND_NAMES, by_kind)}}
