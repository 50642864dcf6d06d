"""Tokenisers and vocabularies that run outside the model graph.

String operations do not belong in a TFLite or ONNX model: the exported graphs take integer
token ids, and the text -> ids step runs in the host program. That step is this module, and
it needs nothing but the standard library and NumPy, so it can be copied next to
``device_bench.py`` onto a phone or a board.

A :class:`Vocabulary` is written into every artifact's sidecar as JSON
(``Vocabulary.to_dict()``); on the device::

    import json, numpy as np
    from text import Vocabulary                       # this file, copied
    vocab = Vocabulary.from_dict(json.load(open("model.tflite.json"))["vocabulary"])
    ids = vocab.encode("In the beginning")            # int32 ids, ready to feed
    print(vocab.decode(ids))

Three levels: ``"word"`` (lower-cased words, ``WORD_PATTERN``), ``"token"`` (words in any
alphabet and single punctuation marks, case kept, ``TOKEN_PATTERN``: "Wie wär's?" -> Wie, wär,
', s, ?) and ``"char"`` (every character, case kept). Id 0 is padding and id 1 stands for anything not in the vocabulary.
"""

from __future__ import annotations

import collections
import re

import numpy as np

SCHEMA = "dlbootcamp.vocabulary/1"
WORD_PATTERN = r"[a-z]+(?:'[a-z]+)?"
TOKEN_PATTERN = r"\w+|[^\w\s]"
PAD, UNKNOWN = "<pad>", "<unk>"
_LEVELS = ("word", "token", "char")


def words(text: str) -> list[str]:
    """Lower-cased words: letters with an optional apostrophe part ("lord's")."""
    return re.findall(WORD_PATTERN, text.lower())


def tokens(text: str) -> list[str]:
    """Words (any alphabet, case kept) and punctuation marks, one token each."""
    return re.findall(TOKEN_PATTERN, text)


def detokenize(tokens_: list[str]) -> str:
    """Tokens back to text: no space before . , ! ? ; : or around an apostrophe ("wär ' s" -> "wär's")."""
    text = " ".join(tokens_)
    text = re.sub(r" ([.,!?;:%)])", r"\1", text)
    return re.sub(r"(\w) ' (\w)", r"\1'\2", text)


def sentences(text: str) -> list[str]:
    """Sentences: text split after ``.``, ``!`` or ``?`` followed by white space."""
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]


class Vocabulary:
    """Tokens <-> int32 ids. ``tokens[0]`` is padding, ``tokens[1]`` the unknown token."""

    def __init__(self, tokens, level: str = "word"):
        if level not in _LEVELS:
            raise ValueError(f"Invalid vocabulary level {level!r}. Expected one of {_LEVELS}.")
        tokens = list(tokens)
        if tokens[:2] != [PAD, UNKNOWN]:
            tokens = [PAD, UNKNOWN] + [t for t in tokens if t not in (PAD, UNKNOWN)]
        self.tokens = tokens
        self.level = level
        self.index = {t: i for i, t in enumerate(tokens)}

    @classmethod
    def build(cls, texts, level: str = "word", *, max_size: int | None = None, min_count: int = 1) -> "Vocabulary":
        """The most frequent tokens of ``texts`` (ties broken alphabetically), at most ``max_size`` in all."""
        probe = cls([], level)
        counts = collections.Counter(t for text in texts for t in probe.tokenize(text))
        ranked = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        if max_size:
            ranked = ranked[:max_size - 2]
        return cls(ranked, level)

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.index and self.index[token] > 1

    def tokenize(self, text: str) -> list[str]:
        if self.level == "word":
            return words(text)
        return tokens(text) if self.level == "token" else list(text)

    def encode(self, text: str) -> np.ndarray:
        """int32 ids of a text's tokens; unknown tokens become 1."""
        return np.array([self.index.get(t, 1) for t in self.tokenize(text)], dtype=np.int32)

    def encode_batch(self, texts, length: int) -> np.ndarray:
        """(len(texts), length) int32 ids, cut to ``length`` and padded with 0 at the end."""
        out = np.zeros((len(texts), length), dtype=np.int32)
        for row, text in enumerate(texts):
            ids = self.encode(text)[:length]
            out[row, :len(ids)] = ids
        return out

    def decode(self, ids) -> str:
        """Text from ids; padding is dropped, words are joined by spaces."""
        parts = [self.tokens[int(i)] for i in np.asarray(ids).ravel() if int(i) != 0]
        return (" " if self.level == "word" else "").join(parts)

    def to_dict(self) -> dict:
        """The JSON form written into artifact sidecars."""
        return {"schema": SCHEMA, "level": self.level, "lowercase": self.level == "word",
                "pattern": {"word": WORD_PATTERN, "token": TOKEN_PATTERN}.get(self.level),
                "pad_id": 0, "unknown_id": 1, "tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, d: dict) -> "Vocabulary":
        if not isinstance(d, dict) or d.get("schema") != SCHEMA:
            found = d.get("schema") if isinstance(d, dict) else type(d).__name__
            raise ValueError(f"Not a vocabulary: schema {found!r}; expected {SCHEMA!r} "
                             f"(the 'vocabulary' entry of an artifact's sidecar).")
        return cls(d["tokens"], d["level"])
