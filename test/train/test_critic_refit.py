"""The per-action refit of the critic's risks (``critic.refit=scan``,
:mod:`safevla_train.critic_refit`): what it learns on states whose events depend on the
clearance ahead, what it leaves alone, and a real run that fits it on half of the calibration
episodes and exports it inside the graph the runtime runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tiny_critic import replay_states

from safevla_core.actions import ACTION_NAMES, ACTIONS, NUM_ACTIONS, SCAN_BEAMS
from safevla_core.safety_critic import SafetyCritic
from safevla_core.safety_spec import SAFETY_SPEC
from safevla_train.config_io import apply_overrides
from safevla_train.critic_data import DATA_FILE, load_data
from safevla_train.critic_model import SafetyCriticNet, predict
from safevla_train.critic_refit import RefitHead, split_episodes
from safevla_train.critic_run import fit_refit, run_critic

AHEAD = ACTION_NAMES.index("move_ahead")
C = len(SAFETY_SPEC.categories)
AHEAD_BEAM = SCAN_BEAMS // 2  # bearing 0


def synthetic(n: int, rng) -> tuple[np.ndarray, np.ndarray, tuple[torch.Tensor, ...]]:
    """States whose move_ahead costs exactly when the range straight ahead is under 0.4 m,
    and a network that cannot tell (the same risk for every state)."""
    scan = rng.uniform(0.2, 3.0, (n, SCAN_BEAMS)).astype(np.float32)
    labels = np.zeros((n, NUM_ACTIONS, C), np.uint8)
    labels[:, AHEAD, 1] = scan[:, AHEAD_BEAM - 3 : AHEAD_BEAM + 4].min(1) < 0.4
    risk = np.full((n, NUM_ACTIONS, C), 0.02, np.float32)
    risk[:, AHEAD, 1] = 0.2  # the category the network blames most
    bump = torch.zeros(n, 2, 2)
    return risk, labels, (bump, torch.from_numpy(scan))


def test_the_refit_learns_the_clearance_the_network_missed_and_keeps_the_rest():
    rng = np.random.default_rng(0)
    risk, labels, extra = synthetic(4000, rng)
    head = RefitHead(("bump", "scan"))
    identity = head(torch.from_numpy(risk), extra).numpy()
    np.testing.assert_allclose(identity, risk, rtol=1e-4)  # unfitted: the network's risks
    fitted = head.fit(risk, labels, extra)
    assert fitted["move_ahead"]["events"] == int(labels[:, AHEAD].any(1).sum()) > 100
    test_risk, _, test_extra = synthetic(2000, rng)
    out = head(torch.from_numpy(test_risk), test_extra).numpy()
    front = test_extra[1][:, AHEAD_BEAM - 3 : AHEAD_BEAM + 4].amin(1).numpy()
    ahead = out[:, AHEAD].max(1)
    assert ahead[front < 0.35].min() > 0.5 and ahead[front > 0.45].max() < 0.1
    # the category the network blamed keeps its share of the action's risk
    blamed = out[:, AHEAD, 1] > 1e-6
    assert blamed.sum() > 1000
    np.testing.assert_allclose(out[blamed, AHEAD, 0] / out[blamed, AHEAD, 1], 0.1, rtol=1e-3)
    # actions that never move the robot keep the network's risks
    for a in (ACTION_NAMES.index("end"), ACTION_NAMES.index("sub_done")):
        np.testing.assert_allclose(out[:, a], test_risk[:, a], rtol=1e-4)
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_the_refit_needs_the_scan_and_splits_calibration_by_episode(run):
    with pytest.raises(ValueError, match="scan_input=true"):
        RefitHead(("bump",))
    with pytest.raises(ValueError, match="scan_input=true"):
        apply_overrides(run[1], {"refit": "scan"})
    with pytest.raises(ValueError, match=r"critic.refit='grid'"):
        apply_overrides(run[1], {"refit": "grid", "scan_input": True})
    episodes = np.repeat(np.arange(10), 3)
    fit = split_episodes(episodes, 0)
    assert fit.sum() == 15 and all(len(set(fit[episodes == e])) == 1 for e in range(10))
    with pytest.raises(ValueError, match="there are 1; collect more states"):
        split_episodes(np.zeros(5, int), 0)


@pytest.fixture
def run(critic_run):
    return critic_run


def test_a_refit_run_fits_on_half_the_calibration_and_exports_it_in_the_graph(run, tmp_path):
    """A real run with ``refit=scan`` (the small run's data): the refit is fitted on half of the
    calibration episodes, the other half calibrates, and the bundle the runtime loads gives
    the net's refitted risks frame by frame."""
    out = tmp_path / "refit"  # short episodes: enough of them to halve the calibration's
    on = {"bump_input": True, "scan_input": True, "proprio_input": True, "refit": "scan"}
    on |= {"episode_max_steps": 12, "states": 200}
    cfg = apply_overrides(run[1], on)
    metrics = run_critic(cfg, out, lambda line: None)
    data = load_data(out / DATA_FILE)
    cal = np.flatnonzero(data["split"] == 1)
    half = split_episodes(data["episode"][cal], cfg.seed)
    assert metrics["refit"]["fit_states"] == int(half.sum()) > 0
    moving = [a.name for a in ACTIONS if a.moves_robot]
    assert sorted(metrics["refit"]["actions"]) == sorted(moving)
    table = json.loads((out / "calibration.json").read_text())
    assert table[0]["category"] == "any"
    # the net with the same refit (fitted again: deterministic) against the exported graph
    net = SafetyCriticNet(cfg)
    net.load_state_dict(torch.load(out / "critic.pt", weights_only=True)["model"])
    from safevla_train.critic_model import CriticInputs

    inputs = CriticInputs(net, data, cfg)
    rest = fit_refit(net, data, cal, cfg, inputs, {}, lambda line: None)
    assert np.array_equal(rest, cal[~half])
    assert net.refit is not None and net.refit.fitted
    critic = SafetyCritic(out / "bundle")
    rows = np.flatnonzero(data["episode"] == data["episode"][0])
    want = predict(net, data, rows, cfg, inputs)
    critic.reset()
    for verdict, risk in zip(replay_states(critic, data, rows), want, strict=True):
        np.testing.assert_allclose(verdict.risk, risk, atol=2e-4)
    net.refit = None
    plain = predict(net, data, rows, cfg, inputs)
    assert np.abs(plain - want).max() > 1e-2  # the refit did change the risks
