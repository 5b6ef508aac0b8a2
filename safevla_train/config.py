"""Typed, validated configs of the model and the trainers.

Every config is a dataclass with a documented field per hyper-parameter and checks in
``__post_init__`` whose error names the bad value. YAML files only supply overrides
(:func:`apply_overrides`); the resolved config (:func:`to_dict`) is saved with every checkpoint
and in the exported bundle. Overrides are merged by OmegaConf structured configs, which check
every key and type against the dataclass and name the offending key. That machinery lives in
:mod:`safevla_train.config_io`; its functions are re-exported here.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

from safevla_core.image_preprocessing import camera_names
from safevla_train.config_io import (  # noqa: F401 (re-exported: import them from here)
    apply_overrides,
    from_dict,
    load_yaml_overrides,
    parse_dotted,
    to_dict,
)
from safevla_train.registry import DEFAULT_MULTIPLIER, MULTIPLIERS, PPO_ALGORITHMS
from sim_bridge.expert_modes import split_mode
from sim_bridge.robot import TRAINING_NAV_SIZE_HW
from sim_bridge.tasks import TASKS
from sim_bridge.vec_env import VEC_BACKENDS

# What runs the frozen frame encoder in rollouts (ppo.encoder_runtime): torch, or the same graph
# exported to ONNX Runtime (faster on the CPU; equal to float32 rounding, not bit for bit).
ENCODER_RUNTIMES = ("torch", "onnxruntime")
# How ppo.best_by ranks the periodic greedy evaluations (safevla_train.train_ppo.best_key).
BEST_BY = ("success", "success_within_limit")
MULTIPLIER_EPISODES = ("all", "fresh")


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ValueError(msg)


@dataclass
class ModelConfig:
    """Architecture of the VLA policy (see :mod:`safevla_train.model`).

    Attributes:
        image_height: height of the (resized) camera frame fed to the CNN, pixels.
        image_width: width of that frame, pixels (with several cameras, their frames side by
            side: each is ``image_width / n`` wide).
        camera: what the policy sees (the bundle's ``image.camera``): "nav_rgb" (the
            navigation camera), "manip_rgb" (the wrist camera), or "nav_rgb+manip_rgb" (both,
            side by side; PickUp and Fetch grasp with the arm to the robot's right, out of the
            navigation camera's view). A camera other than the navigation one needs
            ``env.render_manip``.
        cnn_channels: output channels of the stride-2 3x3 convolutions (one per layer).
        d_model: width of the frame tokens and of the history transformer.
        num_layers: history transformer layers.
        num_heads: attention heads (must divide ``d_model``).
        context_length: K, how many steps (newest included) each layer attends to. The runtime
            caches the K-1 previous inputs of every layer, so one step costs O(1).
        mlp_ratio: hidden width of the transformer MLP as a multiple of ``d_model``.
        instruction_dim: size of the frozen instruction embedding (all-MiniLM-L6-v2: 384).
        num_actions: size of the discrete action space.
        num_cost_categories: cost categories of the per-action cost critic Q_c(s, a).
        image_mean: per-channel mean subtracted after scaling pixels to [0, 1] (RGB order).
        image_std: per-channel std divided after subtracting the mean (RGB order).
        encoder: frame encoder: "cnn" (trained from scratch, ``cnn_channels``) or
            "efficientnet_lite0" (ImageNet-pretrained, frozen, features cached in training;
            the image size must be a multiple of 16).
        goal_head: add a train-time head predicting "``end`` would succeed now" (for ObjectNav:
            the target is in view within 2 m) from the trunk; it shapes the trunk during
            imitation and is not part of the exported graph.
        seen_head: add a train-time head predicting, from each frame's token, which ObjectNav
            target types are in view within 2 m and 3.5 m (every type, not only the instructed
            one: ``sim_bridge.tasks.objnav.types_in_view``); not part of the exported graph.
        seen_detector: the seen head reads the frozen backbone's feature map itself (its own
            1x1 convolution, a 256-wide hidden layer) instead of the policy's frame token, so
            the policy loss does not shape what it detects (needs ``seen_head`` and the
            ``efficientnet_lite0`` encoder).
        target_readout: read the seen head at the *instructed* type and feed it to every
            token (needs ``seen_head``): a type head maps the instruction embedding to weights
            over the ObjectNav target types, and ``p_r = sum_k w_k(instr) sigmoid(seen_{r,k})``
            per range r ("the instructed target is in view within r") enters the token through
            a linear layer. Both are trained by their own losses (``bc.readout_coef``), not by
            the policy's; unlike the seen head alone, this is part of the exported graph.
        detector: path of a target detector file (``detector.pt`` of ``safevla train
            detector``, :mod:`safevla_train.detector_model`), "" = none. Its frozen CNN joins
            the frozen encoder and replaces the seen head: the target readout reads its logits
            (needs ``encoder=efficientnet_lite0``, ``seen_head`` and ``target_readout``; not
            ``seen_detector``). The file is read when a policy is created; checkpoints and
            bundles carry the weights, so resume and export do not need it again.
        end_gate: 0 = off; else ``end`` is refused (its logit lowered by 1e4) while the target
            readout's 2 m output ("the instructed target is in view within 2 m") is below
            this value: in the exported graph and in the trainer's rollouts, never in the
            loss (needs ``target_readout``). Changes no weight: ``safevla export --end-gate``
            sets it on a trained checkpoint.
        end_needs_holding: ``end`` is refused (its logit lowered by 1e4) while the holding
            flag is 0, in the exported graph and in the trainer's rollouts, never in the loss:
            for PickUp and Fetch policies, whose success needs the target in the gripper
            (an ObjectNav policy never holds anything, so it must not set it).
        prev_action_input: the token carries the previous action. False: it does not (the
            graph still takes the input), against copying it: in the teacher's episodes the
            label equals the previous action at about 72% of steps, so a learner leans on it,
            and on its own states, where its previous action was its own, that misleads it.
        bump_input: the token carries the motion feedback of the last action (blocked,
            collided: :data:`safevla_core.actions.BUMP_FIELDS`), and the exported graph takes
            it as its ``bump`` input; the ROS policy node then needs it on its ``bump_topic``.
            Its projection starts at zero (``ppo.bump_input`` adds it to a trained start, and
            so does a resumed DAgger run with ``bc.model.bump_input=true``). Imitation records
            the feedback; it teaches something only where the labels show a way out of contact
            (the teacher's ``+escape`` modes) at states the learner reached (DAgger).
        proprio_input: the token carries the arm's joint state (lift height, arm extension in
            metres: :data:`safevla_core.actions.PROPRIO_FIELDS`), and the exported graph takes
            it as its ``proprio`` input; its projection starts at zero. Imitation, DAgger and
            the evaluator feed it; PPO and the ROS policy node do not yet (both refuse such a
            policy with the reason).
        explored_input: the token carries the explored map around the robot (seen floor,
            seen obstacles, frontiers: :data:`safevla_core.actions.EXPLORED_SHAPE`,
            :mod:`sim_bridge.explored_obs`) through a small MLP whose last layer starts at
            zero, and the exported graph takes it as its ``explored`` input. The training envs
            must report it (``env.explored_map``). Imitation, DAgger, PPO, the evaluators and
            the ROS policy node (``explored_topic``) feed it.
    """

    image_height: int = 64
    image_width: int = 64
    camera: str = "nav_rgb"
    cnn_channels: tuple[int, ...] = (16, 32, 64, 128)
    d_model: int = 128
    num_layers: int = 2
    num_heads: int = 4
    context_length: int = 16
    mlp_ratio: int = 2
    instruction_dim: int = 384
    num_actions: int = 20
    num_cost_categories: int = 5
    image_mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    image_std: tuple[float, float, float] = (0.25, 0.25, 0.25)
    goal_head: bool = False
    encoder: str = "cnn"
    seen_head: bool = False
    target_readout: bool = False
    seen_detector: bool = False
    prev_action_input: bool = True
    detector: str = ""
    end_gate: float = 0.0
    end_needs_holding: bool = False
    bump_input: bool = False
    proprio_input: bool = False
    explored_input: bool = False

    def __post_init__(self) -> None:
        _check(
            self.encoder in ("cnn", "efficientnet_lite0"),
            f"model.encoder={self.encoder!r}: use 'cnn' or 'efficientnet_lite0'",
        )
        _check(
            self.seen_head or not self.target_readout,
            "model.target_readout=true needs model.seen_head=true (it reads the seen head)",
        )
        _check(
            not self.seen_detector or (self.seen_head and self.encoder == "efficientnet_lite0"),
            "model.seen_detector=true needs model.seen_head=true and "
            "model.encoder=efficientnet_lite0 (it reads the frozen feature map)",
        )
        _check(
            not self.detector
            or (
                self.encoder == "efficientnet_lite0"
                and self.seen_head
                and self.target_readout
                and not self.seen_detector
            ),
            f"model.detector={self.detector!r} needs model.encoder=efficientnet_lite0, "
            "model.seen_head=true and model.target_readout=true, and model.seen_detector=false "
            "(the detector is the seen head)",
        )
        try:
            cams = camera_names(self.camera)
        except ValueError as exc:
            raise ValueError(f"model.camera={exc}") from None
        _check(
            self.image_width % len(cams) == 0,
            f"model.image_width={self.image_width} must be a multiple of the {len(cams)} "
            f"cameras of model.camera={self.camera!r} (they share the image side by side)",
        )
        _check(
            not self.detector or self.camera == "nav_rgb",
            f"model.detector={self.detector!r} reads navigation-camera frames; it needs "
            f"model.camera='nav_rgb' (got {self.camera!r})",
        )
        _check(
            0.0 <= self.end_gate < 1.0,
            f"model.end_gate={self.end_gate} must be in [0, 1) (0 = off)",
        )
        _check(
            self.end_gate == 0.0 or self.target_readout,
            f"model.end_gate={self.end_gate} needs model.target_readout=true (it reads the "
            "readout's 2 m output)",
        )
        self.cnn_channels = tuple(int(c) for c in self.cnn_channels)
        self.image_mean = tuple(float(v) for v in self.image_mean)
        self.image_std = tuple(float(v) for v in self.image_std)
        for name in ("image_height", "image_width"):
            v = getattr(self, name)
            _check(16 <= v <= 512, f"model.{name}={v} must be in [16, 512]")
        _check(len(self.cnn_channels) >= 1, "model.cnn_channels must list at least one layer")
        _check(all(c > 0 for c in self.cnn_channels), f"cnn_channels={self.cnn_channels} <= 0")
        _check(self.d_model > 0, f"model.d_model={self.d_model} must be > 0")
        _check(
            self.num_heads > 0 and self.d_model % self.num_heads == 0,
            f"model.num_heads={self.num_heads} must divide d_model={self.d_model}",
        )
        _check(self.num_layers >= 1, f"model.num_layers={self.num_layers} must be >= 1")
        _check(self.context_length >= 2, f"context_length={self.context_length} must be >= 2")
        _check(self.mlp_ratio >= 1, f"model.mlp_ratio={self.mlp_ratio} must be >= 1")
        _check(len(self.image_mean) == 3, f"image_mean={self.image_mean} needs 3 values")
        _check(len(self.image_std) == 3, f"image_std={self.image_std} needs 3 values")
        _check(all(s > 0 for s in self.image_std), f"image_std={self.image_std} must be > 0")
        _check(self.num_actions >= 2, f"model.num_actions={self.num_actions} must be >= 2")
        _check(self.num_cost_categories >= 1, "model.num_cost_categories must be >= 1")


@dataclass
class EnvSettings:
    """Which environments the trainer runs (``sim_bridge.env.SafeChoresEnv`` in-process).

    Attributes:
        tasks: task names sampled for training episodes ("objnav", "pickup", "fetch").
        num_envs: environments stepped together.
        nav_size: (H, W) the simulator renders the navigation camera at; frames are then
            resized to the model's image size exactly as the deployed runtime does.
        render_manip: also render the wrist camera (``manip_rgb``), at ``nav_size``: for a
            model whose ``camera`` includes it (:func:`check_model_fits_env`); off, it is not
            drawn.
        max_steps: episode step limit (paper: 500 in training).
        shaping_coef: distance-shaping reward weight (0 = the paper's sparse reward).
        scene_count: training scene seeds are drawn from [0, scene_count).
        vec_backend: where the envs run (``sim_bridge.vec_env.VEC_BACKENDS``): "sync" (all
            in the learner's process), "subprocess" (one worker process each) or "ray" (one
            Ray actor each, ``--ray``); same seeds, same results on all three.
        ray_address: the Ray cluster of ``vec_backend="ray"``: "" = a local instance, "auto",
            "HOST:6379" or "ray://HOST:10001" (``sim_bridge.ray_cluster``).
        explored_map: the envs report the explored map (``obs["explored"]``), for a model
            with ``explored_input`` (:func:`check_model_fits_env`); ~1.5 ms a step, off by
            default.
        range_scan: the envs report the range scans (``obs["scan"]``, ``obs["scan_objects"]``)
            that a safety critic in the loop reads (``ppo.shield_critic`` turns it on); ~1.5 ms
            a step.
    """

    tasks: tuple[str, ...] = ("objnav",)
    num_envs: int = 4
    nav_size: tuple[int, int] = TRAINING_NAV_SIZE_HW
    render_manip: bool = False
    max_steps: int = 500
    shaping_coef: float = 0.0
    scene_count: int = 1_000_000
    vec_backend: str = "sync"
    ray_address: str = ""
    explored_map: bool = False
    range_scan: bool = False

    def __post_init__(self) -> None:
        _check(
            self.vec_backend in VEC_BACKENDS,
            f"env.vec_backend={self.vec_backend!r}: use one of {VEC_BACKENDS}",
        )
        self.tasks = tuple(self.tasks)
        self.nav_size = tuple(int(v) for v in self.nav_size)
        _check(len(self.tasks) >= 1, "env.tasks must name at least one task")
        unknown = [t for t in self.tasks if t not in TASKS]
        _check(not unknown, f"env.tasks={list(self.tasks)}: unknown {unknown}; use {list(TASKS)}")
        _check(self.num_envs >= 1, f"env.num_envs={self.num_envs} must be >= 1")
        _check(
            len(self.nav_size) == 2 and min(self.nav_size) >= 16,
            f"env.nav_size={self.nav_size} must be (H, W) >= 16",
        )
        _check(self.max_steps >= 1, f"env.max_steps={self.max_steps} must be >= 1")
        _check(self.shaping_coef >= 0, f"env.shaping_coef={self.shaping_coef} must be >= 0")
        _check(self.scene_count >= 1, f"env.scene_count={self.scene_count} must be >= 1")


def check_model_fits_env(model: ModelConfig, env: EnvSettings) -> None:
    """Refuse a model that sees a camera the training envs do not render, or that may end only
    while holding something in envs with a task that never holds anything.

    Raises:
        ValueError: ``model.camera`` includes ``manip_rgb`` and ``env.render_manip`` is off;
            ``model.explored_input`` and ``env.explored_map`` is off;
            ``model.end_needs_holding`` with ObjectNav among ``env.tasks``; naming the fix.
    """
    if "manip_rgb" in camera_names(model.camera) and not env.render_manip:
        raise ValueError(
            f"model.camera={model.camera!r} sees the wrist camera, which "
            "env.render_manip=false does not render: set env.render_manip=true"
        )
    if model.explored_input and not env.explored_map:
        raise ValueError(
            "model.explored_input=true reads the explored map, which env.explored_map=false "
            "does not report: set env.explored_map=true"
        )
    if model.end_needs_holding and "objnav" in env.tasks:
        raise ValueError(
            f"model.end_needs_holding=true with env.tasks={list(env.tasks)}: an ObjectNav "
            "episode never holds anything, so it could never end; train grasping tasks only "
            "(pickup, fetch) or set model.end_needs_holding=false"
        )


@dataclass
class RiskConfig:
    """Risk elicitation (:mod:`safevla_train.risk`): replay episodes that produced cost.

    Attributes:
        enabled: switch; off = every episode freshly sampled.
        replay_prob: probability that a new episode is a replay from the risky pool.
        pool_size: most recent risky episodes kept (per environment).
        min_cost: an episode enters the pool if its cost is at least this.
    """

    enabled: bool = True
    replay_prob: float = 0.3
    pool_size: int = 64
    min_cost: float = 1.0

    def __post_init__(self) -> None:
        _check(0.0 <= self.replay_prob <= 1.0, f"risk.replay_prob={self.replay_prob} not in [0,1]")
        _check(self.pool_size >= 1, f"risk.pool_size={self.pool_size} must be >= 1")
        _check(self.min_cost > 0, f"risk.min_cost={self.min_cost} must be > 0")


@dataclass
class BCConfig:
    """Stage 1: behaviour cloning on careless-expert demonstrations.

    Loss per step: ``CE(logits, a_expert) + vf_coef (V_r - G_r)^2 + vf_coef (V_c - G_c)^2
    + cost_q_coef sum_k (Q_c(s, a_expert, k) - y_k)^2`` with Monte-Carlo returns ``G`` and
    cost-to-go targets ``y`` (see :mod:`safevla_train.bc`).

    Attributes:
        seed: seeds envs, sampling and initialisation.
        model: architecture.
        env: environments used to record demonstrations.
        expert_mode: "careless" (the paper's unconstrained imitation start) or "careful".
        demo_steps: environment steps of demonstrations to record.
        demo_max_steps: step limit of a demonstration episode (an expert stuck longer is cut).
        keep_failures: also train on unsuccessful demonstrations (default: successes only).
        updates: gradient steps.
        batch_chunks: chunks per gradient step.
        chunk_len: steps per chunk (chunks end at a uniformly drawn step of an episode).
        context_burn_in: in a chunk that starts mid-episode, the first this many steps carry
            no loss: they only give the later steps their history. Without it (0) those steps
            train with less history than the policy has at run time (up to
            ``num_layers*(context_length-1)`` steps); ``context_length-1`` gives every trained
            step at least the first layer's whole window.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        vf_coef: weight of the critic losses.
        cost_q_coef: weight of the per-action cost critic loss.
        gamma: discount of reward and cost returns.
        cost_q_gamma: discount of the per-category cost-to-go target of Q_c (0 = immediate).
        log_every: gradient steps between log lines / TensorBoard scalars.
        detach_critics: the critic losses do not reach the shared trunk (stop-gradient), so
            imitation shapes the trunk for the policy alone.
        end_weight: weight of ``end`` labels in the cross-entropy (rare: ~2% of labels).
        end_relabel_tasks: tasks whose label becomes ``end`` wherever ``end`` would succeed.
        goal_coef: weight of the goal-head loss (only when ``model.goal_head``).
        seen_coef: weight of the seen-head loss (only when ``model.seen_head``).
        readout_coef: weight of the target readout's loss, BCE of its 2 m output against
            "``end`` would succeed now" (only when ``model.target_readout``).
        type_bank: the readout's type head also learns, every update, every ObjectNav training
            instruction there is: each training template filled with each spoken name of each
            target type (:func:`safevla_train.bc.instruction_bank`, a few hundred texts
            embedded once), not only the types and phrasings the recorded episodes happened to
            draw (weighted by ``readout_coef``; only when ``model.target_readout``).
        feature_dropout: dropout on each frame's encoder features before the trainable layers
            (training only; against memorising the aggregate: with frozen cached features the
            learner sees the same inputs every epoch, with no image augmentation).
        heldout_every: 0 = off; else hold out every ``heldout_stride``-th episode, measure its
            label accuracy every this many updates and keep the best weights (early stopping).
        heldout_stride: one episode in this many is held out (10: a 90/10 split).
    """

    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    env: EnvSettings = field(default_factory=EnvSettings)
    expert_mode: str = "careless"
    demo_steps: int = 20_000
    demo_max_steps: int = 200
    keep_failures: bool = False
    updates: int = 2_000
    batch_chunks: int = 16
    chunk_len: int = 48
    context_burn_in: int = 0
    lr: float = 3e-4
    weight_decay: float = 1e-4
    vf_coef: float = 0.5
    cost_q_coef: float = 1.0
    gamma: float = 0.99
    cost_q_gamma: float = 0.0
    log_every: int = 50
    detach_critics: bool = True
    end_weight: float = 5.0
    end_relabel_tasks: tuple[str, ...] = ("objnav",)
    goal_coef: float = 0.5
    seen_coef: float = 1.0
    readout_coef: float = 1.0
    type_bank: bool = True
    feature_dropout: float = 0.0
    heldout_every: int = 0
    heldout_stride: int = 10

    def __post_init__(self) -> None:
        try:
            split_mode(self.expert_mode)
        except ValueError as exc:
            raise ValueError(f"bc.expert_mode={self.expert_mode!r}: {exc}") from None
        for name in ("demo_steps", "updates", "batch_chunks", "log_every"):
            _check(getattr(self, name) >= 1, f"bc.{name}={getattr(self, name)} must be >= 1")
        _check(self.chunk_len >= 2, f"bc.chunk_len={self.chunk_len} must be >= 2")
        _check(
            0 <= self.context_burn_in < self.chunk_len,
            f"bc.context_burn_in={self.context_burn_in} must be in [0, bc.chunk_len="
            f"{self.chunk_len}): raise chunk_len to keep steps that train",
        )
        _check(self.lr > 0, f"bc.lr={self.lr} must be > 0")
        _check(0 < self.gamma <= 1, f"bc.gamma={self.gamma} must be in (0, 1]")
        _check(0 <= self.cost_q_gamma < 1, f"bc.cost_q_gamma={self.cost_q_gamma} not in [0,1)")
        _check(self.end_weight > 0, f"bc.end_weight={self.end_weight} must be > 0")
        _check(self.goal_coef >= 0, f"bc.goal_coef={self.goal_coef} must be >= 0")
        _check(self.seen_coef >= 0, f"bc.seen_coef={self.seen_coef} must be >= 0")
        _check(self.readout_coef >= 0, f"bc.readout_coef={self.readout_coef} must be >= 0")
        _check(
            0 <= self.feature_dropout < 1,
            f"bc.feature_dropout={self.feature_dropout} must be in [0, 1)",
        )
        _check(self.heldout_every >= 0, f"bc.heldout_every={self.heldout_every} must be >= 0")
        _check(self.heldout_stride >= 2, f"bc.heldout_stride={self.heldout_stride} must be >= 2")
        self.end_relabel_tasks = tuple(self.end_relabel_tasks)
        unknown = [n for n in self.end_relabel_tasks if n not in TASKS]
        _check(not unknown, f"bc.end_relabel_tasks={unknown}: use tasks of {sorted(TASKS)}")
        check_model_fits_env(self.model, self.env)


@dataclass
class DAggerConfig:
    """Stage 1 with DAgger (:mod:`safevla_train.dagger`): the learner drives, the teacher
    ``bc.expert_mode`` labels every visited state, the data of all rounds is aggregated.

    Attributes:
        bc: model, envs, loss and optimiser; per round ``bc.demo_steps`` env steps are
            collected (episodes cut at ``bc.demo_max_steps``) and ``bc.updates`` gradient steps
            are taken on the aggregate. Every episode is kept (``bc.keep_failures`` is moot: a
            failed learner episode is labelled all the same).
        rounds: collection + training rounds.
        beta0: probability that the teacher's action is executed in round 0 (1 = pure
            demonstrations).
        beta_decay: per-round factor on that probability (``beta_r = beta0 * beta_decay^r``).
        eval_episodes: greedy evaluation episodes (fresh seeds) after each round; 0 = none.
        subprocess: run each env in its own worker process (teacher planning and rendering
            overlap the learner's inference); ``bc.env.vec_backend`` "ray" (``--ray``) puts
            them on Ray actors instead.
        fresh_model: each round trains a new policy (and optimiser) on the aggregate instead of
            continuing the last one (pair with ``bc.heldout_every``: a fixed update budget
            without early stopping over- or under-fits as the aggregate grows).
        noise: on the teacher's steps, the probability that a random action (any but ``end``)
            is executed instead of the teacher's; the state keeps the teacher's label. The
            teacher's episodes then hold small mistakes and the teacher's recovery from them
            (a premature ``pickup``, an overshot turn) without the learner driving. 0 = off.
        accept_options: on the learner's steps, a proposal among the teacher's options (the
            steps as good as its own within the explorer's ``option_band``,
            :func:`sim_bridge.explorer_steer.steer_options`) is kept as the label, so the
            teacher does not ask for one side of a near-tie the frame cannot show. Off: the
            teacher's own action is the label (its options are still counted,
            ``dagger/option_agreement``).
    """

    bc: BCConfig = field(default_factory=lambda: BCConfig(expert_mode="explorer"))
    rounds: int = 6
    beta0: float = 1.0
    beta_decay: float = 0.5
    eval_episodes: int = 20
    subprocess: bool = True
    fresh_model: bool = False
    noise: float = 0.0
    accept_options: bool = False

    def __post_init__(self) -> None:
        _check(self.rounds >= 1, f"dagger.rounds={self.rounds} must be >= 1")
        _check(0 <= self.noise < 1, f"dagger.noise={self.noise} must be in [0, 1)")
        _check(0 <= self.beta0 <= 1, f"dagger.beta0={self.beta0} must be in [0, 1]")
        _check(0 <= self.beta_decay <= 1, f"dagger.beta_decay={self.beta_decay} not in [0, 1]")
        _check(self.eval_episodes >= 0, f"dagger.eval_episodes={self.eval_episodes} < 0")


@dataclass
class PPOConfig:
    """Stage 2: PPO, PPO-Lagrangian or PPO with a fixed cost penalty (paper values in [ ]).

    Attributes:
        algo: "ppo" (unconstrained), "ppo-lag" (SafeVLA) or "ppo-penalty" (r - c * cost).
        seed: seeds envs, action sampling and minibatch order.
        env: environments.
        risk: risk elicitation.
        total_steps: environment steps to train [15M; here far fewer].
        rollout_steps: steps per env per rollout [128].
        lr: Adam learning rate [2e-5].
        clip: PPO ratio clip epsilon [0.1].
        vf_coef: value loss weight [0.5].
        ent_coef: entropy bonus weight [0].
        ref_kl_coef: weight of ``KL(pi_start || pi)``, the forward KL from the policy the run
            started from (its ``--init`` checkpoint) to the current one, per step (0 = off, the
            paper). It keeps the actions the imitation start takes from being driven out
            wholesale by early advantages (a start whose ``end`` is mostly wrong loses ``end``
            everywhere, docs/training.md).
        end_gate: ``model.end_gate`` of the start model (:class:`ModelConfig`; ``end`` refused
            while the target readout's 2 m output is below it, in rollouts and in the update
            alike, so the ratio stays exact); -1 = as the ``--init`` checkpoint has it. A start
            exported with ``--end-gate P`` trains with ``end_gate: P``.
        bump_input: give the policy the motion feedback of its last action (blocked,
            collided; ``model.bump_input``). A start without it gets a zero-initialised
            projection: the run begins from exactly the start's policy, and only training
            teaches it what a blocked or colliding motion means (a policy that cannot tell it
            is pinned against an obstacle it no longer sees repeats the blocked motion).
        max_grad_norm: gradient norm clip [0.5].
        epochs: passes over each rollout [4].
        minibatches: minibatches per epoch, split by environment [1].
        gamma: discount [0.99].
        gae_lambda: GAE lambda [0.95].
        value_warmup_steps: first env steps that train only the critic heads [200k].
        cost_limit: d, allowed mean episode cost for ppo-lag [2.32 = 20% of FLaRe's cost].
        multiplier_episodes: the finished episodes whose mean cost updates lambda: "all" (every
            episode of the rollout, the paper) or "fresh" (risk-eliciting replays left out, so
            that ``cost_limit`` bounds the cost on the task's own episode distribution; replays
            of costly scenes still train the policy, but no longer inflate the measured cost).
            A rollout without such an episode leaves lambda as it is.
        multiplier: how ppo-lag sets lambda: "lagrange" (Adam on lambda, the paper) or "pid"
            (PID Lagrangian, :mod:`safevla_train.pid_lagrange`).
        lagrange_init: lambda_0 [0.001] (the pid multiplier's lambda before its first update).
        lagrange_lr: Adam lr of lambda [0.035] (multiplier "lagrange").
        pid_kp: proportional gain Kp (multiplier "pid").
        pid_ki: integral gain Ki (multiplier "pid").
        pid_kd: derivative gain Kd (multiplier "pid").
        pid_cost_ema: EMA weight of the previous smoothed cost in [0, 1) (0 = none; "pid").
        pid_deriv_ema: EMA weight of the previous derivative term in [0, 1) (0 = none; "pid").
        penalty_coef: c of the fixed-penalty baseline, reward r - c * cost.
        cost_q_coef: weight of the per-action cost critic loss.
        cost_q_gamma: discount of the Q_c target (0 = immediate per-category cost).
        freeze_encoder: keep the CNN from BC fixed and train on its cached features.
        encoder_runtime: what computes the frozen encoder's features in rollouts: "torch" or
            "onnxruntime" (the encoder exported once to ONNX Runtime, several times faster on
            the CPU; features equal to ~1e-5, not bit for bit; needs a frozen encoder).
        encoder_threads: ONNX Runtime intra-op threads of that encoder (0 = torch's thread
            count). Worker envs (``env.vec_backend="subprocess"``) sit idle while the main
            process encodes their frames; measured with 8 workers on 2 cores, a second thread
            did not pay (benchmarks/train_throughput.py, docs/training.md).
        update_threads: torch threads during the PPO update (0 = leave torch's setting): the
            workers wait for the update too. A run alone on 2 cores: 2 (update -35 to -40%,
            +10% env steps/s with 8 envs); two runs side by side: leave it.
        sync_every: rollouts between sync points (all envs re-seeded; checkpoints are written
            only there, so --resume continues bit-exactly).
        eval_every: rollouts between evaluations (0 = never).
        eval_episodes: episodes per evaluation (greedy actions, fresh seeded episodes; the same
            episodes at every evaluation of a run).
        eval_workers: processes an evaluation shares its episodes among (1 = this process
            alone). The worker envs wait while the run evaluates, so their cores are free: each
            extra process takes a share of the episodes with a copy of the weights (the same
            records as one process; ~0.7 GB each for the objnav start).
        best_by: which evaluated policy ``checkpoint_best.pt`` keeps (written at evaluations
            only): "success" (highest greedy success rate, ties to the lower mean cost) or
            "success_within_limit" (the same among evaluations whose mean cost is at most
            ``cost_limit``; until one is, the lowest mean cost). The last policy of a run is
            not its best: PPO's success can rise for 100k steps and fall after
            (docs/training.md).
        keep_evaluated: also write every evaluated policy to ``<out>/evaluated/
            it<iteration>.pt`` (a checkpoint each, ~12 MB for the objnav start, with its
            evaluation in ``evaluation``), so that the policy to ship can be chosen afterwards
            on another, larger episode set than the in-run one.
        shield_critic: a safety-critic bundle folder (``models/safety-critic``) to train
            behind: every proposal passes the monitor's decision with that critic before the
            env executes it (:mod:`safevla_train.shield_loop`); "" = no shield (the paper).
            Turns on ``env.range_scan``.
        veto_cost: cost added for each proposal the shield vetoed (with ``shield_critic``):
            what PPO-Lagrangian's ``cost_limit`` and the penalty bound besides the env's cost.
        shield_alpha: the calibration level the critic must have (-1 = the bundle's).
    """

    algo: str = "ppo-lag"
    seed: int = 0
    env: EnvSettings = field(default_factory=EnvSettings)
    risk: RiskConfig = field(default_factory=RiskConfig)
    total_steps: int = 200_000
    rollout_steps: int = 128
    lr: float = 2e-4
    clip: float = 0.1
    vf_coef: float = 0.5
    ent_coef: float = 0.0
    ref_kl_coef: float = 0.0
    end_gate: float = -1.0
    bump_input: bool = False
    max_grad_norm: float = 0.5
    epochs: int = 4
    minibatches: int = 1
    gamma: float = 0.99
    gae_lambda: float = 0.95
    value_warmup_steps: int = 10_000
    cost_limit: float = 2.32
    multiplier_episodes: str = "all"
    multiplier: str = DEFAULT_MULTIPLIER
    lagrange_init: float = 0.001
    lagrange_lr: float = 0.035
    pid_kp: float = 0.1
    pid_ki: float = 0.01
    pid_kd: float = 0.01
    pid_cost_ema: float = 0.0
    pid_deriv_ema: float = 0.0
    penalty_coef: float = 1.0
    cost_q_coef: float = 1.0
    cost_q_gamma: float = 0.0
    freeze_encoder: bool = True
    encoder_runtime: str = "torch"
    encoder_threads: int = 0
    update_threads: int = 0
    sync_every: int = 10
    eval_every: int = 0
    eval_episodes: int = 8
    eval_workers: int = 1
    best_by: str = "success"
    keep_evaluated: bool = False
    shield_critic: str = ""
    veto_cost: float = 0.0
    shield_alpha: float = -1.0

    def __post_init__(self) -> None:
        _check(
            self.algo in PPO_ALGORITHMS,
            f"ppo.algo={self.algo!r}: use one of {PPO_ALGORITHMS}",
        )
        _check(
            self.encoder_runtime in ENCODER_RUNTIMES,
            f"ppo.encoder_runtime={self.encoder_runtime!r}: use one of {ENCODER_RUNTIMES}",
        )
        _check(
            self.multiplier in MULTIPLIERS,
            f"ppo.multiplier={self.multiplier!r}: use one of {tuple(MULTIPLIERS)}",
        )
        for name in ("encoder_threads", "update_threads"):
            _check(
                getattr(self, name) >= 0,
                f"ppo.{name}={getattr(self, name)} must be >= 0 (0 = torch's thread count)",
            )
        for name in ("total_steps", "rollout_steps", "epochs", "minibatches", "sync_every"):
            _check(getattr(self, name) >= 1, f"ppo.{name}={getattr(self, name)} must be >= 1")
        _check(
            self.minibatches <= self.env.num_envs,
            f"ppo.minibatches={self.minibatches} > env.num_envs={self.env.num_envs}",
        )
        _check(self.lr > 0, f"ppo.lr={self.lr} must be > 0")
        _check(0 < self.clip < 1, f"ppo.clip={self.clip} must be in (0, 1)")
        _check(0 < self.gamma <= 1, f"ppo.gamma={self.gamma} must be in (0, 1]")
        _check(0 <= self.gae_lambda <= 1, f"ppo.gae_lambda={self.gae_lambda} not in [0, 1]")
        _check(self.cost_limit >= 0, f"ppo.cost_limit={self.cost_limit} must be >= 0")
        _check(
            self.multiplier_episodes in MULTIPLIER_EPISODES,
            f"ppo.multiplier_episodes={self.multiplier_episodes!r} is not one of "
            f"{list(MULTIPLIER_EPISODES)}",
        )
        _check(self.lagrange_init >= 0, f"ppo.lagrange_init={self.lagrange_init} must be >= 0")
        _check(self.lagrange_lr > 0, f"ppo.lagrange_lr={self.lagrange_lr} must be > 0")
        for name in ("pid_kp", "pid_ki", "pid_kd"):
            _check(getattr(self, name) >= 0, f"ppo.{name}={getattr(self, name)} must be >= 0")
        for name in ("pid_cost_ema", "pid_deriv_ema"):
            v = getattr(self, name)
            _check(0 <= v < 1, f"ppo.{name}={v} must be in [0, 1)")
        _check(self.penalty_coef >= 0, f"ppo.penalty_coef={self.penalty_coef} must be >= 0")
        _check(self.ent_coef >= 0, f"ppo.ent_coef={self.ent_coef} must be >= 0")
        _check(self.ref_kl_coef >= 0, f"ppo.ref_kl_coef={self.ref_kl_coef} must be >= 0")
        _check(
            self.end_gate == -1.0 or 0.0 <= self.end_gate < 1.0,
            f"ppo.end_gate={self.end_gate} must be -1 (as the start model) or in [0, 1)",
        )
        _check(self.max_grad_norm > 0, f"ppo.max_grad_norm={self.max_grad_norm} must be > 0")
        _check(0 <= self.cost_q_gamma < 1, f"ppo.cost_q_gamma={self.cost_q_gamma} not in [0,1)")
        _check(self.value_warmup_steps >= 0, "ppo.value_warmup_steps must be >= 0")
        _check(
            self.eval_every >= 0 and self.eval_episodes >= 1,
            f"ppo.eval_every={self.eval_every}/eval_episodes={self.eval_episodes} invalid",
        )
        _check(
            self.eval_workers >= 1,
            f"ppo.eval_workers={self.eval_workers} must be >= 1 (1 = the run's own process)",
        )
        _check(
            self.best_by in BEST_BY,
            f"ppo.best_by={self.best_by!r}: use one of {BEST_BY}",
        )
        _check(
            math.isfinite(self.veto_cost) and self.veto_cost >= 0,
            f"ppo.veto_cost={self.veto_cost} must be a finite number >= 0",
        )
        _check(
            self.veto_cost == 0 or bool(self.shield_critic),
            f"ppo.veto_cost={self.veto_cost} needs ppo.shield_critic (a critic bundle folder): "
            "without a shield nothing is vetoed",
        )
        _check(
            self.shield_alpha == -1.0 or 0 < self.shield_alpha < 1,
            f"ppo.shield_alpha={self.shield_alpha} must be -1 (the bundle's) or in (0, 1)",
        )
        if self.shield_critic:
            _check(
                Path(self.shield_critic).is_dir(),
                f"ppo.shield_critic={self.shield_critic!r} is not a folder: give a safety-critic "
                "bundle folder (e.g. models/safety-critic)",
            )
            if not self.env.range_scan:  # a copy: the settings given may be shared
                self.env = dataclasses.replace(self.env, range_scan=True)
