"""Generating episodes: validation sets (expert-checked) and on-the-fly training episodes.

Scene seeds of the two pools never overlap, so validation houses are unseen in training:

* validation / generated sets: ``scene_seed ∈ [VAL_SCENE_BASE, VAL_SCENE_BASE + 10⁶)``;
* training (:class:`EpisodeSampler`, or ``safevla sim episodes --scenes train`` for a fixed
  training set): ``scene_seed ∈ [0, TRAIN_SCENE_COUNT)``.

An episode is kept only if (1) its target type exists in the scene, (2) some goal cell is
reachable from the start on the free-space grid, and -- for generated sets -- (3) the careful
expert solves it within the evaluation limit; ``expert_length`` is the number of steps it took.

Start poses: free cells with at least ``min_clearance`` to obstacles, filtered and turned by the
task (:meth:`sim_bridge.tasks.Task.start_mask`, :meth:`~sim_bridge.tasks.Task.start_yaw`):
objnav and fetch start at least ``min_start_dist`` from every target at a random multiple of
30 deg; pickup starts near a target (0.5-1.3 m, "facing a surface"), turned toward it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim_bridge import planner
from sim_bridge.backend import Backend, ObjectState
from sim_bridge.episodes import Episode
from sim_bridge.expert import Expert
from sim_bridge.instructions import make_instruction
from sim_bridge.tasks import EVAL_MAX_STEPS, TASKS, TaskSpec, get_task, is_success

VAL_SCENE_BASE = 1_000_000
TRAIN_SCENE_COUNT = 1_000_000


@dataclass
class GenConfig:
    """Episode generation settings.

    Attributes:
        task: a registered task name (:data:`sim_bridge.tasks.TASKS`).
        instruction_split: template pool for instructions ("train" or "heldout").
        min_clearance: start cells at least this far from obstacles, metres.
        min_start_dist: starts at least this far from every target, metres (tasks that start
            far from the target: objnav, fetch).
        max_expert_steps: the careful expert must succeed within this many steps.
        tries_per_episode: scene/pose/target draws before giving up on one episode.
        extra_templates: user instruction templates per task, added to the split's pool.
    """

    task: str
    instruction_split: str = "train"
    min_clearance: float = 0.3
    min_start_dist: float = 2.0
    max_expert_steps: int = EVAL_MAX_STEPS
    tries_per_episode: int = 20
    extra_templates: dict[str, tuple[str, ...]] | None = None

    def __post_init__(self) -> None:
        get_task(self.task)
        if self.instruction_split not in ("train", "heldout"):
            raise ValueError(
                f"instruction_split must be 'train' or 'heldout', got {self.instruction_split!r}"
            )
        if self.max_expert_steps < 1 or self.tries_per_episode < 1:
            raise ValueError(
                f"max_expert_steps ({self.max_expert_steps}) and tries_per_episode "
                f"({self.tries_per_episode}) must be >= 1"
            )


def _start_pose(
    backend: Backend,
    task: str,
    targets: list[ObjectState],
    cfg: GenConfig,
    rng: np.random.Generator,
) -> tuple[float, float, float] | None:
    fs = backend.free_space()
    clear = planner.clearance(fs.free, fs.resolution)
    cells = np.argwhere(fs.free & (clear >= cfg.min_clearance))
    if len(cells) == 0:
        return None
    pts = fs.origin + (cells + 0.5) * fs.resolution
    tgt = np.array([o.position[:2] for o in targets])
    d = np.min(np.linalg.norm(pts[:, None] - tgt[None], axis=-1), axis=1)
    definition = get_task(task)
    ok = definition.start_mask(d, cfg.min_start_dist)
    if not ok.any():
        return None
    p = pts[rng.choice(np.flatnonzero(ok))]
    yaw = definition.start_yaw(p, tgt, rng)
    return float(p[0]), float(p[1]), float((yaw + 180.0) % 360.0 - 180.0)


def _draw(backend: Backend, scene_seed: int, cfg: GenConfig, rng: np.random.Generator):
    """(start_pose, target_type) for a scene, or None if the scene offers nothing usable."""
    backend.reset(scene_seed, None)
    objects = backend.objects()
    types = get_task(cfg.task).candidate_targets(objects)
    if not types:
        return None
    target_type = types[int(rng.integers(len(types)))]
    targets = [o for o in objects if o.object_type == target_type]
    pose = _start_pose(backend, cfg.task, targets, cfg, rng)
    return None if pose is None else (pose, target_type)


def reachable(backend: Backend, task: str, pose, target_type: str) -> bool:
    """Some goal cell of the careful expert (a spot to see / grasp a target from) is connected
    to the start on the free-space grid. ``backend`` must hold the episode's scene."""
    from sim_bridge.expert import ExpertConfig
    from sim_bridge.expert_goals import goal_mask

    fs = backend.free_space()
    objects = backend.objects()
    targets = [o for o in objects if o.object_type == target_type]
    goals = goal_mask(
        ExpertConfig.for_mode("careful"), fs, objects, targets, TaskSpec(task, target_type), []
    )
    if not goals.any():
        return False
    field = planner.cost_to_go(fs.free, np.ones(fs.free.shape), goals, fs.resolution)
    i, j = fs.world_to_cell(np.asarray(pose[:2]))
    inside = 0 <= i < field.shape[0] and 0 <= j < field.shape[1]
    return bool(inside and np.isfinite(field[i, j]))


def run_expert(
    backend: Backend,
    spec: TaskSpec,
    scene_seed: int,
    pose,
    mode: str = "careful",
    max_steps: int = EVAL_MAX_STEPS,
) -> tuple[bool, int]:
    """Run the expert on a bare backend (no costs); returns (success, steps)."""
    from safevla_core.actions import END

    backend.reset(scene_seed, tuple(pose))
    expert = Expert(mode)
    for step in range(1, max_steps + 1):
        action = expert.act(backend, spec)
        backend.step(action)
        if action == END:
            return is_success(spec, backend), step
    return False, max_steps


def generate_episodes(
    backend: Backend,
    cfg: GenConfig,
    count: int,
    seed: int,
    id_prefix: str | None = None,
    progress: Callable | None = None,
    scene_base: int = VAL_SCENE_BASE,
) -> list[Episode]:
    """Generate ``count`` expert-checked episodes, reproducibly from ``seed``.

    Episode ``i`` depends only on ``(seed, i)``, so a run can be split across processes.

    Raises:
        RuntimeError: an episode could not be made in ``tries_per_episode`` draws.
    """
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    prefix = id_prefix or f"{cfg.task}_s{seed}"
    out = []
    for i in range(count):
        out.append(generate_one(backend, cfg, seed, i, f"{prefix}_{i:04d}", scene_base))
        if progress is not None:
            progress(i + 1, count, out[-1])
    return out


def generate_one(
    backend: Backend,
    cfg: GenConfig,
    seed: int,
    index: int,
    episode_id: str,
    scene_base: int = VAL_SCENE_BASE,
) -> Episode:
    """Episode ``index`` of the set seeded ``seed`` (see :func:`generate_episodes`)."""
    rng = np.random.default_rng([seed, index])
    for _ in range(cfg.tries_per_episode):
        scene_seed = scene_base + int(rng.integers(0, 1_000_000))
        drawn = _draw(backend, scene_seed, cfg, rng)
        if drawn is None:
            continue
        pose, target_type = drawn
        spec = TaskSpec(cfg.task, target_type, max_steps=cfg.max_expert_steps)
        ok, steps = run_expert(backend, spec, scene_seed, pose, "careful", cfg.max_expert_steps)
        if ok:
            instruction = make_instruction(
                cfg.task, target_type, rng, cfg.instruction_split, cfg.extra_templates
            )
            return Episode(episode_id, cfg.task, scene_seed, pose, target_type, instruction, steps)
    raise RuntimeError(
        f"could not generate episode {episode_id} (seed {seed}, index {index}) "
        f"in {cfg.tries_per_episode} tries; relax GenConfig or check the scenes"
    )


class EpisodeSampler:
    """On-the-fly training episodes: ``sampler(backend, rng) -> Episode``.

    Draws a training scene seed, a target type present in it and a start pose (no expert run:
    ``expert_length`` is None). Pass it as ``SafeChoresEnv(..., episodes=sampler)``.

    Args:
        tasks: task names to sample from (uniformly).
        instruction_split: template pool ("train" in training).
        scene_count: scene seeds are drawn from ``[0, scene_count)``.
        extra_templates: user templates per task, added to the pool.
    """

    def __init__(
        self,
        tasks: tuple[str, ...] = ("objnav",),
        instruction_split: str = "train",
        scene_count: int = TRAIN_SCENE_COUNT,
        extra_templates: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        if not tasks or any(t not in TASKS for t in tasks):
            raise ValueError(f"tasks must be a non-empty subset of {tuple(TASKS)}, got {tasks}")
        if not 1 <= scene_count <= VAL_SCENE_BASE:
            raise ValueError(
                f"scene_count must be in [1, {VAL_SCENE_BASE}] so training scenes "
                f"stay disjoint from validation ones, got {scene_count}"
            )
        self.cfgs = [GenConfig(t, instruction_split) for t in tasks]
        self.scene_count = scene_count
        self.extra = extra_templates
        self.count = 0

    def __call__(self, backend: Backend, rng: np.random.Generator) -> Episode:
        cfg = self.cfgs[int(rng.integers(len(self.cfgs)))]
        for _ in range(50):
            scene_seed = int(rng.integers(0, self.scene_count))
            drawn = _draw(backend, scene_seed, cfg, rng)
            if drawn is not None and reachable(backend, cfg.task, *drawn):
                pose, target_type = drawn
                text = make_instruction(
                    cfg.task, target_type, rng, cfg.instruction_split, self.extra
                )
                self.count += 1
                return Episode(
                    f"{cfg.task}_train_{self.count}",
                    cfg.task,
                    scene_seed,
                    pose,
                    target_type,
                    text,
                    None,
                )
        raise RuntimeError(f"no usable {cfg.task} episode in 50 training scenes")


def relabel_instructions(
    episodes: list[Episode], split: str, seed: int, suffix: str = ""
) -> list[Episode]:
    """The same episodes with instructions redrawn from ``split`` (e.g. "heldout" paraphrases
    for language out-of-distribution tests on otherwise identical episodes)."""
    rng = np.random.default_rng(seed)
    return [
        Episode(
            e.episode_id + suffix,
            e.task,
            e.scene_seed,
            e.start_pose,
            e.target_type,
            make_instruction(e.task, e.target_type, rng, split),
            e.expert_length,
        )
        for e in episodes
    ]
