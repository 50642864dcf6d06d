"""An offline English corpus: the King James Bible (1611/1769, public domain).

Debian ships it as two packages: ``bible-kjv-text`` holds the compressed text
(``/usr/lib/bible.data``) and ``bible-kjv`` the ``bible`` command that reads it. With
pretty-printing switched off (``-f``), ``bible "gen1:1-rev22:21"`` prints all 31,102 verses,
one a line, as ``Ge1:1 In the beginning God created the heaven and the earth.`` - about
4.3 MB of English (790k words, 63 distinct characters). A copy of that output saved as
``kjv.txt`` in the dataset cache (see :func:`dlbootcamp.data.cache_dir`) is used first,
for machines without the Debian packages.

Language lessons split the corpus by whole chapter with a seed (:func:`split_chapters`), so
no verse of a validation or test chapter is ever trained on.

The Bible also summarises itself: Stephen retells Genesis and Exodus in Acts 7, Hebrews 11
lists the deeds of the patriarchs, Psalms 78, 105 and 106 sing the Exodus in a few lines each,
Deuteronomy 1 is Moses' own summary of the spies' story. :data:`RETELLINGS` pairs a narrative
passage with such later, much shorter retellings, written by other authors: human-written
reference summaries for extractive summarisation, offline. Too few to train on:
:func:`mine_retellings` finds hundreds more, noisier, across the rest of the Bible, never touching a
chapter that :data:`RETELLINGS` or :data:`RETELLINGS_DEV` names (:func:`held_out_chapters`).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import pathlib
import re
import shutil
import subprocess

from dlbootcamp import data
from dlbootcamp.errors import DataUnavailable

BIBLE_COMMAND = "bible"
BIBLE_DATA = pathlib.Path("/usr/lib/bible.data")
INSTALL_HINT = "apt-get install bible-kjv bible-kjv-text"
_VERSE = re.compile(r"^(\d?[A-Za-z]+)(\d+):(\d+) (.*)$")
_REF = re.compile(r"^(\d?[A-Za-z]+)(\d+)(?::(\d+)(?:-(\d+))?)?$")


@dataclasses.dataclass(frozen=True)
class Chapter:
    book: str  # the abbreviation the bible command prints: "Ge", "Psa", "1Cor"
    number: int
    verses: tuple[str, ...]

    @property
    def ref(self) -> str:
        return f"{self.book}{self.number}"

    @property
    def text(self) -> str:
        return " ".join(self.verses)


@dataclasses.dataclass(frozen=True)
class CorpusSplits:
    """Whole chapters, seeded: validation drives early stopping, test scores once."""

    train: tuple[Chapter, ...]
    val: tuple[Chapter, ...]
    test: tuple[Chapter, ...]
    source: str = ""

    def sizes(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in ("train", "val", "test")}

    def text(self, split: str) -> str:
        """All verses of a split, one a line."""
        return "\n".join(v for ch in getattr(self, split) for v in ch.verses)

# (narrative passages, their retellings elsewhere in the corpus); references as `passage` reads them.
RETELLINGS = (
    (("Ge1",), ("Exo20:11", "Heb11:3")),  # creation
    (("Ge4",), ("Heb11:4", "1Jn3:12")),  # Cain and Abel
    (("Ge7",), ("Heb11:7", "1Pet3:20", "2Pet2:5")),  # the flood
    (("Ge12",), ("Acts7:2-5", "Heb11:8-10")),  # Abram called out of his country
    (("Ge19",), ("2Pet2:6-8", "Jude1:7")),  # Sodom and Gomorrah, Lot delivered
    (("Ge22",), ("Heb11:17-19",)),  # Abraham offers Isaac
    (("Ge27",), ("Heb11:20",)),  # Isaac blesses Jacob and Esau
    (("Ge37",), ("Acts7:9", "Psa105:17-18")),  # Joseph sold by his brothers
    (("Ge41",), ("Acts7:10", "Psa105:19-22")),  # Joseph made ruler over Egypt
    (("Ge42",), ("Acts7:11-12",)),  # famine; Jacob sends his sons for corn
    (("Ge45",), ("Acts7:13-14",)),  # Joseph makes himself known, sends for Jacob
    (("Ge48",), ("Heb11:21",)),  # Jacob blesses Joseph's sons
    (("Ge50",), ("Heb11:22",)),  # Joseph's death and his bones
    (("Exo1",), ("Acts7:17-19", "Psa105:24-25")),  # Israel multiplies and is oppressed
    (("Exo2",), ("Acts7:20-29", "Heb11:23-24")),  # Moses born, raised by Pharaoh's daughter, flees
    (("Exo3",), ("Acts7:30-34",)),  # the burning bush
    (("Exo7",), ("Psa105:29", "Psa78:44")),  # waters turned to blood
    (("Exo8",), ("Psa105:30-31",)),  # frogs, lice, flies
    (("Exo10",), ("Psa105:28", "Psa105:34-35", "Psa78:46")),  # locusts and darkness
    (("Exo12",), ("Heb11:28", "Psa78:51")),  # passover, the firstborn
    (("Exo14",), ("Psa106:7-12", "Heb11:29", "Psa136:13-15")),  # the Red sea
    (("Exo16",), ("Psa78:23-25", "John6:31")),  # manna
    (("Exo17",), ("Psa78:15-16", "Psa105:41")),  # water from the rock
    (("Exo19",), ("Heb12:18-21",)),  # the mountain that burned with fire
    (("Exo32",), ("Acts7:39-41", "Psa106:19-23")),  # the golden calf
    (("Num11",), ("Psa78:26-31", "Psa106:14-15")),  # quails and the plague
    (("Num13", "Num14"), ("Deu1:22-36",)),  # the twelve spies, the people refuse to go up
    (("Num16",), ("Psa106:16-18", "Jude1:11")),  # Korah, Dathan and Abiram
    (("Num20",), ("Psa106:32-33",)),  # the waters of strife
    (("Num25",), ("Psa106:28-31", "1Cor10:8")),  # Baal-peor, Phinehas, the plague
    (("Josh2",), ("Heb11:31", "Jas2:25")),  # Rahab and the spies
    (("Josh6",), ("Heb11:30",)),  # the walls of Jericho
    (("1Ki10",), ("Mat12:42",)),  # the queen of Sheba
    (("1Ki17", "1Ki18"), ("Jas5:17-18", "Luke4:25-26")),  # Elijah, the drought and the rain
    (("Jonah3",), ("Mat12:41",)),  # Nineveh repents
    (("Mat4:1-11",), ("Mark1:12-13",)),  # the temptation in the wilderness
)

# More (passage, retellings) pairs, kept apart to choose a summariser's settings on, never to score it.
RETELLINGS_DEV = (
    (("Ge3",), ("Rom5:12", "1Tim2:13-14")),  # the fall
    (("Ge15",), ("Rom4:3",)),  # Abram believed
    (("Ge21",), ("Heb11:11", "Gal4:22-23")),  # Isaac born, the bondwoman's son
    (("Ge25",), ("Heb12:16", "Rom9:10-12")),  # Esau sells his birthright
    (("Ge32",), ("Hos12:3-4",)),  # Jacob wrestles with the angel
    (("Exo13",), ("Neh9:12",)),  # the pillar of cloud and of fire
    (("Exo20",), ("Neh9:13-14",)),  # the law given on Sinai
    (("Num21",), ("Psa136:17-22", "John3:14")),  # the serpent, Sihon and Og
    (("Num22",), ("2Pet2:15-16",)),  # Balaam and his ass
    (("1Sm8",), ("Acts13:21", "Hos13:11")),  # the people ask for a king
    (("1Sm16",), ("Acts13:22", "Psa78:70-71")),  # David chosen
    (("2Ki5",), ("Luke4:27",)),  # Naaman cleansed
    (("Dan6",), ("Heb11:33",)),  # the lions' den
    (("Acts9",), ("Acts26:12-15",)),  # Saul on the road to Damascus
    (("Acts10",), ("Acts15:7-9",)),  # Peter and Cornelius
    (("Ge2",), ("Mat19:4-5", "1Cor15:45")),  # Adam made, the woman from his side
    (("Ge5",), ("Heb11:5",)),  # Enoch translated
    (("Ge9",), ("Isa54:9",)),  # no more flood: the covenant with Noah
    (("Ge14",), ("Heb7:1-2",)),  # Melchizedek meets Abram after the slaughter of the kings
    (("Ge17",), ("Rom4:11", "Acts7:8")),  # the covenant of circumcision
    (("Ge18",), ("Rom9:9", "Heb13:2")),  # three strangers, Sarah shall have a son
    (("Ge29",), ("Hos12:12",)),  # Jacob serves for a wife
    (("Ge46",), ("Acts7:15", "Psa105:23")),  # Jacob goes down into Egypt
    (("Exo9",), ("Psa105:32-33", "Psa78:47-48")),  # murrain, boils, hail
    (("Exo24",), ("Heb9:19-20",)),  # the blood of the covenant
    (("Exo34",), ("2Cor3:7", "2Cor3:13")),  # Moses' face shone, the veil
    (("Lev16",), ("Heb9:7",)),  # the high priest enters once a year
    (("Num12",), ("Deu24:9",)),  # Miriam
    (("Num17",), ("Heb9:4",)),  # Aaron's rod that budded
    (("Josh3",), ("Psa114:3",)),  # Jordan driven back
    (("Josh7",), ("1Chr2:7",)),  # Achan, the accursed thing
    (("Josh10",), ("Hab3:11",)),  # sun and moon stood still
    (("1Sm4",), ("Psa78:60-64",)),  # the ark taken, Shiloh forsaken
    (("1Sm21",), ("Mat12:3-4", "Mark2:25-26")),  # David eats the shewbread
    (("1Sm31",), ("1Chr10:13-14",)),  # Saul dies
    (("2Sm7",), ("Psa89:3-4", "Acts2:30")),  # the promise to David's seed
    (("1Ki11",), ("Neh13:26",)),  # outlandish women turn Solomon's heart
    (("1Ki19",), ("Rom11:2-4",)),  # Elijah alone; seven thousand kept
    (("2Ki17",), ("2Ki18:9-12",)),  # Samaria taken, Israel carried away
    (("2Ki25",), ("2Chr36:17-20",)),  # Jerusalem burnt, the people to Babylon
    (("Dan3",), ("Heb11:34",)),  # the fiery furnace
    (("Jonah1", "Jonah2"), ("Mat12:40",)),  # three days in the whale's belly
    (("Luke23",), ("Luke24:19-20",)),  # Jesus condemned and crucified
    (("John11",), ("John12:17",)),  # Lazarus raised
)


# --- reading the text -------------------------------------------------------------------------

def parse(lines) -> tuple[Chapter, ...]:
    """Chapters from ``Book C:V text`` lines, in the order they come."""
    chapters: list[Chapter] = []
    key, verses = None, []
    for line in lines:
        m = _VERSE.match(line.strip())
        if not m:
            continue
        if (m[1], int(m[2])) != key:
            if key:
                chapters.append(Chapter(key[0], key[1], tuple(verses)))
            key, verses = (m[1], int(m[2])), []
        verses.append(m[4])
    if key:
        chapters.append(Chapter(key[0], key[1], tuple(verses)))
    return tuple(chapters)


@functools.lru_cache(maxsize=2)
def _read(source: str) -> tuple[Chapter, ...]:
    if source.startswith("debian:"):
        out = subprocess.run([BIBLE_COMMAND, "-f", "gen1:1-rev22:21"], capture_output=True, text=True,
                             check=True, timeout=120).stdout
        return parse(out.splitlines())
    return parse(pathlib.Path(source.removeprefix("cache:")).read_text(encoding="utf-8").splitlines())


def source() -> str:
    """Where the corpus would be read from (``cache:PATH`` or ``debian:bible-kjv``); files only, nothing read."""
    cached = data.cache_dir() / "kjv.txt"
    if cached.exists():
        return f"cache:{cached}"
    if shutil.which(BIBLE_COMMAND) and BIBLE_DATA.exists():
        return "debian:bible-kjv"
    raise DataUnavailable(
        f"The King James Bible corpus is not on this machine: no `{BIBLE_COMMAND}` command with "
        f"{BIBLE_DATA} and no copy at {cached}. Install it with `{INSTALL_HINT}`.")


def missing() -> str | None:
    """The install command when the corpus is not on this machine; None when it is (files only)."""
    try:
        source()
    except DataUnavailable:
        return INSTALL_HINT
    return None


def kjv_chapters() -> tuple[tuple[Chapter, ...], str]:
    """All 1,189 chapters and the name of the source that gave them."""
    src = source()
    return _read(src), src


def available() -> bool:
    try:
        kjv_chapters()
    except DataUnavailable:
        return False
    return True


# --- splits and passages ----------------------------------------------------------------------

def split_chapters(chapters, *, seed: int, val: float = 0.1, test: float = 0.1) -> tuple[tuple, tuple, tuple]:
    """Seeded train/val/test by whole chapter, each part in canonical order."""
    tr, va, te = data.split_indices(len(chapters), fractions=(val, test), seed=seed)
    return tuple(tuple(chapters[i] for i in part) for part in (tr, va, te))


def kjv(*, seed: int = 0, val: float = 0.1, test: float = 0.1) -> CorpusSplits:
    """The KJV, split by chapter with ``seed``: ~80% train, 10% validation, 10% test."""
    chapters, source = kjv_chapters()
    return CorpusSplits(*split_chapters(chapters, seed=seed, val=val, test=test), source=source)


def passage(chapters, ref: str) -> tuple[str, ...]:
    """The verses a reference names: ``"Acts7"`` (a chapter) or ``"Acts7:9-16"`` / ``"Heb11:4"``."""
    m = _REF.match(ref.replace(" ", ""))
    if not m:
        raise ValueError(f"Invalid passage reference {ref!r}. Expected BookC or BookC:V or BookC:V-W, "
                         f"e.g. 'Acts7:9-16'.")
    found = [c for c in chapters if c.book.lower() == m[1].lower() and c.number == int(m[2])]
    if not found:
        raise ValueError(f"Passage {ref!r} names no chapter of the corpus; books are written as the `bible` "
                         f"command prints them (Ge, Exo, Psa, Acts, 1Cor...).")
    verses = found[0].verses
    if m[3] is None:
        return verses
    first, last = int(m[3]), int(m[4] or m[3])
    return verses[first - 1:last]


def held_out_chapters() -> set[str]:
    """Every chapter that a dev or test retelling names, as document or as reference: never trained on."""
    return {ref.split(":")[0] for docs, refs in RETELLINGS + RETELLINGS_DEV for ref in docs + refs}


def mine_retellings(chapters, *, min_similarity: float, max_similarity: float = 1.0, min_refs: int = 2,
                    max_refs: int = 8) -> list[tuple[str, list[str], list[str], list[str]]]:
    """(chapter ref, its sentences, verses of *other books* that retell it, their refs), held-in chapters only.

    Each verse is compared (TF-IDF cosine, English stop words out) with every chapter of the other
    books; a verse retells the chapter it is most similar to when that similarity reaches
    ``min_similarity``. A chapter with at least ``min_refs`` such verses becomes a training document,
    its ``max_refs`` most similar verses the reference. Noisy (a shared formula also matches), but
    it is the same phenomenon as the test set - which sentences of a passage are told again
    elsewhere - on hundreds of chapters instead of 80.
    """
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    from dlbootcamp.text import sentences

    held = held_out_chapters()
    kept = [c for c in chapters if c.ref not in held]
    verses = [(ci, v, f"{c.ref}:{k + 1}") for ci, c in enumerate(kept) for k, v in enumerate(c.verses)]
    tfidf = TfidfVectorizer(stop_words="english", sublinear_tf=True, min_df=2).fit([c.text for c in kept])
    sims = (tfidf.transform([v for _, v, _ in verses]) @ tfidf.transform([c.text for c in kept]).T).toarray()
    books = np.array([c.book for c in kept])
    sims[books[[ci for ci, _, _ in verses]][:, None] == books[None, :]] = 0  # retold in another book only
    best, best_sim = sims.argmax(axis=1), sims.max(axis=1)
    found = collections.defaultdict(list)
    for k in np.flatnonzero((best_sim >= min_similarity) & (best_sim < max_similarity)):
        found[int(best[k])].append((-float(best_sim[k]), k))
    mined = []
    for ci in sorted(found):
        if len(found[ci]) >= min_refs:
            refs = sorted(k for _, k in sorted(found[ci])[:max_refs])
            mined.append((kept[ci].ref, sentences(kept[ci].text), [verses[k][1] for k in refs],
                          [verses[k][2] for k in refs]))
    return mined
