"""Day 7 - Super-resolution: sharper pixels from a blurry image with ESPCN (x3).

Seed 002: "increase the resolution of a blurry image through deep learning".

Upscaling with a formula (bicubic interpolation) can only smooth between the pixels it has; it
cannot put back an edge that the small image blurred away. A network trained on many photos
has seen how edges, fur and text look at full resolution, and learns to *guess* the missing
detail from the pattern of the low-resolution pixels around it.

ESPCN (Shi et al., 2016, "Real-Time Single Image and Video Super-Resolution Using an Efficient
Sub-Pixel Convolutional Neural Network") does all its work at low resolution, which makes it
cheap enough for a phone: three convolutions produce, for every low-resolution pixel, the
3 x 3 = 9 high-resolution pixels it should become, as 9 channels; a *sub-pixel convolution*
(``depth_to_space``) then rearranges those channels into a 3x larger image. We let the network
learn only the difference from bicubic upscaling (a residual, as in VDSR), which trains faster;
bicubic upscaling is itself a sub-pixel convolution, with fixed weights. (The paper uses tanh;
ReLU learned faster in our few CPU minutes.)

Data: luminance (Y) of real photos bundled with scikit-image and scikit-learn
(``dlbootcamp.data.photos``). Low-resolution inputs are made by bicubic downscaling with
anti-aliasing. Training uses random patches of the training photos; the score is PSNR
(``tf.image.psnr``) on whole held-out photos, against bicubic upscaling of the same input.

On a device: the exported model takes a fixed ``tile`` x ``tile`` low-resolution input; a
whole image is upscaled tile by tile with overlapping margins (``photos.tile``/``untile``),
or, because the network is fully convolutional, by resizing the TFLite interpreter's input
(``interpreter.resize_tensor_input(index, [1, H, W, 1])`` then ``allocate_tensors()``).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from dlbootcamp import image_metrics, plots, training
from dlbootcamp.data import photos
from dlbootcamp.lesson import Bar, LessonInfo, Trained

LESSON = LessonInfo(
    id="super-resolution",
    day=7,
    title="Super-resolution: ESPCN sharpens real photos x3, against bicubic",
    seeds=("002",),
    topics=("super-resolution", "sub-pixel convolution", "depth_to_space", "residual learning", "PSNR",
            "fully convolutional inference"),
    summary=("ESPCN trained on luminance patches of bundled photos upscales held-out photos x3; "
             "PSNR gain over bicubic upscaling is the score. The export upscales any image size on a device."),
    bars=(Bar("psnr_gain_db", ">=", 1.0),),
    # int8 may lose at most 0.5 dB of the gain over bicubic against the Keras model.
    quantized_tolerance=0.5,
    distribute=True,
    baselines=("bicubic",),
    resumable=True,  # one model.fit with run.callbacks(): --resume continues it
)


@dataclasses.dataclass(frozen=True)
class Config:
    scale: int = 3  # upscaling factor
    patch: int = 24  # low-resolution training patch side (high-resolution: patch * scale)
    n_patches: int = 10000  # training patches from the training photos
    min_patch_std: float = 0.03  # skip flatter patches (luma standard deviation below this)
    filters: tuple[int, ...] = (64, 32)  # channels of the 5x5 and 3x3 feature convolutions
    epochs: int = 12  # passes over the patches (early stopping on validation patches)
    batch_size: int = 32
    learning_rate: float = 1e-3  # Adam, cosine-decayed to 0 over the run
    tile: int = 64  # the exported model's fixed low-resolution input side
    seed: int = 0  # patches, initial weights, shuffling

    @classmethod
    def quick(cls) -> "Config":
        return cls(n_patches=256, filters=(8, 8), epochs=1, batch_size=64)


MARGIN = 4  # receptive-field radius in low-resolution pixels: 2 (5x5) + 1 (3x3) + 1 (3x3)


# --- data: degrade real photos the way the model will meet them ----------------------------------

@dataclasses.dataclass(frozen=True)
class Photo:
    name: str
    lr: np.ndarray  # (h, w, 1) low-resolution luma
    hr: np.ndarray  # (h*scale, w*scale, 1) the original luma
    rgb: np.ndarray  # (h*scale, w*scale, 3) the original in colour, for pictures


@dataclasses.dataclass(frozen=True)
class SRData:
    train_lr: np.ndarray  # (N, patch, patch, 1)
    train_hr: np.ndarray  # (N, patch*scale, patch*scale, 1)
    val_lr: np.ndarray
    val_hr: np.ndarray
    train_photos: tuple[Photo, ...]
    test_photos: tuple[Photo, ...]  # whole held-out photos
    scale: int
    tile: int


def downscale(hr: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic downscaling with anti-aliasing: how our low-resolution inputs are made."""
    h, w = hr.shape[0] // scale, hr.shape[1] // scale
    return tf.image.resize(hr, (h, w), method="bicubic", antialias=True).numpy().clip(0, 1)


def bicubic(lr: np.ndarray, scale: int) -> np.ndarray:
    """The baseline: bicubic upscaling of the low-resolution image."""
    h, w = lr.shape[0] * scale, lr.shape[1] * scale
    return tf.image.resize(lr, (h, w), method="bicubic").numpy().clip(0, 1)


def _photo(name: str, scale: int) -> Photo:
    rgb = photos.load(name, "rgb")
    rgb = rgb[:rgb.shape[0] // scale * scale, :rgb.shape[1] // scale * scale]
    hr = photos.rgb_to_y(rgb)
    return Photo(name, downscale(hr, scale), hr, rgb)


def _aligned_patches(pics, n: int, cfg: Config, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random low-resolution patches and the high-resolution patches they came from.

    Every photo gets the same share, flat patches (sky, background) are skipped: there is
    nothing to learn from them and they would dominate the loss of a small model. Each patch
    is randomly flipped and rotated by a multiple of 90 degrees: edges point every way.
    """
    s, p = cfg.scale, cfg.patch
    rng = np.random.default_rng(seed)
    lr, hr = [], []
    while len(lr) < n:
        ph = pics[rng.integers(len(pics))]
        y, x = rng.integers(0, ph.lr.shape[0] - p + 1), rng.integers(0, ph.lr.shape[1] - p + 1)
        if ph.lr[y:y + p, x:x + p].std() >= cfg.min_patch_std:
            k, flip = rng.integers(4), rng.integers(2)
            for out, patch in ((lr, ph.lr[y:y + p, x:x + p]), (hr, ph.hr[y * s:(y + p) * s, x * s:(x + p) * s])):
                patch = np.rot90(patch, k)
                out.append(patch[:, ::-1] if flip else patch)
    return np.stack(lr), np.stack(hr)


def load_data(cfg: Config) -> SRData:
    train_pics = tuple(_photo(n, cfg.scale) for n in photos.TRAIN_PHOTOS)
    test_pics = tuple(_photo(n, cfg.scale) for n in photos.TEST_PHOTOS)
    train_lr, train_hr = _aligned_patches(train_pics, cfg.n_patches, cfg, seed=cfg.seed)
    val_lr, val_hr = _aligned_patches(train_pics, max(64, cfg.n_patches // 10), cfg, seed=cfg.seed + 1)
    return SRData(train_lr, train_hr, val_lr, val_hr, train_pics, test_pics, cfg.scale, cfg.tile)


def representative_data(data: SRData, n: int = 200, split: str = "train"):
    """Low-resolution tiles (n, tile, tile, 1): train photos calibrate int8, test photos check parity."""
    pics = data.train_photos if split == "train" else data.test_photos
    return photos.random_patches([p.lr for p in pics], n, data.tile, seed=0 if split == "train" else 1)


def sidecar(data: SRData) -> dict:
    s, t = data.scale, data.tile
    return {"preprocessing": f"low-resolution luma tile {t}x{t}: {photos.LUMA}",
            "output": f"high-resolution luma {t * s}x{t * s} (x{s}); colour: upscale Cb/Cr bicubically",
            "scale": s, "tile": t, "tile_margin": MARGIN,
            "other_sizes": ("fully convolutional: interpreter.resize_tensor_input(input_index, [1, H, W, 1]) "
                            "then allocate_tensors() upscales an H x W image in one call; or run "
                            f"overlapping {t}x{t} tiles and keep each tile's centre (margin {MARGIN} pixels)")}


# --- model: features at low resolution, then a sub-pixel convolution -----------------------------

def bicubic_kernel(scale: int) -> np.ndarray:
    """Bicubic upscaling as a convolution: (5, 5, 1, scale**2) weights for ``depth_to_space``.

    High-resolution pixel (scale*k + i) sits at low-resolution position k + d_i, with
    d_i = (i + 0.5) / scale - 0.5; its value is a Keys-cubic (a = -0.5, as tf.image.resize)
    weighted sum of the 5 x 5 low-resolution pixels around k. One output channel per (i, j).
    """
    def keys(t, a=-0.5):
        t = np.abs(t)
        return np.where(t <= 1, (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1,
                        np.where(t < 2, a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a, 0.0))

    taps = np.arange(-2, 3)
    w1d = [keys(taps - ((i + 0.5) / scale - 0.5)) for i in range(scale)]  # one 5-tap filter per offset
    kernel = np.stack([np.outer(w1d[i], w1d[j]) for i in range(scale) for j in range(scale)], -1)
    return kernel[:, :, None, :].astype(np.float32)


def build_model(cfg: Config, size: int | None = None) -> keras.Model:
    """ESPCN. ``size=None`` accepts any image size (training); an int fixes it (export)."""
    s = cfg.scale
    lr = keras.Input((size, size, 1), name="lr_luma")
    x = keras.layers.Conv2D(cfg.filters[0], 5, padding="same", activation="relu", name="features5x5")(lr)
    x = keras.layers.Conv2D(cfg.filters[1], 3, padding="same", activation="relu", name="features3x3")(x)
    x = keras.layers.Conv2D(s * s, 3, padding="same", name="subpixels")(x)  # s*s sub-pixels per pixel
    # Residual learning: the network only adds detail to bicubic upscaling, which is itself a
    # sub-pixel convolution - with fixed weights (not trained).
    smooth = keras.layers.Conv2D(s * s, 5, padding="same", use_bias=False, trainable=False, name="bicubic",
                                 kernel_initializer=keras.initializers.Constant(bicubic_kernel(s)))(lr)
    x = keras.layers.Add(name="plus_bicubic")([x, smooth])
    x = keras.ops.depth_to_space(x, s)  # (h, w, s*s) -> (h*s, w*s, 1)
    hr = keras.layers.ReLU(max_value=1.0, name="hr_luma")(x)  # clip to the valid range [0, 1]
    return keras.Model(lr, hr, name="espcn")


def fixed_size(model: keras.Model, cfg: Config) -> keras.Model:
    """The same weights behind a fixed tile-sized input, as TFLite on a device wants it."""
    fixed = build_model(cfg, size=cfg.tile)
    fixed.set_weights(model.get_weights())
    return fixed


def psnr_metric(hr, pred):
    return tf.image.psnr(hr, pred, max_val=1.0)


# --- train ----------------------------------------------------------------------------------

def train(cfg: Config, run) -> Trained:
    training.seed_everything(cfg.seed)
    data = load_data(cfg)
    run.log(f"  data: {len(data.train_lr)} patches {cfg.patch}x{cfg.patch} -> x{cfg.scale} from "
            f"{len(data.train_photos)} training photos; test: {', '.join(p.name for p in data.test_photos)}")
    steps = cfg.epochs * -(-len(data.train_lr) // cfg.batch_size)
    with run.scope():  # the tf.distribute strategy's, under --distribute
        model = build_model(cfg)
        model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(cfg.learning_rate, steps)),
                      loss="mse", metrics=[psnr_metric])
    fit = model.fit(data.train_lr, data.train_hr, validation_data=(data.val_lr, data.val_hr),
                    epochs=cfg.epochs, batch_size=cfg.batch_size, verbose=0,
                    callbacks=[*run.callbacks(), training.early_stopping("val_loss", patience=5)])
    exported = fixed_size(model, cfg)
    scores = evaluate(training.predict_fn(exported, batch_size=64), data, per_photo=True)
    save_pictures(exported, data, run, scores)
    metrics = {k: v for k, v in scores.items() if not k.startswith("photo:")}
    baselines = {"bicubic": {"test_psnr": metrics["bicubic_psnr"], "psnr_gain_db": 0.0}}
    return Trained(exports={"model": exported}, metrics=metrics, history=training.history_dict(fit), baselines=baselines,
                   notes=[f"exported model input: a fixed {cfg.tile}x{cfg.tile} low-resolution luma tile; "
                          "resize the TFLite interpreter input for other sizes (see the sidecar)",
                          f"held-out PSNR: ESPCN {metrics['test_psnr']:.2f} dB, bicubic "
                          f"{metrics['bicubic_psnr']:.2f} dB"])


# --- evaluate: whole held-out photos, tile by tile (Keras, TFLite and ONNX alike) ----------------

def upscale(predict, lr: np.ndarray, scale: int, tile: int) -> np.ndarray:
    tiles, layout = photos.tile(lr, tile, MARGIN)
    return photos.untile(np.asarray(predict(tiles)), layout, scale)


def _shave(img: np.ndarray, s: int) -> np.ndarray:
    return img[s:-s, s:-s]  # the outer rim has no neighbours to learn from; SR papers skip it


def evaluate(predict, data: SRData, per_photo: bool = False) -> dict[str, float]:
    s, model_db, bicubic_db, out = data.scale, [], [], {}
    for ph in data.test_photos:
        sr = upscale(predict, ph.lr, s, data.tile)
        model_db.append(image_metrics.psnr(_shave(sr, s), _shave(ph.hr, s)))
        bicubic_db.append(image_metrics.psnr(_shave(bicubic(ph.lr, s), s), _shave(ph.hr, s)))
        out[f"photo:{ph.name}"] = (bicubic_db[-1], model_db[-1])
    metrics = {"psnr_gain_db": float(np.mean(model_db) - np.mean(bicubic_db)),
               "test_psnr": float(np.mean(model_db)), "bicubic_psnr": float(np.mean(bicubic_db))}
    return {**metrics, **out} if per_photo else metrics


# --- pictures -------------------------------------------------------------------------------

def save_pictures(model: keras.Model, data: SRData, run, scores: dict) -> None:
    s, plt = data.scale, plots.pyplot()
    predict = training.predict_fn(model, batch_size=64)
    fig, axes = plt.subplots(len(data.test_photos), 4, figsize=(12, 3.2 * len(data.test_photos)), squeeze=False)
    for row, ph in zip(axes, data.test_photos):
        ycc = photos.rgb_to_ycbcr(ph.rgb)  # colour: the model's luma + bicubic chroma
        chroma = bicubic(photos.rgb_to_ycbcr(downscale(ph.rgb, s))[..., 1:], s)
        sr = photos.ycbcr_to_rgb(np.concatenate([upscale(predict, ph.lr, s, data.tile), chroma], -1))
        bic = photos.ycbcr_to_rgb(np.concatenate([bicubic(ph.lr, s), chroma], -1))
        low = np.repeat(np.repeat(downscale(ph.rgb, s), s, 0), s, 1)  # shown with big pixels
        h, w = ph.hr.shape[:2]
        crop = (slice(h // 3, h // 3 + min(h, w) // 3), slice(w // 3, w // 3 + min(h, w) // 3))
        b_db, m_db = scores[f"photo:{ph.name}"]
        for ax, img, title in zip(row, (low, bic, sr, photos.ycbcr_to_rgb(ycc)),
                                  ("low-res input", f"bicubic {b_db:.2f} dB", f"ESPCN {m_db:.2f} dB", "original")):
            ax.imshow(img[crop])
            ax.set_title(f"{ph.name}: {title}", fontsize=9)
            ax.axis("off")
    fig.suptitle(f"Held-out photos, x{s} (centre crops; PSNR on the whole luma)")
    fig.tight_layout()
    run.save_figure(fig, "low_bicubic_model_original")
