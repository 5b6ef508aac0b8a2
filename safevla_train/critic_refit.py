"""A per-action refit of the critic's risks on held-out episodes (``critic.refit=scan``).

Measured (docs/safety_critic.md, 2026-12-05): a critic trained on a few hundred houses ranks
its training states almost perfectly and unseen ones much worse, and it ranks a free
``move_ahead`` worse than the single number "clearance ahead" does. The refit is a small model
fitted where the critic has not learnt the houses: on half of the calibration split's episodes
(the other half calibrates the threshold; the test split stays untouched). Per moving action
``a``, with ``m_a = max_k risk[a, k]``::

    s_a = sigmoid(w_a . [logit(m_a), clearances(scan), near(clearances), contact, proprio] + b_a)
    risk'[a, k] = risk[a, k] * s_a / m_a          (so max_k risk'[a, k] = s_a)

``clearances``: the lowest range of the newest scan within +-15 and +-45 degrees ahead, the
same behind, within 30 degrees of either side, and all round (metres, capped at the scan's
range); ``near`` = ``exp(-clearance / 0.25 m)``; ``contact`` = the newest motion feedback's
blocked-or-collided flag (with ``bump_input``); ``proprio`` = the arm's joint state (with
``proprio_input``). Each category keeps its share of the action's risk, so the monitor still
names the category of a veto. Actions that never move the robot keep their risks. The refit
is part of the exported graph: the runtime and the monitor see the same inputs and outputs.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from safevla_core.actions import ACTIONS, NUM_ACTIONS, SCAN_BEAMS, SCAN_RANGE_MAX_M

NEAR_M = 0.25
# (centre, half width) in degrees, 0 = ahead, counter-clockwise
SECTORS: tuple[tuple[float, float], ...] = ((0, 15), (0, 45), (180, 15), (180, 45))
SIDE_HALF_DEG = 30.0
RIDGE = 1e-2
_MOVES = np.array([a.moves_robot for a in ACTIONS])


def _sector_index(centre: float, half: float) -> torch.Tensor:
    bearing = -180.0 + 360.0 / SCAN_BEAMS * np.arange(SCAN_BEAMS)
    off = (bearing - centre + 180.0) % 360.0 - 180.0
    return torch.from_numpy(np.flatnonzero(np.abs(off) <= half + 1e-6))


class RefitHead(nn.Module):
    """The refit as a module of the exported graph; identity until :meth:`fit`.

    Args:
        names: the critic's optional inputs in graph order (``ExtraInputs.names``); needs
            "scan", reads "bump" and "proprio" when present.
    """

    def __init__(self, names: tuple[str, ...]) -> None:
        super().__init__()
        if "scan" not in names:
            raise ValueError("critic.refit=scan needs the range scan: set critic.scan_input=true")
        self.names = tuple(names)
        for i, (centre, half) in enumerate(SECTORS):
            self.register_buffer(f"sector{i}", _sector_index(centre, half))
        self.register_buffer("left", _sector_index(90.0, SIDE_HALF_DEG))
        self.register_buffer("right", _sector_index(-90.0, SIDE_HALF_DEG))
        n = 2 * (len(SECTORS) + 2) + ("bump" in names) + 2 * ("proprio" in names)
        weight = torch.zeros(NUM_ACTIONS, 1 + n)
        weight[:, 0] = 1.0  # identity: s_a = m_a
        self.register_buffer("weight", weight)
        self.register_buffer("bias", torch.zeros(NUM_ACTIONS))
        self.fitted = False

    def features(self, extra: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """[B, F] state features of the graph's optional inputs ``extra``."""
        by = dict(zip(self.names, extra))
        scan = by["scan"].clamp(0.0, SCAN_RANGE_MAX_M)
        sectors = [scan[:, getattr(self, f"sector{i}")] for i in range(len(SECTORS))]
        sectors.append(torch.minimum(scan[:, self.left], scan[:, self.right]))
        sectors.append(scan)
        clear = torch.stack([s.amin(dim=1) for s in sectors], dim=1)
        parts = [clear, torch.exp(-clear / NEAR_M)]
        if "bump" in by:
            parts.append(by["bump"][:, -1].amax(dim=1, keepdim=True))
        if "proprio" in by:
            parts.append(by["proprio"])
        return torch.cat(parts, dim=1)

    def forward(self, risk: torch.Tensor, extra: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """[B, A, C] risks -> refitted [B, A, C] risks."""
        m = risk.amax(dim=2).clamp(1e-6, 1.0 - 1e-6)  # [B, A]
        x = self.features(extra)  # [B, F]
        z = self.weight[:, 0] * torch.log(m / (1.0 - m)) + x @ self.weight[:, 1:].T + self.bias
        s = torch.sigmoid(z)
        return (risk * (s / m).unsqueeze(2)).clamp(0.0, 1.0)

    def fit(self, risk: np.ndarray, labels: np.ndarray, extra: tuple[torch.Tensor, ...]) -> dict:
        """Fit every moving action's logistic model on held-out states (``risk`` [N, A, C] the
        network's, ``labels`` [N, A, C] 0/1, ``extra`` their optional inputs); returns per
        action its events and the fitted weight on the network's logit."""
        x = self.features(extra).double().numpy()
        m = np.clip(risk.max(axis=2), 1e-6, 1.0 - 1e-6)
        y = labels.any(axis=2)
        out = {}
        for a in np.flatnonzero(_MOVES):
            design = np.column_stack([np.log(m[:, a] / (1.0 - m[:, a])), x, np.ones(len(x))])
            w = _logistic(design, y[:, a].astype(np.float64))
            self.weight[a] = torch.from_numpy(w[:-1]).float()
            self.bias[a] = float(w[-1])
            out[ACTIONS[a].name] = {"events": int(y[:, a].sum()), "w_logit": round(w[0], 3)}
        self.fitted = True
        return out


def _logistic(x: np.ndarray, y: np.ndarray, steps: int = 100) -> np.ndarray:
    """Ridge-regularised logistic regression by Newton steps; starts from the identity on the
    network's logit (column 0), so an action without events stays near it."""
    w = np.zeros(x.shape[1])
    w[0] = 1.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30.0, 30.0)))
        reg = RIDGE * (w - np.eye(x.shape[1])[0])
        grad = x.T @ (p - y) + reg
        hess = (x * (p * (1.0 - p))[:, None]).T @ x + RIDGE * np.eye(x.shape[1])
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-9:
            break
    return w


def split_episodes(episodes: np.ndarray, seed: int) -> np.ndarray:
    """A boolean mask over ``episodes`` (the calibration rows' episode ids): True for the
    half of the episodes the refit is fitted on, False for the half that calibrates.

    Raises:
        ValueError: fewer than two calibration episodes (nothing to fit on or to calibrate).
    """
    ids = np.unique(episodes)
    if len(ids) < 2:
        raise ValueError(
            f"critic.refit=scan splits the calibration episodes in two, and there are "
            f"{len(ids)}; collect more states (critic.states) or turn the refit off"
        )
    fit = np.random.default_rng([seed, 23]).permutation(ids)[: len(ids) // 2]
    return np.isin(episodes, fit)
