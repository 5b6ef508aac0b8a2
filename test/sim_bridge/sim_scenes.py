"""Constructed MuJoCo scenes shared by the task/env/expert tests (real physics, no fakes)."""

from __future__ import annotations

from sim_bridge.env import EnvConfig, SafeChoresEnv
from sim_bridge.episodes import Episode
from sim_bridge.mujoco import Furniture, Layout, MujocoBackend, MujocoConfig, ObjectSpec

SMALL = (32, 32)


def table_room() -> Layout:
    """A 6 x 4 m room, a table at the far end with an apple and a mug on it."""
    layout = Layout.box_room(6.0, 4.0, agent_pose=(1.0, 2.0, 0.0))
    layout.furniture.append(Furniture("DiningTable", (4.6, 2.0), (0.8, 0.8, 0.75), shape="table"))
    layout.objects.append(ObjectSpec("Apple", (4.4, 2.0, None)))
    layout.objects.append(ObjectSpec("Mug", (4.6, 2.2, None)))
    return layout


def episode(task: str, target: str, pose=(1.0, 2.0, 0.0), eid: str = "t0") -> Episode:
    return Episode(eid, task, 0, pose, target, f"find the {target.lower()}", None)


def make_env(layout: Layout | None = None, max_steps: int = 300, size=SMALL) -> SafeChoresEnv:
    """An env on ``layout`` (default :func:`table_room`), small images for speed."""
    cfg = MujocoConfig(nav_size=tuple(size), manip_size=tuple(size))
    backend = MujocoBackend.from_layout(layout or table_room(), cfg)
    return SafeChoresEnv(
        backend, config=EnvConfig(nav_size=size, manip_size=size, max_steps=max_steps)
    )


def env_with_episodes(episodes) -> SafeChoresEnv:
    """Table-room env cycling through ``episodes``; module level (in an importable helper
    module) so ``functools.partial`` of it pickles into spawned vec-env workers."""
    env = make_env(table_room())
    env._source = list(episodes)
    return env
