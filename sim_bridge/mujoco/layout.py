"""Scene layouts: the plain description a MuJoCo scene is compiled from.

Procedurally generated houses (``procgen.generate_house``) and hand-constructed test scenes
(``MujocoBackend.from_layout``) are both a :class:`Layout`: walls, static furniture boxes, free
objects and an optional agent pose, all in the world frame of ``sim_bridge.backend`` (x, y on
the ground, z up, metres, yaw in degrees counter-clockwise from +x).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sim_bridge.mujoco.catalog import is_dangerous, object_type

# Furniture shapes: "box" (solid), "table" (top slab + 4 legs), "sofa" (seat + back),
# "shelf" (open frame with 3 boards).
FURNITURE_SHAPES = ("box", "table", "sofa", "shelf")


def _vec(name: str, value, n: int) -> tuple[float, ...]:
    arr = np.asarray(value, dtype=float).reshape(-1)
    if arr.shape != (n,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be {n} finite numbers, got {value!r}")
    return tuple(float(v) for v in arr)


@dataclass
class Wall:
    """A straight wall segment (a box from ``start`` to ``end``).

    Attributes:
        start: (x, y) of one end of the centre line.
        end: (x, y) of the other end.
        thickness: metres.
        height: metres.
    """

    start: tuple[float, float]
    end: tuple[float, float]
    thickness: float = 0.1
    height: float = 2.5

    def __post_init__(self) -> None:
        self.start = _vec("Wall.start", self.start, 2)
        self.end = _vec("Wall.end", self.end, 2)
        if math.dist(self.start, self.end) < 1e-3:
            raise ValueError(f"wall from {self.start} to {self.end} has zero length")
        if self.thickness <= 0 or self.height <= 0:
            raise ValueError(
                f"wall thickness/height must be > 0, got {self.thickness}, {self.height}"
            )

    def box(self) -> tuple[np.ndarray, np.ndarray, float]:
        """(centre (2,), half extents (2,), yaw_deg) of the wall's footprint rectangle."""
        a, b = np.array(self.start), np.array(self.end)
        d = b - a
        length = float(np.linalg.norm(d))
        yaw = math.degrees(math.atan2(d[1], d[0]))
        return (a + b) / 2, np.array([length / 2 + self.thickness / 2, self.thickness / 2]), yaw


@dataclass
class Furniture:
    """A static piece of furniture (never moved by physics).

    Attributes:
        object_type: THOR objectType ("CounterTop", "DiningTable", "Sofa", "Oven", ...).
        center: (x, y) of the footprint centre.
        size: (length along local x, depth along local y, height), metres.
        yaw_deg: rotation about z.
        shape: one of ``FURNITURE_SHAPES``.
        dangerous: None = per the safety spec (``catalog.is_dangerous``).
        elevation: height of the bottom above the floor, metres (e.g. a painting on a wall).
        rgba: colour (r, g, b, a) in [0, 1]; None = the type's default colour.
    """

    object_type: str
    center: tuple[float, float]
    size: tuple[float, float, float]
    yaw_deg: float = 0.0
    shape: str = "box"
    dangerous: bool | None = None
    elevation: float = 0.0
    rgba: tuple[float, float, float, float] | None = None

    def __post_init__(self) -> None:
        self.center = _vec(f"{self.object_type}.center", self.center, 2)
        self.size = _vec(f"{self.object_type}.size", self.size, 3)
        if min(self.size) <= 0:
            raise ValueError(f"furniture {self.object_type} size must be > 0, got {self.size}")
        if self.shape not in FURNITURE_SHAPES:
            raise ValueError(f"furniture shape {self.shape!r} unknown; use {FURNITURE_SHAPES}")
        if self.dangerous is None:
            self.dangerous = is_dangerous(self.object_type)
        if not (math.isfinite(self.elevation) and self.elevation >= 0):
            raise ValueError(
                f"furniture {self.object_type} elevation must be >= 0, got {self.elevation}"
            )
        if self.rgba is not None:
            self.rgba = _vec(f"{self.object_type}.rgba", self.rgba, 4)
            if min(self.rgba) < 0 or max(self.rgba) > 1:
                raise ValueError(
                    f"furniture {self.object_type} rgba must be in [0, 1], got {self.rgba}"
                )

    @property
    def top(self) -> float:
        """Height of the top surface above the floor, metres."""
        return self.elevation + self.size[2]

    def box(self) -> tuple[np.ndarray, np.ndarray, float]:
        """(centre (2,), half extents (2,), yaw_deg) of the footprint rectangle."""
        return np.array(self.center), np.array(self.size[:2]) / 2, self.yaw_deg

    def contains(self, x: float, y: float, margin: float = 0.0) -> bool:
        """True if (x, y) lies over the footprint shrunk by ``margin``.

        Plain float arithmetic on the fields (the same operations as on :meth:`box`'s arrays,
        without building them: surface heights ask this for every piece and object)."""
        t = math.radians(self.yaw_deg)
        dx, dy = float(x) - self.center[0], float(y) - self.center[1]
        lx = math.cos(t) * dx + math.sin(t) * dy
        ly = -math.sin(t) * dx + math.cos(t) * dy
        return abs(lx) <= self.size[0] / 2 - margin and abs(ly) <= self.size[1] / 2 - margin


@dataclass
class ObjectSpec:
    """A free (physics-driven) object.

    Attributes:
        object_type: THOR objectType; size, mass and flags default to the THOR catalog.
        position: (x, y, z) centre; z None = resting on the furniture top (or floor) below.
        yaw_deg: rotation about z.
        size: (x, y, z) extent in the object's frame; None = catalog (long, short, height).
        mass: kg; None = catalog.
        pickupable / fragile / dangerous: None = catalog / THOR breakable / safety spec.
    """

    object_type: str
    position: tuple[float, float, float | None]
    yaw_deg: float = 0.0
    size: tuple[float, float, float] | None = None
    mass: float | None = None
    pickupable: bool | None = None
    fragile: bool | None = None
    dangerous: bool | None = None

    def __post_init__(self) -> None:
        info = object_type(self.object_type)
        pos = list(self.position)
        if len(pos) != 3:
            raise ValueError(f"{self.object_type}.position must be (x, y, z|None), got {pos}")
        z = pos[2]
        self.position = (*_vec(f"{self.object_type}.position", pos[:2], 2), z)
        self.size = _vec(f"{self.object_type}.size", self.size or info.size, 3)
        if min(self.size) <= 0:
            raise ValueError(f"object {self.object_type} size must be > 0, got {self.size}")
        self.mass = float(self.mass if self.mass is not None else info.mass)
        if self.mass <= 0:
            raise ValueError(f"object {self.object_type} mass must be > 0, got {self.mass}")
        for flag, default in (
            ("pickupable", info.pickupable),
            ("fragile", info.fragile),
            ("dangerous", info.dangerous),
        ):
            if getattr(self, flag) is None:
                setattr(self, flag, default)


@dataclass
class Layout:
    """A whole scene.

    Attributes:
        walls: wall segments (ids "Wall|k" in list order).
        furniture: static furniture (ids "<Type>|<k>").
        objects: free objects (ids "<Type>|<k>", k continuing after the furniture).
        agent_pose: (x, y, yaw_deg) start pose, or None (seeded random free pose).
        name: free text (e.g. "house-17").
        rooms: optional (name, xmin, ymin, xmax, ymax) room rectangles, informational.
    """

    walls: list[Wall] = field(default_factory=list)
    furniture: list[Furniture] = field(default_factory=list)
    objects: list[ObjectSpec] = field(default_factory=list)
    agent_pose: tuple[float, float, float] | None = None
    name: str = "layout"
    rooms: list[tuple[str, float, float, float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.agent_pose is not None:
            self.agent_pose = _vec("agent_pose", self.agent_pose, 3)

    @classmethod
    def box_room(cls, width: float, depth: float, **kwargs) -> Layout:
        """An empty rectangular room [0, width] x [0, depth] with four walls."""
        if width <= 0.5 or depth <= 0.5:
            raise ValueError(f"box_room needs width, depth > 0.5 m, got {width}, {depth}")
        w, d = float(width), float(depth)
        walls = [
            Wall((0, 0), (w, 0)),
            Wall((w, 0), (w, d)),
            Wall((w, d), (0, d)),
            Wall((0, d), (0, 0)),
        ]
        return cls(walls=walls, rooms=[("Room", 0.0, 0.0, w, d)], **kwargs)

    def bounds(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) over walls and furniture."""
        pts = [p for w in self.walls for p in (w.start, w.end)]
        pts += [f.center for f in self.furniture]
        if not pts:
            raise ValueError(f"layout {self.name!r} has no walls or furniture")
        arr = np.array(pts)
        return (*arr.min(axis=0), *arr.max(axis=0))

    def surface_height(self, x: float, y: float) -> float:
        """Top height of the highest floor-standing furniture under (x, y), or 0 (the floor).

        Wall-mounted pieces (``elevation > 0``, e.g. paintings) are not surfaces."""
        tops = [f.top for f in self.furniture if f.elevation == 0 and f.contains(x, y)]
        return max(tops, default=0.0)

    def object_centre_z(self, spec: ObjectSpec) -> float:
        """The z of an object's centre (resolving ``position[2] is None``)."""
        if spec.position[2] is not None:
            return float(spec.position[2])
        return self.surface_height(*spec.position[:2]) + spec.size[2] / 2 + 0.002
