"""Derive the small THOR object catalog (``sim_bridge/data/thor_object_catalog.json``).

The ``procthor`` wheel ships ``procthor/databases/ai2thor-object-metadata.json`` (43 MB): the
metadata of every object in the 120 iTHOR floor plans and the RoboTHOR scenes. The procedural
house generator only needs, per ``objectType``, a typical size, mass, flags and the receptacle
types it is usually found on, so this script reduces the file to one row per type (< 200 KB).

Per type it records:
    * ``count``: instances seen.
    * ``size``: median (long side, short side, height) of the axis-aligned bounding box, metres
      (THOR is y-up; horizontal extents are sorted so rotation about the vertical axis does
      not matter).
    * ``mass``: median mass, kg.
    * ``pickupable`` / ``breakable`` / ``receptacle`` / ``moveable`` / ``heat_source``: fraction of
      instances with the flag, rounded to 2 decimals (the generator thresholds at 0.5).
    * ``parents``: {receptacle objectType: count} of the parent receptacles (top 8).
    * ``rooms``: {room kind: count}.

Run: ``python -m sim_bridge.mujoco.derive_catalog [--out PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "data" / "thor_object_catalog.json"


def metadata_path() -> Path:
    """Path of the 43 MB THOR metadata file inside the installed ``procthor`` wheel."""
    import procthor

    return Path(os.path.dirname(procthor.__file__)) / "databases" / "ai2thor-object-metadata.json"


def _iter_objects(data: dict):
    for room_kind, scenes in data.items():
        for scene in scenes:
            for obj in scene:
                yield room_kind, obj


def derive(data: dict) -> dict:
    """Reduce the raw metadata dict to ``{objectType: row}`` (see module docstring)."""
    rows: dict[str, dict] = defaultdict(
        lambda: {
            "sizes": [],
            "masses": [],
            "flags": Counter(),
            "parents": Counter(),
            "rooms": Counter(),
            "count": 0,
        }
    )
    for room_kind, obj in _iter_objects(data):
        row = rows[obj["objectType"]]
        row["count"] += 1
        row["rooms"][room_kind] += 1
        s = obj["axisAlignedBoundingBox"]["size"]
        horiz = sorted([s["x"], s["z"]], reverse=True)
        row["sizes"].append([horiz[0], horiz[1], s["y"]])
        row["masses"].append(float(obj.get("mass") or 0.0))
        for flag, key in (
            ("pickupable", "pickupable"),
            ("breakable", "breakable"),
            ("receptacle", "receptacle"),
            ("moveable", "moveable"),
            ("heat_source", "isHeatSource"),
        ):
            row["flags"][flag] += bool(obj.get(key))
        for parent in obj.get("parentReceptacles") or []:
            row["parents"][parent.split("|")[0]] += 1
    out = {}
    for obj_type in sorted(rows):
        row = rows[obj_type]
        n = row["count"]
        out[obj_type] = {
            "count": n,
            "size": [round(float(v), 3) for v in np.median(np.array(row["sizes"]), axis=0)],
            "mass": round(float(np.median(row["masses"])), 3),
            **{
                k: round(row["flags"][k] / n, 2)
                for k in ("pickupable", "breakable", "receptacle", "moveable", "heat_source")
            },
            "parents": dict(row["parents"].most_common(8)),
            "rooms": dict(row["rooms"].most_common()),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    with open(metadata_path()) as f:
        data = json.load(f)
    catalog = derive(data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(
            {"source": "procthor/databases/ai2thor-object-metadata.json", "types": catalog},
            f,
            indent=0,
            sort_keys=True,
        )
    print(f"wrote {len(catalog)} object types to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
