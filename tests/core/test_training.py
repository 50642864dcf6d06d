"""dlbootcamp.training: precise batch-normalisation statistics, batches drawn afresh each epoch."""

import numpy as np


def _bn_model():
    import keras

    image, other = keras.Input((8, 8, 3)), keras.Input((5,))
    x = keras.layers.Conv2D(4, 3, name="c1")(image)
    x = keras.layers.ReLU()(keras.layers.BatchNormalization(name="n1")(x))
    x = keras.layers.BatchNormalization(name="n2")(keras.layers.Conv2D(4, 3, name="c2")(x))
    y = keras.layers.Dense(2)(keras.layers.Concatenate()([keras.layers.Flatten()(x), other]))
    return keras.Model([image, other], y)


def _inputs(n=40, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(2.0, 3.0, (n, 8, 8, 3)).astype("float32"), np.zeros((n, 5), "float32")]


def test_set_batch_norm_statistics_matches_each_layers_input_in_order():
    import keras

    from dlbootcamp import training

    training.seed_everything(0)
    model, xs = _bn_model(), _inputs()
    training.set_batch_norm_statistics(model, xs)
    for name in ("n1", "n2"):  # n2's input depends on n1's statistics, already set
        layer = model.get_layer(name)
        seen = keras.Model(model.inputs, layer.input).predict(xs, verbose=0)
        np.testing.assert_allclose(layer.moving_mean.numpy(), seen.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(layer.moving_variance.numpy(), seen.var(axis=(0, 1, 2)), rtol=1e-4, atol=1e-5)
    out = keras.Model(model.inputs, model.get_layer("n2").output).predict(xs, verbose=0)
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0.0, atol=1e-4)  # inference now normalises these images
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1.0, atol=1e-2)


def test_precise_batch_norm_refuses_dropout_before_a_normalisation():
    import keras
    import pytest

    from dlbootcamp import training

    image = keras.Input((8, 8, 3))
    x = keras.layers.BatchNormalization()(keras.layers.Dropout(0.5)(keras.layers.Conv2D(4, 3)(image)))
    with pytest.raises(ValueError, match="dropout"):
        training.set_batch_norm_statistics(keras.Model(image, x), _inputs()[0])


def test_precise_batch_norm_refuses_a_normalisation_it_cannot_reach():
    import keras
    import pytest

    from dlbootcamp import training

    block = keras.Sequential([keras.layers.Conv2D(4, 3), keras.layers.BatchNormalization()], name="block")
    image = keras.Input((8, 8, 3))
    with pytest.raises(ValueError, match="inside block would keep its moving averages"):
        training.set_batch_norm_statistics(keras.Model(image, block(image)), _inputs()[0])


def test_precise_batch_norm_runs_before_each_validation_and_leaves_training_alone():
    import keras

    from dlbootcamp import training

    def fit(callbacks):
        training.seed_everything(0)
        model = _bn_model()
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
        xs, y = _inputs(), np.ones((40, 2), "float32")
        history = model.fit(xs, y, batch_size=8, epochs=2, verbose=0, shuffle=False,
                            validation_data=(_inputs(16, seed=1), np.ones((16, 2), "float32")), callbacks=callbacks)
        return model, history.history

    plain, plain_history = fit([])
    precise, precise_history = fit([training.precise_batch_norm(_inputs())])
    np.testing.assert_allclose(plain_history["loss"], precise_history["loss"], rtol=1e-6)  # training unchanged
    assert plain_history["val_loss"] != precise_history["val_loss"]  # validation scores other statistics
    seen = keras.Model(precise.inputs, precise.get_layer("n1").input).predict(_inputs(), verbose=0)
    # The statistics were set before the last validation; the weights have not moved since.
    np.testing.assert_allclose(precise.get_layer("n1").moving_mean.numpy(), seen.mean(axis=(0, 1, 2)), rtol=1e-4,
                               atol=1e-5)


def test_fresh_batches_draw_again_each_epoch_with_a_fixed_length():
    from dlbootcamp import training

    sizes = iter([100, 90, 110])

    def draw(rng):  # inputs (a, b) and targets; each draw a different size, as sampled pairs are
        n = next(sizes)
        a = rng.integers(0, 1000, n)
        return a, a + 1, (a % 2).astype(np.float32)

    batches = training.fresh_batches(draw, batch_size=8, seed=5)
    assert len(batches) == int(0.97 * 100) // 8 == 12  # fixed by the first draw
    (a, b), y = batches[0]
    assert a.shape == b.shape == y.shape == (8,) and np.array_equal(b, a + 1)
    first = batches[0][0][0].copy()
    np.testing.assert_array_equal(first, np.random.default_rng(5).integers(0, 1000, 100)[:8])  # seed + 1000 * 0
    batches.on_epoch_end()
    assert len(batches) == 12 and len(batches.arrays[-1]) == 90  # a new, smaller draw; the same epoch length
    np.testing.assert_array_equal(batches[0][0][0], np.random.default_rng(1005).integers(0, 1000, 90)[:8])
