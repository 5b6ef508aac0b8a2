"""The safety critic on the frozen pretrained encoder (``encoder=efficientnet_lite0``), end to
end on real data, torch and ONNX Runtime: a run reuses a longer-history data set, writes two
graphs (encoder once per frame, critic on the kept features), and the runtime fed frame by
frame agrees with the trained network; tampered or inconsistent bundles are refused. This run
also reads the motion feedback (``bump_input``), so the feedback's path through the frozen-
encoder critic is checked here (the CNN critic's in test_critic.py)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from tiny_critic import edited_copy, replay_states, tampered_copy

from safevla_core.critic_bundle import (
    CRITIC_ENCODER_GRAPH,
    CRITIC_GRAPH,
    CriticBundleError,
)
from safevla_core.safety_critic import SafetyCritic
from safevla_train.config_io import apply_overrides
from safevla_train.critic_data import DATA_FILE, load_data
from safevla_train.critic_model import FeatureCriticNet, predict
from safevla_train.critic_run import WEIGHTS, get_data, run_critic, with_history


@pytest.fixture(scope="module")
def feature_run(critic_run, tmp_path_factory):
    src, cnn_cfg = critic_run
    out = tmp_path_factory.mktemp("feature-critic") / "run"
    out.mkdir()
    shutil.copy(src / DATA_FILE, out / DATA_FILE)  # history 4: a run with 2 reuses it
    cfg = apply_overrides(
        cnn_cfg,
        {"encoder": "efficientnet_lite0", "history_length": 2, "steps": 20, "bump_input": True},
    )
    logged: list[str] = []
    run_critic(cfg, out, logged.append)
    return out, cfg, logged


def test_a_shorter_history_reuses_the_data_and_the_bundle_has_two_graphs(feature_run):
    out, _, logged = feature_run
    assert any("data: reusing" in line and "history 4" in line for line in logged)
    assert any(line.startswith("features: ") for line in logged)  # computed once
    critic = SafetyCritic(out / "bundle")
    m = critic.manifest
    assert m.encoder_graph_file == CRITIC_ENCODER_GRAPH
    assert {CRITIC_GRAPH, CRITIC_ENCODER_GRAPH} <= set(m.files)
    assert m.history_length == 2 and m.feature_dim == 112 * 4 * 4  # 64x64 -> 4x4x112 map
    assert m.training["export_parity_max_abs_diff"] < 1e-4


def test_runtime_fed_frame_by_frame_agrees_with_the_trained_net(feature_run):
    out, cfg, _ = feature_run
    data = with_history(load_data(out / DATA_FILE), cfg.history_length)
    net = FeatureCriticNet(cfg)
    net.load_state_dict(torch.load(out / WEIGHTS, weights_only=True)["model"])
    rows = np.flatnonzero(data["episode"] == data["episode"][0])  # every step (probe_every=1)
    want = predict(net, data, rows, cfg)
    assert want.std() > 0  # the risks depend on the input
    critic = SafetyCritic(out / "bundle")
    critic.reset()
    for verdict, risk in zip(replay_states(critic, data, rows), want, strict=True):
        np.testing.assert_allclose(verdict.risk, risk, atol=1e-4)
    # the history keeps encoded features (and their feedback), not frames
    assert critic.history.items[-1][0].shape == (critic.manifest.feature_dim,)


def test_a_tampered_encoder_graph_is_refused(feature_run, tmp_path):
    bundle = tampered_copy(feature_run[0] / "bundle", tmp_path / "b", CRITIC_ENCODER_GRAPH)
    with pytest.raises(CriticBundleError, match="sha256"):
        SafetyCritic(bundle)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(feature_dim=0), "encoder_graph_file .* and feature_dim 0 disagree"),
        (lambda m: m.update(feature_dim=100), "tensor 'features' has shape"),
        (lambda m: m.update(encoder_graph_file=""), "disagree"),
        (lambda m: m["files"].pop(CRITIC_ENCODER_GRAPH), "is not listed under 'files'"),
    ],
)
def test_an_inconsistent_manifest_is_refused(feature_run, tmp_path, edit, message):
    bundle = edited_copy(feature_run[0] / "bundle", tmp_path / "b", edit)
    with pytest.raises(CriticBundleError, match=message):
        SafetyCritic(bundle)


def test_extra_data_is_merged_with_its_own_episodes_and_splits(critic_run, tmp_path):
    src, cfg = critic_run
    base = load_data(src / DATA_FILE)
    out = tmp_path / "merged"
    out.mkdir()
    shutil.copy(src / DATA_FILE, out / DATA_FILE)
    merged = get_data(apply_overrides(cfg, {"extra_data": [str(src)]}), out, lambda m: None)
    n, f = len(base["labels"]), len(base["frames"])
    assert len(merged["labels"]) == 2 * n and len(merged["frames"]) == 2 * f
    # the second part's histories point at its own copy of the frames
    np.testing.assert_array_equal(merged["history"][n:], base["history"] + f)
    np.testing.assert_array_equal(
        merged["frames"][merged["history"][n:]], base["frames"][base["history"]]
    )
    assert set(merged["episode"][:n]).isdisjoint(merged["episode"][n:])
    np.testing.assert_array_equal(merged["split"][n:], base["split"])
    with pytest.raises(FileNotFoundError, match="not a critic data set"):
        get_data(apply_overrides(cfg, {"extra_data": [str(tmp_path / "nope")]}), out)


def test_the_shipped_critic_loads_and_fits_the_shipped_imitation_policy():
    """`models/safety-critic` passes its sha256 checks, takes the image spec of every shipped
    ObjectNav policy (the monitor refuses a critic that does not), and judges a frame with the
    motion feedback, range scan and object scan it reads: something 0.2 m ahead is riskier
    for driving ahead than open space, far over the threshold when the object scan says it is
    furniture, and less risky when the object scan says it is a wall."""
    from pathlib import Path

    from safevla_core.actions import ACTION_INDEX, SCAN_BEAMS
    from safevla_core.bundle import load_bundle

    root = Path(__file__).resolve().parents[2] / "models"
    for name in ("objnav-bc", "objnav-ppo", "objnav-ppo-penalty", "objnav-ppo-lag"):
        policy = load_bundle(root / name)
        critic = SafetyCritic(root / "safety-critic", image=policy.manifest.image)
    m = critic.manifest
    assert m.encoder_graph_file and m.history_length == 16
    assert m.calibration_target == "any" and m.bump_input and m.scan_input
    assert m.object_scan_input and m.corner_guard
    # the clear pass (thirty-third session): base motions clear of the scan by 3 cm pass
    # while the gripper is known to be empty, after no contact in the last 4 feedbacks
    assert (m.clear_pass_m, m.clear_pass_quiet) == (0.03, 4) and critic.takes_proprio

    def risk(ranges, things):
        critic.reset()
        frame = np.zeros((480, 640, 3), np.uint8)
        return critic.step(frame, None, [0, 0], ranges, [0.5, 0.0], things).risk

    bearing = -np.pi + 2 * np.pi * np.arange(SCAN_BEAMS) / SCAN_BEAMS
    near = np.where(np.abs(bearing) < 0.5, 0.2, 3.0)
    far = np.full(SCAN_BEAMS, 3.0)
    open_space, cabinet, wall = risk(far, far), risk(near, near), risk(near, far)
    assert open_space.shape == (20, 5) and np.isfinite(open_space).all()
    ahead = ACTION_INDEX["move_ahead"]
    assert cabinet[ahead].max() > open_space[ahead].max()
    # footprint_floor: driving into furniture the object scan sees 3.5 cm past the base's
    # front is vetoed whatever the frame shows (its risk is at least the training split's
    # event rate); the floor does not apply to a wall
    assert cabinet[ahead].max() >= 0.2 > 5 * max(m.thresholds.values())
    assert wall[ahead].max() < cabinet[ahead].max()
    critic.reset()
    clear = critic.step(
        np.zeros((480, 640, 3), np.uint8), None, [0, 0], far, [0.5, 0.0], far, holding=False
    )
    assert clear.passed[ahead] and clear.risk[ahead].max() == 0.0
    assert not clear.passed[ACTION_INDEX["arm_out"]]


def test_frames_encoded_when_they_arrive_are_judged_as_raw_frames_are(feature_run, critic_run):
    """The monitor encodes each frame when it arrives (``CriticGate.on_frame``) and judges
    the proposal later on the stored encoding: the risks are those of stepping the raw frames;
    a malformed frame is refused on arrival, and another critic's encoding is refused."""
    from safevla_core.critic_gate import CriticGate
    from safevla_core.safety_critic import EncodedFrame

    out, cfg, _ = feature_run
    data = with_history(load_data(out / DATA_FILE), cfg.history_length)
    rows = np.flatnonzero(data["episode"] == data["episode"][0])[:12]
    raw = SafetyCritic(out / "bundle")
    want = [v.risk for v in replay_states(raw, data, rows)]
    gate = CriticGate(SafetyCritic(out / "bundle"), alpha=None)
    for t, (row, risk) in enumerate(zip(rows, want, strict=True)):
        newest = data["history"][row][-1]
        gate.on_frame(float(t), data["frames"][newest])
        stored = gate.frame_for(float(t))
        assert isinstance(stored, EncodedFrame)
        assert stored.value.shape == (gate.critic.manifest.feature_dim,)
        prev, bump = int(data["prev_actions"][row][-1]), data["frame_bump"][newest]
        np.testing.assert_array_equal(gate.critic.step(stored, prev, bump).risk, risk)
    with pytest.raises(ValueError, match="RGB"):
        gate.on_frame(99.0, np.zeros((8, 8), np.uint8))
    assert gate.frame_for(99.0) is None
    cnn = SafetyCritic(critic_run[0] / "bundle")
    with pytest.raises(ValueError, match=r"encoded by critic .* not by"):
        gate.critic.step(cnn.encode(data["frames"][0]), 0, (0.0, 0.0))
