"""Embedded MuJoCo simulator: procedural THOR-like houses and a Stretch-like robot.

``MujocoBackend`` implements ``sim_bridge.backend.Backend`` (read its conventions: world frame
x, y ground / z up, yaw in degrees counter-clockwise from +x, RGB uint8 images).

Procedural houses::

    from sim_bridge.mujoco import MujocoBackend, MujocoConfig
    env = MujocoBackend(MujocoConfig(nav_size=(128, 128)))  # (H, W)
    env.reset(scene_seed=17)            # same seed -> identical house and start pose
    out = env.step(0)                   # move_ahead, through physics -> StepOutcome
    frame = env.render("nav")           # (128, 128, 3) uint8; "manip" = gripper camera
    env.objects(), env.agent(), env.visible_objects(4.0), env.free_space()
    env.layout                          # the scene's Layout (rooms, walls, furniture, objects)
    env.gripper_position()              # world (x, y, z) of the grip point

Houses (``procgen.generate_house``) have 2-4 rooms (6-10 m a side) joined by doorways, furniture
as static bodies (counters, an oven range, fridge, tables, sofa, shelves, beds, ...) and free THOR
objects with THOR sizes, masses and flags (from ``sim_bridge/data/thor_object_catalog.json``,
derived from the ``procthor`` wheel's real THOR metadata). Tight gaps between furniture, clusters
of >= 3 fragile objects on tables/counters, knives on counters and the oven range (dangerous
equipment) occur naturally. Paintings (static, wall-mounted) and per-piece colour changes add
visual variety.

Constructed scenes (for cost-model tests and scripted tasks) -- a :class:`Layout`::

    from sim_bridge.mujoco import Furniture, Layout, MujocoBackend, ObjectSpec
    layout = Layout.box_room(4.0, 4.0, agent_pose=(1.0, 2.0, 0.0))   # walls Wall|0..3
    layout.furniture.append(Furniture("DiningTable", (2.0, 2.0), (1.2, 0.8, 0.75),
                                      shape="table"))                 # id DiningTable|0
    for dy in (-0.1, 0.0, 0.1):                                        # 3 wine glasses
        layout.objects.append(ObjectSpec("WineBottle", (1.7, 2.0 + dy, None)))
    env = MujocoBackend.from_layout(layout)   # already reset; reset() reloads the layout

* Ids: walls ``Wall|k`` (list order), furniture then objects ``<Type>|k`` with one counter
  (furniture 0..F-1, objects F..). ``Wall(start, end, thickness, height)`` adds walls.
* ``ObjectSpec.position`` z ``None`` rests the object on the furniture top under it (or the
  floor); size, mass, pickupable, fragile (THOR breakable) and dangerous
  (the safety spec's dangerous types) default from the THOR catalog and can be overridden.
* ``Furniture(type, centre, (length, depth, height), yaw_deg, shape)``: shape "box", "table"
  (top + legs), "sofa" (seat + back at local -y), "shelf"; ``dangerous`` defaults by type.
* ``agent_pose=(x, y, yaw_deg)``; ``reset(seed, start_pose)`` overrides it. A pose that puts the
  base (or the retracted arm, for tall obstacles) inside a wall or furniture, or off the map,
  raises ValueError naming the pose.

Robot (``scene_xml``): base 0.33 x 0.34 m, mast 1.1 m with the navigation camera on its head
(forward, 20 deg down, vertical FOV 59 deg), lift 0-1.1 m, arm 0-0.52 m extending to the robot's
right, wrist yaw, gripper with the manipulation camera. Actions move position actuators along
smooth references through physics (``physics.SceneSim.drive``), so walls block the base and
bumped objects get pushed; ``pickup`` welds the nearest pickupable object within
``grasp_radius`` of the grip point, ``dropoff`` releases it. ``StepOutcome`` reports robot
contacts with anything but the floor (and the held object).

Perturbations (OOD tests): ``env.set_perturbation(lighting=0.4, color_shift=True,
material=True, camera_noise=8.0, blur=3, seed=1)`` or a :class:`Perturbation`; deterministic per
seed; ``env.set_perturbation()`` restores the original look. They persist across resets.

Rendering is offscreen; ``MUJOCO_GL`` defaults to ``egl`` when unset (``osmesa`` also works).
MuJoCo reads it when first imported, so import this package before ``mujoco`` (or set it). One
OpenGL context per backend is kept across scenes (a new scene only re-binds an ``MjrContext``).

Speed (2-core CPU, llvmpipe; ``python benchmarks/sim_steps.py``): default images 128 x 128; one
action ~0.5-0.7 ms of physics (38 steps of 10 ms with sleeping), a 128^2 frame ~0.7-1.5 ms, so
~550-600 env steps/s with the nav camera and ~340/s with nav + manip per process; a reset to a
new house ~30 ms (generate ~13 ms, compile ~10 ms), to a cached one ~5 ms. Cycling through
many houses grows the process by ~80 MB before it levels off (glibc heap fragmentation from
per-scene models); ``MALLOC_MMAP_THRESHOLD_=131072`` in the environment keeps it flat.
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")

from sim_bridge.mujoco.backend import MujocoBackend, MujocoConfig
from sim_bridge.mujoco.layout import Furniture, Layout, ObjectSpec, Wall
from sim_bridge.mujoco.perturb import Perturbation
from sim_bridge.mujoco.procgen import HouseConfig, generate_house

__all__ = [
    "Furniture",
    "HouseConfig",
    "Layout",
    "MujocoBackend",
    "MujocoConfig",
    "ObjectSpec",
    "Perturbation",
    "Wall",
    "generate_house",
]
