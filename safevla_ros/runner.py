"""``safevla run --sim``: the runtime nodes plus the sim bridge as separate processes.

The same node executables and parameter files as ``launch/sim.launch.py`` (config/robot.yaml,
then config/sim.yaml, then this run's overrides), in a ROS domain of their own
(``ROS_DOMAIN_ID``, random in 1..101 unless ``--domain-id``). The runner starts each episode
through the sim bridge's ``reset_episode`` service once every node is up (the policy node takes
seconds to load its model and text encoder; an episode started before would be all watchdog
stops), watches EpisodeStatus and SafetyVerdict, prints one line per finished episode (success,
ground-truth cost, vetoes, stops) and a summary, and stops every process it started on exit or
Ctrl-C. A node that exits is restarted (at most ``MAX_RESTARTS`` times, logged); the nodes die
with the runner, even when it is killed (``PR_SET_PDEATHSIG``). The processes themselves are
:mod:`safevla_ros.supervisor`'s; its names are re-exported here for older imports. With
``--robots N`` the run is :mod:`safevla_ros.fleet_run`'s (the same watcher, N namespaces).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import yaml

from safevla_core.action_choice import default_break_dither
from safevla_core.errors import UserError
from safevla_ros.episode_tally import EpisodeResult, Tally, summary, summary_dict
from safevla_ros.fleet_run import Robot, add_fleet_args, run_fleet, watch_robots, within
from safevla_ros.nodes import CONFIG_FILES, SIM
from safevla_ros.params import check_policy_inputs
from safevla_ros.supervisor import (  # noqa: F401 (re-exported for benchmarks and tests)
    MAX_RESTARTS,
    NODES,
    REPO,
    Supervisor,
    check_alive,
    config_dir,
    node_env,
    start_node,
    start_nodes,
    stop_nodes,
)
from sim_bridge.tasks import TASK_NAMES

DEFAULT_BUNDLE = "models/objnav-ppo-lag"  # relative to the cwd, else to the checkout


def _interrupt_on_signals() -> None:
    """Ctrl-C and SIGTERM both end the run through the cleanup path (also when the shell
    started us with SIGINT ignored, as it does for background jobs)."""

    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, raise_interrupt)


def overrides(args: argparse.Namespace, bundle: Path) -> dict:
    """This run's parameters on top of robot.yaml and sim.yaml. The sim bridge is given the
    bundle too: it renders at the size the bundle was trained at (its manifest), so the
    perception node's resize matches training."""
    sim = {"task": args.task, "seed": args.seed, "frame_rate_hz": args.rate}
    sim["bundle_path"] = str(bundle)
    sim["auto_reset"] = False  # the runner starts each episode once every node is up
    if args.episode_file:
        sim["episode_file"] = str(Path(args.episode_file).resolve())
    if args.max_steps is not None:
        sim["max_steps"] = args.max_steps
    robot = {"bundle_path": str(bundle)}
    dither = default_break_dither(bool(args.critic), args.break_dither)
    if args.verify_key:
        robot["verify_key"] = str(Path(args.verify_key).resolve())
    out = {
        "perception_node": {"ros__parameters": dict(robot)},
        "policy_node": {
            "ros__parameters": dict(robot)
            | ({"skip_blocked": True} if args.skip_blocked else {})
            | ({"break_dither": dither} if dither else {})
        },
        "sim_bridge_node": {"ros__parameters": sim},
    }
    monitor = {}
    if args.critic:  # the monitor checks the critic against the policy bundle
        monitor |= {"critic_bundle": str(Path(args.critic).resolve()), **robot}
    if args.cost_threshold is not None:
        monitor["cost_threshold"] = args.cost_threshold
    if args.rate > 10.0:  # keep the rate limit above a faster-than-real-time sim's frame rate
        monitor["max_action_rate_hz"] = 2.0 * args.rate
        out["action_adapter_node"] = {"ros__parameters": {"max_action_rate_hz": 2.0 * args.rate}}
    if monitor:
        out["safety_monitor_node"] = {"ros__parameters": monitor}
    return out


def run(args: argparse.Namespace) -> int:
    """Run ``args.episodes`` sim-in-the-loop episodes; prints per-episode lines and a summary."""
    if not args.sim:
        raise UserError(
            "`safevla run` drives the simulator only (add --sim); on a robot use "
            "`ros2 launch safevla_ros robot.launch.py bundle:=<bundle folder>`"
        )
    from safevla_core.bundle import BundleError, load_bundle

    if args.episode_file and not Path(args.episode_file).is_file():
        raise UserError(f"--episode-file {args.episode_file}: no such file")
    bundle_arg = Path(args.bundle)
    if not bundle_arg.exists() and not bundle_arg.is_absolute() and (REPO / bundle_arg).exists():
        bundle_arg = REPO / bundle_arg
    if args.json:
        from safevla_ros.cli.outputs import check_output_file

        check_output_file(args.json, "--json")
    try:
        loaded = load_bundle(bundle_arg, verify_key=args.verify_key or None)
    except BundleError as exc:
        hint = ""
        if args.bundle == DEFAULT_BUNDLE:
            hint = " (the default bundle is written by training; or pass --bundle PATH)"
        raise UserError(f"--bundle {args.bundle}: {exc}{hint}") from None
    try:
        check_policy_inputs(loaded)  # the node would refuse it at configure
    except ValueError as exc:
        raise UserError(f"--bundle {args.bundle}: {exc}") from None
    bundle = loaded.path.resolve()
    if args.critic:  # refused here with the node's own check, before any process starts
        from safevla_core.critic_gate import CriticGate, PolicyFacts

        try:
            CriticGate.load(
                args.critic, PolicyFacts.of_bundle(loaded), verify_key=args.verify_key or None
            )
        except BundleError as exc:
            raise UserError(f"--critic {args.critic}: {exc}") from None
    if args.robots > 1:  # namespaced node groups, one per robot (issue 13)
        _interrupt_on_signals()
        return run_fleet(args, loaded, overrides(args, bundle))
    domain = args.domain_id
    if domain is None:
        domain = random.SystemRandom().randint(1, 101)
    log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="safevla-run-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    extra = log_dir / "run_overrides.yaml"
    record_dir = Path(args.record_dir or log_dir / "recordings").resolve()
    recorder = {"ros__parameters": {"output_dir": str(record_dir)}}
    extra.write_text(yaml.safe_dump(overrides(args, bundle) | {"safety_recorder_node": recorder}))
    files = [*(config_dir() / f for f in CONFIG_FILES[SIM]), extra]
    env = node_env(domain)
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    print(f"safevla run: domain {domain}, bundle {bundle}, logs {log_dir}", flush=True)
    print(f"safevla run: safety recordings (MCAP) in {record_dir}", flush=True)
    if args.critic:
        dither = default_break_dither(True, args.break_dither)
        print(f"safevla run: critic {args.critic}, dither breaker {dither}", flush=True)
    _interrupt_on_signals()
    robot = Robot("", log_dir, record_dir, tally=Tally())
    code = 0
    try:
        robot.nodes = Supervisor(env, files, log_dir)
        watch_robots(args, [robot])
    except KeyboardInterrupt:
        print("safevla run: interrupted; stopping the nodes", file=sys.stderr, flush=True)
        code = 130
    finally:
        if robot.nodes is not None:
            robot.nodes.stop()
    results = robot.results(args.episodes)
    print(summary(results), flush=True)
    if args.json:
        write_json(Path(args.json), results, loaded.bundle_id)
    return code


def write_json(path: Path, results: list[EpisodeResult], bundle_id: str) -> None:
    """Per-episode results and their summary as JSON (the evaluator's record field names)."""
    doc = {"bundle_id": bundle_id, "episodes": [asdict(r) for r in results]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc | {"summary": summary_dict(results)}, indent=2))


def add_parser(subparsers) -> None:
    """Register ``safevla run``."""
    p = subparsers.add_parser(
        "run",
        help="run the ROS 2 stack on the simulator (sim-in-the-loop episodes)",
        description=(
            "Start perception, policy, safety monitor, action adapter, safety recorder and the "
            "sim bridge as separate processes (config/robot.yaml + config/sim.yaml, own "
            "ROS_DOMAIN_ID), run episodes, print per-episode success, ground-truth cost, "
            "vetoes and a summary."
        ),
    )
    p.add_argument("--sim", action="store_true", help="drive the embedded simulator (required)")
    p.add_argument("--bundle", default=DEFAULT_BUNDLE, help="model bundle folder")
    p.add_argument("--episodes", type=_positive_int, default=3, help="episodes to run")
    p.add_argument("--task", default="objnav", choices=TASK_NAMES)
    p.add_argument(
        "--episode-file",
        default=None,
        help="episode set (JSONL[.gz]) to run in order (default: the task's validation set)",
    )
    p.add_argument("--json", default=None, help="write per-episode results and a summary here")
    p.add_argument(
        "--verify-key",
        metavar="PUB",
        default=None,
        help="Ed25519 public key (PEM, `safevla keygen`): the bundle must be signed by it "
        "(checked here and by the perception and policy nodes)",
    )
    p.add_argument(
        "--critic",
        metavar="PATH",
        default=None,
        help="independent safety-critic bundle for the monitor (its critic_bundle parameter)",
    )
    p.add_argument(
        "--max-steps",
        type=_positive_int,
        default=None,
        help="episode step limit (default: config/sim.yaml)",
    )
    p.add_argument(
        "--skip-blocked",
        action="store_true",
        help="the policy node does not propose again a motion that was blocked or collided (its "
        "skip_blocked parameter; as safevla eval --skip-blocked)",
    )
    p.add_argument(
        "--break-dither",
        type=_dither_steps,
        default=None,
        metavar="N",
        help="the policy node does not undo its last motion after N motions in a row each "
        "undid the one before (its break_dither parameter; as safevla eval --break-dither; "
        "0 = off; default: 6 with --critic, else off)",
    )
    p.add_argument("--rate", type=_rate, default=10.0, help="camera frame rate, Hz (0.5..200)")
    p.add_argument("--seed", type=int, default=0, help="seed of the episode sampler")
    p.add_argument(
        "--cost-threshold", type=float, default=None, help="override the monitor's cost threshold"
    )
    p.add_argument(
        "--domain-id",
        type=_domain,
        default=None,
        help="ROS_DOMAIN_ID, 0..101 (default: random in 1..101)",
    )
    p.add_argument("--log-dir", default=None, help="folder for the node logs")
    p.add_argument("--record-dir", help="the safety recorder's MCAP folder (LOG_DIR/recordings)")
    p.add_argument(
        "--startup-timeout",
        type=float,
        default=120.0,
        help="seconds until every node is up and the first episode started (the policy nodes "
        "load their model and text encoder: 10-40 s on a loaded 2-core machine)",
    )
    p.add_argument("--step-timeout", type=float, default=20.0, help="seconds without progress")
    add_fleet_args(p)
    p.set_defaults(func=run)


_rate = within("--rate", 0.5, 200.0, float, " Hz")
_domain = within("--domain-id", 0, 101)


def _positive_int(text: str) -> int:
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive integer")
    return v


def _dither_steps(text: str) -> int:
    from safevla_core.action_choice import DitherBreaker

    v = int(text)
    if v:
        try:
            DitherBreaker(v)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return v


def main(argv: list[str] | None = None) -> int:
    """``python -m safevla_ros.runner --sim ...`` (the same as ``safevla run``)."""
    parser = argparse.ArgumentParser(prog="safevla")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["run", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except UserError as exc:
        print(f"safevla run: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
