"""The VLA policy: CNN frame encoder, frozen-instruction fusion, banded causal transformer over the
episode, and four heads (actor, reward critic V_r, cost critic V_c, per-action cost critic Q_c).

Token of step t (layer-0 input)::

    x_t = W_img cnn(o_t) + W_txt e(instr) + E_act[a_{t-1}] + h_t w_hold [+ W_bump b_t]
          [+ W_prop p_t] [+ MLP_map(m_t)]

(``model.encoder = "efficientnet_lite0"``: ``cnn`` is a frozen ImageNet-pretrained backbone and
``W_img`` a small spatial projection, :mod:`safevla_train.pretrained`; with ``model.detector``
the frozen encoder also runs a trained target detector whose logits follow the backbone's
features and feed the target readout, :mod:`safevla_train.detector_model`.)

where ``e(instr)`` is the frozen all-MiniLM-L6-v2 embedding, ``a_{t-1}`` the previously executed
action (index ``num_actions`` at episode start), ``h_t`` the object-in-hand flag and, with
``model.bump_input``, ``b_t`` the motion feedback of the last action (blocked, collided:
:data:`safevla_core.actions.BUMP_FIELDS`), its projection ``W_bump`` initialised to zero so that
adding it to a trained policy changes nothing until training uses it; with
``model.proprio_input``, ``p_t`` the arm's joint state (lift height, arm extension in metres:
:data:`safevla_core.actions.PROPRIO_FIELDS`), ``W_prop`` also initialised to zero; with
``model.explored_input``, ``m_t`` the explored map around the robot
(:data:`safevla_core.actions.EXPLORED_SHAPE` shares in [0, 1], flattened), through a two-layer
MLP whose last layer is initialised to zero.

History: every layer is pre-norm attention + MLP where query t attends to keys k with
``0 <= t - k < K`` (K = ``context_length``) inside the same episode, with a learned per-head bias
``b[t - k]`` (relative age) instead of absolute positions. Because the attention window is banded,
:meth:`VLAPolicy.step` reproduces :meth:`VLAPolicy.forward_sequence` exactly by caching, for every
layer, its inputs at the K-1 previous steps: one step encodes only the newest frame (O(1)). The
exported graph keeps those inputs; the trainer's rollouts keep their keys and values instead
(``kv``), which spares recomputing them for all K-1 steps at every step.

Heads (on the final layer-normed state s_t):
    * ``logits``: 20 action logits, pi(a|s) = softmax(logits).
    * ``value``: V_r(s), expected discounted return.
    * ``cost_value``: V_c(s), expected discounted cost (sum over categories).
    * ``cost_q``: Q_c(s, a, k) = softplus(.) >= 0, per action a and cost category k, regressed
      on the per-category discounted cost-to-go ``sum_i gamma_q^i c_{t+i,k}`` of the action taken
      (see :mod:`safevla_train.ppo`); with gamma_q = 0 it is the expected immediate cost.
"""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F
from torch import nn

from safevla_core.actions import BUMP_FIELDS, END, EXPLORED_SHAPE, PROPRIO_FIELDS
from safevla_core.bundle_manifest import GRAPH_INPUTS, with_optional_inputs
from safevla_train.config import ModelConfig
from safevla_train.detector_model import (
    DetectorEncoder,
    load_detector_file,
    load_detector_weights,
)
from safevla_train.pretrained import EFFICIENTNET_LITE0, FrozenBackbone, SpatialProjection
from sim_bridge.tasks.objnav import OBJNAV_TARGETS, SEEN_DIM, SEEN_RANGES_M

END_GATE_PENALTY = 1e4  # subtracted from the `end` logit where the gate refuses it


class FrameEncoder(nn.Module):
    """Stride-2 3x3 convolutions with GELU, then mean over space: [B,3,H,W] -> [B,C]."""

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.GELU()]
            c_in = c
        self.net = nn.Sequential(*layers)
        self.out_dim = c_in

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image).mean(dim=(2, 3))


class BandedBlock(nn.Module):
    """Pre-norm transformer block whose attention is limited to the last K steps.

    Attention logits: ``q_t . k_j / sqrt(d_h) + b_h[t - j]`` for allowed pairs, -inf otherwise.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.num_heads = cfg.num_heads
        self.head_dim = d // cfg.num_heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(
            nn.Linear(d, cfg.mlp_ratio * d), nn.GELU(), nn.Linear(cfg.mlp_ratio * d, d)
        )
        self.age_bias = nn.Parameter(torch.zeros(cfg.num_heads, cfg.context_length))

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.reshape(b, t, self.num_heads, self.head_dim).transpose(1, 2)

    def attend(
        self, xq: torch.Tensor, xkv: torch.Tensor, bias: torch.Tensor, allowed: torch.Tensor
    ) -> torch.Tensor:
        """Block output for queries ``xq`` [B,Tq,d] over keys ``xkv`` [B,Tk,d].

        ``bias`` [H,Tq,Tk] age bias, ``allowed`` [B,Tq,Tk] bool mask.
        """
        return self.attend_kv(xq, self.keys_values(xkv), bias, allowed)

    def keys_values(self, x: torch.Tensor) -> torch.Tensor:
        """[B,T,2d] keys and values of the layer inputs ``x`` [B,T,d] (position by position:
        a step can keep them for later queries instead of its layer inputs)."""
        d = x.shape[-1]
        return F.linear(self.ln1(x), self.qkv.weight[d:], self.qkv.bias[d:])

    def attend_kv(
        self, xq: torch.Tensor, kv: torch.Tensor, bias: torch.Tensor, allowed: torch.Tensor
    ) -> torch.Tensor:
        """:meth:`attend` with the keys' :meth:`keys_values` ``kv`` [B,Tk,2d] given."""
        d = xq.shape[-1]
        q = self._heads(F.linear(self.ln1(xq), self.qkv.weight[:d], self.qkv.bias[:d]))
        k, v = self._heads(kv[..., :d]), self._heads(kv[..., d:])
        att = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim) + bias.unsqueeze(0)
        att = att.masked_fill(~allowed.unsqueeze(1), -1e9)
        out = (att.softmax(dim=-1) @ v).transpose(1, 2).reshape(xq.shape)
        x = xq + self.proj(out)
        return x + self.mlp(self.ln2(x))


class VLAPolicy(nn.Module):
    """The policy and its critics; see the module docstring for the math.

    Args:
        cfg: the architecture.
        detector_weights: load ``cfg.detector``'s file into the detector (a new policy). False
            leaves the detector's weights to a state dict loaded next (a checkpoint), so the
            file is not needed again.
    """

    def __init__(self, cfg: ModelConfig, detector_weights: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        hw, mean, std = (cfg.image_height, cfg.image_width), cfg.image_mean, cfg.image_std
        self.backbone_dim = 0  # with a detector: where the detector's logits start in a feature
        if cfg.detector:
            self.encoder = DetectorEncoder(hw, mean, std)
            self.backbone_dim = self.encoder.backbone_dim
            self.img_proj = SpatialProjection(self.encoder.map_hw, d)
            if detector_weights:
                payload = load_detector_file(cfg.detector, hw, mean, std)
                load_detector_weights(self.encoder.detector, payload, cfg.detector)
        elif cfg.encoder == EFFICIENTNET_LITE0:
            self.encoder = FrozenBackbone(hw, mean, std)
            self.img_proj = SpatialProjection(self.encoder.map_hw, d)
        else:
            self.encoder = FrameEncoder(cfg.cnn_channels)
            self.img_proj = nn.Linear(self.encoder.out_dim, d)
        self.txt_proj = nn.Linear(cfg.instruction_dim, d)
        self.act_emb = nn.Embedding(cfg.num_actions + 1, d)
        self.hold_emb = nn.Parameter(torch.zeros(d))
        self.bump_proj = _zero_linear(len(BUMP_FIELDS), d) if cfg.bump_input else None
        self.proprio_proj = _zero_linear(len(PROPRIO_FIELDS), d) if cfg.proprio_input else None
        self.explored_proj = _explored_mlp(d) if cfg.explored_input else None
        self.blocks = nn.ModuleList(BandedBlock(cfg) for _ in range(cfg.num_layers))
        self.ln_out = nn.LayerNorm(d)
        self.actor = nn.Linear(d, cfg.num_actions)
        self.value_head = _mlp_head(d, 1)
        self.cost_value_head = _mlp_head(d, 1)
        self.cost_q_head = _mlp_head(d, cfg.num_actions * cfg.num_cost_categories)
        # Train-time only ("end would succeed now"); not in the exported step graph.
        self.goal_head = nn.Linear(d, 1) if cfg.goal_head else None
        # Train-time only: which target types are in view, from the frame token alone.
        self.seen_head = _mlp_head(d, SEEN_DIM) if cfg.seen_head else None
        if cfg.detector:  # the frozen detector in the encoder is the seen head
            self.seen_head = None
        elif cfg.seen_detector:  # its own view of the frozen feature map
            self.seen_head = nn.Sequential(
                SpatialProjection(self.encoder.map_hw, 256), nn.GELU(), nn.Linear(256, SEEN_DIM)
            )
        # "The instructed target is in view" per range, read off the seen head (exported).
        self.type_head = None
        if cfg.target_readout:
            self.type_head = nn.Linear(cfg.instruction_dim, len(OBJNAV_TARGETS))
            self.readout_proj = nn.Linear(len(SEEN_RANGES_M), d)
        end = torch.zeros(cfg.num_actions)
        end[END] = 1.0
        self.register_buffer("end_onehot", end, persistent=False)
        with torch.no_grad():
            self.actor.weight.mul_(0.01)

    def add_bump_input(self) -> None:
        """Give a trained policy the motion-feedback input (``model.bump_input``): a zero
        projection, so its outputs stay exactly as they were until training moves it."""
        if self.bump_proj is not None:
            return
        self.cfg = dataclasses.replace(self.cfg, bump_input=True)
        self.bump_proj = _zero_linear(len(BUMP_FIELDS), self.cfg.d_model)

    def seen_logits(self, feat: torch.Tensor) -> torch.Tensor:
        """[..., SEEN_DIM] logits of "this target type is in view" from frame features
        [..., C] (the seen head, :func:`sim_bridge.tasks.objnav.types_in_view`); with a
        detector, its logits, the last ``SEEN_DIM`` entries of the feature."""
        if self.backbone_dim:
            return feat[..., self.backbone_dim :]
        if self.cfg.seen_detector:
            return self.seen_head(feat)
        return self.seen_head(self.img_proj(feat))

    def target_seen(self, feat: torch.Tensor, instruction: torch.Tensor) -> torch.Tensor:
        """[..., R] probability that the instructed target is in view within each range of
        ``SEEN_RANGES_M``: the seen head's per-type probabilities weighted by the type head's
        softmax over the instruction (``model.target_readout``)."""
        return self.readout(self.seen_logits(feat), instruction)

    def readout(self, seen_logits: torch.Tensor, instruction: torch.Tensor) -> torch.Tensor:
        """:meth:`target_seen` from the seen head's logits (computed once per batch)."""
        seen = torch.sigmoid(seen_logits).unflatten(-1, (len(SEEN_RANGES_M), -1))
        w = self.type_logits(instruction).softmax(dim=-1)
        return (seen * w.unsqueeze(-2)).sum(dim=-1)

    def gate_end(
        self,
        logits: torch.Tensor,
        near: torch.Tensor | None,
        holding: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``logits`` [..., A] with ``end`` lowered by :data:`END_GATE_PENALTY` where the
        readout ``near`` [..., R] (:meth:`readout`) is below ``model.end_gate`` at 2 m, and,
        with ``model.end_needs_holding``, where the holding flag ``holding`` [...] is 0
        (unchanged when both gates are off)."""
        refused = None
        if self.cfg.end_gate > 0.0 and near is not None:
            refused = near[..., :1] < self.cfg.end_gate
        if self.cfg.end_needs_holding and holding is not None:
            empty = holding.unsqueeze(-1) < 0.5
            refused = empty if refused is None else torch.logical_or(refused, empty)
        if refused is None:
            return logits
        refused = refused.to(logits.dtype)
        return logits - refused * END_GATE_PENALTY * self.end_onehot

    def _near(self, feat: torch.Tensor, instruction: torch.Tensor) -> torch.Tensor | None:
        """:meth:`target_seen` where the model has the readout, else None."""
        return self.target_seen(feat, instruction) if self.type_head is not None else None

    def sequence_features(
        self,
        feat: torch.Tensor,
        instruction: torch.Tensor,
        prev_action: torch.Tensor,
        holding: torch.Tensor,
        episode_ids: torch.Tensor,
        valid: torch.Tensor | None = None,
        **optional: torch.Tensor | None,
    ) -> dict[str, torch.Tensor]:
        """:meth:`forward_sequence` from encoder features [B,T,C], the readout computed once for
        the tokens and the ``end`` gate: the sequence counterpart of :meth:`step_features`
        (PPO's update recomputes its rollout's log-probs through the gate they were sampled
        with). ``optional``: the optional inputs by name (``bump``, ``proprio``,
        ``explored``: :meth:`fuse`)."""
        near = self._near(feat, instruction)
        token = self.fuse(feat, instruction, prev_action, holding, near=near, **optional)
        out = self.forward_sequence(token, episode_ids, valid)
        out["logits"] = self.gate_end(out["logits"], near, holding)
        return out

    def step_features(
        self,
        feat: torch.Tensor,
        instruction: torch.Tensor,
        prev_action: torch.Tensor,
        holding: torch.Tensor,
        cache: torch.Tensor,
        cache_mask: torch.Tensor,
        kv: bool = False,
        **optional: torch.Tensor | None,
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """One step from encoder features [B,C]: token, history, heads, and the ``end`` gate on
        the logits; the readout is computed once for the token and the gate. The exported
        graph (:meth:`forward`) and the trainer's rollouts both step through here (the
        rollouts with a key/value cache, ``kv``: :meth:`step_from_token`). ``optional``: the
        optional inputs by name (:meth:`fuse`)."""
        near = self._near(feat, instruction)
        token = self.fuse(feat, instruction, prev_action, holding, near=near, **optional)
        out, new_cache, new_mask = self.step_from_token(token, cache, cache_mask, kv=kv)
        out["logits"] = self.gate_end(out["logits"], near, holding)
        return out, new_cache, new_mask

    def type_logits(self, instruction: torch.Tensor) -> torch.Tensor:
        """[..., len(OBJNAV_TARGETS)] logits of the instructed target type. The embedding has
        unit norm (entries ~1/sqrt(384)); it is scaled to unit variance per entry, so that the
        type head becomes confident within tens of updates instead of thousands."""
        return self.type_head(instruction * math.sqrt(self.cfg.instruction_dim))

    @property
    def reads_seen(self) -> bool:
        """Per-type "in view" logits exist (a trainable seen head or the frozen detector)."""
        return self.seen_head is not None or bool(self.backbone_dim)

    @property
    def frozen_encoder(self) -> bool:
        """The frame encoder is pretrained and frozen: its features can be cached."""
        return isinstance(self.encoder, (FrozenBackbone, DetectorEncoder))

    @property
    def feature_dim(self) -> int:
        """Size of the CNN frame feature (what a frozen-encoder trainer caches per step)."""
        return self.encoder.out_dim

    def fuse(
        self,
        feat: torch.Tensor,
        instruction: torch.Tensor,
        prev_action: torch.Tensor,
        holding: torch.Tensor,
        seen_logits: torch.Tensor | None = None,
        near: torch.Tensor | None = None,
        bump: torch.Tensor | None = None,
        proprio: torch.Tensor | None = None,
        explored: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Layer-0 token from CNN features [...,C], embedding [...,384], int ids, 0/1 flags;
        ``seen_logits``: :meth:`seen_logits` of ``feat``, ``near``: :meth:`readout` of them,
        when the caller has them already; ``bump`` [...,2] the motion feedback (required with
        ``model.bump_input``, ignored without); ``proprio`` [...,2] the arm's joint state in
        metres (required with ``model.proprio_input``, ignored without); ``explored``
        [..., *EXPLORED_SHAPE] the explored map as shares in [0, 1] (required with
        ``model.explored_input``, ignored without)."""
        img = feat[..., : self.backbone_dim] if self.backbone_dim else feat
        token = self.img_proj(img) + self.txt_proj(instruction)
        token = token + holding.unsqueeze(-1) * self.hold_emb
        for proj, value, what in (
            (
                self.bump_proj,
                bump,
                f"the motion feedback (model.bump_input): pass bump {BUMP_FIELDS} [..., 2]",
            ),
            (
                self.proprio_proj,
                proprio,
                f"the arm's joint state (model.proprio_input): pass proprio {PROPRIO_FIELDS} in m",
            ),
            (
                self.explored_proj,
                None if explored is None else explored.flatten(-len(EXPLORED_SHAPE)),
                f"the explored map (model.explored_input): pass explored {EXPLORED_SHAPE}",
            ),
        ):
            if proj is None:
                continue
            if value is None:
                raise ValueError(f"this policy takes {what}")
            token = token + proj(value)
        if self.cfg.prev_action_input:
            token = token + self.act_emb(prev_action)
        if self.type_head is not None:  # trained by its own loss, read by the policy
            if near is None:
                if seen_logits is None:
                    seen_logits = self.seen_logits(feat)
                near = self.readout(seen_logits, instruction)
            token = token + self.readout_proj(near.detach())
        return token

    def heads(self, x: torch.Tensor, detach_critics: bool = False) -> dict[str, torch.Tensor]:
        """Heads on the last layer's states [...,d].

        Args:
            x: last-layer states.
            detach_critics: the critics (value, cost value, Q_c) read the states through a
                stop-gradient, so their losses fit the heads without moving the shared trunk
                (imitation: the trunk serves the policy alone).
        """
        s = self.ln_out(x)
        c = s.detach() if detach_critics else s
        cq = F.softplus(self.cost_q_head(c))
        out = {
            "logits": self.actor(s),
            "value": self.value_head(c).squeeze(-1),
            "cost_value": self.cost_value_head(c).squeeze(-1),
            "cost_q": cq.reshape(
                *s.shape[:-1], self.cfg.num_actions, self.cfg.num_cost_categories
            ),
        }
        if self.goal_head is not None:
            out["goal_logit"] = self.goal_head(s).squeeze(-1)
        return out

    def forward_sequence(
        self,
        tokens: torch.Tensor,
        episode_ids: torch.Tensor,
        valid: torch.Tensor | None = None,
        return_states: bool = False,
        detach_critics: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Heads at every step of chunks of layer-0 tokens.

        Args:
            tokens: [B,T,d] layer-0 tokens (from :meth:`fuse`), oldest first.
            episode_ids: [B,T] int; steps attend only within the same id.
            valid: [B,T] bool, False for padding (never attended to).
            return_states: also return "states": [L,B,T,d], every layer's inputs (the last
                K-1 of them are the step cache that continues this sequence).
            detach_critics: see :meth:`heads`.
        """
        t = tokens.shape[1]
        idx = torch.arange(t, device=tokens.device)
        age = idx.unsqueeze(1) - idx.unsqueeze(0)  # [T,T] query minus key
        k = self.cfg.context_length
        band = (age >= 0) & (age < k)
        allowed = band.unsqueeze(0) & (episode_ids.unsqueeze(2) == episode_ids.unsqueeze(1))
        if valid is not None:
            allowed = allowed & valid.unsqueeze(1)
        allowed = allowed | torch.eye(t, dtype=torch.bool, device=tokens.device).unsqueeze(0)
        age_c = age.clamp(0, k - 1)
        x = tokens
        states = []
        for blk in self.blocks:
            states.append(x)
            bias = blk.age_bias[:, age_c]  # [H,T,T]
            x = blk.attend(x, x, bias, allowed)
        out = self.heads(x, detach_critics=detach_critics)
        if return_states:
            out["states"] = torch.stack(states, dim=0)
        return out

    def step_from_token(
        self, token: torch.Tensor, cache: torch.Tensor, cache_mask: torch.Tensor, kv: bool = False
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """One step from a layer-0 token [B,d] and the per-layer cache.

        Args:
            token: [B,d] newest layer-0 token.
            cache: [L,B,K-1,d] inputs of each layer at the K-1 previous steps, oldest first
                (the exported graph's cache); with ``kv``, [L,B,K-1,2d] their keys and values
                (:meth:`kv_cache`): the same step without recomputing them every step.
            cache_mask: [B,K-1] 1.0 where the cached step belongs to this episode, else 0.0.
            kv: ``cache`` holds keys and values, and so does the returned cache.

        Returns:
            (heads for the newest step, updated cache, updated cache_mask).
        """
        k = self.cfg.context_length
        x = token.unsqueeze(1)
        ones = torch.ones_like(cache_mask[:, :1])
        allowed = torch.cat([cache_mask, ones], dim=1) > 0.5  # [B,K]
        allowed = allowed.unsqueeze(1)
        ages = torch.arange(k - 1, -1, -1, device=token.device)
        new_cache = []
        for i, blk in enumerate(self.blocks):
            keys = torch.cat([cache[i], blk.keys_values(x) if kv else x], dim=1)
            new_cache.append(keys[:, 1:])
            bias = blk.age_bias[:, ages].unsqueeze(1)  # [H,1,K]
            x = (blk.attend_kv if kv else blk.attend)(x, keys, bias, allowed)
        out = self.heads(x.squeeze(1))
        new_mask = torch.cat([cache_mask[:, 1:], ones], dim=1)
        return out, torch.stack(new_cache, dim=0), new_mask

    def kv_cache(self, cache: torch.Tensor) -> torch.Tensor:
        """A layer-input cache [L,B,K-1,d] as the keys and values [L,B,K-1,2d] that
        :meth:`step_from_token` steps with when ``kv`` is set."""
        return torch.stack([blk.keys_values(cache[i]) for i, blk in enumerate(self.blocks)])

    def empty_cache(self, batch: int, kv: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Cache and mask of a fresh episode (nothing to attend to but the newest step); with
        ``kv`` the cache holds keys and values (:meth:`kv_cache`)."""
        c = self.cfg
        width = 2 * c.d_model if kv else c.d_model
        cache = torch.zeros(c.num_layers, batch, c.context_length - 1, width)
        return cache, torch.zeros(batch, c.context_length - 1)

    def forward(
        self,
        image: torch.Tensor,
        instruction: torch.Tensor,
        prev_action: torch.Tensor,
        holding: torch.Tensor,
        cache: torch.Tensor,
        cache_mask: torch.Tensor,
        extra_1: torch.Tensor | None = None,
        extra_2: torch.Tensor | None = None,
        extra_3: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """The exported step graph: normalised image [B,3,H,W] in, all heads and new cache out.

        Arguments and results are in the order of the bundle format's graph names
        (:data:`safevla_core.bundle_manifest.GRAPH_INPUTS` / ``GRAPH_OUTPUTS``); then the
        optional inputs this policy takes, in :func:`optional_inputs` order: ``bump`` [B,2]
        (:data:`~safevla_core.bundle_manifest.BUMP_INPUT`), ``proprio`` [B,2]
        (:data:`~safevla_core.bundle_manifest.PROPRIO_INPUT`), then ``explored``
        [B, *EXPLORED_SHAPE] (:data:`~safevla_core.bundle_manifest.EXPLORED_INPUT`).

        Returns:
            (logits [B,A], probs [B,A], value [B], cost_value [B], cost_q [B,A,C],
            cache_out [L,B,K-1,d], cache_mask_out [B,K-1]).
        """
        given = [x for x in (extra_1, extra_2, extra_3) if x is not None]
        extra = dict(zip(optional_inputs(self.cfg), given, strict=True))
        out, new_cache, new_mask = self.step_features(
            self.encoder(image), instruction, prev_action, holding, cache, cache_mask, **extra
        )
        probs = out["logits"].softmax(dim=-1)
        return (
            out["logits"],
            probs,
            out["value"],
            out["cost_value"],
            out["cost_q"],
            new_cache,
            new_mask,
        )


def optional_inputs(cfg: ModelConfig) -> tuple[str, ...]:
    """The optional step-graph inputs a policy of ``cfg`` takes, in graph order
    (:data:`safevla_core.bundle_manifest.OPTIONAL_INPUTS`: ``bump``, ``proprio``, then
    ``explored``); :meth:`VLAPolicy.forward` takes them after the six fixed inputs, named as
    its keyword arguments; each has its projection ``<name>_proj``."""
    flags = (cfg.bump_input, cfg.proprio_input, cfg.explored_input)
    return with_optional_inputs(flags)[len(GRAPH_INPUTS) :]


EXPLORED_HIDDEN = 128  # the explored map's MLP width


def _explored_mlp(d: int) -> nn.Module:
    """The explored map's projection: flattened shares -> hidden -> token, its last
    layer zero (a new input changes nothing until trained)."""
    n_in = math.prod(EXPLORED_SHAPE)
    return nn.Sequential(
        nn.Linear(n_in, EXPLORED_HIDDEN), nn.ReLU(), _zero_linear(EXPLORED_HIDDEN, d)
    )


def _zero_linear(n_in: int, d: int) -> nn.Linear:
    """A bias-free projection initialised to zero: a new input changes nothing until trained."""
    proj = nn.Linear(n_in, d, bias=False)
    nn.init.zeros_(proj.weight)
    return proj


def _mlp_head(d: int, out: int) -> nn.Module:
    return nn.Sequential(nn.Linear(d, d), nn.Tanh(), nn.Linear(d, out))
