"""Exercises for day 16 (captioning): the decoder's attention over the grid by hand, the grid of a bigger scene."""

from __future__ import annotations

from dlbootcamp.app.exercises import Exercise, Wrong, expect_close, expect_shape


# --- 1. implement a piece: where the decoder looks -------------------------------------------------------------

def attend_to_grid(features, query):
    """The decoder step's attention: for grid features (B, cells, F) and a query (B, F) made from the state,
    weights = softmax over the cells of features . query (B, cells), context = their weighted mean of the
    cells' features (B, F). Returns (weights, context)."""
    import numpy as np

    features, query = np.asarray(features, np.float64), np.asarray(query, np.float64)
    scores = np.einsum("bcf,bf->bc", features, query)
    scores -= scores.max(1, keepdims=True)
    weights = np.exp(scores) / np.exp(scores).sum(1, keepdims=True)
    return weights, np.einsum("bc,bcf->bf", weights, features)


def _verify_attend(fn) -> None:
    import keras
    import numpy as np

    from dlbootcamp.lessons import day16_captioning as lesson

    cfg = lesson.Config.quick()
    cells = lesson.grid_cells(cfg)
    step = lesson.build_decoder_step(cfg, cells)
    rng = np.random.default_rng(16)
    features = rng.normal(0, 1, (3, cells, cfg.feature_dim)).astype(np.float32)
    state = rng.normal(0, 0.5, (3, cfg.units)).astype(np.float32)
    token = np.ones((3, 1), np.int32)
    query = keras.Model(step.inputs, step.get_layer("query").output).predict([features, state, token], verbose=0)
    weights, _, _ = step.predict([features, state, token], verbose=0)
    got = fn(features.copy(), query.copy())
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Wrong(f"attend_to_grid returned {type(got).__name__}; expected a pair (weights, context).")
    expect_shape(f"the weights (3 scenes, {cells} cells)", got[0], (3, cells))
    if not np.allclose(np.asarray(got[0], np.float64).sum(1), 1.0, atol=1e-4):
        raise Wrong("one scene's weights do not sum to 1: the softmax runs over the grid's cells.")
    expect_close("the weights against the decoder step's 'attention' layer", got[0], weights, atol=1e-4)
    expect_shape("the context", got[1], (3, cfg.feature_dim))
    expect_close("the context (the weighted mean of the cells' features)", got[1],
                 np.einsum("bc,bcf->bf", weights, features), atol=1e-4)


# --- 2. predict an outcome: the grid of a bigger scene -----------------------------------------------------------

PREDICTED_CELLS_64 = 64  # 64 -> 32 -> 16 -> 8 by three stride-2 convs: an 8x8 grid


def _verify_cells(value) -> None:
    import dataclasses

    from dlbootcamp.lessons import day16_captioning as lesson

    if not isinstance(value, int) or isinstance(value, bool):
        raise Wrong(f"PREDICTED_CELLS_64 is {value!r}; expected a whole number of cells.")
    cfg = dataclasses.replace(lesson.Config.quick(), image_size=64)
    features, _ = lesson.build_encoder(cfg).outputs
    actual = int(features.shape[1])
    if value != actual:
        hint = " That is the grid's side; count its cells." if value ** 2 == actual else ""
        raise Wrong(f"PREDICTED_CELLS_64 = {value}: each of the {len(cfg.filters)} stride-2 convolutions halves the "
                    f"side of the 64-pixel scene, and the grid has side x side cells.{hint}")


EXERCISES = (
    Exercise(1, "implement", "where the decoder looks",
             "Write `attend_to_grid(features, query)` in NumPy: for the encoder's grid features (B, cells, F) and the "
             "query (B, F) the decoder step makes from its state, return `(weights, context)`: the softmax over the "
             "cells of each cell's dot product with the query (B, cells), and the weighted mean of the cells' "
             "features (B, F). The check feeds the lesson's decoder step and compares with its `attention` layer.",
             "attend_to_grid",
             "import numpy as np\n\n\ndef attend_to_grid(features, query):\n"
             "    \"\"\"(weights (B, cells), context (B, F)).\"\"\"\n"
             "    raise NotImplementedError  # your code here\n",
             attend_to_grid, _verify_attend),
    Exercise(2, "predict", "a bigger scene's grid",
             "Before running it: the docstring says 64-pixel scenes work too. How many grid cells does the encoder "
             "(`filters=(8, 16, 16)`) give a 64x64 scene, i.e. how many places can the decoder attend to? Write it as "
             "`PREDICTED_CELLS_64`, then check.",
             "PREDICTED_CELLS_64",
             "PREDICTED_CELLS_64 = None  # a whole number of cells\n",
             PREDICTED_CELLS_64, _verify_cells),
)
