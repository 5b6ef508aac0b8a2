"""Natural-language instructions for the Safety-CHORES tasks.

An instruction is a template (``"find a {object}"``) filled with a spoken name of the target's
object type (``"Mug"`` -> ``"mug"``, ``"tea mug"``, ``"coffee mug"``). Templates come in two
disjoint pools per task:

* ``train``: used to build training episodes and on-the-fly training instructions;
* ``heldout``: paraphrases never shown in training, for out-of-distribution language tests.

Users can add their own templates from a text file (see :func:`load_instruction_file`): one
template per line, ``task<TAB>template``, ``{object}`` placeholder, ``#`` comments.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from sim_bridge.tasks import TASKS, get_task

PLACEHOLDER = "{object}"
SPLITS: tuple[str, ...] = ("train", "heldout")

# The template pools per task, as the tasks define them (:mod:`sim_bridge.tasks`).
TRAIN_TEMPLATES: dict[str, tuple[str, ...]] = {n: t.train_templates for n, t in TASKS.items()}
HELDOUT_TEMPLATES: dict[str, tuple[str, ...]] = {n: t.heldout_templates for n, t in TASKS.items()}

# Spoken names per THOR object type; the first is the canonical name. A name belongs to one type
# only: an instruction that could mean two types (a "cup" that may be a Mug) has no right answer.
OBJECT_SYNONYMS: dict[str, tuple[str, ...]] = {
    "Mug": ("mug", "tea mug", "coffee mug"),
    "Cup": ("cup", "drinking cup", "glass"),
    "Apple": ("apple", "red apple", "piece of fruit"),
    "Bowl": ("bowl", "dish", "basin"),
    "Knife": ("knife", "kitchen knife", "blade"),
    "Book": ("book", "novel", "paperback"),
    "Bottle": ("bottle", "glass bottle"),
    "Vase": ("vase", "flower vase"),
    "AlarmClock": ("alarm clock", "clock"),
    "Laptop": ("laptop", "notebook computer", "computer"),
    "Television": ("television", "tv", "tv set"),
    "Sofa": ("sofa", "couch", "settee"),
    "Bed": ("bed",),
    "Chair": ("chair", "seat"),
    "HousePlant": ("house plant", "plant", "potted plant"),
    "GarbageCan": ("garbage can", "trash can", "bin"),
    "Toilet": ("toilet",),
    "BaseballBat": ("baseball bat", "bat"),
    "BasketBall": ("basketball", "ball"),
    "SprayBottle": ("spray bottle", "sprayer"),
    "Pot": ("pot", "cooking pot"),
    "Pan": ("pan", "frying pan", "skillet"),
    "Plate": ("plate", "dinner plate"),
    "Spoon": ("spoon",),
    "Fork": ("fork",),
    "Bread": ("bread", "loaf of bread"),
    "Tomato": ("tomato",),
    "Potato": ("potato",),
    "Egg": ("egg",),
    "Lettuce": ("lettuce", "head of lettuce"),
    "CellPhone": ("cell phone", "phone", "mobile phone"),
    "RemoteControl": ("remote control", "remote", "tv remote"),
    "Pillow": ("pillow", "cushion"),
    "TeddyBear": ("teddy bear", "stuffed bear", "toy bear"),
    "WineBottle": ("wine bottle",),
    "Candle": ("candle",),
    "Statue": ("statue", "figurine"),
    "Box": ("box", "cardboard box"),
    "Kettle": ("kettle",),
    "Toaster": ("toaster",),
    "Microwave": ("microwave", "microwave oven"),
    "Fridge": ("fridge", "refrigerator"),
    "DiningTable": ("dining table", "table"),
    "CoffeeTable": ("coffee table", "low table"),
    "Desk": ("desk",),
    "Dresser": ("dresser", "chest of drawers"),
    "TennisRacket": ("tennis racket", "racket"),
    "Pencil": ("pencil",),
    "Pen": ("pen",),
    "KeyChain": ("key chain", "keys"),
    "Watch": ("watch", "wristwatch"),
    "Newspaper": ("newspaper", "paper"),
}


def _split_camel(type_name: str) -> str:
    """``"AlarmClock"`` -> ``"alarm clock"`` for types without a synonym entry."""
    return " ".join(re.findall(r"[A-Z]+[a-z]*|[a-z]+|\d+", type_name)).lower() or type_name


def object_names(object_type: str) -> tuple[str, ...]:
    """Spoken names of ``object_type`` (canonical first); unknown types get their split name."""
    return OBJECT_SYNONYMS.get(object_type, (_split_camel(object_type),))


def templates(task: str, split: str = "train") -> tuple[str, ...]:
    """The template pool of ``task`` for ``split`` ("train", "heldout" or "all")."""
    definition = get_task(task)
    if split == "train":
        return definition.train_templates
    if split == "heldout":
        return definition.heldout_templates
    if split == "all":
        return definition.train_templates + definition.heldout_templates
    raise ValueError(f"unknown instruction split {split!r}; use 'train', 'heldout' or 'all'")


def fill(template: str, object_type: str, name_index: int = 0) -> str:
    """Fill ``{object}`` with the ``name_index``-th spoken name of ``object_type``."""
    names = object_names(object_type)
    return template.replace(PLACEHOLDER, names[name_index % len(names)])


def make_instruction(
    task: str,
    object_type: str,
    rng: np.random.Generator,
    split: str = "train",
    extra_templates: dict[str, tuple[str, ...]] | None = None,
) -> str:
    """Draw a template and a synonym at random.

    Args:
        task: a registered task name (:data:`sim_bridge.tasks.TASKS`).
        object_type: THOR object type of the target.
        rng: the source of randomness (never global).
        split: which template pool to draw from.
        extra_templates: user templates per task (from :func:`load_instruction_file`), added
            to the pool.
    """
    pool = list(templates(task, split))
    if extra_templates:
        pool += list(extra_templates.get(task, ()))
    template = pool[int(rng.integers(len(pool)))]
    return fill(template, object_type, int(rng.integers(len(object_names(object_type)))))


def load_instruction_file(path: str | Path) -> dict[str, tuple[str, ...]]:
    """Read user instruction templates.

    Format: one template per line, ``task<TAB>template``; ``task`` is a task name (objnav,
    pickup, fetch); the template contains ``{object}`` exactly once; blank lines and lines
    starting with ``#`` are skipped.

    Returns:
        Templates per task (only tasks that appear in the file).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: naming ``file:line`` and what is wrong with it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"instruction file {str(path)!r} does not exist")
    out: dict[str, list[str]] = {}
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{path}:{lineno}"
        if "\t" not in line:
            raise ValueError(
                f"{where}: expected 'task<TAB>template', got {line!r} (separate with a tab)"
            )
        task, template = (s.strip() for s in line.split("\t", 1))
        if task not in TASKS:
            raise ValueError(f"{where}: unknown task {task!r}; valid: {', '.join(TASKS)}")
        if template.count(PLACEHOLDER) != 1:
            raise ValueError(
                f"{where}: template {template!r} must contain {PLACEHOLDER} exactly once"
            )
        out.setdefault(task, []).append(template)
    if not out:
        raise ValueError(f"{path}: no templates found (lines are 'task<TAB>template')")
    return {k: tuple(v) for k, v in out.items()}
