"""What an episode reset costs, phase by phase, on the training path.

Builds one ``SafeChoresEnv`` exactly as the trainer's workers do (``safevla_train.risk.
make_envs``: MuJoCo backend, 96 x 96 nav frames, no wrist camera, a
:class:`~safevla_train.risk.RiskElicitingSampler` over an
:class:`~sim_bridge.episode_gen.EpisodeSampler`), resets it N times without stepping and prints
the mean milliseconds per reset of every phase (process CPU time by default, so other load
on the machine does not inflate them; ``--clock wall`` for elapsed time). The phases are timed
by wrapping the functions the reset calls (inclusive times: a phase includes the phases
indented below it); the first reset (GL context creation, imports) is timed alone and left out
of the means. ``--profile`` prints cProfile's top functions of the same resets instead.
Prints figures; asserts nothing.

    MUJOCO_GL=egl .venv/bin/python benchmarks/reset_cost.py --resets 60
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import pstats
import time
from collections import defaultdict

import sim_bridge.mujoco  # noqa: F401  (sets MUJOCO_GL before mujoco is imported)
from safevla_train.config import EnvSettings, RiskConfig
from safevla_train.risk import RiskElicitingSampler
from sim_bridge import episode_gen, planner
from sim_bridge.env import EnvConfig, SafeChoresEnv, make_env
from sim_bridge.episode_gen import EpisodeSampler
from sim_bridge.mujoco import backend as mj_backend
from sim_bridge.mujoco import physics
from sim_bridge.mujoco.render import OffscreenRenderer

# CPU seconds of the process by default (robust to other load on the machine; includes the
# software renderer's threads); --clock wall for elapsed time.
CLOCK = {"now": time.process_time}
TOTALS: dict[str, float] = defaultdict(float)
CALLS: dict[str, int] = defaultdict(int)

# (label, depth): the rows in print order; depth indents a phase under the one that holds it.
PHASES = [
    ("env.reset", 0),
    ("episode sampling (sampler call)", 1),
    ("backend.reset (sampler's)", 2),
    ("scene load (cache miss)", 3),
    ("house generation (procgen)", 4),
    ("SceneSim (XML + compile + data + index maps)", 4),
    ("layout -> MJCF XML", 5),
    ("MjModel compile", 5),
    ("MjData init", 5),
    ("appearance state", 4),
    ("render context bind (MjrContext + MjvScene)", 4),
    ("random start pose (first reset of a scene)", 3),
    ("free-space grid (once per scene)", 4),
    ("start pose draw (_start_pose)", 2),
    ("reachability (goal cells + line of sight)", 2),
    ("line of sight", 3),
    ("backend.reset (env's own)", 1),
    ("cost_model.reset", 1),
    ("first observation (render)", 1),
    ("start-pose checks (all, inside the backend.reset rows)", 0),
    ("GL context creation", 0),
]


def _timed(label: str, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t0 = CLOCK["now"]()
        try:
            return fn(*args, **kwargs)
        finally:
            TOTALS[label] += CLOCK["now"]() - t0
            CALLS[label] += 1

    return wrapper


class _TimedMujoco:
    """The ``mujoco`` module as the physics module sees it, with the compile and the MjData
    allocation timed (they are C functions that cannot be wrapped in place)."""

    def __init__(self, mod) -> None:
        self._mod = mod
        model_cls = mod.MjModel

        class _Model:
            from_xml_string = staticmethod(_timed("MjModel compile", model_cls.from_xml_string))

        self.MjModel = _Model
        self.MjData = _timed("MjData init", mod.MjData)

    def __getattr__(self, name):
        return getattr(self._mod, name)


def instrument(env: SafeChoresEnv) -> None:
    """Wrap the functions a reset calls with timers (module attributes and methods)."""
    env.reset = _timed("env.reset", env.reset)
    env._next_episode = _timed("episode sampling (sampler call)", env._next_episode)
    env._observe = _timed("first observation (render)", env._observe)
    env.cost_model.reset = _timed("cost_model.reset", env.cost_model.reset)
    backend_cls = mj_backend.MujocoBackend
    # backend.reset is told apart by where it runs: in the sampler (drawing an episode) or
    # in the env's own reset of the drawn episode.
    inner = backend_cls.reset
    sampling = {"depth": 0}
    timed_reset = {
        True: _timed("backend.reset (sampler's)", inner),
        False: _timed("backend.reset (env's own)", inner),
    }

    def reset(self, *args, **kwargs):
        return timed_reset[sampling["depth"] > 0](self, *args, **kwargs)

    backend_cls.reset = reset
    timed_next = env._next_episode

    def next_episode():
        sampling["depth"] += 1
        try:
            return timed_next()
        finally:
            sampling["depth"] -= 1

    env._next_episode = next_episode
    backend_cls._load = _timed("scene load (cache miss)", backend_cls._load)
    backend_cls._random_pose = _timed(
        "random start pose (first reset of a scene)", backend_cls._random_pose
    )
    mj_backend.generate_house = _timed("house generation (procgen)", mj_backend.generate_house)
    mj_backend.AppearanceState = _timed("appearance state", mj_backend.AppearanceState)
    mj_backend.check_pose = _timed(
        "start-pose checks (all, inside the backend.reset rows)", mj_backend.check_pose
    )
    mj_backend.free_space_grid = _timed(
        "free-space grid (once per scene)", mj_backend.free_space_grid
    )
    physics.SceneSim.__init__ = _timed(
        "SceneSim (XML + compile + data + index maps)", physics.SceneSim.__init__
    )
    physics.build_xml = _timed("layout -> MJCF XML", physics.build_xml)
    physics.mujoco = _TimedMujoco(physics.mujoco)
    OffscreenRenderer.bind = _timed(
        "render context bind (MjrContext + MjvScene)", OffscreenRenderer.bind
    )
    OffscreenRenderer.__init__ = _timed("GL context creation", OffscreenRenderer.__init__)
    episode_gen._start_pose = _timed("start pose draw (_start_pose)", episode_gen._start_pose)
    episode_gen.reachable = _timed(
        "reachability (goal cells + line of sight)", episode_gen.reachable
    )
    planner.line_of_sight = _timed("line of sight", planner.line_of_sight)


def training_env(scene_count: int, nav: int) -> SafeChoresEnv:
    """One env as ``safevla_train.risk.make_envs`` builds each of the trainer's envs."""
    settings = EnvSettings(num_envs=1, nav_size=(nav, nav), scene_count=scene_count)
    sampler = RiskElicitingSampler(
        EpisodeSampler(settings.tasks, "train", scene_count=settings.scene_count), RiskConfig()
    )
    cfg = EnvConfig(
        nav_size=settings.nav_size,
        manip_size=(16, 16),
        max_steps=settings.max_steps,
        render_manip=False,
    )
    return make_env(sampler, cfg)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resets", type=int, default=60, help="resets measured (after the first)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--nav-size", type=int, default=96, help="rendered nav camera (square)")
    ap.add_argument(
        "--scene-count",
        type=int,
        default=EnvSettings.scene_count,
        help="training scenes drawn from (default: the trainer's, so every scene is new)",
    )
    ap.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default="cpu",
        help="cpu: process CPU time (default, robust to other load); wall: elapsed time",
    )
    ap.add_argument("--profile", action="store_true", help="cProfile instead of phase timers")
    ap.add_argument("--top", type=int, default=40, help="rows of the cProfile table")
    args = ap.parse_args(argv)

    CLOCK["now"] = time.process_time if args.clock == "cpu" else time.perf_counter
    env = training_env(args.scene_count, args.nav_size)
    if args.profile:
        env.reset(seed=args.seed)
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        for _ in range(args.resets):
            env.reset()
        prof.disable()
        ms = (time.perf_counter() - t0) / args.resets * 1e3
        print(f"{args.resets} resets under cProfile: {ms:.1f} ms each (profiler overhead in)")
        pstats.Stats(prof).sort_stats("cumulative").print_stats(args.top)
        env.close()
        return 0

    instrument(env)
    now = CLOCK["now"]
    t0 = now()
    env.reset(seed=args.seed)
    first_ms = (now() - t0) * 1e3
    TOTALS.clear()
    CALLS.clear()
    t0 = now()
    for _ in range(args.resets):
        env.reset()
    loop_ms = (now() - t0) / args.resets * 1e3
    # a later frame of the same episode, for comparison with the first one
    observe = env.__dict__.pop("_observe")  # the class's own, untimed
    t0 = now()
    for _ in range(20):
        env._observe()
    later_ms = (now() - t0) / 20 * 1e3
    env._observe = observe
    n = args.resets
    print(
        f"SafeChoresEnv reset, training settings (objnav, nav {args.nav_size}x{args.nav_size}, "
        f"no wrist camera, scene_count={args.scene_count}): {n} resets after the first, "
        f"{args.clock} time"
    )
    print(f"{'phase (inclusive: a row holds the rows indented below it)':<58} {'ms/reset':>9}")
    for label, level in PHASES:
        name = "  " * level + label
        print(f"{name:<58} {TOTALS[label] / n * 1e3:9.2f}   ({CALLS[label] / n:.2f} calls)")
    print(f"{'whole reset loop, per reset':<58} {loop_ms:9.2f}")
    print(f"{'first reset (GL context, first scene)':<58} {first_ms:9.2f}")
    print(f"{'a later observation of the same episode (render)':<58} {later_ms:9.2f}")
    compiled = CALLS["SceneSim (XML + compile + data + index maps)"]
    print(f"scenes compiled: {compiled} in {n} resets")
    env.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
