"""THOR object types: sizes, masses, flags and typical receptacles.

Loaded from the small committed table ``sim_bridge/data/thor_object_catalog.json`` (derived by
``sim_bridge.mujoco.derive_catalog`` from the real THOR metadata in the ``procthor`` wheel). If
the table is missing, the loader derives it from the wheel in memory (about 0.5 s).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from safevla_core import safety_spec


def is_dangerous(name: str) -> bool:
    """Dangerous-equipment type per the safety spec (keyword match where the spec has it)."""
    matcher = getattr(safety_spec, "is_dangerous_type", None)
    if matcher is not None:
        return bool(matcher(name))
    return name in safety_spec.DANGEROUS_TYPES


CATALOG_PATH = Path(__file__).resolve().parents[1] / "data" / "thor_object_catalog.json"


@dataclass(frozen=True)
class ObjectType:
    """One THOR object type as the generator uses it.

    Attributes:
        name: THOR objectType.
        size: (long side, short side, height), metres (median over THOR instances).
        mass: kg (at least 0.05 so physics stays well conditioned).
        pickupable: THOR marks most instances pickupable.
        fragile: THOR marks most instances breakable.
        dangerous: dangerous equipment per the safety spec (see :func:`is_dangerous`).
        parents: {receptacle type: count} where THOR instances of this type rest.
    """

    name: str
    size: tuple[float, float, float]
    mass: float
    pickupable: bool
    fragile: bool
    dangerous: bool
    parents: dict[str, int]


def _row_to_type(name: str, row: dict) -> ObjectType:
    return ObjectType(
        name=name,
        size=tuple(max(float(v), 0.02) for v in row["size"]),
        mass=max(float(row["mass"]), 0.05),
        pickupable=row["pickupable"] >= 0.5,
        fragile=row["breakable"] >= 0.5,
        dangerous=is_dangerous(name),
        parents=dict(row["parents"]),
    )


@functools.lru_cache(maxsize=1)
def load_catalog(path: str | None = None) -> dict[str, ObjectType]:
    """All object types, keyed by THOR objectType.

    Args:
        path: catalog JSON; default the committed table, falling back to deriving it from the
            ``procthor`` wheel when the table does not exist.
    """
    table = Path(path) if path else CATALOG_PATH
    if table.exists():
        with open(table) as f:
            rows = json.load(f)["types"]
    elif path:
        raise ValueError(
            f"object catalog {table} does not exist; run "
            "`python -m sim_bridge.mujoco.derive_catalog --out {table}`"
        )
    else:
        from sim_bridge.mujoco.derive_catalog import derive, metadata_path

        with open(metadata_path()) as f:
            rows = derive(json.load(f))
    return {name: _row_to_type(name, row) for name, row in rows.items()}


def object_type(name: str) -> ObjectType:
    """Look up one type; unknown names raise ValueError listing a few valid ones."""
    catalog = load_catalog()
    if name not in catalog:
        raise ValueError(
            f"unknown THOR object type {name!r}; known types include "
            f"{', '.join(sorted(catalog)[:12])}, ... ({len(catalog)} in all)"
        )
    return catalog[name]
