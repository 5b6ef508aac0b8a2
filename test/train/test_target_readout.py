"""The target readout (``model.target_readout``): the seen head read at the instructed type,
learned from the instruction, kept out of the policy's gradient, and inside the exported graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_model import SMALL, demo_fields, export_and_step

from safevla_core.actions import NUM_ACTIONS
from safevla_train.bc import Demo, bc_loss, frame_features, sample_batch, train_bc
from safevla_train.config import BCConfig, ModelConfig
from safevla_train.model import VLAPolicy
from sim_bridge.tasks.objnav import OBJNAV_TARGETS

MODEL = ModelConfig(**{**SMALL, "seen_head": True, "target_readout": True})
N_TYPES = len(OBJNAV_TARGETS)


def _episode(rng, instr: np.ndarray, target: int, n: int = 12) -> Demo:
    """Bright frames show type 0 within 2 m, dark ones type 1; the goal label is whether the
    instructed ``target`` is the one in view."""
    bright = rng.random(n) < 0.5
    seen = np.zeros((n, 2 * N_TYPES), bool)
    seen[:, 0], seen[:, 1] = bright, ~bright
    return Demo(
        frames=np.where(bright[:, None, None, None], 230, 20).astype(np.uint8)
        + np.zeros((n, 32, 32, 3), np.uint8),
        **{**demo_fields(rng, n), "instr": instr},
        goal=seen[:, target].copy(),
        seen=seen,
    )


def test_needs_the_seen_head():
    with pytest.raises(ValueError, match="needs model"):
        ModelConfig(**{**SMALL, "target_readout": True})
    with pytest.raises(ValueError, match="readout_coef"):
        BCConfig(readout_coef=-1.0)


def test_the_readout_learns_which_type_the_instruction_names():
    """Two instructions name types 0 and 1; the same frames are a goal for one and not the
    other, so only a readout that follows the instruction can separate them."""
    rng = np.random.default_rng(0)
    words = [rng.normal(size=384).astype(np.float32) for _ in range(2)]
    demos = [_episode(rng, words[i % 2], i % 2) for i in range(8)]
    cfg = BCConfig(model=MODEL, batch_chunks=8, chunk_len=12, updates=150, lr=3e-3)
    torch.manual_seed(0)
    model = VLAPolicy(cfg.model)
    train_bc(model, demos, cfg, progress=False)
    model.eval()
    bright = torch.full((1, 32, 32, 3), 230, dtype=torch.uint8)
    dark = torch.full((1, 32, 32, 3), 20, dtype=torch.uint8)
    with torch.no_grad():
        p = {
            (w, name): float(
                model.target_seen(frame_features(model, f[None]), torch.from_numpy(words[w]))[
                    0, 0, 0
                ]
            )
            for w in (0, 1)
            for name, f in (("bright", bright), ("dark", dark))
        }
    assert min(p[0, "bright"], p[1, "dark"]) > 0.7, p
    assert max(p[0, "dark"], p[1, "bright"]) < 0.3, p


def test_the_policy_loss_does_not_train_the_readout_but_its_own_loss_does():
    rng = np.random.default_rng(1)
    demos = [_episode(rng, rng.normal(size=384).astype(np.float32), 0) for _ in range(2)]
    torch.manual_seed(0)
    model = VLAPolicy(MODEL)
    batch = sample_batch(demos, BCConfig(model=MODEL, batch_chunks=2, chunk_len=8), rng)
    cfg = BCConfig(model=MODEL, readout_coef=0.0, seen_coef=0.0, goal_coef=0.0)
    bc_loss(model, batch, cfg)[0].backward()
    assert model.type_head.weight.grad is None or not model.type_head.weight.grad.any()
    assert model.readout_proj.weight.grad.abs().sum() > 0  # the policy learns to read it
    model.zero_grad()
    _, logs = bc_loss(model, batch, BCConfig(model=MODEL))
    assert "losses/readout" in logs
    bc_loss(model, batch, BCConfig(model=MODEL))[0].backward()
    assert model.type_head.weight.grad.abs().sum() > 0


def test_the_type_bank_teaches_every_type_the_episodes_never_named():
    """Episodes that all name type 0: only the bank of every training instruction teaches the
    type head the other 23 types (``bc.type_bank``)."""
    from safevla_train.bc import instruction_bank
    from safevla_train.text_encoder import embed_tensor

    texts, types = instruction_bank()
    assert len(texts) == len(types) and set(types.tolist()) == set(range(N_TYPES))
    rng = np.random.default_rng(4)
    instr = embed_tensor(["find a apple"])[0].numpy()
    demos = [_episode(rng, instr, 0) for _ in range(4)]
    accuracy = {}
    for bank in (False, True):
        cfg = BCConfig(
            model=MODEL, batch_chunks=4, chunk_len=12, updates=150, lr=3e-3, type_bank=bank
        )
        torch.manual_seed(0)
        model = VLAPolicy(cfg.model)
        train_bc(model, demos, cfg, progress=False)
        with torch.no_grad():
            pred = model.type_logits(embed_tensor(["locate the garbage can", "find a book"]))
        accuracy[bank] = pred.argmax(-1).tolist()
    want = [OBJNAV_TARGETS.index("GarbageCan"), OBJNAV_TARGETS.index("Book")]
    assert accuracy[True] == want
    assert accuracy[False] != want  # the episodes alone never name them


def _gated(gate: float, near_logit: float) -> VLAPolicy:
    """The readout model with ``end_gate`` and a seen head whose output is the same logit for
    every type and range (so the readout is sigmoid(near_logit) whatever the instruction)."""
    import dataclasses

    torch.manual_seed(0)
    model = VLAPolicy(dataclasses.replace(MODEL, end_gate=gate)).eval()
    with torch.no_grad():
        last = model.seen_head[-1]
        last.weight.zero_()
        last.bias.fill_(near_logit)
    return model


def test_the_end_gate_refuses_end_below_the_readout_in_graph_and_rollouts():
    from safevla_core.actions import END
    from safevla_train.rollout import Stepper

    def step(model):
        x = dict(
            image=torch.zeros(2, 3, 32, 32),
            instruction=torch.zeros(2, 384),
            prev_action=torch.zeros(2, dtype=torch.long),
            holding=torch.zeros(2),
        )
        with torch.no_grad():
            logits, probs, *_ = model(
                **x, cache=model.empty_cache(2)[0], cache_mask=model.empty_cache(2)[1]
            )
        return logits, probs

    off, _ = step(_gated(0.0, -4.0))
    low_logits, low = step(_gated(0.3, -4.0))  # readout sigmoid(-4) = 0.018 < 0.3: refused
    _, high = step(_gated(0.3, 4.0))  # readout 0.982 >= 0.3: allowed
    assert float(low[:, END].max()) < 1e-6 and float(high[:, END].min()) > 1e-3
    other = [a for a in range(NUM_ACTIONS) if a != END]
    torch.testing.assert_close(low_logits[:, other], off[:, other])  # only `end` moves
    # the trainer's rollouts (DAgger's learner, the evaluation agent) gate the same way
    model = _gated(0.3, -4.0)
    obs = {
        "nav_rgb": np.zeros((2, 32, 32, 3), np.uint8),
        "instruction": ["find a mug", "find a bed"],
        "prev_action": np.zeros(2, np.int64),
        "holding": np.zeros(2, np.float32),
    }
    assert (Stepper(model, 2).logits(obs)[:, END] < -1e3).all()
    with pytest.raises(ValueError, match=r"needs model\.target_readout"):
        ModelConfig(**SMALL, end_gate=0.3)
    with pytest.raises(ValueError, match=r"end_gate=1.0 must be in \[0, 1\)"):
        ModelConfig(**{**SMALL, "seen_head": True, "target_readout": True}, end_gate=1.0)


def test_exports_into_the_bundle_graph_with_parity(tmp_path):
    torch.manual_seed(0)
    model = VLAPolicy(MODEL).eval()
    with torch.no_grad():  # make the readout matter to the output
        model.readout_proj.weight.mul_(50.0)
    export_and_step(model, tmp_path / "b", "readout-test", (32, 32))


def test_the_type_loss_names_the_instructed_type_where_the_episode_knows_it():
    """Episodes that record their instructed type train the type head by cross-entropy; ones
    that do not (-1: older rounds, other tasks) leave it to the readout's own BCE."""
    rng = np.random.default_rng(2)
    words = [rng.normal(size=384).astype(np.float32) for _ in range(3)]
    types = (3, 7, 11)
    demos = [_episode(rng, words[i % 3], 0) for i in range(6)]
    for i, d in enumerate(demos):
        d.target_type = types[i % 3]
    cfg = BCConfig(model=MODEL, batch_chunks=6, chunk_len=12, updates=60, lr=3e-3)
    torch.manual_seed(0)
    model = VLAPolicy(cfg.model)
    unknown = sample_batch(demos, cfg, np.random.default_rng(0))
    unknown["target_type"][:] = -1
    known = sample_batch(demos, cfg, np.random.default_rng(0))
    assert bc_loss(model, known, cfg)[1]["losses/readout"] > (
        bc_loss(model, unknown, cfg)[1]["losses/readout"] + 1.0  # + CE over 24 types
    )
    train_bc(model, demos, cfg, progress=False)
    with torch.no_grad():
        named = [int(model.type_logits(torch.from_numpy(w)).argmax()) for w in words]
    assert named == list(types)


def test_the_seen_detector_reads_the_feature_map_not_the_policy_token():
    """``model.seen_detector``: the policy's frame projection gets no gradient from the seen
    loss, and the detector does."""
    with pytest.raises(ValueError, match="seen_detector"):
        ModelConfig(**{**SMALL, "seen_head": True, "seen_detector": True})  # cnn encoder
    cfg = ModelConfig(
        encoder="efficientnet_lite0",
        d_model=32,
        num_heads=2,
        num_layers=1,
        context_length=4,
        seen_head=True,
        seen_detector=True,
        target_readout=True,
    )
    torch.manual_seed(0)
    model = VLAPolicy(cfg)
    feat = torch.randn(3, model.feature_dim)
    model.seen_logits(feat).sum().backward()
    assert model.img_proj.reduce.weight.grad is None
    assert model.seen_head[0].reduce.weight.grad.abs().sum() > 0


@pytest.mark.slow
def test_ppo_samples_and_updates_with_the_end_gate(tmp_path):
    """``ppo.end_gate``: the start model takes the gate; the rollouts never sample a refused
    `end`, and the update recomputes the rollout's log-probs exactly only through the gate."""
    import dataclasses

    from tiny_model import TINY_ENV, tiny_ppo_config

    from safevla_core.actions import END
    from safevla_train.checkpoint import CheckpointError, save_checkpoint
    from safevla_train.config import RiskConfig, to_dict
    from safevla_train.ppo import make_algo
    from safevla_train.risk import make_envs
    from safevla_train.rollout import Collector
    from safevla_train.train_ppo import _initial_model

    def checkpoint(model, name):
        payload = {"kind": "bc", "config": {}, "model_config": to_dict(model.cfg)}
        return str(save_checkpoint(tmp_path / name, {**payload, "model": model.state_dict()}))

    start = _gated(0.0, -4.0)  # readout 0.018 everywhere
    with torch.no_grad():  # `end` the likeliest action, so an ungated policy samples it
        start.actor.bias[END] = 8.0
    model, info = _initial_model(checkpoint(start, "readout.pt"), None, 0, end_gate=0.3)
    assert model.cfg.end_gate == 0.3 and info["kind"] == "bc"
    keep, _ = _initial_model(checkpoint(start, "readout.pt"), None, 0)
    assert keep.cfg.end_gate == 0.0  # -1: as the checkpoint has it
    plain = VLAPolicy(ModelConfig(**SMALL))
    with pytest.raises(CheckpointError, match=r"ppo\.end_gate=0\.3 .*target_readout"):
        _initial_model(checkpoint(plain, "plain.pt"), None, 0, end_gate=0.3)

    venv, samplers = make_envs(TINY_ENV, RiskConfig(enabled=False))
    try:
        for gate, ends in ((0.0, True), (0.3, False)):
            m = dataclasses.replace(model.cfg, end_gate=gate)
            policy = VLAPolicy(m).eval()
            policy.load_state_dict(model.state_dict())
            col = Collector(venv, samplers, policy, rollout_steps=10, seed=0)
            col.sync_reset(1)
            ro = col.collect()
            assert bool((ro.actions == END).any()) is ends
        tok = policy.fuse(ro.feat, ro.instr, ro.prev_action, ro.holding)
        with torch.no_grad():
            logits = policy.forward_sequence(tok, ro.ep_id, ro.valid)["logits"]
            gated = policy.sequence_features(
                ro.feat, ro.instr, ro.prev_action, ro.holding, ro.ep_id, ro.valid
            )["logits"]

        def logp(x):
            return x[:, -10:].log_softmax(-1).gather(-1, ro.actions[..., None]).squeeze(-1)

        torch.testing.assert_close(logp(gated), ro.logp, atol=1e-5, rtol=0)
        assert float((logp(logits) - ro.logp).abs().max()) > 1.0
        # the PPO update itself: its first (critic-only) pass sees ratio 1 everywhere
        algo = make_algo(policy, tiny_ppo_config(16, epochs=1))
        stats = algo.update(ro, warmup=True, rng=np.random.default_rng(0))
        assert stats["losses/approx_kl"] < 1e-6, stats
    finally:
        venv.close()
