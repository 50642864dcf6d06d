"""Day 10 - "We've suggested tags for your photos. Who is this?"

Seed 002: a social network finds the faces in a photo and suggests whose they are (DeepFace).
Face tagging is two problems, *detection* (where is a face?) then *recognition* (whose is it?).

(a) Detection. A CNN learns face vs non-face on scikit-image's ``lfw_subset`` (100 faces from
Labeled Faces in the Wild, 100 non-face patches, 25x25 gray; split 60/15/25 by the seed,
stratified); its first layer standardises each window, so it judges structure, not brightness.
Slid over every position of an image pyramid (faces of 32-256 px) it becomes a detector: windows
whose face score reaches a threshold are candidates, each ranked by the votes of the candidates
overlapping it by IoU 0.7 or more (a face fires the CNN at many nearby positions and scales, a
fooling texture less often), and non-max suppression thins the boxes. 100 non-faces cannot teach "everything else", so
we add random windows of face-free photos (a cat, coffee, coins, a rocket, textures...) and then
*hard negatives* - the windows of those photos the CNN scores highest - and retrain, for
``Config.mining_rounds`` rounds: the Viola-Jones / Dalal-Triggs trick.

The test photo is the astronaut Eileen Collins: the best box must overlap the reference box
(y0, x0, y1, x1) = (66, 174, 162, 270) - what scikit-image's LBP face cascade finds there,
eyebrows to chin like the LFW crops - by IoU >= 0.5. The detector's settings are chosen on
*validation* images instead: the validation faces of lfw_subset pasted, at a known box and a random
size of 48-192 px, onto face-free photos the miner never saw (china, flower, motorcycle), and one
real photo, Grace Hopper's portrait (matplotlib's sample data; its box found by
the same cascade). A pasted square is not a face in its scene (its edges are sharp, its lighting its
own), so the composites are a proxy; the portrait is a real face in a real scene, but only one.
Every run picks the score a window needs to vote from ``MIN_SCORES`` by half the composites' mean
best-box IoU plus half the portrait's, for each predict function it scores (Keras or an artifact).
The number of mining rounds, the searched face sizes and the vote overlap were chosen on the same
score once (the sizes and the overlap had first been set while looking at the astronaut).

(b) Matching. An embedding network maps a face to a unit vector, trained *contrastively*
(SimCLR's NT-Xent loss): two random distortions of one photo must land close together and far
from every other photo in the batch. Held-out faces (validation and test) form the gallery;
distorted copies of them are the queries, matched to the most similar gallery face (cosine); a
raw-pixel matcher on the same queries is one baseline; the classical descriptor of Dalal and
Triggs (HOG: histograms of gradient directions in small cells) is the other, for matching (cosine
between descriptors) and for the face/non-face classifier (a logistic regression on HOG, tuned on
validation). What this cannot show: ``lfw_subset`` has no identity labels, so top-1 measures
*instance* matching - re-finding the same photo under shifts, zoom, rotation, flips, lighting and
noise - not whether two different photos of one person match (LFW repeats some people; a query
landing on another photo of the same person counts as a miss here). Recognising people needs
identity-labelled data such as the full LFW, which is not offline.

The bars: face/non-face accuracy on the test windows of lfw_subset >= 0.90, the astronaut's best
box at IoU >= 0.5 with the reference, and instance-matching top-1 >= 0.80.

How it was built, the settings chosen on validation and what the astronaut showed afterwards:
docs/evidence/faces.md. Measured numbers (per seed, with the baselines): docs/lessons.md.
"""

from __future__ import annotations

import dataclasses
import functools

import keras
import numpy as np
import tensorflow as tf

from dlbootcamp import data as datasets
from dlbootcamp.data import photos
from dlbootcamp import detection, plots, training
from dlbootcamp.errors import UserError
from dlbootcamp.lesson import Bar, LessonInfo, Trained

LESSON = LessonInfo(
    id="faces",
    day=10,
    title="Faces: a sliding-window CNN detector, and a contrastive embedding that re-finds a face photo",
    seeds=("002",),
    topics=("face detection", "sliding window", "image pyramid", "non-max suppression", "hard negative mining",
            "contrastive learning", "embedding", "instance matching"),
    summary=("A face/non-face CNN on lfw_subset becomes a multi-scale sliding-window detector, its threshold chosen "
             "on pasted faces and one real portrait, tested on another real photo (the astronaut), where a photo's "
             "own distractors can outrank the face; a contrastively trained "
             "embedding re-finds held-out photos under distortions (matching a photo, not recognising a person), "
             "against raw pixels and HOG."),
    bars=(Bar("test_accuracy", ">=", 0.90), Bar("astronaut_iou", ">=", 0.5), Bar("matching_top1", ">=", 0.80)),
    quantized_tolerance=0.02,  # int8 classifier: at most one of the 50 held-out windows more wrong
    distribute=False,  # the contrastive loop is hand-written for one device
    baselines=("raw pixels", "HOG"),
)

SIZE = 25  # lfw_subset windows are 25x25
REFERENCE_BOX = (66.0, 174.0, 162.0, 270.0)  # astronaut face (y0, x0, y1, x1): scikit-image's LBP cascade
VAL_PORTRAIT = "grace_hopper"  # a real frontal face for validation (photos.PORTRAITS), shrunk to 512 px
VAL_PORTRAIT_BOX = (106.0, 145.0, 272.0, 311.0)  # its face: the LBP cascade, scale_factor 1.1, sizes 60-250
VAL_BACKGROUNDS = ("china", "flower", "motorcycle")  # face-free, not in FACE_FREE_PHOTOS: validation only
COMPOSITE_SIZES = (48, 192)  # the pasted validation faces' sides (within the searched range), whatever is searched
MIN_SCORES = (0.5, 0.6, 0.7, 0.8, 0.9)  # the face scores a window may need to vote; validation picks one
FACE_FREE_PHOTOS = ("coffee", "chelsea", "rocket", "brick", "grass", "gravel", "coins", "moon", "hubble_deep_field",
                    "page", "clock", "text", "immunohistochemistry", "retina", "colorwheel", "cell")


@dataclasses.dataclass(frozen=True)
class Config:
    filters: tuple[int, ...] = (16, 32)  # face classifier: conv channels per block (conv + pool)
    dense: int = 64  # face classifier: units before the face probability
    epochs: int = 80  # face classifier: passes per training round (early stopping on validation)
    batch_size: int = 32
    learning_rate: float = 1e-3  # Adam, both networks
    label_smoothing: float = 0.1  # keeps face scores below 1.0, so windows can still be ranked
    random_negatives: int = 50  # random windows from each face-free photo, added before the first round
    mining_rounds: int = 4  # hard-negative mining rounds after the first training (chosen on validation, see above)
    negatives_per_photo: int = 15  # highest-scoring windows kept from each face-free photo per round
    # detection: windows scoring at least this are candidates that vote. None: chosen from MIN_SCORES on the
    # validation composites and portrait (choose_min_score), for each predict function scored (Keras or artifact)
    min_score: float | None = None
    face_sizes: tuple[int, ...] = (32, 256)  # smallest and largest face side (pixels) the detector looks for
    vote_iou: float = 0.7  # a candidate window supports (votes for) the boxes it overlaps by this IoU
    scale_step: float = 1.15  # ratio between pyramid levels
    stride: int = 2  # window step in pyramid pixels
    embed_dim: int = 32  # size of the face embedding
    embed_steps: int = 600  # contrastive training steps (a batch = every training face, two views each)
    temperature: float = 0.1  # NT-Xent softmax temperature
    queries_per_face: int = 5  # distorted queries per held-out gallery face
    seed: int = 0  # split, weights, augmentations, queries

    def __post_init__(self):
        sizes = self.face_sizes
        if len(sizes) != 2 or not 0 < sizes[0] <= sizes[1] or self.scale_step <= 1:
            raise UserError(f"Invalid face_sizes {sizes} / scale_step {self.scale_step}: expected two face sides "
                            f"0 < smallest <= largest and a step > 1; set e.g. --set face_sizes=32,256.")

    @classmethod
    def quick(cls) -> "Config":
        return cls(filters=(8, 16), dense=16, epochs=2, random_negatives=5, mining_rounds=1, negatives_per_photo=2,
                   face_sizes=(96, 128), scale_step=1.3, stride=8, embed_dim=8, embed_steps=3,
                   queries_per_face=1)


# --- data ---------------------------------------------------------------------------------------

PREPROCESSING = "25x25x1 grayscale window, float32 in [0, 1] (RGB photos through skimage.color.rgb2gray)"


@dataclasses.dataclass(frozen=True)
class FaceData:
    splits: datasets.Splits  # lfw_subset (N, 25, 25, 1), y = 1 for a face; 60/15/25 stratified
    astronaut: np.ndarray  # 512x512 gray, the detection test image
    scales: tuple[float, ...]  # pyramid factors the detector uses
    stride: int  # window step in pyramid pixels
    min_score: float | None  # face score a window needs to vote (None: chosen on validation, choose_min_score)
    vote_iou: float  # the overlap with which a candidate window votes for a box
    gallery: np.ndarray  # held-out faces (validation + test): the people we "know"
    queries: np.ndarray  # distorted copies of gallery faces
    query_ids: np.ndarray  # which gallery face each query is
    val_images: tuple[np.ndarray, ...] = ()  # validation detection images: a validation face pasted on a photo
    val_boxes: np.ndarray | None = None  # (V, 4) where each was pasted (y0, x0, y1, x1)
    val_portrait: np.ndarray | None = None  # a real photo with one face at VAL_PORTRAIT_BOX (validation)


def augmenter(seed: int) -> keras.Sequential:
    """Random distortions that keep a face the same face: flip, rotate, zoom, shift, light, noise."""
    return keras.Sequential([
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomRotation(0.03, seed=seed + 1),
        keras.layers.RandomZoom(0.12, seed=seed + 2),
        keras.layers.RandomTranslation(0.1, 0.1, seed=seed + 3),
        keras.layers.RandomContrast(0.3, value_range=(0, 1), seed=seed + 4),
        keras.layers.RandomBrightness(0.15, value_range=(0, 1), seed=seed + 5),
        keras.layers.GaussianNoise(0.03, seed=seed + 6),
    ], name="augment")


def gray(image: np.ndarray, longest: int = 512) -> np.ndarray:
    """A photo as float32 gray in [0, 1], shrunk so its longest side is at most ``longest``."""
    from skimage import color, transform, util

    image = util.img_as_float(np.asarray(image))
    image = color.rgb2gray(image[..., :3]) if image.ndim == 3 else image
    factor = min(1.0, longest / max(image.shape))
    return transform.rescale(image, factor, anti_aliasing=factor < 1).astype(np.float32)


def load_data(cfg: Config) -> FaceData:
    from skimage import data as skdata

    x = skdata.lfw_subset().astype(np.float32)[..., None]
    y = np.r_[np.ones(100), np.zeros(100)].astype(np.int64)  # the first 100 are faces
    splits = datasets.split_arrays(x, y, val=0.15, test=0.25, seed=cfg.seed, labels=("non-face", "face"),
                                   source="scikit-image:lfw_subset")
    gallery = np.concatenate([s.x[s.y == 1] for s in (splits.val, splits.test)])
    ids = np.repeat(np.arange(len(gallery)), cfg.queries_per_face)
    queries = augmenter(cfg.seed + 100)(gallery[ids], training=True).numpy().clip(0, 1)
    scales = detection.window_scales(SIZE, cfg.face_sizes[0], cfg.face_sizes[-1], cfg.scale_step)
    pasted_sizes = (max(COMPOSITE_SIZES[0], cfg.face_sizes[0]), min(COMPOSITE_SIZES[1], cfg.face_sizes[1]))
    val_images, val_boxes = composites(splits.val.x[splits.val.y == 1], pasted_sizes, seed=cfg.seed + 200)
    return FaceData(splits, gray(skdata.astronaut()), scales, cfg.stride, cfg.min_score, cfg.vote_iou, gallery,
                    queries, ids, val_images, val_boxes, gray(photos.PORTRAITS[VAL_PORTRAIT]()))


def composites(faces: np.ndarray, sizes: tuple[int, int], seed: int, canvas: int = 320):
    """Validation detection images: each face (25x25) enlarged to a random side within ``sizes`` and
    pasted at a random place on a ``canvas``-square crop of a face-free photo the detector never mined
    negatives from. Returns (images, boxes (V, 4) as y0, x0, y1, x1)."""
    backgrounds = [gray(photos.load(n)) for n in VAL_BACKGROUNDS]
    return detection.pasted(faces[..., 0], backgrounds, sizes, seed=seed, canvas=canvas)


def representative_data(data: FaceData, n: int = 200, split: str = "train"):
    return {"model": getattr(data.splits, split).x[:n],
            "embedder": data.gallery[:n] if split == "test" else data.splits.train.x[data.splits.train.y == 1][:n]}


def sidecar(data: FaceData) -> dict:
    return {"labels": list(data.splits.labels), "preprocessing": PREPROCESSING,
            "outputs": {"model": "face probability", "embedder": "unit-length embedding; match by dot product"}}


# --- models ---------------------------------------------------------------------------------------

def standardize(x):
    """Each window to zero mean and unit contrast (Viola-Jones' variance normalisation): the
    network sees structure, not how bright the photo was. The epsilon keeps flat patches flat."""
    return keras.layers.LayerNormalization(axis=(1, 2, 3), center=False, scale=False, epsilon=1e-2,
                                           name="standardize")(x)


def conv_trunk(x, filters, prefix):
    for i, f in enumerate(filters, start=1):
        x = keras.layers.Conv2D(f, 3, padding="same", activation="relu", name=f"{prefix}conv{i}")(x)
        x = keras.layers.MaxPooling2D(name=f"{prefix}pool{i}")(x)
    return keras.layers.Flatten(name=f"{prefix}flatten")(x)


def build_model(cfg: Config) -> keras.Model:
    """Face classifier: a 25x25 window -> probability that it shows a face."""
    inputs = keras.Input((SIZE, SIZE, 1), name="window")
    x = keras.layers.Dropout(0.3, seed=cfg.seed, name="dropout")(conv_trunk(standardize(inputs), cfg.filters, ""))
    x = keras.layers.Dense(cfg.dense, activation="relu", name="hidden")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="face_probability")(x)
    return keras.Model(inputs, outputs, name="face_classifier")


def build_embedder(cfg: Config) -> keras.Model:
    """Face embedding: a 25x25 face -> unit vector; same photo close, other photos far."""
    inputs = keras.Input((SIZE, SIZE, 1), name="face")
    x = conv_trunk(inputs, (*cfg.filters, cfg.filters[-1] * 2), "emb_")
    x = keras.layers.Dense(4 * cfg.embed_dim, activation="relu", name="emb_hidden")(x)
    x = keras.layers.Dense(cfg.embed_dim, name="emb_project")(x)
    return keras.Model(inputs, keras.layers.UnitNormalization(name="embedding")(x), name="face_embedder")


# --- (a) detection: classifier, then hard negatives, then a sliding window ---------------------------

def fit_classifier(cfg: Config, data: FaceData, extra_negatives: np.ndarray, callbacks) -> tuple[keras.Model, dict]:
    x = np.concatenate([data.splits.train.x, extra_negatives])
    y = np.concatenate([data.splits.train.y, np.zeros(len(extra_negatives), np.int64)])
    aug = augmenter(cfg.seed)
    train_ds = datasets.batches(x, y, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed).map(
        lambda a, b: (tf.clip_by_value(aug(a, training=True), 0.0, 1.0), b)).prefetch(tf.data.AUTOTUNE)
    # ^ augment the next batches while this one trains (same batches, same order: only the waiting goes)
    model = build_model(cfg)
    model.compile(keras.optimizers.Adam(cfg.learning_rate), keras.losses.BinaryCrossentropy(
        label_smoothing=cfg.label_smoothing), metrics=["accuracy"])
    fit = model.fit(train_ds, validation_data=(data.splits.val.x, data.splits.val.y), epochs=cfg.epochs,
                    verbose=0, shuffle=False, callbacks=[*callbacks, training.early_stopping("val_loss", patience=15)])
    return model, training.history_dict(fit)


def choose_min_score(predict, data: FaceData) -> tuple[float, dict[str, dict[float, float]]]:
    """(the threshold with the best validation score, {"composites": mean IoU, "portrait": IoU, "score"} per
    threshold). The score is half the composites' mean best-box IoU plus half the portrait's: the one real
    face weighs as much as all the pasted squares (docs/evidence/faces.md, "A real validation face")."""
    ious = functools.partial(detection.best_box_ious, predict, size=SIZE, scales=data.scales, stride=data.stride,
                             thresholds=MIN_SCORES, vote_iou=data.vote_iou)
    each = [ious(image, box) for image, box in zip(data.val_images, data.val_boxes)]
    composites_ = {t: float(np.mean([e[t] for e in each])) for t in MIN_SCORES}
    portrait = ious(data.val_portrait, VAL_PORTRAIT_BOX)
    score = {t: 0.5 * composites_[t] + 0.5 * portrait[t] for t in MIN_SCORES}
    chosen = max(MIN_SCORES, key=lambda t: score[t])  # the first best: ties go to the lower threshold
    return chosen, {"composites": composites_, "portrait": portrait, "score": score}


def detect_faces(predict, data: FaceData, min_score: float) -> detection.Detections:
    """The astronaut's faces, with windows needing ``min_score`` to vote (``evaluate`` decides it)."""
    return detection.detect(predict, data.astronaut, size=SIZE, scales=data.scales, stride=data.stride,
                            score_threshold=min_score, vote_iou=data.vote_iou)


# --- (b) matching: contrastive training ------------------------------------------------------------

def nt_xent(z1, z2, temperature: float):
    """SimCLR's loss: each view must pick its partner out of all 2B - 1 other views."""
    z = tf.concat([z1, z2], 0)
    n = tf.shape(z1)[0]
    logits = tf.matmul(z, z, transpose_b=True) / temperature - 1e9 * tf.eye(2 * n)
    partner = tf.concat([tf.range(n, 2 * n), tf.range(n)], 0)
    return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(partner, logits, from_logits=True))


def train_embedder(cfg: Config, data: FaceData) -> tuple[keras.Model, list[float]]:
    embedder = build_embedder(cfg)
    optimizer = keras.optimizers.Adam(cfg.learning_rate)
    view1, view2 = augmenter(cfg.seed + 10), augmenter(cfg.seed + 20)
    faces = tf.constant(data.splits.train.x[data.splits.train.y == 1])

    @tf.function(autograph=False)  # no Python control flow inside: nothing to convert
    def step():
        a = tf.clip_by_value(view1(faces, training=True), 0.0, 1.0)
        b = tf.clip_by_value(view2(faces, training=True), 0.0, 1.0)
        with tf.GradientTape() as tape:
            loss = nt_xent(embedder(a, training=True), embedder(b, training=True), cfg.temperature)
        optimizer.apply_gradients(zip(tape.gradient(loss, embedder.trainable_variables), embedder.trainable_variables))
        return loss

    return embedder, [float(step()) for _ in range(cfg.embed_steps)]


def match_top1(embed, data: FaceData) -> float:
    """Share of queries whose most similar gallery face (cosine) is the face they were made from."""
    q, g = (np.asarray(embed(v), np.float64).reshape(len(v), -1) for v in (data.queries, data.gallery))
    q, g = (v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12) for v in (q, g))
    return float(np.mean((q @ g.T).argmax(1) == data.query_ids))


# --- evaluate: the same code scores Keras, TFLite and ONNX -----------------------------------------

def evaluate(predict, data: FaceData) -> dict[str, float]:
    predict = predict if isinstance(predict, dict) else {"model": predict}
    out = {}
    if "model" in predict:
        probs = np.asarray(predict["model"](data.splits.test.x)).reshape(-1)
        if data.min_score is None:
            chosen, val = choose_min_score(predict["model"], data)
            out["val_detection_iou"] = val["composites"][chosen]
            out["val_portrait_iou"] = val["portrait"][chosen]
        else:
            chosen = data.min_score
        out["detector_min_score"] = float(chosen)
        found = detect_faces(predict["model"], data, chosen)
        out["test_accuracy"] = float(np.mean((probs > 0.5) == data.splits.test.y))
        out["astronaut_iou"] = float(detection.box_iou(found.boxes[0], REFERENCE_BOX)) if len(found.boxes) else 0.0
    if "embedder" in predict:
        out["matching_top1"] = match_top1(predict["embedder"], data)
    return out


# --- train ----------------------------------------------------------------------------------------

def train(cfg: Config, run) -> Trained:
    training.seed_everything(cfg.seed)
    data = load_data(cfg)
    run.log(f"  data: {data.splits.sizes()} from {data.splits.source}; gallery {len(data.gallery)} held-out "
            f"faces, {len(data.queries)} queries; {len(data.scales)} pyramid scales")
    from skimage import data as skdata

    face_free = [gray(getattr(skdata, name)()) for name in FACE_FREE_PHOTOS]
    mining = dict(size=SIZE, scales=data.scales, stride=max(cfg.stride, 4))
    negatives = detection.random_windows(face_free, per_image=cfg.random_negatives, seed=cfg.seed, **mining)[..., None]
    hard = np.zeros((0, SIZE, SIZE, 1), np.float32)
    for round_ in range(cfg.mining_rounds + 1):
        last = round_ == cfg.mining_rounds
        model, history = fit_classifier(cfg, data, np.concatenate([negatives, hard]), run.callbacks() if last else [])
        run.log(f"  round {round_}: {len(negatives)} random + {len(hard)} hard negatives, {len(history['loss'])} "
                f"epochs, val accuracy {max(history['val_accuracy']):.3f}")
        if not last:  # the windows of face-free photos this classifier scores highest
            found = detection.hard_negatives(training.predict_fn(model, 2048), face_free,
                                             per_image=cfg.negatives_per_photo, **mining)
            hard = np.concatenate([hard, found[..., None]])

    embedder, losses = train_embedder(cfg, data)
    metrics = evaluate({"model": training.predict_fn(model, 2048), "embedder": training.predict_fn(embedder)}, data)
    metrics["pixel_matching_top1"] = match_top1(lambda v: v - v.mean(axis=(1, 2, 3), keepdims=True), data)
    metrics["hard_negatives"] = float(len(hard))
    run.log(f"  embedding: NT-Xent {losses[0]:.3f} -> {losses[-1]:.3f}; top-1 {metrics['matching_top1']:.3f} "
            f"(raw pixels {metrics['pixel_matching_top1']:.3f}, chance {1 / len(data.gallery):.3f})")
    if "val_detection_iou" in metrics:
        run.log(f"  detector: windows need a face score >= {metrics['detector_min_score']:g} to vote (best of "
                f"{MIN_SCORES} on validation: best-box IoU {metrics['val_detection_iou']:.3f} on "
                f"{len(data.val_images)} composites, {metrics['val_portrait_iou']:.3f} on Grace Hopper's portrait)")
    save_pictures(model, embedder, data, hard, losses, run, metrics["detector_min_score"])
    notes = [f"matching is instance matching ({len(data.gallery)} held-out faces, {len(data.queries)} distorted "
             f"queries; raw pixels reach top-1 {metrics['pixel_matching_top1']:.3f}): lfw_subset has no identity "
             f"labels, so recognising a person across photos is not measured"]
    baselines = {"raw pixels": {"matching_top1": metrics["pixel_matching_top1"]}, "HOG": hog_baseline(data, run.log)}
    return Trained(exports={"model": model, "embedder": embedder}, metrics=metrics, history=history, notes=notes,
                   baselines=baselines)


def hog_baseline(data: FaceData, log) -> dict[str, float]:
    """HOG + logistic regression for face/non-face (C chosen on validation), HOG + cosine for matching."""
    from sklearn.linear_model import LogisticRegression

    from dlbootcamp.baselines import tune

    hog, s = detection.hog_descriptors, data.splits
    best = tune(lambda c: LogisticRegression(C=c, max_iter=3000), (0.01, 0.1, 1.0, 10.0),
                (hog(s.train.x), s.train.y), (hog(s.val.x), s.val.y))
    log(f"  HOG + logistic regression: C = {best.params:g} chosen on validation (accuracy {best.val_score:.3f})")
    return {"test_accuracy": float(best.model.score(hog(s.test.x), s.test.y)),
            "matching_top1": match_top1(hog, data)}


# --- pictures -------------------------------------------------------------------------------------

def save_pictures(model, embedder, data: FaceData, hard, losses, run, min_score: float) -> None:
    plt = plots.pyplot()
    found = detect_faces(training.predict_fn(model, 2048), data, min_score)
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(data.astronaut, cmap="gray")
    for i, (y0, x0, y1, x1) in enumerate([REFERENCE_BOX, *found.boxes]):
        color, label = ("cyan", "reference") if i == 0 else ("red", "best box") if i == 1 else ("orange", None)
        ax.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec=color, lw=3 if i < 2 else 1,
                                   ls="--" if i == 0 else "-", label=label))
        if i:
            ax.text(x0, y0 - 3, f"{found.votes[i - 1]:.1f} votes", color=color, fontsize=8)
    ax.set_title(f"Sliding-window detector: {found.windows} windows scored")
    ax.legend(loc="lower left")
    ax.axis("off")
    run.save_figure(fig, "astronaut_detection")
    if len(hard):
        run.save_figure(plots.image_grid(hard[:32], cols=8, title="Hard negatives: face-free windows "
                                         "the first classifier scored highest"), "hard_negatives")
    q, g = (np.asarray(embedder.predict(v, verbose=0)) for v in (data.queries, data.gallery))
    best, shown = (q @ g.T).argmax(1), np.linspace(0, len(q) - 1, min(8, len(q))).astype(int)
    triples = np.stack([data.gallery[data.query_ids[shown]], data.queries[shown], data.gallery[best[shown]]], 1)
    titles = [t for i in shown for t in ("gallery face", "distorted query",
                                         "top-1: right" if best[i] == data.query_ids[i] else "top-1: WRONG")]
    run.save_figure(plots.image_grid(triples.reshape(-1, SIZE, SIZE, 1), titles, cols=6,
                                     title="Instance matching: query -> most similar held-out face"), "matching")
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(losses, marker=plots.marker(losses))
    ax.set(xlabel="step", ylabel="NT-Xent loss", title="Contrastive training of the embedding")
    run.save_figure(fig, "embedding_loss")
