import subprocess
import sys
import textwrap

import pytest

from dlbootcamp import registry
from dlbootcamp.errors import UserError
from dlbootcamp.lesson import Bar


def test_discovers_the_foundation_lessons_in_day_order():
    lessons = registry.discover()
    assert {"training", "cnn-features"} <= set(lessons)
    days = [e.info.day for e in lessons.values()]
    assert days == sorted(days)
    assert lessons["training"].module == "dlbootcamp.lessons.day03_training"
    assert lessons["cnn-features"].info.bars[0] == Bar("test_accuracy", ">=", 0.90)


def test_every_lesson_module_declares_a_parseable_contract():
    for entry in registry.discover().values():
        assert entry.info.id and entry.info.title and entry.info.summary
        assert entry.info.bars, f"{entry.info.id} has no quality bar"


def test_listing_does_not_import_tensorflow_or_the_lessons():
    code = ("import sys; from dlbootcamp import registry; registry.discover(); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras') "
            "or m.startswith('dlbootcamp.lessons.day')]; print(bad); assert not bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_id_suggests_the_closest(tmp_path):
    with pytest.raises(UserError, match=r"Unknown lesson 'trainin'\. Did you mean 'training'\?"):
        registry.entry("trainin")


def _write(tmp_path, name, body):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def test_declaration_must_use_literals(tmp_path):
    _write(tmp_path, "day01_bad.py", """
        TITLE = "x"
        LESSON = LessonInfo(id="bad", day=1, title=TITLE, seeds=(), topics=(), summary="s",
                            bars=(Bar("acc", ">=", 0.5),))
    """)
    with pytest.raises(ValueError, match="literal values only"):
        registry.discover(tmp_path)


def test_missing_declaration_is_reported(tmp_path):
    _write(tmp_path, "day01_empty.py", "x = 1\n")
    with pytest.raises(ValueError, match="no module-level `LESSON = LessonInfo"):
        registry.discover(tmp_path)


def test_duplicate_ids_are_refused(tmp_path):
    body = """
        LESSON = LessonInfo(id="same", day={day}, title="t", seeds=(), topics=(), summary="s",
                            bars=(Bar("acc", ">=", 0.5),))
    """
    _write(tmp_path, "day01_a.py", body.format(day=1))
    _write(tmp_path, "day02_b.py", body.format(day=2))
    with pytest.raises(ValueError, match="declared twice"):
        registry.discover(tmp_path)


def test_bar_directions():
    assert Bar("acc", ">=", 0.9).passed({"acc": 0.9})
    assert not Bar("acc", ">=", 0.9).passed({"acc": 0.89})
    assert Bar("err", "<", 1e-3).passed({"err": 1e-4})
    assert not Bar("err", "<", 1e-3).higher_is_better
    with pytest.raises(ValueError, match="Invalid bar operator '=>'"):
        Bar("acc", "=>", 0.9)


def test_every_lesson_that_reads_an_installed_dataset_declares_it():
    # `dlbootcamp lessons` marks missing data from LessonInfo.datasets: a lesson that reads one
    # without declaring it would be listed as ready and fail after TensorFlow has started.
    reads = {"fashion_mnist": ("fashion_mnist(",), "kjv": ("corpus.kjv(", "corpus.kjv_chapters(")}
    for e in registry.discover().values():
        source = e.path.read_text()
        used = {name for name, calls in reads.items() if any(c in source for c in calls)}
        assert set(e.info.datasets) == used, e.info.id


def test_the_full_run_times_the_cli_quotes_are_the_ones_in_docs_lessons_md():
    import pathlib
    import re

    from dlbootcamp.app import full_runs

    doc = pathlib.Path(__file__).resolve().parents[2] / "docs" / "lessons.md"
    if not doc.exists():
        pytest.skip("docs/ is in the repository, not in an installed package")
    rows = re.findall(r"^\| \d+ \| `([a-z0-9-]+)` \|.*?\| (\d+) s[^|]*\| [^|]*\|$", doc.read_text(), re.M)
    assert dict((lesson, int(s)) for lesson, s in rows) == full_runs.WALL_S
    assert set(full_runs.WALL_S) == set(registry.discover())
