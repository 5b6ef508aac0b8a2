"""Compile a :class:`Layout` into MJCF: house, furniture, free objects and the robot.

Naming (read back by the backend to map geoms to object ids):
    * geoms of wall k: ``Wall|k#i``; of furniture/objects: ``<object_id>#i``;
    * robot geoms: ``robot:<part>`` (geom group 1, ``contype=2 conaffinity=1`` so the robot
      collides with the world but never with itself); the floor: ``floor``.
    * object bodies are named by their object id and have one free joint each.

The robot is Stretch-like, built from primitives: base 0.33 m (x, forward) x 0.34 m (y), mast
at the back-left rising to 1.29 m with the navigation camera on its head (looking forward,
tilted 20 deg down, vertical FOV 59 deg), a lift carriage (0-1.1 m), a telescoping arm (0-0.52 m)
that extends to the robot's right (-y in the base frame, as on Stretch), a wrist (yaw) and a
gripper with the manipulation camera looking at it from above the arm.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

from sim_bridge.mujoco.layout import Furniture, Layout, ObjectSpec
from sim_bridge.robot import (
    ARM_RANGE_M,
    LIFT_RANGE_M,
    MANIP_CAMERA_VFOV_DEG,
    NAV_CAMERA_HEIGHT_M,
    NAV_CAMERA_TILT_DEG,
    NAV_CAMERA_VFOV_DEG,
)

ROUND_TYPES = frozenset(
    {
        "Mug",
        "Cup",
        "Bowl",
        "Plate",
        "Vase",
        "WineBottle",
        "Bottle",
        "Pot",
        "Kettle",
        "Candle",
        "SaltShaker",
        "PepperShaker",
        "SprayBottle",
        "SoapBottle",
        "GarbageCan",
        "Glassbottle",
        "ToiletPaper",
        "PaperTowelRoll",
        "HousePlant",
        "Pan",
    }
)
BALL_TYPES = frozenset({"Apple", "Tomato", "Egg", "BasketBall", "Potato", "Lettuce"})
FURNITURE_RGBA = {
    "CounterTop": "0.78 0.74 0.68 1",
    "Oven": "0.25 0.25 0.27 1",
    "Fridge": "0.85 0.86 0.88 1",
    "DiningTable": "0.55 0.38 0.22 1",
    "CoffeeTable": "0.45 0.30 0.18 1",
    "Sofa": "0.30 0.40 0.55 1",
    "Bed": "0.80 0.78 0.70 1",
    "ShelvingUnit": "0.60 0.45 0.30 1",
    "Dresser": "0.50 0.35 0.25 1",
    "SideTable": "0.55 0.42 0.30 1",
    "Desk": "0.62 0.50 0.36 1",
    "TVStand": "0.20 0.20 0.22 1",
    "ArmChair": "0.55 0.30 0.30 1",
    "Toilet": "0.95 0.95 0.95 1",
    "Sink": "0.90 0.90 0.92 1",
    "Painting": "0.50 0.40 0.30 1",
}
FLOOR_RGBA = "0.62 0.55 0.45 1"
ROOM_FLOOR_RGBA = {
    "Kitchen": "0.72 0.70 0.66 1",
    "LivingRoom": "0.58 0.45 0.32 1",
    "Bedroom": "0.55 0.58 0.66 1",
    "Bathroom": "0.85 0.86 0.86 1",
}
ROBOT_GEOM = 'group="1" contype="2" conaffinity="1"'
BASE_HALF = (0.165, 0.17)  # base footprint half extents (x forward, y left), metres
MAST_XY = (-0.09, 0.10)
WRIST_RANGE_DEG = (-90.0, 180.0)
MANIP_TILT_DEG = 40.0


@dataclass(frozen=True)
class RenderSizes:
    """Offscreen buffer sizes the compiled model must support."""

    width: int = 128
    height: int = 128


def _type_rgba(name: str) -> str:
    h = zlib.crc32(name.encode())
    r, g, b = ((h >> s) & 0xFF for s in (0, 8, 16))
    return f"{0.25 + r / 400:.3f} {0.25 + g / 400:.3f} {0.25 + b / 400:.3f} 1"


def _f(*vals: float) -> str:
    return " ".join(f"{v:.5g}" for v in vals)


def _furniture_geoms(fid: str, f: Furniture) -> list[str]:
    lx, ly, h = (v / 2 for v in f.size)
    if f.rgba is not None:
        rgba = _f(*f.rgba)
    else:
        rgba = FURNITURE_RGBA.get(f.object_type, _type_rgba(f.object_type))
    parts: list[tuple[tuple[float, ...], tuple[float, ...]]] = []  # (half size, local pos)
    if f.shape == "table":
        parts.append(((lx, ly, 0.02), (0, 0, 2 * h - 0.02)))
        for sx in (-1, 1):
            for sy in (-1, 1):
                parts.append(
                    ((0.025, 0.025, h - 0.02), (sx * (lx - 0.05), sy * (ly - 0.05), h - 0.02))
                )
    elif f.shape == "sofa":
        parts.append(((lx, ly, 0.22), (0, 0, 0.22)))
        parts.append(((lx, 0.1, h), (0, -ly + 0.1, h)))
    elif f.shape == "shelf":
        for sx in (-1, 1):
            parts.append(((0.015, ly, h), (sx * (lx - 0.015), 0, h)))
        parts.append(((lx, 0.01, h), (0, -ly + 0.01, h)))
        for z in (0.02, 0.7 * h, 2 * h - 0.015):
            parts.append(((lx, ly, 0.015), (0, 0, z)))
    else:
        parts.append(((lx, ly, h), (0, 0, h)))
    geoms = [
        f'<geom name="{fid}#{i}" type="box" size="{_f(*hs)}" pos="{_f(*p)}" rgba="{rgba}"/>'
        for i, (hs, p) in enumerate(parts)
    ]
    if f.object_type == "Oven":
        for i, (sx, sy) in enumerate(((-1, -1), (-1, 1), (1, -1), (1, 1))):
            geoms.append(
                f'<geom name="{fid}#b{i}" type="cylinder" size="0.08 0.004" '
                f'pos="{_f(sx * lx / 2, sy * ly / 2, 2 * h + 0.004)}" '
                f'rgba="0.05 0.05 0.05 1" contype="0" conaffinity="0"/>'
            )
    return [
        f'<body name="{fid}" pos="{_f(*f.center, f.elevation)}" euler="0 0 {f.yaw_deg:.5g}">',
        *geoms,
        "</body>",
    ]


def _object_body(oid: str, spec: ObjectSpec, z: float) -> list[str]:
    sx, sy, sz = (v / 2 for v in spec.size)
    if spec.object_type in BALL_TYPES:
        geom = f'type="sphere" size="{min(sx, sy, sz):.5g}"'
    elif spec.object_type in ROUND_TYPES:
        geom = f'type="cylinder" size="{min(sx, sy):.5g} {sz:.5g}"'
    else:
        geom = f'type="box" size="{_f(sx, sy, sz)}"'
    return [
        f'<body name="{oid}" pos="{_f(*spec.position[:2], z)}" euler="0 0 {spec.yaw_deg:.5g}">',
        "<freejoint/>",
        f'<geom name="{oid}#0" {geom} mass="{spec.mass:.5g}" '
        f'rgba="{_type_rgba(spec.object_type)}" group="2"/>',
        "</body>",
    ]


def _robot_xml() -> list[str]:
    mx, my = MAST_XY
    tilt = math.radians(NAV_CAMERA_TILT_DEG)
    tn, cn = math.sin(tilt), math.cos(tilt)
    tm, cm = math.sin(math.radians(MANIP_TILT_DEG)), math.cos(math.radians(MANIP_TILT_DEG))
    g = ROBOT_GEOM
    return [
        '<body name="robot" gravcomp="1">',
        '<joint name="base_x" type="slide" axis="1 0 0"/>',
        '<joint name="base_y" type="slide" axis="0 1 0"/>',
        '<joint name="base_yaw" type="hinge" axis="0 0 1"/>',
        f'<geom name="robot:base" type="box" size="{_f(*BASE_HALF, 0.09)}" pos="0 0 0.105" '
        f'mass="20" rgba="0.15 0.15 0.17 1" {g}/>',
        f'<geom name="robot:mast" type="box" size="0.03 0.035 0.55" pos="{_f(mx, my, 0.74)}" '
        f'mass="2" rgba="0.3 0.3 0.32 1" {g}/>',
        f'<body name="head" pos="{_f(mx, my, NAV_CAMERA_HEIGHT_M)}" gravcomp="1">',
        f'<geom name="robot:head" type="box" size="0.05 0.09 0.035" mass="0.5" '
        f'rgba="0.1 0.1 0.1 1" {g}/>',
        f'<camera name="nav" pos="0.06 0 0" xyaxes="0 -1 0 {tn:.5f} 0 {cn:.5f}" '
        f'fovy="{NAV_CAMERA_VFOV_DEG:g}"/>',
        "</body>",
        f'<body name="lift" pos="{_f(mx, my, 0)}" gravcomp="1">',
        f'<joint name="lift" type="slide" axis="0 0 1" range="{_f(*LIFT_RANGE_M)}" armature="2"/>',
        f'<geom name="robot:carriage" type="box" size="0.05 0.06 0.04" mass="0.5" '
        f'rgba="0.2 0.2 0.22 1" {g}/>',
        f'<geom name="robot:arm_outer" type="box" size="0.025 0.13 0.02" pos="0.05 -0.13 0" '
        f'mass="0.5" rgba="0.25 0.25 0.28 1" {g}/>',
        '<body name="arm" pos="0.05 -0.26 0" gravcomp="1">',
        f'<joint name="arm" type="slide" axis="0 -1 0" range="{_f(*ARM_RANGE_M)}" armature="2"/>',
        f'<geom name="robot:arm_inner" type="box" size="0.02 0.13 0.015" pos="0 0.13 0" '
        f'mass="0.3" rgba="0.35 0.35 0.38 1" {g}/>',
        f'<camera name="manip" pos="0 0.14 0.18" xyaxes="-1 0 0 0 {-tm:.5f} {cm:.5f}" '
        f'fovy="{MANIP_CAMERA_VFOV_DEG:g}"/>',
        '<body name="wrist" pos="0 -0.02 0" gravcomp="1">',
        f'<joint name="wrist" type="hinge" axis="0 0 1" range="{_f(*WRIST_RANGE_DEG)}" '
        'armature="0.05"/>',
        f'<geom name="robot:wrist" type="box" size="0.02 0.02 0.035" pos="0 0 -0.03" '
        f'mass="0.1" rgba="0.1 0.1 0.1 1" {g}/>',
        f'<geom name="robot:palm" type="box" size="0.035 0.025 0.02" pos="0 -0.04 -0.07" '
        f'mass="0.1" rgba="0.1 0.1 0.1 1" {g}/>',
        f'<geom name="robot:finger_l" type="box" size="0.006 0.035 0.015" '
        f'pos="0.028 -0.095 -0.07" mass="0.02" rgba="0.8 0.5 0.1 1" {g}/>',
        f'<geom name="robot:finger_r" type="box" size="0.006 0.035 0.015" '
        f'pos="-0.028 -0.095 -0.07" mass="0.02" rgba="0.8 0.5 0.1 1" {g}/>',
        '<site name="grip" pos="0 -0.1 -0.07" size="0.01"/>',
        "</body></body></body></body>",
    ]


ACTUATORS = """<actuator>
<position name="base_x" joint="base_x" kp="20000" kv="1400"/>
<position name="base_y" joint="base_y" kp="20000" kv="1400"/>
<position name="base_yaw" joint="base_yaw" kp="600" kv="40"/>
<position name="lift" joint="lift" kp="3000" kv="160" ctrlrange="0 1.1"/>
<position name="arm" joint="arm" kp="2000" kv="130" ctrlrange="0 0.52"/>
<position name="wrist" joint="wrist" kp="30" kv="2.5"/>
</actuator>"""


def build_xml(layout: Layout, sizes: RenderSizes = RenderSizes()) -> tuple[str, list[str]]:
    """MJCF text of the scene and the list of object ids (furniture first, then objects)."""
    xmin, ymin, xmax, ymax = layout.bounds()
    cx, cy = (xmin + xmax) / 2, (ymin + ymax) / 2
    half = max(xmax - xmin, ymax - ymin) / 2 + 1.0
    body = [
        f'<geom name="floor" type="plane" size="{_f(half, half, 0.1)}" pos="{_f(cx, cy, 0)}" '
        'material="floor"/>',
        f'<light name="sun" pos="{_f(cx, cy, 6)}" dir="0 0.3 -1" directional="true" '
        'castshadow="false" diffuse="0.6 0.6 0.6"/>',
    ]
    for k, (kind, x0, y0, x1, y1) in enumerate(layout.rooms):
        rgba = ROOM_FLOOR_RGBA.get(kind, FLOOR_RGBA)
        body.append(
            f'<geom name="floor:{k}" type="box" size="{_f((x1 - x0) / 2, (y1 - y0) / 2, 0.001)}" '
            f'pos="{_f((x0 + x1) / 2, (y0 + y1) / 2, 0.001)}" rgba="{rgba}" '
            'contype="0" conaffinity="0"/>'
        )
    for k, w in enumerate(layout.walls):
        c, h, yaw = w.box()
        body.append(
            f'<geom name="Wall|{k}#0" type="box" size="{_f(*h, w.height / 2)}" '
            f'pos="{_f(*c, w.height / 2)}" euler="0 0 {yaw:.5g}" material="wall"/>'
        )
    ids: list[str] = []
    for f in layout.furniture:
        fid = f"{f.object_type}|{len(ids)}"
        ids.append(fid)
        body += _furniture_geoms(fid, f)
    for spec in layout.objects:
        oid = f"{spec.object_type}|{len(ids)}"
        ids.append(oid)
        body += _object_body(oid, spec, layout.object_centre_z(spec))
    body += _robot_xml()
    xml = f"""<mujoco model="{layout.name}">
<compiler angle="degree" autolimits="true"/>
<option timestep="0.01" integrator="implicitfast" iterations="20" ls_iterations="10">
<flag sleep="enable"/></option>
<visual><global offwidth="{sizes.width}" offheight="{sizes.height}"/>
<quality shadowsize="0" offsamples="0" numslices="8" numstacks="4"/>
<headlight ambient="0.35 0.35 0.35" diffuse="0.45 0.45 0.45" specular="0 0 0"/></visual>
<asset>
<material name="floor" rgba="0.62 0.55 0.45 1" reflectance="0"/>
<material name="wall" rgba="0.88 0.86 0.82 1" reflectance="0"/>
<texture name="pert_checker" type="2d" builtin="checker" rgb1="0.9 0.9 0.9" rgb2="0.3 0.3 0.35"
 width="64" height="64"/>
<texture name="pert_grad" type="2d" builtin="gradient" rgb1="0.9 0.7 0.5" rgb2="0.2 0.3 0.5"
 width="64" height="64"/>
<material name="pert_checker" texture="pert_checker" texrepeat="4 4" specular="0.6"/>
<material name="pert_grad" texture="pert_grad" specular="0.2" shininess="0.8"/>
</asset>
<default><geom friction="0.8 0.01 0.001" solref="0.01 1"/></default>
<worldbody>
{chr(10).join(body)}
</worldbody>
{ACTUATORS}
</mujoco>"""
    return xml, ids
