"""Checked exercises (issue #20): every lesson has some; each reference solution passes its own check, each
check fails a wrong answer with a message that says what is wrong, and the notebook's starting cells do not pass."""

import time

import numpy as np
import pytest

from dlbootcamp import registry
from dlbootcamp.app import exercises

LESSONS = list(registry.discover())
KINDS = {"implement", "architecture", "predict"}
CHECK_BUDGET_S = 60  # all of one lesson's checks; each runs in seconds on a CPU (no training)


def test_every_lesson_has_at_least_two_exercises():
    assert sorted(exercises.with_exercises()) == sorted(LESSONS)
    kinds = set()
    for lesson_id in LESSONS:
        found = exercises.exercises(lesson_id)
        assert len(found) >= 2, lesson_id
        assert [e.number for e in found] == list(range(1, len(found) + 1)), lesson_id
        assert {e.kind for e in found} <= KINDS, lesson_id
        assert len({e.name for e in found}) == len(found), lesson_id  # one name per exercise
        kinds |= {e.kind for e in found}
    assert kinds == KINDS


@pytest.mark.parametrize("lesson_id", LESSONS)
def test_reference_solutions_pass_their_checks(lesson_id):
    started = time.perf_counter()
    results = exercises.run_checks(lesson_id, exercises.references(lesson_id))
    assert all(r.passed for r in results), [r.line() for r in results]
    assert time.perf_counter() - started < CHECK_BUDGET_S


@pytest.mark.parametrize("lesson_id", LESSONS)
def test_the_notebook_stubs_do_not_pass(lesson_id):
    """What the learner starts from (the exercise's code cell) runs, and its check says it is not done."""
    for e in exercises.exercises(lesson_id):
        namespace = {}
        exec(compile(e.stub, f"<stub of {lesson_id} exercise {e.number}>", "exec"), namespace)
        (result,) = exercises.run_checks(lesson_id, namespace, exercise=e.number)
        assert not result.passed and result.message, (lesson_id, e.number)


# --- wrong answers: one per exercise, each with what its message must say ------------------------------

def _lesson(name):
    import importlib

    return importlib.import_module(f"dlbootcamp.lessons.{name}")


def _ref(lesson_id, name):
    return exercises.references(lesson_id)[name]


def _softmax_wrong_axis(decoded, encoded, scale=1.0):
    scores = scale * np.einsum("btd,bsd->bts", decoded, encoded)
    weights = np.exp(scores) / np.exp(scores).sum(1, keepdims=True)  # over the decoder steps
    return np.einsum("bts,bsd->btd", weights, encoded), weights


def _unnormalised_attention(features, query):
    weights = np.exp(np.einsum("bcf,bf->bc", features, query))
    return weights, np.einsum("bc,bcf->bf", weights, features)


def _dice_without_empty_case(y_true, y_prob):
    truth, pred = y_true.reshape(len(y_true), -1), (y_prob.reshape(len(y_prob), -1) > 0.5)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 2 * (truth * pred).sum(1) / (truth.sum(1) + pred.sum(1))


def _iou_over_sum(a, b):
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]))


def _nt_xent_unmasked(z1, z2, temperature):
    z = np.concatenate([z1, z2])
    logits = z @ z.T / temperature
    partner = np.r_[np.arange(len(z1), len(z)), np.arange(len(z1))]
    return float(np.mean(np.log(np.exp(logits).sum(1)) - logits[np.arange(len(z)), partner]))


def _analogy_with_question_words(unit, a, b, c, k=5):
    return list(np.argsort(-((unit[b] - unit[a] + unit[c]) @ unit.T))[:k])


def _drop_then_merge(frames):
    kept = [f for f in frames if f != 10]
    return [f for i, f in enumerate(kept) if i == 0 or f != kept[i - 1]]


def _plain_dqn(reward, done, online, target, gamma):
    return reward + gamma * (1 - done) * target.max(1)


def _relu_after_mean(objects, question, w, b):
    pairs = [np.concatenate([oi, oj, question]) @ w + b for oi in objects for oj in objects]
    return np.maximum(np.mean(pairs, 0), 0)


def _all_dropped(ids, rate, copies, rng):
    many = np.concatenate([ids] * copies)
    return np.where(rng.random(many.shape) < rate, 1, many).astype(np.int32)  # padding dropped too


def _no_mean(logits, labels):
    loss, grad = _ref("training", "softmax_cross_entropy")(logits, labels)
    return loss, grad * len(labels)


WRONG = [
    ("ml-vs-dl", 1, lambda: {"centre_of_mass": lambda im: _ref("ml-vs-dl", "centre_of_mass")(im)[:, ::-1]},
     "rows and columns are swapped"),
    ("ml-vs-dl", 2, lambda: {"build_gap_model": _lesson("day01_ml_vs_dl").build_model}, "still has the 'flatten'"),
    ("ml-vs-dl", 3, lambda: {"PREDICTED_FEATURES": 336}, "low by 23"),
    ("perceptron", 1, lambda: {"perceptron_update": lambda w, b, x, y, lr=1.0: (
        2 * w - _ref("perceptron", "perceptron_update")(w, b, x, y, lr)[0], b)}, "moved the wrong way"),
    ("perceptron", 2, lambda: {"XOR_WEIGHTS": {"w1": [[1, -1], [1, -1]], "b1": [-0.5, 1.5], "w2": [1, 1], "b2": -0.5}},
     "[1, 1] -> 1 (expected 0)"),
    ("perceptron", 3, lambda: {"PREDICTED_LEARNABLE": {"AND", "OR", "XOR"}}, "never gets all four rows of ['XOR']"),
    ("dl-is-a-language", 1, lambda: {"standardise_columns": lambda form, train: (form - form.mean(0)) / np.maximum(
        form.std(0), 1e-3)}, "test listings' own mean"),
    ("dl-is-a-language", 2, lambda: {"build_straight_nudge_model": _lesson("day04_dl_is_a_language").build_model},
     "still has 'photo_hidden'"),
    ("dl-is-a-language", 3, lambda: {"PREDICTED_START_PRICE": 2.0}, "the *log*-price"),
    ("cnn-features", 1, lambda: {"conv2d_same": lambda im, k: _ref("cnn-features", "conv2d_same")(im, k[::-1, ::-1])},
     "you flipped the kernel"),
    ("cnn-features", 2, lambda: {"PREDICTED_POOL2_SHAPE": (14, 14, 16)}, "each MaxPooling2D halves the side"),
    ("cnn-features", 3, lambda: {"build_gap_model": _lesson("day05_cnn_features").build_model}, "still has the 'flatten'"),
    ("segmentation", 1, lambda: {"dice_per_slice": _dice_without_empty_case}, "your Dice is 0/0 there"),
    ("segmentation", 2, lambda: {"build_no_skip_model": _lesson("day06_segmentation").build_model},
     "still joins encoder features"),
    ("segmentation", 3, lambda: {"PREDICTED_BOTTLENECK_SHAPE": (8, 8, 16)}, "count the poolings"),
    ("super-resolution", 1, lambda: {"depth_to_space": lambda x, s: np.asarray(x).reshape(
        x.shape[0] * s, x.shape[1] * s, 1)}, "a plain reshape mixes pixels"),
    ("super-resolution", 2, lambda: {"PREDICTED_REACH": 3}, "is too short"),
    ("super-resolution", 3, lambda: {"build_plain_model": _lesson("day07_super_resolution").build_model},
     "still has ['bicubic', 'plus_bicubic']"),
    ("style-transfer", 1, lambda: {"gram_matrix": lambda f: _ref("style-transfer", "gram_matrix")(f) * 30},
     "30 times the lesson's"),
    ("style-transfer", 2, lambda: {"PREDICTED_UNTRAINED_CHANGE": 0.5}, "changes no pixel by more than"),
    ("style-transfer", 3, lambda: {"total_variation": lambda x: float(np.mean(np.abs(x[:, 1:] - x[:, :-1])))},
     "only vertical neighbours"),
    ("gan", 1, lambda: {"discriminator_loss": lambda r, f, real_label=0.9: _ref("gan", "discriminator_loss")(r, f, 1.0)},
     "aimed the real images at 1"),
    ("gan", 2, lambda: {"PREDICTED_FRECHET": 2.0}, "adds its *square*"),
    ("gan", 3, lambda: {"build_short_generator": lambda cfg: _lesson("day09_gan").build_generator(cfg, True)},
     "still has 'up2'"),
    ("faces", 1, lambda: {"iou": _iou_over_sum}, "divided by the sum of the two areas"),
    ("faces", 2, lambda: {"nt_xent": _nt_xent_unmasked}, "similarity with itself"),
    ("faces", 3, lambda: {"PREDICTED_FLAT_WINDOW": 0.7}, "0.7 is the input"),
    ("embeddings", 1, lambda: {"keep_probability": lambda c, t: np.sqrt(t / np.maximum(c / c.sum(), 1e-12))
                               + t / np.maximum(c / c.sum(), 1e-12)}, "cap it with min(1, ...)"),
    ("embeddings", 2, lambda: {"analogy": _analogy_with_question_words}, "contains question words"),
    ("embeddings", 3, lambda: {"PREDICTED_PARAMS": 500 * 16}, "Both tables count"),
    ("text-generation", 1, lambda: {"bits_per_char": lambda z, t: _ref("text-generation", "bits_per_char")(z, t)
                                    * np.log(2)}, "the loss in nats"),
    ("text-generation", 2, lambda: {"build_lstm_model": _lesson("day12_text_generation").build_model},
     "still has a GRU"),
    ("text-generation", 3, lambda: {"PREDICTED_UNIFORM_BITS": float(np.log(64))}, "is ln 64"),
    ("translation", 1, lambda: {"attend": _softmax_wrong_axis}, "over the 7 source positions"),
    ("translation", 2, lambda: {"teacher_inputs": lambda y, start: y}, "the very tokens it must predict"),
    ("translation", 3, lambda: {"PREDICTED_WEIGHTS_PER_STEP": 11}, "the number of steps the decoder writes"),
    ("summarization", 1, lambda: {"centrality": lambda v, w: np.triu(v @ v.T).sum(1) + w * np.tril(v @ v.T, -1).sum(1)},
     "similarity with itself"),
    ("summarization", 2, lambda: {"PREDICTED_KEPT": [3, 4]}, "what is left of salience is position_weight"),
    ("summarization", 3, lambda: {"build_mean_only_scorer": lambda cfg, v: _lesson("day14_summarization").build_model(
        cfg, v, "full")}, "still reads the max over words"),
    ("assistant-intents", 1, lambda: {"drop_words": _all_dropped}, "padding (id 0) was changed"),
    ("assistant-intents", 2, lambda: {"build_wide_window_model": _lesson("day15_assistant_intents").build_model},
     "windows of 3 words; expected 5"),
    ("assistant-intents", 3, lambda: {"PREDICTED_WORDS": ["wake", "me", "up", "at", "6", "30", "please", "i'm", "late"]},
     "not kept: ['6', '30']"),
    ("training", 1, lambda: {"softmax_cross_entropy": _no_mean}, "fails the gradient check"),
    ("training", 2, lambda: {"build_deeper_model": _lesson("day03_training").build_model}, "no layer named 'hidden3'"),
    ("training", 3, lambda: {"PREDICTED_PARAMS": 64 * 32 + 32 * 32 + 32 * 10}, "low by 74"),
    ("captioning", 1, lambda: {"attend_to_grid": _unnormalised_attention}, "do not sum to 1"),
    ("captioning", 2, lambda: {"PREDICTED_CELLS_64": 8}, "That is the grid's side"),
    ("vqa", 1, lambda: {"relation_mean": _relu_after_mean}, "you pooled before the ReLU"),
    ("vqa", 2, lambda: {"PREDICTED_OBJECTS_SHAPE": (6, 8)}, "its mean colour (RGB) and its (x, y) position"),
    ("vqa", 3, lambda: {"build_sum_only_model": _lesson("day17_vqa").build_model}, "still pools by the max"),
    ("lip-reading", 1, lambda: {"collapse": _drop_then_merge}, "A blank between two equal classes separates them"),
    ("lip-reading", 2, lambda: {"PREDICTED_FRAME_FEATURES": 6 * 6 * 8}, "halves height and width"),
    ("lip-reading", 3, lambda: {"build_forward_model": _lesson("day18_lip_reading").build_model},
     "still reads both ways"),
    ("flappy-dqn", 1, lambda: {"double_dqn_targets": _plain_dqn}, "(plain DQN)"),
    ("flappy-dqn", 2, lambda: {"PREDICTED_EPSILON": 0.802}, "decays over all 15000 steps"),
    ("flappy-dqn", 3, lambda: {"build_conv_model": _lesson("day19_flappy_dqn").build_model}, "no layer named 'conv'"),
]


def test_every_exercise_has_a_wrong_answer_here():
    every = {(lesson_id, e.number) for lesson_id in LESSONS for e in exercises.exercises(lesson_id)}
    assert every == {(lesson_id, number) for lesson_id, number, _, _ in WRONG}


@pytest.mark.parametrize("lesson_id, number, answers, message", WRONG, ids=[f"{w[0]}-{w[1]}" for w in WRONG])
def test_wrong_answers_fail_with_what_is_wrong(lesson_id, number, answers, message):
    (result,) = exercises.run_checks(lesson_id, answers(), exercise=number)
    assert not result.passed and message in result.message, result.message
