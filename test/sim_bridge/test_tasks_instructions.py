"""Instruction templates, synonyms, the train/held-out split and the user file loader."""

from __future__ import annotations

import numpy as np
import pytest

from sim_bridge.instructions import (
    HELDOUT_TEMPLATES,
    OBJECT_SYNONYMS,
    PLACEHOLDER,
    TRAIN_TEMPLATES,
    load_instruction_file,
    make_instruction,
    object_names,
    templates,
)
from sim_bridge.tasks import TASK_NAMES, TaskSpec


def test_split_is_disjoint_and_complete():
    for task in TASK_NAMES:
        train, held = set(TRAIN_TEMPLATES[task]), set(HELDOUT_TEMPLATES[task])
        assert train and held and not train & held
        assert all(t.count(PLACEHOLDER) == 1 for t in train | held)
        assert set(templates(task, "all")) == train | held


def test_every_spoken_name_belongs_to_one_type():
    owners: dict[str, list[str]] = {}
    for object_type in OBJECT_SYNONYMS:
        for name in object_names(object_type):
            owners.setdefault(name, []).append(object_type)
    shared = {name: types for name, types in owners.items() if len(types) > 1}
    assert not shared, f"spoken names that mean two types: {shared}"


def test_instructions_use_synonyms_and_respect_split():
    rng = np.random.default_rng(0)
    made = {make_instruction("objnav", "Mug", rng) for _ in range(300)}
    assert any("tea mug" in m for m in made) and any("coffee mug" in m for m in made)
    held_prefixes = {t.split(PLACEHOLDER)[0] for t in HELDOUT_TEMPLATES["objnav"]}
    assert not any(m.startswith(p) for m in made for p in held_prefixes)
    held = {make_instruction("fetch", "Apple", rng, "heldout") for _ in range(100)}
    train_texts = {
        t.replace(PLACEHOLDER, n) for t in TRAIN_TEMPLATES["fetch"] for n in object_names("Apple")
    }
    assert held and not held & train_texts
    assert object_names("AlarmClock")[0] == "alarm clock"
    assert object_names("SoapBottle") == ("soap bottle",)  # unknown type: split CamelCase
    with pytest.raises(ValueError, match="unknown instruction split 'test'"):
        templates("objnav", "test")


def test_instruction_file_loader(tmp_path):
    good = tmp_path / "ok.txt"
    good.write_text(
        "# my templates\n\nobjnav\tplease spot the {object}\nfetch\thand me the {object}\n"
    )
    loaded = load_instruction_file(good)
    assert loaded == {"objnav": ("please spot the {object}",), "fetch": ("hand me the {object}",)}
    rng = np.random.default_rng(1)
    texts = {make_instruction("objnav", "Bed", rng, extra_templates=loaded) for _ in range(200)}
    assert "please spot the bed" in texts
    cases = [
        ("objnav please find {object}\n", r"ok2.txt:1: expected 'task<TAB>template'"),
        ("# c\ncook\tmake {object}\n", r"ok2.txt:2: unknown task 'cook'"),
        ("pickup\tpick it up\n", r"ok2.txt:1: template 'pick it up' must contain"),
        ("# only comments\n", "no templates found"),
    ]
    bad = tmp_path / "ok2.txt"
    for text, msg in cases:
        bad.write_text(text)
        with pytest.raises(ValueError, match=msg):
            load_instruction_file(bad)
    with pytest.raises(FileNotFoundError):
        load_instruction_file(tmp_path / "missing.txt")


def test_task_spec_validation():
    assert TaskSpec("fetch", "Apple").needs_pickup
    with pytest.raises(ValueError, match="unknown task 'swim'"):
        TaskSpec("swim", "Apple")
    with pytest.raises(ValueError, match="max_steps must be >= 1, got 0"):
        TaskSpec("objnav", "Apple", max_steps=0)
