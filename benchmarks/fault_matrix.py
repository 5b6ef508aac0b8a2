"""Fault injection over the real runtime node processes: time to a safe stop and to recovery.

Each fault of :func:`fault_table` is injected ``--reps`` times into a running stack
(:class:`fault_stack.Stack`: perception, policy, safety monitor and action adapter as separate
processes under the runner's supervisor, this process as camera and recorder), each time while
the base moves. Per repetition:

* **time to stop**: injection -> the first stop signal (zero Twist on ``cmd_vel``, ``stop`` on
  ``sim/action``, or a stop verdict) after which nothing moved until the recovery;
* **recovery**: the fault cleared (process restarted by the supervisor, resumed, frames back,
  e-stop released) -> the first motion command;
* **logged**: the fault left a record: a SafetyEvent of the expected category, a log line of
  the named node, or the supervisor's restart line;
* **unverified**: motion commands that no valid verdict explains (must be 0).

Expected outcomes: ``stop`` (a lasting stop), ``refuse`` (the injected messages never command
anything; refusing them may stop the robot), ``run`` (keeps moving, no stop) and ``silent``
(the adapter itself is gone: no command at all, the base driver's own ``cmd_vel`` timeout is
the stop).

    .venv/bin/python benchmarks/fault_matrix.py --reps 3 --json runs/fault_matrix.json
    .venv/bin/python benchmarks/fault_matrix.py --only freeze_policy,forged_verdict_copied

Run as root to include ``disk_full`` (the logs go to a small tmpfs it fills).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from fault_messages import bad_proposal, forged_verdict
from fault_stack import ESTOP, FRAME_STAMP, PROP, REPO, VERDICT, Stack
from std_msgs.msg import Bool, Header

from safevla_ros.msg import ActionProposal, SafetyVerdict
from safevla_ros.ros_common import LATCHED_QOS

STOP, REFUSE, RUN, SILENT = "stop", "refuse", "run", "silent"
RECOVERY_TIMEOUT_S = 90.0  # a restarted policy loads ONNX Runtime and the text encoder
LASTING_S = 0.3  # motion that stopped for this long had stopped (go signals come at 20 Hz)
FRAME_EV, POLICY_EV = ("watchdog_frame",), ("watchdog_policy", "watchdog_frame")
ADAPTER = "action_adapter_node"


def _nothing(stack: Stack) -> None:
    return None


@dataclass(frozen=True)
class Fault:
    """One kind of fault.

    Attributes:
        name: row name.
        expected: ``stop`` | ``refuse`` | ``run`` | ``silent`` (module docstring).
        what: what is done, in words.
        inject: starts the fault.
        clear: ends it (after ``hold_s``).
        hold_s: how long the fault lasts, s (0: the supervisor ends it, e.g. a restart).
        during: called every 0.1 s while the fault lasts, with a counter (message floods).
        events: SafetyEvent categories that record it.
        log: ``(node, text)``: a line of that node's log that records it.
        supervised: recorded by the supervisor's restart line.
        needs_tmpfs: needs the log tmpfs (root).
    """

    name: str
    expected: str
    what: str
    inject: object
    clear: object = _nothing
    hold_s: float = 2.0
    during: object = None
    events: tuple[str, ...] = ()
    log: tuple[str, str] | None = None
    supervised: bool = False
    needs_tmpfs: bool = False


def _kill(name):
    return lambda s: s.send(name, signal.SIGKILL)


def _sig(name, sig):
    return lambda s: s.send(name, sig)


def _camera(**state):
    def apply(s: Stack) -> None:
        for k, v in state.items():
            setattr(s.camera, k, v)

    return apply


def _reset_camera(s: Stack) -> None:
    s.camera.reset()


def _estop(engaged: bool):
    return lambda s: s.recorder.publisher(ESTOP, Bool, LATCHED_QOS).publish(Bool(data=engaged))


def _future_stamp_then_no_camera(s: Stack) -> None:
    s.recorder.publisher(FRAME_STAMP, Header).publish(Header(stamp=s.recorder.now_msg(3600.0)))
    s.camera.paused = True


def _disk_full(s: Stack) -> None:
    s.fill_disk()
    s.camera.paused = True


def _disk_back(s: Stack) -> None:
    s.camera.reset()
    s.free_disk()


def _flood_bad_proposals(s: Stack, k: int) -> None:
    s.recorder.publisher(PROP, ActionProposal).publish(bad_proposal(s.recorder, k))


def _forge(copied: bool):
    def during(s: Stack, k: int) -> None:
        real = next((v for _, v, ok in reversed(s.recorder.verdicts) if ok), None)
        msg = forged_verdict(s.recorder, real if copied else None, k)
        s.recorder.publisher(VERDICT, SafetyVerdict).publish(msg)

    return during


def _replay(s: Stack, k: int) -> None:
    """Re-publish recent genuine motion verdicts (right HMAC, used sequences)."""
    real = [v for _, v, ok in s.recorder.verdicts[-200:] if ok and not v.safe_stop][-10:]
    if real:
        s.recorder.publisher(VERDICT, SafetyVerdict).publish(real[k % len(real)])


def fault_table() -> tuple[Fault, ...]:
    """Every fault the matrix injects, in order."""
    # fmt: off
    rows = [Fault("baseline", RUN, "no fault (spurious stops under load)", _nothing, hold_s=5.0)]
    for name, events, log in [
        ("perception_node", FRAME_EV, None),
        ("policy_node", POLICY_EV, None),
        ("safety_monitor_node", (), (ADAPTER, "no verdict or heartbeat")),
    ]:
        short = name.removesuffix("_node").replace("safety_", "")
        rows.append(
            Fault(f"kill_{short}", STOP, f"SIGKILL {name}; the supervisor restarts it",
                  _kill(name), hold_s=0.0, events=events, log=log)
        )
        rows.append(
            Fault(f"freeze_{short}", STOP, f"SIGSTOP {name} for 2 s, then SIGCONT",
                  _sig(name, signal.SIGSTOP), _sig(name, signal.SIGCONT), events=events,
                  log=log)
        )
    rows += [
        Fault("kill_adapter", SILENT, f"SIGKILL {ADAPTER}; the supervisor restarts it",
              _kill(ADAPTER), hold_s=0.0, supervised=True),
        Fault("freeze_adapter", SILENT, f"SIGSTOP {ADAPTER} for 2 s, then SIGCONT",
              _sig(ADAPTER, signal.SIGSTOP), _sig(ADAPTER, signal.SIGCONT),
              log=(ADAPTER, "no verdict or heartbeat")),
        Fault("camera_stops", STOP, "no camera frames for 2 s", _camera(paused=True),
              _reset_camera, events=FRAME_EV),
        Fault("frames_drop_30pct", RUN, "30 % of frames dropped at random for 4 s",
              _camera(drop_p=0.3), _reset_camera, hold_s=4.0),
        Fault("frames_delay_0.3s", RUN, "frames arrive 0.3 s late (within max_frame_age_s)",
              _camera(age_s=0.3), _reset_camera, hold_s=3.0),
        Fault("frames_delay_1s", STOP, "frames arrive 1 s late", _camera(age_s=1.0),
              _reset_camera, events=FRAME_EV),
        Fault("clock_skew_future_2s", STOP, "camera stamps 2 s ahead of the receivers' clocks",
              _camera(age_s=-2.0), _reset_camera, events=FRAME_EV),
        Fault("clock_skew_past_5s", STOP, "camera stamps 5 s behind the receivers' clocks",
              _camera(age_s=5.0), _reset_camera, events=FRAME_EV),
        Fault("future_stamp_once", STOP, "one frame stamp 1 h ahead to the monitor, then no "
              "camera", _future_stamp_then_no_camera, _reset_camera, events=FRAME_EV),
        Fault("bad_proposals", REFUSE, "10 Hz of malformed proposals (action_index 20, NaN, "
              "negative cost, foreign action names) next to the policy's",
              _nothing, during=_flood_bad_proposals, events=("malformed_proposal", "nan_guard")),
        Fault("forged_verdict_foreign", REFUSE, "10 Hz of motion verdicts from another node id",
              _nothing, during=_forge(False), log=(ADAPTER, "not the configured monitor")),
        Fault("forged_verdict_copied", REFUSE, "10 Hz of motion verdicts with the monitor's id "
              "and next sequence, no valid HMAC", _nothing, during=_forge(True),
              log=(ADAPTER, "auth does not match")),
        Fault("replayed_verdicts", REFUSE, "10 Hz of genuine motion verdicts re-sent",
              _nothing, during=_replay, log=(ADAPTER, "verdict refused")),
        Fault("estop", STOP, "e-stop engaged for 2 s, then released", _estop(True),
              _estop(False), events=("estop",)),
        Fault("disk_full", STOP, "log disk filled (ENOSPC), then no camera frames",
              _disk_full, _disk_back, events=FRAME_EV, needs_tmpfs=True),
    ]
    # fmt: on
    return tuple(rows)


@dataclass
class Sample:
    """One repetition of one fault (times in s; None = did not happen)."""

    stop_s: float | None = None
    recovery_s: float | None = None
    stops: int = 0
    logged: bool | None = False
    unverified: list[str] = field(default_factory=list)
    unseen: list[str] = field(default_factory=list)
    ok: bool = False
    note: str = ""


def run_once(stack: Stack, fault: Fault) -> Sample:
    """Inject ``fault`` once into a moving stack and measure (module docstring)."""
    if not stack.spin(RECOVERY_TIMEOUT_S, until=stack.moving):
        return Sample(note="the base was not moving before the injection")
    sizes, restarts = stack.log_sizes(), sum(stack.restarts().values())
    t0 = time.monotonic()
    fault.inject(stack)
    if fault.during is not None:
        k, due = [0], [t0]

        def flood(s: Stack, now: float) -> None:
            if now >= due[0]:
                fault.during(s, k[0])
                k[0], due[0] = k[0] + 1, due[0] + 0.1

        stack.hooks.append(flood)
    try:
        stack.spin(fault.hold_s)
    finally:
        stack.hooks[:] = [h for h in stack.hooks if fault.during is None or h is not flood]
    t_clear = time.monotonic()
    fault.clear(stack)
    # the motion that ends a stop (or silence) follows a pause; earlier ones were in flight
    pause = LASTING_S if fault.expected in (STOP, SILENT) else 0.0
    resumed = lambda: first_motion(stack.signals(t0 - 1.0), t_clear, pause)  # noqa: E731
    stack.spin(RECOVERY_TIMEOUT_S, until=lambda: resumed() is not None)
    t_go = resumed()
    stack.spin(0.5)  # the events and log lines of this fault arrive
    if t_go is not None:  # the recorder hears the (maybe restarted) monitor again
        stack.spin(10.0, until=lambda: stack.recorder.last_valid_t > t_go)
    s = Sample(recovery_s=None if t_go is None else t_go - t_clear)
    window = stack.signals(t0, t_go if t_go is not None else time.monotonic())
    held = stack.signals(t0, t_clear)
    s.stops = sum(k == "stop" for _, k in held)
    s.unverified, s.unseen = stack.audit(t0, time.monotonic())
    s.logged = _logged(stack, fault, t0, sizes, restarts)
    s.stop_s, s.ok, s.note = _judge(fault, window, held, t0)
    s.ok = s.ok and not s.unverified and t_go is not None
    if t_go is None:
        s.note += f"; no motion within {RECOVERY_TIMEOUT_S:g} s after the fault cleared"
    return s


def first_motion(signals, t_clear: float, pause_s: float) -> float | None:
    """Receive time of the first go signal at or after ``t_clear`` that comes ``pause_s`` or
    more after the go before it (the first in ``signals`` counts as after a pause)."""
    prev = -float("inf")
    for t, k in signals:
        if k != "go":
            continue
        if t >= t_clear and t - prev >= pause_s:
            return t
        prev = t
    return None


def _judge(fault: Fault, window, held, t0: float) -> tuple[float | None, bool, str]:
    """(time to stop, met the expectation, note) from the signals of one repetition."""
    first_stop = next((t - t0 for t, k in held if k == "stop"), None)
    if fault.expected == STOP:
        t_stop = None
        for t, k in window:  # the stop that lasted: the first one after the last motion
            if k == "go":
                t_stop = None
            elif t_stop is None:
                t_stop = t
        if t_stop is None:
            return None, False, "no lasting stop"
        return t_stop - t0, True, ""
    if fault.expected == RUN:
        return first_stop, not held or all(k == "go" for _, k in held), ""
    if fault.expected == SILENT:
        late = [t - t0 for t, k in held if k == "go" and t - t0 > 0.2]
        note = "no command while the adapter is down; the base driver's cmd_vel timeout stops it"
        return None, not late, note if not late else f"{len(late)} commands while down"
    return first_stop, True, ""  # refuse: judged by the unverified-command check


def _logged(stack: Stack, fault: Fault, t0: float, sizes: dict, restarts: int) -> bool | None:
    """Whether the fault left its record (None: nothing to record)."""
    if not (fault.supervised or fault.events or fault.log):
        return None
    if fault.supervised and sum(stack.restarts().values()) > restarts:
        return True
    if any(t >= t0 and e.category in fault.events for t, e in stack.recorder.events):
        return True
    if fault.log is not None:
        node, text = fault.log
        return text in stack.log_since(node, sizes[node])
    return False


def summarize(fault: Fault, samples: list[Sample]) -> dict:
    """One row of the matrix."""
    stops = [x.stop_s for x in samples if x.stop_s is not None]
    recs = [x.recovery_s for x in samples if x.recovery_s is not None]
    pct = lambda v, q: None if not v else float(np.percentile(v, q))  # noqa: E731
    n, ok = len(samples), sum(x.ok for x in samples)
    logged = [x.logged for x in samples]
    return {
        "fault": fault.name,
        "what": fault.what,
        "expected": fault.expected,
        "observed": f"{ok}/{n} as expected",
        "stop_p50_s": pct(stops, 50),
        "stop_max_s": max(stops) if stops else None,
        "recovery_p50_s": pct(recs, 50),
        "recovery_max_s": max(recs) if recs else None,
        "stops_during_fault": sum(x.stops for x in samples),
        "logged": "n/a" if samples[0].logged is None else f"{sum(map(bool, logged))}/{n}",
        "unverified_commands": sum(len(x.unverified) for x in samples),
        "unseen_verdict_commands": sum(len(x.unseen) for x in samples),
        "notes": sorted({x.note.strip("; ") for x in samples if x.note}),
        "samples": [asdict(x) for x in samples],
    }


def table(rows: list[dict]) -> str:
    """The matrix as aligned text."""
    f = lambda v: "   -  " if v is None else f"{v:6.2f}"  # noqa: E731
    lines = [
        f"{'fault':<24}{'expected':<9}{'observed':<16}{'stop p50':>9}{'max':>8}"
        f"{'recov p50':>10}{'max':>8}  logged  unverified"
    ]
    for r in rows:
        unseen = r["unseen_verdict_commands"]
        lines.append(
            f"{r['fault']:<24}{r['expected']:<9}{r['observed']:<16}{f(r['stop_p50_s']):>9}"
            f"{f(r['stop_max_s']):>8}{f(r['recovery_p50_s']):>10}{f(r['recovery_max_s']):>8}"
            f"  {r['logged']:<6}  {r['unverified_commands']}"
            + (f" (+{unseen} unseen)" if unseen else "")
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", default=str(REPO / "test" / "data" / "objnav-ppo-lag-2026-12-03"))
    ap.add_argument("--reps", type=int, default=5, help="repetitions of each fault")
    ap.add_argument("--rate", type=float, default=10.0, help="camera frame rate, Hz")
    ap.add_argument("--only", default="", help="comma-separated fault names (default: all)")
    ap.add_argument("--json", default=None, help="also write the matrix here")
    args = ap.parse_args(argv)
    faults = fault_table()
    if args.only:
        wanted = args.only.split(",")
        unknown = sorted(set(wanted) - {x.name for x in faults})
        if unknown:
            ap.error(f"--only: unknown faults {unknown}; known: {[x.name for x in faults]}")
        faults = tuple(x for x in faults if x.name in wanted)
    if args.json:  # fail now, not after the run
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text("{}")
    stack = Stack(args.bundle, rate_hz=args.rate)
    rows, skipped = [], {}
    t_start = time.monotonic()
    try:
        for fault in faults:
            if fault.needs_tmpfs and stack.tmpfs_problem:
                skipped[fault.name] = stack.tmpfs_problem
                continue
            samples = [run_once(stack, fault) for _ in range(args.reps)]
            rows.append(summarize(fault, samples))
            print(table(rows[-1:]).splitlines()[1], flush=True)
        alive = stack.alive()
    finally:
        logs = stack.close()
    doc = {
        "bundle": args.bundle,
        "reps": args.reps,
        "rate_hz": args.rate,
        "wall_s": round(time.monotonic() - t_start, 1),
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
        "nodes_alive_at_end": alive,
        "skipped": skipped,
        "logs": str(logs),
        "rows": rows,
    }
    print(table(rows))
    for name, why in skipped.items():
        print(f"skipped {name}: {why}")
    print(f"node logs: {logs}; load average {doc['load_average']}")
    if args.json:
        Path(args.json).write_text(json.dumps(doc, indent=2))
    return 0 if all(r["observed"].split("/")[0] == str(args.reps) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
