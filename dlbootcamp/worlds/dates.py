"""Dates as people write them, paired with the one form a machine wants.

"21 November 2026", "nov 21, 2026", "Sat 21.11.26" and "the 21st of November, 2026" all
mean ``2026-11-21``. Rewriting one into the other is a tiny translation task: a sentence in
a loose human language goes in, a sentence in a strict one comes out, and a model has to
read the whole input (where is the month? is the year two digits?) before it writes.

The generator is pure Python and seeded. Dates run from 1950-01-01 to 2049-12-31; two-digit
years follow the usual pivot (50-99 -> 19xx, 00-49 -> 20xx), and numeric dates are always
day-first (as in most of Europe), so "03/04/2026" has exactly one reading. The held-out
split is *by calendar day*: a date in the test split never appears in training, in any
format, so a model has to compose day, month and year rather than remember dates.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import random
import string
from typing import Callable

FIRST_DAY = _dt.date(1950, 1, 1)
LAST_DAY = _dt.date(2049, 12, 31)
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def ordinal(n: int) -> str:
    """1 -> '1st', 2 -> '2nd', 11 -> '11th', 23 -> '23rd'."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def iso(date: _dt.date) -> str:
    """The target language: '2026-11-21'."""
    return date.isoformat()


# --- the source language: many ways to write one day ---------------------------------------------

def _month(d: _dt.date) -> str:
    return MONTHS[d.month - 1]


def _mon(d: _dt.date) -> str:
    return MONTHS[d.month - 1][:3]


def _weekday(d: _dt.date) -> str:
    return WEEKDAYS[d.weekday()]


FORMATS: dict[str, Callable[[_dt.date], str]] = {
    "d Month yyyy": lambda d: f"{d.day} {_month(d)} {d.year}",
    "Month d, yyyy": lambda d: f"{_month(d)} {d.day}, {d.year}",
    "mon d, yyyy": lambda d: f"{_mon(d).lower()} {d.day}, {d.year}",
    "d Mon yyyy": lambda d: f"{d.day} {_mon(d)} {d.year}",
    "MON d yyyy": lambda d: f"{_mon(d).upper()} {d.day} {d.year}",
    "dd-Mon-yyyy": lambda d: f"{d.day:02d}-{_mon(d)}-{d.year}",
    "Weekday, d Month yyyy": lambda d: f"{_weekday(d)}, {d.day} {_month(d)} {d.year}",
    "Weekday, Month d, yyyy": lambda d: f"{_weekday(d)}, {_month(d)} {d.day}, {d.year}",
    "Wkd d Mon yyyy": lambda d: f"{_weekday(d)[:3]} {d.day} {_mon(d)} {d.year}",
    "dth Month yyyy": lambda d: f"{ordinal(d.day)} {_month(d)} {d.year}",
    "Month dth, yyyy": lambda d: f"{_month(d)} {ordinal(d.day)}, {d.year}",
    "the dth of Month, yyyy": lambda d: f"the {ordinal(d.day)} of {_month(d)}, {d.year}",
    "dd.mm.yy": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year % 100:02d}",
    "d.m.yyyy": lambda d: f"{d.day}.{d.month}.{d.year}",
    "dd/mm/yyyy": lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}",
    "d/m/yy": lambda d: f"{d.day}/{d.month}/{d.year % 100:02d}",
    "yyyy/mm/dd": lambda d: f"{d.year}/{d.month:02d}/{d.day:02d}",
    "yyyymmdd": lambda d: f"{d.year}{d.month:02d}{d.day:02d}",
    "yyyy-mm-dd": iso,
}

ALPHABET = string.ascii_letters + string.digits + " ,.-/"  # every character a format writes, and more
MAX_SOURCE_LENGTH = 30  # "Wednesday, September 30, 2026" (29) is the longest any format writes
TARGET_LENGTH = 10  # "2026-11-21"


def render(date: _dt.date, fmt: str) -> str:
    """``date`` written in the format named ``fmt`` (a key of ``FORMATS``)."""
    return FORMATS[fmt](date)


# --- a fixed held-out split, by calendar day ----------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Pairs:
    """Parallel lists: a human-written date, its ISO translation, and the format used."""

    sources: tuple[str, ...]
    targets: tuple[str, ...]
    formats: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.sources)


def split_days(*, seed: int, val: float = 0.1, test: float = 0.1) -> dict[str, list[_dt.date]]:
    """Every day from 1950 to 2049, shuffled with ``seed`` and cut into train/val/test."""
    days = [FIRST_DAY + _dt.timedelta(i) for i in range((LAST_DAY - FIRST_DAY).days + 1)]
    random.Random(seed).shuffle(days)
    n_test, n_val = round(len(days) * test), round(len(days) * val)
    return {"test": days[:n_test], "val": days[n_test:n_test + n_val], "train": days[n_test + n_val:]}


def sample(days: list[_dt.date], n: int, *, seed: int) -> Pairs:
    """``n`` (source, target) pairs: a random day from ``days`` in a random format."""
    rng = random.Random(seed)
    names = list(FORMATS)
    picked = [(rng.choice(days), rng.choice(names)) for _ in range(n)]
    return Pairs(tuple(render(d, f) for d, f in picked), tuple(iso(d) for d, _ in picked),
                 tuple(f for _, f in picked))


def generate(*, train: int, val: int, test: int, seed: int) -> dict[str, Pairs]:
    """Train/val/test pairs whose calendar days never overlap between splits."""
    days = split_days(seed=seed)
    sizes = {"train": train, "val": val, "test": test}
    return {split: sample(days[split], sizes[split], seed=seed * 1000 + i)
            for i, split in enumerate(("train", "val", "test"))}


def parse_with_dateutil(text: str) -> str:
    """What a programmer writes instead of a network: ``dateutil.parser.parse`` (day first, fuzzy) -> ISO,
    "" where it gives up. Its two-digit years follow its own rule (within 50 years of today), not this
    generator's (1950-2049), so dd.mm.yy dates before 1977 come out a century late."""
    from dateutil import parser

    try:
        return parser.parse(text, dayfirst=True, fuzzy=True).date().isoformat()
    except (ValueError, OverflowError):
        return ""
