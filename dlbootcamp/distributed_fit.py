"""A ``model.fit`` for ``MultiWorkerMirroredStrategy``, on TensorFlow's documented custom-loop path.

Keras 3's ``model.fit`` fails under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585).
TensorFlow's own recipe does not go through the broken part: a distributed dataset
(``strategy.experimental_distribute_dataset``), a step run on every replica with
``strategy.run`` inside a ``tf.function``, each replica's loss divided by the *global* number of
examples in the step (so the gradients the optimizer sums across replicas are those of the mean),
and sums reduced across workers with ``strategy.reduce``.

:func:`fit` takes a compiled Keras model (its loss, optimizer and the mean-type metrics it was
compiled with), arrays or a ``tf.data`` dataset, and returns a ``keras.callbacks.History`` whose
``history`` has the keys ``fit`` would give (``loss``, ``val_loss``, metrics and ``val_`` metrics).
It drives the Keras callbacks the lessons pass (``CSVLogger``, the epoch line, ``EarlyStopping``
with ``restore_best_weights``; ``TensorBoard`` on the chief only); ``BackupAndRestore`` is
replaced by a ``tf.train.CheckpointManager`` after every epoch: the chief writes to
``checkpoint_dir/chief``, other workers to ``checkpoint_dir/worker-I`` (TensorFlow's pattern:
every worker saves, only the chief's copy is the checkpoint), and every worker restores from the
chief's copy when it can see it (one machine, or shared storage) and from its own otherwise. A
restarted cluster resumes after the last finished epoch.

:func:`routing_fit` routes ``keras.Model.fit`` here for the duration of a block, so a lesson whose
training is one ``model.fit`` runs unchanged under ``--distribute multiworker``.

Not supported (refused with a message): ``sample_weight``, ``class_weight``, ``validation_split``,
losses given per output (dicts or lists). Metrics that are not a mean over examples (AUC,
precision...) are left out of the history rather than computed wrongly across workers; the
EarlyStopping wait counter starts again after a restart.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib

from dlbootcamp.errors import UserError

ALIASES = {"acc": "accuracy"}


def _is_chief(strategy) -> bool:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return not has_chief and resolver.task_type == "worker" and int(resolver.task_id or 0) == 0


def _task_tag(strategy) -> str:
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return "chief"
    return f"{resolver.task_type}-{resolver.task_id}"


def _per_example(values):
    """Mean over every axis but the first: one value per example."""
    import tensorflow as tf

    values = tf.convert_to_tensor(values)
    if values.shape.rank is None or values.shape.rank <= 1:
        return tf.reshape(values, [-1])
    return tf.reduce_mean(tf.reshape(values, [tf.shape(values)[0], -1]), axis=1)


def _loss_fn(model):
    """Per-example loss function of the compiled loss."""
    import keras

    loss = getattr(model, "loss", None)
    if loss is None or isinstance(loss, (dict, list, tuple)):
        raise UserError(f"--distribute multiworker trains a model compiled with one loss; {model.name!r} has "
                        f"{type(loss).__name__ if loss is not None else 'none'}. Compile it with a single loss.")
    if isinstance(loss, keras.losses.Loss):
        return lambda y, p: _per_example(loss.call(y, p))
    fn = keras.losses.get(loss)
    if isinstance(fn, keras.losses.Loss):
        return lambda y, p: _per_example(fn.call(y, p))
    return lambda y, p: _per_example(fn(y, p))


def _metric_fns(model) -> dict:
    """name -> per-example function for the compiled metrics that are means over examples."""
    import keras

    config = getattr(getattr(model, "_compile_config", None), "config", None) or {}
    metrics = config.get("metrics") or []
    if isinstance(metrics, dict):
        return {}
    loss = getattr(model, "loss", None)
    loss_name = loss if isinstance(loss, str) else getattr(loss, "name", "") or getattr(loss, "__name__", "")
    out = {}
    for m in metrics:
        if isinstance(m, str):
            name = ALIASES.get(m, m)
            if name == "accuracy":
                fn = (keras.metrics.sparse_categorical_accuracy if "sparse_categorical" in loss_name
                      else keras.metrics.binary_accuracy if "binary" in loss_name
                      else keras.metrics.categorical_accuracy)
            else:
                try:
                    fn = keras.metrics.get(name)
                except ValueError:
                    continue
                if isinstance(fn, keras.metrics.Metric):
                    fn = getattr(fn, "_fn", None)
                    if fn is None:
                        continue
            out[name] = fn
        elif isinstance(m, keras.metrics.Metric):
            fn = getattr(m, "_fn", None)  # MeanMetricWrapper: a per-example function
            if fn is not None:
                kwargs = getattr(m, "_fn_kwargs", {}) or {}
                out[m.name] = (lambda f, kw: lambda y, p: f(y, p, **kw))(fn, kwargs)
        elif callable(m):
            out[getattr(m, "__name__", "metric")] = m
    return {k: (lambda f: lambda y, p: _per_example(f(y, p)))(f) for k, f in out.items()}


def _directions(model) -> dict[str, str]:
    """metric name -> "max" or "min", as Keras' EarlyStopping would find it on the compiled metric objects
    (which this loop does not build): accuracy goes up, metrics that are Keras losses go down."""
    import keras

    config = getattr(getattr(model, "_compile_config", None), "config", None) or {}
    out = {"loss": "min"}
    for m in config.get("metrics") or []:
        if isinstance(m, str):
            name = ALIASES.get(m, m)
            try:
                m = keras.metrics.get(name)
            except ValueError:
                continue
        if not isinstance(m, keras.metrics.Metric):
            continue  # a plain function has no direction for Keras either: its callbacks pass a mode
        direction = getattr(m, "_direction", None)
        if direction:
            out[ALIASES.get(m.name, m.name)] = "max" if direction == "up" else "min"
    return out


def _set_modes(callbacks, directions) -> None:
    """Give EarlyStopping-like callbacks in ``mode="auto"`` the direction Keras would have found."""
    for cb in callbacks:  # EarlyStopping, ModelCheckpoint, ReduceLROnPlateau...
        if getattr(cb, "mode", None) == "auto" and hasattr(cb, "monitor") and getattr(cb, "monitor_op", 0) is None:
            mode = directions.get(cb.monitor.removeprefix("val_"))
            if mode:
                cb.mode = mode


def _dataset(x, y=None, *, batch_size, shuffle, seed):
    import tensorflow as tf

    if isinstance(x, tf.data.Dataset):
        return x
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:  # the same seed on every worker: each keeps its share of the same global batches
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size or 32)


def fit(model, x=None, y=None, *, strategy, batch_size=None, epochs=1, verbose="auto", callbacks=None,
        validation_data=None, shuffle=True, initial_epoch=0, checkpoint_dir=None, seed=0,
        validation_split=0.0, sample_weight=None, class_weight=None, **ignored):
    """Train ``model`` (built and compiled under ``strategy.scope()``) like ``model.fit``; see the module doc."""
    import keras
    import tensorflow as tf

    if validation_split or sample_weight is not None or class_weight is not None:
        raise UserError("--distribute multiworker's fit does not take validation_split, sample_weight or "
                        "class_weight; pass validation_data, or train without --distribute multiworker.")
    chief = _is_chief(strategy)
    loss_fn, metric_fns = _loss_fn(model), _metric_fns(model)
    optimizer = model.optimizer
    train_ds = _dataset(x, y, batch_size=batch_size, shuffle=shuffle, seed=seed)
    val_ds = None
    if validation_data is not None:
        val_ds = validation_data if isinstance(validation_data, tf.data.Dataset) else \
            _dataset(*validation_data[:2], batch_size=batch_size, shuffle=False, seed=seed)
    dist_train = strategy.experimental_distribute_dataset(train_ds)
    dist_val = strategy.experimental_distribute_dataset(val_ds) if val_ds is not None else None
    with strategy.scope():
        optimizer.build(model.trainable_variables)
        epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="finished_epochs")
    names = ["loss", *metric_fns]

    def sums(y_true, y_pred):
        per = [loss_fn(y_true, y_pred)] + [f(y_true, y_pred) for f in metric_fns.values()]
        return [tf.reduce_sum(tf.cast(v, tf.float32)) for v in per], tf.cast(tf.shape(per[0])[0], tf.float32)

    def train_step(xb, yb):
        ctx = tf.distribute.get_replica_context()
        n_global = ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.cast(tf.shape(yb)[0], tf.float32))
        with tf.GradientTape() as tape:
            pred = model(xb, training=True)
            per = loss_fn(yb, pred)
            loss = tf.reduce_sum(tf.cast(per, tf.float32)) / tf.maximum(n_global, 1.0)
            if model.losses:  # regularisation: once in all, not once per replica
                loss += tf.add_n(model.losses) / ctx.num_replicas_in_sync
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return sums(yb, pred)

    def test_step(xb, yb):
        return sums(yb, model(xb, training=False))

    def reduced(fn):
        @tf.function
        def step(batch):
            (totals, count) = strategy.run(fn, args=batch)
            return ([strategy.reduce(tf.distribute.ReduceOp.SUM, t, axis=None) for t in totals],
                    strategy.reduce(tf.distribute.ReduceOp.SUM, count, axis=None))
        return step

    train_fn, test_fn = reduced(train_step), reduced(test_step)

    def run_epoch(dist_ds, step_fn):
        totals, count = [0.0] * len(names), 0.0
        for batch in dist_ds:
            t, c = step_fn(batch)
            totals = [a + float(b) for a, b in zip(totals, t)]
            count += float(c)
        return {k: v / max(count, 1.0) for k, v in zip(names, totals)}

    # --- checkpoints: the chief's copy is the checkpoint; every worker restores from it when visible
    manager, history_file, done, past = None, None, initial_epoch, {}
    if checkpoint_dir is not None:
        checkpoint_dir = pathlib.Path(checkpoint_dir)
        ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch_var)
        own = checkpoint_dir / ("chief" if chief else _task_tag(strategy))
        source = checkpoint_dir / "chief" if tf.train.latest_checkpoint(str(checkpoint_dir / "chief")) else own
        latest = tf.train.latest_checkpoint(str(source))
        if latest:
            ckpt.restore(latest).expect_partial()
            done = int(epoch_var.numpy())
            with contextlib.suppress(OSError, ValueError):  # the curves so far, cut to the epochs restored
                past = {k: v[:done] for k, v in json.loads((source / "history.json").read_text()).items()}
            print(f"  resumed from checkpoint after epoch {done} ({source.name})", flush=True)
        manager = tf.train.CheckpointManager(ckpt, str(own), max_to_keep=1)
        history_file = own / "history.json"

    cbs = [cb for cb in (callbacks or []) if not isinstance(cb, keras.callbacks.BackupAndRestore)
           and (chief or not isinstance(cb, keras.callbacks.TensorBoard))]
    history = keras.callbacks.History()
    cb_list = keras.callbacks.CallbackList([*cbs, history], add_history=False, add_progbar=False, model=model,
                                           epochs=epochs, verbose=0, steps=None)
    _set_modes(cbs, _directions(model))
    model.stop_training = False
    cb_list.on_train_begin()
    for epoch, logs in enumerate(zip(*past.values()) if past else []):
        logs = dict(zip(past, logs))  # epochs finished before a restart: into the CSV and the History
        for cb in cbs:
            if isinstance(cb, keras.callbacks.CSVLogger):
                cb.on_epoch_end(epoch, logs)
        history.epoch.append(epoch)
        for k, v in logs.items():
            history.history.setdefault(k, []).append(v)
    for epoch in range(done, epochs):
        cb_list.on_epoch_begin(epoch)
        logs = run_epoch(dist_train, train_fn)
        if dist_val is not None:
            logs.update({f"val_{k}": v for k, v in run_epoch(dist_val, test_fn).items()})
        cb_list.on_epoch_end(epoch, logs)
        if manager is not None:
            own.mkdir(parents=True, exist_ok=True)
            history_file.write_text(json.dumps(history.history))
            epoch_var.assign(epoch + 1)
            manager.save(checkpoint_number=epoch + 1)
        if model.stop_training:
            break
    cb_list.on_train_end()
    history.resumed_from_epoch = done if done > initial_epoch else None
    return history


@contextlib.contextmanager
def routing_fit(strategy, checkpoint_dir: os.PathLike | None = None):
    """Within the block, ``keras.Model.fit`` is :func:`fit` under ``strategy``; the n-th fit of the block
    checkpoints to ``checkpoint_dir/fitN``. Restores the original ``fit`` on the way out."""
    import keras

    original = keras.Model.fit
    count = [0]

    def routed(self, *args, **kwargs):
        count[0] += 1
        where = pathlib.Path(checkpoint_dir) / f"fit{count[0]}" if checkpoint_dir is not None else None
        return fit(self, *args, strategy=strategy, checkpoint_dir=where, **kwargs)

    keras.Model.fit = routed
    try:
        yield
    finally:
        keras.Model.fit = original
