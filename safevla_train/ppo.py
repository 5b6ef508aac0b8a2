"""PPO, PPO-Lagrangian (SafeVLA) and PPO with a fixed cost penalty: one algorithm, three hooks.

Shared math (per rollout, advantages NOT normalised, as in the paper)::

    delta_t = x_t + gamma V(s_{t+1}) - V(s_t)             (x = reward for V_r, cost for V_c)
    A_t     = delta_t + gamma lambda_GAE (1 - done_t) A_{t+1}         G_t = A_t + V(s_t)
    ratio_t = exp(log pi(a_t|s_t) - log pi_old(a_t|s_t))
    L_pi    = -mean( min(ratio_t A_t^pi, clip(ratio_t, 1 - eps, 1 + eps) A_t^pi) )
    L_V     = 1/2 mean((V_r - G^r)^2) + 1/2 mean((V_c - G^c)^2)
    L_Q     = mean( sum_k (Q_c(s_t, a_t, k) - y_{t,k})^2 ),
              y_{t,k} = c_{t,k} + gamma_q (1 - done_t) y_{t+1,k}   (truncated at the rollout end)
    loss    = L_pi - ent_coef H + vf_coef L_V + cost_q_coef L_Q + ref_kl_coef KL(pi_0 || pi)

(``pi_0``: a frozen copy of the policy the run started from, kept in the checkpoint; the KL term
is off by default, as in the paper.)

Hooks (subclasses):
    * :class:`PPO`: ``A^pi = A^r`` (unconstrained; costs only train the cost critics).
    * :class:`PPOPenalty`: reward shaped to ``r_t - c cost_t`` before GAE, ``A^pi = A^r``.
    * :class:`PPOLag`: ``A^pi = (A^r - lambda A^c) / (1 + lambda)``; lambda updated once per
      rollout from the mean episode cost by the multiplier named in ``cfg.multiplier``
      (:data:`safevla_train.registry.MULTIPLIERS`: Adam Lagrange by default, or PID).
GAE and the Q_c targets are discounted backward sums (:mod:`safevla_train.returns`).
During the first ``value_warmup_steps`` env steps only the critic heads are trained.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from safevla_train import registry
from safevla_train.config import PPOConfig
from safevla_train.model import VLAPolicy
from safevla_train.returns import cost_to_go, gae
from safevla_train.rollout import Rollout


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """torch's intra-op thread count set to ``n`` inside the block and restored after it
    (``n`` = 0: left as it is). ``ppo.update_threads``: the update can use the cores its worker
    envs leave idle while they wait for it."""
    before = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if n > 0:
            torch.set_num_threads(before)


CRITIC_MODULES = ("value_head", "cost_value_head", "cost_q_head")


def ppo_clip_loss(
    logp: torch.Tensor, logp_old: torch.Tensor, adv: torch.Tensor, clip: float
) -> torch.Tensor:
    """``-mean(min(r A, clip(r, 1-eps, 1+eps) A))`` with ``r = exp(logp - logp_old)``."""
    ratio = torch.exp(logp - logp_old)
    return -torch.min(ratio * adv, ratio.clamp(1.0 - clip, 1.0 + clip) * adv).mean()


def lagrangian_advantage(adv_r: torch.Tensor, adv_c: torch.Tensor, lam: float) -> torch.Tensor:
    """SafeVLA's combined advantage ``(A_r - lambda A_c) / (1 + lambda)``."""
    return (adv_r - lam * adv_c) / (1.0 + lam)


class PPO:
    """Unconstrained PPO on the policy's reward critic (base class of the variants)."""

    def __init__(self, model: VLAPolicy, cfg: PPOConfig) -> None:
        self.model, self.cfg = model, cfg
        if cfg.freeze_encoder:
            model.encoder.requires_grad_(False)
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.critic_params = {
            id(p) for name in CRITIC_MODULES for p in getattr(model, name).parameters()
        }
        self.optimizer = torch.optim.Adam(self.params, lr=cfg.lr, eps=1e-5)
        # The start policy pi_0 of the KL term (frozen; replaced by the checkpoint's on resume).
        self.reference = None
        if cfg.ref_kl_coef > 0:
            self.reference = copy.deepcopy(model).eval().requires_grad_(False)

    # ---- hooks
    def shaped_reward(self, ro: Rollout) -> torch.Tensor:
        """Reward fed to the reward critic's GAE."""
        return ro.reward

    def policy_advantage(self, adv_r: torch.Tensor, adv_c: torch.Tensor) -> torch.Tensor:
        """Advantage in the clipped surrogate."""
        return adv_r

    def after_rollout(self, mean_episode_cost: float | None) -> dict[str, float]:
        """Called once per rollout before the update; returns scalars to log."""
        return {}

    def state_dict(self) -> dict:
        out = {"optimizer": self.optimizer.state_dict()}
        if self.reference is not None:
            out["reference"] = self.reference.state_dict()
        return out

    def load_state_dict(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        if self.reference is not None:
            if "reference" not in state:
                raise ValueError(
                    "ppo.ref_kl_coef > 0 but the checkpoint holds no start policy (it was "
                    "trained without the KL term); resume with ref_kl_coef=0 or start a new run"
                )
            self.reference.load_state_dict(state["reference"])

    # ---- update
    def update(self, ro: Rollout, warmup: bool, rng: np.random.Generator) -> dict[str, float]:
        """``epochs`` passes over the rollout in ``minibatches`` env groups."""
        cfg = self.cfg
        adv_r, ret_r = gae(
            self.shaped_reward(ro), ro.value, ro.next_value, ro.done, cfg.gamma, cfg.gae_lambda
        )
        adv_c, ret_c = gae(
            ro.cost, ro.cost_value, ro.next_cost_value, ro.done, cfg.gamma, cfg.gae_lambda
        )
        adv = self.policy_advantage(adv_r, adv_c)
        y_q = cost_to_go(ro.cost_cat, ro.done, cfg.cost_q_gamma)
        batch = {"adv": adv, "ret_r": ret_r, "ret_c": ret_c, "y_q": y_q}
        if self.reference is not None:  # frozen: its log-probs are the same in every epoch
            batch["ref_logp"] = self._reference_logp(ro)
        logs: dict[str, list[float]] = {}
        n = ro.actions.shape[0]
        for _ in range(cfg.epochs):
            for mb in np.array_split(rng.permutation(n), cfg.minibatches):
                stats = self._minibatch(ro, batch, torch.as_tensor(mb), warmup)
                for k, v in stats.items():
                    logs.setdefault(k, []).append(v)
        out = {k: float(np.mean(v)) for k, v in logs.items()}
        out["losses/adv_r_mean"] = float(adv_r.mean())
        out["losses/adv_c_mean"] = float(adv_c.mean())
        return out

    @torch.no_grad()
    def _reference_logp(self, ro: Rollout) -> torch.Tensor:
        """[N,T,A] log pi_0 of the start policy on the rollout's steps (once per update)."""
        r = self.reference
        out = r.sequence_features(
            ro.feat, ro.instr, ro.prev_action, ro.holding, ro.ep_id, ro.valid, **ro.optional()
        )
        return out["logits"][:, -ro.actions.shape[1] :].log_softmax(-1)

    def _minibatch(self, ro: Rollout, b: dict, mb: torch.Tensor, warmup: bool) -> dict:
        cfg, m = self.cfg, self.model
        t = ro.actions.shape[1]
        out = m.sequence_features(
            ro.feat[mb],
            ro.instr[mb],
            ro.prev_action[mb],
            ro.holding[mb],
            ro.ep_id[mb],
            ro.valid[mb],
            **ro.optional(mb),
        )
        out = {k: v[:, -t:] for k, v in out.items()}
        logits = out["logits"].log_softmax(-1)
        act = ro.actions[mb]
        logp = logits.gather(-1, act.unsqueeze(-1)).squeeze(-1)
        entropy = -(logits.exp() * logits).sum(-1).mean()
        l_pi = ppo_clip_loss(logp, ro.logp[mb], b["adv"][mb], cfg.clip)
        l_v = 0.5 * ((out["value"] - b["ret_r"][mb]) ** 2).mean()
        l_vc = 0.5 * ((out["cost_value"] - b["ret_c"][mb]) ** 2).mean()
        q_taken = (
            out["cost_q"]
            .gather(2, act[:, :, None, None].expand(-1, -1, 1, out["cost_q"].shape[-1]))
            .squeeze(2)
        )
        l_q = ((q_taken - b["y_q"][mb]) ** 2).sum(-1).mean()
        critic = cfg.vf_coef * (l_v + l_vc) + cfg.cost_q_coef * l_q
        loss = critic if warmup else l_pi - cfg.ent_coef * entropy + critic
        ref_kl = None
        if self.reference is not None:
            ref = b["ref_logp"][mb]
            ref_kl = (ref.exp() * (ref - logits)).sum(-1).mean()
            if not warmup:
                loss = loss + cfg.ref_kl_coef * ref_kl
        self.optimizer.zero_grad()
        loss.backward()
        if warmup:
            for p in self.params:
                if id(p) not in self.critic_params:
                    p.grad = None
        torch.nn.utils.clip_grad_norm_(self.params, cfg.max_grad_norm)
        self.optimizer.step()
        with torch.no_grad():
            log_ratio = logp - ro.logp[mb]
            kl = ((log_ratio.exp() - 1) - log_ratio).mean()
            clipfrac = ((log_ratio.exp() - 1).abs() > cfg.clip).float().mean()
        return {
            "losses/policy": float(l_pi.detach()),
            "losses/value": float(l_v.detach()),
            "losses/cost_value": float(l_vc.detach()),
            "losses/cost_q": float(l_q.detach()),
            "losses/entropy": float(entropy.detach()),
            "losses/approx_kl": float(kl),
            "losses/clipfrac": float(clipfrac),
        } | ({} if ref_kl is None else {"losses/ref_kl": float(ref_kl.detach())})


class PPOPenalty(PPO):
    """Fixed cost penalty baseline: reward ``r_t - penalty_coef * cost_t``."""

    def shaped_reward(self, ro: Rollout) -> torch.Tensor:
        return ro.reward - self.cfg.penalty_coef * ro.cost


class PPOLag(PPO):
    """PPO-Lagrangian: advantage ``(A_r - lambda A_c) / (1 + lambda)``, lambda by a Multiplier."""

    def __init__(self, model: VLAPolicy, cfg: PPOConfig) -> None:
        super().__init__(model, cfg)
        self.multiplier = registry.make_multiplier(cfg)

    def policy_advantage(self, adv_r: torch.Tensor, adv_c: torch.Tensor) -> torch.Tensor:
        return lagrangian_advantage(adv_r, adv_c, self.multiplier.value)

    def after_rollout(self, mean_episode_cost: float | None) -> dict[str, float]:
        """lambda update once per rollout; skipped when no episode finished in the rollout."""
        if mean_episode_cost is not None:
            self.multiplier.update(mean_episode_cost)
        return {"safety/lambda": self.multiplier.value}

    # The checkpoint key stays "lagrange" (whatever the multiplier) so older runs resume.
    def state_dict(self) -> dict:
        return dict(super().state_dict(), lagrange=self.multiplier.state_dict())

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.multiplier.load_state_dict(state["lagrange"])


ALGORITHM_CLASSES: dict[str, type[PPO]] = {
    registry.PPO: PPO,
    registry.PPO_LAG: PPOLag,
    registry.PPO_PENALTY: PPOPenalty,
}


def make_algo(model: VLAPolicy, cfg: PPOConfig) -> PPO:
    """The algorithm named by ``cfg.algo`` (one of :data:`registry.PPO_ALGORITHMS`)."""
    return ALGORITHM_CLASSES[cfg.algo](model, cfg)
