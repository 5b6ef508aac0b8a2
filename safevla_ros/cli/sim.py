"""``safevla sim ...``: episode sets, rendering and expert runs on the embedded simulator.

* ``safevla sim episodes --task objnav --count 200 --seed 0 --out objnav_val.jsonl.gz``
* ``safevla sim render --episode FILE[:index] --policy expert:careful --out DIR``
* ``safevla sim expert --episodes FILE --mode both [--limit N]``: the expert through the
  evaluator (``safevla eval``'s metrics and table; ``both`` = careful and careless).

``episodes`` and ``render`` take ``--backend`` (``mujoco``, the default, or ``thor``: the
registry of :mod:`sim_bridge.backends`). Also runnable without the ``safevla`` entry point:
``python -m safevla_ros.cli.sim sim ...``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

from safevla_core.errors import UserError
from safevla_ros.cli.outputs import check_output_dir, check_output_file
from sim_bridge.backend import BackendUnavailableError
from sim_bridge.backends import BACKEND_NAMES, DEFAULT_BACKEND
from sim_bridge.expert_modes import MODES
from sim_bridge.policies import EXPERT_PREFIX, builtin_policies, canonical_policy
from sim_bridge.tasks import EVAL_MAX_STEPS, TASK_NAMES

BOTH_MODES = ("careful", "careless")  # what `sim expert --mode both` runs
EXPERT_RENDER_HW = (32, 32)


def _policy_name(text: str) -> str:
    """``--policy`` in the one spelling (the old ``expert-careful`` is still accepted)."""
    try:
        return canonical_policy(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``sim`` and its subcommands."""
    sim = subparsers.add_parser(
        "sim",
        help="simulator tools: episode sets, render, expert",
        description="Episode sets, rendering and expert runs on the embedded simulator.",
    )
    sub = sim.add_subparsers(dest="sim_command", metavar="SIM_COMMAND")
    sim.set_defaults(func=lambda args: sim.print_help() or 2)

    p = sub.add_parser("episodes", help="generate an expert-checked episode set (JSONL[.gz])")
    p.add_argument("--task", required=True, choices=TASK_NAMES)
    p.add_argument("--count", type=int, required=True, help="number of episodes")
    p.add_argument("--seed", type=int, default=0, help="generation seed (reproducible)")
    p.add_argument("--out", type=Path, required=True, help="output .jsonl or .jsonl.gz")
    p.add_argument("--instruction-split", default="train", choices=("train", "heldout"))
    p.add_argument("--workers", type=int, default=1, help="parallel generator processes")
    p.add_argument("--id-prefix", default=None, help="episode id prefix (default task_s<seed>)")
    p.add_argument(
        "--scenes",
        default="val",
        choices=("val", "train"),
        help="scene-seed pool: val (unseen in training) or train",
    )
    p.add_argument(
        "--instructions",
        type=Path,
        default=None,
        help="extra templates file: one 'task<TAB>template' per line, {object}",
    )
    _add_backend(p)
    p.set_defaults(func=cmd_episodes)

    p = sub.add_parser("render", help="PNG frames and a top-down cost map of one episode")
    p.add_argument("--episode", required=True, help="FILE[:index] (index 0-based, default 0)")
    p.add_argument(
        "--policy",
        type=_policy_name,
        default="expert:careful",
        help=f"one of {', '.join(builtin_policies())} (expert-careful is read as expert:careful)",
    )
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--every", type=int, default=10, help="save a frame every k steps")
    p.add_argument("--size", type=int, nargs=2, default=(224, 384), metavar=("H", "W"))
    p.add_argument("--max-steps", type=int, default=EVAL_MAX_STEPS)
    p.add_argument("--seed", type=int, default=0, help="seed of the random policy")
    _add_backend(p)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser(
        "expert",
        help="run the expert on an episode set: safevla eval's metrics",
        description="Run expert modes on an episode file through the evaluator and print "
        "safevla eval's table (success_rate, cost_mean with 95% bootstrap intervals, ...).",
    )
    p.add_argument("--episodes", type=Path, required=True, help="episode file")
    p.add_argument(
        "--mode", default="both", choices=(*MODES, "both"), help="both = careful and careless"
    )
    p.add_argument("--limit", type=int, default=0, help="first N episodes only (0 = all)")
    p.add_argument("--max-steps", type=int, default=EVAL_MAX_STEPS)
    p.add_argument(
        "--json", type=Path, default=None, help="also write the results (safevla eval's format)"
    )
    p.set_defaults(func=cmd_expert)


def _load(path: Path):
    from sim_bridge.episodes import load_episodes

    try:
        return load_episodes(path)
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from None


def _add_backend(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backend",
        default=DEFAULT_BACKEND,
        choices=BACKEND_NAMES,
        help=f"simulator (default {DEFAULT_BACKEND}; thor needs an AI2-THOR build and a GPU)",
    )


def _gen_worker(args: tuple) -> list[dict]:
    task, split, seed, indices, prefix, base, extra, backend_name = args
    from sim_bridge.backends import make_backend
    from sim_bridge.episode_gen import GenConfig, generate_one

    backend = make_backend(backend_name, (32, 32), (32, 32))
    cfg = GenConfig(task, split, extra_templates=extra)
    out = [
        generate_one(backend, cfg, seed, i, f"{prefix}_{i:04d}", base).to_dict() for i in indices
    ]
    backend.close()
    return out


def cmd_episodes(args) -> int:
    from sim_bridge.episodes import Episode, save_episodes

    if args.count < 1:
        raise UserError(f"--count must be >= 1, got {args.count}")
    if args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    if not (args.out.name.endswith(".jsonl") or args.out.name.endswith(".jsonl.gz")):
        raise UserError(f"--out {args.out} must end in .jsonl or .jsonl.gz")
    check_output_file(args.out, "--out")  # before minutes of generation, not after
    from sim_bridge.episode_gen import VAL_SCENE_BASE
    from sim_bridge.instructions import load_instruction_file

    extra = None
    if args.instructions is not None:
        try:
            extra = load_instruction_file(args.instructions)
        except (FileNotFoundError, ValueError) as exc:
            raise UserError(str(exc)) from None
    base = VAL_SCENE_BASE if args.scenes == "val" else 0
    prefix = args.id_prefix or f"{args.task}_s{args.seed}"
    chunks = [list(range(w, args.count, args.workers)) for w in range(args.workers)]
    jobs = [
        (args.task, args.instruction_split, args.seed, c, prefix, base, extra, args.backend)
        for c in chunks
        if c
    ]
    t0 = time.time()
    try:
        if len(jobs) == 1:
            rows = _gen_worker(jobs[0])
        else:
            with mp.get_context("spawn").Pool(len(jobs)) as pool:
                rows = [r for part in pool.map(_gen_worker, jobs) for r in part]
    except BackendUnavailableError as exc:
        raise UserError(str(exc)) from None
    episodes = sorted((Episode.from_dict(r) for r in rows), key=lambda e: e.episode_id)
    save_episodes(episodes, args.out)
    mean_len = sum(e.expert_length for e in episodes) / len(episodes)
    print(
        f"wrote {len(episodes)} {args.task} episodes to {args.out} "
        f"(mean expert length {mean_len:.1f} steps, {time.time() - t0:.0f} s)"
    )
    return 0


def cmd_render(args) -> int:
    from sim_bridge.env import EnvConfig, make_env
    from sim_bridge.episodes import parse_episode_ref
    from sim_bridge.render import render_episode

    path, index = parse_episode_ref(args.episode)
    episodes = _load(path)
    if not 0 <= index < len(episodes):
        raise UserError(
            f"episode index {index} out of range: {path} has {len(episodes)} "
            f"episodes (0..{len(episodes) - 1})"
        )
    if args.every < 1:
        raise UserError(f"--every must be >= 1, got {args.every}")
    try:
        cfg = EnvConfig(
            nav_size=tuple(args.size),
            manip_size=tuple(args.size),
            max_steps=args.max_steps,
            backend=args.backend,
        )
    except ValueError as exc:  # the env's own bounds, named by the options that set them
        h, w = args.size
        raise UserError(
            f"--size {h} {w} / --max-steps {args.max_steps}: {exc}; pick values in range"
        ) from None
    check_output_dir(args.out, "--out")
    try:
        env = make_env(config=cfg)
    except BackendUnavailableError as exc:
        raise UserError(str(exc)) from None
    try:
        summary = render_episode(
            env, episodes[index], args.policy, args.out, args.every, args.seed
        )
    finally:
        env.close()
    print(json.dumps(summary, indent=2))
    return 0


def cmd_expert(args) -> int:
    """The expert modes on an episode file through the evaluator (``safevla eval``'s episode
    loop, metrics and table); ``--json`` writes its results document."""
    from safevla_eval.report import ResultsWriter, markdown_tables
    from safevla_eval.runner import close_worker_cache
    from safevla_eval.suite import EvalConfig, evaluate_episodes

    episodes = _load(args.episodes)
    if args.limit < 0:
        raise UserError(f"--limit must be >= 0, got {args.limit}")
    check_output_file(args.json, "--json")
    if args.limit:
        episodes = episodes[: args.limit]
    modes = BOTH_MODES if args.mode == "both" else (args.mode,)
    tasks = tuple(dict.fromkeys(e.task for e in episodes))  # file order
    by_task = {t: [e for e in episodes if e.task == t] for t in tasks}
    writer = None
    try:
        cfg = EvalConfig(
            [f"{EXPERT_PREFIX}{m}" for m in modes],
            tasks=tasks,
            episodes_file=str(args.episodes),
            max_steps=args.max_steps,
        )
        writer = ResultsWriter(args.json, cfg.to_dict()) if args.json else None
        # The experts plan on simulator state, not pixels: a small frame only saves time.
        doc = evaluate_episodes(
            cfg,
            by_task,
            render_hw=EXPERT_RENDER_HW,
            on_record=writer.record if writer else None,
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None
    finally:
        if writer is not None:
            writer.close()
        close_worker_cache()
    print(markdown_tables(doc))
    if writer is not None:
        writer.finish(doc)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry: ``python -m safevla_ros.cli.sim sim episodes ...``."""
    from safevla_ros.cli.main import run_standalone

    return run_standalone(add_parser, argv)


if __name__ == "__main__":
    sys.exit(main())
