"""`safevla run --sim --skip-blocked` sets the policy node's skip_blocked parameter (its
behaviour: test_motion_feedback.py) and nothing else; without the flag the node's default
(false, as `safevla eval` without --skip-blocked) stands. The dither breaker's count follows
the critic."""

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


def test_the_dither_breaker_is_on_with_a_critic_unless_told_otherwise():
    """`safevla run --sim --critic C` gives the policy node the breaker at the shielded count
    (as `ros2 launch ... critic:=C` does); without a critic, or with --break-dither 0, the
    node's default (off) stands; a count given is passed as is."""
    from safevla_core.action_choice import SHIELDED_BREAK_DITHER

    def dither(*extra):
        args = build_parser().parse_args(["run", "--sim", *extra])
        return runner.overrides(args, KNOWN_BUNDLE)["policy_node"]["ros__parameters"].get(
            "break_dither"
        )

    critic = ["--critic", "models/safety-critic"]
    assert dither(*critic) == SHIELDED_BREAK_DITHER
    assert dither() is None
    assert dither(*critic, "--break-dither", "0") is None
    assert dither("--break-dither", "4") == 4
    assert next(s for s in POLICY_PARAMS if s.name == "break_dither").default == 0
