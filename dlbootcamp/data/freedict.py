"""English -> German sentence pairs and a headword dictionary, offline: FreeDict eng-deu.

Debian's ``dict-freedict-eng-deu`` ships the Ding dictionary (TU Chemnitz, GPL) in dictd format:
``/usr/share/dictd/freedict-eng-deu.dict.dz`` (dictzip, which gzip reads; 76 MB of text) and its
``.index`` (one ``headword<TAB>offset<TAB>length`` line per headword, numbers in dictd's base64).
An entry is a headword line, a line of German translations, then usage examples::

    won /wˈʌn/
    gewonnen, gesiegt
          "I/he/she won"  - ich/er/sie gewann, ich/er/sie siegte
          "They won by three goals to one."  - Sie haben 3:1 gewonnen.

The examples are a parallel corpus: 63,306 example lines, 55,241 distinct pairs, most of them
phrases ("win a battle"), some 7k whole sentences of 3-10 words. They need cleaning:
alternatives are written into the text ("the belle of the ball/party", "Er sitzt auf dem / am
Klo."), several German translations are joined with ", " ("Es scheint so., So scheint es
jedenfalls."), so a German sentence with a comma of its own can arrive cut after it, and some
carry placeholders (sb., sth., jdn.) or notes in brackets. :func:`sentence_pairs` applies the
rules below one by one and counts what each removes; :func:`split_by_sentence` holds out whole
English sentences.

A copy of the ``.dict.dz`` file saved as ``freedict-eng-deu.dict.dz`` in the dataset cache
(:func:`dlbootcamp.data.cache_dir`) is used first, for machines without the Debian package.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import gzip
import pathlib
import re

import numpy as np

from dlbootcamp import data
from dlbootcamp.errors import DataUnavailable

PACKAGE = "dict-freedict-eng-deu"
DICT_FILE = pathlib.Path("/usr/share/dictd/freedict-eng-deu.dict.dz")
INSTALL_HINT = f"apt-get install {PACKAGE}"
_EXAMPLE = re.compile(r'^ {6}"(.*)"  - (.*)$', re.M)
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# Typographic marks -> plain ones, so "„bevor“" and '"bevor"' are the same token.
_NORMALISE = str.maketrans({"„": '"', "“": '"', "”": '"', "‚": "'", "‘": "'", "’": "'", "–": "-", "—": "-",
                            "…": "...", "\u00a0": " "})
_PLACEHOLDERS = re.compile(r"\b(sb|sth|etw|jd[nmrs]?|jds)\.(?=\W|$)", re.I)
_END = re.compile(r"[.!?]['\"]?$")
MAX_PHRASE = 3  # headwords of at most this many words are read


@dataclasses.dataclass(frozen=True)
class Pair:
    english: str
    german: str


# --- reading the package ------------------------------------------------------------------------

def dict_path() -> pathlib.Path:
    """The dictzip file: the cached copy first, then the Debian package's; DataUnavailable if neither."""
    cached = data.cache_dir() / DICT_FILE.name
    for path in (cached, DICT_FILE):
        if path.exists():
            return path
    raise DataUnavailable(
        f"The FreeDict English-German dictionary is not on this machine: no {DICT_FILE} and no copy at "
        f"{cached}. Install the Debian package with `{INSTALL_HINT}`.")


def available() -> bool:
    try:
        dict_path()
    except DataUnavailable:
        return False
    return True


@functools.lru_cache(maxsize=1)
def _raw(path: str) -> bytes:
    return gzip.open(path).read()  # dictzip is gzip with a random-access table in its header


def example_pairs(raw: str | None = None) -> list[tuple[str, str]]:
    """Every example line of the dictionary as (English, German), in file order, duplicates kept."""
    raw = _raw(str(dict_path())).decode("utf-8") if raw is None else raw
    return _EXAMPLE.findall(raw)


# --- cleaning -----------------------------------------------------------------------------------

def normalise(text: str) -> str:
    """Plain quotes, dashes and spaces."""
    return re.sub(r"\s+", " ", text.translate(_NORMALISE)).strip()


def first_german(german: str) -> str:
    """The first of several translations joined by ", ": a sentence ends at its own end mark
    ("Es scheint so., So scheint es jedenfalls." -> "Es scheint so.")."""
    return re.split(r"(?<=[.!?]['\"]),\s+|(?<=[.!?]),\s+", german, maxsplit=1)[0]


def resolve_slashes(text: str) -> str | None:
    """Word alternatives "ball/party" -> "ball" (the first); None when a spaced " / " leaves
    the extent of the alternative unknown ("auf dem / am Klo"). Numbers such as 3/4 stay."""
    if " /" in text or "/ " in text:
        return None
    return re.sub(r"(?<![\d/])([^\W\d_]+(?:[-'][^\W\d_]+)*)(?:/[^\s/.,!?;:\"]+)+", r"\1", text)


def words(text: str) -> int:
    return len(text.split())


# Each rule: a name and a function (english, german) -> (english, german) or None (the pair goes).
RULES = (
    ("an English sentence (capital first, ends with . ! or ?)",
     lambda e, g: (e, g) if re.match(r"^[\"']?[A-Z]", e) and _END.search(e) else None),
    ("no quoted speech ('Get back!' she hissed.)",
     lambda e, g: None if re.match(r"^['\"]", normalise(e)) else (e, g)),
    ("3-10 English words", lambda e, g: (e, g) if 3 <= words(e) <= 10 else None),
    ("quotes, dashes normalised; the first German translation",
     lambda e, g: (normalise(e), first_german(normalise(g)))),
    ("German ends as a sentence (not cut at a comma)", lambda e, g: (e, g) if _END.search(g) else None),
    ("no placeholders (sb., sth., jdn.)",
     lambda e, g: None if _PLACEHOLDERS.search(e) or _PLACEHOLDERS.search(g) else (e, g)),
    ("no bracketed notes or optional words", lambda e, g: None if re.search(r"[()\[\]{}<>]", e + g) else (e, g)),
    ("word alternatives a/b resolved to the first; spaced ' / ' dropped",
     lambda e, g: (e2, g2) if (e2 := resolve_slashes(e)) and (g2 := resolve_slashes(g)) else None),
    ("German at most twice as many words as English, at least half",
     lambda e, g: (e, g) if 0.5 * words(e) <= words(g) <= 2 * words(e) + 1 else None),
)


def clean(pairs, rules=RULES) -> tuple[list[Pair], dict[str, int]]:
    """Apply ``rules`` in order, then keep one pair per English sentence (lower-cased; the first in
    sorted order) and per German sentence. Returns the pairs and how many survive each step."""
    counts = {"example lines": len(pairs)}
    kept = sorted(set(pairs))
    counts["distinct pairs"] = len(kept)
    for name, rule in rules:
        kept = [p for p in (rule(e, g) for e, g in kept) if p is not None]
        counts[name] = len(kept)
    seen_en, seen_de, out = set(), set(), []
    for e, g in sorted(kept):
        if e.lower() in seen_en or g.lower() in seen_de:
            continue
        seen_en.add(e.lower())
        seen_de.add(g.lower())
        out.append(Pair(e, g))
    counts["one pair per English and per German sentence"] = len(out)
    return out, counts


@functools.lru_cache(maxsize=2)
def _sentence_pairs(path: str) -> tuple[tuple[Pair, ...], tuple[tuple[str, int], ...]]:
    pairs, counts = clean(example_pairs(_raw(path).decode("utf-8")))
    return tuple(pairs), tuple(counts.items())


def sentence_pairs() -> tuple[list[Pair], dict[str, int]]:
    """The cleaned English -> German sentence pairs (6,574) and how many survive each cleaning step."""
    pairs, counts = _sentence_pairs(str(dict_path()))
    return list(pairs), dict(counts)


def split_by_sentence(pairs, *, seed: int, val: float = 0.1, test: float = 0.1) -> dict[str, list[Pair]]:
    """Seeded train/val/test by English sentence: a lower-cased English sentence lives in one split."""
    groups = collections.defaultdict(list)
    for p in pairs:
        groups[p.english.lower()].append(p)
    keys = sorted(groups)
    parts = data.split_indices(len(keys), fractions=(val, test), seed=seed)
    return {name: [p for i in idx for p in groups[keys[i]]] for name, idx in zip(("train", "val", "test"), parts)}


# --- the headword dictionary --------------------------------------------------------------------

def _b64(s: str) -> int:
    n = 0
    for c in s:
        n = n * 64 + _B64.index(c)
    return n


def clean_translation(line: str) -> str:
    """The first German translation on an entry's second line, without annotations:
    "Hund <masc> [zool.], Köter" -> "Hund"; "etw. gewinnen, erlangen <v, trans>" -> "gewinnen"."""
    line = re.sub(r"<[^>]*>|\[[^\]]*\]|\{[^}]*\}|\([^)]*\)", " ", line)
    for part in line.split(","):
        part = re.sub(r"\s+", " ", _PLACEHOLDERS.sub(" ", part)).strip(" ;")
        part = re.sub(r"^sich ", "", part)
        if part and "/" not in part:
            return normalise(part)
    return ""


def _key(head: str) -> str:
    return re.sub(r"[^\w ]", "", head.lower()).strip()


@functools.lru_cache(maxsize=2)
def _headwords(path: str) -> dict[str, tuple[tuple[str, int], ...]]:
    raw = _raw(path)
    index = pathlib.Path(path).with_name(pathlib.Path(path).name.removesuffix(".dict.dz") + ".index")
    if not index.exists():
        index = DICT_FILE.with_suffix("").with_suffix(".index")
    senses = collections.defaultdict(list)
    for line in index.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) != 3 or not parts[0] or parts[0][0] == " " or parts[0].count(" ") >= MAX_PHRASE:
            continue
        entry = raw[_b64(parts[1]):_b64(parts[1]) + _b64(parts[2])].decode("utf-8").split("\n")
        if len(entry) < 2:
            continue
        head = re.split(r" /| <| \(", entry[0], maxsplit=1)[0]
        head = re.sub(r"\s+", " ", _PLACEHOLDERS.sub(" ", head)).strip()
        translation = clean_translation(entry[1])
        if translation and _key(head) == _key(parts[0]):  # the entry's own headword, not a form it lists
            senses[head].append((translation, sum(1 for e in entry if e.startswith('      "'))))
    return {k: tuple(v) for k, v in senses.items()}


def headword_senses() -> dict[str, tuple[tuple[str, int], ...]]:
    """English headword, case kept (a word or a phrase; "sth."/"sb." removed) -> its senses in index
    order, each as (first German translation, how many examples the entry has)."""
    return _headwords(str(dict_path()))


def dictionary(sense: str = "first") -> dict[str, str]:
    """English headword -> one German word: its ``"first"`` sense, or the sense with the ``"most examples"``
    (the dictionary's own hint of the common meaning: "dog" -> Hund, not Bandhaken)."""
    if sense not in ("first", "most examples"):
        raise ValueError(f"Invalid sense choice {sense!r}. Expected 'first' or 'most examples'.")
    pick = (lambda s: s[0]) if sense == "first" else (lambda s: s[int(np.argmax([n for _, n in s]))])
    return {head: pick(s)[0] for head, s in headword_senses().items()}


def word_by_word(sentence: str, table: dict[str, str], *, longest: int = 1, lowercase: bool = True,
                 unknown: str = "copy") -> str:
    """Translate by looking words up in ``table``, left to right: the longest run of up to ``longest``
    words that is a headword (exact case first, then lower-cased when ``lowercase``); a word with no
    entry is kept as it is (``unknown="copy"``: names, numbers) or left out (``"drop"``)."""
    if unknown not in ("copy", "drop"):
        raise ValueError(f"Invalid unknown-word rule {unknown!r}. Expected 'copy' or 'drop'.")
    tokens = re.findall(r"\w+(?:'\w+)*|[^\w\s]", sentence)
    out, i = [], 0
    while i < len(tokens):
        for n in range(min(longest, len(tokens) - i), 0, -1):
            phrase = " ".join(tokens[i:i + n])
            found = table.get(phrase) or (table.get(phrase.lower()) if lowercase else None)
            if found:
                out.append(found)
                i += n
                break
        else:
            if unknown == "copy" or not re.match(r"\w", tokens[i]):
                out.append(tokens[i])
            i += 1
    text = re.sub(r" ([.,!?;:])", r"\1", " ".join(out))
    return text[:1].upper() + text[1:]


def one_word_translations(sense: str = "most examples") -> dict[str, str]:
    """English word -> its German translation where that is one word ("dog" -> "Hund"; "is" ->
    "befindet sich" is left out): the candidates a translator may copy into its output."""
    return {k: v for k, v in dictionary(sense).items() if " " not in k and re.fullmatch(r"\w+", v)}


def candidates(tokens, table: dict[str, str]) -> list[str]:
    """Per token, its one-word translation (exact case first, then lower-cased), or "" for none."""
    return [table.get(t) or table.get(t.lower()) or "" if re.match(r"\w", t) else "" for t in tokens]


def tune_word_by_word(sources, references, score) -> tuple[dict, object]:
    """Word-by-word lookup tuned fairly: every combination of sense (first / most examples), longest
    headword (1-3 words), lower-casing and unknown-word rule, scored by ``score(translations, references)``
    on the sentences given (validation). Returns the best settings and a function sentence -> German."""
    tables = {sense: dictionary(sense) for sense in ("first", "most examples")}
    grid = [dict(sense=s, longest=n, lowercase=c, unknown=u) for s in tables for n in range(1, MAX_PHRASE + 1)
            for c in (True, False) for u in ("copy", "drop")]

    def translator(choice: dict):
        options = {k: v for k, v in choice.items() if k != "sense"}
        return lambda sentence: word_by_word(sentence, tables[choice["sense"]], **options)

    scores = [score([translator(choice)(s) for s in sources], references) for choice in grid]
    best = grid[int(np.argmax(scores))]
    return {**best, "validation_score": max(scores)}, translator(best)
