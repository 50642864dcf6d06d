"""Day 18 lip-reading: held-out videos, CTC decoding, the quick run and the export parity."""

import json

import numpy as np
import pytest

from dlbootcamp.worlds import digit_videos as dv
from conftest import export_quick, quick_cli_run


@pytest.fixture(scope="module")
def lesson():
    from dlbootcamp import registry

    return registry.load("lip-reading")


def test_videos_are_seeded_and_test_pictures_are_never_trained_on():
    pools = dv.picture_pools(seed=0)
    train = {p.tobytes() for p in pools.train.x}
    assert not any(p.tobytes() in train for p in pools.test.x)
    spec = dv.VideoSpec()
    a = dv.make_videos(pools.test, 5, spec, seed=1)
    b = dv.make_videos(pools.test, 5, spec, seed=1)
    np.testing.assert_array_equal(a.x, b.x)
    assert a.x.shape == (5, 24, 12, 12, 1) and a.y.shape == (5, 4)
    lengths = (a.y != dv.PAD).sum(1)
    assert lengths.min() >= 2 and lengths.max() <= 4
    # a frame showing a digit is much brighter than a blank (noise only) frame
    energy = a.x[0].mean(axis=(1, 2, 3))
    assert energy.max() > 2 * energy.min()


def test_endless_videos_start_with_the_given_split_then_draw_new_seeded_ones():
    spec = dv.VideoSpec()
    first = dv.digit_videos(n_train=10, n_val=1, n_test=1, spec=spec, seed=0).train
    videos = dv.endless_videos(first, spec, seed=0, batch_size=4)
    assert len(videos) == 3  # batches per epoch: 4 + 4 + 2
    x, y = videos[2]
    np.testing.assert_array_equal(x, first.x[8:]) and np.testing.assert_array_equal(y, first.y[8:])
    videos.on_epoch_end()
    again = dv.endless_videos(first, spec, seed=0, batch_size=4)
    again.on_epoch_end()
    assert not np.array_equal(videos[0][0], first.x[:4])  # new videos in the second epoch ...
    np.testing.assert_array_equal(videos[0][0], again[0][0])  # ... the same ones for the same seed
    assert videos[0][0].shape == (4, 24, 12, 12, 1)


def test_video_spec_rejects_sequences_that_do_not_fit():
    with pytest.raises(ValueError, match="A video of 10 frames cannot hold 4 digits"):
        dv.VideoSpec(frames=10)
    with pytest.raises(ValueError, match="Frame size 10 is too small"):
        dv.VideoSpec(size=10)


def _probs(path: str) -> np.ndarray:
    """One-hot per-frame probabilities from a string such as '-33-3--' (- is the blank)."""
    ids = [dv.BLANK if c == "-" else int(c) for c in path]
    return np.eye(11, dtype=np.float32)[ids] * 0.9 + 0.1 / 11


def test_stills_rule_reads_one_digit_per_run_of_inked_frames():
    videos = np.zeros((1, 5, 12, 12, 1), np.float32)
    videos[0, 1, 2:10, 3:11] = 1.0  # an 8x8 blot in frame 1, at rows 2-9, columns 3-10
    ink, crops = dv.inkiest_windows(videos)
    assert ink.shape == (5,) and crops.shape == (5, 8, 8)
    assert ink[1] == 1.0 and np.all(crops[1] == 1.0) and np.all(ink[[0, 2, 3, 4]] == 0.0)
    inked = np.array([[False, True, True, False, True, True, False],  # two runs: two digits
                      [True, False, True, False, True, False, True]])  # four runs: more than max_digits
    probs = np.zeros((2, 7, 10))
    probs[0, 1:3, 7] = [0.6, 0.6]  # run 1: 7 over the run, though frame 2 alone says 4
    probs[0, 2, 4] = 0.9
    probs[0, 4:6, 2] = 1.0
    read = dv.digits_from_runs(inked, probs, max_digits=3)
    assert read[0].tolist() == [7, 2, dv.PAD]
    assert read[1, -1] == dv.BLANK  # too many digits read: never a match


def test_greedy_decoding_merges_repeats_and_drops_blanks(lesson):
    probs = np.stack([_probs("-33-3---"), _probs("-333----"), _probs("1-2-3-4-"), _probs("--------")])
    decoded = lesson.greedy_decode(probs)
    assert [dv.label_text(r) for r in decoded] == ["33", "3", "1234", ""]
    np.testing.assert_array_equal(decoded, lesson.keras_decode(probs))


def test_ctc_loss_prefers_the_right_reading(lesson):
    probs = np.stack([_probs("-7-7-2--")] * 2)
    labels = np.array([[7, 7, 2, -1], [7, 2, -1, -1]])
    loss = np.asarray(lesson.ctc_loss(labels, probs))
    assert loss.shape == (2,) and loss[0] < loss[1]


@pytest.fixture(scope="module")
def quick_run(lesson, tmp_path_factory):
    return quick_cli_run("lip-reading", tmp_path_factory)


def test_quick_run_records_model_pictures_and_accuracy(quick_run):
    for name in ("model.keras", "videos_read.png", "learning_curves.png", "history.csv", "metrics.json"):
        assert (quick_run / name).exists(), name
    metrics = json.loads((quick_run / "metrics.json").read_text())["metrics"]
    assert 0.0 <= metrics["sequence_accuracy"] <= metrics["digit_accuracy"] <= 1.0
    assert metrics["keras_ctc_decode_agreement"] == 1.0


def test_export_matches_keras_and_reads_the_same_sequences(lesson, quick_run, tmp_path):
    import keras

    from dlbootcamp.export import device_bench

    cfg = lesson.Config.quick()
    data = lesson.load_data(cfg)
    model = keras.saving.load_model(quick_run / "model.keras")
    # TFLite only (37.8 s -> 11.2 s alone): the quick tour exports this model to ONNX too, judges its fp32 parity
    # and scores its int8 (test_tour_quick[lip-reading]); ONNX int8's tolerance is judged on the full run's export.
    export_quick(lesson, cfg, {"model": model}, tmp_path, data=data, metric="sequence_accuracy",
                 formats=("tflite",)).raise_if_failed()
    videos = data.test.x[:8]
    lite = device_bench.open_artifact(str(tmp_path / "model.fp32.tflite")).predict(videos)
    np.testing.assert_array_equal(lesson.greedy_decode(lite),
                                  lesson.greedy_decode(model.predict(videos, verbose=0)))
