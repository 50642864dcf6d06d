import numpy as np
import pytest

from dlbootcamp import data
from dlbootcamp.errors import DataUnavailable

from conftest import needs_fashion_mnist


def test_digits_splits_are_fixed_disjoint_and_stratified():
    a, b = data.digits(seed=3), data.digits(seed=3)
    np.testing.assert_array_equal(a.test.y, b.test.y)
    assert sum(a.sizes().values()) == 1797
    # disjoint: no image appears in two splits
    rows = {s: {x.tobytes() for x in getattr(a, s).x} for s in ("train", "val", "test")}
    assert not rows["train"] & rows["test"] and not rows["val"] & rows["test"]
    # stratified: every class in the test split
    assert set(a.test.y) == set(range(10))
    assert a.source == "scikit-learn:load_digits"
    assert 0.0 <= a.train.x.min() and a.train.x.max() <= 1.0


def test_another_seed_gives_another_split():
    assert not np.array_equal(data.digits(seed=0).test.y, data.digits(seed=1).test.y)


def test_split_fractions_are_checked():
    with pytest.raises(ValueError, match="Invalid split fractions"):
        data.split_indices(10, fractions=(0.5, 0.6), seed=0)


def test_missing_source_names_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("DLBOOTCAMP_DATA", str(tmp_path))
    sources = {"fashion_mnist": [data.Source("debian:dataset-fashion-mnist", dict, lambda: False,
                                             "apt-get install dataset-fashion-mnist"),
                                 data.Source("tfds:fashion_mnist", dict, lambda: False,
                                             "go online with tensorflow-datasets installed")]}
    with pytest.raises(DataUnavailable, match=r"Dataset 'fashion_mnist' is not available on this machine.*"
                                              r"apt-get install dataset-fashion-mnist; or go online"):
        data.resolve("fashion_mnist", sources)


def test_tfds_is_not_tried_offline(monkeypatch):
    monkeypatch.setenv("DLBOOTCAMP_OFFLINE", "1")
    assert not data._tfds_allowed()


def test_unknown_dataset():
    with pytest.raises(DataUnavailable, match="Unknown dataset 'mnist-9000'"):
        data.resolve("mnist-9000")


def test_a_failing_source_is_reported_with_its_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DLBOOTCAMP_DATA", str(tmp_path))

    def broken():
        raise OSError("disk on fire")

    sources = {"x": [data.Source("pkg", broken, lambda: True, "pip install x")]}
    with pytest.raises(DataUnavailable, match=r"pip install x \(it failed: disk on fire\)"):
        data.resolve("x", sources)


def test_cache_comes_first(tmp_path, monkeypatch):
    monkeypatch.setenv("DLBOOTCAMP_DATA", str(tmp_path))
    data.save_to_cache("digits", {"x": np.zeros((3, 8, 8), np.uint8), "y": np.arange(3)})
    arrays, source = data.resolve("digits")
    assert source.startswith("cache:") and arrays["x"].shape == (3, 8, 8)
    assert not list(tmp_path.glob(".*tmp*"))  # the cache file was written atomically


@needs_fashion_mnist
def test_fashion_mnist_offline_copy():
    s = data.fashion_mnist(seed=0)
    assert s.sizes() == {"train": 55000, "val": 5000, "test": 10000}
    assert s.train.x.shape[1:] == (28, 28, 1) and s.source == "debian:dataset-fashion-mnist"
    assert len(s.labels) == 10


def test_batches_pipeline_is_seeded():
    x = np.arange(20, dtype=np.float32)
    first = [b.numpy().tolist() for b in data.batches(x, batch_size=5, shuffle=True, seed=1)]
    again = [b.numpy().tolist() for b in data.batches(x, batch_size=5, shuffle=True, seed=1)]
    assert first == again and sorted(sum(first, [])) == x.tolist()
