"""Training helpers shared by lessons: seeding, callbacks, a readable progress line."""

from __future__ import annotations

import time


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the backend for a run. Called by ``train`` with the config's seed."""
    import keras

    keras.utils.set_random_seed(seed)


class EpochLine:
    """Keras callback factory: one short line per epoch with the metrics, the epoch's time and the time so far."""

    @staticmethod
    def make(print_fn=print, every: int = 1):
        import keras

        class _EpochLine(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self._t0 = time.perf_counter()

            def on_epoch_begin(self, epoch, logs=None):
                self._epoch_t0 = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                if (epoch + 1) % every and epoch + 1 != self.params.get("epochs"):
                    return
                logs = logs or {}
                shown = "  ".join(f"{k} {v:.4g}" for k, v in logs.items() if k != "learning_rate")
                now = time.perf_counter()
                print_fn(f"  epoch {epoch + 1}/{self.params.get('epochs')}  {shown}  "
                         f"[{now - self._epoch_t0:.1f} s this epoch, {now - self._t0:.1f} s in all]")

        return _EpochLine()


def early_stopping(monitor: str = "val_loss", patience: int = 5, mode: str = "auto"):
    import keras

    return keras.callbacks.EarlyStopping(monitor=monitor, patience=patience, mode=mode,
                                         restore_best_weights=True)


def set_batch_norm_statistics(model, inputs, probes: dict | None = None) -> None:
    """Set every BatchNormalization layer's moving mean and variance to the statistics of its input over
    ``inputs`` under the model's current weights. One forward pass in training mode over all of ``inputs`` as
    a single batch does it: each normalisation then divides by exactly these images' statistics, so every later
    layer sees its input as it will at inference with the new averages. The layers before a normalisation run
    in training mode, so none of them may be random (dropout). ``probes`` caches the sub-model between calls."""
    import keras
    import numpy as np

    probes = {} if probes is None else probes
    if "model" not in probes:
        norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
        nested = [layer.name for layer in model.layers if _has_batch_norm(layer)]  # a model inside the model
        if nested:
            raise ValueError(f"precise batch-norm statistics read the model's own layers only; the BatchNormalization "
                             f"inside {', '.join(nested)} would keep its moving averages. Build the model without "
                             f"nesting those layers (a functional model over their layers), or leave it out")
        probe = keras.Model(model.inputs, [layer.input for layer in norms]) if norms else None
        if probe is not None and any(isinstance(layer, keras.layers.Dropout) for layer in probe.layers):
            raise ValueError("precise batch-norm statistics need the layers before each normalisation to be "
                             "deterministic; this model has dropout there")
        probes.update(model=probe, norms=norms)
    if probes["model"] is None:
        return
    seen = probes["model"](inputs, training=True)
    for layer, x in zip(probes["norms"], seen if isinstance(seen, (list, tuple)) else [seen]):
        x = np.asarray(x)
        axes = tuple(i for i in range(x.ndim) if i != layer.axis % x.ndim)
        layer.moving_mean.assign(x.mean(axis=axes, dtype=np.float64).astype("float32"))
        layer.moving_variance.assign(x.var(axis=axes, dtype=np.float64).astype("float32"))


def _has_batch_norm(layer) -> bool:
    """Whether a layer that holds layers (a nested model) has a BatchNormalization among them, at any depth."""
    import keras

    inner = getattr(layer, "layers", None) or []
    return any(isinstance(x, keras.layers.BatchNormalization) or _has_batch_norm(x) for x in inner)


def precise_batch_norm(inputs):
    """Keras callback: before each validation, batch normalisation's moving averages are replaced by the
    statistics of ``inputs`` (a few hundred training images, one batch) under the current weights ("precise
    BN", Wu & Johnson 2021, "Rethinking 'Batch' in BatchNorm"). The moving averages (momentum 0.99: about the
    last 100 steps) lag behind weights that move fast, so the model that validation scores can differ from the
    one being trained; training itself is unchanged (it normalises with each batch's own statistics)."""
    import keras

    class _PreciseBatchNorm(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self._probes = {}

        def on_test_begin(self, logs=None):
            set_batch_norm_statistics(self.model, inputs, self._probes)

    return _PreciseBatchNorm()


def fresh_batches(draw, batch_size: int, seed: int, keep: float = 0.97):
    """A Keras ``PyDataset`` that draws new training examples every epoch (skip-gram pairs, say, sampled
    afresh). ``draw(rng)`` returns arrays (inputs..., targets), its generator seeded with ``seed + 1000 *
    epoch``; a batch is ``((inputs[s]...), targets[s])``. Draws may differ a little in size, so every epoch
    serves the same number of batches (``keep`` of the first draw's): Keras sees a fixed epoch length."""
    import keras
    import numpy as np

    class FreshBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch = 0
            self._draw()
            self.steps = max(1, int(keep * len(self.arrays[-1])) // batch_size)

        def _draw(self):
            self.arrays = draw(np.random.default_rng(seed + 1000 * self.epoch))

        def __len__(self):
            return self.steps

        def __getitem__(self, i):
            s = slice(i * batch_size, (i + 1) * batch_size)
            return tuple(a[s] for a in self.arrays[:-1]), self.arrays[-1][s]

        def on_epoch_end(self):
            self.epoch += 1
            self._draw()

    return FreshBatches()


def history_dict(history) -> dict[str, list[float]]:
    """A Keras History as plain floats (JSON and CSV friendly)."""
    return {k: [float(v) for v in vals] for k, vals in history.history.items()}


def predict_fn(model, batch_size: int = 256):
    """A NumPy-in/NumPy-out predict function over a Keras model (what ``evaluate`` takes)."""
    import numpy as np

    def predict(x):
        out = model.predict(x, batch_size=batch_size, verbose=0)
        if isinstance(out, dict):
            return {k: np.asarray(v) for k, v in out.items()}
        return [np.asarray(o) for o in out] if isinstance(out, (list, tuple)) else np.asarray(out)

    return predict
