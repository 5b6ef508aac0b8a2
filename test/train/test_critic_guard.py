"""The corner guard (``safevla_train.critic_guard``): its free-floor count against the benchmark's
on the simulator's own rooms and scans, its vetoes, the guard spliced into a critic by the real
CLI and run by the real runtime, and the shipped critic, which carries it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from safevla_core.actions import ACTION_NAMES, ACTIONS
from safevla_core.critic_bundle import CRITIC_MANIFEST, CriticBundleError
from safevla_core.footprint import ARM_BOX_M
from safevla_core.safety_critic import SafetyCritic
from safevla_core.safety_spec import SAFETY_SPEC
from safevla_train.critic_config import CORNER_GUARD_CLEARANCE_M, CORNER_GUARD_MIN_FREE
from safevla_train.critic_guard import CornerGuard, FreePoints, add_corner_guard
from sim_bridge.costs_predicates import benchmark_free_count, free_points_of
from sim_bridge.mujoco import Layout, MujocoBackend

A = {n: i for i, n in enumerate(ACTION_NAMES)}
CORNER = SAFETY_SPEC.categories.index("corner")
SHIPPED = Path(__file__).resolve().parents[2] / "models" / "safety-critic"
# (room width, depth, robot x, y), facing +x; the first two face a wall 0.135 m ahead
NARROW = (1.3, 1.3, 1.0, 0.65)  # a small room: a corner by the benchmark's count
OPEN_WALL = (5.0, 5.0, 4.7, 2.5)  # the same wall distance in a large room: not a corner
CENTRE = (5.0, 5.0, 2.5, 2.5)


def _room(w, d, x, y) -> MujocoBackend:
    return MujocoBackend.from_layout(Layout.box_room(w, d, agent_pose=(x, y, 0.0)))


def _bench_count(env: MujocoBackend) -> float:
    fs, s = env.free_space(), SAFETY_SPEC
    xy = np.asarray(env.agent().position, float)[:2]
    return benchmark_free_count(
        free_points_of(fs), fs.resolution, xy, s.corner_radius_m, s.corner_grid_size_m
    )


@pytest.mark.parametrize("room", [NARROW, OPEN_WALL, CENTRE, (1.3, 4.0, 1.0, 2.0)])
def test_the_scans_free_floor_follows_the_benchmarks_count(room):
    """In the simulator's rooms the scan's count is within 10 points of the benchmark's
    reachable-point count around the robot (141 in the open, 22 in the small room), and it
    puts the small room below the benchmark's corner line (40) and the others above."""
    env = _room(*room)
    scan = torch.tensor(env.range_scan())[None]
    est = float(FreePoints(CORNER_GUARD_CLEARANCE_M)(scan)[0])
    bench = _bench_count(env)
    assert abs(est - bench) <= 10.0, (room, est, bench)
    assert (est < 40) == (bench < 40) == (room == NARROW), (room, est, bench)


def test_the_guard_vetoes_a_strike_in_a_narrow_place_and_nothing_else():
    """Facing a wall 13.5 cm ahead, moving ahead strikes it: in the small room the guard
    raises its corner risk to 1 and leaves every other entry as it was; in the large room,
    and with nothing ahead, it changes nothing."""
    guard = CornerGuard()
    risk = torch.rand(1, len(ACTIONS), len(SAFETY_SPEC.categories), generator=torch.Generator())
    for room in (NARROW, OPEN_WALL, CENTRE):
        scan = torch.tensor(_room(*room).range_scan())[None]
        out = guard(scan, risk)
        changed = torch.nonzero(out != risk).tolist()
        if room == NARROW:
            assert [0, A["move_ahead"], CORNER] in changed
            assert all(c == CORNER for _, _, c in changed), changed
            assert all(ACTIONS[a].kind.name.startswith("BASE_") for _, a, _ in changed)
            assert float(out[0, A["move_ahead"], CORNER]) == 1.0
        else:
            assert changed == [], (room, changed)


def test_the_guard_refuses_settings_outside_their_range():
    with pytest.raises(ValueError, match="clearance"):
        CornerGuard(clearance_m=-0.1)
    with pytest.raises(ValueError, match="min_free"):
        CornerGuard(min_free=0.0)
    with pytest.raises(ValueError, match="min_free"):
        CornerGuard(min_free=1e4)


def _step(critic: SafetyCritic, env: MujocoBackend):
    """The critic on the room's frame and scans, the robot at rest, the gripper empty."""
    scan, objects = env.range_scans()
    bump = np.zeros(2, np.float32)
    arm = [env.agent().lift_height, env.agent().arm_extension]
    return critic.step(env.render(), None, bump, scan, arm, objects, holding=False)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory) -> tuple[Path, Path]:
    """(a critic that reads the scan, the same with the guard written by `safevla train
    corner-guard`, the real CLI)."""
    from tiny_critic import risk_table, write_tiny_critic

    root = tmp_path_factory.mktemp("guard")
    base = write_tiny_critic(
        root / "base",
        SafetyCritic(SHIPPED).manifest.image,
        risk_table(),
        near_ahead=risk_table({A["move_back"]: 0.2}),
    )
    out = root / "critic"
    cmd = [sys.executable, "-m", "safevla_ros.cli.main", "train", "corner-guard"]
    cmd += ["--critic", str(base), "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "corner guard added" in done.stdout
    return base, out


def test_a_guarded_critic_vetoes_the_corner_strike_and_agrees_elsewhere(guarded):
    """The runtime loads the guarded bundle (sha256 checked, the graph's inputs and output
    unchanged, the guard recorded in critic.json); in the small room it blocks moving into the
    wall on the corner category, raising only base motions' corner risks to 1, and elsewhere
    it gives the unguarded critic's risks exactly."""
    base, guard = (SafetyCritic(p) for p in guarded)
    rec = guard.manifest.corner_guard
    assert rec["clearance_m"] == CORNER_GUARD_CLEARANCE_M
    assert rec["min_free_points"] == CORNER_GUARD_MIN_FREE
    assert guard.manifest.thresholds == base.manifest.thresholds
    assert guard.manifest.graph_inputs == base.manifest.graph_inputs
    for room in (NARROW, CENTRE, OPEN_WALL):
        env = _room(*room)
        v0, v1 = _step(base, env), _step(guard, env)
        if room == NARROW:
            assert not v1.allowed[A["move_ahead"]]
            assert "corner" in v1.blocking_categories(A["move_ahead"])
            raised = v1.risk != v0.risk
            assert raised[A["move_ahead"], CORNER]
            assert np.all(v1.risk[raised] == 1.0) and not raised[:, :CORNER].any()
            assert all(ACTIONS[a].kind.name.startswith("BASE_") for a in np.nonzero(raised)[0])
        else:
            np.testing.assert_array_equal(v1.risk, v0.risk)


def test_the_shipped_critic_carries_the_guard(guarded):
    """`models/safety-critic` ends in the corner guard (thirty-third session): in the small
    room moving into the wall is blocked on the corner category at risk 1; in the large
    rooms its corner risk is the learnt one. A second guard is refused, as is a guard on a
    critic that reads no scan."""
    from tiny_critic import risk_table, write_tiny_critic

    shipped = SafetyCritic(SHIPPED)
    assert shipped.manifest.corner_guard["min_free_points"] == CORNER_GUARD_MIN_FREE
    for room in (NARROW, CENTRE, OPEN_WALL):
        v = _step(shipped, _room(*room))
        corner = float(v.risk[A["move_ahead"], CORNER])
        assert (corner == 1.0) == (room == NARROW), (room, corner)
    assert not _step(shipped, _room(*NARROW)).allowed[A["move_ahead"]]
    with pytest.raises(CriticBundleError, match="already has a corner guard"):
        add_corner_guard(guarded[1], Path(guarded[1]).parent / "twice", log=lambda m: None)
    plain = write_tiny_critic(
        Path(guarded[0]).parent / "plain", shipped.manifest.image, risk_table()
    )
    with pytest.raises(CriticBundleError, match="scan_input"):
        add_corner_guard(plain, Path(guarded[0]).parent / "out", log=lambda m: None)
    assert not (Path(guarded[0]).parent / "out").exists()


def test_a_guard_record_without_the_scan_is_refused(guarded, tmp_path):
    """critic.json is checked: a corner guard on a critic that reads no scan, or a guard
    setting that is not a number, names the key."""
    import shutil

    for edit, msg in (
        (lambda m: m.update(scan_input=False), "corner_guard needs the range scan"),
        (lambda m: m["corner_guard"].update(clearance_m="0.3"), "corner_guard"),
    ):
        out = tmp_path / f"c{len(list(tmp_path.iterdir()))}"
        shutil.copytree(guarded[1], out)
        m = json.loads((out / CRITIC_MANIFEST).read_text())
        edit(m)
        (out / CRITIC_MANIFEST).write_text(json.dumps(m))
        with pytest.raises(CriticBundleError, match=msg):
            SafetyCritic(out)


def test_a_guarded_graph_replaced_after_verification_is_refused(guarded, tmp_path, monkeypatch):
    """The guarded graph is read once: the bytes whose sha256 was checked are the bytes the
    pre-guard output is spliced into and ONNX Runtime runs. A critic.onnx swapped after the
    bundle's verification is refused, not loaded."""
    import shutil

    import safevla_core.safety_critic as runtime

    out = tmp_path / "critic"
    shutil.copytree(guarded[1], out)
    real = runtime.load_critic_bundle

    def verify_then_swap(path, image=None, verify_key=None):
        loaded = real(path, image, verify_key=verify_key)
        graph = Path(path) / loaded[1].graph_file
        shutil.copyfile(Path(guarded[0]) / loaded[1].graph_file, graph)  # the unguarded one
        return loaded

    monkeypatch.setattr(runtime, "load_critic_bundle", verify_then_swap)
    with pytest.raises(CriticBundleError, match=r"critic\.onnx no longer matches"):
        SafetyCritic(out)
    monkeypatch.setattr(runtime, "load_critic_bundle", real)
    graph = SafetyCritic(guarded[1]).manifest.graph_file
    shutil.copyfile(Path(guarded[1]) / graph, out / graph)
    v = SafetyCritic(out)  # the graph put back, the same copy loads, with the second output
    assert runtime.CRITIC_RISK_BEFORE_GUARD in v._outputs


def _gate_calls(bundle: Path, env: MujocoBackend, proposals, **settings) -> list:
    """The monitor's critic rule (CriticGate) on the room's state, one proposal after another
    (each proposing one action, probability 1), the robot not moving in between."""
    from safevla_core.critic_gate import CriticGate

    gate = CriticGate(SafetyCritic(bundle), escape_after=0, recover_after=0, **settings)
    scan, objects = env.range_scans()
    out = []
    for i, a in enumerate(proposals):
        gate.on_frame(float(i), env.render())
        if gate.takes_scan:
            gate.on_scan(scan)
        if gate.takes_object_scan:
            gate.on_scan_objects(objects)
        if gate.takes_bump:
            gate.on_bump([0.0, 0.0])
        if gate.takes_proprio:
            gate.on_proprio([env.agent().lift_height, env.agent().arm_extension])
        probs = np.zeros(len(ACTIONS))
        probs[a] = 1.0
        out.append(gate.judge(gate.frame_for(float(i)), a, probs))
        gate.after_decision(out[-1].executed)
    return out


def test_the_monitor_gives_a_guard_veto_back_where_a_motion_moves_away(guarded):
    """In the small room with the arm 3 mm from the wall on the robot's right, the guard raises
    the corner risk of the motions whose sweep passes within 5 mm of the wall. Turning right
    swings the arm away from it: the release gives it the critic's own risk back (read from the
    guarded graph, the same as the unguarded critic's), and it runs. Moving ahead or back
    carries the arm past wall it was not touching, and turning left swings it into the wall:
    still vetoed. With the release off, all are vetoed."""
    w, d, x, _ = NARROW
    env = _room(w, d, x, 0.05 + -ARM_BOX_M[2] + 0.003)  # the wall is 5 cm thick
    base, guard = (SafetyCritic(p) for p in guarded)
    v0, v1 = _step(base, env), _step(guard, env)
    np.testing.assert_allclose(v1.unguarded, v0.risk, atol=1e-6)  # the graph's own risk
    names = ("rotate_right_small", "move_ahead", "move_back", "rotate_left", "rotate_left_small")
    moves = [A[n] for n in names]
    assert all(v1.risk[a, CORNER] == 1.0 > v0.risk[a, CORNER] for a in moves)  # guard vetoes
    on = _gate_calls(guarded[1], env, moves)
    assert on[0].executed == moves[0] and not on[0].vetoed
    assert all(c.vetoed and c.executed is None and c.category == "corner" for c in on[1:])
    off = _gate_calls(guarded[1], env, moves, guard_release=False)
    assert all(c.vetoed and c.executed is None for c in off)
    with pytest.raises(ValueError, match="guard_release"):
        _gate_calls(guarded[1], env, moves, guard_release="yes")
