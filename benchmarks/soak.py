"""Soak: the runtime stack under random faults for ``--minutes`` (default 30).

The stack of fault_matrix.py (four node processes under the runner's supervisor, this process
as camera and recorder) runs with calm stretches of ``--calm`` seconds between faults drawn at
random from the fault matrix (every kind but ``baseline``; ``disk_full`` only as root), each
measured as in the matrix. Reported:

* **unverified commands**: motion on ``cmd_vel`` / ``sim/action`` that no valid verdict (the
  configured monitor's, HMAC right, first receipt) received just before explains: must be 0;
* **faults**: per kind, how many met the expectation, time to stop, recovery, and how many left
  their record (SafetyEvent, log line or supervisor restart line);
* **spurious stops**: stop verdicts in the calm stretches, by rule;
* **memory**: VmRSS of each node process every ``--sample-s`` s; per node the longest-lived
  process's growth after its first minute.

    .venv/bin/python benchmarks/soak.py --minutes 30 --json runs/soak.json

The JSON is rewritten after every fault, so an interrupted soak keeps what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict
from pathlib import Path

from fault_matrix import fault_table, run_once, summarize
from fault_stack import REPO, Stack

WARMUP_S = 60.0  # a node's first minute (imports, first inferences) is not growth


def memory_growth(samples: dict[str, list[tuple[float, int, int]]]) -> dict:
    """Per node, the longest-lived process: RSS after its first minute and at the end."""
    out = {}
    for name, rows in samples.items():
        by_pid = defaultdict(list)
        for t, pid, kib in rows:
            by_pid[pid].append((t, kib))
        pid, life = max(by_pid.items(), key=lambda kv: kv[1][-1][0] - kv[1][0][0])
        start = life[0][0]
        settled = [x for x in life if x[0] - start >= WARMUP_S] or life[-1:]
        minutes = (settled[-1][0] - settled[0][0]) / 60.0
        growth = settled[-1][1] - settled[0][1]
        out[name] = {
            "pid": pid,
            "processes": len(by_pid),
            "lived_min": round((life[-1][0] - start) / 60.0, 2),
            "rss_settled_kib": settled[0][1],
            "rss_end_kib": settled[-1][1],
            "rss_max_kib": max(k for _, k in life),
            "growth_kib": growth,
            "growth_kib_per_min": round(growth / minutes, 1) if minutes > 0 else None,
        }
    return out


def spurious_stops(stack: Stack, calm: list[tuple[float, float]]) -> Counter:
    """Stop verdicts of the monitor received in the calm stretches, by rule."""
    rules: Counter = Counter()
    for t, v, ok in stack.recorder.verdicts:
        if ok and v.safe_stop and any(a <= t < b for a, b in calm):
            rules[v.triggered_rule or "?"] += 1
    return rules


def report(stack: Stack, args, runs: list, calm: list, rss: dict, t_start: float) -> dict:
    """The soak's figures so far."""
    unverified, unseen = stack.audit()
    by_kind, kinds = defaultdict(list), {}
    for fault, sample in runs:
        by_kind[fault.name].append(sample)
        kinds[fault.name] = fault
    rows = [summarize(kinds[f.name], by_kind[f.name]) for f in fault_table() if f.name in kinds]
    for r in rows:
        del r["samples"]
    logged = [s.logged for _, s in runs if s.logged is not None]
    return {
        "bundle": args.bundle,
        "minutes_planned": args.minutes,
        "minutes_run": round((time.monotonic() - t_start) / 60.0, 2),
        "seed": args.seed,
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
        "faults_injected": len(runs),
        "faults_as_expected": sum(s.ok for _, s in runs),
        "faults_logged": f"{sum(map(bool, logged))}/{len(logged)}",
        "unverified_commands": len(unverified),
        "unverified_examples": unverified[:10],
        "commands_during_missed_verdicts": len(unseen),
        "commands_total": len(stack.recorder.commands),
        "spurious_stops": dict(spurious_stops(stack, calm)),
        "calm_s": round(sum(b - a for a, b in calm), 1),
        "restarts": stack.restarts(),
        "nodes_alive": stack.alive(),
        "memory": memory_growth(rss) if rss else {},
        "skipped": {"disk_full": stack.tmpfs_problem} if stack.tmpfs_problem else {},
        "faults": rows,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", default=str(REPO / "test" / "data" / "objnav-ppo-lag-2026-12-03"))
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--calm", type=float, nargs=2, default=(5.0, 20.0), help="min max, s")
    ap.add_argument("--sample-s", type=float, default=10.0, help="RSS sampling period, s")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rate", type=float, default=10.0, help="camera frame rate, Hz")
    ap.add_argument("--json", default=None, help="write the figures here (after every fault)")
    args = ap.parse_args(argv)
    out = Path(args.json) if args.json else None
    if out is not None:  # fail now, not after half an hour
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("{}")
    rng = random.Random(args.seed)
    stack = Stack(args.bundle, rate_hz=args.rate)
    faults = [f for f in fault_table() if f.name != "baseline"]
    faults = [f for f in faults if not (f.needs_tmpfs and stack.tmpfs_problem)]
    rss: dict[str, list] = defaultdict(list)
    due = [0.0]

    def sample_rss(s: Stack, now: float) -> None:
        if now >= due[0]:
            due[0] = now + args.sample_s
            for name, (pid, kib) in s.rss_kib().items():
                rss[name].append((now, pid, kib))

    stack.hooks.append(sample_rss)
    runs, calm = [], []
    t_start = time.monotonic()
    deadline = t_start + args.minutes * 60.0
    try:
        stack.spin(90.0, until=stack.moving)
        while time.monotonic() < deadline:
            t_calm = time.monotonic()
            stack.spin(rng.uniform(*args.calm))
            calm.append((t_calm, time.monotonic()))
            fault = rng.choice(faults)
            sample = run_once(stack, fault)
            runs.append((fault, sample))
            print(f"{(time.monotonic() - t_start) / 60:6.2f} min  {fault.name:<24} "
                  f"{asdict(sample)}", flush=True)  # fmt: skip
            if out is not None:
                doc = report(stack, args, runs, calm, rss, t_start)
                out.write_text(json.dumps(doc, indent=2, default=str))
        doc = report(stack, args, runs, calm, rss, t_start)
    finally:
        logs = stack.close()
    if out is not None:
        out.write_text(json.dumps(doc, indent=2, default=str))
    print_figures(doc, logs)
    return 0 if doc["unverified_commands"] == 0 and all(doc["nodes_alive"].values()) else 1


def print_figures(doc: dict, logs: Path) -> None:
    print(
        f"soak {doc['minutes_run']} min, {doc['faults_injected']} faults "
        f"({doc['faults_as_expected']} as expected, logged {doc['faults_logged']}), "
        f"commands {doc['commands_total']}, unverified {doc['unverified_commands']} "
        f"(+{doc['commands_during_missed_verdicts']} while the recorder missed verdicts), "
        f"spurious stops in {doc['calm_s']} s calm: {doc['spurious_stops'] or 0}"
    )
    for name, m in doc["memory"].items():
        print(
            f"  {name:<22} RSS {m['rss_settled_kib'] / 1024:7.1f} -> "
            f"{m['rss_end_kib'] / 1024:7.1f} MiB over {m['lived_min']:.1f} min "
            f"({m['growth_kib_per_min']} KiB/min; {m['processes']} processes)"
        )
    sec = lambda v: "-" if v is None else f"{v:.2f} s"  # noqa: E731
    for r in doc["faults"]:
        print(
            f"  {r['fault']:<24} {r['observed']:<16} stop p50 {sec(r['stop_p50_s'])}, max "
            f"{sec(r['stop_max_s'])}; recovery p50 {sec(r['recovery_p50_s'])}; "
            f"logged {r['logged']}"
        )
    print(f"node logs: {logs}; load average {doc['load_average']}")


if __name__ == "__main__":
    sys.exit(main())
