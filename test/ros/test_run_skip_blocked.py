"""`safevla run --sim --skip-blocked` sets the policy node's skip_blocked parameter (its
behaviour: test_motion_feedback.py) and nothing else; without the flag the node's default
(false, as `safevla eval` without --skip-blocked) stands."""

from __future__ import annotations

from fixed_bundle import KNOWN_BUNDLE

from safevla_ros import runner
from safevla_ros.cli.main import build_parser
from safevla_ros.params import POLICY_PARAMS


def test_the_flag_reaches_the_policy_node_only():
    on = runner.overrides(
        build_parser().parse_args(["run", "--sim", "--skip-blocked"]), KNOWN_BUNDLE
    )
    off = runner.overrides(build_parser().parse_args(["run", "--sim"]), KNOWN_BUNDLE)
    assert on["policy_node"]["ros__parameters"]["skip_blocked"] is True
    assert "skip_blocked" not in off["policy_node"]["ros__parameters"]
    others = lambda p: {k: v for k, v in p.items() if k != "policy_node"}  # noqa: E731
    assert others(on) == others(off)
    assert next(s for s in POLICY_PARAMS if s.name == "skip_blocked").default is False
