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


def teacher_inputs(y: np.ndarray, start_id: int) -> np.ndarray:
    """Teacher forcing: at step t the decoder is fed the true token t-1 (<start> first)."""
    return np.concatenate([np.full((len(y), 1), start_id, np.int32), y[:, :-1]], 1)


def build(shape: Shape, name: str = "translator") -> keras.Model:
    """The training model: [source ids, previous ids] -> next-token logits."""
    source = keras.Input((shape.source_length,), dtype="int32", name="source_ids")
    previous = keras.Input((shape.target_steps,), dtype="int32", name="previous_ids")
    x = keras.layers.Embedding(shape.source_size, shape.embed, name="source_embedding")(source)
    x = keras.layers.Dropout(shape.dropout, name="source_dropout")(x)
    encoded, forward, backward = keras.layers.Bidirectional(
        keras.layers.GRU(shape.units, return_sequences=True, return_state=True, unroll=shape.unroll),
        name="encoder_gru")(x)
    thought = keras.layers.Concatenate(name="encoder_state")([forward, backward])
    y = keras.layers.Embedding(shape.target_size, shape.embed, name="target_embedding")(previous)
    y = keras.layers.Dropout(shape.dropout, name="target_dropout")(y)
    decoded, _ = keras.layers.GRU(2 * shape.units, return_sequences=True, return_state=True, unroll=shape.unroll,
                                  name="decoder_gru")(y, initial_state=thought)
    decoded = keras.layers.Dropout(shape.dropout, name="decoded_dropout")(decoded)
    logits, _ = read_out(read_out_layers(shape), decoded, encoded)
    return keras.Model([source, previous], logits, name=name)


def read_out_layers(shape: Shape) -> dict[str, keras.layers.Layer]:
    return {"attention": keras.layers.Attention(use_scale=True, name="attention"),
            "attended": keras.layers.Concatenate(name="attended"),
            "readout": keras.layers.Dense(2 * shape.units, activation="tanh", name="readout"),
            "logits": keras.layers.Dense(shape.target_size, name="logits")}


def read_out(layers: dict, decoded, encoded):
    """Each decoder output asks the source vectors a question (attention); the answer (context)
    and the question together become next-token logits. Returns logits and attention weights."""
    context, weights = layers["attention"]([decoded, encoded], return_attention_scores=True)
    h = layers["readout"](layers["attended"]([decoded, context]))
    return layers["logits"](h), weights


def inference_models(shape: Shape, model: keras.Model, prefix: str = "") -> dict[str, keras.Model]:
    """``{prefix}encoder`` and ``{prefix}decoder_step``, made of the trained model's layers (shared weights)."""
    source = keras.Input((shape.source_length,), dtype="int32", name="source_ids")
    x = model.get_layer("source_embedding")(source)
    encoded, forward, backward = model.get_layer("encoder_gru")(x)
    thought = model.get_layer("encoder_state")([forward, backward])
    encoder = keras.Model(source, {"encoded": encoded, "state": thought}, name=f"{prefix}encoder")

    previous = keras.Input((1,), dtype="int32", name="previous_id")
    state = keras.Input((2 * shape.units,), name="state")
    encoded_in = keras.Input((shape.source_length, 2 * shape.units), name="encoded")
    y = model.get_layer("target_embedding")(previous)
    decoded, new_state = model.get_layer("decoder_gru")(y, initial_state=state)
    logits, scores = read_out({name: model.get_layer(name) for name in ("attention", "attended", "readout", "logits")},
                              decoded, encoded_in)
    logits = keras.layers.Flatten(name="next_logits")(logits)
    scores = keras.layers.Flatten(name="attention_weights")(scores)
    step = keras.Model([previous, state, encoded_in], {"logits": logits, "new_state": new_state, "attention": scores},
                       name=f"{prefix}decoder_step")
    return {f"{prefix}encoder": encoder, f"{prefix}decoder_step": step}


def keras_predict(model: keras.Model):
    """NumPy in, NumPy out, outputs keyed by name (as the exported artifacts answer)."""
    return lambda x: model.predict(x, batch_size=512, verbose=0)


def greedy_decode(encoder, decoder_step, source_ids: np.ndarray, *, start_id: int, steps: int,
                  record: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Ids written (N, steps) and attention weights (N, steps, source length), from two predict
    functions. ``record`` collects what each step was fed (previous ids, state, encoder vectors)."""
    encoded = encoder(source_ids)
    previous = np.full((len(source_ids), 1), start_id, np.int32)
    state, written, weights = encoded["state"], [], []
    for _ in range(steps):
        if record is not None:
            record.append((previous, np.asarray(state), np.asarray(encoded["encoded"])))
        out = decoder_step([previous, state, encoded["encoded"]])
        previous = np.asarray(out["logits"]).argmax(-1).astype(np.int32)[:, None]
        state = out["new_state"]
        written.append(previous[:, 0])
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

    def __init__(self, score, patience: int):
        super().__init__()
        self.score, self.patience = score, patience
        self.scores: list[float] = []
        self.best_epoch, self.weights = 0, None

    def on_epoch_end(self, epoch, logs=None):
        self.scores.append(float(self.score()))
        if self.weights is None or self.scores[-1] > self.scores[self.best_epoch]:
            self.best_epoch, self.weights = epoch, self.model.get_weights()
        elif epoch - self.best_epoch >= self.patience:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.weights is not None:
            self.model.set_weights(self.weights)
