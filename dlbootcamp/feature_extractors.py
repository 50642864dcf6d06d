"""Fixed feature extractors for perceptual losses (style transfer, texture synthesis).

Style transfer compares images by the activations of a network that is *not* trained in the
lesson. Two are offered, and ``build`` picks the best one this machine has:

- **VGG19 with ImageNet weights** (Gatys et al., 2016), used when the weights file is already in
  the Keras cache (``$KERAS_HOME/models`` or ``~/.keras/models``; nothing is downloaded here);
- otherwise a **fixed multi-scale random-filter network**: four 3x3 convolution + ReLU stages
  with random (seeded, never trained) weights, average-pooled 2x between stages so the stages
  see ever larger patches. Ustyuzhaninov, Brendel, Gatys and Bethge ("What does it take to
  generate natural textures?", ICLR 2017; "Texture synthesis using shallow convolutional
  networks with random filters", 2016) showed that Gram statistics of random filters at
  several scales already synthesise natural-looking textures: the trained weights matter less
  than the multi-scale structure.

``Extractor.features(images)`` takes RGB in [0, 1] and returns (style maps, content map).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib

VGG19_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"  # the name keras.applications caches
VGG19_STYLE = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
VGG19_CONTENT = "block4_conv2"
RANDOM_WIDTHS = (32, 64, 128, 128)  # channels of the random stages, full resolution first


@dataclasses.dataclass(frozen=True)
class Extractor:
    model: object  # keras.Model: preprocessed image -> [style maps..., content map]
    style_layers: tuple[str, ...]
    content_layer: str
    kind: str  # "vgg19-imagenet" or "random-multiscale"
    description: str  # one line for the run's notes
    preprocess: str  # "vgg19" (caffe BGR mean) or "centre" (x - 0.5)

    def features(self, images):
        """(list of style feature maps, content feature map) for RGB images in [0, 1]."""
        import keras

        x = keras.ops.convert_to_tensor(images, dtype="float32")
        if self.preprocess == "vgg19":
            x = x[..., ::-1] * 255.0 - keras.ops.convert_to_tensor([103.939, 116.779, 123.68])
        else:
            x = x - 0.5
        outs = self.model(x, training=False)
        return list(outs[:-1]), outs[-1]


def keras_cache() -> pathlib.Path:
    return pathlib.Path(os.environ.get("KERAS_HOME", pathlib.Path.home() / ".keras")) / "models"


def vgg19_weights_path() -> pathlib.Path | None:
    """The cached ImageNet weights of VGG19 (no top), or None when this machine has none."""
    path = keras_cache() / VGG19_FILE
    return path if path.is_file() else None


def vgg19(weights: pathlib.Path) -> Extractor:
    """VGG19 (convolutional part) loaded from a local weights file."""
    import keras

    base = keras.applications.VGG19(include_top=False, weights=None)
    base.load_weights(str(weights))
    base.trainable = False
    outputs = [base.get_layer(n).output for n in (*VGG19_STYLE, VGG19_CONTENT)]
    model = keras.Model(base.input, outputs, name="vgg19_features")
    return Extractor(model, VGG19_STYLE, VGG19_CONTENT, "vgg19-imagenet",
                     f"VGG19 with ImageNet weights ({weights})", "vgg19")


def random_multiscale(seed: int, widths: tuple[int, ...] = RANDOM_WIDTHS) -> Extractor:
    """A fixed random-filter network: 3x3 conv + ReLU stages, 2x average pooling between them."""
    import keras

    inputs = keras.Input((None, None, 3), name="image")
    x, outputs, names = inputs, [], []
    for i, width in enumerate(widths, start=1):
        if i > 1:
            x = keras.layers.AveragePooling2D(2, name=f"pool{i}")(x)
        init = keras.initializers.HeNormal(seed=seed * 100 + i)  # random, seeded, never trained
        x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", kernel_initializer=init,
                                use_bias=False, trainable=False, name=f"random{i}")(x)
        outputs.append(x)
        names.append(f"random{i}")
    model = keras.Model(inputs, [*outputs, outputs[-2]], name="random_features")
    desc = (f"fixed random multi-scale filters (seed {seed}, widths {list(widths)}): no ImageNet VGG19 weights in "
            f"{keras_cache()} (Ustyuzhaninov et al. 2017: random filters suffice for texture statistics)")
    return Extractor(model, tuple(names), names[-2], "random-multiscale", desc, "centre")


def build(seed: int = 0, *, prefer: str = "auto") -> Extractor:
    """VGG19 when its ImageNet weights are cached (``prefer="auto"``), else random filters."""
    from dlbootcamp.errors import UserError

    if prefer not in ("auto", "vgg19", "random"):
        raise UserError(f"Unknown feature extractor {prefer!r}; expected 'auto', 'vgg19' or 'random'.")
    weights = vgg19_weights_path()
    if prefer == "vgg19" and weights is None:
        raise UserError(f"VGG19 ImageNet weights not found at {keras_cache() / VGG19_FILE}; run "
                        f"`python -c \"import keras; keras.applications.VGG19(include_top=False)\"` once online, "
                        f"or use the random extractor.")
    if weights is not None and prefer != "random":
        return vgg19(weights)
    return random_multiscale(seed)
