"""The small model configuration the tests export random-weight bundles with (fast to build,
export and run; not a useful policy), and the small PPO run the trainer tests resume."""

from safevla_train.config import EnvSettings, PPOConfig, RiskConfig

SMALL = dict(
    image_height=32,
    image_width=32,
    cnn_channels=(8, 16),
    d_model=32,
    num_layers=2,
    num_heads=2,
    context_length=4,
)

# Two tiny envs: enough for rollouts, resets and risk replay within a few steps.
TINY_ENV = EnvSettings(num_envs=2, nav_size=(32, 32), max_steps=12)


def tiny_ppo_config(total_steps: int, **overrides) -> PPOConfig:
    """PPO-Lagrangian on :data:`TINY_ENV`: 8-step rollouts, sync every 2 (so a resume lands on
    a checkpoint), risk replay on; ``overrides`` set any other field."""
    fields = dict(
        algo="ppo-lag",
        env=TINY_ENV,
        total_steps=total_steps,
        rollout_steps=8,
        sync_every=2,
        value_warmup_steps=16,
        cost_limit=1.0,
        lagrange_init=0.5,
        lr=1e-3,
        risk=RiskConfig(replay_prob=0.5, min_cost=1.0),
    )
    return PPOConfig(**{**fields, **overrides})


def demo_fields(rng, n: int) -> dict:
    """Everything of an n-step ``Demo`` but its frames (and optional labels): random actions
    and instruction, zero returns and costs, a successful episode."""
    import numpy as np

    return dict(
        instr=rng.normal(size=384).astype(np.float32),
        actions=rng.integers(0, 20, n),
        prev_action=rng.integers(0, 20, n),
        holding=np.zeros(n, np.float32),
        ret_r=np.zeros(n, np.float32),
        ret_c=np.zeros(n, np.float32),
        y_q=np.zeros((n, 5), np.float32),
        success=True,
        cost=0.0,
    )


def export_and_step(model, folder, name: str, frame_hw: tuple[int, int]) -> None:
    """Export ``model`` as a bundle (torch/ONNX parity < 1e-3) and take one step with the
    deployed runtime on a random camera frame of ``frame_hw``: a valid distribution."""
    import numpy as np

    from safevla_core.policy_runtime import PolicyRuntime
    from safevla_train.export import export_bundle

    parity = export_bundle(model, folder, name)
    assert max(parity.values()) < 1e-3
    frame = np.random.default_rng(3).integers(0, 256, (*frame_hw, 3), dtype=np.uint8)
    step = PolicyRuntime(folder).step(frame, "find the apple", holding=False)
    assert np.isfinite(step.probs).all() and abs(step.probs.sum() - 1) < 1e-4


def assert_ppo_refuses(model, match: str) -> None:
    """PPO's rollout collector on :data:`TINY_ENV` refuses ``model`` with a message matching
    ``match`` (a policy with an input the rollouts do not feed)."""
    import pytest

    from safevla_train.risk import make_envs
    from safevla_train.rollout import Collector

    venv, samplers = make_envs(TINY_ENV, RiskConfig(enabled=False))
    try:
        with pytest.raises(ValueError, match=match):
            Collector(venv, samplers, model, rollout_steps=4, seed=0)
    finally:
        venv.close()
