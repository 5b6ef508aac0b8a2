"""``safevla run --sim --robots N``: N robots on one ROS domain, each a namespaced node group.

Robot ``k`` is namespace ``<prefix>_k`` (default ``robot_k``): its own six node processes
(supervised and restarted as in a one-robot run, logs in ``LOG_DIR/robot_k/``), its own
parameter files (a ROS 2 params file section ``<node>`` only reaches a node in the root
namespace: this run's overrides are rewritten to ``/robot_k/<node>``, and ``config/*.yaml``
key their node sections ``/**/<node>``), its own recordings (``RECORD_DIR/robot_k/``) and its
own summary.

Episodes: with an episode set (``--episode-file``, else the task's shipped validation set) robot
``k`` runs episodes ``k, k+N, k+2N, ...`` of it (a file of its share in its log folder); without
one, robot ``k``'s sampler is seeded ``--seed + k``. The sim bridges do not start episodes on
their own (``auto_reset`` off, as in a one-robot run): the runner starts each robot's next
episode with the robot's ``reset_episode`` service once every node of that robot is up
(:func:`not_up`), so a robot that finished its episodes stays idle, and every decision its
recorder holds is one this run counted (``decisions``, ``critic_vetoes``, ``proposal_stops``:
the counts ``safevla fleet report`` gives per robot). :func:`watch_robots` also watches the
one robot of a plain ``safevla run --sim`` (root namespace).

One Ctrl-C or SIGTERM stops every robot's nodes (each adapter sends its zero Twist).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from safevla_core.errors import UserError
from safevla_core.monitor_types import critic_veto
from safevla_ros.params import VERDICT_TOPIC

VERDICT_COUNTS = ("decisions", "critic_vetoes", "proposal_stops")  # as the fleet report's
# (node, topic parameter): the node is active once it subscribes to that topic (default name: a
# run sets no topic). Every node creates its subscriptions when it activates, after it loaded
# what it needs: the policy its model and text encoder, seconds, tens under load. An episode
# started before then runs on the monitor's watchdog stops alone.
ACTIVE_WHEN = (
    ("perception_node", "image_topic"),
    ("policy_node", "instruction_topic"),
    ("safety_monitor_node", "proposal_topic"),
    ("action_adapter_node", "verdict_topic"),
    ("safety_recorder_node", "verdict_topic"),
)


def add_fleet_args(p: argparse.ArgumentParser) -> None:
    """``--robots`` and ``--namespace-prefix`` of ``safevla run``."""
    p.add_argument(
        "--robots",
        type=_robots,
        default=1,
        help="robots on the one domain, each its own namespaced node group PREFIX_k with its own "
        "recordings and summary (default 1: one robot in the root namespace). Robot k runs "
        "episodes k, k+N, k+2N, ... of the episode set (without a set: seed --seed + k); "
        "--episodes is per robot",
    )
    p.add_argument(
        "--namespace-prefix",
        default="robot",
        type=_prefix,
        help="robot k's namespace is PREFIX_k (default robot)",
    )


def namespaces(n: int, prefix: str) -> list[str]:
    """The robots' namespaces, without the leading ``/``."""
    return [f"{prefix}_{k}" for k in range(n)]


def namespaced(params: dict, ns: str) -> dict:
    """A params file's sections for the nodes in namespace ``ns``: ``node`` becomes
    ``/ns/node``; wildcard and fully qualified sections (``/**``, ``/x/node``) stay."""
    return {(k if k.startswith("/") else f"/{ns}/{k}"): v for k, v in params.items()}


def episode_shares(args: argparse.Namespace, n: int, dest: Path) -> list[dict]:
    """The sim bridge overrides of each robot: its share of the episode set (a file in
    ``dest/<ns>/``), else its own sampler seed.

    Raises:
        UserError: the set has fewer episodes than robots.
    """
    from safevla_ros.sim_bridge_node import episode_source

    source = episode_source({"episode_file": args.episode_file or "", "task": args.task})
    shares = []
    for k, ns in enumerate(namespaces(n, args.namespace_prefix)):
        sim: dict = {}
        if callable(source):  # a sampler: no set to split
            sim["seed"] = args.seed + k
        else:
            from sim_bridge.episodes import save_episodes

            mine = list(source)[k::n]
            if not mine:
                raise UserError(f"--robots {n}: the episode set has only {len(source)} episodes")
            sim["episode_file"] = str(save_episodes(mine, dest / ns / "episodes.jsonl").resolve())
        shares.append(sim)
    return shares


@dataclass
class Robot:
    """One robot of the run: its node group and what the runner saw of it. ``ns`` is its
    namespace without the leading ``/``; empty for the one robot of a plain run (root)."""

    ns: str
    log_dir: Path
    record_dir: Path
    nodes: object = None  # its Supervisor
    tally: object = None  # its episode_tally.Tally
    counts: Counter = field(default_factory=Counter)  # over the whole run, as recorded
    requested: int = 0  # episodes started through reset_episode
    pending: object = None  # the reset_episode call in flight
    last_status: float | None = None
    client: object = None
    ready: bool = False  # every node of its stack was seen active

    @property
    def prefix(self) -> str:
        """What its printed lines start with: ``robot_k `` (nothing for the root robot)."""
        return f"{self.ns} " if self.ns else ""

    def name(self, relative: str) -> str:
        """``relative`` (a topic or service name) in its namespace, fully qualified."""
        return f"/{self.ns}/{relative}" if self.ns else f"/{relative}"

    def on_verdict(self, msg) -> None:
        self.tally.on_verdict(msg)
        answers = msg.proposal_sequence > 0
        self.counts["decisions"] += int(answers)
        veto = answers and critic_veto(msg.vetoed, msg.triggered_rule)
        self.counts["critic_vetoes"] += int(veto)
        self.counts["proposal_stops"] += int(answers and msg.safe_stop)

    def results(self, episodes: int) -> list:
        return self.tally.finished()[:episodes]


def run_fleet(args: argparse.Namespace, loaded, base: dict) -> int:
    """Run ``args.episodes`` episodes on each of ``args.robots`` namespaced robots; prints each
    robot's episode lines and summary, then the fleet total; ``--json`` gets a per-robot list.
    ``base``: the run's parameter overrides (``runner.overrides``), the same for every robot."""
    from safevla_ros import supervisor as sv
    from safevla_ros.episode_tally import Tally, summary

    bundle = loaded.path.resolve()
    domain = args.domain_id
    if domain is None:
        domain = random.SystemRandom().randint(1, 101)
    log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix="safevla-run-"))
    record_root = Path(args.record_dir or log_dir / "recordings").resolve()
    shares = episode_shares(args, args.robots, log_dir)
    configs = [yaml.safe_load(p.read_text()) or {} for p in _config_files(sv)]
    env = sv.node_env(domain)
    os.environ["ROS_DOMAIN_ID"] = str(domain)
    print(
        f"safevla run: {args.robots} robots ({args.namespace_prefix}_0..) on domain {domain}, "
        f"bundle {bundle}, logs {log_dir}, recordings in {record_root}/<robot>",
        flush=True,
    )
    robots: list[Robot] = []
    code = 0
    try:
        for ns, sim in zip(namespaces(args.robots, args.namespace_prefix), shares):
            r = Robot(ns, log_dir / ns, record_root / ns, tally=Tally())
            r.log_dir.mkdir(parents=True, exist_ok=True)
            files = []
            ours = dict(base)
            ours["sim_bridge_node"] = {"ros__parameters": _params(base, "sim_bridge_node") | sim}
            ours["safety_recorder_node"] = {"ros__parameters": {"output_dir": str(r.record_dir)}}
            for i, doc in enumerate([*configs, ours]):
                files.append(r.log_dir / f"params_{i}.yaml")
                files[-1].write_text(yaml.safe_dump(namespaced(doc, ns)))
            r.nodes = sv.Supervisor(env, files, r.log_dir, ros_args=("-r", f"__ns:=/{ns}"))
            robots.append(r)
        watch_robots(args, robots)
    except KeyboardInterrupt:
        print("safevla run: interrupted; stopping every robot", file=sys.stderr, flush=True)
        code = 130
    finally:  # all robots at once: each adapter's zero Twist, each recorder's file closed
        sv.stop_nodes([p for r in robots if r.nodes for p in r.nodes.procs])
    total = []
    for r in robots:
        results = r.results(args.episodes)
        total += results
        counts = " ".join(f"{k} {r.counts[k]}" for k in VERDICT_COUNTS)
        print(f"{r.ns} {summary(results)}  ({counts})", flush=True)
    fleet_counts = {k: sum(r.counts[k] for r in robots) for k in VERDICT_COUNTS}
    line = " ".join(f"{k} {v}" for k, v in fleet_counts.items())
    print(f"fleet {summary(total)}  ({line})", flush=True)
    if args.json:
        write_fleet_json(Path(args.json), robots, args.episodes, loaded.bundle_id)
    return code


def _params(doc: dict, node: str) -> dict:
    return dict(doc.get(node, {}).get("ros__parameters", {}))


def _config_files(sv) -> list[Path]:
    from safevla_ros.nodes import CONFIG_FILES, SIM

    return [sv.config_dir() / f for f in CONFIG_FILES[SIM]]


def write_fleet_json(path: Path, robots: list[Robot], episodes: int, bundle_id: str) -> None:
    """``robots``: per robot its namespace, recordings, episodes, summary and verdict counts;
    ``summary``: the fleet's."""
    from safevla_ros.episode_tally import summary_dict

    doc: dict = {"bundle_id": bundle_id, "robots": []}
    total = []
    for r in robots:
        results = r.results(episodes)
        total += results
        doc["robots"].append(
            {
                "robot": r.ns,
                "namespace": f"/{r.ns}",
                "record_dir": str(r.record_dir),
                "episodes": [asdict(e) for e in results],
                "summary": summary_dict(results) | {k: r.counts[k] for k in VERDICT_COUNTS},
            }
        )
    counts = {k: sum(r.counts[k] for r in robots) for k in VERDICT_COUNTS}
    doc["summary"] = summary_dict(total) | counts | {"robots": len(robots)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2))


def watch_robots(args: argparse.Namespace, robots: list[Robot]) -> None:
    """One watcher node for every robot's episode status and verdicts; starts each robot's
    episodes (its ``reset_episode`` service) once its whole stack is up, until each finished
    ``args.episodes``; restarts nodes that exit. Episode lines are printed as they finish.

    Raises:
        UserError: a node died too often, a robot's stack was not up and its first episode
            started within ``startup_timeout`` s, or it made no progress for ``step_timeout`` s.
    """
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor

    from safevla_ros.msg import EpisodeStatus, SafetyVerdict
    from safevla_ros.srv import ResetEpisode

    ctx = Context()
    rclpy.init(context=ctx)
    node = rclpy.create_node("safevla_run_watcher", context=ctx)
    executor = SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    for r in robots:

        def on_status(msg, r=r):
            r.last_status = time.monotonic()
            done = r.tally.on_status(msg)
            if done is not None:
                print(f"{r.prefix}{done.line()}", flush=True)

        node.create_subscription(EpisodeStatus, r.name("sim/episode_status"), on_status, 50)
        node.create_subscription(SafetyVerdict, r.name(VERDICT_TOPIC), r.on_verdict, 50)
        r.client = node.create_client(ResetEpisode, r.name("reset_episode"))
    start = time.monotonic()
    try:
        while not all(len(r.tally.finished()) >= args.episodes for r in robots):
            executor.spin_once(timeout_sec=0.05)
            now = time.monotonic()
            for r in robots:
                r.nodes.check()
                _next_episode(node, r, args.episodes)
                if r.last_status is None and now - start > args.startup_timeout:
                    waiting = ", ".join(not_up(node, r)) or "its first episode status"
                    raise UserError(
                        f"{r.prefix}no episode started within {args.startup_timeout:g} s "
                        f"(--startup-timeout); still waiting for {waiting}; see the node logs "
                        f"in {r.log_dir}"
                    )
                busy = len(r.tally.finished()) < args.episodes
                if busy and r.last_status and now - r.last_status > args.step_timeout:
                    raise UserError(
                        f"{r.prefix}no episode progress for {args.step_timeout:g} s; see the "
                        f"node logs in {r.log_dir}"
                    )
        drain = time.monotonic() + 1.0  # verdicts still on their way from the last step
        while time.monotonic() < drain:
            executor.spin_once(timeout_sec=0.05)
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.shutdown(context=ctx)


def _next_episode(node, r: Robot, episodes: int) -> None:
    """Start robot ``r``'s next episode once its stack is up and its last episode ended.

    Raises:
        UserError: the sim bridge refused the reset.
    """
    if r.pending is not None:
        if not r.pending.done():
            return
        response = r.pending.result()
        r.pending = None
        if not response.success:
            raise UserError(f"{r.prefix}reset_episode failed: {response.message}")
        return
    if r.requested >= episodes or len(r.tally.finished()) < r.requested:
        return
    if not r.ready:  # checked until it holds once; a restarted node catches up on its own
        r.ready = not not_up(node, r)
        if not r.ready:
            return
    r.requested += 1
    r.pending = r.client.call_async(r.client.srv_type.Request())


def not_up(node, r: Robot) -> list[str]:
    """What of robot ``r``'s stack the watcher ``node`` does not see up yet, each with the
    reason: a node of :data:`ACTIVE_WHEN` without its subscription in ``r``'s namespace (in the
    ROS graph: discovery has announced it on the domain), and the sim bridge's
    ``reset_episode`` service."""
    from safevla_ros.nodes import node as node_named

    ns = f"/{r.ns}" if r.ns else "/"
    missing = []
    for name, param in ACTIVE_WHEN:
        topic = next(spec.default for spec in node_named(name).specs() if spec.name == param)
        subs = node.get_subscriptions_info_by_topic(r.name(topic))
        if not any(s.node_name == name and s.node_namespace == ns for s in subs):
            missing.append(f"{name} (no subscription to {r.name(topic)} yet)")
    if not r.client.service_is_ready():
        missing.append(f"sim_bridge_node (no {r.name('reset_episode')} service yet)")
    return missing


def within(flag: str, lo: float, hi: float, kind: type = int, unit: str = ""):
    """An argparse ``type`` reading ``kind`` and refusing values outside [lo, hi]."""

    def parse(text: str):
        v = kind(text)
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(
                f"{flag} {text!r} must be within {lo:g}..{hi:g}{unit}"
            )
        return v

    return parse


_robots = within("--robots", 1, 32)


def _prefix(text: str) -> str:
    if not text or not text[0].isalpha() or not all(c.isalnum() or c == "_" for c in text):
        raise argparse.ArgumentTypeError(
            f"--namespace-prefix {text!r}: a ROS name (a letter, then letters, digits, _)"
        )
    return text
