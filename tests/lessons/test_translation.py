"""Day 13 (translation) and the date generator it reads (dlbootcamp.worlds.dates)."""

import datetime as dt
import json

import numpy as np
import pytest

from dlbootcamp.worlds import dates
from dlbootcamp import registry, text
from conftest import export_quick

# --- the two languages -----------------------------------------------------------------------------


def test_every_format_writes_the_same_day():
    day = dt.date(2026, 11, 21)
    written = {name: dates.render(day, name) for name in dates.FORMATS}
    assert written["d Month yyyy"] == "21 November 2026"
    assert written["mon d, yyyy"] == "nov 21, 2026"
    assert written["dd.mm.yy"] == "21.11.26"
    assert written["Weekday, d Month yyyy"] == "Saturday, 21 November 2026"
    assert written["the dth of Month, yyyy"] == "the 21st of November, 2026"
    assert dates.iso(day) == written["yyyy-mm-dd"] == "2026-11-21"
    assert [dates.ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 31)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "31st"]
    # two-digit years: 50-99 are 19xx, 00-49 are 20xx, so both ends of the range are written apart
    assert dates.render(dt.date(1950, 6, 5), "dd.mm.yy") == "05.06.50"
    assert dates.render(dt.date(2049, 6, 5), "d/m/yy") == "5/6/49"
    longest = max((dates.render(d, f) for d in (dt.date(2026, 9, 30), dt.date(1999, 9, 22)) for f in dates.FORMATS),
                  key=len)
    assert len(longest) <= dates.MAX_SOURCE_LENGTH and set(longest) <= set(dates.ALPHABET)


def test_held_out_days_never_appear_in_training_in_any_format():
    pairs = dates.generate(train=3000, val=300, test=300, seed=0)
    days = {split: set(p.targets) for split, p in pairs.items()}
    assert not (days["train"] & days["test"] or days["train"] & days["val"] or days["val"] & days["test"])
    assert pairs == dates.generate(train=3000, val=300, test=300, seed=0)  # seeded: a fixed split
    assert pairs["test"] != dates.generate(train=3000, val=300, test=300, seed=1)["test"]
    assert set(pairs["train"].formats) == set(dates.FORMATS)
    split = dates.split_days(seed=0)
    assert sum(map(len, split.values())) == (dates.LAST_DAY - dates.FIRST_DAY).days + 1
    assert abs(len(split["test"]) / len(split["train"]) - 0.125) < 0.01


# --- the decoding loop and the metric -----------------------------------------------------------------


def _oracle(module, data, fed, wrong_row=None):
    """Predict functions that write the true target, and record what the loop feeds them."""
    y = data.test.y.copy()
    if wrong_row is not None:
        y[wrong_row, 3] = (y[wrong_row, 3] + 1 - 4) % 10 + 4  # one digit off
    vocab_size = len(module.vocabularies()[1])
    clock = {"t": 0}

    def encoder(x):
        clock["t"] = 0
        return {"encoded": np.zeros((len(x), module.SOURCE_LENGTH, 2), np.float32),
                "state": np.zeros((len(x), 2), np.float32)}

    def decoder_step(inputs):
        previous, state, _ = inputs
        fed.append(previous[:, 0].copy())
        t = clock["t"]
        clock["t"] += 1
        return {"logits": np.eye(vocab_size)[y[:, t]], "new_state": state + 1,
                "attention": np.zeros((len(previous), module.SOURCE_LENGTH))}

    return {"encoder": encoder, "decoder_step": decoder_step}


def test_greedy_decoding_feeds_back_its_own_output_and_exact_match_counts_whole_dates():
    module = registry.load("translation")
    data = module.load_data(module.Config.quick())
    fed = []
    scores = module.evaluate(_oracle(module, data, fed), data)
    assert scores == {"test_exact_match": 1.0, "test_char_accuracy": 1.0}
    start = module.vocabularies()[1].index[module.START]
    assert (fed[0] == start).all() and len(fed) == module.TARGET_STEPS
    np.testing.assert_array_equal(np.stack(fed[1:], 1), data.test.y[:, :-1])  # its own previous output
    scores = module.evaluate(_oracle(module, data, [], wrong_row=0), data)
    n = len(data.test.y)
    assert scores["test_exact_match"] == pytest.approx(1 - 1 / n)
    assert scores["test_char_accuracy"] == pytest.approx(1 - 1 / (n * 10))
    assert module.to_text(data.test.y[0]) == data.pairs["test"].targets[0]


# --- the lesson end to end ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One --quick run through the CLI, shared by the tests below."""
    from dlbootcamp.app.cli import main

    out = tmp_path_factory.mktemp("runs")
    assert main(["train", "translation", "--quick", "--out", str(out), "--name", "q", "-q"]) == 0
    return registry.load("translation"), out / "q"


def test_quick_run_saves_encoder_decoder_step_and_attention_map(quick_run):
    _, folder = quick_run
    for name in ("encoder.keras", "decoder_step.keras", "attention_heatmap.png", "exact_match_by_format.png",
                 "learning_curves.png", "history.csv"):
        assert (folder / name).exists(), name
    record = json.loads((folder / "metrics.json").read_text())
    assert record["passed"] is None and record["exports"] == ["decoder_step", "encoder"]
    assert 0.0 <= record["metrics"]["test_exact_match"] <= record["metrics"]["test_char_accuracy"] <= 1.0
    assert any(n.startswith("hardest format:") for n in record["notes"])
    # dateutil reads most formats; it cannot know the generator's century for two-digit years
    assert 0.5 < record["baselines"]["dateutil parser"]["test_exact_match"] < 1.0


def _device_translate(folder, quantization: str, sentence: str):
    """Greedy decoding as a device runs it: NumPy, the sidecar and the two artifacts, nothing else."""
    from dlbootcamp.export import device_bench

    encoder = device_bench.open_artifact(str(folder / f"encoder.{quantization}.tflite"))
    step = device_bench.open_artifact(str(folder / f"decoder_step.{quantization}.tflite"))
    meta = device_bench.read_sidecar(str(folder / f"encoder.{quantization}.tflite"))
    source = text.Vocabulary.from_dict(meta["source_vocabulary"])
    ids = source.encode_batch([sentence], meta["source_length"])
    enc = dict(zip([t.name for t in encoder.outputs], encoder.predict(ids)))
    previous, state, written, weights = np.array([[meta["start_id"]]], np.int32), enc["state"], [], []
    for _ in range(meta["target_steps"]):
        feeds = {"previous_id": previous, "state": state, "encoded": enc["encoded"]}
        out = dict(zip([t.name for t in step.outputs], step.predict(*[feeds[t.name] for t in step.inputs])))
        previous, state = out["logits"].argmax(-1).astype(np.int32)[:, None], out["new_state"]
        written.append(int(previous[0, 0]))
        weights.append(out["attention"][0])
    return ids, written, np.array(weights), meta


def test_export_parity_and_the_same_translation_on_keras_and_tflite(quick_run, tmp_path):
    import keras

    module, folder = quick_run
    cfg = module.Config.quick()
    exports = {n: keras.saving.load_model(folder / f"{n}.keras") for n in ("encoder", "decoder_step")}  # safe mode
    report = export_quick(module, cfg, exports, tmp_path)
    # int8's tolerance is judged on the full run's export (a quick model gets no date right);
    # here every artifact must convert, run and match Keras in fp32.
    assert not [f for f in report.failures if "beyond the quantized tolerance" not in f], report.failures
    rows = {(r["name"], r["format"], r["quantization"]): r for r in report.rows}
    for name in exports:
        assert rows[(name, "tflite", "fp32")]["batch_fixed"] == 1  # GRUs in TFLite: batch 1

    ids, written, weights, meta = _device_translate(tmp_path, "fp32", "21 November 2026")
    assert meta["batch_fixed"] == 1 and meta["target_steps"] == module.TARGET_STEPS
    keras_predict = {n: (lambda m: lambda x: m.predict(x, verbose=0))(m) for n, m in exports.items()}
    keras_written, keras_weights = module.greedy_decode(keras_predict, ids)
    assert written == keras_written[0].tolist()
    np.testing.assert_allclose(weights, keras_weights[0], atol=1e-4)
    _, int8_written, _, _ = _device_translate(tmp_path, "int8", "21 November 2026")
    assert len(int8_written) == module.TARGET_STEPS and max(int8_written) < len(module.vocabularies()[1])
