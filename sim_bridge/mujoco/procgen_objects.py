"""Free objects of a procedural house: what stands on each receptacle and on the floor.

Types are drawn, per receptacle, from the THOR types whose real parent receptacles include it
(weighted by the THOR counts). Objects on a surface never overlap (centre distance >= sum of
their footprint radii + 1 cm). A fragile cluster is 3-4 fragile types placed one by one, each
touching-distance (+1-5 cm) from a random earlier member and < 0.28 m from it, so the cluster is
connected under the cost model's 0.3 m link.
"""

from __future__ import annotations

import math

import numpy as np

from sim_bridge.mujoco.catalog import load_catalog
from sim_bridge.mujoco.geometry import Rect, rects_overlap
from sim_bridge.mujoco.layout import Furniture, ObjectSpec

RECEPTACLES = (
    "CounterTop",
    "DiningTable",
    "CoffeeTable",
    "SideTable",
    "Desk",
    "Dresser",
    "ShelvingUnit",
    "TVStand",
)
# THOR parent types whose objects also suit our receptacle type.
PARENT_ALIASES = {"ShelvingUnit": ("ShelvingUnit", "Shelf"), "TVStand": ("TVStand", "Dresser")}
CLUSTER_SURFACES = ("CounterTop", "DiningTable", "CoffeeTable", "Desk")
# THOR's axis-aligned boxes of thin, often diagonal utensils overstate their width.
SIZE_OVERRIDES = {
    "Knife": (0.3, 0.03, 0.02),
    "ButterKnife": (0.2, 0.025, 0.015),
    "Fork": (0.19, 0.03, 0.015),
    "Spoon": (0.17, 0.035, 0.015),
    "Spatula": (0.3, 0.06, 0.02),
    "Ladle": (0.3, 0.08, 0.05),
    "Pen": (0.14, 0.012, 0.012),
    "Pencil": (0.17, 0.008, 0.008),
}
# Free objects that stand on the floor, per room kind (THOR types with "Floor" parents).
FLOOR_TYPES = {
    "Kitchen": ("GarbageCan", "Stool", "Chair", "GarbageBag"),
    "LivingRoom": ("Box", "BasketBall", "Vase", "Footstool", "Chair", "GarbageCan"),
    "Bedroom": ("Boots", "LaundryHamper", "TeddyBear", "Dumbbell", "Box", "GarbageCan"),
    "Bathroom": ("Plunger", "ScrubBrush", "GarbageCan"),
}


def object_size(name: str) -> tuple[float, float, float]:
    """Size used for ``name``: the override for thin utensils, else the THOR catalog's."""
    return SIZE_OVERRIDES.get(name, load_catalog()[name].size)


def _candidate_types(
    parent: str, max_long: float, max_height: float = 0.6
) -> tuple[list[str], np.ndarray]:
    """Pickupable types found on ``parent`` in THOR that fit, with normalised weights."""
    names, weights = [], []
    parents = PARENT_ALIASES.get(parent, (parent,))
    for name, t in load_catalog().items():
        size = object_size(name)
        count = sum(t.parents.get(p, 0) for p in parents)
        if t.pickupable and count and size[0] <= max_long and size[2] < max_height:
            names.append(name)
            weights.append(count)
    w = np.array(weights, dtype=float)
    return names, w / w.sum() if len(w) else w


def _spec(name: str, x: float, y: float, yaw: float, z_top: float | None = None) -> ObjectSpec:
    """An object at (x, y) resting on the surface below, or on a board at height ``z_top``."""
    z = None if z_top is None else z_top + object_size(name)[2] / 2 + 0.002
    return ObjectSpec(name, (x, y, z), yaw_deg=yaw, size=SIZE_OVERRIDES.get(name))


class _Surface:
    """Object placement on one furniture top (local frame of the piece)."""

    def __init__(self, f: Furniture, z_top: float | None = None) -> None:
        self.f, self.z_top = f, z_top
        t = math.radians(f.yaw_deg)
        self.rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
        self.half = np.array(f.size[:2]) / 2 - 0.04
        self.items: list[tuple[np.ndarray, float]] = []  # (local xy, radius)

    def fits(self, uv: np.ndarray, r: float) -> bool:
        if np.any(np.abs(uv) + r > self.half):
            return False
        return all(np.linalg.norm(uv - p) >= r + q + 0.01 for p, q in self.items)

    def add(self, name: str, uv: np.ndarray, r: float, yaw: float) -> ObjectSpec:
        self.items.append((uv, r))
        xy = np.array(self.f.center) + self.rot @ uv
        return _spec(name, float(xy[0]), float(xy[1]), yaw, self.z_top)

    def random_uv(self, rng) -> np.ndarray:
        return rng.uniform(-self.half, self.half)


def _radius(name: str) -> float:
    size = object_size(name)
    return 0.5 * math.hypot(size[0], size[1])


def _drop(rng, surf: _Surface, name: str, tries: int = 20) -> ObjectSpec | None:
    r = _radius(name)
    for _ in range(tries):
        uv = surf.random_uv(rng)
        if surf.fits(uv, r):
            return surf.add(name, uv, r, float(rng.uniform(-180, 180)))
    return None


def _fragile_cluster(rng, surf: _Surface) -> list[ObjectSpec]:
    names, w = _candidate_types(surf.f.object_type, 0.25)
    cat = load_catalog()
    keep = [i for i, n in enumerate(names) if cat[n].fragile]
    if len(keep) == 0:
        return []
    names, w = [names[i] for i in keep], w[keep] / w[keep].sum()
    n = int(rng.integers(3, 5))
    for _attempt in range(10):
        picks = list(rng.choice(names, size=n, p=w))
        placed: list[tuple[np.ndarray, float]] = []
        placed_names: list[str] = []
        base = len(surf.items)
        for name in picks:
            r = _radius(name)
            for _ in range(30):
                if not placed:
                    uv = surf.random_uv(rng)
                else:
                    anchor, ra = placed[int(rng.integers(len(placed)))]
                    ang = rng.uniform(0, 2 * math.pi)
                    uv = anchor + (ra + r + rng.uniform(0.01, 0.05)) * np.array(
                        [math.cos(ang), math.sin(ang)]
                    )
                    if np.linalg.norm(uv - anchor) >= 0.28:
                        continue
                if surf.fits(uv, r):
                    placed.append((uv, r))
                    placed_names.append(str(name))
                    surf.items.append((uv, r))
                    break
        if len(placed) >= 3:
            return [_commit(surf, name, uv) for name, (uv, _r) in zip(placed_names, placed)]
        del surf.items[base:]
    return []


def _commit(surf: _Surface, name: str, uv: np.ndarray) -> ObjectSpec:
    xy = np.array(surf.f.center) + surf.rot @ uv
    return _spec(name, float(xy[0]), float(xy[1]), 0.0, surf.z_top)


def objects_for(rng, f: Furniture, kind: str, cfg) -> list[ObjectSpec]:
    """Objects on furniture ``f`` in a room of ``kind`` (``cfg``: a ``HouseConfig``)."""
    surf, out = _Surface(f), []
    if f.object_type == "Oven":
        if rng.random() < 0.7:
            name = str(rng.choice(["Pot", "Pan", "Kettle"]))
            out.append(
                surf.add(
                    name, np.array([-f.size[0] / 4, -f.size[1] / 4]) * 0.8, _radius(name), 0.0
                )
            )
        return out
    if f.object_type not in RECEPTACLES:
        return out
    if kind == "Kitchen" and f.object_type == "CounterTop" and rng.random() < 0.85:
        spec = _drop(rng, surf, str(rng.choice(["Knife", "ButterKnife", "Knife"])))
        out += [spec] if spec else []
    if f.object_type in CLUSTER_SURFACES and rng.random() < cfg.cluster_prob:
        out += _fragile_cluster(rng, surf)
    out += _fill(rng, surf, cfg.max_objects_per_receptacle)
    if f.object_type == "ShelvingUnit":  # the middle board (see scene_xml's shelf shape)
        board = _Surface(f, z_top=f.elevation + 0.35 * f.size[2] + 0.015)
        out += _fill(rng, board, 2, max_height=0.6 * f.size[2] - 0.1)
    return out


def _fill(rng, surf: _Surface, max_count: int, max_height: float = 0.6) -> list[ObjectSpec]:
    names, w = _candidate_types(surf.f.object_type, 0.8 * min(surf.f.size[:2]), max_height)
    out: list[ObjectSpec] = []
    if names:
        for name in rng.choice(names, size=int(rng.integers(0, max_count + 1)), p=w):
            spec = _drop(rng, surf, str(name))
            out += [spec] if spec else []
    return out


def floor_objects(rng, room, cfg, blocked: list[Rect]) -> list[ObjectSpec]:
    """Up to ``cfg.floor_objects`` free objects on the floor of ``room`` (a ``_Room``), clear
    of the ``blocked`` footprints (which they join)."""
    cat = load_catalog()
    names = [n for n in FLOOR_TYPES[room.kind] if n in cat]
    w = np.array([cat[n].parents.get("Floor", 1) for n in names], dtype=float)
    out = []
    count = int(rng.integers(0, cfg.floor_objects + 1))
    for name in rng.choice(names, size=count, p=w / w.sum()):
        size = object_size(str(name))
        for _ in range(20):
            x = rng.uniform(room.x0 + 0.3, room.x1 - 0.3)
            y = rng.uniform(room.y0 + 0.3, room.y1 - 0.3)
            rect: Rect = (np.array([x, y]), np.array(size[:2]) / 2 + 0.05, 0.0)
            if not any(rects_overlap(rect, r) for r in blocked):
                blocked.append(rect)
                out.append(_spec(str(name), x, y, 0.0))
                break
    return out
