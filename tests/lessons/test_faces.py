"""The faces lesson at smoke size, and the sliding-window detection helpers it stands on."""

import dataclasses
import json

import numpy as np
import pytest

from dlbootcamp import detection
from dlbootcamp.lessons import day10_faces as lesson
from conftest import export_quick, quick_cli_run


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    return quick_cli_run("faces", tmp_path_factory)


@pytest.fixture(scope="module")
def data():
    return lesson.load_data(lesson.Config.quick())


# --- the lesson -------------------------------------------------------------------------------------

def test_quick_run_records_detector_and_embedder(quick_run):
    record = json.loads((quick_run / "metrics.json").read_text())
    for name in ("test_accuracy", "astronaut_iou", "matching_top1", "pixel_matching_top1", "hard_negatives"):
        assert np.isfinite(record["metrics"][name]), name
    assert 0.0 <= record["metrics"]["astronaut_iou"] <= 1.0
    assert record["metrics"]["hard_negatives"] > 0  # one mining round ran
    assert record["passed"] is None
    assert record["exports"] == ["embedder", "model"]
    assert (quick_run / "model.keras").exists() and (quick_run / "embedder.keras").exists()
    for picture in ("astronaut_detection", "hard_negatives", "matching", "embedding_loss", "learning_curves"):
        assert f"{picture}.png" in record["figures"], picture
    assert any("instance matching" in note for note in record["notes"])


def test_split_is_seeded_stratified_and_gallery_is_held_out(data):
    again = lesson.load_data(lesson.Config.quick())
    assert np.array_equal(data.splits.test.x, again.splits.test.x) and np.array_equal(data.queries, again.queries)
    assert data.splits.sizes() == {"train": 120, "val": 30, "test": 50}
    assert data.splits.test.y.sum() == 25  # stratified: half faces
    train = {a.tobytes() for a in data.splits.train.x}
    assert not any(g.tobytes() in train for g in data.gallery)  # gallery faces never trained on
    assert len(data.gallery) == 40 and len(data.queries) == len(data.query_ids)
    assert not np.allclose(data.queries, data.gallery[data.query_ids])  # queries are distorted


def test_evaluate_scores_each_export_it_is_given(data):
    def never_a_face(windows):  # a "classifier" that always answers 0.1
        return np.full(len(windows), 0.1, np.float32)

    def identity_embed(faces):  # raw pixels as the embedding
        return faces.reshape(len(faces), -1)

    both = lesson.evaluate({"model": never_a_face, "embedder": identity_embed}, data)
    detector = {"test_accuracy", "astronaut_iou", "detector_min_score", "val_detection_iou", "val_portrait_iou"}
    assert set(both) == detector | {"matching_top1"}
    assert both["test_accuracy"] == pytest.approx(0.5) and both["astronaut_iou"] == 0.0  # nothing above 0.5
    assert both["val_detection_iou"] == both["val_portrait_iou"] == 0.0
    assert both["detector_min_score"] == lesson.MIN_SCORES[0]  # a tie: the lowest
    assert 1 / len(data.gallery) < both["matching_top1"] <= 1.0
    assert set(lesson.evaluate(never_a_face, data)) == detector


def test_validation_composites_hold_validation_faces_at_known_boxes(data):
    from skimage import transform

    faces = data.splits.val.x[data.splits.val.y == 1]
    assert len(data.val_images) == len(faces) == len(data.val_boxes) > 0
    lo, hi = lesson.Config.quick().face_sizes
    for image, face, (y0, x0, y1, x1) in zip(data.val_images, faces, data.val_boxes.astype(int)):
        assert image.shape == (320, 320) and y1 - y0 == x1 - x0 and lo <= y1 - y0 <= hi
        np.testing.assert_allclose(image[y0:y1, x0:x1], transform.resize(face[..., 0], (y1 - y0, x1 - x0), order=1))
    assert not set(lesson.VAL_BACKGROUNDS) & set(lesson.FACE_FREE_PHOTOS)  # backgrounds never mined


def test_composites_paste_faces_of_48_to_192_pixels_whatever_range_is_searched():
    wide = lesson.load_data(lesson.Config(face_sizes=(32, 256)))
    sides = wide.val_boxes[:, 2] - wide.val_boxes[:, 0]
    assert lesson.COMPOSITE_SIZES == (48, 192) and sides.min() >= 48 and sides.max() <= 192
    assert wide.vote_iou == lesson.Config().vote_iou == 0.7


def test_vote_overlap_decides_which_windows_support_a_box():
    boxes = np.array([[0, 0, 10, 10], [0, 2, 10, 12], [50, 50, 60, 60]], np.float32)  # the first two: IoU 0.67
    scores = np.array([0.6, 0.6, 0.9], np.float32)
    loose = detection.select(boxes, scores, score_threshold=0.5, vote_iou=0.5)
    strict = detection.select(boxes, scores, score_threshold=0.5, vote_iou=0.7)
    assert loose.votes[0] == pytest.approx(1.2) and loose.boxes[0].tolist() in ([0, 0, 10, 10], [0, 2, 10, 12])
    assert strict.votes[0] == pytest.approx(0.9) and strict.boxes[0].tolist() == [50, 50, 60, 60]


def test_validation_portrait_is_a_real_photo_outside_every_training_set(data):
    from dlbootcamp.data import photos

    assert data.val_portrait.shape == (512, 437) and data.val_portrait.dtype == np.float32
    y0, x0, y1, x1 = lesson.VAL_PORTRAIT_BOX
    assert 0 <= y0 < y1 <= 512 and 0 <= x0 < x1 <= 437
    lo, hi = lesson.Config().face_sizes
    assert lo <= y1 - y0 <= hi  # a face the full detector searches for
    assert lesson.VAL_PORTRAIT not in (*lesson.FACE_FREE_PHOTOS, *lesson.VAL_BACKGROUNDS, *photos.PHOTOS)


def test_detector_threshold_is_chosen_on_validation_composites_and_portrait(data):
    image = np.zeros((320, 320), np.float32)
    image[100:204, 120:224] = 1.0  # one bright 104-pixel square: the "face"
    blank = np.zeros((512, 437), np.float32)  # a portrait where nothing is found
    one = dataclasses.replace(data, val_images=(image,), val_boxes=np.array([[100, 120, 204, 224]], np.float32),
                              val_portrait=blank)

    def brightness(windows):  # at most 0.65: only thresholds <= 0.6 let any window vote
        return 0.65 * windows.reshape(len(windows), -1).mean(1)

    chosen, val = lesson.choose_min_score(brightness, one)
    assert set(val["score"]) == set(lesson.MIN_SCORES)
    assert val["composites"][0.7] == val["composites"][0.8] == val["composites"][0.9] == 0.0
    assert chosen in (0.5, 0.6) and val["composites"][chosen] > 0.5 and val["portrait"][chosen] == 0.0
    assert val["score"][chosen] == pytest.approx(0.5 * val["composites"][chosen])  # the portrait weighs half
    # the portrait counts as much as all the composites: found there alone, it still decides
    y0, x0, y1, x1 = (int(v) for v in lesson.VAL_PORTRAIT_BOX)
    portrait = blank.copy()
    portrait[y0:y1, x0:x1] = 1.0
    only_portrait = dataclasses.replace(one, val_images=(np.zeros_like(image),), val_portrait=portrait)
    chosen, val = lesson.choose_min_score(brightness, only_portrait)
    assert chosen in (0.5, 0.6) and val["portrait"][chosen] > 0.3 and val["composites"][chosen] == 0.0  # found
    assert val["score"][chosen] == pytest.approx(0.5 * val["portrait"][chosen])
    fixed = lesson.evaluate(brightness, dataclasses.replace(one, min_score=0.9))
    assert fixed["detector_min_score"] == 0.9 and "val_detection_iou" not in fixed and fixed["astronaut_iou"] == 0.0


def test_config_rejects_face_sizes_out_of_order():
    from dlbootcamp.errors import UserError

    with pytest.raises(UserError, match=r"Invalid face_sizes \(192, 48\) / scale_step 1\.15: expected two face sides "
                                        r"0 < smallest <= largest and a step > 1; set e\.g\. --set face_sizes=32,256\."):
        lesson.Config(face_sizes=(192, 48))


def test_exports_classifier_and_embedder_with_parity(quick_run, data, tmp_path):
    import keras

    exports = {"model": keras.saving.load_model(quick_run / "model.keras"),
               "embedder": keras.saving.load_model(quick_run / "embedder.keras")}
    report = export_quick(lesson, lesson.Config.quick(), exports, tmp_path, data=data)
    assert {r["name"] for r in report.rows} == {"model", "embedder"} and len(report.rows) == 8  # per model: TFLite fp32/int8, ONNX fp32/int8
    report.raise_if_failed()


# --- detection helpers -----------------------------------------------------------------------------

def test_box_iou_known_values():
    assert detection.box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == pytest.approx(1.0)
    assert detection.box_iou((0, 0, 10, 10), (0, 5, 10, 15)) == pytest.approx(50 / 150)
    assert detection.box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0
    many = detection.box_iou(np.array([[0, 0, 10, 10], [0, 5, 10, 15]]), np.array([0, 0, 10, 10]))
    assert many == pytest.approx([1.0, 1 / 3])


def test_sliding_windows_cover_the_image_with_matching_boxes():
    image = np.arange(100, dtype=np.float32).reshape(10, 10)
    patches, boxes = detection.sliding_windows(image, 4, 3)
    assert patches.shape == (9, 4, 4) and boxes.shape == (9, 4)
    for p, (y0, x0, y1, x1) in zip(patches, boxes.astype(int)):
        assert np.array_equal(p, image[y0:y1, x0:x1])
    assert detection.sliding_windows(image, 12, 1)[0].shape == (0, 12, 12)  # window larger than the image


def test_window_scales_span_the_object_sizes():
    scales = detection.window_scales(25, 50, 200, 1.2)
    assert scales[0] == pytest.approx(0.5) and 25 / scales[-1] <= 200 < 25 / scales[-1] * 1.2
    with pytest.raises(ValueError, match=r"Invalid object sizes \(200, 50\) or step 1\.2: expected "
                                         r"0 < smallest <= largest and step > 1\."):
        detection.window_scales(25, 200, 50, 1.2)


def test_detect_finds_a_square_at_its_position_and_scale():
    image = np.zeros((120, 160), np.float32)
    image[40:70, 90:120] = 1.0  # a 30x30 "object": it fills the centre of a 50x50 window at (30, 80)

    def target(windows):  # object score: bright centre (6x6 of 10x10) minus dark frame
        centre = windows[:, 2:8, 2:8].sum(axis=(1, 2))
        frame = windows.sum(axis=(1, 2)) - centre
        return np.clip(centre / 36 - frame / 64, 0, 1)

    found = detection.detect(target, image, size=10, scales=detection.window_scales(10, 40, 80, 1.25), stride=1,
                             score_threshold=0.5, batch=512)
    assert found.windows > 0 and len(found.boxes) >= 1
    assert detection.box_iou(found.boxes[0], (30, 80, 80, 130)) >= 0.9
    assert np.all(np.diff(found.votes) <= 0)  # best supported first


def test_votes_prefer_a_cluster_of_windows_over_a_lone_confident_one():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [0, 1, 10, 11], [50, 50, 60, 60]], np.float32)
    votes = detection.neighbour_votes(boxes, np.array([0.8, 0.8, 0.8, 0.99]))
    assert votes == pytest.approx([2.4, 2.4, 2.4, 0.99])


def test_non_max_suppression_drops_overlapping_weaker_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    keep = detection.non_max_suppression(boxes, np.array([0.9, 0.8, 0.7]), iou_threshold=0.3, score_threshold=0.5)
    assert keep.tolist() == [0, 2]


def test_best_box_ious_scores_once_and_judges_each_threshold():
    image = np.zeros((120, 160), np.float32)
    image[40:70, 90:120] = 1.0
    calls = []

    def capped(windows):  # bright windows score at most 0.75: thresholds above it find nothing
        calls.append(len(windows))
        return 0.75 * windows.reshape(len(windows), -1).mean(1)

    ious = detection.best_box_ious(capped, image, (40, 90, 70, 120), size=10, stride=2, thresholds=(0.5, 0.6, 0.8),
                                   scales=detection.window_scales(10, 30, 30, 1.25))
    assert set(ious) == {0.5, 0.6, 0.8} and ious[0.8] == 0.0
    assert ious[0.5] >= 0.5 and ious[0.6] >= 0.5
    assert len(calls) == 1  # every window scored in one call, whatever the number of thresholds


def test_hog_descriptors_see_gradient_direction_not_brightness():
    ramp = np.tile(np.linspace(0, 1, 25, dtype=np.float32), (25, 1))[..., None]  # brightness rises left to right
    windows = np.stack([ramp, ramp * 0.5 + 0.25, ramp.transpose(1, 0, 2)])  # same edges dimmer; turned 90 degrees
    d = detection.hog_descriptors(windows)
    assert d.shape == (3, 4 * 4 * 2 * 2 * 9) and d.dtype == np.float32  # 5x5 cells: 4x4 blocks of 2x2 cells
    np.testing.assert_allclose(d[0], d[1], atol=1e-5)  # block normalisation: contrast does not matter
    assert not np.allclose(d[0], d[2])  # direction does
