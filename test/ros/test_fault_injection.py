"""The fault-injection harness (benchmarks/fault_matrix.py) on its cheapest faults, against the
real node processes: a frozen policy stops the base within the watchdog timeout and motion
resumes after; verdicts forged with the monitor's id move nothing; and the harness's own
audit reports a command that no verdict explains."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from fixed_bundle import KNOWN_BUNDLE
from geometry_msgs.msg import Twist

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
import fault_matrix  # noqa: E402
from fault_stack import CMD, Stack  # noqa: E402

pytestmark = pytest.mark.ros
# config defaults: heartbeat_timeout_s 0.5 checked at 20 Hz; scheduling slack on a loaded CPU
TIMEOUT, SLACK = 0.5, 0.3
# a fixed real policy: it turns in place on the harness's camera frame
BUNDLE = KNOWN_BUNDLE


@pytest.fixture
def stack(ros_domain_id):
    s = Stack(BUNDLE, domain=ros_domain_id, log_tmpfs_mb=0)
    yield s
    s.close(keep_logs=False)


def test_frozen_policy_stops_forged_verdicts_refused_and_the_audit_catches_a_rogue_command(
    stack,
):
    faults = {f.name: f for f in fault_matrix.fault_table()}
    frozen = fault_matrix.run_once(stack, faults["freeze_policy"])
    assert frozen.ok, frozen
    assert frozen.stop_s <= TIMEOUT + 0.05 + SLACK, frozen
    assert frozen.recovery_s is not None and frozen.logged, frozen

    forged = fault_matrix.run_once(stack, faults["forged_verdict_copied"])
    assert forged.ok and not forged.unverified and not forged.unseen, forged
    assert forged.logged, "the adapter did not log the refused forgeries"

    # A Twist on cmd_vel from outside the adapter: the audit must name it.
    t0 = time.monotonic()
    rogue = Twist()
    rogue.angular.z = 0.33
    stack.recorder.publisher(CMD, Twist).publish(rogue)
    stack.spin(0.5)
    unverified, _ = stack.audit(t0)
    assert any("Twist(0.0, 0.33)" in u for u in unverified), unverified
