"""The Safety-CHORES CMDP as a gymnasium environment.

One convention everywhere (omnisafe style)::

    obs, info = env.reset(seed=None, options={"episode": episode})
    obs, reward, cost, terminated, truncated, info = env.step(action)

* ``reward``: ``r_t`` of :mod:`sim_bridge.tasks` (sparse +10 on success, optional shaping).
* ``cost``: ``c_t = Σ_k c_t^k``, the sum of the five 0/1 Safety-CHORES categories from
  :class:`sim_bridge.costs.CostModel`; the per-category values are in
  ``info["cost_by_category"]``. The constraint is ``E[Σ_t c_t] ≤ d`` (cost limit ``d``).
* ``terminated``: the agent called ``end``; ``truncated``: ``max_steps`` reached.

Observation (a dict; ``manip_rgb`` is always present, for every task, so all envs share one
observation space and can be batched together):

* ``nav_rgb``: (H, W, 3) uint8, navigation camera;  ``manip_rgb``: (H, W, 3) uint8, wrist camera;
* ``instruction``: str;  ``prev_action``: int in [0, NUM_ACTIONS], ``NUM_ACTIONS`` = none yet;
* ``holding``: 0/1;  ``step``: int, steps taken in this episode;
* ``proprio``: (2,) float32, the arm's joint state in metres (:data:`safevla_core.actions.
  PROPRIO_FIELDS`: lift height, arm extension);
* ``explored``: (4, 20, 20) uint8, the explored map around the robot
  (:data:`safevla_core.actions.EXPLORED_SHAPE`, :mod:`sim_bridge.explored_obs`) with
  ``EnvConfig.explored_map``; zeros without it;
* ``bump``: (2,) float32, what the last action did (:data:`safevla_core.actions.BUMP_FIELDS`:
  blocked, collided; zeros at the start of an episode).

``info``: ``cost_by_category``, ``success``, ``collided``, ``disturbed``, ``episode_id``,
``step``, plus ``task``, ``target_type``, ``action_succeeded``, ``expert_length``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import cv2
import gymnasium as gym
import numpy as np

from safevla_core.actions import (
    BUMP_FIELDS,
    END,
    EXPLORED_SHAPE,
    NUM_ACTIONS,
    PROPRIO_FIELDS,
    PROPRIO_MAX_M,
    SCAN_BEAMS,
    SCAN_RANGE_MAX_M,
    bump_feedback,
)
from safevla_core.footprint import WRIST_YAW_MAX_RAD
from safevla_core.safety_spec import SAFETY_SPEC
from sim_bridge.backend import Backend
from sim_bridge.backends import DEFAULT_BACKEND, check_backend, make_backend
from sim_bridge.episodes import Episode
from sim_bridge.robot import CAMERA_SIZE_HW, SCAN_KEYS, nav_camera_hfov_deg
from sim_bridge.tasks import TRAIN_MAX_STEPS, TaskSpec
from sim_bridge.tasks.objnav import types_in_view

NO_ACTION = NUM_ACTIONS  # prev_action value before the first step
_CHARSET = frozenset(gym.spaces.text.alphanumeric) | frozenset(" ',.?!-")


@dataclass
class Perturbation:
    """Image-space appearance shift for out-of-distribution tests (off by default).

    ``img' = clip(img · brightness · colour_gain + N(0, noise_std²))`` per channel.

    Attributes:
        brightness: global gain (lighting).
        color_gain: per-channel (r, g, b) gains (colour cast).
        noise_std: Gaussian pixel noise, in 0-255 units.
    """

    brightness: float = 1.0
    color_gain: tuple[float, float, float] = (1.0, 1.0, 1.0)
    noise_std: float = 0.0

    def __post_init__(self) -> None:
        if self.brightness <= 0 or len(self.color_gain) != 3 or min(self.color_gain) < 0:
            raise ValueError(
                f"bad perturbation brightness={self.brightness}, "
                f"color_gain={self.color_gain}: need > 0 and 3 gains >= 0"
            )
        if self.noise_std < 0:
            raise ValueError(f"noise_std must be >= 0, got {self.noise_std}")

    def apply(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = img.astype(np.float32) * self.brightness * np.asarray(self.color_gain, np.float32)
        if self.noise_std > 0:
            out += rng.normal(0.0, self.noise_std, out.shape).astype(np.float32)
        return np.clip(out, 0, 255).astype(np.uint8)


@dataclass
class EnvConfig:
    """Settings of :class:`SafeChoresEnv`.

    Attributes:
        nav_size: (H, W) of ``nav_rgb`` (frames are resized if the backend renders another size).
        manip_size: (H, W) of ``manip_rgb``.
        max_steps: episode limit (500 training, 600 evaluation).
        success_reward: reward on success.
        shaping_coef: distance-shaping weight, 0 = the paper's sparse reward.
        perturbation: appearance shift, None = off.
        render_manip: False fills ``manip_rgb`` with zeros (faster navigation-only training).
        scene_perturbation: a backend-level appearance change (materials, lighting, colours:
            e.g. ``sim_bridge.mujoco.perturb.Perturbation``), handed to the backend's
            ``set_perturbation``; None = the backend's default look.
        visible_distance_for_cost: visibility radius of the blind-spot cost, metres.
        backend: simulator that :func:`make_env` builds, by name
            (:data:`sim_bridge.backends.BACKENDS`: "mujoco" or "thor").
        explored_map: report the explored map (``explored``, :mod:`sim_bridge.explored_obs`)
            for a policy that reads it (``model.explored_input``); it costs ~1.5 ms a step, so
            off by default (``explored`` is then zeros).
        range_scan: report the range scan (``scan``, :data:`safevla_core.actions.SCAN_BEAMS`
            ranges from the backend's ``range_scan``) for a safety critic that reads it
            (``critic.scan_input``); ~1.5 ms a step, so off by default (no ``scan`` key then:
            a critic that needs it fails naming it, rather than reading made-up ranges).
            With it comes ``scan_objects``: the same rays with the building's static
            structure (walls, floor) removed, as a scan filtered against a static map gives
            it (``critic.object_scan``; the backend's ``range_scans``), and ``scan_arm``: the
            same rays at the heights the arm and gripper occupy only (the backend's
            ``arm_scan``; the safety monitor's arm guard).
    """

    nav_size: tuple[int, int] = CAMERA_SIZE_HW
    manip_size: tuple[int, int] = CAMERA_SIZE_HW
    max_steps: int = TRAIN_MAX_STEPS
    success_reward: float = 10.0
    shaping_coef: float = 0.0
    perturbation: Perturbation | None = None
    render_manip: bool = True
    scene_perturbation: object | None = None
    visible_distance_for_cost: float = field(default=SAFETY_SPEC.blind_spot_seen_dist_m)
    backend: str = DEFAULT_BACKEND
    explored_map: bool = False
    range_scan: bool = False

    def __post_init__(self) -> None:
        check_backend(self.backend)
        for name in ("nav_size", "manip_size"):
            size = tuple(getattr(self, name))
            if len(size) != 2 or min(size) < 8:
                raise ValueError(f"{name} must be (H, W) with both >= 8, got {size}")
            setattr(self, name, (int(size[0]), int(size[1])))
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")


class SafeChoresEnv(gym.Env):
    """A Safety-CHORES episode on any :class:`~sim_bridge.backend.Backend`.

    Args:
        backend: the simulator (owned by the env; ``close()`` closes it).
        episodes: where episodes come from when ``reset`` gets none in ``options``: one
            :class:`Episode`, a list (cycled in order), or a callable ``(backend, rng) ->
            Episode`` (e.g. :class:`sim_bridge.episode_gen.EpisodeSampler`).
        cost_model: a ``sim_bridge.costs.CostModel``; default ``CostModel(SAFETY_SPEC)``.
        config: image sizes, step limit, reward options, perturbation.
    """

    metadata: ClassVar[dict] = {"render_modes": ["rgb_array"]}

    def __init__(
        self, backend: Backend, episodes=None, cost_model=None, config: EnvConfig | None = None
    ) -> None:
        self.backend = backend
        self.config = config or EnvConfig()
        if cost_model is None:
            from sim_bridge.costs import CostModel

            cost_model = CostModel(SAFETY_SPEC)
        self.cost_model = cost_model
        if self.config.scene_perturbation is not None:
            if not hasattr(backend, "set_perturbation"):
                raise ValueError(
                    f"backend {backend.name!r} has no set_perturbation(); "
                    "use EnvConfig.perturbation (image space) instead"
                )
            backend.set_perturbation(self.config.scene_perturbation)
        self._source = [episodes] if isinstance(episodes, Episode) else episodes
        self._cursor = 0
        self.episode: Episode | None = None
        self.task_spec: TaskSpec | None = None
        self.episode_count = 0
        self.steps = 0
        self._prev_action = NO_ACTION
        self._bump = np.zeros(len(BUMP_FIELDS), np.float32)
        self._explored = None  # the episode's ExploredMap (explored())
        self._explored_grid = None
        h, w = self.config.nav_size
        mh, mw = self.config.manip_size
        self.action_space = gym.spaces.Discrete(NUM_ACTIONS)
        self.observation_space = gym.spaces.Dict(
            {
                "nav_rgb": gym.spaces.Box(0, 255, (h, w, 3), np.uint8),
                "manip_rgb": gym.spaces.Box(0, 255, (mh, mw, 3), np.uint8),
                "instruction": gym.spaces.Text(max_length=512, min_length=1, charset=_CHARSET),
                "prev_action": gym.spaces.Discrete(NUM_ACTIONS + 1),
                "holding": gym.spaces.Discrete(2),
                "bump": gym.spaces.Box(0.0, 1.0, (len(BUMP_FIELDS),), np.float32),
                "proprio": gym.spaces.Box(0.0, PROPRIO_MAX_M, (len(PROPRIO_FIELDS),), np.float32),
                # the wrist's yaw, rad from its zero (counter-clockwise): the safety monitor's
                # footprint turns the gripper by it (safevla_core.footprint)
                "wrist_yaw": gym.spaces.Box(-WRIST_YAW_MAX_RAD, WRIST_YAW_MAX_RAD, (), np.float32),
                "explored": gym.spaces.Box(0, 255, EXPLORED_SHAPE, np.uint8),
                "step": gym.spaces.Discrete(self.config.max_steps + 1),
            }
        )
        if self.config.range_scan:
            if not hasattr(self.backend, "all_scans"):
                raise ValueError(
                    f"EnvConfig.range_scan: the {backend.name!r} backend has no range "
                    "scan (the MuJoCo backend casts one); run without range_scan"
                )
            for key in SCAN_KEYS:
                self.observation_space[key] = gym.spaces.Box(
                    0.0, SCAN_RANGE_MAX_M, (SCAN_BEAMS,), np.float32
                )

    @property
    def source(self):
        """The episode source: a list of episodes, a callable ``(backend, rng) -> Episode``
        (e.g. a training sampler) or None (episodes passed to :meth:`reset`)."""
        return self._source

    def _next_episode(self) -> Episode:
        if self._source is None:
            raise ValueError(
                "no episode: pass options={'episode': Episode} to reset() or give "
                "the env an episode source"
            )
        if callable(self._source):
            return self._source(self.backend, self.np_random)
        if len(self._source) == 0:
            raise ValueError("the env's episode list is empty")
        ep = self._source[self._cursor % len(self._source)]
        self._cursor += 1
        return ep

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        """Start an episode: ``options["episode"]`` or the next one from the source."""
        super().reset(seed=seed)
        options = options or {}
        ep = options.get("episode") or self._next_episode()
        if not isinstance(ep, Episode):
            raise ValueError(f"options['episode'] must be an Episode, got {type(ep).__name__}")
        self.episode = ep
        self.task_spec = TaskSpec(
            ep.task,
            ep.target_type,
            self.config.max_steps,
            self.config.success_reward,
            self.config.shaping_coef,
        )
        self.backend.reset(ep.scene_seed, tuple(ep.start_pose))
        # Object states after the last reset/step: the next step's "before" (nothing moves the
        # simulator between steps, so reading them again would only cost time).
        self._objects = self.backend.objects()
        self.cost_model.reset(self._objects, self.backend.agent(), self.backend.free_space())
        self.steps = 0
        self.episode_count += 1
        self._prev_action = NO_ACTION
        self._bump = np.zeros(len(BUMP_FIELDS), np.float32)
        self._explored = None  # made at the first explored() of the episode
        self._explored_grid = None  # (steps, grid) of the last explored()
        self._img_rng = np.random.default_rng(ep.scene_seed)
        self._dist = self.task_spec.definition.target_distance(
            self.task_spec, self.backend.agent(), self._objects
        )
        return self._observe(), {
            "episode_id": ep.episode_id,
            "step": 0,
            "task": ep.task,
            "target_type": ep.target_type,
        }

    def step(self, action):
        """Execute one action; returns ``(obs, reward, cost, terminated, truncated, info)``."""
        if self.episode is None:
            raise RuntimeError("call reset() before step()")
        a = int(action)
        if not 0 <= a < NUM_ACTIONS:
            raise ValueError(f"action {action!r} out of range [0, {NUM_ACTIONS})")
        outcome, sc = self.advance(a)
        objects, agent = self._objects, self.backend.agent()
        terminated = a == END
        task = self.task_spec.definition
        success = bool(terminated and task.is_success(self.task_spec, self.backend))
        truncated = bool(not terminated and self.steps >= self.config.max_steps)
        prev_dist = self._dist
        if self.task_spec.shaping_coef > 0:  # the distance costs time; only shaping needs it
            self._dist = task.target_distance(self.task_spec, agent, objects)
        reward = task.reward(self.task_spec, success, prev_dist, self._dist)
        info = {
            "cost_by_category": dict(sc.by_category),
            "success": success,
            "collided": bool(outcome.collided),
            "disturbed": list(getattr(sc, "disturbed", [])),
            "episode_id": self.episode.episode_id,
            "step": self.steps,
            "task": self.episode.task,
            "target_type": self.episode.target_type,
            "action_succeeded": bool(outcome.action_succeeded),
            "expert_length": self.episode.expert_length,
        }
        return self._observe(), float(reward), float(sc.total), terminated, truncated, info

    def advance(self, a: int):
        """The simulator and cost part of :meth:`step`: execute action ``a``, cost it, count
        it; no reward, no frames. Returns ``(StepOutcome, StepCost)``. The action probe
        (:mod:`sim_bridge.action_probe`) calls it for every action from one state, so the
        labels it records are the costs ``step`` would report."""
        prev_objects = self._objects
        outcome = self.backend.step(a)
        objects, agent = self.backend.objects(), self.backend.agent()
        self._objects = objects
        visible = self.backend.visible_objects(self.config.visible_distance_for_cost)
        sc = self.cost_model.step(a, prev_objects, objects, outcome, agent, visible, self.steps)
        self.steps += 1
        self._prev_action = a
        self._bump = np.array(
            bump_feedback(a, outcome.action_succeeded, outcome.collided), np.float32
        )
        return outcome, sc

    def success_if_end(self) -> bool:
        """Whether ``end`` now would succeed (the task's success check on the current state).

        A free per-frame training label (e.g. "target in view within 2 m" for ObjectNav); a
        deployed policy never sees it."""
        if self.episode is None:
            raise RuntimeError("call reset() before success_if_end()")
        return bool(self.task_spec.definition.is_success(self.task_spec, self.backend))

    def types_in_view(self) -> np.ndarray:
        """Which ObjectNav target types are in view now (:func:`sim_bridge.tasks.objnav.
        types_in_view`): a per-frame training label; a deployed policy never sees it."""
        if self.episode is None:
            raise RuntimeError("call reset() before types_in_view()")
        return types_in_view(self.backend)

    def explored(self) -> np.ndarray:
        """The explored map around the robot now (:mod:`sim_bridge.explored_obs`, uint8
        :data:`~safevla_core.actions.EXPLORED_SHAPE`). The map grows by the current view at
        the first call after each reset or step (not in the action probe's trial steps), so
        ask every step: the env does with ``EnvConfig.explored_map`` (``obs["explored"]``),
        and so does an evaluated policy that reads it."""
        if self.episode is None:
            raise RuntimeError("call reset() before explored()")
        if self._explored_grid is not None and self._explored_grid[0] == self.steps:
            return self._explored_grid[1]
        if self._explored is None:
            from sim_bridge.explored_obs import ExploredMap

            h, w = self.config.nav_size
            self._explored = ExploredMap(self.backend, nav_camera_hfov_deg(w, h))
        agent = self.backend.agent()
        in_view = self.backend.visible_objects(max_distance=self._explored.sight_range_m)
        sighted = [
            o.position[:2]
            for o in self._objects
            if o.object_id in in_view and o.object_type == self.episode.target_type
        ]
        grid = self._explored.observe(agent.position, agent.yaw_deg, sighted)
        self._explored_grid = (self.steps, grid)
        return grid

    def _frame(self, camera: str, size: tuple[int, int]) -> np.ndarray:
        img = np.asarray(self.backend.render(camera))
        if img.shape[:2] != size:
            img = cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_AREA)
        if self.config.perturbation is not None:
            img = self.config.perturbation.apply(img, self._img_rng)
        return np.ascontiguousarray(img, dtype=np.uint8)

    def _observe(self) -> dict:
        manip = (
            self._frame("manip", self.config.manip_size)
            if self.config.render_manip
            else np.zeros((*self.config.manip_size, 3), np.uint8)
        )
        agent = self.backend.agent()
        return {
            "nav_rgb": self._frame("nav", self.config.nav_size),
            "manip_rgb": manip,
            "instruction": self.episode.instruction,
            "prev_action": int(self._prev_action),
            "holding": int(agent.held_object is not None),
            "bump": self._bump.copy(),
            # as a joint-state driver reports it: within the joint's range (no -1e-8 m noise)
            "proprio": np.clip(
                np.array([agent.lift_height, agent.arm_extension], np.float32), 0.0, PROPRIO_MAX_M
            ),
            "wrist_yaw": np.array(math.radians(agent.wrist_yaw_deg), np.float32),
            "explored": (
                self.explored() if self.config.explored_map else np.zeros(EXPLORED_SHAPE, np.uint8)
            ),
            **(dict(zip(SCAN_KEYS, self.backend.all_scans())) if self.config.range_scan else {}),
            "step": int(self.steps),
        }

    def render(self) -> np.ndarray:
        """The navigation frame at the configured size."""
        return self._frame("nav", self.config.nav_size)

    def close(self) -> None:
        self.backend.close()


def make_env(
    episodes=None, config: EnvConfig | None = None, backend: str | None = None
) -> SafeChoresEnv:
    """Build a SafeChoresEnv with a fresh backend: ``backend`` by name, else the config's
    (module level, so ``functools.partial`` of it pickles into
    :class:`sim_bridge.vec_env.SubprocVecEnv` workers)."""
    config = config or EnvConfig()
    name = config.backend if backend is None else backend
    return SafeChoresEnv(
        make_backend(name, config.nav_size, config.manip_size), episodes, config=config
    )
