"""Day 9 - Generative adversarial networks: synthesise what you ask for.

Seeds 003 and 004: from Goodfellow's blurry 2014 faces to StyleGAN's "perfectly unnatural"
celebrities, in seven years. The idea has not changed: a *generator* turns random noise into
an image, a *discriminator* tries to tell its images from real ones, and each is trained
against the other. When the discriminator can no longer tell, the generator draws from
(something close to) the data distribution.

At CPU size, on scikit-learn's 8x8 handwritten digits, we train two of them:

1. a DCGAN (Radford et al. 2016): transposed convolutions up, strided convolutions down,
   no class information - it draws *some* digit;
2. a class-conditional GAN (Mirza & Osindero 2014): both networks also see the class, so
   the generator draws *the digit you ask for* ("synthesise what I ask for").

Both use a hand-written training loop (``tf.GradientTape``: one discriminator step, one
generator step per batch), because ``fit`` trains one model against one loss. Watch the
``evolution`` picture: early on the generator ignores the class and draws one pattern for
everything (mode collapse), until the discriminator's view of the class forces it to listen.

How do we know the samples are any good? A *judge*: a classifier trained separately on real
digits (scikit-learn's MLP; it never sees a generated image). The bar: it labels at least 80%
of conditional samples as the class that was requested. We also report the Frechet distance
(the idea behind FID) between the judge's hidden features of generated and of real held-out
digits, next to two references: real training digits (the floor) and uniform noise.

Why digits and not Fashion-MNIST: 8x8 images and ~1,300 training digits let both GANs train
past the bar in under a minute of CPU each, and the data ships with scikit-learn, so the lesson
runs everywhere; Fashion-MNIST (12x the pixels, 40x the images) would not fit the 5-minute budget.
The exported model is the conditional generator: (noise, one-hot class) -> 8x8 image.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from dlbootcamp import data as datasets
from dlbootcamp import plots, training
from dlbootcamp.errors import UserError
from dlbootcamp.lesson import Bar, LessonInfo, Trained

LESSON = LessonInfo(
    id="gan",
    day=9,
    title="GANs: a DCGAN and a class-conditional GAN that draws the digit you ask for",
    seeds=("003", "004"),
    topics=("generative adversarial network", "DCGAN", "conditional GAN", "custom training loop",
            "Frechet distance", "evaluating generative models"),
    summary=("A DCGAN and a class-conditional GAN on 8x8 digits, trained with a GradientTape loop; "
             "a separately trained classifier judges whether the conditional samples show the requested "
             "digit, and a Frechet distance in its feature space compares them with real digits and noise."),
    bars=(Bar("conditional_accuracy", ">=", 0.80), Bar("judge_test_accuracy", ">=", 0.90)),
    quantized_tolerance=0.02,  # int8 generator: at most 2 points fewer samples judged as asked
    distribute=False,  # the hand-written GAN loop runs on one device
    baselines=("uniform noise", "real training digits"),
)

CLASSES = 10


@dataclasses.dataclass(frozen=True)
class Config:
    latent: int = 32  # size of the noise vector the generator starts from
    width: int = 64  # channels of the widest generator / discriminator layer
    epochs: int = 100  # passes over the training digits, for each GAN
    batch_size: int = 32
    learning_rate: float = 1e-3  # Adam, beta_1 = 0.5 (DCGAN uses 2e-4; small nets on few digits take more)
    real_label: float = 0.9  # one-sided label smoothing: the discriminator's target for real digits
    samples_per_class: int = 100  # generated digits per class for the bar and the Frechet distance
    snapshots: int = 8  # how many times the conditional generator is pictured during training
    seed: int = 0  # data split, judge, initial weights, noise, shuffling
    train_limit: int = 0  # 0 = all training digits; the quick preset uses a few

    def __post_init__(self):
        if self.samples_per_class < 2:
            raise UserError(f"Invalid samples_per_class {self.samples_per_class}: expected at least 2 generated "
                            f"digits per class (a Frechet distance needs a covariance); set --set samples_per_class=100.")

    @classmethod
    def quick(cls) -> "Config":
        return cls(latent=8, width=16, epochs=2, samples_per_class=10, snapshots=2, train_limit=200)


# --- data, and the judge trained on it ----------------------------------------------------------

PREPROCESSING = ("inputs: noise float32 (N, latent) from a standard normal, class one-hot float32 (N, 10); "
                 "output: 8x8x1 grayscale digit in [0, 1] (multiply by 16 for scikit-learn's scale)")


@dataclasses.dataclass(frozen=True)
class GanData:
    splits: datasets.Splits  # real digits in [0, 1], shape (N, 8, 8, 1)
    judge: object  # scikit-learn MLPClassifier trained on the real training digits only
    latent: int  # noise size the generator expects
    samples_per_class: int
    seed: int


def load_data(cfg: Config) -> GanData:
    """Digits 70/10/20 (stratified by the seed) and a judge classifier fitted on the train split."""
    splits = datasets.digits(seed=cfg.seed)
    if cfg.train_limit:
        splits = datasets.subsample(splits, train=cfg.train_limit, val=50, test=200)
    splits = dataclasses.replace(splits, **{s: datasets.Split(getattr(splits, s).x[..., None], getattr(splits, s).y)
                                            for s in ("train", "val", "test")})
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits

    judge = MLPClassifier(hidden_layer_sizes=(64,), alpha=1e-3, solver="lbfgs", max_iter=500, tol=1e-6,
                          random_state=cfg.seed)
    with threadpool_limits(1):  # small matrices: extra BLAS threads only contend for the cores
        judge.fit(splits.train.x.reshape(len(splits.train), -1), splits.train.y)
    return GanData(splits, judge, cfg.latent, cfg.samples_per_class, cfg.seed)


def generator_inputs(latent: int, n_per_class: int, seed: int) -> list[np.ndarray]:
    """Seeded noise and one-hot classes, n_per_class of each class: [noise, one_hot]."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(CLASSES), n_per_class)
    noise = rng.standard_normal((len(labels), latent)).astype(np.float32)
    return [noise, np.eye(CLASSES, dtype=np.float32)[labels]]


def representative_data(data: GanData, n: int = 200, split: str = "train"):
    """Generator inputs [noise, one_hot]: different seeded noise for calibration and for parity checks."""
    noise, one_hot = generator_inputs(data.latent, -(-n // CLASSES), data.seed + (1 if split == "train" else 2))
    order = np.random.default_rng(data.seed).permutation(len(noise))[:n]
    return [noise[order], one_hot[order]]


def sidecar(data: GanData) -> dict:
    return {"labels": list(data.splits.labels), "preprocessing": PREPROCESSING}


# --- models: up with transposed convolutions, down with strided ones ------------------------------

def build_generator(cfg: Config, conditional: bool = True) -> keras.Model:
    noise = keras.Input((cfg.latent,), name="noise")
    inputs, x = [noise], noise
    if conditional:
        inputs.append(keras.Input((CLASSES,), name="class_one_hot"))
        x = keras.layers.Concatenate(name="noise_and_class")([noise, inputs[1]])
    x = keras.layers.Dense(2 * 2 * cfg.width, name="project")(x)
    x = keras.layers.LeakyReLU(0.2, name="act0")(x)
    x = keras.layers.Reshape((2, 2, cfg.width), name="to_2x2")(x)
    for i, f in enumerate((cfg.width, cfg.width // 2), start=1):  # 2x2 -> 4x4 -> 8x8
        x = keras.layers.Conv2DTranspose(f, 4, strides=2, padding="same", name=f"up{i}")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"act{i}")(x)
    image = keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid", name="image")(x)
    return keras.Model(inputs, image, name="conditional_generator" if conditional else "generator")


def build_discriminator(cfg: Config, conditional: bool = True) -> keras.Model:
    image = keras.Input((8, 8, 1), name="image")
    inputs, x = [image], image
    if conditional:  # the class as an extra image plane, so the first convolution sees it
        one_hot = keras.Input((CLASSES,), name="class_one_hot")
        inputs.append(one_hot)
        plane = keras.layers.Reshape((8, 8, 1), name="class_plane")(keras.layers.Dense(64, name="embed")(one_hot))
        x = keras.layers.Concatenate(name="image_and_class")([image, plane])
    for i, f in enumerate((cfg.width // 2, cfg.width), start=1):  # 8x8 -> 4x4 -> 2x2
        x = keras.layers.Conv2D(f, 3, strides=2, padding="same", name=f"down{i}")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"act{i}")(x)
    x = keras.layers.Dropout(0.3, seed=cfg.seed, name="dropout")(keras.layers.Flatten(name="flatten")(x))
    logit = keras.layers.Dense(1, name="real_logit")(x)
    return keras.Model(inputs, logit, name="conditional_discriminator" if conditional else "discriminator")


def build_model(cfg: Config) -> keras.Model:
    """The model that is exported: the conditional generator."""
    return build_generator(cfg, conditional=True)


# --- the adversarial game, by hand ----------------------------------------------------------------

def train_gan(cfg: Config, data: GanData, conditional: bool, on_epoch=None):
    """Alternate one discriminator and one generator step per batch. Returns (generator, history)."""
    gen, disc = build_generator(cfg, conditional), build_discriminator(cfg, conditional)
    g_opt = keras.optimizers.Adam(cfg.learning_rate, beta_1=0.5)
    d_opt = keras.optimizers.Adam(cfg.learning_rate, beta_1=0.5)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    noise_seed = keras.random.SeedGenerator(cfg.seed + (1 if conditional else 2))

    @tf.function(input_signature=[tf.TensorSpec((None, 8, 8, 1), tf.float32), tf.TensorSpec((None,), tf.int64)],
                 autograph=False)
    def step(images, labels):  # one signature: the last, smaller batch does not retrace
        one_hot = tf.one_hot(labels, CLASSES)
        cond = [one_hot] if conditional else []
        noise = keras.random.normal((tf.shape(images)[0], cfg.latent), seed=noise_seed)
        with tf.GradientTape() as d_tape:  # the discriminator: real -> real_label, fake -> 0
            fake = gen([noise, *cond], training=True)
            real_logit = disc([images, *cond], training=True)
            fake_logit = disc([fake, *cond], training=True)
            d_loss = (bce(tf.fill(tf.shape(real_logit), cfg.real_label), real_logit)
                      + bce(tf.zeros_like(fake_logit), fake_logit))
        d_opt.apply_gradients(zip(d_tape.gradient(d_loss, disc.trainable_variables), disc.trainable_variables))
        with tf.GradientTape() as g_tape:  # the generator: make the discriminator say "real"
            fake_logit = disc([gen([noise, *cond], training=True), *cond], training=True)
            g_loss = bce(tf.ones_like(fake_logit), fake_logit)
        g_opt.apply_gradients(zip(g_tape.gradient(g_loss, gen.trainable_variables), gen.trainable_variables))
        return d_loss, g_loss

    history: dict[str, list[float]] = {"d_loss": [], "g_loss": []}
    for epoch in range(cfg.epochs):
        losses = np.array([[float(v) for v in step(x, y)] for x, y in datasets.batches(
            data.splits.train.x, data.splits.train.y, batch_size=cfg.batch_size, shuffle=True,
            seed=cfg.seed + epoch)])
        history["d_loss"].append(float(losses[:, 0].mean()))
        history["g_loss"].append(float(losses[:, 1].mean()))
        if on_epoch is not None:
            on_epoch(epoch, gen)
    return gen, history


# --- the judge's view: accuracy on request, Frechet distance in its feature space ---------------------

def judge_features(judge, images: np.ndarray) -> np.ndarray:
    """The judge's hidden-layer activations (ReLU(x W + b)): its own "perceptual" space."""
    x = np.asarray(images, np.float64).reshape(len(images), -1)
    return np.maximum(x @ judge.coefs_[0] + judge.intercepts_[0], 0.0)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Distance between Gaussians fitted to two feature sets: |mu_a - mu_b|^2 + Tr(Ca + Cb - 2 (Ca Cb)^1/2).

    Tr((Ca Cb)^1/2) is computed as the sum of square roots of the eigenvalues of the symmetric
    matrix Ca^1/2 Cb Ca^1/2 (same eigenvalues as Ca Cb), which stays stable when dead ReLU units
    make a covariance singular.
    """
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(ca)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cb @ root_a), 0, None)).sum()
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(ca) + np.trace(cb) - 2.0 * cross)


def evaluate(predict, data: GanData) -> dict[str, float]:
    """Generate samples_per_class digits of each class and ask the judge what it sees."""
    noise, one_hot = generator_inputs(data.latent, data.samples_per_class, data.seed + 3)
    images = np.asarray(predict([noise, one_hot])).reshape(len(noise), -1)
    asked = one_hot.argmax(-1)
    real = judge_features(data.judge, data.splits.test.x)
    return {"conditional_accuracy": float(np.mean(data.judge.predict(images) == asked)),
            "frechet_generated": frechet_distance(judge_features(data.judge, images), real)}


# --- train ------------------------------------------------------------------------------------------

def train(cfg: Config, run) -> Trained:
    training.seed_everything(cfg.seed)
    data = load_data(cfg)
    split = data.splits
    judge_acc = float(data.judge.score(split.test.x.reshape(len(split.test), -1), split.test.y))
    run.log(f"  data: {split.sizes()} from {split.source}; judge (MLP on real digits) test accuracy {judge_acc:.4f}")

    run.log(f"  DCGAN (no class information): {cfg.epochs} epochs")
    dcgan, dc_hist = train_gan(cfg, data, conditional=False)
    dc_images = dcgan.predict(generator_inputs(cfg.latent, cfg.samples_per_class, cfg.seed + 3)[0], verbose=0)
    dc_seen = np.bincount(data.judge.predict(dc_images.reshape(len(dc_images), -1)), minlength=CLASSES)

    fixed = generator_inputs(cfg.latent, 1, cfg.seed + 4)  # one fixed noise vector per class
    when = set(np.geomspace(1, cfg.epochs, cfg.snapshots).round().astype(int))  # early epochs change most
    frames, progress = [], {"epoch": [], "conditional_accuracy": []}

    def snapshot(epoch, gen):
        if epoch + 1 in when:
            frames.append((epoch + 1, gen.predict(fixed, verbose=0)))
            progress["epoch"].append(epoch + 1)
            progress["conditional_accuracy"].append(evaluate(training.predict_fn(gen), data)["conditional_accuracy"])
            run.log(f"  conditional GAN epoch {epoch + 1}: judge agrees on "
                    f"{progress['conditional_accuracy'][-1]:.3f} of requested digits")

    gen, c_hist = train_gan(cfg, data, conditional=True, on_epoch=snapshot)
    metrics = evaluate(training.predict_fn(gen), data)
    noise_images = np.random.default_rng(cfg.seed + 5).random((CLASSES * cfg.samples_per_class, 64))
    real = judge_features(data.judge, split.test.x)
    metrics.update(
        judge_test_accuracy=judge_acc,
        frechet_noise=frechet_distance(judge_features(data.judge, noise_images), real),
        frechet_real_train=frechet_distance(judge_features(data.judge, split.train.x), real),
        frechet_dcgan=frechet_distance(judge_features(data.judge, dc_images), real),
        dcgan_classes_covered=float(np.sum(dc_seen >= 0.02 * len(dc_images))))
    save_pictures(gen, dcgan, data, frames, progress, dc_seen, run)
    notes = [f"Frechet distance to real test digits (judge features): conditional GAN "
             f"{metrics['frechet_generated']:.2f}, DCGAN {metrics['frechet_dcgan']:.2f}, real train digits "
             f"{metrics['frechet_real_train']:.2f} (floor), uniform noise {metrics['frechet_noise']:.2f}",
             f"DCGAN samples by judged class: {dc_seen.tolist()} (a mode-collapsed GAN would draw few classes)"]
    history = {"cgan_d_loss": c_hist["d_loss"], "cgan_g_loss": c_hist["g_loss"],
               "dcgan_d_loss": dc_hist["d_loss"], "dcgan_g_loss": dc_hist["g_loss"]}
    # Frechet distance in the judge's feature space: noise is the ceiling, real digits the floor.
    baselines = {"uniform noise": {"frechet_generated": metrics["frechet_noise"]},
                 "real training digits": {"frechet_generated": metrics["frechet_real_train"]}}
    return Trained(exports={"model": gen}, metrics=metrics, history=history, notes=notes, baselines=baselines)


# --- pictures ---------------------------------------------------------------------------------------

def save_pictures(gen, dcgan, data: GanData, frames, progress, dc_seen, run) -> None:
    # Eight noise vectors, each drawn as every digit: a row keeps its noise ("style"), a column its class.
    noise = np.tile(np.random.default_rng(data.seed + 6).standard_normal((8, data.latent)), (CLASSES, 1))
    asked = np.repeat(np.arange(CLASSES), 8)
    images = gen.predict([noise.astype(np.float32), np.eye(CLASSES, dtype=np.float32)[asked]], verbose=0)
    seen = data.judge.predict(images.reshape(len(images), -1))
    order = np.arange(len(images)).reshape(CLASSES, 8).T.ravel()
    titles = [f"{a}" if a == s else f"{a} (judged {s})" for a, s in zip(asked[order], seen[order])]
    run.save_figure(plots.image_grid(images[order], titles, cols=CLASSES, size=1.0,
                                     title="Conditional samples: column = requested digit, row = same noise"),
                    "samples_per_class")
    evolution = np.concatenate([f for _, f in frames])
    run.save_figure(plots.image_grid(evolution, [f"ep {e}: {c}" for e, f in frames for c in range(CLASSES)],
                                     cols=CLASSES, size=1.0, title="The same noise, over training"), "evolution")
    dc = dcgan.predict(generator_inputs(data.latent, 4, data.seed + 7)[0], verbose=0)
    run.save_figure(plots.image_grid(dc, [f"judged {s}" for s in data.judge.predict(dc.reshape(len(dc), -1))],
                                     cols=CLASSES, size=1.0, title="DCGAN samples (no class asked)"), "dcgan_samples")
    plt = plots.pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
    a1.plot(progress["epoch"], progress["conditional_accuracy"], marker="o")
    a1.axhline(0.8, color="gray", ls="--", label="bar")
    a1.set(xlabel="epoch", ylabel="judge agrees", title="Conditional GAN: asked = judged", ylim=(0, 1))
    a1.legend()
    a2.bar(range(CLASSES), dc_seen)
    a2.set(xlabel="class the judge sees", ylabel="DCGAN samples", title="DCGAN: which digits does it draw?")
    fig.tight_layout()
    run.save_figure(fig, "judge_over_training")
