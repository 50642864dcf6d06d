"""Tiny Keras models, one per layer family the exporter must handle, and their inputs.

Every builder is seeded, so a model (and its export) is the same on every run. Models are
small on purpose: the whole export test set converts dozens of them.
"""

import numpy as np
import pytest

SEED = 0


def _dense():
    import keras

    inputs = keras.Input((12,), name="features")
    x = keras.layers.Dense(16, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(4, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="dense_net")


def _conv_bn():
    import keras

    inputs = keras.Input((12, 12, 1), name="image")
    x = keras.layers.Conv2D(8, 3, padding="same", use_bias=False, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.MaxPooling2D(name="maxpool")(x)
    x = keras.layers.Conv2D(8, 3, padding="valid", activation="relu", name="conv2")(x)
    x = keras.layers.AveragePooling2D(2, name="avgpool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(5, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="conv_bn_net")


def _separable():
    import keras

    inputs = keras.Input((16, 16, 3), name="image")
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu", name="depthwise")(inputs)
    x = keras.layers.SeparableConv2D(8, 3, padding="same", activation="relu", name="separable")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="separable_net")


def _embedding():
    import keras

    tokens = keras.Input((10,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(50, 8, name="embed")(tokens)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="probs")(x)
    return keras.Model(tokens, outputs, name="embedding_net")


def _gru():
    import keras

    inputs = keras.Input((6, 4), name="sequence")
    x = keras.layers.GRU(8, name="gru")(inputs)
    outputs = keras.layers.Dense(3, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="gru_net")


def _lstm():
    import keras

    inputs = keras.Input((6, 4), name="sequence")
    x = keras.layers.LSTM(8, return_sequences=True, name="lstm")(inputs)
    outputs = keras.layers.Dense(2, name="values")(x)  # a regression output per time step
    return keras.Model(inputs, outputs, name="lstm_net")


def _attention():
    import keras

    inputs = keras.Input((6, 8), name="sequence")
    attended = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")(inputs, inputs)
    x = keras.layers.LayerNormalization(name="norm")(keras.layers.Add(name="residual")([inputs, attended]))
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="attention_net")


def _upsampling():
    import keras

    inputs = keras.Input((8, 8, 2), name="image")
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu", name="down")(inputs)
    x = keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu", name="up_transpose")(x)
    x = keras.layers.UpSampling2D(2, name="upsample")(x)
    outputs = keras.layers.Conv2D(1, 1, activation="sigmoid", name="mask")(x)
    return keras.Model(inputs, outputs, name="upsampling_net")


def _multi_io():
    import keras

    image = keras.Input((8, 8, 1), name="image")
    meta = keras.Input((3,), name="meta")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(image)
    x = keras.layers.GlobalMaxPooling2D(name="gmp")(x)
    x = keras.layers.Concatenate(name="concat")([x, keras.layers.Dense(4, activation="relu", name="meta_dense")(meta)])
    probs = keras.layers.Dense(4, activation="softmax", name="probs")(x)
    value = keras.layers.Dense(1, name="value")(x)
    return keras.Model([image, meta], [probs, value], name="multi_io_net")


FAMILIES = {
    "dense": _dense, "conv_bn": _conv_bn, "separable": _separable, "embedding": _embedding, "gru": _gru,
    "lstm": _lstm, "attention": _attention, "upsampling": _upsampling, "multi_io": _multi_io,
}


def build(family: str):
    """A seeded model of one family, with BatchNorm statistics moved off their defaults."""
    import keras

    keras.utils.set_random_seed(SEED)
    model = FAMILIES[family]()
    rng = np.random.default_rng(SEED)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):  # moving statistics off their defaults,
            gamma, beta, mean, var = layer.get_weights()  # so that folding them is tested
            layer.set_weights([gamma * 1.5, beta + 0.1, rng.normal(0, 0.2, mean.shape),
                               var + rng.uniform(0.1, 1, var.shape)])
        if layer.name in ("probs", "mask"):  # confident answers, as a trained model gives: an untrained
            kernel, bias = layer.get_weights()  # one's near-ties make top-1 agreement a coin toss
            layer.set_weights([kernel * 6, bias])
    return model


def inputs_for(model, n: int, seed: int = SEED) -> list[np.ndarray]:
    """Inputs matching ``model``: floats in [0, 1), token ids inside the Embedding vocabulary."""
    rng = np.random.default_rng(seed)
    out = []
    for t in model.inputs:
        shape = (n, *t.shape[1:])
        if "int" in str(t.dtype):
            out.append(rng.integers(0, 50, size=shape).astype(str(t.dtype)))
        else:
            out.append(rng.uniform(0, 1, size=shape).astype("float32"))
    return out


def pytest_generate_tests(metafunc):
    """A test that takes ``family`` runs once per layer family."""
    if "family" in metafunc.fixturenames:
        metafunc.parametrize("family", sorted(FAMILIES))


@pytest.fixture(scope="session")
def build_model():
    """``build_model(family)``: a fresh seeded model of that family."""
    return build


@pytest.fixture(scope="session")
def make_inputs():
    """``make_inputs(model, n, seed)``: inputs for ``model``."""
    return inputs_for


@pytest.fixture(scope="session")
def dense_model():
    return build("dense")


@pytest.fixture(scope="session")
def gru_model():
    return build("gru")
