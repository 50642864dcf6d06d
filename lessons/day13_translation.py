"""Day 13 - Translation: an encoder-decoder with attention, on dates and on English -> German.

Seed 001 describes translation as two steps: read a sentence into a *thought*, then say that
thought in another language; seed 004 lists machine translation among what deep learning does.
A sequence-to-sequence model (``dlbootcamp.seq2seq``) is that sentence built from layers: a
bidirectional GRU **encoder** reads the source into one vector per token plus a summary state
(the "thought"); a GRU **decoder** writes the target one token at a time, fed its own previous
token (teacher forcing while training, greedy decoding after); **attention** lets it look back
at every source vector at every step, and its weights show where it reads while it writes.

1. **Dates** (``dlbootcamp.worlds.dates``): "nov 21, 2026" -> "2026-11-21", character by
   character, on calendar days never trained on. Clean and learnable in a minute; the heat map
   shows the model reading the year while it writes the year. dateutil's parser is the baseline.
2. **English -> German sentences**: about 6.5k example sentences of 3-10 words from the FreeDict
   dictionary (``dlbootcamp.data.freedict``: cleaned, one pair per sentence, test sentences never
   trained on), as word and punctuation tokens. A few thousand sentences cannot teach a vocabulary,
   so the decoder may also *copy* (a pointer-generator): each English word arrives with its one-word
   dictionary translation, and at every step the model mixes writing a word it knows with copying
   the candidate of the word it attends to, so it can add what lookup cannot: articles, function
   words, some word order. Scored by held-out corpus BLEU (sacrebleu) against word-by-word
   dictionary lookup (same package, settings tuned on validation): about 4.7 against 3.5 over three
   seeds - both far from a useful translator (production systems train on millions of pairs), as
   the run notes show.

On a device. Tokenisation and the dictionary lookup stay outside the graphs (string ops are not
TFLite ops); vocabularies and copy candidates ship in the sidecar. Each task exports an encoder and
a one-step decoder, because greedy decoding is a loop the host runs (``seq2seq.greedy_decode``),
with batch 1 (the exporter pins it).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np

from dlbootcamp import data as datasets
from dlbootcamp import plots, seq2seq, text, training
from dlbootcamp.data import freedict
from dlbootcamp.lesson import Bar, LessonInfo, Trained
from dlbootcamp.worlds import dates

LESSON = LessonInfo(
    id="translation",
    day=13,
    title="Translation: a GRU encoder-decoder with attention, on dates and on English -> German sentences",
    seeds=("001", "004"),
    topics=("sequence to sequence", "encoder-decoder", "attention", "teacher forcing", "greedy decoding",
            "BLEU", "dictionary baseline", "step model on a device"),
    summary=("A GRU encoder-decoder with attention learns two translations: dates as people write them into ISO "
             "(exact match, against dateutil's parser), and 6.5k short English sentences from the FreeDict "
             "dictionary into German (held-out corpus BLEU, against word-by-word dictionary lookup); attention "
             "maps show where it reads; encoders and decoder steps export so greedy decoding runs on a device."),
    bars=(Bar("test_exact_match", ">=", 0.95), Bar("sentences_bleu_gain_over_dictionary", ">", 0)),
    quantized_tolerance=0.02,
    baselines=("dateutil parser", "word-by-word dictionary"),
)


@dataclasses.dataclass(frozen=True)
class Config:
    train_size: int = 12000  # generated date pairs for training
    val_size: int = 1000  # date pairs on other calendar days, for early stopping
    test_size: int = 2000  # date pairs on yet other days, scored once
    embed: int = 32  # dates: width of a character embedding
    units: int = 64  # dates: encoder GRU units per direction; the decoder GRU has twice as many
    epochs: int = 5  # dates: passes over the training pairs (early stopping on validation loss)
    batch_size: int = 128
    learning_rate: float = 3e-3  # Adam, both tasks
    sentence_embed: int = 64  # sentences: width of a token embedding
    sentence_units: int = 64  # sentences: encoder GRU units per direction
    sentence_dropout: float = 0.2  # sentences: on embeddings and decoder outputs
    sentence_min_count: int = 2  # a token needs this many training occurrences to get an id
    sentence_epochs: int = 12  # most passes (the 5-minute budget); the epoch with the best validation BLEU is kept
    sentence_patience: int = 3  # stop after this many epochs without a better validation BLEU
    sentence_batch: int = 64
    sentence_limit: int = 0  # use only the first N training sentences (0: all)
    sentence_copy: bool = True  # sentences: a pointer-generator that may copy dictionary translations
    seed: int = 0  # date days and sentences per split, sampled formats, initial weights

    @classmethod
    def quick(cls) -> "Config":
        return cls(train_size=400, val_size=50, test_size=40, embed=8, units=8, epochs=1, sentence_embed=8,
                   sentence_units=8, sentence_epochs=1, sentence_limit=300)


# --- data ----------------------------------------------------------------------------------------

SOURCE_LENGTH = dates.MAX_SOURCE_LENGTH  # date characters, padded with 0
TARGET_STEPS = dates.TARGET_LENGTH + 1  # ten characters, then <end>
SENTENCE_LENGTH = 14  # English tokens (99% of the sentences fit)
SENTENCE_STEPS = 17  # German tokens then <end> (99% fit; longer ones are cut while training)
START, END = "<start>", "<end>"


def vocabularies() -> tuple[text.Vocabulary, text.Vocabulary]:
    """Dates. Source: every character a date may be written with. Target: digits, '-', start/end."""
    return (text.Vocabulary(list(dates.ALPHABET), "char"),
            text.Vocabulary([START, END, *"0123456789-"], "char"))


@dataclasses.dataclass(frozen=True)
class Task(datasets.Splits):
    """x: source ids; y: target ids then <end>. ``pairs``: split -> (sources, targets) strings."""

    pairs: dict = dataclasses.field(default_factory=dict)
    vocabs: tuple = ()  # (source, target) text.Vocabulary
    shape: seq2seq.Shape | None = None
    # sentences (a pointer-generator): split -> (copy ids (N, length), each source token's one-word dictionary
    # translation as text, copy targets (N, steps, 1 + length): the id to write, then which positions are right)
    copy: dict = dataclasses.field(default_factory=dict)

    def inputs(self, split: str):
        """What the encoder takes."""
        x = getattr(self, split).x
        return [x, self.copy[split][0]] if self.copy else x


@dataclasses.dataclass(frozen=True)
class TranslationData:
    dates: Task
    sentences: Task
    cleaning: dict = dataclasses.field(default_factory=dict)  # freedict cleaning step -> pairs left

    def sizes(self) -> dict:
        return {"dates": self.dates.sizes(), "sentences": self.sentences.sizes()}


def _task(pairs: dict, vocabs, length: int, steps: int, embed: int, units: int, dropout: float, source: str,
          table: dict | None = None) -> Task:
    source_vocab, target_vocab = vocabs

    def encode(sources, targets) -> datasets.Split:
        y = target_vocab.encode_batch(targets, steps - 1)
        y = np.concatenate([y, np.zeros((len(y), 1), np.int32)], 1)
        y[np.arange(len(y)), (y > 0).sum(1)] = target_vocab.index[END]
        return datasets.Split(source_vocab.encode_batch(sources, length), y)

    shape = seq2seq.Shape(length, steps, len(source_vocab), len(target_vocab), embed, units, dropout, unroll=True,
                          copy=table is not None)
    splits = {s: encode(*pairs[s]) for s in ("train", "val", "test")}
    copy = {}
    for s in splits if table is not None else ():  # each English word's one-word dictionary translation
        words = [(freedict.candidates(text.tokens(e)[:length], table) + [""] * length)[:length] for e in pairs[s][0]]
        ids, targets = seq2seq.copy_arrays(words, [text.tokens(g)[:steps - 1] for g in pairs[s][1]],
                                           target_vocab.index, splits[s].y)
        copy[s] = (ids, words, targets)
    return Task(*splits.values(), source=source, pairs=pairs, vocabs=vocabs, shape=shape, copy=copy)


def load_data(cfg: Config) -> TranslationData:
    generated = dates.generate(train=cfg.train_size, val=cfg.val_size, test=cfg.test_size, seed=cfg.seed)
    date_task = _task({s: (p.sources, p.targets) for s, p in generated.items()}, vocabularies(), SOURCE_LENGTH,
                      TARGET_STEPS, cfg.embed, cfg.units, 0.0, f"dlbootcamp.worlds.dates (seed {cfg.seed})")
    date_task = dataclasses.replace(date_task, pairs={**date_task.pairs, "formats": generated["test"].formats})
    cleaned, counts = freedict.sentence_pairs()
    split = freedict.split_by_sentence(cleaned, seed=cfg.seed)
    if cfg.sentence_limit:
        split = {"train": split["train"][:cfg.sentence_limit], "val": split["val"][:cfg.sentence_limit // 5],
                 "test": split["test"][:cfg.sentence_limit // 5]}
    pairs = {s: ([p.english for p in ps], [p.german for p in ps]) for s, ps in split.items()}
    source_vocab = text.Vocabulary.build(pairs["train"][0], "token", min_count=cfg.sentence_min_count)
    german = text.Vocabulary.build(pairs["train"][1], "token", min_count=cfg.sentence_min_count)
    target_vocab = text.Vocabulary([START, END, *german.tokens[2:]], "token")
    sentence_task = _task(pairs, (source_vocab, target_vocab), SENTENCE_LENGTH, SENTENCE_STEPS, cfg.sentence_embed,
                          cfg.sentence_units, cfg.sentence_dropout, f"debian:{freedict.PACKAGE} (seed {cfg.seed})",
                          freedict.one_word_translations() if cfg.sentence_copy else None)
    return TranslationData(date_task, sentence_task, counts)


TASKS = {"": "dates", "sentence_": "sentences"}  # export-name prefix -> task


def representative_data(data: TranslationData, n: int = 200, split: str = "train", exports=None) -> dict:
    """Inputs per export. The decoder steps get what the decoding loop feeds them: recorded while the
    trained models (``exports``) decode the split, or, without them, drawn (``seq2seq.step_inputs``)."""
    rng, out = np.random.default_rng(0), {}
    for prefix, name in TASKS.items():
        task = getattr(data, name)
        m, fed = min(n, len(getattr(task, split))), None
        if exports is not None:
            fed = []
            decode({k: seq2seq.keras_predict(exports[prefix + k]) for k in ("encoder", "decoder_step")}, task, "",
                   split, m, record=fed)
        teacher = seq2seq.teacher_inputs(getattr(task, split).y[:m], task.vocabs[1].index[START])
        out[prefix + "decoder_step"] = seq2seq.step_inputs(task.shape, m, rng, recorded=fed, previous_ids=teacher)
        inputs = task.inputs(split)
        out[prefix + "encoder"] = [a[:m] for a in inputs] if task.copy else inputs[:m]
    return out


def sidecar(data: TranslationData) -> dict:
    """Vocabularies and decoding constants of both tasks: what a device needs around the graphs."""
    def constants(task: Task, prefix: str) -> dict:
        source_vocab, target_vocab = task.vocabs
        return {f"{prefix}source_vocabulary": source_vocab.to_dict(),
                f"{prefix}target_vocabulary": target_vocab.to_dict(),
                f"{prefix}source_length": task.shape.source_length, f"{prefix}target_steps": task.shape.target_steps,
                f"{prefix}start_id": target_vocab.index[START], f"{prefix}end_id": target_vocab.index[END]}

    table = freedict.one_word_translations() if data.sentences.copy else {}
    copy = {w: table[w] for w in data.sentences.vocabs[0].tokens if w in table}  # a device ships the full table
    return {**constants(data.dates, ""), **constants(data.sentences, "sentence_"), "sentence_copy_candidates": copy,
            "preprocessing": ("dates: characters -> ids with source_vocabulary; sentences: text.tokens (words and "
                              "punctuation, case kept) -> ids with sentence_source_vocabulary; padded with 0; greedy "
                              "decoding: encoder once, then decoder_step fed its previous id (start_id first) and "
                              "state until end_id; batch 1. sentence_encoder also takes copy_ids: each English token's one-word "
                              "dictionary translation (sentence_copy_candidates) as a target id (1 outside the "
                              "vocabulary, 0 none); a sentence_decoder_step id >= len(target vocabulary) writes the "
                              "candidate of source position id - len(target vocabulary)")}


# --- train ---------------------------------------------------------------------------------------

def _compile(task: Task, cfg: Config, name: str) -> keras.Model:
    model = seq2seq.build(task.shape, name=name)
    loss = (seq2seq.copy_loss(task.shape.target_size) if task.shape.copy
            else keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss=loss, weighted_metrics=[])
    return model


def _fit(model, task: Task, *, epochs: int, batch_size: int, callbacks) -> keras.callbacks.History:
    start = task.vocabs[1].index[START]

    def part(split: str):
        """Inputs, targets and weights: padding after <end> (0) and words the model can neither write
        nor copy (<unk>, 1) carry no loss - a model taught to write <unk> learns to write little else."""
        y = getattr(task, split).y
        inputs = task.inputs(split) if task.copy else [task.inputs(split)]
        target = task.copy[split][2] if task.copy else y
        weight = (y > 1) | (target[..., 1:].any(-1) if task.copy else False)
        return [*inputs, seq2seq.teacher_inputs(y, start)], target, weight.astype(np.float32)

    x, y, weight = part("train")
    return model.fit(x, y, sample_weight=weight, validation_data=part("val"), epochs=epochs, batch_size=batch_size,
                     verbose=0, callbacks=callbacks)


def train(cfg: Config, run) -> Trained:
    training.seed_everything(cfg.seed)
    data = load_data(cfg)
    run.log(f"  data: {data.sizes()}; sentences left after each cleaning step: {data.cleaning}")
    date_model = _compile(data.dates, cfg, "date_translator")
    fit = _fit(date_model, data.dates, epochs=cfg.epochs, batch_size=cfg.batch_size,
               callbacks=[*run.callbacks(), training.early_stopping("val_loss", patience=2)])
    sentence_model = _compile(data.sentences, cfg, "sentence_translator")
    exports = {**seq2seq.inference_models(data.dates.shape, date_model),
               **seq2seq.inference_models(data.sentences.shape, sentence_model, prefix="sentence_")}
    val_predict = {k: seq2seq.keras_predict(exports["sentence_" + k]) for k in ("encoder", "decoder_step")}
    best = seq2seq.KeepBest(lambda: corpus_bleu(translate(val_predict, data.sentences, "val"),
                                                data.sentences.pairs["val"][1]), cfg.sentence_patience, run.log)
    sentence_fit = _fit(sentence_model, data.sentences, epochs=cfg.sentence_epochs, batch_size=cfg.sentence_batch,
                        callbacks=[best])  # keeps the epoch with the best validation BLEU
    run.log(f"  sentences: validation BLEU by epoch {[round(b, 2) for b in best.scores]}; "
            f"kept epoch {best.best_epoch + 1}")
    predict = {name: seq2seq.keras_predict(m) for name, m in exports.items()}
    metrics = evaluate(predict, data)
    dictionary = dictionary_baseline(data.sentences, run)
    metrics.update(sentences_dictionary_bleu=dictionary["sentences_bleu"],
                   sentences_bleu_gain_over_dictionary=metrics["sentences_bleu"] - dictionary["sentences_bleu"],
                   sentences_val_bleu=best.scores[best.best_epoch])
    history = {**training.history_dict(fit), **{f"sentences_{k}": v for k, v in training.history_dict(sentence_fit).items()},
               "sentences_val_bleu": best.scores}
    notes = save_pictures(predict, data, run, dictionary["translate"])
    return Trained(exports=exports, metrics=metrics, history=history, notes=notes,
                   baselines={"dateutil parser": {"test_exact_match": float(np.mean(
                       [dates.parse_with_dateutil(s) == t for s, t in zip(*data.dates.pairs["test"])]))},
                              "word-by-word dictionary": {"sentences_bleu": dictionary["sentences_bleu"]}})


def corpus_bleu(hypotheses, references) -> float:
    import sacrebleu

    return float(sacrebleu.corpus_bleu(list(hypotheses), [list(references)]).score)


def dictionary_baseline(task: Task, run) -> dict:
    """Word-by-word lookup in the package's headwords, its four choices tuned on validation BLEU."""
    best, translate_ = freedict.tune_word_by_word(*task.pairs["val"], corpus_bleu)
    run.log(f"  dictionary baseline: {best} chosen on validation BLEU")
    return {"sentences_bleu": corpus_bleu(map(translate_, task.pairs["test"][0]), task.pairs["test"][1]),
            "translate": translate_}


# --- evaluate: greedy decoding, the loop a device runs -------------------------------------------------

def decode(predict: dict, task: Task, prefix: str, split: str, n: int | None = None, record: list | None = None):
    """Greedy decoding of a split's first ``n`` examples: ids written and attention weights."""
    inputs = [a[:n] for a in task.inputs(split)] if task.copy else task.inputs(split)[:n]
    return seq2seq.greedy_decode(predict[prefix + "encoder"], predict[prefix + "decoder_step"], inputs,
                                 start_id=task.vocabs[1].index[START], steps=task.shape.target_steps,
                                 copy_ids=task.copy[split][0][:n] if task.copy else None, record=record)


def words_written(task: Task, split: str, written: np.ndarray) -> list[list[str]]:
    """Each row's tokens before <end>; an id past the vocabulary is a copied dictionary translation."""
    vocab = task.vocabs[1]
    return [[vocab.tokens[i] if i < len(vocab) else task.copy[split][1][row][i - len(vocab)] or vocab.tokens[1]
             for i in seq2seq.until(ids, vocab.index[END])] for row, ids in enumerate(written)]


def translate(predict: dict, task: Task, split: str, prefix: str = "") -> list[str]:
    """German text of a split's sentences (``predict`` keyed encoder/decoder_step after ``prefix``)."""
    return [text.detokenize(tokens) for tokens in words_written(task, split, decode(predict, task, prefix, split)[0])]


def to_text(ids: np.ndarray) -> str:
    """The date characters written before <end>."""
    target_vocab = vocabularies()[1]
    return target_vocab.decode(seq2seq.until(ids, target_vocab.index[END]))


def evaluate(predict: dict, data: TranslationData) -> dict[str, float]:
    """Dates: exact match (every character and <end> right) and per-character accuracy on test days.
    Sentences: corpus BLEU of the German written for the test sentences against their references."""
    written, _ = decode(predict, data.dates, "", "test")
    right = written == data.dates.test.y
    german = translate(predict, data.sentences, "test", "sentence_")
    return {"test_exact_match": float(right.all(1).mean()), "test_char_accuracy": float(right[:, :-1].mean()),
            "sentences_bleu": corpus_bleu(german, data.sentences.pairs["test"][1])}


# --- pictures -------------------------------------------------------------------------------------

def _heatmap(ax, weights, sources, written, title):
    ax.imshow(weights[:len(written), :len(sources)], cmap="viridis", aspect="auto")
    ax.set_xticks(range(len(sources)), sources, fontsize=7, rotation=90 if len(sources) > 20 else 0)
    ax.set_yticks(range(len(written)), written, fontsize=7)
    ax.set_title(title, fontsize=9)


def save_pictures(predict: dict, data: TranslationData, run, dictionary, shown: int = 4) -> list[str]:
    plt = plots.pyplot()
    task, target_vocab = data.dates, vocabularies()[1]
    sources, targets = task.pairs["test"]
    written, weights = decode(predict, task, "", "test")
    # Where does the decoder look while it writes each character?
    picks = [int(np.argmax([len(s) for s in sources]))] + list(range(shown - 1))
    fig, axes = plt.subplots(1, len(picks), figsize=(4.2 * len(picks), 3.6), squeeze=False)
    for ax, i in zip(axes[0], picks):
        out = ["end" if t == END else t for t in (target_vocab.tokens[t] for t in written[i])]
        _heatmap(ax, weights[i], list(sources[i]), out, repr(sources[i]))
    fig.suptitle("Attention: which source character each output character reads")
    fig.tight_layout()
    run.save_figure(fig, "attention_heatmap")
    # Which date formats are hardest?
    right = (written == task.test.y).all(1)
    formats = np.array(task.pairs["formats"])
    names = sorted(set(formats), key=lambda f: np.mean(right[formats == f]))
    scores = [float(np.mean(right[formats == f])) for f in names]
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(names) + 1.2))
    ax.barh(names, scores, color="tab:blue")
    ax.set(xlim=(0, 1), xlabel="exact match on test days", title="Held-out exact match by source format")
    fig.tight_layout()
    run.save_figure(fig, "exact_match_by_format")
    notes = [f"hardest date format: {names[0]} ({scores[0]:.3f})"]
    notes += [f"wrong date: {sources[i]!r} -> {to_text(written[i])!r} (want {targets[i]!r})"
              for i in np.flatnonzero(~right)[:3]]
    # Sentences: attention on a real test sentence, and translations side by side.
    task, (source_vocab, target_vocab) = data.sentences, data.sentences.vocabs
    english, german = task.pairs["test"]
    written, weights = decode(predict, task, "sentence_", "test")
    model_tokens = words_written(task, "test", written)
    model = [text.detokenize(tokens) for tokens in model_tokens]
    i = int(np.argmax([len(text.tokens(s)) if len(text.tokens(s)) <= 8 else 0 for s in english]))
    fig, ax = plt.subplots(figsize=(6, 5))
    tokens = [t if t in source_vocab else f"{t}?" for t in text.tokens(english[i])][:task.shape.source_length]
    copied = [t >= len(target_vocab) for t in seq2seq.until(written[i], target_vocab.index[END])]
    out = [f"{w} (copied)" if c else w for w, c in zip(model_tokens[i], copied)]
    _heatmap(ax, weights[i], tokens, out + ["<end>"], f"{english[i]}\n(reference: {german[i]})")
    ax.set(xlabel="English (? = not in the vocabulary)", ylabel="German written")
    fig.tight_layout()
    run.save_figure(fig, "sentence_attention")
    notes += [f"sentence: {e!r} -> model {m!r} | dictionary {dictionary(e)!r} | reference {g!r}"
              for e, m, g in list(zip(english, model, german))[:6]]
    return notes
