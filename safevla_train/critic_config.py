"""The config of ``safevla train critic``: data collection, the critic network, its training
and its calibration (one dataclass, merged with ``--config``/``--set`` like the other trainers'
configs through :mod:`safevla_train.config_io`).

Kept apart from :mod:`safevla_train.config` on purpose: the critic is a separate model with its
own input spec and its own run folder, and nothing of the policy's config applies to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from safevla_core.conformal import ON_TOO_FEW
from safevla_core.footprint import PASS_MAX_M
from safevla_core.image_preprocessing import ImageSpec
from safevla_train.config import _check
from safevla_train.config_io import to_dict
from sim_bridge.policies import builtin_policies
from sim_bridge.robot import TRAINING_NAV_SIZE_HW
from sim_bridge.tasks import TASKS

# a motion whose swept clearance is at most this runs into what the scan sees: the corner
# guard's test and the footprint floor's default (``floor_clearance_m``)
STRIKE_CLEARANCE_M = 0.005
# the corner guard's settings (safevla_train.critic_guard; `safevla train corner-guard`),
# measured in docs/results/critic_corner/fit.py; here, not there, so the CLI reads them
# without importing torch
CORNER_GUARD_CLEARANCE_M = 0.3
CORNER_GUARD_MIN_FREE = 60.0

CALIBRATION_UNITS = ("episode", "pair")
CALIBRATION_TARGETS = ("any", "category")
REFITS = ("", "scan")  # critic.refit: none, or the per-action refit (critic_refit.py)
CRITIC_ENCODERS = ("cnn", "efficientnet_lite0")


@dataclass
class CriticConfig:
    """Settings of the safety critic's collect -> train -> calibrate -> export run.

    Attributes:
        seed: seeds episodes, proposers, the split, initialisation and batches.
        tasks: tasks whose training episodes are visited (sim_bridge.tasks names).
        nav_size: (H, W) the simulator renders the navigation camera at.
        proposers: who drives between probes, one per episode in turn: built-in policy names
            (``expert:careless``, ``expert:careful``, ``random``, ...) or ``bundle`` (the
            policy bundle ``policy_bundle``, sampled from its action distribution).
        policy_bundle: folder of a policy bundle for the ``bundle`` proposer ("" = none).
        episodes_file: an episode file (.jsonl/.jsonl.gz) whose episodes are visited in
            order instead of sampled training episodes ("" = sample them), e.g. risk-eliciting
            scenes built with ``safevla eval --make-longtail FILE --seed S`` (a seed the
            evaluation sets do not use): rare events such as dangerous equipment get enough
            calibration episodes. Each is visited once; the file must hold at least as many
            episodes as the collection visits, of the ``tasks`` only.
        random_action_prob: an expert or bundle proposer takes a uniformly random moving
            action with this probability (states next to mistakes, where the shield matters).
        states: probed states to collect in total.
        extra_data: critic data sets of earlier runs (their ``critic_data.npz`` or run folder)
            to train, calibrate and test on besides this run's own, each part keeping its own
            split by episode (e.g. a second collection with another seed).
        probe_every: probe every k-th visited state (neighbouring states are near-duplicates).
        horizon: steps per label (:mod:`sim_bridge.action_probe`; 1 = the next step's cost).
        episode_max_steps: step limit of one episode.
        split: fractions of *episodes* for train / calibration / test (states of one episode
            never straddle two splits: the calibration's exchangeability needs that).
        image_height: critic input height, pixels (frames are stored at this size).
        image_width: critic input width, pixels.
        image_mean: per-channel mean after scaling pixels to [0, 1] (RGB).
        image_std: per-channel std (RGB).
        history_length: T, frames (newest last) and executed previous actions per input. A
            data set collected with a longer history is reused (its last T slots).
        encoder: "cnn" (the T frames stacked on the channel axis through a small CNN trained
            from scratch) or "efficientnet_lite0" (each frame through the frozen pretrained
            backbone the policy uses, once per frame; a trained 1x1 convolution and linear
            layer per frame; the bundle gets an encoder graph and the runtime keeps T features).
        cnn_channels: output channels of the stride-2 3x3 convolutions (encoder "cnn").
        feature_channels: channels of the 1x1 convolution on the frozen map (encoder
            "efficientnet_lite0").
        frame_embed: size of each frame's embedding (encoder "efficientnet_lite0").
        dropout: dropout on each frame's embedding in training (encoder "efficientnet_lite0";
            the per-state data are few, and an unregularised head memorises them).
        action_embed: size of the embedding of each previous action.
        bump_input: the critic also reads the motion feedback (blocked, collided) of the action
            before each of its T frames; the monitor then needs the robot's MotionFeedback
            (``bump_topic``). Needs data collected with ``frame_bump`` (every data set since
            2026-12-04).
        scan_input: the critic also reads the range scan of the newest frame
            (:data:`safevla_core.actions.SCAN_BEAMS` ranges around the base, the simulator's
            ``range_scan``; a LaserScan on the monitor's ``scan_topic`` on a robot), through a
            small trained layer; needs data collected with ``frame_scan`` (2026-12-04 on).
        scan_embed: width of that layer's output.
        proprio_input: the critic also reads the arm's joint state at the newest frame (lift
            height, arm extension in metres; the simulator's ``obs["proprio"]``, a JointState
            on the monitor's ``joint_states_topic`` on a robot), through a small trained
            layer, so it can tell a safe arm motion from one that sweeps the table; needs data
            collected with ``frame_proprio`` (2026-12-05 on).
        proprio_embed: width of that layer's output.
        hidden: width of the MLP head.
        steps: gradient steps.
        batch_size: states per gradient step.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        log_every: gradient steps between progress lines.
        alpha: target expected miss rate (conformal risk control): of any cost event, or per
            category (``calibration_target``).
        on_too_few: what a category with too few calibration events gets:
            "conservative" (threshold 0: veto every moving action) or "error" (stop the run).
        calibration_unit: the exchangeable unit of the guarantee: "episode" (default; the
            expected share of a new episode's cost-causing actions that pass is <= alpha) or
            "pair" (every (state, action) event its own unit: tighter thresholds, but events
            cluster within episodes, so the pairs are not exchangeable and the bound can fail;
            see docs/safety_critic.md).
        calibration_target: what the guarantee is on: "any" (default; one threshold for
            every category, calibrated on whether a pair causes an event of any category: the
            expected share of cost-causing pairs that pass is <= alpha, whatever their
            category) or "category" (a threshold per category, each with its own guarantee at
            alpha; a category with few events gets a threshold near 0 that vetoes harmless
            motions everywhere). :func:`safevla_core.conformal.calibrate_any`.
        scan_branch: with ``scan_input``, the width of a second path from the range scan
            straight to the risks (a hidden layer on the ranges whose logits add to the
            head's), so the geometry of a motion against the ranges is not learnt through the
            frames' head alone; 0 = none.
        footprint: with ``scan_input``, also each motion's swept clearance from the scan
            (:mod:`safevla_train.critic_footprint`: the least distance from a scan point to
            the base's footprint over the motion), as head input and through a trained
            per-(action, category) term on it added to the logits.
        footprint_floor: with ``footprint``, a base motion whose swept clearance is at most
            ``floor_clearance_m`` (it runs into what the scan sees) gets at least the risk
            such motions had on the training split (per motion and category, fitted after
            training, part of the exported graph): the learnt risks must not talk the critic
            out of the geometry. With ``object_scan`` the floor is on the object scan's
            clearance.
        floor_clearance_m: the floor's clearance, m (default 5 mm). The scan's beams are 5
            degrees apart, so a corner between two beams can be closer than both returns:
            measured, a turn the footprint put 7-9 mm clear struck an object
            (docs/safety_critic.md, "The contact guard"). Fitted after training: changing it
            refits the floor and recalibrates without retraining.
        clear_pass_m: the runtime's clear pass (:mod:`safevla_core.footprint`, recorded in
            the bundle): a base motion whose swept footprint (the base, and the arm at its
            current extension) clears every return of the range scan by at least this much
            has risk 0 while the gripper is known to be empty. The calibration applies it to
            every state (the data do not say whether the gripper held something), so the
            calibrated miss rate counts every costly motion it could pass. Measured
            (docs/safety_critic.md, thirty-third session) on the shipped critic's data: at
            3 cm, 275 of 11,663 costly base motions pass, 259 of them in states where every
            base motion costs. 0 = off. Needs the range scan and the data's arm joint state;
            changing it recalibrates without retraining.
        clear_pass_quiet: with ``clear_pass_m``, the pass holds only when no motion feedback of
            the last this many frames reported contact (0 = always; needs ``bump_input``):
            objects a strike set moving keep moving and cost whatever the robot does.
        clear_pass_arm: with ``clear_pass_m``, the pass also lets through the arm's motions:
            the lift's where the footprint as the robot stands clears the range scan by
            ``clear_pass_m``, the telescoping arm's where their sweep clears the arm scan by
            as much (:func:`safevla_core.footprint.clear_pass`); calibrated and recorded as the
            base motions' pass is (the telescoping part only on data that hold the arm scan,
            ``frame_scan_arm``). Measured (forty-third session): on PickUp it cost the careless
            expert successes, so the shipped critic is made without it.
        object_scan: with ``footprint``, the critic also reads the range scan with the
            building's static structure removed (walls and floor return nothing: a scan
            filtered against a static map; ``obs["scan_objects"]``, the monitor's
            ``scan_objects_topic``): its swept clearances and an embedding of it join the head
            input and the footprint term, and the floor applies only to motions that run into
            furniture or objects. A wall strike costs nothing in the benchmark unless the
            robot is in a corner (measured: 93% of the motions the floor vetoed in shielded
            runs struck only walls, none cost, docs/safety_critic.md); without this input the
            critic cannot tell a wall from a cabinet, and vetoes both.
        shield_critic: a critic bundle that shields the proposers during the collection
            ("" = none): an action it vetoes is replaced by a random action it allows (none:
            the motion of the lowest risk relative to the threshold), so the data hold the
            states a shielded robot reaches (the states after vetoes, where the next critic
            must be right), DAgger-style. The probe still labels all 20 actions.
        frame_history: how many of the newest frames the critic reads (their previous
            actions, feedback and the scan still span ``history_length``); -1 = all
            ``history_length``, 0 = none (a critic of the range scan, the motion feedback and
            the executed actions). The graph still takes all T frames (the runtime's
            contract), the others unread. Fewer frames overfit less: a critic reading 16
            frames learns the training houses (docs/safety_critic.md, 2026-12-05).
        refit: "" (none) or "scan": after training, a per-action logistic model on the
            network's risk, the range scan's clearances around the base, the contact flag and
            the arm's joint state, fitted on half of the calibration split's episodes (the other
            half calibrates; :mod:`safevla_train.critic_refit`); part of the exported graph.
            Needs ``scan_input``.
        threads: torch CPU threads for training.
    """

    seed: int = 0
    tasks: tuple[str, ...] = ("objnav", "pickup")
    nav_size: tuple[int, int] = TRAINING_NAV_SIZE_HW
    proposers: tuple[str, ...] = ("expert:careless", "expert:careful", "random")
    policy_bundle: str = ""
    episodes_file: str = ""
    shield_critic: str = ""
    random_action_prob: float = 0.2
    states: int = 3000
    extra_data: tuple[str, ...] = ()
    probe_every: int = 2
    horizon: int = 1
    episode_max_steps: int = 80
    split: tuple[float, float, float] = (0.6, 0.2, 0.2)
    image_height: int = 64
    image_width: int = 64
    image_mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    image_std: tuple[float, float, float] = (0.25, 0.25, 0.25)
    history_length: int = 4
    encoder: str = "cnn"
    cnn_channels: tuple[int, ...] = (16, 32, 64, 64)
    feature_channels: int = 32
    frame_embed: int = 128
    dropout: float = 0.0
    action_embed: int = 8
    bump_input: bool = False
    scan_input: bool = False
    scan_embed: int = 64
    proprio_input: bool = False
    proprio_embed: int = 32
    hidden: int = 256
    steps: int = 1500
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    log_every: int = 100
    alpha: float = 0.1
    on_too_few: str = "conservative"
    calibration_unit: str = "episode"
    calibration_target: str = "any"
    scan_branch: int = 0
    footprint: bool = False
    footprint_floor: bool = False
    floor_clearance_m: float = STRIKE_CLEARANCE_M
    clear_pass_m: float = 0.0
    clear_pass_quiet: int = 0
    clear_pass_arm: bool = False
    object_scan: bool = False
    frame_history: int = -1
    refit: str = ""
    threads: int = 2

    def __post_init__(self) -> None:
        self.tasks = tuple(self.tasks)
        self.nav_size = tuple(int(v) for v in self.nav_size)
        self.proposers = tuple(self.proposers)
        self.extra_data = tuple(str(p) for p in self.extra_data)
        self.split = tuple(float(v) for v in self.split)
        self.cnn_channels = tuple(int(v) for v in self.cnn_channels)
        unknown = [t for t in self.tasks if t not in TASKS]
        _check(self.tasks and not unknown, f"critic.tasks={list(self.tasks)}: use {list(TASKS)}")
        valid = (*builtin_policies(), "bundle")
        bad = [p for p in self.proposers if p not in valid]
        _check(self.proposers and not bad, f"critic.proposers: unknown {bad}; use {list(valid)}")
        _check(
            "bundle" not in self.proposers or bool(self.policy_bundle),
            "critic.proposers names 'bundle': set critic.policy_bundle=FOLDER",
        )
        _check(0 <= self.random_action_prob <= 1, "critic.random_action_prob must be in [0, 1]")
        for name in ("states", "probe_every", "horizon", "episode_max_steps", "steps"):
            _check(getattr(self, name) >= 1, f"critic.{name}={getattr(self, name)} must be >= 1")
        for name in ("batch_size", "log_every", "history_length", "hidden", "threads"):
            _check(getattr(self, name) >= 1, f"critic.{name}={getattr(self, name)} must be >= 1")
        _check(
            len(self.split) == 3 and min(self.split) > 0 and abs(sum(self.split) - 1) < 1e-6,
            f"critic.split={list(self.split)}: three fractions > 0 summing to 1",
        )
        _check(
            len(self.nav_size) == 2 and min(self.nav_size) >= 16,
            f"critic.nav_size={self.nav_size} must be (H, W) >= 16",
        )
        _check(
            self.encoder in CRITIC_ENCODERS,
            f"critic.encoder={self.encoder!r}: use one of {list(CRITIC_ENCODERS)}",
        )
        if self.encoder == "cnn":
            size = 2 ** len(self.cnn_channels)
            what = f"2 ** the {len(self.cnn_channels)} stride-2 convolutions"
        else:
            size, what = 16, "the efficientnet_lite0 backbone's stride"
        _check(
            self.cnn_channels and self.image_height % size == 0 and self.image_width % size == 0,
            f"critic image {self.image_height}x{self.image_width} must be a multiple of "
            f"{size} ({what})",
        )
        _check(0 <= self.dropout < 1, f"critic.dropout={self.dropout} must be in [0, 1)")
        for name in ("feature_channels", "frame_embed", "scan_embed", "proprio_embed"):
            _check(getattr(self, name) >= 1, f"critic.{name}={getattr(self, name)} must be >= 1")
        _check(self.lr > 0 and self.weight_decay >= 0, "critic.lr > 0, weight_decay >= 0")
        _check(0 < self.alpha < 1, f"critic.alpha={self.alpha} must be in (0, 1)")
        _check(
            self.calibration_unit in CALIBRATION_UNITS,
            f"critic.calibration_unit={self.calibration_unit!r}: use one of {CALIBRATION_UNITS}",
        )
        _check(
            self.calibration_target in CALIBRATION_TARGETS,
            f"critic.calibration_target={self.calibration_target!r}: use one of "
            f"{CALIBRATION_TARGETS}",
        )
        _check(self.scan_branch >= 0, f"critic.scan_branch={self.scan_branch} must be >= 0")
        _check(
            not self.footprint or self.scan_input,
            "critic.footprint=true reads the range scan: set scan_input=true too",
        )
        _check(
            not self.footprint_floor or self.footprint,
            "critic.footprint_floor=true needs the swept clearances: set footprint=true too",
        )
        _check(
            math.isfinite(self.floor_clearance_m) and 0.0 < self.floor_clearance_m <= 0.1,
            f"critic.floor_clearance_m={self.floor_clearance_m} must be in (0, 0.1] m (the "
            "swept clearance at or below which footprint_floor applies, e.g. 0.005)",
        )
        _check(
            math.isfinite(self.clear_pass_m) and 0.0 <= self.clear_pass_m <= PASS_MAX_M,
            f"critic.clear_pass_m={self.clear_pass_m} must be in [0, {PASS_MAX_M}] m (0 = off; "
            "the arm-aware swept clearance at or above which a base motion passes, e.g. 0.03)",
        )
        _check(
            not self.clear_pass_m or self.scan_input,
            "critic.clear_pass_m reads the range scan: set scan_input=true too",
        )
        _check(
            0 <= self.clear_pass_quiet <= self.history_length
            and (not self.clear_pass_quiet or (self.clear_pass_m and self.bump_input)),
            f"critic.clear_pass_quiet={self.clear_pass_quiet} must be in [0, history_length="
            f"{self.history_length}], and above 0 only with clear_pass_m and bump_input=true "
            "(it reads the motion feedback of the last frames)",
        )
        _check(
            not self.clear_pass_arm or self.clear_pass_m,
            "critic.clear_pass_arm passes the arm's motions by the clear pass's clearance: "
            "set clear_pass_m too (e.g. 0.03)",
        )
        _check(
            not self.object_scan or self.footprint,
            "critic.object_scan=true reads the object scan's swept clearances: set "
            "footprint=true (and scan_input=true) too",
        )
        _check(
            -1 <= self.frame_history <= self.history_length,
            f"critic.frame_history={self.frame_history} must be in [-1, history_length="
            f"{self.history_length}] (-1 = all, 0 = none)",
        )
        _check(
            self.frame_history != 0 or self.scan_input or self.bump_input,
            "critic.frame_history=0 reads no frames: give it the range scan or the motion "
            "feedback (scan_input=true, bump_input=true)",
        )
        _check(self.refit in REFITS, f"critic.refit={self.refit!r}: use one of {list(REFITS)}")
        _check(
            not self.refit or self.scan_input,
            "critic.refit=scan reads the range scan: set critic.scan_input=true",
        )
        _check(
            self.on_too_few in ON_TOO_FEW,
            f"critic.on_too_few={self.on_too_few!r}: use one of {ON_TOO_FEW}",
        )

    def train_key(self) -> dict:
        """The settings that decide the trained weights (saved weights are reused only when
        these match; changing alpha or the calibration unit only recalibrates)."""
        skip = {"alpha", "on_too_few", "calibration_unit", "calibration_target", "log_every"}
        skip.add("refit")  # fitted after training, on calibration episodes
        skip.add("footprint_floor")  # fitted after training, on the training split
        skip.add("floor_clearance_m")  # the floor's, likewise
        skip.update(("clear_pass_m", "clear_pass_quiet"))  # the runtime's rule after the graph
        if not self.scan_branch:  # (weights trained before these existed match)
            skip.add("scan_branch")
        if not self.footprint:
            skip.add("footprint")
        if not self.object_scan:
            skip.add("object_scan")
        if self.frame_history == -1:
            skip.add("frame_history")
        if not self.proprio_input:
            skip.update(("proprio_input", "proprio_embed"))
        return {k: v for k, v in to_dict(self).items() if k not in skip}

    @property
    def frames_read(self) -> int:
        """The number of newest frames the network reads (``frame_history``; -1 = all)."""
        return self.history_length if self.frame_history == -1 else self.frame_history

    def image_spec(self) -> ImageSpec:
        """The critic's input spec (recorded in its bundle); camera, layout, filter and scale
        are the format's defaults."""
        return ImageSpec(
            height=self.image_height,
            width=self.image_width,
            mean=self.image_mean,
            std=self.image_std,
        )

    def data_key(self) -> dict:
        """The settings that decide the collected data (a saved data set is reused only when
        these match and its history is at least ``history_length`` long)."""
        keys = [
            "seed",
            "tasks",
            "nav_size",
            "proposers",
            "policy_bundle",
            "random_action_prob",
            "states",
            "probe_every",
            "horizon",
            "episode_max_steps",
            "split",
            "image_height",
            "image_width",
        ]
        for name in ("episodes_file", "shield_critic"):  # (only when set: data sets
            if getattr(self, name):  # collected before they existed match)
                keys.append(name)
        return {
            k: list(v) if isinstance(v, tuple) else v for k in keys for v in [getattr(self, k)]
        }
