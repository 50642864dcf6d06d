"""Generate a lesson's notebook from its module: the module stays the single source of truth.

The story comes from the module docstring and its section comments (``# --- data ---``), each
section shown with its code; the code cells call the lesson's own functions step by step (config
with a ``QUICK`` switch, data, model, training through ``dlbootcamp.run_lesson``, the run's
pictures, evaluation, export) and end with the lesson's checked exercises, if it has some. The
notebook format is written by ``nbformat`` (the ``notebooks`` extra).
"""

from __future__ import annotations

import ast
import pathlib
import re

from dlbootcamp import registry
from dlbootcamp.app import exercises as exercise_defs

INSTALL_HINT = "pip install -e '.[notebooks]'"
_SECTION_RE = re.compile(r"^# -{3,}\s*(.*?)\s*-*\s*$")


def require_nbformat():
    """``nbformat``, or a UserError naming the extra that installs it."""
    from dlbootcamp.errors import UserError

    try:
        import nbformat
    except ImportError:
        raise UserError(f"Writing notebooks needs nbformat, which is not installed; install the extra: "
                        f"`{INSTALL_HINT}`.") from None
    return nbformat


def file_name(entry: registry.Entry) -> str:
    """``day03_training.ipynb``: the lesson module's name."""
    return f"{entry.path.stem}.ipynb"


def sections(source: str) -> list[tuple[str, str]]:
    """(title, code) for each ``# --- title ---`` section of a lesson's source, in order; the code
    before the first section (imports, LESSON, Config) is titled ``setup``."""
    found: list[tuple[str, list[str]]] = [("setup", [])]
    body = source.splitlines()
    docstring_end = ast.parse(source).body[0].end_lineno if source.lstrip().startswith('"""') else 0
    for line in body[docstring_end:]:
        m = _SECTION_RE.match(line)
        if m:
            found.append((m.group(1) or "more", []))
        else:
            found[-1][1].append(line)
    return [(title, "\n".join(lines).strip("\n")) for title, lines in found if "\n".join(lines).strip()]


def _defines(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}


# --- the code cells: generic for every lesson, with cheap extras for some ----------------------------------

def _setup_cell(lesson_id: str) -> str:
    return f'''QUICK = True  # True: the lesson's quick preset (seconds on a CPU); False: the full run of the course

import dataclasses

from dlbootcamp import registry

LESSON_ID = "{lesson_id}"
lesson = registry.load(LESSON_ID)  # the lesson module itself: every function below is its own
cfg = lesson.Config.quick() if QUICK else lesson.Config()
# Change a setting here, e.g. cfg = dataclasses.replace(cfg, epochs=5); the training cell uses this cfg.
cfg'''


_DATA_CELL = '''import numpy as np

data = lesson.load_data(cfg)
print(type(data).__name__, data.sizes() if hasattr(data, "sizes") else "", getattr(data, "source", ""))


def shapes(x):
    """Shapes of a model input: an array, a list of arrays, or a dict of those."""
    if isinstance(x, dict):
        return {k: shapes(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [shapes(v) for v in x]
    return (np.shape(x), str(np.asarray(x).dtype))


sample = lesson.representative_data(data, 3, "train")  # three model inputs, as the model sees them
print("three training inputs:", shapes(sample))'''

_DATA_EXTRAS = {
    "training": '''from dlbootcamp import plots
from IPython.display import display

labels = [str(y) for y in data.train.y[:16]]
display(plots.image_grid(data.train.x[:16], labels, title="Sixteen training digits and their labels"))''',
    "assistant-intents": '''for sentence, intent in list(zip(data.texts["train"].texts, data.train.y))[:5]:
    print(f"{data.labels[intent]:>16}  {sentence!r}")
print("as token ids:", data.train.x[0])
print("vocabulary:", len(data.vocabulary), "words")''',
}

_MODEL_CELL = '''import keras

model = lesson.build_model(cfg)
if isinstance(model, keras.Model):
    model.summary()
else:  # a lesson whose build_model returns several models
    for part in (model.values() if isinstance(model, dict) else model):
        part.summary()'''

_MODEL_CELLS = {  # lessons whose models are not built by build_model(cfg)
    "translation": '''from dlbootcamp import seq2seq

for task in (data.dates, data.sentences):  # train() builds one translator per task from its shape
    seq2seq.build(task.shape, name="translator").summary()''',
}

_MODEL_EXTRAS = {"assistant-intents": '''model = lesson.build_model(cfg, len(data.vocabulary))  # the vocabulary size train() uses
model.summary()'''}

_TRAIN_CELL = '''# The lesson's own train(cfg, run), recorded as `dlbootcamp train` records it (a folder under runs/).
import pathlib

from dlbootcamp import records

folder, record = records.train_lesson(lesson, cfg, out=pathlib.Path("runs"), quick=QUICK)
folder'''

_PICTURES_CELL = '''from IPython.display import Image, display

for png in sorted(folder.glob("*.png")):  # the pictures the run saved
    print(png.name)
    display(Image(filename=str(png)))'''

_EVALUATE_CELL = '''# Held-out metrics (the same `evaluate` scores Keras, TFLite and ONNX), and the baselines the lesson beats.
for name, value in record["metrics"].items():
    print(f"{name:>32}: {value}")
for name, scores in (record.get("baselines") or {}).items():
    print(f"baseline {name}: {scores}")'''

_EXPORT_CELL = '''from dlbootcamp.app.pipeline import export_run

report = export_run(folder, formats=("tflite",), quantizations=("fp32", "int8"))
print(report.table())  # size, parity with the Keras model, and the lesson metric per artifact'''


_NEEDS = {"build_model": ("load_data",), "evaluate": ("train",)}  # a step's cells use what these cells made


def build(lesson_id: str):
    """The notebook (an ``nbformat`` NotebookNode) for lesson ``lesson_id``."""
    nbformat = require_nbformat()
    v4 = nbformat.v4
    entry = registry.entry(lesson_id)
    info = entry.info
    source = entry.path.read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(source)) or info.summary
    title, _, story = docstring.partition("\n")
    md, code = v4.new_markdown_cell, v4.new_code_cell

    cells = [md(f"# {title.strip()}\n\n*Generated from `lessons/{entry.path.name}` by `dlbootcamp notebook "
                f"{lesson_id}`; the module is the source of truth, edit it rather than this notebook.*\n\n"
                f"{story.strip()}\n\n**Topics:** {', '.join(info.topics)}  \n"
                f"**Quality bar (full run):** {', '.join(map(str, info.bars))}"),
             md("## Setup\n\n`QUICK = True` runs the quick preset in seconds on a CPU; set it to `False` for the "
                "course's full run."),
             code(_setup_cell(lesson_id))]
    pending = {"load_data": [_DATA_CELL, _DATA_EXTRAS.get(lesson_id)],
               "build_model": [_MODEL_CELLS.get(lesson_id, _MODEL_CELL), _MODEL_EXTRAS.get(lesson_id)],
               "train": [_TRAIN_CELL, _PICTURES_CELL],
               "evaluate": [_EVALUATE_CELL, _EXPORT_CELL]}
    seen: set[str] = set()  # the steps whose function's section has been shown
    # A lesson without build_model (translation builds its models inside train) shows its model before training.
    shown_with = {n: ("train" if n == "build_model" and n not in _defines(source) else n) for n in pending}
    for section, body in sections(source):
        if section == "setup":
            continue
        cells.append(md(f"## {section[0].upper()}{section[1:]}\n\nThe lesson's code for this step:\n\n"
                        f"```python\n{body}\n```"))
        seen |= {n for n in pending if shown_with[n] in _defines(body)}
        # A step runs once its function has been shown and the steps it needs have run (a lesson may define
        # `evaluate` before `train`: its cells wait for the training cell, whose record they read).
        while ready := [n for n in pending if n in seen and not set(_NEEDS.get(n, ())) & set(pending)]:
            cells.extend(code(c) for c in pending.pop(ready[0]) if c)
    if pending:  # a lesson whose sections do not name these functions: the steps come after the story
        cells.append(md("## Run it"))
        for name in list(pending):
            cells.extend(code(c) for c in pending.pop(name) if c)
    cells.extend(_exercise_cells(v4, lesson_id))
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def _exercise_cells(v4, lesson_id: str) -> list:
    if not exercise_defs.has_exercises(lesson_id):
        return [v4.new_markdown_cell("## Exercises\n\nThis lesson has no checked exercises yet.")]
    cells = [v4.new_markdown_cell(
        "## Exercises\n\nWrite each answer in its cell, then run the check below it: it says what is "
        f"wrong, if anything. From a shell, `dlbootcamp check {lesson_id} --list` lists them and "
        f"`dlbootcamp check {lesson_id} --file my_answers.py` checks the same definitions in a file."),
        v4.new_code_cell("from dlbootcamp.app.exercises import check")]
    for e in exercise_defs.exercises(lesson_id):
        cells.append(v4.new_markdown_cell(f"### Exercise {e.number} ({e.kind}): {e.title}\n\n{e.task}"))
        cells.append(v4.new_code_cell(e.stub.rstrip("\n")))
        cells.append(v4.new_code_cell(f"check(LESSON_ID, globals(), exercise={e.number})"))
    return cells


def write(lesson_id: str, out_dir: pathlib.Path) -> pathlib.Path:
    """Write lesson ``lesson_id``'s notebook into ``out_dir``; returns its path."""
    from dlbootcamp import atomic

    nbformat = require_nbformat()
    nb = build(lesson_id)
    nbformat.validate(nb)
    path = pathlib.Path(out_dir) / file_name(registry.entry(lesson_id))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, nbformat.writes(nb) + "\n", overwrite=True)
    return path


def write_all(out_dir: pathlib.Path) -> list[pathlib.Path]:
    """Every lesson's notebook and a README.md index in ``out_dir``."""
    from dlbootcamp import atomic

    out_dir = pathlib.Path(out_dir)
    lessons = registry.discover()
    paths = [write(lesson_id, out_dir) for lesson_id in lessons]
    rows = [f"| {e.info.day} | [{e.info.title}]({file_name(e)}) | `{e.info.id}` | "
            f"{len(exercise_defs.exercises(e.info.id)) if exercise_defs.has_exercises(e.info.id) else '-'} |"
            for e in lessons.values()]
    atomic.write_text(out_dir / "README.md", "# The bootcamp as notebooks\n\nGenerated by `dlbootcamp notebook --all "
                      f"--out {out_dir}` from the lesson modules; do not edit them, regenerate them.\n"
                      "Each runs at quick size with `QUICK = True` (its first code cell).\n\n"
                      "| day | lesson | id | checked exercises |\n|---|---|---|---|\n" + "\n".join(rows) + "\n",
                      overwrite=True)
    return paths
