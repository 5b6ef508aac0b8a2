"""The one episode loop: run policies on episode sets, optionally through the safety monitor,
in parallel processes (:func:`run_jobs`; on Ray actors: :mod:`safevla_eval.ray_runner`) or an
in-process agent (:func:`run_agent`; several episodes in lockstep, one env each, with one
batched proposal per step: :func:`run_agent_batched`).

One *job* is one episode of one policy under one condition (shield, perturbation). A worker
process keeps one simulator env and one agent per policy for all the jobs it runs, so a bundle
and its instruction encoder load once per process. Results come back as
:class:`~safevla_eval.metrics.EpisodeRecord` s in job order, independent of the
number of workers (every random draw is seeded by ``(seed, episode index)``).

The shield is :class:`safevla_core.safety_monitor.SafetyMonitor`, the same logic the ROS
monitor node runs. Simulated time advances 1 s per step and each proposal carries a fresh frame,
so the watchdog and rate-limit rules never fire; the cost-critic rules decide: proposals with
``Q_c(s, a) = Σ_k Q_c(s, a, k) > cost_threshold`` are vetoed and the most probable allowed
motion runs instead; when no motion is allowed the robot stops: the step passes with the
no-op ``sub_done`` (uncosted, not terminal) and, as in the ROS stack, the policy's history is
not told of any executed action. With ``critic`` the independent safety critic
(:mod:`safevla_core.critic_gate`) judges the navigation frame of each step after the policy's
own cost rule, as in the monitor node; it can shield the built-in policies too (they report
zero costs); its vetoes, replacements, stops, stall releases and the steps it held the robot
(:attr:`safevla_core.critic_gate.CriticGate.held`) go into each record's ``extra["critic"]``.
"""

from __future__ import annotations

import math
import multiprocessing as mp
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from safevla_core.action_choice import DitherBreaker
from safevla_core.actions import ACTION_NAMES, NUM_ACTIONS, SUB_DONE, bump_feedback
from safevla_core.critic_gate import (
    DEFAULT_CRITIC_CONTACT_GUARD_BASE,
    DEFAULT_CRITIC_DETOUR_AFTER,
    DEFAULT_CRITIC_ESCAPE_AFTER,
    DEFAULT_CRITIC_ESCAPE_BELOW,
    DEFAULT_CRITIC_MARGIN,
    DEFAULT_CRITIC_RECOVER_AFTER,
    DEFAULT_CRITIC_REPLACEMENT,
    DEFAULT_CRITIC_STALL_BELOW,
    DEFAULT_CRITIC_STALL_STOPS,
    REPLACEMENT_SEED,
)
from safevla_core.monitor_types import Decision
from safevla_core.safety_spec import COST_CATEGORIES, DEFAULT_COST_THRESHOLD
from safevla_eval.agents import DEFAULT_RENDER_HW, Agent, PolicySpec, Proposed, make_agent
from safevla_eval.conditions import apply_visual, episode_rng
from safevla_eval.metrics import EpisodeRecord
from sim_bridge.episodes import Episode
from sim_bridge.tasks import EVAL_MAX_STEPS, get_task


@dataclass(frozen=True)
class Job:
    """One episode to evaluate (picklable: it crosses to worker processes).

    Attributes:
        policy: the policy to run.
        episode: the episode, instruction already reworded if asked.
        index: position of the episode in its set (seeds its random draws).
        shield: run proposals through the safety monitor.
        perturb: visual/language perturbation names.
        max_steps: step limit.
        cost_threshold: the monitor's veto threshold on ``Q_c(s, a)``.
        sampling: "sample" or "greedy" action selection (bundles).
        seed: run seed.
        nav_hw: (H, W) the navigation camera is rendered at.
        critic: independent safety-critic bundle folder the shield also runs ("" = none).
        critic_alpha: the alpha the critic must be calibrated at (None = the bundle's).
        critic_margin: a replacement after a critic veto needs risk < margin x threshold.
        critic_escape_after: after this many proposals without a motion, a critic veto with
            no clear replacement runs the least risky motion (0 = never).
        manip: also render the wrist camera (``manip_rgb``, at ``nav_hw``): the policy sees
            it (:func:`~safevla_eval.agents.sees_manip`).
        skip_blocked: a bundle does not repeat a motion blocked or collided where it stands
            (:class:`safevla_core.action_choice.BlockedMoves`).
        critic_escape_below: the escape only takes a motion with risk below this multiple
            of the thresholds (inf = any).
        critic_recover_after: once this many of the monitor's last proposals were vetoed
            base motions, a one-hot proposal's veto backs off with a translation (0 = never).
        critic_contact_guard: the monitor does not drive a joint the way a motion touched
            something until the robot has moved clear (:mod:`safevla_core.critic_gate`).
        critic_replacement: how a critic veto's replacement is chosen among the clear
            motions: "sample" (from the proposer's distribution) or "likeliest".
        critic_detour_after: once this many of the monitor's last proposals were vetoed base
            motions, a base motion's veto starts a detour around what blocks it (0 = never).
        critic_guard_release: a corner-guard veto of a base motion that only slides along or
            moves away from what the robot touches goes back to the critic's own risk.
        critic_arm_guard: the monitor vetoes an arm extension that would strike what the arm
            scan sees (:mod:`safevla_core.critic_gate`).
        critic_stall_stops: once this many of the monitor's last proposals ended in a stop, a
            base motion's veto that would stop the robot again releases a motion below
            ``critic_stall_below`` times the thresholds (0 = never).
        critic_stall_below: the stall release's bound, a multiple of the thresholds.
        critic_contact_guard_base: with ``critic_contact_guard``, a base motion blocked by
            contact bars its way too (False: only the arm's motions bar theirs).
        critic_seed: the seed the shield's replacement and stall-release draws restart from at
            every episode (another seed redraws a shielded run).
        break_dither: a bundle caught undoing its own last motion this many times in a row
            does not undo it again (:class:`safevla_core.action_choice.DitherBreaker`;
            0 = off).
    """

    policy: PolicySpec
    episode: Episode
    index: int
    shield: bool = False
    perturb: tuple[str, ...] = ()
    max_steps: int = EVAL_MAX_STEPS
    cost_threshold: float = DEFAULT_COST_THRESHOLD
    sampling: str = "greedy"
    seed: int = 0
    nav_hw: tuple[int, int] = DEFAULT_RENDER_HW
    critic: str = ""
    critic_alpha: float | None = None
    critic_margin: float = DEFAULT_CRITIC_MARGIN
    manip: bool = False
    critic_escape_after: int = DEFAULT_CRITIC_ESCAPE_AFTER
    skip_blocked: bool = False
    critic_escape_below: float = DEFAULT_CRITIC_ESCAPE_BELOW
    critic_recover_after: int = DEFAULT_CRITIC_RECOVER_AFTER
    critic_contact_guard: bool = True
    critic_replacement: str = DEFAULT_CRITIC_REPLACEMENT
    critic_detour_after: int = DEFAULT_CRITIC_DETOUR_AFTER
    critic_guard_release: bool = True
    critic_arm_guard: bool = True
    critic_stall_stops: int = DEFAULT_CRITIC_STALL_STOPS
    critic_stall_below: float = DEFAULT_CRITIC_STALL_BELOW
    critic_contact_guard_base: bool = DEFAULT_CRITIC_CONTACT_GUARD_BASE
    critic_seed: int = REPLACEMENT_SEED
    break_dither: int = 0

    def __post_init__(self) -> None:
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        if self.break_dither:
            DitherBreaker(self.break_dither)  # refuses a bad value by name, before any run
        if self.shield and not (self.policy.has_cost_critic or self.critic):
            raise ValueError(
                f"policy {self.policy.name!r} has no cost critic, so it cannot be shielded "
                "without an independent critic (--critic)"
            )
        if not (math.isfinite(self.cost_threshold) and self.cost_threshold >= 0):
            raise ValueError(f"cost_threshold must be finite and >= 0, got {self.cost_threshold}")


def make_env(max_steps: int, nav_hw: tuple[int, int] = DEFAULT_RENDER_HW, manip: bool = False):
    """The evaluation env: embedded MuJoCo backend, the navigation camera at ``nav_hw``; with
    ``manip`` the wrist camera too, at the same size."""
    from sim_bridge.env import EnvConfig
    from sim_bridge.env import make_env as make_sim_env

    cfg = EnvConfig(
        nav_size=nav_hw,
        manip_size=tuple(nav_hw) if manip else (16, 16),
        max_steps=max_steps,
        render_manip=bool(manip),
    )
    return make_sim_env(None, cfg)


def reference_path(backend, episode: Episode) -> float | None:
    """Shortest free-space path (m) from the start to the goal region, ``l`` of SPL.

    Goal region: free cells within the task's ``goal_radius_m`` of a target-type object: 2 m
    for objnav (success radius, line of sight not required, so ``l`` is a lower bound), the
    arm's 0.75 m reach for pickup and fetch (:data:`sim_bridge.robot.REACH_M`).
    Unit cell costs, 8-connected grid (:func:`sim_bridge.planner.cost_to_go`). None if no
    target or no goal cell is reachable.
    """
    from sim_bridge import planner

    pts = [o.position[:2] for o in backend.objects() if o.object_type == episode.target_type]
    if not pts:
        return None
    fs = backend.free_space()
    radius = get_task(episode.task).goal_radius_m
    goals = planner.disk_mask(fs, np.asarray(pts), radius) & fs.free
    field = planner.cost_to_go(fs.free, np.ones(fs.free.shape), goals, fs.resolution)
    i, j = fs.world_to_cell(backend.agent().position)
    if not (0 <= i < field.shape[0] and 0 <= j < field.shape[1]):
        return None
    d = float(field[i, j])
    return d if math.isfinite(d) else None


def critic_gate(job: Job, verify_key: str | None = None):
    """The job's :class:`~safevla_core.critic_gate.CriticGate` (None without ``job.critic``),
    loaded once per process and checked against the policy: a bundle's facts, or this stack's
    for the built-in policies (which see raw frames; the critic resizes them itself). With
    ``verify_key`` the critic must also be signed by that key (the suite checks this once,
    before any episode, as it checks the policy bundles' signatures)."""
    if not job.critic:
        return None
    key = ("critic", job.critic, job.critic_alpha, job.critic_margin, job.critic_escape_after)
    key += (job.critic_escape_below, job.critic_recover_after, job.critic_contact_guard)
    key += (job.critic_replacement, job.critic_detour_after, job.critic_guard_release)
    key += (job.critic_arm_guard, job.critic_stall_stops, job.critic_stall_below)
    key += (job.critic_contact_guard_base, job.critic_seed)
    key += (job.policy, verify_key)
    if key not in _WORKER:
        from safevla_core.bundle import load_bundle
        from safevla_core.critic_gate import CriticGate, PolicyFacts
        from safevla_core.safety_spec import SAFETY_SPEC

        if job.policy.kind == "bundle":
            facts = PolicyFacts.of_bundle(load_bundle(job.policy.target))
        else:
            facts = PolicyFacts(
                ACTION_NAMES, COST_CATEGORIES, None, SAFETY_SPEC.version, job.policy.name
            )
        gate = CriticGate.load(
            job.critic,
            facts,
            job.critic_alpha,
            job.critic_margin,
            verify_key=verify_key,
            escape_after=job.critic_escape_after,
            escape_below=job.critic_escape_below,
            recover_after=job.critic_recover_after,
            contact_guard=job.critic_contact_guard,
            replacement=job.critic_replacement,
            detour_after=job.critic_detour_after,
            guard_release=job.critic_guard_release,
            arm_guard=job.critic_arm_guard,
            stall_stops=job.critic_stall_stops,
            stall_below=job.critic_stall_below,
            contact_guard_base=job.critic_contact_guard_base,
            seed=job.critic_seed,
        )
        _WORKER[key] = gate
    gate = _WORKER[key]
    gate.reset()
    return gate


def shield_step(
    monitor,
    proposed,
    step: int,
    frame,
    bump=None,
    scan=None,
    proprio=None,
    scan_objects=None,
    holding=None,
    wrist_yaw=None,
    scan_arm=None,
) -> Decision:
    """The monitor's decision on one proposal; ``frame`` is the one the policy saw (fed to
    the independent critic, if any) and ``bump`` / ``scan`` / ``proprio`` / ``scan_objects`` /
    ``holding`` / ``wrist_yaw`` / ``scan_arm`` the motion feedback, range scan, arm joint state,
    object scan, gripper holding flag, wrist yaw (rad; None = 0) and arm scan that came with it
    (fed to a critic that reads them). A proposer without a
    cost critic (experts, random) reports zero costs, so only the independent critic can veto
    it."""
    from safevla_core.safety_monitor import Proposal

    now = float(step + 1)
    monitor.on_frame(now)
    if monitor.critic is not None:
        monitor.critic.on_frame(now, frame)
        if monitor.critic.takes_bump:
            monitor.critic.on_bump(bump)
        if monitor.critic.takes_scan:
            monitor.critic.on_scan(scan)
        if monitor.critic.takes_proprio:
            monitor.critic.on_proprio(proprio, wrist_yaw=0.0 if wrist_yaw is None else wrist_yaw)
        if monitor.critic.takes_object_scan:
            monitor.critic.on_scan_objects(scan_objects)
        if monitor.critic.takes_arm_scan:
            monitor.critic.on_scan_arm(scan_arm)
        if monitor.critic.takes_holding:
            monitor.critic.on_holding(None if holding is None else bool(holding))
    q = np.zeros((NUM_ACTIONS, 0)) if proposed.cost_q is None else proposed.cost_q
    q = np.asarray(q, np.float64)
    p = Proposal(
        step,
        proposed.action,
        np.asarray(proposed.probs, np.float64),
        q.sum(axis=1),
        q if q.size else np.zeros((0,)),
        proposed.categories,
        now,
    )
    return monitor.decide(p, now)


def episode_steps(
    env, agent, job: Job, on_decision: Callable[[Decision], None] | None = None
) -> Generator[dict, Proposed, EpisodeRecord]:
    """The episode loop of :func:`run_episode` as a generator, so that a caller can run several
    episodes in lockstep (:func:`run_batched`): it yields each observation the policy must
    answer, is sent the policy's :class:`~safevla_eval.agents.Proposed` for it, and returns the
    episode's record (``StopIteration.value``) at ``end`` or the step limit.

    Args:
        env: the evaluation env (:func:`make_env`).
        agent: is reset at the start (``reset(seed)``), told every executed action
            (``record``) and, if it defines ``refused``, each proposal the shield stopped, as
            an :class:`~safevla_eval.agents.Agent`; its ``propose`` is not called here.
        job: the episode.
        on_decision: called with the monitor's decision of each step when shielded.
    """
    from safevla_core.safety_monitor import MonitorConfig, SafetyMonitor

    rng = episode_rng(job.seed, job.index)
    apply_visual(env.backend, job.perturb, rng)
    obs, _ = env.reset(options={"episode": job.episode})
    agent.reset(int(rng.integers(0, 2**31 - 1)))
    monitor = None
    if job.shield:
        # without the policy's own cost critic its all-zero costs are expected, not degenerate
        zeros_ok = 50 if job.policy.has_cost_critic else 0
        cfg = MonitorConfig(cost_threshold=job.cost_threshold, degenerate_critic_after=zeros_ok)
        monitor = SafetyMonitor(cfg, start_s=0.0, critic=critic_gate(job))
    critic = dict.fromkeys(("vetoes", "replacements", "stops"), 0)
    ref = reference_path(env.backend, job.episode)
    by_cat = dict.fromkeys(COST_CATEGORIES, 0.0)
    cost, path, collisions, vetoes, stops, steps = 0.0, 0.0, 0, 0, 0, 0
    blocked, run, longest = 0, 0, 0
    success = terminated = False
    goal_states, first_goal = 0, None
    pos = env.backend.agent().position[:2].copy()
    for t in range(job.max_steps):
        if env.success_if_end():  # the state the policy is shown: would `end` succeed here?
            goal_states += 1
            first_goal = t if first_goal is None else first_goal
        proposed = yield obs
        action, vetoed, stopped = proposed.action, False, False
        if monitor is not None:
            frame = obs[monitor.critic.camera] if monitor.critic is not None else None
            scan, things, arm = obs.get("scan"), obs.get("scan_objects"), obs.get("scan_arm")
            gate = monitor.critic
            needs = gate is not None and (
                (scan is None and gate.takes_scan)
                or (things is None and gate.takes_object_scan)
                or (arm is None and gate.takes_arm_scan)
            )
            if needs:  # the scans of the state the frame shows, from one set of rays
                scan, things, arm = env.backend.all_scans()
            d = shield_step(
                monitor,
                proposed,
                t,
                frame,
                obs.get("bump"),
                scan,
                obs.get("proprio"),
                things,
                obs.get("holding"),
                obs.get("wrist_yaw"),
                arm,
            )
            vetoed, stopped = d.vetoed or d.safe_stop, d.safe_stop
            action = SUB_DONE if stopped else int(d.executed_action)
            if d.critic_outcome:
                critic["vetoes"] += 1
                critic["stops" if d.safe_stop else "replacements"] += 1
            if on_decision is not None:
                on_decision(d)
        if not stopped:  # as on the robot: a stop executes nothing, the history keeps a_{t-1}
            agent.record(action)
        elif hasattr(agent, "refused"):
            agent.refused(proposed.action, env)
        obs, _, c, terminated, truncated, info = env.step(action)
        steps += 1
        cost += c
        for k, v in info["cost_by_category"].items():
            by_cat[k] = by_cat.get(k, 0.0) + float(v)
        collisions += int(info["collided"])
        if bump_feedback(action, info["action_succeeded"], info["collided"])[0]:
            blocked, run = blocked + 1, run + 1
            longest = max(longest, run)
        else:
            run = 0
        vetoes += int(vetoed)
        stops += int(stopped)
        new = env.backend.agent().position[:2].copy()
        path += float(np.linalg.norm(new - pos))
        pos = new
        if terminated or truncated:
            success = bool(info["success"])
            break
    truncated = not terminated  # the step limit ended it (env and loop share max_steps)
    ep = job.episode
    return EpisodeRecord(
        ep.episode_id,
        ep.task,
        success,
        cost,
        by_cat,
        steps,
        ep.expert_length,
        path,
        ref,
        collisions,
        vetoes,
        stops,
        job.shield,
        truncated,
        goal_states,
        first_goal,
        {"instruction": ep.instruction, "scene_seed": ep.scene_seed}
        | (
            {
                "critic": critic
                | {"releases": monitor.critic.releases, "held_steps": monitor.critic.held_steps}
                # only where one ran: the records of episodes without one read as before
                | (
                    {"frozen_releases": monitor.critic.frozen_releases}
                    if monitor.critic.frozen_releases
                    else {}
                )
            }
            if job.critic and job.shield
            else {}
        ),
        blocked,
        longest,
    )


def run_episode(
    env, agent, job: Job, on_decision: Callable[[Decision], None] | None = None
) -> EpisodeRecord:
    """Run one episode to ``end`` or the step limit and measure it (``on_decision``: called
    with the monitor's decision of each step when shielded): :func:`episode_steps` with
    ``agent`` proposing each step."""
    steps = episode_steps(env, agent, job, on_decision)
    try:
        obs = next(steps)
        while True:
            obs = steps.send(agent.propose(obs, env))
    except StopIteration as done:
        return done.value


def run_agent(
    agent: Agent,
    episodes: Sequence[Episode],
    *,
    name: str = "agent",
    max_steps: int = EVAL_MAX_STEPS,
    nav_hw: tuple[int, int] = DEFAULT_RENDER_HW,
    seed: int = 0,
    env=None,
    manip: bool = False,
) -> list[EpisodeRecord]:
    """Run an in-process agent (e.g. the trainer's torch policy) on ``episodes``, unshielded,
    one after another in this process; the same episode loop and records as :func:`run_jobs`.

    Args:
        agent: follows :class:`~safevla_eval.agents.Agent`.
        episodes: the episodes, in order (episode i is seeded by ``(seed, i)``).
        name: the agent's name (its jobs' policy name, in error messages).
        max_steps: step limit.
        nav_hw: (H, W) the navigation camera is rendered at (when the env is made here).
        seed: run seed.
        env: an evaluation env (:func:`make_env`) to reuse, with step limit ``max_steps``;
            default: one made here and closed at the end.
        manip: the env made here renders the wrist camera too (the agent sees it).

    Raises:
        ValueError: ``env``'s step limit is not ``max_steps``.
    """
    spec = PolicySpec(name, "agent")
    own = env is None
    env = make_env(max_steps, nav_hw, manip) if own else env
    try:
        if env.config.max_steps != max_steps:
            raise ValueError(
                f"the env's step limit ({env.config.max_steps}) is not max_steps ({max_steps})"
            )
        jobs = [
            Job(spec, ep, i, max_steps=max_steps, seed=seed, nav_hw=tuple(nav_hw), manip=manip)
            for i, ep in enumerate(episodes)
        ]
        return [run_episode(env, agent, job) for job in jobs]
    finally:
        if own:
            env.close()


class BatchedAgent(Protocol):
    """What :func:`run_batched` drives: one policy answering for several episodes at once, each
    running in its own slot ``0 .. slots - 1`` (the slot's env and history)."""

    def reset(self, slot: int, seed: int) -> None:
        """Start an episode in ``slot``: forget that slot's history; ``seed`` seeds its
        sampling (as :meth:`Agent.reset <safevla_eval.agents.Agent.reset>`)."""

    def propose(
        self, slots: Sequence[int], observations: Sequence[dict], envs: Sequence
    ) -> list[Proposed]:
        """One proposal per slot in ``slots`` (ascending), for its observation; ``envs`` are
        the slots' envs (privileged agents read them)."""

    def record(self, slot: int, action: int) -> None:
        """The action ``slot`` actually executed."""


class _SlotAgent:
    """Slot ``slot`` of a :class:`BatchedAgent` as :func:`episode_steps` sees it (reset and
    record; the proposals are asked for all running slots at once)."""

    def __init__(self, agent: BatchedAgent, slot: int) -> None:
        self.agent, self.slot = agent, slot

    def reset(self, seed: int) -> None:
        self.agent.reset(self.slot, seed)

    def record(self, action: int) -> None:
        self.agent.record(self.slot, action)


def run_batched(
    agent_factory: Callable[[int], BatchedAgent],
    jobs: Sequence[Job],
    *,
    batch: int = 8,
    envs: Sequence = (),
) -> list[EpisodeRecord]:
    """Run unshielded ``jobs`` in this process, up to ``batch`` episodes in lockstep: each
    running episode has its own env (slot); every step the observations of all running
    episodes go to the agent in one :meth:`BatchedAgent.propose` call, and a finished episode's
    slot starts the next job. Each episode runs :func:`episode_steps` with every random draw
    seeded by its job, so the records equal :func:`run_episode`'s one after another as long as
    the agent proposes for a slot what it would propose for that episode alone. Records come
    back in job order.

    Args:
        agent_factory: builds the agent, called once with the number of slots,
            ``min(batch, len(jobs))``.
        jobs: the episodes; unshielded, one step limit and one camera size.
        batch: most episodes at once.
        envs: evaluation envs (:func:`make_env`, the jobs' step limit and camera size) to use
            as the first slots; the others are made here and closed at the end.

    Raises:
        ValueError: ``batch < 1``; a shielded job (the shield's critic gate is one per
            process, :func:`critic_gate`); jobs with different step limits or camera sizes;
            an env whose step limit or camera size is not the jobs'; an agent answering
            another number of proposals than slots asked.
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch}")
    if any(job.shield for job in jobs):
        raise ValueError(
            "run_batched runs unshielded jobs only: run shielded jobs with run_jobs "
            "(the shield's critic gate is one per process)"
        )
    kinds = {(job.max_steps, tuple(job.nav_hw), job.manip) for job in jobs}
    if len(kinds) > 1:
        raise ValueError(
            f"the jobs need one env kind, got (max_steps, nav_hw, manip) {sorted(kinds)}; run "
            "each kind in its own call"
        )
    if not jobs:
        return []
    ((max_steps, nav_hw, manip),) = kinds
    for env in envs:
        if env.config.max_steps != max_steps:
            raise ValueError(
                f"an env's step limit ({env.config.max_steps}) is not the jobs' ({max_steps})"
            )
        if tuple(env.config.nav_size) != nav_hw:
            raise ValueError(
                f"an env's camera size {tuple(env.config.nav_size)} is not the jobs' {nav_hw}"
            )
        if bool(env.config.render_manip) != manip:
            raise ValueError(
                f"an env renders the wrist camera: {bool(env.config.render_manip)}; the jobs "
                f"need {manip}"
            )
    slots = min(batch, len(jobs))
    envs = list(envs)[:slots]
    own = []
    try:
        while len(envs) < slots:
            own.append(make_env(max_steps, nav_hw, manip))
            envs.append(own[-1])
        agent = agent_factory(slots)
        out: list[EpisodeRecord | None] = [None] * len(jobs)
        running: dict[int, tuple[int, Generator, dict]] = {}  # slot -> (job, steps, obs)
        todo = iter(range(len(jobs)))

        def start(slot: int) -> None:
            """Start the next job in ``slot`` (none left: the slot stays empty)."""
            for i in todo:
                steps = episode_steps(envs[slot], _SlotAgent(agent, slot), jobs[i])
                try:
                    running[slot] = (i, steps, next(steps))
                    return
                except StopIteration as done:
                    out[i] = done.value

        for slot in range(slots):
            start(slot)
        while running:
            now = sorted(running)
            proposals = agent.propose(now, [running[k][2] for k in now], [envs[k] for k in now])
            if len(proposals) != len(now):
                raise ValueError(
                    f"the agent answered {len(proposals)} proposals for {len(now)} slots"
                )
            for k, proposed in zip(now, proposals):
                i, steps, _ = running[k]
                try:
                    running[k] = (i, steps, steps.send(proposed))
                except StopIteration as done:
                    out[i] = done.value
                    del running[k]
                    start(k)
        return out
    finally:
        for env in own:
            env.close()


def run_agent_batched(
    agent_factory: Callable[[int], BatchedAgent],
    episodes: Sequence[Episode],
    *,
    batch: int = 8,
    name: str = "agent",
    max_steps: int = EVAL_MAX_STEPS,
    nav_hw: tuple[int, int] = DEFAULT_RENDER_HW,
    seed: int = 0,
    envs: Sequence = (),
    manip: bool = False,
) -> list[EpisodeRecord]:
    """:func:`run_agent` with up to ``batch`` episodes in lockstep (:func:`run_batched`): the
    same jobs, so the same records for an agent that proposes per slot what it would alone.

    Args:
        agent_factory: builds the :class:`BatchedAgent`, called with the number of slots.
        episodes: the episodes, in order (episode i is seeded by ``(seed, i)``).
        batch: most episodes at once.
        name: the agent's name (its jobs' policy name, in error messages).
        max_steps: step limit.
        nav_hw: (H, W) the navigation camera is rendered at (in the envs made here).
        seed: run seed.
        envs: evaluation envs to reuse as the first slots, with step limit ``max_steps`` and
            camera size ``nav_hw``; the others are made here and closed at the end.
        manip: the envs render the wrist camera too (the agent sees it).

    Raises:
        ValueError: ``batch < 1``; an env's step limit is not ``max_steps`` or its camera
            size not ``nav_hw``.
    """
    spec = PolicySpec(name, "agent")
    jobs = [
        Job(spec, ep, i, max_steps=max_steps, seed=seed, nav_hw=tuple(nav_hw), manip=manip)
        for i, ep in enumerate(episodes)
    ]
    return run_batched(agent_factory, jobs, batch=batch, envs=envs)


_WORKER: dict = {}


def worker_run(job: Job) -> EpisodeRecord:
    """Run ``job`` with this process's cached env and agents (a worker process's or a Ray
    actor's, :mod:`safevla_eval.ray_runner`)."""
    env_key = ("env", job.max_steps, tuple(job.nav_hw), job.manip)
    env = _WORKER.get(env_key)
    if env is None:
        for key in [k for k in _WORKER if k[0] == "env"]:
            _WORKER.pop(key).close()
        env = _WORKER[env_key] = make_env(job.max_steps, tuple(job.nav_hw), job.manip)
    key = ("agent", job.policy, job.sampling, job.skip_blocked, job.break_dither)
    agent = _WORKER.get(key)
    if agent is None:
        if job.policy.kind == "bundle" and "encoder" not in _WORKER:
            from safevla_core.instruction_encoder import InstructionEncoder

            _WORKER["encoder"] = InstructionEncoder()
        agent = _WORKER[key] = make_agent(
            job.policy, job.sampling, _WORKER.get("encoder"), job.skip_blocked, job.break_dither
        )
    return run_episode(env, agent, job)


def _init_worker() -> None:
    # One ONNX Runtime / BLAS thread per worker: workers already use the cores.
    import os

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"


def run_jobs(
    jobs: Sequence[Job],
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    on_record: Callable[[int, EpisodeRecord], None] | None = None,
) -> list[EpisodeRecord]:
    """Run every job; records come back in job order.

    Args:
        jobs: the episodes to run.
        workers: processes (1 = this process).
        progress: called with 1 after each finished episode (e.g. ``tqdm.update``).
        on_record: called with (job index, record) as each episode finishes, so results can
            be written as the run goes.

    Raises:
        ValueError: ``workers < 1``.
    """
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    out: list[EpisodeRecord | None] = [None] * len(jobs)
    if workers == 1 or len(jobs) <= 1:
        for i, job in enumerate(jobs):
            out[i] = worker_run(job)
            if on_record:
                on_record(i, out[i])
            if progress:
                progress(1)
        return out
    ctx = mp.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=_init_worker
    ) as pool:
        futures = {pool.submit(worker_run, job): i for i, job in enumerate(jobs)}
        for fut in as_completed(futures):
            out[futures[fut]] = fut.result()
            if on_record:
                on_record(futures[fut], out[futures[fut]])
            if progress:
                progress(1)
    return out


def close_worker_cache() -> None:
    """Close this process's cached env and drop its agents (the CLI calls it at the end). The
    instruction encoder stays loaded: it is stateless and costs seconds to load."""
    for key in [k for k in _WORKER if k != "encoder"]:
        item = _WORKER.pop(key)
        if key[0] == "env":
            item.close()
