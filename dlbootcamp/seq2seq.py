"""A GRU encoder-decoder with attention, and the greedy decoding loop a device runs.

One training model (source ids and teacher-forced target ids -> next-token logits) and two
inference models made of its layers, sharing weights:

- ``encoder``: source ids -> ``encoded`` (one vector per source token) and ``state`` (the
  "thought": the bidirectional GRU's last states, concatenated);
- ``decoder_step``: the previous token id, the decoder state and ``encoded`` -> next-token
  ``logits``, ``new_state`` and the ``attention`` weights over the source.

The step model is one GRU step and a dot-product attention over a fixed-length source: static
shapes and built-in TFLite ops only, so the host program runs the loop (:func:`greedy_decode`).
Layers are found by name, never by position.

With ``Shape.copy`` the decoder may also *copy*: every source position comes with a candidate
output word (for translation: the source word's dictionary translation, looked up by the host),
given to the encoder as ``copy_ids`` (its target-vocabulary id; 1 when the word is outside the
vocabulary, 0 for none). The step then answers ``probabilities`` over the target vocabulary
followed by one entry per source position, a pointer-generator mixture (See et al., 2017):
``p_gen * softmax(logits)`` and ``(1 - p_gen) * attention``. Index ``target_size + s`` means
"write the candidate of source position s" - even a word the vocabulary does not have.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np


@dataclasses.dataclass(frozen=True)
class Shape:
    """What fixes a translator's tensors."""

    source_length: int  # source ids per example, padded with 0
    target_steps: int  # target ids per example, the last one <end> (or cut there)
    source_size: int  # source vocabulary size
    target_size: int  # target vocabulary size
    embed: int  # token embedding width (source and target)
    units: int  # encoder GRU units per direction; the decoder GRU has twice as many
    dropout: float = 0.0  # on embeddings and decoder outputs, while training
    unroll: bool = False  # unroll the training GRUs (faster on a CPU for short sequences)
    copy: bool = False  # a pointer-generator: copy_ids input, probabilities over vocabulary + source positions


def teacher_inputs(y: np.ndarray, start_id: int) -> np.ndarray:
    """Teacher forcing: at step t the decoder is fed the true token t-1 (<start> first)."""
    return np.concatenate([np.full((len(y), 1), start_id, np.int32), y[:, :-1]], 1)


def build(shape: Shape, name: str = "translator") -> keras.Model:
    """The training model: [source ids, (copy ids,) previous ids] -> next-token logits (probabilities
    over vocabulary + source positions with ``copy``)."""
    source = keras.Input((shape.source_length,), dtype="int32", name="source_ids")
    copy_ids = keras.Input((shape.source_length,), dtype="int32", name="copy_ids") if shape.copy else None
    previous = keras.Input((shape.target_steps,), dtype="int32", name="previous_ids")
    encoded, thought = _encode(shape, lambda name: _layer(shape, name), source, copy_ids, training=True)
    y = _layer(shape, "target_embedding")(previous)
    y = keras.layers.Dropout(shape.dropout, name="target_dropout")(y)
    decoded, _ = _layer(shape, "decoder_gru")(y, initial_state=thought)
    decoded = keras.layers.Dropout(shape.dropout, name="decoded_dropout")(decoded)
    out, _ = read_out({k: _layer(shape, k) for k in _READ_OUT + (("p_gen",) if shape.copy else ())}, decoded, encoded)
    return keras.Model([source, *([copy_ids] if shape.copy else []), previous], out, name=name)


_READ_OUT = ("attention", "attended", "readout", "logits")


def _layer(shape: Shape, name: str) -> keras.layers.Layer:
    """A new layer of the translator, by name."""
    make = {
        "source_embedding": lambda: keras.layers.Embedding(shape.source_size, shape.embed, name=name),
        "copy_embedding": lambda: keras.layers.Embedding(shape.target_size, shape.embed, name=name),
        "source_and_copy": lambda: keras.layers.Concatenate(name=name),
        "encoder_gru": lambda: keras.layers.Bidirectional(keras.layers.GRU(
            shape.units, return_sequences=True, return_state=True, unroll=shape.unroll), name=name),
        "encoder_state": lambda: keras.layers.Concatenate(name=name),
        "target_embedding": lambda: keras.layers.Embedding(shape.target_size, shape.embed, name=name),
        "decoder_gru": lambda: keras.layers.GRU(2 * shape.units, return_sequences=True, return_state=True,
                                                unroll=shape.unroll, name=name),
        "attention": lambda: keras.layers.Attention(use_scale=True, name=name),
        "attended": lambda: keras.layers.Concatenate(name=name),
        "readout": lambda: keras.layers.Dense(2 * shape.units, activation="tanh", name=name),
        "logits": lambda: keras.layers.Dense(shape.target_size, name=name),
        "p_gen": lambda: keras.layers.Dense(1, activation="sigmoid", name=name),
    }
    return make[name]()


def _encode(shape: Shape, layer, source, copy_ids, training: bool = False):
    x = layer("source_embedding")(source)
    if shape.copy:
        x = layer("source_and_copy")([x, layer("copy_embedding")(copy_ids)])
    if training:
        x = keras.layers.Dropout(shape.dropout, name="source_dropout")(x)
    encoded, forward, backward = layer("encoder_gru")(x)
    return encoded, layer("encoder_state")([forward, backward])


def read_out(layers: dict, decoded, encoded):
    """Each decoder output asks the source vectors a question (attention); the answer (context)
    and the question together become next-token logits. With a ``p_gen`` layer (copy), the output
    is the pointer-generator's probabilities instead. Returns the output and the attention weights."""
    context, weights = layers["attention"]([decoded, encoded], return_attention_scores=True)
    h = layers["attended"]([decoded, context])
    logits = layers["logits"](layers["readout"](h))
    if "p_gen" not in layers:
        return logits, weights
    p_gen = layers["p_gen"](h)
    probabilities = keras.ops.concatenate([p_gen * keras.ops.softmax(logits), (1.0 - p_gen) * weights], axis=-1)
    return probabilities, weights


def copy_loss(target_size: int):
    """Cross-entropy of the pointer-generator: ``y_true`` (batch, steps, 1 + source length) holds the
    vocabulary id to write (<= 1: none) and a 0/1 flag per source position whose candidate is right;
    the probability of writing the right word is the sum over every way of writing it."""
    def loss(y_true, y_pred):
        y_true = keras.ops.cast(y_true, "int32")
        word = y_true[..., 0]
        p_word = keras.ops.take_along_axis(y_pred[..., :target_size], keras.ops.maximum(word, 0)[..., None], axis=-1)
        p_word = p_word[..., 0] * keras.ops.cast(word > 1, y_pred.dtype)
        p_copy = keras.ops.sum(y_pred[..., target_size:] * keras.ops.cast(y_true[..., 1:], y_pred.dtype), axis=-1)
        return -keras.ops.log(p_word + p_copy + 1e-7)
    return loss


def inference_models(shape: Shape, model: keras.Model, prefix: str = "") -> dict[str, keras.Model]:
    """``{prefix}encoder`` and ``{prefix}decoder_step``, made of the trained model's layers (shared weights)."""
    source = keras.Input((shape.source_length,), dtype="int32", name="source_ids")
    copy_ids = keras.Input((shape.source_length,), dtype="int32", name="copy_ids") if shape.copy else None
    encoded, thought = _encode(shape, model.get_layer, source, copy_ids)
    encoder = keras.Model([source, copy_ids] if shape.copy else source, {"encoded": encoded, "state": thought},
                          name=f"{prefix}encoder")

    previous = keras.Input((1,), dtype="int32", name="previous_id")
    state = keras.Input((2 * shape.units,), name="state")
    encoded_in = keras.Input((shape.source_length, 2 * shape.units), name="encoded")
    y = model.get_layer("target_embedding")(previous)
    decoded, new_state = model.get_layer("decoder_gru")(y, initial_state=state)
    names = _READ_OUT + (("p_gen",) if shape.copy else ())
    out, scores = read_out({name: model.get_layer(name) for name in names}, decoded, encoded_in)
    out = keras.layers.Flatten(name="next_probabilities" if shape.copy else "next_logits")(out)
    scores = keras.layers.Flatten(name="attention_weights")(scores)
    step = keras.Model([previous, state, encoded_in],
                       {"probabilities" if shape.copy else "logits": out, "new_state": new_state, "attention": scores},
                       name=f"{prefix}decoder_step")
    return {f"{prefix}encoder": encoder, f"{prefix}decoder_step": step}


def keras_predict(model: keras.Model):
    """NumPy in, NumPy out, outputs keyed by name (as the exported artifacts answer). One batch per call:
    greedy decoding calls it once per step, and ``model.predict``'s set-up on every call (a dataset, a
    callback list) cost more than the step itself - about 5 of the quick notebook's seconds per decoding of
    a split (the same numbers come out)."""
    return model.predict_on_batch


def greedy_decode(encoder, decoder_step, source, *, start_id: int, steps: int, copy_ids: np.ndarray | None = None,
                  record: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Ids written (N, steps) and attention weights (N, steps, source length), from two predict
    functions; ``source`` is what the encoder takes. With ``copy_ids`` (a pointer-generator), an id
    ``>= target_size`` means "the candidate of source position id - target_size", and the step is fed
    that candidate's vocabulary id. ``record`` collects what each step was fed (previous ids, state,
    encoder vectors)."""
    encoded = encoder(source)
    n = len(copy_ids) if copy_ids is not None else len(source)
    previous = np.full((n, 1), start_id, np.int32)
    state, written, weights = encoded["state"], [], []
    for _ in range(steps):
        if record is not None:
            record.append((previous, np.asarray(state), np.asarray(encoded["encoded"])))
        out = decoder_step([previous, state, encoded["encoded"]])
        scores = np.asarray(out["logits"] if "logits" in out else out["probabilities"])
        ids = scores.argmax(-1).astype(np.int32)
        previous = ids
        if copy_ids is not None:
            size = scores.shape[-1] - copy_ids.shape[1]
            copied = np.take_along_axis(copy_ids, np.clip(ids - size, 0, None)[:, None], 1)[:, 0]
            previous = np.where(ids >= size, np.maximum(copied, 1), ids).astype(np.int32)  # no candidate: <unk>
        previous = previous[:, None]
        state = out["new_state"]
        written.append(ids)
        weights.append(np.asarray(out["attention"]))
    return np.stack(written, 1), np.stack(weights, 1)


def until(ids, end_id: int) -> list[int]:
    """The ids written before ``end_id``."""
    ids = [int(i) for i in ids]
    return ids[:ids.index(end_id)] if end_id in ids else ids


class KeepBest(keras.callbacks.Callback):
    """Scores the model after every epoch with ``score()`` (higher is better: the validation BLEU of
    greedy decoding, say, which teacher-forced validation loss does not track); restores the best
    epoch's weights when training ends and stops after ``patience`` epochs without a better score."""

    def __init__(self, score, patience: int, log=None):
        super().__init__()
        self.score, self.patience, self.log = score, patience, log
        self.scores: list[float] = []
        self.best_epoch, self.weights = 0, None

    def on_epoch_end(self, epoch, logs=None):
        self.scores.append(float(self.score()))
        if self.log is not None:
            logs = logs or {}
            self.log(f"  epoch {epoch + 1}  loss {logs.get('loss', float('nan')):.4f}  "
                     f"val_loss {logs.get('val_loss', float('nan')):.4f}  score {self.scores[-1]:.3f}")
        if self.weights is None or self.scores[-1] > self.scores[self.best_epoch]:
            self.best_epoch, self.weights = epoch, self.model.get_weights()
        elif epoch - self.best_epoch >= self.patience:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.weights is not None:
            self.model.set_weights(self.weights)


def copy_arrays(candidates: list[list[str]], targets: list[list[str]], index: dict[str, int], y: np.ndarray):
    """A pointer-generator's extra arrays, from each example's candidate per source position ("" for
    none, padded to the source length) and its target tokens: ``copy_ids`` (N, source length), the
    candidates' target ids (1 outside the vocabulary, 0 none), and the training targets (N, steps,
    1 + source length): ``y`` (the id to write), then 1 where a position's candidate is the right word."""
    ids = np.array([[index.get(w, 1) if w else 0 for w in row] for row in candidates], np.int32)
    flags = np.array([[[t < len(g) and w == g[t] and w != "" for w in row] for t in range(y.shape[1])]
                      for row, g in zip(candidates, targets)], np.int32)
    return ids, np.concatenate([y[..., None], flags], -1)


def step_inputs(shape: Shape, n: int, rng: np.random.Generator, *, recorded: list | None = None,
                previous_ids: np.ndarray | None = None) -> list[np.ndarray]:
    """``n`` decoder-step inputs [previous id, state, encoder vectors] for calibration and parity: drawn
    from what ``greedy_decode(record=...)`` fed the step, or, without a record, ``previous_ids`` (N, steps)
    with state and encoder vectors drawn in (-1, 1), the range a GRU's output lives in (enough for
    parity, a poor int8 calibration of the step's inner activations)."""
    if recorded is not None:
        rows = rng.choice(sum(len(r[0]) for r in recorded), n, replace=False)
        return [np.concatenate(a)[rows] for a in zip(*recorded)]
    previous = previous_ids[np.arange(n), rng.integers(0, previous_ids.shape[1], n)][:, None]
    width = 2 * shape.units
    return [previous, rng.uniform(-1, 1, (n, width)).astype(np.float32),
            rng.uniform(-1, 1, (n, shape.source_length, width)).astype(np.float32)]
