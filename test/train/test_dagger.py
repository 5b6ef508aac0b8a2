"""Stage 1: the loss trains the policy (critics stopped at the trunk, `end` weighted and
relabelled, goal head), DAgger's data round trip, and a real resumable DAgger run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny_model import SMALL

from safevla_core.actions import END, NUM_ACTIONS
from safevla_train.bc import (
    Demo,
    _to_demo,
    bc_loss,
    frame_features,
    heldout_split,
    label_accuracy,
    sample_batch,
    train_bc,
)
from safevla_train.config import BCConfig, DAggerConfig, ModelConfig
from safevla_train.dagger import beta_of, load_demos, run_dagger, save_demos
from safevla_train.model import VLAPolicy
from sim_bridge.tasks.objnav import OBJNAV_TARGETS, SEEN_DIM


def _demo(rng: np.random.Generator, n: int = 12, hw: int = 32) -> Demo:
    return Demo(
        frames=rng.integers(0, 255, (n, hw, hw, 3), dtype=np.uint8),
        instr=rng.normal(size=384).astype(np.float32),
        actions=rng.integers(0, NUM_ACTIONS, n),
        prev_action=rng.integers(0, NUM_ACTIONS, n),
        holding=np.zeros(n, np.float32),
        ret_r=rng.normal(size=n).astype(np.float32),
        ret_c=rng.normal(size=n).astype(np.float32),
        y_q=np.abs(rng.normal(size=(n, 5))).astype(np.float32),
        success=True,
        cost=0.5,
        goal=rng.random(n) < 0.3,
        taken=rng.integers(0, NUM_ACTIONS, n),
        seen=rng.random((n, SEEN_DIM)) < 0.1,
    )


def _cfg(**kw) -> BCConfig:
    model = ModelConfig(**{**SMALL, "goal_head": True})
    return BCConfig(model=model, **{"batch_chunks": 2, "chunk_len": 8, **kw})


def _tokens(model: VLAPolicy, batch: dict) -> torch.Tensor:
    """Layer-0 tokens of a batch, as the stage-1 loss builds them."""
    feat = frame_features(model, batch["frames"])
    return model.fuse(feat, batch["instr"], batch["prev_action"], batch["holding"])


@pytest.mark.parametrize("detach", [True, False])
def test_critic_losses_reach_the_trunk_only_when_not_detached(detach):
    torch.manual_seed(0)
    cfg = _cfg(detach_critics=detach)
    model = VLAPolicy(cfg.model)
    batch = sample_batch([_demo(np.random.default_rng(0))], cfg, np.random.default_rng(1))
    b, t = batch["actions"].shape
    tok = _tokens(model, batch)
    out = model.forward_sequence(tok, torch.zeros(b, t, dtype=torch.long), detach_critics=detach)
    (out["value"].sum() + out["cost_value"].sum() + out["cost_q"].sum()).backward()
    trunk = sum(
        float(p.grad.abs().sum()) for p in model.encoder.parameters() if p.grad is not None
    )
    heads = float(model.value_head[0].weight.grad.abs().sum())
    assert heads > 0
    assert (trunk == 0.0) is detach
    # and the loss the trainer minimises uses the config's setting
    loss, logs = bc_loss(model, batch, cfg)
    assert torch.isfinite(loss) and logs["losses/value"] >= 0


def test_end_labels_weigh_end_weight_times_more_and_the_goal_head_is_trained():
    torch.manual_seed(0)
    d = _demo(np.random.default_rng(2), n=8)
    d.actions[::2] = END
    d.actions[1::2] = 0
    cfg = _cfg(end_weight=5.0, chunk_len=8, batch_chunks=1)
    model = VLAPolicy(cfg.model)
    batch = sample_batch([d], cfg, np.random.default_rng(3))
    _, logs = bc_loss(model, batch, cfg)
    assert "losses/goal" in logs and logs["losses/goal"] > 0
    # the weighted mean of the per-step cross-entropy, recomputed by hand
    b, t = batch["actions"].shape
    tok = _tokens(model, batch)
    with torch.no_grad():
        out = model.forward_sequence(tok, torch.zeros(b, t, dtype=torch.long), batch["valid"])
        ce = torch.nn.functional.cross_entropy(
            out["logits"].transpose(1, 2), batch["actions"], reduction="none"
        )
    v = batch["valid"]
    is_end = (batch["actions"] == END) & v
    other = ~(batch["actions"] == END) & v
    assert is_end.any() and other.any()
    want = (5 * ce[is_end].sum() + ce[other].sum()) / (5 * is_end.sum() + other.sum())
    assert abs(logs["losses/bc_ce"] - float(want)) < 1e-5


def test_end_is_relabelled_where_it_would_succeed_for_objnav_only():
    cfg = _cfg()
    buf = {
        "frames": [np.zeros((8, 8, 3), np.uint8)] * 3,
        "actions": [1, 2, 3],
        "taken": [1, 2, 3],
        "prev_action": [0, 1, 2],
        "holding": [0, 0, 0],
        "reward": [0.0, 0.0, 0.0],
        "cost": [np.zeros(5, np.float32)] * 3,
        "goal": [False, True, True],
        "instruction": "find the apple",
    }
    objnav = _to_demo({**buf, "task": "objnav"}, True, cfg)
    pickup = _to_demo({**buf, "task": "pickup"}, True, cfg)
    assert objnav.actions.tolist() == [1, END, END]
    assert pickup.actions.tolist() == [1, 2, 3]
    assert objnav.taken.tolist() == [1, 2, 3]


def test_round_data_round_trips_without_pickles(tmp_path):
    rng = np.random.default_rng(4)
    demos = [_demo(rng, n) for n in (3, 7, 1)]
    demos[0].target_type, demos[1].target_type = 5, 0  # the third: not ObjectNav (-1)
    save_demos(tmp_path / "r.npz", demos)
    back = load_demos(tmp_path / "r.npz")
    assert len(back) == 3
    for a, b in zip(demos, back):
        for key in ("frames", "actions", "taken", "goal", "prev_action", "y_q", "instr", "seen"):
            np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
        assert (a.success, a.cost) == (b.success, b.cost)
    assert [d.target_type for d in back] == [5, 0, -1]


@pytest.mark.parametrize("seen_head", [True, False])
def test_seen_head_trains_the_frame_projection_on_every_types_label(seen_head):
    """With ``model.seen_head`` the loss has a term per frame for all target types, whose
    gradient reaches the frame projection and which falls when trained; without it, no term."""
    rng = np.random.default_rng(5)
    demos = [_demo(rng, n=10) for _ in range(4)]
    for d in demos:  # a learnable label: type 0 is "in view" in the bright frames
        bright = rng.random(10) < 0.5
        d.frames[:] = np.where(bright[:, None, None, None], 230, 20).astype(np.uint8)
        d.seen[:] = False
        d.seen[:, 0] = bright
    cfg = BCConfig(
        model=ModelConfig(**{**SMALL, "seen_head": seen_head}),
        batch_chunks=4,
        chunk_len=10,
        updates=30,
        lr=3e-3,
        seen_coef=1.0,
    )
    torch.manual_seed(0)
    model = VLAPolicy(cfg.model)
    batch = sample_batch(demos, cfg, np.random.default_rng(1))
    _, logs = bc_loss(model, batch, cfg)
    if not seen_head:
        assert "losses/seen" not in logs and model.seen_head is None
        return
    first = logs["losses/seen"]
    model.zero_grad()
    model.seen_logits(frame_features(model, batch["frames"])).sum().backward()
    assert float(model.img_proj.weight.grad.abs().sum()) > 0
    train_bc(model, demos, cfg, progress=False)
    assert bc_loss(model, batch, cfg)[1]["losses/seen"] < 0.5 * first


def test_feature_dropout_acts_in_training_only_and_is_checked():
    """``bc.feature_dropout`` perturbs the frame features while the model trains (the loss
    changes from draw to draw) and never in eval mode; out-of-range values are refused."""
    cfg = _cfg(feature_dropout=0.5)
    model = VLAPolicy(cfg.model)
    batch = sample_batch([_demo(np.random.default_rng(5))], cfg, np.random.default_rng(6))
    model.train()
    train_losses = {float(bc_loss(model, batch, cfg)[0]) for _ in range(3)}
    assert len(train_losses) > 1
    model.eval()
    eval_losses = {float(bc_loss(model, batch, cfg)[0]) for _ in range(3)}
    plain = float(bc_loss(model, batch, _cfg())[0])
    assert eval_losses == {plain}
    with pytest.raises(ValueError, match="feature_dropout"):
        _cfg(feature_dropout=1.0)


def test_beta_schedule():
    cfg = DAggerConfig(beta0=1.0, beta_decay=0.5)
    assert [beta_of(cfg, r) for r in range(4)] == [1.0, 0.5, 0.25, 0.125]
    with pytest.raises(ValueError, match="beta_decay"):
        DAggerConfig(beta_decay=1.5)


def test_heldout_split_is_by_position_and_stable_as_data_grows():
    rng = np.random.default_rng(0)
    demos = [_demo(rng, n=4) for _ in range(25)]
    cfg = _cfg(heldout_every=5, heldout_stride=10)
    train, held = heldout_split(demos, cfg)
    assert [id(d) for d in held] == [id(demos[i]) for i in (0, 10, 20)]
    assert len(train) + len(held) == 25 and not {id(d) for d in train} & {id(d) for d in held}
    _, held_more = heldout_split(demos + [_demo(rng, n=4) for _ in range(10)], cfg)
    assert [id(d) for d in held_more[:3]] == [id(d) for d in held]  # aggregated: same side
    assert heldout_split(demos, _cfg())[1] == []  # off by default


def test_early_stopping_keeps_the_weights_of_the_best_heldout_accuracy():
    """The returned model scores the reported best held-out accuracy, which is at least that of
    the last update (the weights at the end may be worse: they are not kept then)."""
    rng = np.random.default_rng(3)
    demos = [_demo(rng, n=10) for _ in range(12)]
    cfg = _cfg(updates=8, heldout_every=2, heldout_stride=4, lr=3e-3)
    torch.manual_seed(0)
    model = VLAPolicy(cfg.model)
    logs = train_bc(model, demos, cfg, progress=False)
    _, held = heldout_split(demos, cfg)
    assert logs["charts/heldout_accuracy"] == label_accuracy(model, held)
    assert logs["charts/heldout_best_update"] in (2, 4, 6, 8)
    torch.manual_seed(0)
    last = VLAPolicy(cfg.model)  # same split and batches, measured only after the last update
    last_cfg = _cfg(updates=8, heldout_every=8, heldout_stride=4, lr=3e-3)
    last_logs = train_bc(last, demos, last_cfg, progress=False)
    assert last_logs["charts/heldout_best_update"] == 8
    assert logs["charts/heldout_accuracy"] >= last_logs["charts/heldout_accuracy"]
    with pytest.raises(ValueError, match="heldout_stride"):
        _cfg(heldout_stride=1)


@pytest.mark.slow
@pytest.mark.parametrize("fresh", [False, True])
def test_dagger_resume_equals_an_uninterrupted_run(tmp_path, fresh):
    """2 rounds then a resume to 3 give the same weights, data and history as 3 at once (also
    with a fresh policy per round and early stopping on held-out episodes)."""

    def cfg(rounds: int) -> DAggerConfig:
        bc = _cfg(demo_steps=24, demo_max_steps=20, updates=3, expert_mode="explorer")
        bc.env.num_envs = 2
        bc.env.nav_size = (32, 32)
        if fresh:
            bc.heldout_every, bc.heldout_stride = 1, 2
        return DAggerConfig(bc=bc, rounds=rounds, eval_episodes=0, fresh_model=fresh)

    from safevla_train.checkpoint import load_checkpoint

    torch.manual_seed(0)
    run_dagger(cfg(3), tmp_path / "straight", progress=False)
    torch.manual_seed(0)
    run_dagger(cfg(2), tmp_path / "resumed", progress=False)
    state = load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")
    run_dagger(cfg(3), tmp_path / "resumed", state, progress=False)
    a = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")
    b = load_checkpoint(tmp_path / "resumed" / "checkpoint.pt")
    assert len(a["history"]) == len(b["history"]) == 3
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=0, atol=0)
    for r in range(3):
        x = load_demos(tmp_path / "straight" / "data" / f"round_{r:03d}.npz")
        y = load_demos(tmp_path / "resumed" / "data" / f"round_{r:03d}.npz")
        assert [d.actions.tolist() for d in x] == [d.actions.tolist() for d in y]
        # every ObjectNav episode knows its instructed type, and the goal frames show it
        for d in x:
            assert 0 <= d.target_type < len(OBJNAV_TARGETS)
            assert d.seen[d.goal, d.target_type].all()
    assert a["history"][1]["dagger/beta"] == 0.5 and a["history"][2]["dagger/learner_steps"] > 0
    assert 0.0 <= a["history"][2]["dagger/wrong_end_rate"] <= 1.0


def test_learner_statistics_count_only_the_steps_the_learner_drove():
    from safevla_train.dagger import learner_counts, learner_rates

    proposed = np.array([END, END, 2, 3, END])
    target = np.array([END, 2, 2, END, END])
    drives = np.array([True, True, True, True, False])  # the last step was the teacher's
    accepted = np.array([False, True, False, False, True])  # among the teacher's options
    rates = learner_rates(learner_counts(proposed, target, drives, accepted))
    assert rates["dagger/learner_steps"] == 4
    assert rates["dagger/agreement"] == 0.5  # steps 0 and 2
    assert rates["dagger/option_agreement"] == 0.75  # and step 1 (4: the teacher drove)
    assert rates["dagger/end_recall"] == 0.5  # `end` labels at steps 0 and 3, ended at 0
    assert rates["dagger/wrong_end_rate"] == 0.5  # other labels at 1 and 2, `end` at 1
    none = learner_rates(learner_counts(proposed, target, np.zeros(5, bool), accepted))
    assert none["dagger/learner_steps"] == 0 and np.isnan(none["dagger/end_recall"])


def test_context_burn_in_trains_only_steps_with_their_history():
    """With ``context_burn_in``, a chunk that starts mid-episode trains only from its
    burn-in on (the earlier steps are history), a chunk that starts the episode trains on
    every step, and changing a burn-in step's label does not change the loss."""
    d = _demo(np.random.default_rng(7), n=40)
    cfg = _cfg(chunk_len=12, batch_chunks=64, context_burn_in=5)
    batch = sample_batch([d], cfg, np.random.default_rng(8))
    valid, loss = batch["valid"].numpy(), batch["loss"].numpy()
    frames = batch["frames"].numpy()
    starts = np.array([np.array_equal(f[0], d.frames[0]) for f in frames])  # begins at step 0
    first_full = [i for i in range(64) if not starts[i]]
    assert first_full and starts.any()
    for i in range(64):
        if starts[i]:  # a chunk that begins the episode: all its steps train
            assert (loss[i] == valid[i]).all()
        else:
            assert not loss[i, :5].any() and loss[i, 5:].all()
    model = VLAPolicy(cfg.model)
    model.eval()
    one = {k: v[first_full[:1]] for k, v in batch.items()}
    base, _ = bc_loss(model, one, cfg)
    changed = {**one, "actions": one["actions"].clone()}
    changed["actions"][0, :5] = (changed["actions"][0, :5] + 1) % NUM_ACTIONS
    assert torch.equal(bc_loss(model, changed, cfg)[0], base)
    changed["actions"][0, 5] = (changed["actions"][0, 5] + 1) % NUM_ACTIONS
    assert not torch.equal(bc_loss(model, changed, cfg)[0], base)
    with pytest.raises(ValueError, match="context_burn_in"):
        _cfg(chunk_len=12, context_burn_in=12)


def test_perturb_replaces_only_where_asked_and_never_with_end():
    from safevla_train.dagger import perturb

    rng = np.random.default_rng(0)
    actions = np.full(20000, 3)
    where = np.arange(20000) < 10000
    out = perturb(actions, where, 0.2, rng)
    assert (out[~where] == 3).all()
    changed = out[where] != 3
    # a draw lands on the same action 1 time in 19, so ~0.2 * 18/19 of the steps change
    assert abs(changed.mean() - 0.2 * 18 / 19) < 0.015
    assert END not in out and set(out[where][changed]) == set(range(NUM_ACTIONS)) - {3, END}
    assert (perturb(actions, where, 0.0, rng) == actions).all()


@pytest.mark.slow
def test_teacher_perturbations_are_executed_but_the_labels_stay_the_teachers():
    """With ``noise``, a round the teacher drives executes random non-`end` actions on about
    that share of steps; each such state keeps the teacher's label, and the episodes show the
    teacher acting again after the perturbation. Without it, the executed action is the label."""
    from safevla_train.dagger import collect_round

    def round_(noise: float):
        bc = _cfg(demo_steps=120, demo_max_steps=60, expert_mode="careful")
        bc.env.tasks, bc.env.num_envs, bc.env.nav_size = ("pickup",), 2, (32, 32)
        cfg = DAggerConfig(bc=bc, rounds=1, eval_episodes=0, noise=noise, subprocess=False)
        torch.manual_seed(0)
        demos, stats = collect_round(VLAPolicy(bc.model), cfg, 0, progress=False)
        assert stats["dagger/noise"] == noise
        labels = np.concatenate([d.actions for d in demos])
        taken = np.concatenate([d.taken for d in demos])
        return labels, taken

    labels, taken = round_(0.0)
    keep = labels != END  # `end` labels are relabelled where the grasp holds
    assert (taken[keep] == labels[keep]).all()
    labels, taken = round_(0.3)
    off = taken != labels
    assert END not in taken[off]
    assert 0.15 < off[labels != END].mean() < 0.45
    # after a perturbation the teacher drives again: the next executed actions are its labels
    after = np.flatnonzero(off[:-1]) + 1
    assert (taken[after] == labels[after]).mean() > 0.5


@pytest.mark.slow
def test_accepted_options_become_the_labels_of_the_learners_steps_only():
    """``accept_options``: on the learner's steps, a proposal among the reactive explorer's
    options is kept as the label; elsewhere the label is the teacher's. A learner that always
    turns right (the reactive teacher turns right only toward the heading in view, so its
    options often hold the shorter right turn) drives the same states either way (beta 0)."""
    from safevla_core.actions import ACTION_INDEX
    from safevla_train.dagger import collect_round

    def round_(accept: bool):
        bc = _cfg(demo_steps=160, demo_max_steps=80, expert_mode="explorer-reactive")
        bc.env.num_envs, bc.env.nav_size = 2, (32, 32)
        cfg = DAggerConfig(
            bc=bc, rounds=1, eval_episodes=0, beta0=0.0, subprocess=False, accept_options=accept
        )
        torch.manual_seed(0)
        model = VLAPolicy(bc.model)
        with torch.no_grad():  # a learner that always proposes `rotate_right`
            model.actor.bias.zero_()
            model.actor.bias[ACTION_INDEX["rotate_right"]] = 50.0
        demos, stats = collect_round(model, cfg, 0, progress=False)
        labels = np.concatenate([d.actions for d in demos])
        taken = np.concatenate([d.taken for d in demos])
        return labels, taken, stats

    teacher, taken, off = round_(False)
    accepted, taken_on, on = round_(True)
    assert (taken == ACTION_INDEX["rotate_right"]).all() and (taken_on == taken).all()
    changed = accepted != teacher
    assert changed.sum() >= 5, "no proposal was among the teacher's options"
    assert (accepted[changed] == taken[changed]).all()  # the learner's proposal, nothing else
    for stats in (off, on):  # strict agreement counts the teacher's own action either way
        assert stats["dagger/agreement"] == off["dagger/agreement"]
        assert stats["dagger/option_agreement"] > stats["dagger/agreement"]
    assert on["dagger/option_agreement"] == off["dagger/option_agreement"]
    assert (teacher == taken).mean() < (accepted == taken).mean()
