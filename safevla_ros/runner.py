"""``safevla run --sim``: the runtime nodes plus the sim bridge as separate processes.

The same node executables and parameter files as ``launch/sim.launch.py`` (config/robot.yaml,
then config/sim.yaml, then this run's overrides), in a ROS domain of their own
(``ROS_DOMAIN_ID``, random in 1..101 unless ``--domain-id``). The runner watches EpisodeStatus
and SafetyVerdict, prints one line per finished episode (success, ground-truth cost, vetoes,
stops) and a summary, and stops every process it started on exit or Ctrl-C. A node that exits
is restarted (at most ``MAX_RESTARTS`` times, logged); the nodes die with the runner, even when
it is killed (``PR_SET_PDEATHSIG``). The processes themselves are
:mod:`safevla_ros.supervisor`'s; its names are re-exported here for older imports.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from safevla_core.errors import UserError
from safevla_core.monitor_types import critic_veto
from safevla_ros.nodes import CONFIG_FILES, SIM
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


@dataclass
class EpisodeResult:
    """What one episode did, from EpisodeStatus (ground truth) and SafetyVerdict."""

    episode_id: str
    instruction: str = ""
    steps: int = 0
    success: bool = False
    cost: float = 0.0
    vetoes: int = 0
    stops: int = 0
    done: bool = False
    rules: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        ok = "yes" if self.success else "no "
        return (
            f"episode {self.episode_id:<22} success {ok}  steps {self.steps:4d}  "
            f"cost {self.cost:6.1f}  vetoes {self.vetoes:3d}  stops {self.stops:3d}  "
            f"{self.instruction!r}"
        )


class Tally:
    """Assigns statuses and verdicts to episodes (verdicts go to the current episode)."""

    def __init__(self) -> None:
        self.episodes: list[EpisodeResult] = []

    @property
    def current(self) -> EpisodeResult | None:
        return self.episodes[-1] if self.episodes else None

    def on_status(self, msg) -> EpisodeResult | None:
        """Record an EpisodeStatus; returns the episode if this status finished it."""
        cur = self.current
        if cur is None or cur.episode_id != msg.episode_id or cur.done:
            if msg.done:
                return None  # the end of an episode we did not see start
            cur = EpisodeResult(msg.episode_id, msg.instruction)
            self.episodes.append(cur)
        cur.steps, cur.cost, cur.success = int(msg.step), float(msg.cumulative_cost), msg.success
        cur.done = bool(msg.done)
        return cur if cur.done else None

    def on_verdict(self, msg) -> None:
        cur = self.current
        if cur is None or cur.done or msg.proposal_sequence == 0:
            return  # watchdog repeats between episodes are not the policy's decisions
        cur.vetoes += int(critic_veto(msg.vetoed, msg.triggered_rule))
        cur.stops += int(msg.safe_stop)
        if msg.triggered_rule:
            cur.rules[msg.triggered_rule] = cur.rules.get(msg.triggered_rule, 0) + 1

    def finished(self) -> list[EpisodeResult]:
        return [e for e in self.episodes if e.done]


def summary(results: list[EpisodeResult]) -> str:
    """Success rate, mean cumulative cost, vetoes, stops and which rules fired."""
    n = len(results)
    if n == 0:
        return "no episode finished"
    rules: dict[str, int] = {}
    for r in results:
        for k, v in r.rules.items():
            rules[k] = rules.get(k, 0) + v
    return (
        f"summary: {n} episodes  success rate {sum(r.success for r in results) / n:.2f}  "
        f"mean cost {sum(r.cost for r in results) / n:.2f}  "
        f"vetoes {sum(r.vetoes for r in results)}  stops {sum(r.stops for r in results)}  "
        f"rules {rules or '{}'}"
    )


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
    if args.episode_file:
        sim["episode_file"] = str(Path(args.episode_file).resolve())
    if args.max_steps is not None:
        sim["max_steps"] = args.max_steps
    robot = {"bundle_path": str(bundle)}
    if args.verify_key:
        robot["verify_key"] = str(Path(args.verify_key).resolve())
    out = {
        "perception_node": {"ros__parameters": dict(robot)},
        "policy_node": {"ros__parameters": dict(robot)},
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
    bundle = loaded.path.resolve()
    if args.critic:  # refused here with the node's own check, before any process starts
        from safevla_core.critic_gate import CriticGate, PolicyFacts

        try:
            CriticGate.load(args.critic, PolicyFacts.of_bundle(loaded))
        except BundleError as exc:
            raise UserError(f"--critic {args.critic}: {exc}") from None
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
    _interrupt_on_signals()
    nodes = Supervisor(env, files, log_dir)
    tally = Tally()
    code = 0
    try:
        watch(args, nodes, log_dir, tally)
    except KeyboardInterrupt:
        print("safevla run: interrupted; stopping the nodes", file=sys.stderr, flush=True)
        code = 130
    finally:
        nodes.stop()
    results = tally.finished()[: args.episodes]
    print(summary(results), flush=True)
    if args.json:
        write_json(Path(args.json), results, loaded.bundle_id)
    return code


def write_json(path: Path, results: list[EpisodeResult], bundle_id: str) -> None:
    """Per-episode results and their summary as JSON (the evaluator's record field names)."""
    n = max(len(results), 1)
    doc = {
        "bundle_id": bundle_id,
        "episodes": [asdict(r) for r in results],
        "summary": {
            "episodes": len(results),
            "success_rate": sum(r.success for r in results) / n,
            "cost_mean": sum(r.cost for r in results) / n,
            "vetoes": sum(r.vetoes for r in results),
            "stops": sum(r.stops for r in results),
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2))


def watch(args: argparse.Namespace, nodes: Supervisor, log_dir: Path, tally: Tally) -> None:
    """Spin a watcher node until ``args.episodes`` episodes finished (recorded in ``tally``);
    a node that exits is restarted by ``nodes``.

    Raises:
        UserError: a node died too often, nothing happened within ``startup_timeout`` s, or no
            EpisodeStatus arrived for ``step_timeout`` s.
    """
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor

    from safevla_ros.msg import EpisodeStatus, SafetyVerdict

    ctx = Context()
    rclpy.init(context=ctx)
    node = rclpy.create_node("safevla_run_watcher", context=ctx)
    executor = SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    last_status = [None]

    def on_status(msg):
        last_status[0] = time.monotonic()
        done = tally.on_status(msg)
        if done is not None:
            print(done.line(), flush=True)

    node.create_subscription(EpisodeStatus, "sim/episode_status", on_status, 50)
    node.create_subscription(SafetyVerdict, "safevla/verdict", tally.on_verdict, 50)
    start = time.monotonic()
    try:
        while len(tally.finished()) < args.episodes:
            executor.spin_once(timeout_sec=0.1)
            nodes.check()
            now = time.monotonic()
            if last_status[0] is None and now - start > args.startup_timeout:
                raise UserError(
                    f"the simulator did not start an episode within {args.startup_timeout:g} s; "
                    f"see the node logs in {log_dir}"
                )
            if last_status[0] is not None and now - last_status[0] > args.step_timeout:
                raise UserError(
                    f"no episode progress for {args.step_timeout:g} s; see the logs in {log_dir}"
                )
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=ctx)


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
    p.add_argument("--startup-timeout", type=float, default=60.0, help="seconds to first step")
    p.add_argument("--step-timeout", type=float, default=20.0, help="seconds without progress")
    p.set_defaults(func=run)


def _rate(text: str) -> float:
    v = float(text)
    if not 0.5 <= v <= 200.0:
        raise argparse.ArgumentTypeError(f"--rate {text!r} must be within 0.5..200 Hz")
    return v


def _domain(text: str) -> int:
    v = int(text)
    if not 0 <= v <= 101:
        raise argparse.ArgumentTypeError(f"--domain-id {text!r} must be within 0..101")
    return v


def _positive_int(text: str) -> int:
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive integer")
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
