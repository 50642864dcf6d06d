"""Day 18 - Reading sequences from video: LipNet's recipe (Conv3D + bidirectional GRU + CTC).

Seed 002 shows LipNet (Assael et al. 2016), which reads whole sentences from video of a
speaker's lips "more accurately than humans". Its recipe has three parts:

1. **spatio-temporal convolutions** (Conv3D): each filter looks at a small patch over a few
   consecutive frames, so it sees *motion and shape together*, not one still frame;
2. a **bidirectional GRU** reads the per-frame features forwards and backwards, so every frame's
   guess knows what came before and after;
3. **CTC** (connectionist temporal classification): the network outputs, for every frame, a
   probability for each character *or a blank*. Nobody tells it which frames belong to which
   character. The CTC loss sums over every alignment that collapses to the right text:
   repeated classes merge and blanks vanish, so frames "-33-3--" read "33" and "-333--" reads
   "3". Greedy decoding takes the best class per frame, merges repeats and drops blanks.

Offline there is no lip video, so this lesson keeps LipNet's *shape* on a generated task that
has the same difficulty structure: short videos in which a sequence of 2-4 handwritten digits is
shown (``dlbootcamp.worlds.digit_videos``: variable durations, jitter, brightness, noise, pauses), and
the model reads the sequence. The test videos use digit pictures no training video ever showed.
Score: whole-sequence accuracy (every digit right, nothing extra) on held-out videos.

The exported model maps a video to per-frame probabilities (static shapes: a fixed number of
frames, an unrolled GRU and per-frame 2-D pooling, so TFLite needs built-in ops only); CTC
decoding is a few lines of NumPy on the device (``greedy_decode``), checked against
``keras.ops.ctc_decode``.

Two design choices: the training videos are *endless* (every epoch draws new ones from the
training pictures, so the model can learn the digits but not the videos), and the second Conv3D
spans one frame, not three (a third of the cost, spent on twice the filters: shapes, not motion,
were what the reader got wrong). Both were first chosen by comparing sequence accuracy on the
*test* videos; they were re-made on the 500 validation videos (``benchmarks/choices.py``, seeds 0
and 1, docs/lessons.md): as configured 0.928 / 0.916, a three-frame second conv with 16 filters
0.916 / 0.908, fixed training videos 0.920 / 0.906. Validation keeps both choices, by about one
point - the size of the noise on 500 videos (a standard error of ~0.012), so they are kept as
the cheapest of equals, not as proven wins. The baseline reads the video
as still pictures with a hand-written rule for time. Measured numbers are in docs/lessons.md.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
from keras import ops

from dlbootcamp.worlds import digit_videos as dv
from dlbootcamp import plots, training
from dlbootcamp.lesson import Bar, LessonInfo, Trained

LESSON = LessonInfo(
    id="lip-reading",
    day=18,
    title="Reading sequences from video: Conv3D + bidirectional GRU + CTC (LipNet's recipe)",
    seeds=("002",),
    topics=("LipNet", "spatio-temporal convolution", "Conv3D", "bidirectional GRU", "CTC loss",
            "greedy CTC decoding", "sequence accuracy"),
    summary=("LipNet's architecture on generated videos of handwritten digit sequences: Conv3D features, "
             "a bidirectional GRU and CTC read the sequence without frame-level labels."),
    bars=(Bar("sequence_accuracy", ">=", 0.90),),
    # int8 may cost at most 1.25 points of whole-sequence accuracy (a quarter of the 5 once allowed). All-int8
    # loses more (measured 0.931 -> 0.906, per digit 0.975 -> 0.966: the recurrent state is re-quantized at
    # every one of the 24 steps and errors compound), so the export keeps the layers with the largest
    # quantization error in float until the validation accuracy holds (`dlbootcamp export --max-drop`).
    quantized_tolerance=0.0125,
    full_integer_tolerance=0.05,  # int8-full and micro keep no layer in float: measured -0.025
    baselines=("stills + rule",),
    resumable=True,  # one model.fit with run.callbacks(): --resume continues it
)

NUM_CLASSES = 11  # ten digits and the CTC blank (index dv.BLANK = 10)


@dataclasses.dataclass(frozen=True)
class Config:
    filters: tuple[int, int] = (16, 32)  # channels of the two Conv3D blocks
    frames_seen: tuple[int, int] = (3, 1)  # frames each block's kernels span: motion first, then shape within a frame
    gru: int = 48  # units per direction in the bidirectional GRU
    dropout: float = 0.3
    n_train: int = 4000  # generated training videos
    n_val: int = 500
    n_test: int = 1000
    frames: int = 24  # video length (fixed: a static graph for export)
    epochs: int = 12  # early stopping on validation CTC loss
    endless: bool = True  # new training videos every epoch (a generator never runs out; see digit_videos)
    batch_size: int = 32  # (64 with no BatchNorm sat at "when, not which" - loss ~7 - for 15 epochs)
    learning_rate: float = 3e-3  # Adam, cosine-decayed
    seed: int = 0  # picture pools, video generation, weights, shuffling

    @classmethod
    def quick(cls) -> "Config":
        return cls(filters=(4, 8), gru=8, n_train=64, n_val=32, n_test=32, epochs=2, batch_size=32)


# --- data ------------------------------------------------------------------------------------

PREPROCESSING = ("video of 24 grayscale 12x12 frames, float32 in [0, 1]; output: per-frame probabilities "
                 "of digits 0-9 and the CTC blank (index 10); decode greedily: argmax, merge repeats, drop blanks")


def load_data(cfg: Config):
    spec = dv.VideoSpec(frames=cfg.frames)
    return dv.digit_videos(n_train=cfg.n_train, n_val=cfg.n_val, n_test=cfg.n_test, spec=spec, seed=cfg.seed)


def representative_data(data, n: int = 200, split: str = "train"):
    """Videos from a split: train calibrates int8, test feeds the export parity check."""
    return getattr(data, split).x[:n]


def sidecar(data) -> dict:
    return {"labels": list(data.labels), "blank_index": dv.BLANK, "preprocessing": PREPROCESSING}


# --- model: LipNet's shape ----------------------------------------------------------------------

def build_model(cfg: Config) -> keras.Model:
    inputs = keras.Input((cfg.frames, 12, 12, 1), name="video")
    x = inputs
    for i, (f, t) in enumerate(zip(cfg.filters, cfg.frames_seen), start=1):
        # t frames x 3 x 3 pixels: with t = 3 each filter sees a small patch move over time. The second
        # block spans one frame ((1, 3, 3), as in "(2+1)D" video nets): a third of the cost, which buys
        # twice the filters (re-made on validation videos: see the module docstring).
        x = keras.layers.Conv3D(f, (t, 3, 3), padding="same", use_bias=False, name=f"conv3d{i}")(x)
        # Batch normalisation (folded into the conv on export): without it the model learned *when* a
        # digit is shown (CTC loss ~7, about 3 x ln 10) but not *which*, for all 15 epochs.
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        x = pool_each_frame(x, i)
    x = keras.layers.Reshape((cfg.frames, -1), name="frame_features")(x)
    x = keras.layers.Dropout(cfg.dropout, seed=cfg.seed, name="dropout")(x)
    x = keras.layers.Bidirectional(keras.layers.GRU(cfg.gru, return_sequences=True, unroll=True),
                                   name="bigru")(x)
    outputs = keras.layers.Dense(NUM_CLASSES, activation="softmax", name="char_probs")(x)
    return keras.Model(inputs, outputs, name="lipnet_digits")


def pool_each_frame(x, i: int):
    """Shrink space, keep every frame: LipNet's (1, 2, 2) max pooling. TFLite has no built-in kernel
    for MaxPool3D, so the frames are stacked into one tall picture, pooled 2x2 and unstacked (a
    frame's height is even, so no window straddles two frames). The same numbers as
    TimeDistributed(MaxPooling2D), which loops over the frames and made training 3x slower."""
    frames, h, w, c = x.shape[1:]
    x = keras.layers.Reshape((frames * h, w, c), name=f"stack{i}")(x)
    x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    return keras.layers.Reshape((frames, h // 2, w // 2, c), name=f"unstack{i}")(x)


@keras.saving.register_keras_serializable(package="dlbootcamp")  # so model.keras loads with its loss
def ctc_loss(y_true, y_pred):
    """CTC between padded digit rows (dv.PAD = -1) and per-frame probabilities."""
    y_true = ops.cast(y_true, "int32")
    target_length = ops.sum(ops.cast(y_true >= 0, "int32"), axis=1)
    targets = ops.where(y_true >= 0, y_true, 0)
    frames = ops.shape(y_pred)[1]
    output_length = ops.full((ops.shape(y_pred)[0],), frames, dtype="int32")
    log_probs = ops.log(y_pred + 1e-7)  # ctc_loss takes logits; log-probabilities are logits too
    return ops.ctc_loss(targets, log_probs, target_length, output_length, mask_index=dv.BLANK)


# --- decoding: what a device runs after the model ---------------------------------------------------

def greedy_decode(probs: np.ndarray, max_digits: int = 4) -> np.ndarray:
    """Best class per frame, merge repeats, drop blanks; rows padded with dv.PAD. Pure NumPy."""
    best = np.asarray(probs).argmax(-1)
    out = np.full((len(best), max_digits), dv.PAD, np.int32)
    for i, row in enumerate(best):
        keep = row[(row != dv.BLANK) & np.r_[True, row[1:] != row[:-1]]][:max_digits]
        out[i, :len(keep)] = keep
    return out


def keras_decode(probs: np.ndarray, max_digits: int = 4) -> np.ndarray:
    """The same with ``keras.ops.ctc_decode`` (greedy), for comparison."""
    lengths = np.full(len(probs), probs.shape[1], np.int32)
    decoded, _ = ops.ctc_decode(probs, lengths, strategy="greedy", mask_index=dv.BLANK)
    decoded = np.asarray(ops.convert_to_numpy(decoded))[0][:, :max_digits]
    out = np.full((len(probs), max_digits), dv.PAD, np.int32)
    out[:, :decoded.shape[1]] = decoded
    return out


def evaluate(predict, data) -> dict[str, float]:
    decoded = greedy_decode(predict(data.test.x), data.test.y.shape[1])
    truth = data.test.y
    digit_hits = (decoded == truth) & (truth != dv.PAD)
    return {"sequence_accuracy": float(np.mean(np.all(decoded == truth, axis=1))),
            "digit_accuracy": float(digit_hits.sum() / (truth != dv.PAD).sum())}


# --- train -----------------------------------------------------------------------------------

def train(cfg: Config, run) -> Trained:
    training.seed_everything(cfg.seed)
    data = load_data(cfg)
    run.log(f"  data: {data.sizes()} videos, {data.source}")
    steps = cfg.epochs * -(-len(data.train) // cfg.batch_size)
    model = build_model(cfg)
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(cfg.learning_rate, steps),
                                                  clipnorm=5.0), loss=ctc_loss)
    if cfg.endless:  # the first epoch sees data.train, every later one as many fresh videos
        videos = dv.endless_videos(data.train, dv.VideoSpec(frames=cfg.frames), seed=cfg.seed,
                                   batch_size=cfg.batch_size)
        train_args = dict(x=videos)
    else:
        train_args = dict(x=data.train.x, y=data.train.y, batch_size=cfg.batch_size)
    # Before each validation (and so before early stopping reads it), batch normalisation's moving averages become
    # the statistics of 400 training videos under the current weights: with the lagging averages the first epochs'
    # validation loss sat far above training (docs/lessons.md).
    precise = training.precise_batch_norm(data.train.x[:400])
    fit = model.fit(**train_args, validation_data=(data.val.x, data.val.y), epochs=cfg.epochs, verbose=0,
                    callbacks=[*run.callbacks(), precise, training.early_stopping("val_loss", patience=4)])
    predict = training.predict_fn(model)
    metrics = evaluate(predict, data)
    # The same score on the validation videos: what design choices are made on (benchmarks/choices.py).
    metrics["val_sequence_accuracy"] = float(np.mean(np.all(
        greedy_decode(predict(data.val.x), data.val.y.shape[1]) == data.val.y, axis=1)))
    probs = predict(data.test.x)
    metrics["keras_ctc_decode_agreement"] = float(np.mean(np.all(
        greedy_decode(probs) == keras_decode(probs), axis=1)))

    show = np.arange(min(6, len(data.test)))
    decoded = greedy_decode(probs[show])
    fig = plots.pyplot().figure(figsize=(cfg.frames * 0.5 + 1.5, 1.0 * len(show) + 0.6))
    for r, i in enumerate(show):
        for t in range(cfg.frames):
            ax = fig.add_subplot(len(show), cfg.frames, r * cfg.frames + t + 1)
            ax.imshow(data.test.x[i, t, :, :, 0], cmap="gray", vmin=0, vmax=1)
            best = int(probs[i, t].argmax())
            ax.set_title("-" if best == dv.BLANK else str(best), fontsize=7)
            ax.axis("off")
        fig.axes[r * cfg.frames].text(-0.4, 0.5, f"true {dv.label_text(data.test.y[i])}\nread "
                                      f"{dv.label_text(decoded[r])}", transform=fig.axes[r * cfg.frames].transAxes,
                                      ha="right", va="center", fontsize=8)
    fig.subplots_adjust(left=0.1)
    fig.suptitle("Held-out videos: per-frame best class (- = blank) and the decoded sequence")
    run.save_figure(fig, "videos_read")
    run.save_figure(plots.learning_curves(training.history_dict(fit), "CTC loss"), "learning_curves")
    notes = [f"held-out whole-sequence accuracy {metrics['sequence_accuracy']:.3f}, "
             f"per-digit {metrics['digit_accuracy']:.3f}; NumPy greedy decoder agrees with keras.ops.ctc_decode "
             f"on {metrics['keras_ctc_decode_agreement']:.1%} of videos"]
    return Trained(exports={"model": model}, metrics=metrics, history=training.history_dict(fit), notes=notes,
                   baselines={"stills + rule": stills_baseline(cfg, data, run.log)})


def stills_baseline(cfg: Config, data, log) -> dict[str, float]:
    """Reading the video as still pictures, with time handled by a hand-written rule: in each frame,
    find the 8x8 window with the most ink; call the frame blank when that ink is below a threshold,
    else classify the window with a logistic regression trained on the training digit pictures
    (C chosen on the validation pictures); each run of inked frames is one digit, the one most
    probable summed over the run. The ink threshold is chosen on the validation videos."""
    from sklearn.linear_model import LogisticRegression

    from dlbootcamp.baselines import tune

    pools = dv.picture_pools(cfg.seed)

    def standardise(x):
        x = x.reshape(len(x), -1)
        return (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-6)

    classifier = tune(lambda c: LogisticRegression(C=c, max_iter=2000), (0.01, 0.1, 1.0),
                      (standardise(pools.train.x), pools.train.y), (standardise(pools.val.x), pools.val.y)).model

    def stills(videos):  # per frame: the ink of the inkiest 8x8 window, and the classifier's digit for it
        ink, crops = dv.inkiest_windows(videos)
        return ink, classifier.predict_proba(standardise(crops))

    cache = {}

    def read(videos, threshold):
        if id(videos) not in cache:
            cache[id(videos)] = stills(videos)
        ink, probs = cache[id(videos)]
        return dv.digits_from_runs((ink >= threshold).reshape(videos.shape[:2]),
                                   probs.reshape(*videos.shape[:2], -1), data.val.y.shape[1])

    def accuracy(split, threshold):
        return float(np.mean(np.all(read(split.x, threshold) == split.y, axis=1)))

    thresholds = np.quantile(stills(data.val.x)[0], np.linspace(0.05, 0.95, 37))
    best = max(thresholds, key=lambda t: accuracy(data.val, t))
    log(f"  stills + rule: ink threshold {best:.3f} chosen on validation (sequence accuracy "
        f"{accuracy(data.val, best):.3f})")
    return {"sequence_accuracy": accuracy(data.test, best)}
