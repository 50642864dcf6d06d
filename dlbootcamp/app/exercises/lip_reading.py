"""Exercises for day 18 (lip-reading): CTC's collapse rule by hand, what the GRU reads per frame, a one-way reader."""

from __future__ import annotations

from dlbootcamp.app.exercises import Exercise, Wrong, expect_model

BLANK = 10  # the CTC blank's class index (dlbootcamp.worlds.digit_videos.BLANK)


# --- 1. implement a piece: greedy CTC decoding of one video ---------------------------------------------------

def collapse(frames):
    """The digits a row of per-frame classes reads (0-9, blank = 10): merge repeated classes, then drop blanks."""
    out, previous = [], None
    for c in frames:
        if c != previous and c != BLANK:
            out.append(int(c))
        previous = c
    return out


def _verify_collapse(fn) -> None:
    import numpy as np

    from dlbootcamp.lessons import day18_lip_reading as lesson

    cases = [[BLANK, 3, 3, BLANK, 3, BLANK, BLANK], [BLANK, 3, 3, 3, BLANK, BLANK], [7, 7, 1, 1, BLANK, 1],
             [BLANK] * 6, [2, 5, 2, 5]]
    rng = np.random.default_rng(18)
    cases += [list(rng.choice([0, 1, BLANK, BLANK], 24)) for _ in range(20)]
    for frames in cases:
        got = [int(c) for c in fn(list(frames))]
        probs = np.eye(11)[np.array(frames)][None]
        expected = [int(c) for c in lesson.greedy_decode(probs, 24)[0] if c >= 0]
        shown = "".join("-" if c == BLANK else str(c) for c in frames)
        if got != expected:
            hint = ""
            if len(got) < len(expected):
                hint = (" A blank between two equal classes separates them: merge repeats first, then drop blanks."
                        if BLANK in frames else " Only *consecutive* repeats merge.")
            elif len(got) > len(expected):
                hint = " Consecutive frames of the same class are one digit (merge repeats), and blanks read nothing."
            raise Wrong(f"frames {shown!r} (- is the blank) read {got}; expected {expected}.{hint}")


# --- 2. predict an outcome: how many numbers per frame reach the GRU? --------------------------------------------

PREDICTED_FRAME_FEATURES = 3 * 3 * 8  # 12x12 pooled twice to 3x3, 8 channels of the second block


def _verify_features(value) -> None:
    from dlbootcamp.lessons import day18_lip_reading as lesson

    if not isinstance(value, int) or isinstance(value, bool):
        raise Wrong(f"PREDICTED_FRAME_FEATURES is {value!r}; expected a whole number.")
    actual = int(lesson.build_model(lesson.Config.quick()).get_layer("frame_features").output.shape[-1])
    if value != actual:
        raise Wrong(f"PREDICTED_FRAME_FEATURES = {value}: each frame is 12x12; every block's pool_each_frame halves "
                    "height and width (the frames stay), and the last block has cfg.filters[-1] channels; "
                    "frame_features flattens one frame's map.")


# --- 3. change the architecture: read the frames in one direction only --------------------------------------------

def build_forward_model(cfg):
    """The lesson's reader with a forward-only GRU ('gru', 2 * cfg.gru units) in place of the bidirectional one."""
    import keras

    from dlbootcamp.lessons import day18_lip_reading as lesson

    inputs = keras.Input((cfg.frames, 12, 12, 1), name="video")
    x = inputs
    for i, (f, t) in enumerate(zip(cfg.filters, cfg.frames_seen), start=1):
        x = keras.layers.Conv3D(f, (t, 3, 3), padding="same", use_bias=False, name=f"conv3d{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        x = lesson.pool_each_frame(x, i)
    x = keras.layers.Reshape((cfg.frames, -1), name="frame_features")(x)
    x = keras.layers.Dropout(cfg.dropout, seed=cfg.seed, name="dropout")(x)
    x = keras.layers.GRU(2 * cfg.gru, return_sequences=True, unroll=True, name="gru")(x)
    outputs = keras.layers.Dense(lesson.NUM_CLASSES, activation="softmax", name="char_probs")(x)
    return keras.Model(inputs, outputs, name="forward_reader")


def _verify_forward(fn) -> None:
    import keras

    from dlbootcamp.lessons import day18_lip_reading as lesson

    cfg = lesson.Config.quick()
    model = fn(cfg)
    if any(isinstance(layer, keras.layers.Bidirectional) for layer in getattr(model, "layers", [])):
        raise Wrong("the model still reads both ways (a Bidirectional layer); use one GRU named 'gru' with "
                    "2 * cfg.gru units, so that its output is as wide as the bidirectional one's.")
    expect_model("build_forward_model(Config.quick())", model, build_forward_model(cfg))


EXERCISES = (
    Exercise(1, "implement", "CTC's collapse rule",
             "Write `collapse(frames)`: `frames` is the best class of each frame (0-9 a digit, 10 the blank); return "
             "the digits it reads, as a list: **merge** runs of the same class, then **drop** blanks. So "
             "`-33-3--` reads [3, 3] and `-333--` reads [3]. The check compares it with the lesson's `greedy_decode`.",
             "collapse",
             "def collapse(frames):\n"
             "    \"\"\"Per-frame classes (blank = 10) -> the digits read.\"\"\"\n"
             "    raise NotImplementedError  # your code here\n",
             collapse, _verify_collapse),
    Exercise(2, "predict", "what the GRU reads per frame",
             "Before running it: for `Config.quick()` (`filters=(4, 8)`), how many numbers describe one frame when "
             "the `frame_features` layer hands the video to the GRU? Write it as `PREDICTED_FRAME_FEATURES`.",
             "PREDICTED_FRAME_FEATURES",
             "PREDICTED_FRAME_FEATURES = None  # a whole number\n",
             PREDICTED_FRAME_FEATURES, _verify_features),
    Exercise(3, "architecture", "a one-way reader",
             "Write `build_forward_model(cfg)`: the lesson's `build_model` with the bidirectional GRU replaced by a "
             "forward-only `keras.layers.GRU(2 * cfg.gru, return_sequences=True, unroll=True, name=\"gru\")`; keep "
             "the other names (`lesson.pool_each_frame` does the pooling). Without the backward pass, a frame's guess "
             "cannot see what comes after it: compare sequence accuracy.",
             "build_forward_model",
             "import keras\n\n\ndef build_forward_model(cfg):\n"
             "    \"\"\"build_model with a forward GRU 'gru' of 2 * cfg.gru units.\"\"\"\n"
             "    raise NotImplementedError  # start from lesson.build_model's code\n",
             build_forward_model, _verify_forward),
)
