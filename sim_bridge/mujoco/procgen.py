"""Seeded procedural houses: rooms, walls with doorways, furniture and THOR objects.

``generate_house(seed)`` is a pure function of the seed and the :class:`HouseConfig`:

1. A W x D house (uniform in [min_size, max_size] m per side) is split recursively (always the
   largest room, across its longer side, at 40-60 %) into 2-4 rooms; every split wall gets one
   doorway, so all rooms are connected. Split lines avoid existing doorways.
2. Rooms get types (LivingRoom, Kitchen, Bedroom, Bathroom) and furniture from per-type lists.
   Wall pieces stand with their back to a wall; with probability ``snap_prob`` a piece is put
   next to an earlier one on the same wall with a 0.25-0.6 m gap (tight spots). Centre pieces
   (tables) go anywhere in the room. Doorways keep a 0.8 m deep clear zone on both sides.
3. Free objects are drawn for each receptacle from the THOR types whose real parent receptacles
   include it (weighted by THOR counts), with catalog sizes and masses. Kitchens get a knife on
   a counter and a pot/pan/kettle on the oven range; with probability ``cluster_prob`` per table or
   counter a cluster of 3-4 fragile objects (pairwise chain < 0.3 m) is placed on it.
   Shelving units also get objects on their middle board.
4. Furniture colours vary +-15 % per piece; 0-2 paintings (static, 1.1-1.5 m up) hang on each
   room's walls away from doorways.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim_bridge.mujoco.geometry import Rect, rects_overlap
from sim_bridge.mujoco.layout import Furniture, Layout, ObjectSpec, Wall
from sim_bridge.mujoco.procgen_objects import floor_objects, objects_for
from sim_bridge.mujoco.scene_xml import FURNITURE_RGBA

# (type, (min length, max length), depth, height, shape, placement, probability)
ROOM_FURNITURE = {
    "Kitchen": [
        ("CounterTop", (1.4, 2.4), 0.62, 0.9, "box", "wall", 1.0),
        ("Oven", (0.76, 0.76), 0.66, 0.9, "box", "wall", 1.0),
        ("Fridge", (0.8, 0.8), 0.75, 1.8, "box", "wall", 0.9),
        ("CounterTop", (0.9, 1.4), 0.62, 0.9, "box", "wall", 0.6),
        ("DiningTable", (1.1, 1.6), 0.85, 0.75, "table", "centre", 0.8),
    ],
    "LivingRoom": [
        ("Sofa", (1.8, 2.2), 0.9, 0.85, "sofa", "wall", 1.0),
        ("CoffeeTable", (0.9, 1.2), 0.55, 0.45, "table", "centre", 0.9),
        ("TVStand", (1.2, 1.6), 0.45, 0.55, "box", "wall", 0.8),
        ("ShelvingUnit", (0.8, 1.2), 0.4, 1.6, "shelf", "wall", 0.7),
        ("SideTable", (0.5, 0.6), 0.5, 0.6, "table", "wall", 0.7),
        ("DiningTable", (1.1, 1.5), 0.85, 0.75, "table", "centre", 0.4),
    ],
    "Bedroom": [
        ("Bed", (2.0, 2.1), 1.5, 0.6, "box", "wall", 1.0),
        ("Dresser", (1.0, 1.4), 0.5, 0.9, "box", "wall", 0.9),
        ("SideTable", (0.45, 0.55), 0.45, 0.6, "table", "wall", 0.9),
        ("Desk", (1.0, 1.4), 0.6, 0.75, "table", "wall", 0.7),
    ],
    "Bathroom": [
        ("Toilet", (0.45, 0.45), 0.7, 0.75, "box", "wall", 1.0),
        ("CounterTop", (0.9, 1.2), 0.55, 0.85, "box", "wall", 1.0),
        ("ShelvingUnit", (0.6, 0.8), 0.35, 1.4, "shelf", "wall", 0.5),
    ],
}
ROOM_ORDER = ("LivingRoom", "Kitchen", "Bedroom", "Bathroom")
WALL_T, DOOR_W, DOOR_CLEAR = 0.1, 0.95, 0.8


@dataclass(frozen=True)
class HouseConfig:
    """Procedural house settings.

    Attributes:
        min_rooms / max_rooms: number of rooms (inclusive range).
        min_size / max_size: house side length range, metres.
        snap_prob: probability a wall piece is placed next to an earlier one (tight gap).
        cluster_prob: probability of a fragile cluster on each table/counter.
        max_objects_per_receptacle: upper bound of objects drawn per receptacle.
        floor_objects: max free objects standing on the floor per room.
    """

    min_rooms: int = 2
    max_rooms: int = 4
    min_size: float = 6.0
    max_size: float = 10.0
    snap_prob: float = 0.4
    cluster_prob: float = 0.5
    max_objects_per_receptacle: int = 4
    floor_objects: int = 2

    def __post_init__(self) -> None:
        if not 1 <= self.min_rooms <= self.max_rooms <= 6:
            raise ValueError(
                f"need 1 <= min_rooms <= max_rooms <= 6, got {self.min_rooms}, {self.max_rooms}"
            )
        if not 3.0 <= self.min_size <= self.max_size <= 30.0:
            raise ValueError(
                f"need 3 <= min_size <= max_size <= 30 m, got {self.min_size}, {self.max_size}"
            )
        for name in ("snap_prob", "cluster_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")


@dataclass
class _Room:
    kind: str
    x0: float
    y0: float
    x1: float
    y1: float


def _split_rooms(rng, w: float, d: float, n: int) -> tuple[list[_Room], list[tuple]]:
    """Recursive splits; returns rooms and internal walls ((a, b), door interval (lo, hi))."""
    rooms = [_Room("", 0.0, 0.0, w, d)]
    walls: list[tuple] = []  # (axis 'x' or 'y' = constant coord, c, lo, hi, door_lo, door_hi)
    for _ in range(n - 1):
        r = max(rooms, key=lambda q: (q.x1 - q.x0) * (q.y1 - q.y0))
        vertical = (r.x1 - r.x0) >= (r.y1 - r.y0)
        lo, hi = (r.x0, r.x1) if vertical else (r.y0, r.y1)
        for _try in range(30):
            c = round(lo + (hi - lo) * rng.uniform(0.4, 0.6), 1)
            axis = "x" if vertical else "y"
            clash = any(
                wa != axis and wdl - 0.6 < c < wdh + 0.6 for wa, _, _, _, wdl, wdh in walls
            )
            if not clash:
                break
        a_lo, a_hi = (r.y0, r.y1) if vertical else (r.x0, r.x1)
        door_c = rng.uniform(a_lo + 0.4 + DOOR_W / 2, a_hi - 0.4 - DOOR_W / 2)
        walls.append((axis, c, a_lo, a_hi, door_c - DOOR_W / 2, door_c + DOOR_W / 2))
        rooms.remove(r)
        if vertical:
            rooms += [_Room("", r.x0, r.y0, c, r.y1), _Room("", c, r.y0, r.x1, r.y1)]
        else:
            rooms += [_Room("", r.x0, r.y0, r.x1, c), _Room("", r.x0, c, r.x1, r.y1)]
    return rooms, walls


def _wall_segments(w: float, d: float, internal: list[tuple]) -> tuple[list[Wall], list[Rect]]:
    walls = [
        Wall((0, 0), (w, 0)),
        Wall((w, 0), (w, d)),
        Wall((w, d), (0, d)),
        Wall((0, d), (0, 0)),
    ]
    door_zones: list[Rect] = []
    for axis, c, lo, hi, dlo, dhi in internal:
        for a, b in ((lo, dlo), (dhi, hi)):
            if b - a > 0.05:
                walls.append(Wall((c, a), (c, b)) if axis == "x" else Wall((a, c), (b, c)))
        mid, half_w = (dlo + dhi) / 2, (dhi - dlo) / 2 + 0.1
        centre = np.array([c, mid]) if axis == "x" else np.array([mid, c])
        half = np.array([DOOR_CLEAR, half_w]) if axis == "x" else np.array([half_w, DOOR_CLEAR])
        door_zones.append((centre, half, 0.0))
    return walls, door_zones


def _place_furniture(rng, room: _Room, cfg: HouseConfig, blocked: list[Rect]) -> list[Furniture]:
    placed: list[Furniture] = []
    last_on_side: dict[int, tuple[float, float]] = {}
    for ftype, (lmin, lmax), depth, height, shape, where, prob in ROOM_FURNITURE[room.kind]:
        if rng.random() > prob:
            continue
        length = round(rng.uniform(lmin, lmax), 2)
        for _try in range(25):
            f = _sample_piece(
                rng, room, ftype, length, depth, height, shape, where, cfg, last_on_side
            )
            if f is None:
                continue
            c, h, yaw = f.box()
            grown: Rect = (c, h + 0.02, yaw)
            if any(rects_overlap(grown, r) for r in blocked):
                continue
            blocked.append(f.box())
            f.rgba = _varied_colour(rng, f.object_type)
            placed.append(f)
            break
    return placed


def _varied_colour(rng, object_type: str) -> tuple[float, float, float, float]:
    """The type's colour with a per-piece brightness and tint change (+-15 %)."""
    base = np.array([float(v) for v in FURNITURE_RGBA.get(object_type, "0.5 0.5 0.5 1").split()])
    rgb = np.clip(base[:3] * rng.uniform(0.85, 1.15) * rng.uniform(0.92, 1.08, size=3), 0, 1)
    return (*(float(v) for v in rgb), 1.0)


def _paintings(rng, room: _Room, keep_clear: list[Rect]) -> list[Furniture]:
    """0-2 static paintings hung on the room's walls, away from doorways."""
    out: list[Furniture] = []
    inset = WALL_T / 2 + 0.016
    for _ in range(int(rng.choice([0, 1, 1, 2]))):
        width, height = rng.uniform(0.5, 1.1), rng.uniform(0.4, 0.8)
        for _try in range(15):
            side = int(rng.integers(4))
            lo, hi = (room.x0, room.x1) if side in (0, 2) else (room.y0, room.y1)
            if hi - lo < width + 0.4:
                continue
            s = rng.uniform(lo + 0.2 + width / 2, hi - 0.2 - width / 2)
            centre, yaw = {
                0: ((s, room.y0 + inset), 0.0),
                1: ((room.x1 - inset, s), 90.0),
                2: ((s, room.y1 - inset), 180.0),
                3: ((room.x0 + inset, s), -90.0),
            }[side]
            rgb = rng.uniform(0.1, 0.9, size=3)
            f = Furniture(
                "Painting",
                centre,
                (width, 0.03, height),
                yaw,
                elevation=float(rng.uniform(1.1, 1.5)),
                rgba=(*(float(v) for v in rgb), 1.0),
            )
            if not any(rects_overlap(f.box(), r) for r in keep_clear):
                keep_clear.append(f.box())
                out.append(f)
                break
    return out


def _sample_piece(
    rng, room: _Room, ftype, length, depth, height, shape, where, cfg, last_on_side
) -> Furniture | None:
    inset = WALL_T / 2 + 0.01
    rx0, ry0, rx1, ry1 = room.x0 + inset, room.y0 + inset, room.x1 - inset, room.y1 - inset
    if where == "centre":
        yaw = float(rng.choice([0.0, 90.0]))
        hx, hy = (length / 2, depth / 2) if yaw == 0 else (depth / 2, length / 2)
        x_lo, x_hi = rx0 + hx + 0.4, rx1 - hx - 0.4
        y_lo, y_hi = ry0 + hy + 0.4, ry1 - hy - 0.4
        # Compare the bounds themselves: a room exactly as wide as the piece plus clearance
        # can round to hi < lo, which numpy's uniform rejects.
        if x_hi < x_lo or y_hi < y_lo:
            return None
        cx = rng.uniform(x_lo, x_hi)
        cy = rng.uniform(y_lo, y_hi)
        return Furniture(ftype, (cx, cy), (length, depth, height), yaw, shape)
    side = int(rng.integers(4))
    along = (rx0, rx1) if side in (0, 2) else (ry0, ry1)
    if along[1] - along[0] < length + 0.1:
        return None
    if side in last_on_side and rng.random() < cfg.snap_prob:
        lo, hi = last_on_side[side]
        gap = rng.uniform(0.25, 0.6)
        s = hi + gap + length / 2 if rng.random() < 0.5 else lo - gap - length / 2
    else:
        s = rng.uniform(along[0] + length / 2, along[1] - length / 2)
    if not along[0] + length / 2 <= s <= along[1] - length / 2:
        return None
    off = depth / 2
    centre, yaw = {
        0: ((s, ry0 + off), 0.0),
        1: ((rx1 - off, s), 90.0),
        2: ((s, ry1 - off), 180.0),
        3: ((rx0 + off, s), -90.0),
    }[side]
    last_on_side[side] = (s - length / 2, s + length / 2)
    return Furniture(ftype, centre, (length, depth, height), yaw, shape)


def generate_house(seed: int, cfg: HouseConfig | None = None) -> Layout:
    """The house of ``seed`` (same seed and config -> identical layout)."""
    cfg = cfg or HouseConfig()
    rng = np.random.default_rng([int(seed), 2024])
    w = round(rng.uniform(cfg.min_size, cfg.max_size), 1)
    d = round(rng.uniform(cfg.min_size, cfg.max_size), 1)
    n_rooms = int(rng.integers(cfg.min_rooms, cfg.max_rooms + 1))
    rooms, internal = _split_rooms(rng, w, d, n_rooms)
    kinds = (
        list(ROOM_ORDER[:n_rooms]) if n_rooms <= 4 else [ROOM_ORDER[i % 4] for i in range(n_rooms)]
    )
    for room, kind in zip(rooms, rng.permutation(kinds)):
        room.kind = str(kind)
    walls, door_zones = _wall_segments(w, d, internal)
    blocked: list[Rect] = [wall.box() for wall in walls[4:]] + list(door_zones)
    furniture: list[Furniture] = []
    objects: list[ObjectSpec] = []
    hung: list[Rect] = list(door_zones)
    for room in rooms:
        pieces = _place_furniture(rng, room, cfg, blocked)
        furniture += pieces + _paintings(rng, room, hung)
        for f in pieces:
            objects += objects_for(rng, f, room.kind, cfg)
        objects += floor_objects(rng, room, cfg, blocked)
    return Layout(
        walls=walls,
        furniture=furniture,
        objects=objects,
        agent_pose=None,
        name=f"house-{seed}",
        rooms=[(r.kind, r.x0, r.y0, r.x1, r.y1) for r in rooms],
    )
