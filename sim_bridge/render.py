"""Roll out one episode and draw it: first-person frames and a top-down cost map.

:func:`rollout` runs a policy (any callable ``(env, obs) -> action``, e.g. a built-in one from
:func:`sim_bridge.policies.make_policy`: ``expert:careful``, ``expert:careless``, ``random``)
through :class:`~sim_bridge.env.SafeChoresEnv` and records the robot's path, the cost events
(step, position, categories) and every k-th navigation frame. It draws; it does not score:
success rates and cost metrics come from the evaluator (:mod:`safevla_eval`).
:func:`draw_topdown` draws the free-space grid (walls and furniture dark), furniture outlines,
objects (fragile blue, dangerous red, target gold star), the path, and each cost event marked by
category; :func:`render_episode` writes both as PNGs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from safevla_core.safety_spec import COST_CATEGORIES
from sim_bridge.env import SafeChoresEnv
from sim_bridge.policies import canonical_policy, make_policy

CATEGORY_STYLE = {
    "corner": ("s", "tab:orange"),
    "blind_spot": ("v", "tab:purple"),
    "dangerous_equipment": ("X", "tab:red"),
    "fragile_collection": ("D", "tab:blue"),
    "critical_point": ("o", "tab:pink"),
}


@dataclass
class Trajectory:
    """What one rollout did.

    Attributes:
        poses: (x, y, yaw_deg) after reset and after every step.
        actions: action indices taken.
        events: ``(step, x, y, [categories])`` for every step with a non-zero cost.
        collisions: ``(step, x, y)`` for every step where the robot touched something.
        frames: ``(step, nav_rgb)`` every ``every`` steps (and the last one).
        success, total_cost, cost_by_category, steps: episode summary.
    """

    poses: list[tuple[float, float, float]] = field(default_factory=list)
    actions: list[int] = field(default_factory=list)
    events: list[tuple[int, float, float, list[str]]] = field(default_factory=list)
    collisions: list[tuple[int, float, float]] = field(default_factory=list)
    frames: list[tuple[int, np.ndarray]] = field(default_factory=list)
    success: bool = False
    total_cost: float = 0.0
    cost_by_category: dict[str, float] = field(default_factory=dict)
    steps: int = 0

    def summary(self) -> dict:
        """The episode in the evaluator's per-episode names (``length``, ``cost``, ...)."""
        return {
            "success": self.success,
            "length": self.steps,
            "cost": self.total_cost,
            "cost_by_category": self.cost_by_category,
            "collisions": len(self.collisions),
        }


def rollout(env: SafeChoresEnv, episode, policy: Callable, every: int = 0) -> Trajectory:
    """Run ``policy`` on ``episode`` until it ends or is truncated (``every`` 0 = no frames)."""
    obs, _ = env.reset(options={"episode": episode})
    tr = Trajectory(cost_by_category={c: 0.0 for c in COST_CATEGORIES})
    agent = env.backend.agent()
    tr.poses.append((float(agent.position[0]), float(agent.position[1]), agent.yaw_deg))
    if every:
        tr.frames.append((0, obs["nav_rgb"]))
    done = False
    while not done:
        action = int(policy(env, obs))
        obs, _, cost, term, trunc, info = env.step(action)
        done = term or trunc
        agent = env.backend.agent()
        x, y = float(agent.position[0]), float(agent.position[1])
        tr.poses.append((x, y, agent.yaw_deg))
        tr.actions.append(action)
        if cost > 0:
            cats = [k for k, v in info["cost_by_category"].items() if v > 0]
            tr.events.append((info["step"], x, y, cats))
        for k, v in info["cost_by_category"].items():
            tr.cost_by_category[k] = tr.cost_by_category.get(k, 0.0) + float(v)
        if info["collided"]:
            tr.collisions.append((info["step"], x, y))
        tr.total_cost += cost
        if every and (info["step"] % every == 0 or done):
            tr.frames.append((info["step"], obs["nav_rgb"]))
        tr.success = bool(info["success"])
    tr.steps = env.steps
    return tr


def _draw_scene(ax, fs, objects, target: str) -> None:
    """Free-space grid (walls/furniture dark), furniture outlines, objects by kind."""
    from matplotlib.patches import Rectangle

    nx, ny = fs.free.shape
    x0, y0 = fs.origin
    extent = (x0, x0 + nx * fs.resolution, y0, y0 + ny * fs.resolution)
    grid = np.where(fs.free.T, 0.95, 0.35)
    ax.imshow(grid, origin="lower", extent=extent, cmap="gray", vmin=0, vmax=1)
    for o in objects:
        if o.static:
            w, h = float(o.size[0]), float(o.size[1])
            corner = (o.position[0] - w / 2, o.position[1] - h / 2)
            ax.add_patch(Rectangle(corner, w, h, fill=False, ec="saddlebrown", lw=1))
            continue
        if o.object_type == target:
            marker, color, size = "*", "gold", 160
        else:
            color = "red" if o.dangerous else "tab:blue" if o.fragile else "dimgray"
            marker, size = ".", 40
        edge = "k" if marker == "*" else "none"
        ax.scatter(*o.position[:2], marker=marker, c=color, s=size, zorder=3, edgecolors=edge)


def _draw_path(ax, tr: Trajectory) -> None:
    """The robot's path, start/end, collisions and cost events by category."""
    p = np.array([q[:2] for q in tr.poses])
    ax.plot(p[:, 0], p[:, 1], "-", c="tab:green", lw=1.5, zorder=4, label="path")
    ax.scatter(*p[0], marker="^", c="tab:green", s=90, zorder=5, label="start")
    ax.scatter(*p[-1], marker="s", c="black", s=50, zorder=5, label="end")
    if tr.collisions:
        c = np.array([(x, y) for _, x, y in tr.collisions])
        ax.scatter(c[:, 0], c[:, 1], marker="x", c="gray", s=25, zorder=5, label="collision")
    for cat, (marker, color) in CATEGORY_STYLE.items():
        pts = np.array([(x, y) for _, x, y, cats in tr.events if cat in cats]).reshape(-1, 2)
        if len(pts):
            ax.scatter(
                pts[:, 0],
                pts[:, 1],
                marker=marker,
                c=color,
                s=70,
                zorder=6,
                edgecolors="k",
                label=f"{cat} ({len(pts)})",
            )


def draw_topdown(env: SafeChoresEnv, tr: Trajectory, path: str | Path, title: str = "") -> Path:
    """Top-down map of the scene with the path and cost events (PNG at ``path``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 7))
    _draw_scene(ax, env.backend.free_space(), env.backend.objects(), env.episode.target_type)
    _draw_path(ax, tr)
    summary = f"success={tr.success} cost={tr.total_cost:.0f} steps={tr.steps}"
    ax.set_title(title or f"{env.episode.episode_id}: {summary}", fontsize=9)
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7, framealpha=0.8)
    path = Path(path)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def render_episode(
    env: SafeChoresEnv,
    episode,
    policy_name: str,
    out_dir: str | Path,
    every: int = 10,
    seed: int = 0,
) -> dict:
    """Roll out and write ``frame_<step>.png``, ``topdown.png`` and ``summary.json``."""
    import cv2

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tr = rollout(env, episode, make_policy(policy_name, seed), every=max(1, every))
    for step, img in tr.frames:
        cv2.imwrite(str(out / f"frame_{step:04d}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    draw_topdown(env, tr, out / "topdown.png")
    summary = {
        "episode_id": episode.episode_id,
        "policy": canonical_policy(policy_name),
        **tr.summary(),
        "frames": len(tr.frames),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary
