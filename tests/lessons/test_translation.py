"""Day 13 (translation), the date generator it reads (dlbootcamp.worlds.dates) and its sentence pairs
(dlbootcamp.data.freedict)."""

import datetime as dt
import json

import numpy as np
import pytest

from dlbootcamp.worlds import dates
from dlbootcamp import registry, seq2seq, text
from conftest import export_quick, needs_freedict

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
    """Predict functions that write the true targets (dates and sentences), and record what the date loop feeds."""
    tasks = {"": data.dates, "sentence_": data.sentences}
    targets = {prefix: task.test.y.copy() for prefix, task in tasks.items()}
    if wrong_row is not None:
        targets[""][wrong_row, 3] = (targets[""][wrong_row, 3] + 1 - 4) % 10 + 4  # one digit off
    out = {}
    for prefix, task in tasks.items():
        y, length, clock = targets[prefix], task.shape.source_length, {"t": 0}
        size = task.shape.target_size + (length if task.shape.copy else 0)  # a pointer-generator: + source positions

        def encoder(x, clock=clock):
            clock["t"] = 0
            return {"encoded": np.zeros((len(x), length, 2), np.float32), "state": np.zeros((len(x), 2), np.float32)}

        def decoder_step(inputs, y=y, size=size, clock=clock, prefix=prefix):
            previous, state, _ = inputs
            if not prefix:
                fed.append(previous[:, 0].copy())
            t = min(clock["t"], y.shape[1] - 1)
            clock["t"] += 1
            return {"logits": np.eye(size)[y[:, t]], "new_state": state + 1,
                    "attention": np.zeros((len(previous), length))}

        out[prefix + "encoder"], out[prefix + "decoder_step"] = encoder, decoder_step
    return out


@needs_freedict
def test_greedy_decoding_feeds_back_its_own_output_and_exact_match_counts_whole_dates(quick_data):
    module, data = quick_data
    fed = []
    scores = module.evaluate(_oracle(module, data, fed), data)
    assert scores["test_exact_match"] == 1.0 and scores["test_char_accuracy"] == 1.0
    start = module.vocabularies()[1].index[module.START]
    assert (fed[0] == start).all() and len(fed) == module.TARGET_STEPS
    np.testing.assert_array_equal(np.stack(fed[1:], 1), data.dates.test.y[:, :-1])  # its own previous output
    scores = module.evaluate(_oracle(module, data, [], wrong_row=0), data)
    n = len(data.dates.test.y)
    assert scores["test_exact_match"] == pytest.approx(1 - 1 / n)
    assert scores["test_char_accuracy"] == pytest.approx(1 - 1 / (n * 10))
    assert module.to_text(data.dates.test.y[0]) == data.dates.pairs["test"][1][0]


@needs_freedict
def test_sentences_become_token_ids_and_back_and_bleu_is_100_for_the_reference(quick_data):
    module, data = quick_data
    task = data.sentences
    source_vocab, target_vocab = task.vocabs
    german = module.translate(_oracle(module, data, []), task, "test", "sentence_")
    written = [text.detokenize([target_vocab.tokens[i] for i in seq2seq.until(row, target_vocab.index[module.END])])
               for row in task.test.y]
    assert german == written and module.corpus_bleu(german, written) == pytest.approx(100.0)
    # the tokens round-trip to the text for almost every German sentence (a space before an opening quote aside)
    references = task.pairs["train"][1]
    assert np.mean([text.detokenize(text.tokens(g)) == g for g in references]) > 0.95
    assert len(target_vocab) == task.shape.target_size and target_vocab.tokens[2:4] == [module.START, module.END]
    assert set(source_vocab.tokens[2:]) <= set(text.tokens(" ".join(task.pairs["train"][0])))  # training words only


# --- the lesson end to end ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick_data():
    module = registry.load("translation")
    return module, module.load_data(module.Config.quick())


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One --quick run through the CLI, shared by the tests below."""
    from dlbootcamp.app.cli import main

    out = tmp_path_factory.mktemp("runs")
    assert main(["train", "translation", "--quick", "--out", str(out), "--name", "q", "-q"]) == 0
    return registry.load("translation"), out / "q"


@needs_freedict
def test_quick_run_saves_both_translators_attention_maps_and_both_baselines(quick_run):
    _, folder = quick_run
    for name in ("encoder.keras", "decoder_step.keras", "sentence_encoder.keras", "sentence_decoder_step.keras",
                 "attention_heatmap.png", "exact_match_by_format.png", "sentence_attention.png",
                 "learning_curves.png", "history.csv"):
        assert (folder / name).exists(), name
    record = json.loads((folder / "metrics.json").read_text())
    assert record["passed"] is None
    assert record["exports"] == ["decoder_step", "encoder", "sentence_decoder_step", "sentence_encoder"]
    metrics = record["metrics"]
    assert 0.0 <= metrics["test_exact_match"] <= metrics["test_char_accuracy"] <= 1.0
    assert 0.0 <= metrics["sentences_bleu"] <= 100 and 0.0 < metrics["sentences_dictionary_bleu"] < 100
    assert metrics["sentences_bleu_gain_over_dictionary"] == pytest.approx(
        metrics["sentences_bleu"] - metrics["sentences_dictionary_bleu"])
    assert any(n.startswith("hardest date format:") for n in record["notes"])
    assert sum(n.startswith("sentence: ") and "| dictionary " in n for n in record["notes"]) >= 3
    # dateutil reads most formats; it cannot know the generator's century for two-digit years
    assert 0.5 < record["baselines"]["dateutil parser"]["test_exact_match"] < 1.0
    assert record["baselines"]["word-by-word dictionary"] == {"sentences_bleu": metrics["sentences_dictionary_bleu"]}


def _device_translate(folder, quantization: str, sentence: str, prefix: str = ""):
    """Greedy decoding as a device runs it: NumPy, the sidecar and the two artifacts, nothing else.
    Returns the encoder's inputs, the ids written, the attention weights and the sidecar."""
    from dlbootcamp.export import device_bench

    encoder = device_bench.open_artifact(str(folder / f"{prefix}encoder.{quantization}.tflite"))
    step = device_bench.open_artifact(str(folder / f"{prefix}decoder_step.{quantization}.tflite"))
    meta = device_bench.read_sidecar(str(folder / f"{prefix}encoder.{quantization}.tflite"))
    source = text.Vocabulary.from_dict(meta[f"{prefix}source_vocabulary"])
    target = text.Vocabulary.from_dict(meta[f"{prefix}target_vocabulary"])
    length = meta[f"{prefix}source_length"]
    inputs = {"source_ids": source.encode_batch([sentence], length)}
    copy_ids = np.zeros((1, length), np.int32)
    if prefix:  # the sentence encoder also takes each word's one-word dictionary translation, as a target id
        table = meta["sentence_copy_candidates"]
        words = [table.get(t) or table.get(t.lower(), "") for t in source.tokenize(sentence)][:length]
        copy_ids[0, :len(words)] = [target.index.get(w, 1) if w else 0 for w in words]
        inputs["copy_ids"] = copy_ids
    enc = dict(zip([t.name for t in encoder.outputs], encoder.predict(*[inputs[t.name] for t in encoder.inputs])))
    previous, state, written, weights = np.array([[meta[f"{prefix}start_id"]]], np.int32), enc["state"], [], []
    for _ in range(meta[f"{prefix}target_steps"]):
        feeds = {"previous_id": previous, "state": state, "encoded": enc["encoded"]}
        out = dict(zip([t.name for t in step.outputs], step.predict(*[feeds[t.name] for t in step.inputs])))
        i = int((out["probabilities"] if prefix else out["logits"]).argmax(-1)[0])
        fed = i if i < len(target) else max(int(copy_ids[0, i - len(target)]), 1)  # a copy: its candidate's id
        previous, state = np.array([[fed]], np.int32), out["new_state"]
        written.append(i)
        weights.append(out["attention"][0])
    return inputs, written, np.array(weights), meta


@needs_freedict
def test_export_parity_and_the_same_translation_on_keras_and_tflite(quick_run, tmp_path):
    import keras

    module, folder = quick_run
    cfg = module.Config.quick()
    names = ("encoder", "decoder_step", "sentence_encoder", "sentence_decoder_step")
    exports = {n: keras.saving.load_model(folder / f"{n}.keras") for n in names}  # safe mode
    # TFLite only: the quick tour exports these four models to ONNX too and judges every artifact
    # (test_tour.py, test_tour_quick[translation]); doing it twice cost about 50 s (81.5 s -> 31 s alone).
    report = export_quick(module, cfg, exports, tmp_path, formats=("tflite",))
    # int8's tolerance is judged on the full run's export (a quick model gets no date right);
    # here every artifact must convert, run and match Keras in fp32.
    assert not [f for f in report.failures if "beyond the quantized tolerance" not in f], report.failures
    rows = {(r["name"], r["format"], r["quantization"]): r for r in report.rows}
    for name in exports:
        assert rows[(name, "tflite", "fp32")]["batch_fixed"] == 1  # GRUs in TFLite: batch 1
    int8 = rows[("sentence_decoder_step", "tflite", "int8")]
    assert 0 <= int8["other_metrics"]["sentences_bleu"] <= 100  # the sentence metric on the int8 artifacts too

    for prefix, sentence in (("", "21 November 2026"), ("sentence_", "I am very tired today.")):
        inputs, written, weights, meta = _device_translate(tmp_path, "fp32", sentence, prefix)
        assert meta["batch_fixed"] == 1
        keras_predict = {n: (lambda m: lambda x: m.predict(x, verbose=0))(exports[prefix + n])
                         for n in ("encoder", "decoder_step")}
        keras_written, keras_weights = seq2seq.greedy_decode(
            keras_predict["encoder"], keras_predict["decoder_step"],
            [inputs["source_ids"], inputs["copy_ids"]] if prefix else inputs["source_ids"],
            start_id=meta[f"{prefix}start_id"], steps=meta[f"{prefix}target_steps"], copy_ids=inputs.get("copy_ids"))
        assert written == keras_written[0].tolist()
        np.testing.assert_allclose(weights, keras_weights[0], atol=1e-4)
    _, int8_written, _, _ = _device_translate(tmp_path, "int8", "21 November 2026")
    assert len(int8_written) == module.TARGET_STEPS and max(int8_written) < len(module.vocabularies()[1])


# --- English -> German sentences (dlbootcamp.data.freedict) ----------------------------------------------

RAW = '''won /wˈʌn/
gewonnen, gesiegt
      "They won by three goals to one."  - Sie haben 3:1 gewonnen.
      "They won by three goals to one."  - Sie haben 3:1 gewonnen.
      "I/he/she won"  - ich/er/sie gewann, ich/er/sie siegte
      "It would seem so."  - Es scheint so., So scheint es jedenfalls.
      "He stated that he had been acting under coercion."  - Er gab an, dass er
      "She was the belle of the ball/party."  - Sie war die Ballkönigin/Partykönigin.
      "He can stand unsupported."  - Er kann selbständig / ohne Hilfe stehen.
      "It is the tradition to do sth."  - Es ist Tradition, etw. zu tun.
      "Yesterday, my horse bolted (off) with me."  - Gestern ist mir mein Pferd durchgegangen.
      "'Get back!' she hissed."  - „Komm zurück!“
      "The word 'before' has the accent on the last syllable."  - Das Wort „bevor“ hat den Akzent auf der letzten Silbe.
      "The ratio of nursing staff to doctors is 3/1."  - Das Verhältnis von Pflegepersonal zu Ärzten ist 3/1.
'''


def test_cleaning_rules_on_tricky_examples():
    from dlbootcamp.data import freedict

    pairs, counts = freedict.clean(freedict.example_pairs(RAW))
    got = {p.english: p.german for p in pairs}
    assert got == {
        "They won by three goals to one.": "Sie haben 3:1 gewonnen.",  # the duplicate line counted once
        "It would seem so.": "Es scheint so.",  # the first of two German sentences
        "She was the belle of the ball.": "Sie war die Ballkönigin.",  # a/b -> a on both sides
        'The word \'before\' has the accent on the last syllable.':
            'Das Wort "bevor" hat den Akzent auf der letzten Silbe.',  # typographic quotes normalised
        "The ratio of nursing staff to doctors is 3/1.": "Das Verhältnis von Pflegepersonal zu Ärzten ist 3/1.",  # numbers keep their slash
    }
    # cut after a comma, a spaced " / ", a placeholder, an optional word, quoted speech, a phrase: dropped
    assert counts["example lines"] == 12 and counts["distinct pairs"] == 11
    assert counts["one pair per English and per German sentence"] == 5
    assert list(counts.values()) == sorted(counts.values(), reverse=True)  # each step only removes
    assert freedict.clean_translation("Hund <masc> [zool.], Köter") == "Hund"
    assert freedict.clean_translation(" [formal] etw. gewinnen, erlangen [geh.] <v, trans>") == "gewinnen"
    table = {"the": "der", "dog": "Hund", "bark": "bellen", "the dog": "der Hund"}
    assert freedict.word_by_word("The dog barks.", table, longest=1) == "Der Hund barks."
    assert freedict.word_by_word("The dog barks.", table, longest=2, unknown="drop") == "Der Hund."
    assert freedict.word_by_word("The dog barks.", table, lowercase=False) == "The Hund barks."
    with pytest.raises(ValueError, match="Invalid unknown-word rule 'guess'. Expected 'copy' or 'drop'."):
        freedict.word_by_word("x", table, unknown="guess")


def test_missing_dictionary_names_the_debian_package(monkeypatch, tmp_path):
    from dlbootcamp.data import freedict
    from dlbootcamp.errors import DataUnavailable

    monkeypatch.setattr(freedict, "DICT_FILE", tmp_path / "absent.dict.dz")
    monkeypatch.setenv("DLBOOTCAMP_DATA", str(tmp_path))
    with pytest.raises(DataUnavailable, match="apt-get install dict-freedict-eng-deu"):
        freedict.dict_path()
    assert not freedict.available()


@needs_freedict
def test_german_pairs_load_and_are_held_out_by_sentence():
    from dlbootcamp.data import freedict

    pairs, counts = freedict.sentence_pairs()
    assert counts["distinct pairs"] > 50000 and 5000 < len(pairs) == counts[list(counts)[-1]] < 8000
    split = freedict.split_by_sentence(pairs, seed=0)
    english = {name: {p.english.lower() for p in ps} for name, ps in split.items()}
    assert not (english["train"] & english["val"] or english["train"] & english["test"]
                or english["val"] & english["test"])
    assert sum(map(len, split.values())) == len(pairs) and 0.09 < len(split["test"]) / len(pairs) < 0.11
    assert split == freedict.split_by_sentence(pairs, seed=0) and split != freedict.split_by_sentence(pairs, seed=1)
    for p in pairs:
        assert 3 <= len(p.english.split()) <= 10 and p.german[-1] in ".!?'\"" and " / " not in p.german + p.english
