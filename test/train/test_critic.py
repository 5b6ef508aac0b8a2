"""The safety critic end to end on the real simulator and ONNX Runtime: `safevla train critic`
collects probe-labelled states, trains, calibrates and exports; the runtime loads the bundle,
agrees with the trained network on the stored episodes, and refuses tampered or mismatched
bundles."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from tiny_critic import CRITIC_RUN_SETTINGS, edited_copy, replay_states, tampered_copy

from safevla_core.actions import (
    ACTION_NAMES,
    ACTIONS,
    END,
    NUM_ACTIONS,
    PROPRIO_FIELDS,
    SCAN_ANGLE_INCREMENT,
    SCAN_ANGLE_MIN,
    SCAN_BEAMS,
    SCAN_RANGE_MAX_M,
    SUB_DONE,
    ActionKind,
)
from safevla_core.critic_bundle import (
    CRITIC_GRAPH,
    CRITIC_SIGNATURE_FILE,
    CriticBundleError,
)
from safevla_core.image_preprocessing import ImageSpec
from safevla_core.safety_critic import PREV_ACTION_NONE, CriticHistory, SafetyCritic
from safevla_core.safety_spec import SAFETY_SPEC
from safevla_core.signing import generate_keypair
from safevla_ros.cli.main import main
from safevla_train.config_io import apply_overrides
from safevla_train.critic_data import DATA_FILE, load_data
from safevla_train.critic_model import SafetyCriticNet, predict
from safevla_train.critic_run import heldout_quality, load_run, run_critic, split_risks

SETTINGS = CRITIC_RUN_SETTINGS


@pytest.fixture
def run(critic_run):
    """The session's small critic run (conftest.py): (run folder, config)."""
    return critic_run


def test_the_run_writes_data_splits_calibration_and_a_verified_bundle(run):
    out, cfg = run
    data = load_data(out / DATA_FILE)
    n = len(data["labels"])
    assert n == cfg.states and data["labels"].shape == (
        n,
        NUM_ACTIONS,
        len(SAFETY_SPEC.categories),
    )
    assert data["frames"].shape[1:] == (cfg.image_height, cfg.image_width, 3)
    assert set(np.unique(data["split"])) == {0, 1, 2}
    for e in np.unique(data["episode"]):  # an episode lives in one split only
        assert len(set(data["split"][data["episode"] == e])) == 1
    assert data["labels"][:, [END, SUB_DONE]].sum() == 0  # never costed
    assert data["labels"].sum() > 0  # the proposers did run into costs
    table = json.loads((out / "calibration.json").read_text())
    # the default: one threshold on any event (the union first), then each category
    assert [r["category"] for r in table] == ["any", *SAFETY_SPEC.categories]
    union = table[0]
    for r in table:
        assert r["alpha"] == cfg.alpha and r["threshold"] == union["threshold"]
        assert r["unit"] == "episode"  # the default exchangeable unit
        assert r["sufficient"] == (r["n_units"] >= 9)  # alpha 0.1 needs >= 9 episodes
    moving = ~np.isin(np.arange(NUM_ACTIONS), [END, SUB_DONE])
    cal = data["split"] == 1
    assert union["n_events"] == int((data["labels"][cal][:, moving] > 0).any(2).sum())
    assert union["n_events"] <= sum(r["n_events"] for r in table[1:])
    if not union["sufficient"]:
        assert union["threshold"] == 0.0  # the documented conservative threshold
    critic = SafetyCritic(out / "bundle")
    m = critic.manifest
    assert m.actions == ACTION_NAMES and m.categories == SAFETY_SPEC.categories
    assert m.calibration_target == "any"
    assert m.thresholds == {r["category"]: r["threshold"] for r in table[1:]}
    assert m.calibration["any"]["n_events"] == union["n_events"]
    assert m.calibration["corner"]["n_events"] == table[1]["n_events"]
    assert m.history_length == cfg.history_length and m.alpha == cfg.alpha
    assert m.label["horizon"] == 1


def test_the_run_records_each_held_out_splits_quality(run):
    out, _ = run
    data = load_data(out / DATA_FILE)
    metrics = json.loads((out / "metrics.json").read_text())
    moving = ~np.isin(np.arange(NUM_ACTIONS), [END, SUB_DONE])
    for i, split in ((1, "calibration"), (2, "test")):
        q = metrics[f"heldout/{split}"]
        labels = data["labels"][data["split"] == i]
        assert q["pairs"] == labels.shape[0] * int(moving.sum())
        assert q["events"] == int((labels[:, moving] > 0).any(2).sum())
        assert 0 < q["bce"] < np.log(2)  # better than a coin on the rare events
        assert 0 <= q["auroc_any"] <= 1 and 0 < q["ap_any"] <= 1


def test_a_finished_run_reloads_to_the_risks_it_was_measured_on(run, tmp_path):
    out, _ = run
    metrics = json.loads((out / "metrics.json").read_text())
    cfg, data, net, inputs = load_run(out, log=lambda *a: None)
    rows = np.flatnonzero(data["split"] == 2)
    raw, risk = split_risks(net, data, rows, cfg, inputs, {}, "test", lambda *a: None)
    assert heldout_quality(raw, risk, data["labels"][rows]) == pytest.approx(
        metrics["heldout/test"]
    )
    edited = tmp_path / "refit"
    shutil.copytree(out, edited, ignore=shutil.ignore_patterns("bundle"))
    text = (edited / "config.yaml").read_text().replace("refit: ''", "refit: scan")
    text = text.replace("scan_input: false", "scan_input: true")  # what a refit needs
    (edited / "config.yaml").write_text(text)
    with pytest.raises(ValueError, match=r"critic\.refit='scan'"):
        load_run(edited, log=lambda *a: None)


def test_held_out_quality_ranks_a_critic_by_how_it_separates_costly_actions():
    rng = np.random.default_rng(0)
    labels = (rng.random((50, NUM_ACTIONS, len(SAFETY_SPEC.categories))) < 0.05).astype(np.uint8)
    labels[:, [END, SUB_DONE]] = 0
    exact = np.where(labels > 0, 0.9, 0.01).astype(np.float32)
    inverted = np.where(labels.any(2, keepdims=True), 0.01, 0.9) + np.zeros_like(exact)
    good, bad = heldout_quality(exact, exact, labels), heldout_quality(inverted, inverted, labels)
    assert good["auroc_any"] == 1.0 and good["ap_any"] == 1.0
    assert bad["auroc_any"] == 0.0 and good["bce"] < bad["bce"]
    # the never-costed actions' risks do not count, however wrong
    noisy = exact.copy()
    noisy[:, [END, SUB_DONE]] = 1.0
    assert heldout_quality(noisy, noisy, labels) == good
    # the ranking is of the shield's score (after any clear pass), the loss of the net's own
    cleared = exact.copy()
    cleared[labels.any(2)] = 0.0  # a pass that wrongly clears every costly action
    q = heldout_quality(exact, cleared, labels)
    assert q["bce"] == good["bce"] and q["auroc_any"] < 0.5


def test_runtime_agrees_with_the_trained_net_on_stored_episodes(run):
    out, cfg = run
    data = load_data(out / DATA_FILE)
    net = SafetyCriticNet(cfg)
    net.load_state_dict(torch.load(out / "critic.pt", weights_only=True)["model"])
    critic = SafetyCritic(out / "bundle")
    rows = np.flatnonzero(data["episode"] == data["episode"][0])  # every step (probe_every=1)
    want = predict(net, data, rows, cfg)
    critic.reset()
    for i, row in enumerate(rows):  # feed the episode frame by frame, as a robot would
        frame = data["frames"][data["history"][row][-1]]
        verdict = critic.step(frame, int(data["prev_actions"][row][-1]))
        np.testing.assert_allclose(verdict.risk, want[i], atol=1e-5)
        blocked = verdict.risk >= verdict.thresholds
        blocked[[END, SUB_DONE]] = False
        assert np.array_equal(verdict.allowed, ~blocked.any(axis=1))
        assert verdict.allowed[END] and verdict.allowed[SUB_DONE]
    assert critic.steps == len(rows)


def test_history_fills_with_the_first_frame_and_no_action():
    h: CriticHistory[str] = CriticHistory(3)
    h.push("f0", PREV_ACTION_NONE)
    assert h.items == ["f0"] * 3 and h.actions == [PREV_ACTION_NONE] * 3
    h.push("f1", 2)
    h.push("f2", 0)
    h.push("f3", 5)
    assert h.items == ["f1", "f2", "f3"] and h.actions == [2, 0, 5]


def assert_runtime_replays_the_net(out, cfg, data) -> tuple[SafetyCritic, np.ndarray]:
    """The exported critic of the run in ``out``, fed the first stored episode frame by frame
    (:func:`replay_states`), agrees with the trained net; returns it and that episode's rows."""
    net = SafetyCriticNet(cfg)
    net.load_state_dict(torch.load(out / "critic.pt", weights_only=True)["model"])
    critic = SafetyCritic(out / "bundle")
    rows = np.flatnonzero(data["episode"] == data["episode"][0])
    want = predict(net, data, rows, cfg)
    critic.reset()
    for verdict, risk in zip(replay_states(critic, data, rows), want, strict=True):
        np.testing.assert_allclose(verdict.risk, risk, atol=1e-5)
    return critic, rows


def assert_refused_without(data: dict, key: str, cfg, tmp_path) -> None:
    """A critic run with ``cfg`` on ``data`` without its per-frame ``key`` (as written before
    that input was recorded) is refused with the command to collect again."""
    old = tmp_path / f"without_{key}"
    old.mkdir()
    np.savez_compressed(old / DATA_FILE, **{k: v for k, v in data.items() if k != key})
    with pytest.raises(ValueError, match=rf"'{key}'.*lacks: it was collected before .*again"):
        run_critic(cfg, old, lambda line: None)


def test_a_feedback_critic_reads_the_bump_of_each_frame(run, tmp_path):
    """``bump_input``: the data's per-frame motion feedback is a third graph input; the runtime
    fed frame by frame with it agrees with the trained net, needs it, and its risks move with
    it."""
    out = tmp_path / "bump"
    out.mkdir()
    shutil.copy(run[0] / DATA_FILE, out / DATA_FILE)
    cfg = apply_overrides(run[1], {"bump_input": True})
    run_critic(cfg, out, lambda line: None)
    data = load_data(out / DATA_FILE)
    assert data["frame_bump"].shape == (len(data["frames"]), 2)
    assert data["frame_bump"].any()  # the proposers did bump into things
    critic, rows = assert_runtime_replays_the_net(out, cfg, data)
    assert critic.takes_bump and critic.manifest.graph_inputs[-1] == "bump"
    newest = data["history"][rows[-1]][-1]
    flipped = critic.step(data["frames"][newest], 0, [1.0, 1.0]).risk
    critic.reset()
    plain = critic.step(data["frames"][newest], 0, [0.0, 0.0]).risk
    assert np.abs(flipped - plain).max() > 1e-4  # the feedback reaches the risks
    with pytest.raises(ValueError, match="takes the motion feedback"):
        critic.step(data["frames"][newest], 0)


@pytest.mark.parametrize("frames_read", [0, 1])
def test_frame_history_limits_the_frames_the_critic_reads(run, tmp_path, frames_read):
    """``frame_history``: the critic reads only its newest F frames (none for F = 0); the
    graph still takes all T, the runtime agrees with the net, and an unread frame changes no
    risk while the feedback still does."""
    out = tmp_path / f"f{frames_read}"
    out.mkdir()
    shutil.copy(run[0] / DATA_FILE, out / DATA_FILE)
    cfg = apply_overrides(run[1], {"bump_input": True, "frame_history": frames_read})
    assert cfg.history_length >= 2
    run_critic(cfg, out, lambda line: None)
    data = load_data(out / DATA_FILE)
    critic, rows = assert_runtime_replays_the_net(out, cfg, data)
    a, b = (data["frames"][data["history"][r][-1]] for r in (rows[0], rows[-1]))
    assert np.abs(a.astype(int) - b).max() > 0  # two different frames

    def last_risk(first, second, bump=(0.0, 0.0)):
        critic.reset()
        critic.step(first, None, [0.0, 0.0])
        return critic.step(second, 0, list(bump)).risk

    np.testing.assert_allclose(last_risk(a, b), last_risk(b, b), atol=1e-6)  # older frame
    newest_moves = np.abs(last_risk(a, a) - last_risk(a, b)).max()
    assert (newest_moves > 1e-5) == (frames_read > 0)
    assert np.abs(last_risk(a, b, (1.0, 1.0)) - last_risk(a, b)).max() > 1e-5
    with pytest.raises(ValueError, match="reads no frames"):
        apply_overrides(run[1], {"frame_history": 0})


def test_a_feedback_critic_needs_data_with_the_feedback(run, tmp_path):
    cfg = apply_overrides(run[1], {"bump_input": True})
    assert_refused_without(load_data(run[0] / DATA_FILE), "frame_bump", cfg, tmp_path)


@pytest.mark.parametrize(("branch", "footprint"), [(0, False), (16, False), (0, True)])
def test_a_scan_critic_reads_the_range_scan_of_the_newest_frame(run, tmp_path, branch, footprint):
    """``scan_input``: the data's per-frame range scan is a graph input of its own; the runtime
    fed frame by frame with it agrees with the trained net, needs it, and its risks move with
    the ranges. ``scan_branch``: the same with the scan's own path to the risks;
    ``footprint``: with the swept clearances computed inside the graph."""
    out = tmp_path / "scan"
    out.mkdir()
    shutil.copy(run[0] / DATA_FILE, out / DATA_FILE)
    on = {"scan_input": True, "bump_input": True, "scan_branch": branch, "footprint": footprint}
    cfg = apply_overrides(run[1], on)
    run_critic(cfg, out, lambda line: None)
    saved = torch.load(out / "critic.pt", weights_only=True)["model"]
    assert any(k.startswith("extras.branch.") for k in saved) == bool(branch)
    assert ("extras.clear_w" in saved) == footprint
    if footprint:  # the per-motion clearance term was trained
        assert float(saved["extras.clear_w"].abs().max()) > 1e-3
    with pytest.raises(ValueError, match="footprint=true reads the range scan"):
        apply_overrides(run[1], {"footprint": True})
    data = load_data(out / DATA_FILE)
    scans = data["frame_scan"].astype(np.float32)
    assert scans.shape == (len(data["frames"]), SCAN_BEAMS)
    assert 0.1 < scans.min() < 1.0 and scans.max() <= SCAN_RANGE_MAX_M
    critic, rows = assert_runtime_replays_the_net(out, cfg, data)
    assert critic.takes_scan and critic.manifest.graph_inputs[-2:] == ("bump", "scan")
    newest = data["history"][rows[-1]][-1]
    frame, bump = data["frames"][newest], [0.0, 0.0]
    critic.reset()
    near = critic.step(frame, 0, bump, np.full(SCAN_BEAMS, 0.2)).risk
    critic.reset()
    far = critic.step(frame, 0, bump, np.full(SCAN_BEAMS, np.inf)).risk
    assert np.abs(near - far).max() > 1e-4  # the ranges reach the risks
    with pytest.raises(ValueError, match="takes the range scan"):
        critic.step(frame, 0, bump)
    assert_refused_without(data, "frame_scan", cfg, tmp_path)


def test_an_object_scan_critic_reads_the_scan_without_the_walls(run, tmp_path):
    """``object_scan``: the data's per-frame object scan (the range scan with walls and floor
    removed) is a graph input after the scan; the runtime fed frame by frame with it agrees
    with the trained net, needs it, and its risks move with it while the scan stays."""
    out = tmp_path / "objects"
    out.mkdir()
    shutil.copy(run[0] / DATA_FILE, out / DATA_FILE)
    on = {"scan_input": True, "bump_input": True, "footprint": True, "object_scan": True}
    cfg = apply_overrides(run[1], on)
    run_critic(cfg, out, lambda line: None)
    saved = torch.load(out / "critic.pt", weights_only=True)["model"]
    assert saved["extras.clear_w"].shape[-1] == 6  # two scans x three scales
    data = load_data(out / DATA_FILE)
    scans = data["frame_scan"].astype(np.float32)
    things = data["frame_scan_objects"].astype(np.float32)
    assert things.shape == scans.shape and (things >= scans).all()
    assert (things > scans + 0.1).any()  # the collection saw walls the object scan drops
    critic, rows = assert_runtime_replays_the_net(out, cfg, data)
    assert critic.takes_object_scan
    assert critic.manifest.graph_inputs[-3:] == ("bump", "scan", "scan_objects")
    newest = data["history"][rows[-1]][-1]
    frame, bump, scan = data["frames"][newest], [0.0, 0.0], np.full(SCAN_BEAMS, 0.2)
    critic.reset()
    cabinet = critic.step(frame, 0, bump, scan, None, scan).risk
    critic.reset()
    wall = critic.step(frame, 0, bump, scan, None, np.full(SCAN_BEAMS, np.inf)).risk
    assert np.abs(cabinet - wall).max() > 1e-4  # the object scan reaches the risks
    with pytest.raises(ValueError, match="takes the object scan"):
        critic.step(frame, 0, bump, scan)
    assert_refused_without(data, "frame_scan_objects", cfg, tmp_path)


@pytest.mark.parametrize("branch", [0, 16])
def test_an_arm_critic_reads_the_joint_state_of_the_newest_frame(run, tmp_path, branch):
    """``proprio_input``: the data's per-frame arm joint state (lift height, arm extension) is
    the last graph input; the runtime fed frame by frame with it agrees with the trained net,
    needs it, and its risks move with the arm. With the scan's own branch too, the branch
    still reads the scan (not the joint state after it)."""
    out = tmp_path / "arm"
    out.mkdir()
    shutil.copy(run[0] / DATA_FILE, out / DATA_FILE)
    on = {"bump_input": True, "scan_input": True, "proprio_input": True, "scan_branch": branch}
    cfg = apply_overrides(run[1], on)
    run_critic(cfg, out, lambda line: None)
    data = load_data(out / DATA_FILE)
    arms = data["frame_proprio"]
    assert arms.shape == (len(data["frames"]), len(PROPRIO_FIELDS)) and arms.dtype == np.float32
    assert (arms >= 0).all() and np.ptp(arms, axis=0).max() > 0.05  # the arm did move
    critic, rows = assert_runtime_replays_the_net(out, cfg, data)
    assert critic.takes_proprio
    assert critic.manifest.graph_inputs[-3:] == ("bump", "scan", "proprio")
    newest = data["history"][rows[-1]][-1]
    frame, bump, scan = data["frames"][newest], [0.0, 0.0], data["frame_scan"][newest]

    def risk(arm):
        critic.reset()
        return critic.step(frame, 0, bump, scan, arm).risk

    assert np.abs(risk([0.2, 0.0]) - risk([1.0, 0.5])).max() > 1e-4  # the arm reaches them
    with pytest.raises(ValueError, match="takes the arm's joint state"):
        critic.step(frame, 0, bump, scan)
    with pytest.raises(ValueError, match=r"proprio=.*not 2 values"):
        critic.step(frame, 0, bump, scan, [float("nan"), 0.1])
    assert_refused_without(data, "frame_proprio", cfg, tmp_path)


def test_the_clear_pass_is_calibrated_recorded_and_held_while_holding(run, tmp_path):
    """``clear_pass_m``: the same weights (it is not a training setting) recalibrated with the
    pass, recorded in the manifest and metrics; the runtime then needs the arm's joint state
    (not a graph input), and in open space with the gripper empty every base motion's risk is
    0 (marked ``passed``) while holding or not knowing keeps the graph's risks, as does an arm
    extended into a box beside the robot for the motions that sweep it there."""
    out = tmp_path / "clear"
    out.mkdir()
    shutil.copy(run[0] / DATA_FILE, out / DATA_FILE)
    plain = apply_overrides(run[1], {"scan_input": True, "bump_input": True})
    run_critic(plain, out, lambda line: None)
    cfg = apply_overrides(plain, {"clear_pass_m": 0.03, "clear_pass_quiet": 2})
    lines = []
    metrics = run_critic(cfg, out, lines.append)
    assert any("reusing" in line for line in lines)  # no retraining
    record = metrics["clear_pass"]["calibration"]
    assert 0 < record["passed"] <= record["base_motions"]
    assert record["costly_passed"] <= record["costly_base_motions"]
    critic = SafetyCritic(out / "bundle")
    assert critic.manifest.clear_pass_m == 0.03 and critic.has_clear_pass
    assert critic.manifest.clear_pass_quiet == 2
    assert critic.takes_proprio and "proprio" not in critic.manifest.graph_inputs
    data = load_data(out / DATA_FILE)
    frame = data["frames"][data["history"][0][-1]]
    base = np.array([a.moves_base for a in ACTIONS])
    th = SCAN_ANGLE_MIN + SCAN_ANGLE_INCREMENT * np.arange(SCAN_BEAMS)
    box = np.full(SCAN_BEAMS, np.inf)
    right = (th < -1.2) & (th > -1.9)
    box[right] = 0.45 / np.sin(-th[right])  # a box 45 cm to the right
    bump = [0.0, 0.0]

    def verdict(scan, arm, holding):
        critic.reset()
        return critic.step(frame, 0, bump, scan, arm, holding=holding)

    open_space = np.full(SCAN_BEAMS, np.inf)
    free = verdict(open_space, [0.5, 0.0], False)
    assert (
        (free.risk[base] == 0).all() and free.passed[base].all() and not free.passed[~base].any()
    )
    for holding in (True, None):
        kept = verdict(open_space, [0.5, 0.0], holding)
        assert not kept.passed.any() and (kept.risk[base] > 0).all(), holding
    tucked, reaching = verdict(box, [0.5, 0.0], False), verdict(box, [0.5, 0.3], False)
    assert tucked.passed[base].all()
    assert not reaching.passed[base].all() and (reaching.risk[base] > 0).any()
    with pytest.raises(ValueError, match="takes the arm's joint state"):
        critic.step(frame, 0, bump, box, holding=False)
    # clear_pass_quiet 2: a contact in the feedback of the last 2 frames holds the pass
    critic.reset()
    passes = [
        critic.step(frame, 0, fb, open_space, [0.5, 0.0], holding=False).passed[base].all()
        for fb in ([0.0, 0.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0])
    ]
    assert passes == [True, False, False, True]
    with pytest.raises(ValueError, match="clear_pass_quiet"):
        apply_overrides(plain, {"clear_pass_quiet": 2})  # without the pass


def test_the_arm_pass_is_calibrated_recorded_and_passes_an_arm_clear_of_the_scans(run, tmp_path):
    """``clear_pass_arm``: the same weights recalibrated with the arm's motions in the pass,
    recorded in the manifest and, the lift's and the telescoping arm's motions apart from the
    base motions, in the metrics (the data hold the arm scan). At run time, with a box 45 cm to
    the right: the lift's motions have risk 0 (marked ``passed``) with the arm in and keep the
    graph's risks with the arm reaching into the box or the gripper holding something; given
    the arm scan, the extensions whose sweep stays 3 cm clear of the box pass too (``arm_out``
    ends 4 cm short of it), none without it or with the arm already near the box. Without the
    clear pass the setting is refused."""
    out = tmp_path / "arm"
    out.mkdir()
    shutil.copy(run[0] / DATA_FILE, out / DATA_FILE)
    plain = apply_overrides(run[1], {"scan_input": True, "bump_input": True})
    cfg = apply_overrides(plain, {"clear_pass_m": 0.03, "clear_pass_arm": True})
    metrics = run_critic(cfg, out, lambda line: None)
    record = metrics["clear_pass"]["calibration"]
    for part in ("lift", "telescope"):
        assert 0 < record[f"{part}_passed"] <= record[f"{part}_motions"], part
        assert record[f"costly_{part}_passed"] <= record[f"costly_{part}_motions"], part
    assert record["passed"] <= record["base_motions"]
    critic = SafetyCritic(out / "bundle")
    assert critic.manifest.clear_pass_arm and critic.has_clear_pass
    data = load_data(out / DATA_FILE)
    frame = data["frames"][data["history"][0][-1]]
    base = np.array([a.moves_base for a in ACTIONS])
    lift = np.array([a.kind is ActionKind.ARM_LIFT for a in ACTIONS])
    telescope = np.array([a.kind is ActionKind.ARM_EXTEND for a in ACTIONS])
    th = SCAN_ANGLE_MIN + SCAN_ANGLE_INCREMENT * np.arange(SCAN_BEAMS)
    box = np.full(SCAN_BEAMS, np.inf)
    right = (th < -1.2) & (th > -1.9)
    box[right] = 0.45 / np.sin(-th[right])  # a box 45 cm to the right

    def verdict(arm, holding=False, scan_arm=None):
        critic.reset()
        return critic.step(frame, 0, [0.0, 0.0], box, arm, holding=holding, scan_arm=scan_arm)

    tucked, reaching, held = verdict([0.5, 0.0]), verdict([0.5, 0.3]), verdict([0.5, 0.0], True)
    assert tucked.passed[lift].all() and (tucked.risk[lift] == 0).all()
    assert tucked.passed[base].all() and not tucked.passed[~(lift | base)].any()
    assert not reaching.passed[lift].any() and (reaching.risk[lift] > 0).all()
    assert not held.passed.any()
    seen = verdict([0.5, 0.0], scan_arm=box)
    assert seen.passed[telescope].all() and (seen.risk[telescope] == 0).all()
    near = verdict([0.5, 0.1], scan_arm=box)  # arm_out would end 6 cm into the box's reach
    assert not near.passed[ACTION_NAMES.index("arm_out")] and near.passed[lift].all()
    with pytest.raises(ValueError, match="arm scan"):
        verdict([0.5, 0.0], scan_arm=box[:10])
    with pytest.raises(ValueError, match="clear_pass_arm"):
        apply_overrides(plain, {"clear_pass_arm": True})  # without the pass


def test_a_tampered_graph_is_refused(run, tmp_path):
    bundle = tampered_copy(run[0] / "bundle", tmp_path / "b", CRITIC_GRAPH)
    with pytest.raises(CriticBundleError, match="sha256"):
        SafetyCritic(bundle)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m["actions"].reverse(), r"action space .* retrain the critic"),
        (lambda m: m["categories"].pop(), r"cost categories .* retrain the critic"),
        (lambda m: m["image"].update(height=32), "tensor 'frames' has shape"),
        (lambda m: m.update(format="safevla-bundle"), "not a safety-critic bundle"),
        (lambda m: m["thresholds"].update(corner=1.5), r"must lie in \[0, 1\]"),
        (lambda m: m["thresholds"].update(corner=0.75), "one threshold for every category"),
        (lambda m: m.update(calibration_target="union"), "must be 'category' or 'any'"),
        (lambda m: m.update(scan_input=True, clear_pass_m=-0.1), r"clear_pass_m .* \[0, 0.5\]"),
        (lambda m: m.update(scan_input=True, clear_pass_m="3 cm"), "a number of metres"),
        (lambda m: m.update(scan_input=False, clear_pass_m=0.03), "needs the range scan"),
        (lambda m: m.update(clear_pass_arm=True), r"clear_pass_arm needs the clear pass"),
        (
            lambda m: m.update(scan_input=True, clear_pass_m=0.03, clear_pass_arm="yes"),
            "clear_pass_arm = 'yes' must be true or false",
        ),
        (
            lambda m: m.update(
                scan_input=True, bump_input=False, clear_pass_m=0.03, clear_pass_quiet=2
            ),
            "clear_pass_quiet needs the clear pass and bump_input",
        ),
    ],
)
def test_a_mismatched_manifest_is_refused(run, tmp_path, edit, message):
    bundle = edited_copy(run[0] / "bundle", tmp_path / "b", edit)
    with pytest.raises(CriticBundleError, match=message):
        SafetyCritic(bundle)


def test_an_unexpected_image_spec_is_refused(run):
    other = ImageSpec(height=96, width=96, mean=(0.5,) * 3, std=(0.25,) * 3)
    with pytest.raises(CriticBundleError, match=r"image spec .* differs from the expected"):
        SafetyCritic(run[0] / "bundle", image=other)


def test_a_rerun_with_another_alpha_reuses_data_and_weights_and_only_recalibrates(run, tmp_path):
    out = tmp_path / "rerun"
    shutil.copytree(run[0], out)
    cfg = apply_overrides(
        run[1], {"alpha": 0.25, "calibration_unit": "pair", "calibration_target": "category"}
    )
    logged = []
    run_critic(cfg, out, logged.append)
    assert sum("reusing" in line for line in logged) == 2  # data, then weights
    table = json.loads((out / "calibration.json").read_text())
    assert [r["category"] for r in table] == list(SAFETY_SPEC.categories)  # one per category
    assert {(r["alpha"], r["unit"]) for r in table} == {(0.25, "pair")}
    assert all(r["n_units"] == r["n_events"] for r in table)
    for r in table:
        if not r["sufficient"]:
            assert r["threshold"] == 0.0  # the documented conservative threshold
    m = SafetyCritic(out / "bundle").manifest
    assert m.alpha == 0.25 and m.calibration_target == "category"
    assert m.thresholds == {r["category"]: r["threshold"] for r in table}


def test_sign_key_signs_the_exported_critic(run, tmp_path, capsys):
    out = tmp_path / "signed"
    shutil.copytree(run[0], out)
    private, public = generate_keypair(tmp_path / "fleet")
    args = ["train", "critic", "--out", str(out), "--no-tensorboard", "--sign-key", str(private)]
    for s in SETTINGS:
        args += ["--set", s]
    assert main(args) == 0  # same settings: reuses data and weights, re-exports (seconds)
    assert "bundle (signed)" in capsys.readouterr().out
    critic = SafetyCritic(out / "bundle", verify_key=public)
    assert CRITIC_SIGNATURE_FILE not in critic.manifest.files
    with pytest.raises(CriticBundleError, match=r"critic\.json\.sig is missing"):
        SafetyCritic(run[0] / "bundle", verify_key=public)  # the run without --sign-key


def test_an_interrupted_collection_keeps_its_states_for_a_rerun(run, tmp_path):
    """SIGTERM (a `timeout`, a scheduler) during the collection: the states probed so far are
    written and the run stops; a rerun asking for that many states reuses them."""
    import os
    import signal
    import threading

    cfg = apply_overrides(run[1], {"states": 100_000, "seed": 7})
    out = tmp_path / "cut"
    out.mkdir()
    timer = threading.Timer(12.0, os.kill, (os.getpid(), signal.SIGTERM))
    lines: list[str] = []
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_critic(cfg, out, lines.append)
    finally:
        timer.cancel()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back
    data = load_data(out / DATA_FILE)
    n = len(data["labels"])
    assert 0 < n < 100_000 and any(f"--set states={n}" in line for line in lines)
    assert data["history"].max() < len(data["frames"]) == len(data["frame_scan"])
    assert len(data["episode"]) == len(data["split"]) == n
    lines.clear()
    run_critic(apply_overrides(cfg, {"states": n}), out, lines.append)
    assert any(line.startswith(f"data: reusing {out / DATA_FILE} ({n} states") for line in lines)


def test_a_bundle_that_reads_the_explored_map_proposes_in_the_critic_collection():
    """The ``bundle`` proposer gives a map-reading policy (the shipped ``objnav-ppo-lag``) the
    env's explored map, as ``safevla eval`` does; it proposes valid actions step after step."""
    from pathlib import Path

    from safevla_train.critic_data import _BundleProposer
    from sim_bridge.env import EnvConfig, make_env
    from sim_bridge.episode_gen import EpisodeSampler

    shipped = Path(__file__).resolve().parents[2] / "models" / "objnav-ppo-lag"
    proposer = _BundleProposer(str(shipped), seed=0)
    assert proposer.runtime.takes_explored
    env = make_env(EpisodeSampler(("objnav",)), EnvConfig(nav_size=(96, 96), render_manip=False))
    try:
        obs, _ = env.reset(seed=3)
        for _ in range(4):
            action = proposer(env, obs)
            assert 0 <= action < len(ACTION_NAMES)
            obs, *_ = env.step(action)
        assert env.explored().any()  # the map grew from the views the policy was given
    finally:
        env.close()


def test_a_collection_visits_the_episodes_of_an_episode_file_in_order(tmp_path):
    """``episodes_file`` (e.g. risk-eliciting scenes from ``--make-longtail``): its episodes
    are visited in order, once each; when they run out the states probed are kept; a file with
    a task the collection does not cover is refused, naming the file and the tasks."""
    from safevla_core.errors import UserError
    from safevla_train.critic_config import CriticConfig
    from safevla_train.critic_data import collect
    from sim_bridge.episodes import load_episodes, save_episodes, shipped_path

    episodes = load_episodes(shipped_path("objnav"))[:3]
    path = save_episodes(episodes, tmp_path / "three.jsonl.gz")
    cfg = CriticConfig(
        tasks=("objnav",), proposers=("expert:careless",), episodes_file=str(path),
        states=1000, probe_every=1, episode_max_steps=4, history_length=2,
    )  # fmt: skip
    lines: list[str] = []
    data = collect(cfg, lines.append)
    meta = json.loads(str(data["meta"]))
    assert len(data["labels"]) == 12 and meta["interrupted_at_states"] == 12  # 3 episodes x 4
    assert meta["config"]["episodes_file"] == str(path) and meta["config"]["states"] == 12
    assert any("all 3 episodes" in line and "keeping them" in line for line in lines)
    assert sorted(set(data["episode"].tolist())) == [0, 1, 2]
    # a data set collected before the setting existed still matches one without it
    assert "episodes_file" not in CriticConfig(tasks=("objnav",)).data_key()
    pickup = save_episodes(load_episodes(shipped_path("pickup"))[:1], tmp_path / "p.jsonl.gz")
    with pytest.raises(UserError, match=r"p\.jsonl\.gz.*tasks \['pickup'\] not in"):
        collect(CriticConfig(tasks=("objnav",), episodes_file=str(pickup)))


def test_a_shielded_collection_never_executes_what_its_critic_vetoes(tmp_path):
    """``shield_critic``: the collection's actions pass through a critic; a vetoed action is
    replaced by an allowed one, so the data hold the states a shielded robot reaches, while
    the probe still labels every action. A folder that is no critic is refused before the
    simulator starts."""
    from tiny_critic import risk_table, write_tiny_critic

    from safevla_core.actions import ACTION_INDEX
    from safevla_core.errors import UserError
    from safevla_train.critic_config import CriticConfig
    from safevla_train.critic_data import collect

    ahead = ACTION_INDEX["move_ahead"]
    critic = write_tiny_critic(
        tmp_path / "critic",
        ImageSpec(height=64, width=64, mean=(0.5,) * 3, std=(0.25,) * 3),
        risk_table({ahead: 0.9}),
    )
    base = dict(
        tasks=("objnav",), proposers=("expert:careless",), states=30, probe_every=1,
        episode_max_steps=15, history_length=2, seed=3,
    )  # fmt: skip
    plain = collect(CriticConfig(**base), lambda line: None)
    shielded = collect(CriticConfig(**base, shield_critic=str(critic)), lambda line: None)
    assert (plain["prev_actions"] == ahead).any()  # the expert drives ahead ...
    assert not (shielded["prev_actions"] == ahead).any()  # ... never past this critic
    meta = json.loads(str(shielded["meta"]))
    assert meta["shield_vetoes"] > 0 and meta["config"]["shield_critic"] == str(critic)
    assert len(shielded["labels"]) == 30 and shielded["labels"].shape[1] == NUM_ACTIONS
    assert "shield_critic" not in CriticConfig(**base).data_key()
    with pytest.raises(UserError, match=r"critic\.shield_critic=.*nowhere"):
        collect(CriticConfig(**base, shield_critic=str(tmp_path / "nowhere")))
