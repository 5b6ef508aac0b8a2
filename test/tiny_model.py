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
