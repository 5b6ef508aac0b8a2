"""Scenes for the THOR backend: iTHOR floor plans by name, or ProcTHOR house JSON.

``scene_seed`` indexes a scene list: by default the 120 iTHOR floor plans (kitchens 1-30,
living rooms 201-230, bedrooms 301-330, bathrooms 401-430); or a user list mixing floor-plan
names, ProcTHOR house dicts and paths to house ``.json`` files (e.g. the benchmark's houses).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ITHOR_RANGES = ((1, 30), (201, 230), (301, 330), (401, 430))

SceneSpec = str | Path | dict


def ithor_floorplans() -> list[str]:
    """``["FloorPlan1", ..., "FloorPlan430"]``: the 120 iTHOR rooms, kitchens first."""
    return [f"FloorPlan{i}" for lo, hi in ITHOR_RANGES for i in range(lo, hi + 1)]


def resolve_scene(scenes: Sequence[SceneSpec], scene_seed: int) -> str | dict[str, Any]:
    """The ``controller.reset(scene=...)`` argument for ``scene_seed``.

    Floor-plan names pass through; a house dict is used as is; a path is read as house JSON.

    Raises:
        ValueError: seed out of range, unreadable path, or a house without ``rooms``/``objects``.
    """
    if not 0 <= scene_seed < len(scenes):
        raise ValueError(
            f"scene_seed {scene_seed!r} out of range: this backend has {len(scenes)} scenes "
            f"(0..{len(scenes) - 1})"
        )
    spec = scenes[scene_seed]
    if isinstance(spec, dict):
        return _check_house(spec, f"scene {scene_seed}")
    if isinstance(spec, Path) or str(spec).endswith(".json"):
        path = Path(spec).expanduser()
        if not path.is_file():
            raise ValueError(f"house JSON {str(path)!r} (scene {scene_seed}) does not exist")
        return _check_house(json.loads(path.read_text()), str(path))
    if not str(spec).startswith("FloorPlan"):
        raise ValueError(
            f"scene {spec!r} is neither an iTHOR floor plan ('FloorPlan<n>'), a house dict "
            "nor a path to a house .json"
        )
    return str(spec)


def _check_house(house: dict[str, Any], where: str) -> dict[str, Any]:
    missing = [k for k in ("rooms", "objects") if k not in house]
    if missing:
        raise ValueError(f"ProcTHOR house {where} lacks keys {missing}; is it a house JSON?")
    return house
