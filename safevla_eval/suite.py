"""An evaluation run: which policies, tasks, episodes and conditions; jobs in, results out.

Episode sources, per task:

* ``episodes_file``: every episode of that task in the file (``"longtail"`` names the shipped
  long-tail set ``sim_bridge/data/episodes/longtail_objnav.jsonl.gz``, the one results are
  reported on; ``"longtail-val"`` a second one drawn the same way from other scenes,
  ``longtail_objnav_val.jsonl.gz``, to tune on);
* otherwise the shipped validation set ``sim_bridge/data/episodes/<task>_val.jsonl.gz``: all of
  it, or ``count`` episodes drawn without replacement by ``default_rng(seed)`` (kept in file
  order);
* if that set is missing, ``count`` episodes are generated with the careful expert
  (:func:`sim_bridge.episode_gen.generate_episodes`, seed ``seed``).

The results format (``--json``)::

    {"results": [{"bundle", "task", "episodes", "shield", "perturb", "metrics": {...},
                  "records": [...]}], "config": {...}, "format_version": 1}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from safevla_core.action_choice import DitherBreaker
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
from safevla_core.safety_spec import DEFAULT_COST_THRESHOLD
from safevla_eval.agents import (
    PSEUDO_BUNDLES,
    SAMPLING_MODES,
    parse_policy,
    render_settings,
)
from safevla_eval.conditions import PERTURBATIONS, episode_rng, reword
from safevla_eval.metrics import BOOTSTRAP_SAMPLES, summarize
from safevla_eval.runner import Job, run_jobs
from sim_bridge.episodes import DATA_DIR, Episode, load_episodes, shipped_path
from sim_bridge.tasks import EVAL_MAX_STEPS, TASK_NAMES

RESULTS_FORMAT_VERSION = 1
SHIELD_MODES: tuple[str, ...] = ("off", "on", "both")
LONGTAIL_PATH = DATA_DIR / "longtail_objnav.jsonl.gz"
LONGTAIL_VAL_PATH = DATA_DIR / "longtail_objnav_val.jsonl.gz"
NAMED_EPISODE_FILES = {"longtail": LONGTAIL_PATH, "longtail-val": LONGTAIL_VAL_PATH}


@dataclass
class EvalConfig:
    """Settings of one ``safevla eval`` run (each field is a command-line option).

    Attributes:
        policies: bundle folders or pseudo-bundles (expert:careful, expert:careless, random).
        tasks: tasks to evaluate ("all" expands to the three).
        episodes_file: an episode file (or "longtail"), or a list of them evaluated as one set
            (their episodes in order; e.g. both unseen-seed sets); None = the shipped
            validation sets.
        count: episodes per task drawn from the validation set (None = all of it).
        seed: seeds episode selection, perturbations, wording, sampling and bootstrap.
        perturb: perturbation names (see :mod:`safevla_eval.conditions`).
        instructions_file: user instruction templates; None = the episodes' own wording.
        shield: "off", "on" or "both" (on applies to policies with a cost critic).
        max_steps: episode step limit (600 = the benchmark's evaluation limit).
        cost_threshold: the shield's veto threshold on the predicted cost.
        sampling: bundles' action selection, "sample" or "greedy".
        workers: parallel processes; with ``ray_address``: Ray actors, 0 = one per CPU of the
            cluster.
        bootstrap_samples: resamples for the 95% intervals (0 = no intervals).
        verify_key: PEM public key every bundle must be signed with
            (:mod:`safevla_core.signing`); None accepts unsigned bundles.
        critic: independent safety-critic bundle the shield also runs (every policy can then
            be shielded, the built-in ones included); None = the policy's own critic only.
        critic_alpha: the alpha the critic must be calibrated at (None = the bundle's).
        critic_margin: a replacement after a critic veto needs risk < margin x threshold.
        critic_escape_after: after this many proposals without a motion, a critic veto of a
            base motion with no clear replacement runs the least risky base motion (default
            3; 0 = never).
        critic_escape_below: the escape only takes a motion with risk below this multiple
            of the thresholds (1 = only motions they pass, the default; inf = any).
        critic_recover_after: once this many of the monitor's last proposals were vetoed
            base motions, a one-hot proposal's veto backs off with a translation (0 = never;
            :mod:`safevla_core.critic_gate`).
        critic_contact_guard: the monitor does not drive a joint the way a motion touched
            something until the robot has moved clear (:mod:`safevla_core.critic_gate`).
        critic_replacement: how a critic veto's replacement is chosen among the clear
            motions: "sample" (from the proposer's distribution, the default) or "likeliest".
        critic_detour_after: once this many of the monitor's last proposals were vetoed base
            motions, a base motion's veto starts a detour around what blocks it (default 6;
            0 = never; :mod:`safevla_core.critic_gate`).
        critic_guard_release: a corner-guard veto of a base motion that only slides along or
            moves away from what the robot touches goes back to the critic's own risk
            (default on; :mod:`safevla_core.critic_gate`).
        critic_arm_guard: the monitor vetoes an arm extension that would strike what the arm
            scan sees (default on; :mod:`safevla_core.critic_gate`).
        critic_stall_stops: once this many of the monitor's last 20 proposals ended in a stop,
            a base motion's veto that would stop the robot again releases a motion below
            ``critic_stall_below`` times the thresholds (default 6; 0 = never;
            :mod:`safevla_core.critic_gate`).
        critic_stall_below: the stall release's bound, a multiple of the thresholds
            (default 1: only motions they pass).
        critic_contact_guard_base: with ``critic_contact_guard``, a base motion blocked by
            contact bars its way too (False: only the arm's motions bar theirs).
        critic_seed: the seed the shield's replacement and stall-release draws restart from at
            every episode (default 0, the monitor's; another seed redraws a shielded run).
        skip_blocked: bundles do not repeat a motion that was blocked or collided where it stands
            (:class:`safevla_core.action_choice.BlockedMoves`; the policy node's
            ``skip_blocked`` parameter).
        break_dither: bundles caught undoing their own last motion this many times in a row
            do not undo it again (:class:`safevla_core.action_choice.DitherBreaker`; the
            policy node's ``break_dither`` parameter; 0 = off).
        ray_address: run the episodes on Ray actors at this address (``--ray``; "local" = a
            local instance, :mod:`sim_bridge.ray_cluster`); None = processes on this machine.
            The records are the same either way.
    """

    policies: list[str]
    tasks: tuple[str, ...] = ("objnav",)
    episodes_file: str | list[str] | None = None
    count: int | None = None
    seed: int = 0
    perturb: tuple[str, ...] = ()
    instructions_file: str | None = None
    shield: str = "off"
    max_steps: int = EVAL_MAX_STEPS
    cost_threshold: float = DEFAULT_COST_THRESHOLD
    sampling: str = "greedy"
    workers: int = 1
    bootstrap_samples: int = BOOTSTRAP_SAMPLES
    verify_key: str | None = None
    critic: str | None = None
    critic_alpha: float | None = None
    critic_margin: float = DEFAULT_CRITIC_MARGIN
    critic_escape_after: int = DEFAULT_CRITIC_ESCAPE_AFTER
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
    skip_blocked: bool = False
    break_dither: int = 0
    ray_address: str | None = None
    specs: list = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if not self.policies:
            raise ValueError(
                f"no policy to evaluate: pass --bundle PATH (or one of "
                f"{', '.join(PSEUDO_BUNDLES)}) at least once"
            )
        self.tasks = tuple(TASK_NAMES) if "all" in self.tasks else tuple(self.tasks)
        bad = [t for t in self.tasks if t not in TASK_NAMES]
        if bad:
            raise ValueError(f"unknown task(s) {bad}; use objnav, pickup, fetch or all")
        checks = (
            (self.count is None or self.count >= 1, f"count must be >= 1, got {self.count}"),
            (
                self.shield in SHIELD_MODES,
                f"shield must be one of {SHIELD_MODES}, got {self.shield!r}",
            ),
            (self.max_steps >= 1, f"max_steps must be >= 1, got {self.max_steps}"),
            (self.cost_threshold >= 0, f"cost_threshold must be >= 0, got {self.cost_threshold}"),
            (
                self.sampling in SAMPLING_MODES,
                f"sampling must be one of {SAMPLING_MODES}, got {self.sampling!r}",
            ),
            (
                self.workers >= 1 or (self.workers == 0 and self.ray_address is not None),
                f"workers must be >= 1 (0 = one per CPU, with Ray only), got {self.workers}",
            ),
            (
                self.bootstrap_samples >= 0,
                f"bootstrap_samples must be >= 0, got {self.bootstrap_samples}",
            ),
            (
                all(p in PERTURBATIONS for p in self.perturb),
                f"unknown perturbation in {self.perturb}",
            ),
        )
        for ok, msg in checks:
            if not ok:
                raise ValueError(msg)
        if self.break_dither:
            DitherBreaker(self.break_dither)  # refuses a bad value by name
        names = [p for p in self.policies]
        if len(set(names)) != len(names):
            raise ValueError(f"policy given twice in {names}; name each --bundle once")
        self.specs = [parse_policy(p) for p in self.policies]
        if self.critic and self.shield == "off":
            raise ValueError("--critic runs inside the shield; add --shield on (or both)")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("specs")
        d["tasks"], d["perturb"] = list(self.tasks), list(self.perturb)
        return d


def subset_episodes(episodes: list[Episode], count: int | None, seed: int) -> list[Episode]:
    """``count`` of ``episodes`` drawn without replacement by ``seed``, in file order (all of
    them for None): the ``--count N --seed S`` subset of ``safevla eval``."""
    if count is None or count >= len(episodes):
        return list(episodes)
    pick = np.random.default_rng(seed).choice(len(episodes), size=count, replace=False)
    return [episodes[i] for i in sorted(pick)]


def episodes_file_path(name: str) -> Path:
    """The file an ``--episodes`` value names ("longtail" = the shipped long-tail set,
    "longtail-val" = the long-tail set to tune on)."""
    return NAMED_EPISODE_FILES.get(name, Path(name))


def load_episode_files(names: str | list[str]) -> list[Episode]:
    """The episodes of one ``--episodes`` value or several, in order (:func:`episodes_file_path`
    resolves each).

    Raises:
        ValueError: an episode id appears twice (the same file given twice, or two files that
            share ids): its records could not be told apart.
        FileNotFoundError: a file does not exist.
    """
    out: list[Episode] = []
    seen: dict[str, str] = {}
    for name in [names] if isinstance(names, str) else names:
        for e in load_episodes(episodes_file_path(name)):
            if e.episode_id in seen:
                raise ValueError(
                    f"episode {e.episode_id!r} is in {seen[e.episode_id]} and again in {name}; "
                    "pass each episode file once"
                )
            seen[e.episode_id] = name
            out.append(e)
    return out


def files_label(names: str | list[str] | None) -> str | None:
    """``episodes_file`` as one line of text (several files joined by ", ")."""
    return names if names is None or isinstance(names, str) else ", ".join(names)


def task_episodes(
    cfg: EvalConfig, task: str, file_episodes: list[Episode] | None
) -> list[Episode]:
    """The episodes of ``task`` for this run (see the module docstring)."""
    return episodes_for(task, file_episodes, cfg.count, cfg.seed)


def episodes_for(
    task: str, file_episodes: list[Episode] | None, count: int | None, seed: int
) -> list[Episode]:
    """``count`` episodes of ``task`` drawn by ``seed``: from ``file_episodes`` when given,
    else from the shipped validation set, else ``count`` freshly generated ones."""
    if file_episodes is not None:
        eps = [e for e in file_episodes if e.task == task]
        return subset_episodes(eps, count, seed)
    path = shipped_path(task, "val")
    if path.is_file():
        return subset_episodes(load_episodes(path), count, seed)
    if count is None:
        raise ValueError(
            f"no shipped validation set {path} for task {task!r}; pass "
            "--episodes FILE, or --count N to generate N episodes"
        )
    from sim_bridge.episode_gen import GenConfig, generate_episodes
    from sim_bridge.mujoco.backend import MujocoBackend

    backend = MujocoBackend()
    try:
        return generate_episodes(
            backend, GenConfig(task), count, seed, id_prefix=f"{task}_gen_s{seed}"
        )
    finally:
        backend.close()


def resolve_episodes(cfg: EvalConfig) -> dict[str, list[Episode]]:
    """Episodes per task, reworded per ``--perturb paraphrase`` / ``--instructions``.

    Raises:
        ValueError / FileNotFoundError: bad files, or a task without episodes.
    """
    from sim_bridge.instructions import load_instruction_file

    file_eps = None
    if cfg.episodes_file is not None:
        file_eps = load_episode_files(cfg.episodes_file)
    user = load_instruction_file(cfg.instructions_file) if cfg.instructions_file else None
    out = {}
    for task in cfg.tasks:
        eps = task_episodes(cfg, task, file_eps)
        if not eps:
            if file_eps is not None and len(cfg.tasks) > 1:
                continue  # "all" on a single-task file: evaluate the tasks it has
            raise ValueError(
                f"no {task!r} episodes in {files_label(cfg.episodes_file)}; pick --task to "
                "match the file"
            )
        out[task] = [
            reword(e, cfg.perturb, episode_rng(cfg.seed + 1, i), user) for i, e in enumerate(eps)
        ]
    if not out:
        raise ValueError(f"no episodes of tasks {list(cfg.tasks)} found")
    return out


def _bundle_id(path: str, verify_key: str | None = None) -> str:
    """``name@sha12`` of a verified bundle (a corrupt, or with ``verify_key`` an unsigned or
    wrongly signed, bundle fails here, before any episode)."""
    from safevla_core.bundle import BundleError, load_bundle

    try:
        return load_bundle(path, verify_key=verify_key).bundle_id
    except BundleError as exc:
        raise ValueError(str(exc)) from None


def _critic_id(cfg: EvalConfig, spec) -> str:
    """The critic's ``name@sha12`` once it passed every check against ``spec`` ("" without a
    critic); a bad or mismatched critic, or with ``verify_key`` an unsigned or wrongly signed
    one, fails here, before any episode."""
    if not cfg.critic:
        return ""
    from safevla_core.bundle import BundleError
    from safevla_eval.runner import Job, critic_gate

    job = Job(spec, None, 0, True, critic=cfg.critic, critic_alpha=cfg.critic_alpha)
    job = dataclasses.replace(
        job,
        critic_margin=cfg.critic_margin,
        critic_escape_after=cfg.critic_escape_after,
        critic_escape_below=cfg.critic_escape_below,
        critic_recover_after=cfg.critic_recover_after,
        critic_contact_guard=cfg.critic_contact_guard,
        critic_replacement=cfg.critic_replacement,
        critic_detour_after=cfg.critic_detour_after,
        critic_guard_release=cfg.critic_guard_release,
        critic_arm_guard=cfg.critic_arm_guard,
        critic_stall_stops=cfg.critic_stall_stops,
        critic_stall_below=cfg.critic_stall_below,
        critic_contact_guard_base=cfg.critic_contact_guard_base,
        critic_seed=cfg.critic_seed,
    )
    try:
        return critic_gate(job, cfg.verify_key).bundle_id
    except BundleError as exc:
        raise ValueError(str(exc)) from None


def groups(
    cfg: EvalConfig,
    episodes: dict[str, list[Episode]],
    render_hw: tuple[int, int] | None = None,
) -> list[tuple[dict, list[Job]]]:
    """(result header, jobs) per policy x task x shield setting.

    ``render_hw`` overrides the render size of the policies that do not look at the frames
    (experts, random), where it changes speed, not results; bundles keep :func:`render_size`.
    """
    out = []
    shield_modes = {"off": (False,), "on": (True,), "both": (False, True)}[cfg.shield]
    for spec in cfg.specs:
        modes = shield_modes if spec.has_cost_critic or cfg.critic else (False,)
        critic_id = _critic_id(cfg, spec)
        settings = None  # read once, after the bundle passed its checks (`_bundle_id`)
        for task, eps in episodes.items():
            for shield in modes:
                header = {
                    "bundle": spec.name,
                    "task": task,
                    "episodes": len(eps),
                    "shield": shield,
                    "perturb": list(cfg.perturb),
                }
                if spec.kind == "bundle":
                    header["bundle_id"] = _bundle_id(spec.target, cfg.verify_key)
                if settings is None:
                    settings = render_settings(spec)
                bundle_hw, manip = settings
                if shield and critic_id:
                    header["critic_id"] = critic_id
                if cfg.shield != "off" and not modes[-1]:
                    header["note"] = "no cost critic: evaluated without the shield"
                jobs = [
                    Job(
                        spec,
                        e,
                        i,
                        shield,
                        cfg.perturb,
                        cfg.max_steps,
                        cfg.cost_threshold,
                        cfg.sampling,
                        cfg.seed,
                        render_hw if render_hw and spec.kind != "bundle" else bundle_hw,
                        cfg.critic or "",
                        cfg.critic_alpha,
                        cfg.critic_margin,
                        manip,
                        cfg.critic_escape_after,
                        cfg.skip_blocked,
                        cfg.critic_escape_below,
                        cfg.critic_recover_after,
                        cfg.critic_contact_guard,
                        cfg.critic_replacement,
                        cfg.critic_detour_after,
                        cfg.critic_guard_release,
                        cfg.critic_arm_guard,
                        cfg.critic_stall_stops,
                        cfg.critic_stall_below,
                        cfg.critic_contact_guard_base,
                        cfg.critic_seed,
                        cfg.break_dither,
                    )
                    for i, e in enumerate(eps)
                ]
                out.append((header, jobs))
    return out


def evaluate(
    cfg: EvalConfig,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    on_record: Callable[[dict, dict], None] | None = None,
) -> dict:
    """Run the whole evaluation; returns the results document (see the module docstring)."""
    return evaluate_episodes(cfg, resolve_episodes(cfg), progress, on_total, on_record=on_record)


def evaluate_episodes(
    cfg: EvalConfig,
    episodes: dict[str, list[Episode]],
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    render_hw: tuple[int, int] | None = None,
    on_record: Callable[[dict, dict], None] | None = None,
) -> dict:
    """Run ``cfg``'s policies on given episodes (task -> episodes, e.g. the first N of a
    file, as ``safevla sim expert`` does); returns the results document.

    ``on_record(header, record)`` is called as each episode finishes (its group's result
    header and the episode record as a dict), e.g. to write results as the run goes.
    """
    plan = groups(cfg, episodes, render_hw)
    jobs = [j for _, js in plan for j in js]
    headers = [header for header, js in plan for _ in js]
    if on_total:
        on_total(len(jobs))
    hook = None
    if on_record is not None:

        def hook(i: int, record) -> None:
            on_record(headers[i], record.to_dict())

    if cfg.ray_address is not None:
        from safevla_eval.ray_runner import run_jobs_ray

        records = run_jobs_ray(jobs, cfg.ray_address, cfg.workers, progress, hook)
    else:
        records = run_jobs(jobs, cfg.workers, progress, hook)
    results, start = [], 0
    for header, js in plan:
        recs = records[start : start + len(js)]
        start += len(js)
        metrics = summarize(recs, samples=cfg.bootstrap_samples, seed=cfg.seed)
        results.append({**header, "metrics": metrics, "records": [r.to_dict() for r in recs]})
    return {"format_version": RESULTS_FORMAT_VERSION, "results": results, "config": cfg.to_dict()}
