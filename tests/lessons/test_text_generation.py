"""Day 12 (text-generation) and the host-side tokenisers it feeds the model with (dlbootcamp.text)."""

import importlib
import json
import math
import pathlib
import shutil

import numpy as np
import pytest

from dlbootcamp import text
from dlbootcamp.text import Vocabulary
from conftest import export_quick, quick_train

needs_kjv = pytest.mark.skipif(
    not (shutil.which("bible") and pathlib.Path("/usr/lib/bible.data").exists()),
    reason="King James Bible corpus missing: apt-get install bible-kjv bible-kjv-text",
)


def lesson():
    """The lesson module, imported directly (the registry parses every lesson, this needs one)."""
    return importlib.import_module("dlbootcamp.lessons.day12_text_generation")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One --quick run of the lesson, shared by the tests below."""
    module = lesson()
    return (module, *quick_train(module, tmp_path_factory))


# --- tokenisers that run outside the graph ----------------------------------------------------------

def test_word_and_char_vocabularies_round_trip_through_json():
    words = Vocabulary.build(["And God said, Let there be light: and there was light."], "word")
    assert words.tokens[:4] == ["<pad>", "<unk>", "and", "light"]  # by count, then alphabetically
    ids = words.encode("And there was darkness")
    assert ids.dtype == np.int32 and ids[-1] == 1  # "darkness" is unknown
    assert words.decode(ids) == "and there was <unk>"
    chars = Vocabulary.build(["abba"], "char")
    assert chars.decode(chars.encode("abc")) == "ab<unk>" and "a" in chars and "<pad>" not in chars
    batch = words.encode_batch(["let there be light", "god"], length=3)
    np.testing.assert_array_equal(batch, [[words.index["let"], words.index["there"], words.index["be"]],
                                          [words.index["god"], 0, 0]])
    again = Vocabulary.from_dict(json.loads(json.dumps(words.to_dict())))
    assert again.tokens == words.tokens and again.level == "word"
    assert text.sentences("In the beginning. Was it good? It was!  ") == ["In the beginning.", "Was it good?",
                                                                            "It was!"]


def test_vocabulary_errors_say_what_was_expected():
    with pytest.raises(ValueError, match=r"Not a vocabulary: schema 'dlbootcamp.sidecar/1'; expected "
                                         r"'dlbootcamp.vocabulary/1' \(the 'vocabulary' entry"):
        Vocabulary.from_dict({"schema": "dlbootcamp.sidecar/1"})
    with pytest.raises(ValueError, match=r"Not a vocabulary: schema 'list'"):
        Vocabulary.from_dict([])
    with pytest.raises(ValueError, match=r"Invalid vocabulary level 'byte'\. Expected one of \('word', 'token', 'char'\)"):
        Vocabulary(["a"], level="byte")


# --- the model and the metric ---------------------------------------------------------------------

def test_the_step_model_reproduces_the_sequence_model_one_character_at_a_time():
    module = lesson()
    cfg = module.Config(units=12, embed_dim=4)
    model = module.build_model(cfg, vocab_size=9)
    step = module.keras_step(module.step_model(model))
    ids = np.array([[3, 1, 4, 1, 5, 8, 2, 6]], np.int32)
    full = model.predict(ids, verbose=0)[0]
    state = np.zeros((1, 12), np.float32)
    for t in range(ids.shape[1]):
        logits, state = step([ids[:, t:t + 1], state])
        np.testing.assert_allclose(logits[0], full[t], atol=1e-5)


def test_sampling_is_greedy_at_zero_and_seeded_otherwise():
    module = lesson()
    logits = np.array([0.0, 2.0, 1.0, -1.0])
    assert module.sample(logits, 0.0, np.random.default_rng(0)) == 1
    def draws(temperature, seed):
        rng = np.random.default_rng(seed)
        return [module.sample(logits, temperature, rng) for _ in range(400)]

    assert draws(1.0, 3) == draws(1.0, 3)
    cold, hot = np.bincount(draws(0.2, 0), minlength=4), np.bincount(draws(5.0, 0), minlength=4)
    assert cold[1] > 390 and hot.min() > 50  # low temperature ~ argmax, high ~ uniform


def test_bits_per_char_rewards_knowing_the_next_character():
    module = lesson()
    vocab = Vocabulary(list("\nab"), "char")
    ids = vocab.encode("\nab" * 50)  # the next character is a function of this one
    data = module.Data(vocab, ids, ids, ids, units=3, eval_streams=4, eval_chars=8, source="test")
    after = {vocab.index[a]: vocab.index[b] for a, b in (("\n", "a"), ("a", "b"), ("b", "\n"))}

    def oracle(xs):
        chars, state = xs
        logits = np.full((len(chars), len(vocab)), -50.0)
        logits[np.arange(len(chars)), [after[int(c)] for c in chars[:, 0]]] = 50.0
        return [logits, state]

    assert module.evaluate(oracle, data)["test_bits_per_char"] < 1e-6
    uniform = lambda xs: [np.zeros((len(xs[0]), len(vocab))), xs[1]]  # noqa: E731
    assert module.evaluate(uniform, data)["test_bits_per_char"] == pytest.approx(math.log2(len(vocab)))


# --- the lesson end to end ---------------------------------------------------------------------------

@needs_kjv
def test_quick_run_records_bits_per_char_samples_and_pictures(quick_run):
    _, _, folder, record = quick_run
    for name in ("model.keras", "history.csv", "bits_per_char.png", "samples_by_temperature.png"):
        assert (folder / name).exists(), name
    assert record["passed"] is None
    bpc = record["metrics"]["test_bits_per_char"]
    assert 0.0 < bpc < 8.0 and 0.0 < record["metrics"]["test_bits_per_char_all"] < 8.0
    assert any(n.startswith("T=1.0: ") and "And it came to pass" in n for n in record["notes"])


@needs_kjv
def test_step_model_exports_and_generates_the_same_text_on_the_device(quick_run, tmp_path):
    import keras

    from dlbootcamp.export import device_bench

    module, cfg, folder, _ = quick_run
    step = keras.saving.load_model(folder / "model.keras")
    report = export_quick(module, cfg, {"model": step}, tmp_path)
    # int8 is judged by bits per character; on an untrained smoke model the drop is noise, so only measure it here
    assert all(0.0 < r["metric_value"] < 8.0 for r in report.rows if r["quantization"] == "int8")

    # The device side: the artifact, its sidecar, NumPy and the sampler - no TensorFlow.
    artifact = str(tmp_path / "model.fp32.tflite")
    meta = device_bench.read_sidecar(artifact)
    vocab = Vocabulary.from_dict(meta["vocabulary"])
    runner = device_bench.open_artifact(artifact)
    assert runner.batch_fixed == 1 and meta["state_size"] == cfg.units

    def device_step(xs):
        feeds = dict(zip(("char_id", "state"), xs))
        outs = runner.predict(*[feeds[t.name] for t in runner.inputs])
        named = dict(zip([t.name for t in runner.outputs], outs))
        return [named["logits"], named["next_state"]]

    for temperature in (0.0, 1.0):
        on_device = module.generate(device_step, vocab, "And God said", 60, units=meta["state_size"],
                                    temperature=temperature, seed=7)
        in_keras = module.generate(module.keras_step(step), vocab, "And God said", 60, units=cfg.units,
                                   temperature=temperature, seed=7)
        assert on_device == in_keras and len(on_device) == len("And God said") + 60
