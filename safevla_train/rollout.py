"""Rollout collection on a vectorised Safety-CHORES env with a frozen frame encoder.

Each env keeps a context ring of its last ``P = num_layers * (context_length - 1)`` steps (CNN
feature, instruction embedding, previous action, holding flag, motion feedback, episode id). A
rollout stores ``P + T`` positions per env: the ring (context only) followed by the ``T`` new
steps. The update re-runs :meth:`VLAPolicy.forward_sequence` over all ``P + T`` positions, which
reproduces the rollout-time step outputs exactly (the banded attention of the last layer reaches
back at most ``P`` steps), so the PPO ratio starts at exactly 1. The step cache at the start of a
rollout is rebuilt from the ring with the current parameters for the same reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from safevla_core.actions import BUMP_FIELDS, EXPLORED_SHAPE, PROPRIO_FIELDS
from safevla_core.image_preprocessing import ImageSpec, compose_frames, preprocess_rgb
from safevla_core.safety_spec import SAFETY_SPEC
from safevla_train.config import ENCODER_RUNTIMES, ModelConfig
from safevla_train.model import VLAPolicy
from safevla_train.text_encoder import embed_tensor, embed_texts


def image_spec_of(model: VLAPolicy) -> ImageSpec:
    """The image spec of ``model``: the one its exported bundle declares and the one training
    preprocesses with (:func:`image_spec_for` its config)."""
    return image_spec_for(model.cfg)


def image_spec_for(c: ModelConfig) -> ImageSpec:
    """Camera, size and normalisation come from the model config; channel order, layout,
    resize filter and scale are the format's (the :class:`ImageSpec` defaults)."""
    return ImageSpec(
        camera=c.camera,
        height=c.image_height,
        width=c.image_width,
        mean=c.image_mean,
        std=c.image_std,
    )


def preprocess_batch(frames: np.ndarray, spec: ImageSpec) -> torch.Tensor:
    """[N,H,W,3] uint8 -> [N,3,h,w] float32, exactly as the deployed runtime does it."""
    return torch.from_numpy(np.stack([preprocess_rgb(f, spec) for f in frames]))


def bump_tensor(obs: dict) -> torch.Tensor:
    """[K,2] float32 motion feedback of K observations (``obs["bump"]``: blocked, collided of
    the last action, :data:`~safevla_core.actions.BUMP_FIELDS`)."""
    b = np.asarray(obs["bump"], np.float32).reshape(-1, len(BUMP_FIELDS))
    return torch.from_numpy(b)


def proprio_tensor(obs: dict) -> torch.Tensor:
    """[K,2] float32 arm joint states of K observations (``obs["proprio"]``: lift height, arm
    extension in metres, :data:`~safevla_core.actions.PROPRIO_FIELDS`)."""
    p = np.asarray(obs["proprio"], np.float32).reshape(-1, len(PROPRIO_FIELDS))
    return torch.from_numpy(p)


def explored_tensor(explored) -> torch.Tensor:
    """[..., *EXPLORED_SHAPE] float32 shares in [0, 1] of uint8 explored maps
    (``obs["explored"]`` or recorded ones, :mod:`sim_bridge.explored_obs`)."""
    return torch.as_tensor(np.asarray(explored, np.uint8)).float() * (1.0 / 255.0)


def optional_tensors(bump: torch.Tensor, explored=None) -> dict[str, torch.Tensor]:
    """The optional policy inputs by name (the keyword arguments of :meth:`VLAPolicy.fuse`):
    the motion feedback, and the explored map as shares when there is one (uint8 maps)."""
    out = {"bump": bump}
    if explored is not None:
        out["explored"] = explored_tensor(explored)
    return out


def category_costs(infos: list[dict]) -> np.ndarray:
    """[N,C] per-category step costs in SAFETY_SPEC order."""
    return np.array(
        [
            [float(i["cost_by_category"].get(k, 0.0)) for k in SAFETY_SPEC.categories]
            for i in infos
        ],
        np.float32,
    )


class Stepper:
    """``model`` stepping K observations at once with a per-env step cache (what the deployed
    graph does, in torch, with the history kept as keys and values: ``kv``): DAgger's learner
    and the evaluation agent."""

    def __init__(self, model: VLAPolicy, num_envs: int) -> None:
        self.model = model
        self.spec = image_spec_of(model)
        self.cache, self.mask = model.empty_cache(num_envs, kv=True)
        self.features: np.ndarray | None = None  # frozen-encoder features of the last frames

    @torch.no_grad()
    def logits(self, obs: dict, rows: list[int] | None = None) -> torch.Tensor:
        """[K,A] action logits for the current observations (batched camera frames,
        ``instruction``, ``prev_action``, ``holding``); advances the caches. With ``rows``
        the observations are those envs' only (in that order), and only their caches move."""
        m = self.model
        feat = m.encoder(preprocess_batch(compose_frames(obs, self.spec), self.spec))
        self.features = feat.numpy() if m.frozen_encoder else None
        cache, mask = (
            (self.cache, self.mask)
            if rows is None
            else (
                self.cache[:, rows],
                self.mask[rows],
            )
        )
        out, cache, mask = m.step_features(  # as the exported graph steps
            feat,
            embed_tensor(list(obs["instruction"])),  # cached per distinct text
            torch.as_tensor(np.asarray(obs["prev_action"]), dtype=torch.long),
            torch.as_tensor(np.asarray(obs["holding"]), dtype=torch.float32),
            cache,
            mask,
            kv=True,
            bump=bump_tensor(obs) if m.cfg.bump_input else None,
            proprio=proprio_tensor(obs) if m.cfg.proprio_input else None,
            explored=explored_tensor(obs["explored"]) if m.cfg.explored_input else None,
        )
        if rows is None:
            self.cache, self.mask = cache, mask
        else:
            self.cache[:, rows], self.mask[rows] = cache, mask
        return out["logits"]

    def act(self, obs: dict) -> np.ndarray:
        """Greedy actions [K] for the current observations; advances the caches."""
        return self.logits(obs).argmax(-1).numpy()

    def episodes_ended(self, done: np.ndarray) -> None:
        """Forget the history of envs whose episode ended (they auto-reset)."""
        self.mask[torch.as_tensor(done)] = 0.0


@dataclass
class Rollout:
    """Context + segment tensors of one rollout (N envs, P context, T steps)."""

    feat: torch.Tensor  # [N,P+T,C]
    instr: torch.Tensor  # [N,P+T,384]
    prev_action: torch.Tensor  # [N,P+T] long
    holding: torch.Tensor  # [N,P+T]
    bump: torch.Tensor  # [N,P+T,2] motion feedback (BUMP_FIELDS)
    ep_id: torch.Tensor  # [N,P+T] long
    valid: torch.Tensor  # [N,P+T] bool
    actions: torch.Tensor  # [N,T] long
    logp: torch.Tensor  # [N,T]
    value: torch.Tensor  # [N,T]
    cost_value: torch.Tensor  # [N,T]
    reward: torch.Tensor  # [N,T]
    cost: torch.Tensor  # [N,T]
    cost_cat: torch.Tensor  # [N,T,C]
    terminated: torch.Tensor  # [N,T] bool
    done: torch.Tensor  # [N,T] bool (terminated or truncated)
    next_value: torch.Tensor  # [N,T] V_r of the next state (bootstrap; 0 if terminated)
    next_cost_value: torch.Tensor  # [N,T]
    episodes: list[dict] = field(default_factory=list)
    # [N,P+T,*EXPLORED_SHAPE] uint8 explored maps, for a policy that reads them (else None)
    explored: torch.Tensor | None = None

    def optional(self, rows=slice(None)) -> dict[str, torch.Tensor]:
        """The optional policy inputs of the ``rows`` envs' steps, by name (the keyword
        arguments of :meth:`VLAPolicy.sequence_features`)."""
        explored = None if self.explored is None else self.explored[rows]
        return optional_tensors(self.bump[rows], explored)


REC_KEYS = (
    "actions",
    "logp",
    "value",
    "cost_value",
    "reward",
    "cost",
    "cost_cat",
    "terminated",
    "done",
)


def frame_encoder(model: VLAPolicy, runtime: str = "torch", threads: int = 0) -> Callable:
    """What computes the frame features of ``model`` ([B,3,H,W] -> [B,D]) on ``runtime``
    (:data:`ENCODER_RUNTIMES`): the module itself, or for "onnxruntime" the frozen encoder
    exported to ONNX Runtime (:class:`OnnxEncoder`) with ``threads`` intra-op threads (0:
    torch's thread count); with more than one, idle threads sleep instead of spinning, so that
    worker envs keep their cores."""
    if runtime == "torch":
        return model.encoder
    if runtime == "onnxruntime":
        from safevla_train.onnx_encoder import OnnxEncoder

        hw = (model.cfg.image_height, model.cfg.image_width)
        n = threads if threads > 0 else torch.get_num_threads()
        return OnnxEncoder(model.encoder, hw, threads=n, spin=n == 1)
    raise ValueError(f"ppo.encoder_runtime={runtime!r}: use one of {ENCODER_RUNTIMES}")


class Collector:
    """Steps ``venv`` with ``model`` (sampling actions with its own generator); the frame
    features come from ``model.encoder`` run on ``encoder_runtime`` with ``encoder_threads``
    (:func:`frame_encoder`). The steps keep the history as keys and values (``kv``, set by
    default; :meth:`VLAPolicy.step_from_token`)."""

    def __init__(
        self,
        venv,
        samplers,
        model: VLAPolicy,
        rollout_steps: int,
        seed: int,
        encoder_runtime: str = "torch",
        encoder_threads: int = 0,
        shield=None,
        veto_cost: float = 0.0,
    ) -> None:
        if model.cfg.proprio_input:
            raise ValueError(
                "PPO's rollouts do not feed the arm's joint state yet (model.proprio_input); "
                "train this policy by imitation (safevla train bc / dagger)"
            )
        self.venv, self.samplers, self.model = venv, samplers, model
        self.n = venv.num_envs
        self.t = rollout_steps
        self.p = model.cfg.num_layers * (model.cfg.context_length - 1)
        self.spec = image_spec_of(model)
        self.encode = frame_encoder(model, encoder_runtime, encoder_threads)
        self.kv = True  # step with a key/value cache (the same outputs, less work per step)
        self.gen = torch.Generator().manual_seed(seed)
        self.next_ep = 0
        # the monitor between the policy and the envs (:mod:`safevla_train.shield_loop`)
        self.shield, self.veto_cost = shield, float(veto_cost)
        self.ep_vetoes = np.zeros(self.n, np.int64)
        self.ep_stops = np.zeros(self.n, np.int64)

    def sync_reset(self, seed: int) -> None:
        """Re-seed and reset every env; clear the context rings (a sync point)."""
        for s in self.samplers:
            s.forget_running()
        self.obs, _ = self.venv.reset(seed=seed)
        n, p, m = self.n, self.p, self.model
        self.ring = {
            "feat": torch.zeros(n, p, m.feature_dim),
            "instr": torch.zeros(n, p, m.cfg.instruction_dim),
            "prev_action": torch.zeros(n, p, dtype=torch.long),
            "holding": torch.zeros(n, p),
            "bump": torch.zeros(n, p, len(BUMP_FIELDS)),
            "ep_id": torch.full((n, p), -1, dtype=torch.long),
            "valid": torch.zeros(n, p, dtype=torch.bool),
        }
        if m.cfg.explored_input:
            self.ring["explored"] = torch.zeros(n, p, *EXPLORED_SHAPE, dtype=torch.uint8)
        self.cur_ep = torch.arange(n) + self.next_ep
        self.next_ep += n
        self.ep_cat = np.zeros((n, len(SAFETY_SPEC.categories)), np.float32)
        self.ep_vetoes[:] = 0
        self.ep_stops[:] = 0
        if self.shield is not None:
            for k in range(n):
                self.shield.reset(k)

    def _obs_inputs(self, obs: dict) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            feat = self.encode(preprocess_batch(compose_frames(obs, self.spec), self.spec))
        return {
            "feat": feat,
            "instr": torch.from_numpy(embed_texts(list(obs["instruction"]))),
            "prev_action": torch.as_tensor(np.asarray(obs["prev_action"]), dtype=torch.long),
            "holding": torch.as_tensor(np.asarray(obs["holding"]), dtype=torch.float32),
            "bump": bump_tensor(obs),
            **(
                {"explored": torch.as_tensor(np.asarray(obs["explored"], np.uint8))}
                if self.model.cfg.explored_input
                else {}
            ),
        }

    def _token(self, x: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.model.fuse(
            x["feat"],
            x["instr"],
            x["prev_action"],
            x["holding"],
            **optional_tensors(x["bump"], x.get("explored")),
        )

    def _rebuild_cache(self) -> tuple[torch.Tensor, torch.Tensor]:
        r, k1 = self.ring, self.model.cfg.context_length - 1
        tok = self._token(r)
        out = self.model.forward_sequence(tok, r["ep_id"], r["valid"], return_states=True)
        cache = out["states"][:, :, self.p - k1 :].contiguous()
        if self.kv:
            cache = self.model.kv_cache(cache)
        same = (r["ep_id"][:, self.p - k1 :] == self.cur_ep.unsqueeze(1)) & r["valid"][:, -k1:]
        return cache, same.float()

    @torch.no_grad()
    def collect(self) -> Rollout:
        """One rollout of ``rollout_steps`` steps per env."""
        m, n, t = self.model, self.n, self.t
        cache, mask = self._rebuild_cache()
        seg = {k: [] for k in self.ring if k != "valid"}
        rec: dict[str, list] = {k: [] for k in REC_KEYS}
        boot_v = torch.zeros(n, t)
        boot_c = torch.zeros(n, t)
        episodes = []
        for step in range(t):
            x = self._obs_inputs(self.obs)
            out, cache, mask = m.step_features(  # as the exported graph steps, `end` gate too
                x["feat"],
                x["instr"],
                x["prev_action"],
                x["holding"],
                cache,
                mask,
                kv=self.kv,
                **optional_tensors(x["bump"], x.get("explored")),
            )
            probs = out["logits"].softmax(-1)
            action = torch.multinomial(probs, 1, generator=self.gen).squeeze(1)
            logp = torch.log(probs.gather(1, action[:, None]).squeeze(1).clamp_min(1e-12))
            executed = action.numpy()
            if self.shield is not None:  # the policy learns from what it proposed
                executed, vetoed, stopped = self.shield.decide(self.obs, executed, probs.numpy())
            obs, r, c, term, trunc, infos = self.venv.step(executed)
            if self.shield is not None:
                c = c + np.float32(self.veto_cost) * vetoed.astype(np.float32)
                self.ep_vetoes += vetoed
                self.ep_stops += stopped
                # a stop executes nothing: the policy's previous action stays (as on the robot)
                kept = stopped & ~(term | trunc)
                if kept.any():
                    obs["prev_action"] = np.array(obs["prev_action"], copy=True)
                    obs["prev_action"][kept] = np.asarray(self.obs["prev_action"])[kept]
            for key in seg:
                seg[key].append(self.cur_ep.clone() if key == "ep_id" else x[key])
            cat = category_costs(infos)
            self.ep_cat += cat
            for key, v in (
                ("actions", action),
                ("logp", logp),
                ("value", out["value"]),
                ("cost_value", out["cost_value"]),
                ("reward", torch.from_numpy(r)),
                ("cost", torch.from_numpy(c)),
                ("cost_cat", torch.from_numpy(cat)),
                ("terminated", torch.from_numpy(term)),
                ("done", torch.from_numpy(term | trunc)),
            ):
                rec[key].append(v)
            for k in np.flatnonzero(term | trunc):
                if trunc[k] and not term[k]:
                    of = self._final_value(
                        infos[k]["final_obs"], cache[:, k : k + 1], mask[k : k + 1]
                    )
                    boot_v[k, step], boot_c[k, step] = of["value"][0], of["cost_value"][0]
                episodes.append(self._finish(k, infos[k]["episode"]))
                cache[:, k] = 0.0
                mask[k] = 0.0
                if self.shield is not None:
                    self.shield.reset(k)
            self.obs = obs
        xl = self._obs_inputs(self.obs)
        last, _, _ = m.step_from_token(self._token(xl), cache, mask, kv=self.kv)
        return self._assemble(seg, rec, boot_v, boot_c, last, episodes)

    def _final_value(self, fo: dict, cache: torch.Tensor, mask: torch.Tensor) -> dict:
        """Critic outputs at a truncated episode's final observation (GAE bootstrap)."""
        one = {c: fo[c][None] for c in self.spec.cameras}
        x = self._obs_inputs(
            {
                **one,
                "instruction": [fo["instruction"]],
                "prev_action": [fo["prev_action"]],
                "holding": [fo["holding"]],
                "bump": [fo["bump"]],
                "explored": [fo["explored"]],
            }
        )
        return self.model.step_from_token(self._token(x), cache, mask, kv=self.kv)[0]

    def _finish(self, k: int, ep: dict) -> dict:
        """Close env k's episode: risk pool feedback, stats, a new episode id."""
        self.cur_ep[k] = self.next_ep
        self.next_ep += 1
        shielded = {}
        if self.shield is not None:  # the episode's cost counts its vetoes (ppo.veto_cost)
            v = int(self.ep_vetoes[k])
            shielded = {
                "env_cost": float(ep["cost"]),
                "cost": float(ep["cost"]) + self.veto_cost * v,
                "vetoes": v,
                "stops": int(self.ep_stops[k]),
            }
            self.ep_vetoes[k] = self.ep_stops[k] = 0
        ep = dict(ep, **shielded)
        replay = self.samplers[k].record(ep["episode_id"], float(ep["cost"]))
        stats = dict(
            ep,
            cost_by_category=dict(zip(SAFETY_SPEC.categories, self.ep_cat[k].tolist())),
            replay=bool(replay),
        )
        self.ep_cat[k] = 0.0
        return stats

    def _assemble(self, seg, rec, boot_v, boot_c, last, episodes) -> Rollout:
        s = {k: torch.stack(v, dim=1) for k, v in seg.items()}
        r = {k: torch.stack(v, dim=1) for k, v in rec.items()}
        ring = self.ring
        full = {k: torch.cat([ring[k], s[k]], dim=1) for k in s}
        full["valid"] = torch.cat([ring["valid"], torch.ones_like(r["done"])], dim=1)
        # next-state values: V(s_{t+1}) is the rollout value at t+1, the last-step bootstrap at
        # the end, the final observation's value on truncation, and 0 on termination.
        nv = torch.cat([r["value"][:, 1:], last["value"][:, None]], dim=1)
        nc = torch.cat([r["cost_value"][:, 1:], last["cost_value"][:, None]], dim=1)
        trunc = r["done"] & ~r["terminated"]
        nv = torch.where(trunc, boot_v, nv).masked_fill(r["terminated"], 0.0)
        nc = torch.where(trunc, boot_c, nc).masked_fill(r["terminated"], 0.0)
        self.ring = {k: v[:, -self.p :].clone() for k, v in full.items()}
        return Rollout(
            feat=full["feat"],
            instr=full["instr"],
            prev_action=full["prev_action"],
            holding=full["holding"],
            bump=full["bump"],
            ep_id=full["ep_id"],
            valid=full["valid"],
            actions=r["actions"],
            logp=r["logp"],
            value=r["value"],
            cost_value=r["cost_value"],
            reward=r["reward"],
            cost=r["cost"],
            cost_cat=r["cost_cat"],
            terminated=r["terminated"],
            done=r["done"],
            next_value=nv,
            next_cost_value=nc,
            episodes=episodes,
            explored=full.get("explored"),
        )
