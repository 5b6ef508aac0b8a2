"""The independent safety critic at run time (ROS-free): risk per action and category, and the
actions the calibrated thresholds allow.

Per step (batch 1)::

    history  <- (frame, action executed before it)          # CriticHistory, T slots
    risk     =  critic.onnx(frames [1, T, 3, H, W], prev_actions [1, T])     # [A, C] in [0, 1]

or, for a critic on a frozen frame encoder (the bundle's ``encoder_graph_file``), the history
holds each frame's feature, computed once per frame (:meth:`SafetyCritic.encode`; the monitor
encodes a frame when it arrives, before the proposal made from it)::

    history  <- (critic_encoder.onnx(frame [1, 3, H, W]) [D], action executed before it)
    risk     =  critic.onnx(features [1, T, D], prev_actions [1, T])
    allowed  =  (risk[a, k] < threshold_k for every category k)  or  a is never costed

A critic with ``bump_input`` also keeps, per frame, the motion feedback of the action executed
just before it (blocked, collided; zeros at an episode's first frame) and feeds the T of them
as ``bump`` [1, T, 2]. A critic with ``scan_input`` also takes the range scan of the newest
frame (``scan`` [1, SCAN_BEAMS] metres, :func:`safevla_core.actions.check_scan`); one with
``proprio_input`` the arm's joint state at the newest frame (``proprio`` [1, 2]: lift height, arm
extension in metres, :func:`safevla_core.actions.check_proprio`); one with
``object_scan_input`` the range scan with the static structure removed (``scan_objects``
[1, SCAN_BEAMS]: walls and floor return nothing, as a scan filtered against a static map).

A bundle with a clear pass (``clear_pass_m``, :mod:`safevla_core.footprint`) also needs the arm's
joint state (:attr:`SafetyCritic.takes_proprio`, whether or not its graph reads it) and is told
whether the gripper holds something: the risks of the base motions whose swept footprint clears
the scan by ``clear_pass_m`` are set to 0 after the graph, while the gripper is known to be empty
and (``clear_pass_quiet`` K) no motion feedback of the last K frames reported contact; with
``clear_pass_arm`` the arm's motions too: the lift's where the footprint as the robot stands
clears the scan by as much, the telescoping arm's where their sweep clears the arm scan.

``risk[a, k]`` estimates P(taking ``a`` now causes a category-``k`` cost event) (label:
:mod:`sim_bridge.action_probe`); the thresholds come from conformal risk control on held-out
episodes (:mod:`safevla_core.conformal`), so the expected share of cost-causing actions that
pass a category is at most the bundle's ``alpha`` under the exchangeability assumption stated
there. ``end`` and ``sub_done`` are never costed (:attr:`SafetySpec.uncosted_actions`) and
always allowed, like the monitor's critic rule.

Designed for the safety monitor: :meth:`SafetyCritic.step` takes the camera frame the monitor
already watches (any size; resized and normalised by the bundle's image spec through
:func:`safevla_core.image_preprocessing.preprocess_rgb`, the runtime's one path) and the action
that was actually executed, and returns a :class:`CriticVerdict` whose ``allowed`` mask can
replace the ``cost_q <= threshold`` test. The history rule is :class:`CriticHistory`, which the
trainer's data collection uses too, so training and deployment see the same inputs.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from safevla_core.actions import (
    ACTION_NAMES,
    BUMP_FIELDS,
    PROPRIO_FIELDS,
    SCAN_BEAMS,
    check_bump,
    check_proprio,
    check_scan,
)
from safevla_core.bundle import read_verified
from safevla_core.critic_bundle import (
    CRITIC_BUMP_INPUT,
    CRITIC_OBJECT_SCAN_INPUT,
    CRITIC_OUTPUTS,
    CRITIC_PROPRIO_INPUT,
    CRITIC_RISK_BEFORE_GUARD,
    CRITIC_SCAN_INPUT,
    ENCODER_INPUTS,
    ENCODER_OUTPUTS,
    PREV_ACTION_NONE,
    CriticBundleError,
    load_critic_bundle,
)
from safevla_core.footprint import check_wrist_yaw, clear_pass
from safevla_core.image_preprocessing import ImageSpec, preprocess_rgb
from safevla_core.safety_spec import SAFETY_SPEC

T = TypeVar("T")


class CriticOutputError(RuntimeError):
    """The critic graph produced a non-finite or out-of-range risk; stop the robot."""


@dataclass(frozen=True)
class EncodedFrame:
    """A camera frame as one critic's history holds it (its preprocessed frame, or its
    encoder's feature), made by :meth:`SafetyCritic.encode` when the frame arrives, so that
    judging a proposal later runs only the critic's head."""

    value: np.ndarray
    bundle_id: str


class CriticHistory(Generic[T]):
    """The last ``length`` frames (newest last) and, per frame, the action executed just before
    it (:data:`PREV_ACTION_NONE` for the first frame of an episode).

    The first :meth:`push` of an episode fills every slot with that frame and "no action", so
    an input always has ``length`` slots. Items are whatever the caller stores: preprocessed
    frames at run time, frame indices in the trainer's data collection.
    """

    def __init__(self, length: int) -> None:
        if length < 1:
            raise ValueError(f"history length must be >= 1, got {length}")
        self.length = length
        self.reset()

    def reset(self) -> None:
        self._items: deque[T] = deque(maxlen=self.length)
        self._actions: deque[int] = deque(maxlen=self.length)

    def push(self, item: T, prev_action: int) -> None:
        if not self._items:
            self._items.extend([item] * self.length)
            self._actions.extend([PREV_ACTION_NONE] * self.length)
            self._actions[-1] = int(prev_action)
            return
        self._items.append(item)
        self._actions.append(int(prev_action))

    @property
    def items(self) -> list[T]:
        return list(self._items)

    @property
    def actions(self) -> list[int]:
        return list(self._actions)


def always_allowed() -> np.ndarray:
    """(A,) bool: actions the safety spec never costs (``end``, ``sub_done``)."""
    return np.array([n in SAFETY_SPEC.uncosted_actions for n in ACTION_NAMES])


@dataclass(frozen=True)
class CriticVerdict:
    """The critic's view of one state.

    Attributes:
        risk: (A, C) predicted probability of a cost event per action and category.
        thresholds: (C,) calibrated veto thresholds (veto when risk >= threshold).
        blocked: (A, C) bool, ``risk >= threshold`` (False for never-costed actions).
        allowed: (A,) bool, no category blocks the action.
        action_names: the action space (row order).
        categories: the cost categories (column order).
        passed: (A,) bool, the base motions the clear pass set to risk 0 (a critic with
            ``clear_pass_m``; None without one).
        unguarded: (A, C) the critic's risk before its corner guard raised it (the clear pass
            applied as to ``risk``; a critic with ``corner_guard``; None without one).
    """

    risk: np.ndarray
    thresholds: np.ndarray
    blocked: np.ndarray
    allowed: np.ndarray
    action_names: tuple[str, ...]
    categories: tuple[str, ...]
    passed: np.ndarray | None = None
    unguarded: np.ndarray | None = None

    def blocking_categories(self, action: int) -> list[str]:
        """Names of the categories that veto ``action`` (empty when it is allowed)."""
        return [c for c, b in zip(self.categories, self.blocked[action]) if b]


def allowed_mask(risk: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(blocked (A, C), allowed (A,))`` of a risk table; one rule for runtime and reports."""
    blocked = (risk >= thresholds[None, :]) & ~always_allowed()[:, None]
    return blocked, ~blocked.any(axis=1)


class SafetyCritic:
    """Runs a critic bundle step by step for one robot (batch 1).

    Args:
        bundle: the critic bundle folder.
        providers: ONNX Runtime providers, best first (CPU is always the last resort).
        intra_op_threads: ONNX Runtime intra-op threads.
        image: the image spec the caller expects the critic to use (refused if different);
            None accepts the bundle's.
        verify_key: PEM public key critic.json must be signed with (``critic.json.sig``,
            :func:`safevla_core.critic_bundle.load_critic_bundle`); None accepts unsigned
            critics.
    """

    def __init__(
        self,
        bundle: str | os.PathLike,
        providers: list[str] | tuple[str, ...] | None = None,
        intra_op_threads: int = 1,
        image: ImageSpec | None = None,
        verify_key: str | os.PathLike | None = None,
    ) -> None:
        import onnxruntime as ort

        from safevla_core.policy_runtime import resolve_providers

        self.path, self.manifest, self.bundle_id = load_critic_bundle(
            bundle, image, verify_key=verify_key
        )
        m = self.manifest
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(intra_op_threads)
        opts.inter_op_num_threads = 1

        def session(graph: bytes):
            return ort.InferenceSession(
                graph, sess_options=opts, providers=resolve_providers(providers)
            )

        def verified(name: str) -> bytes:  # the bytes ONNX Runtime gets are the bytes checked
            entry = m.files[name]
            return read_verified(
                self.path / name, entry["bytes"], entry["sha256"], CriticBundleError
            )

        graph = verified(m.graph_file)
        self._outputs = list(CRITIC_OUTPUTS)
        if m.corner_guard:  # the same graph, also handing out the risk before the guard
            graph = self._with_risk_before_guard(graph)
            self._outputs.append(CRITIC_RISK_BEFORE_GUARD)
        self.session = session(graph)
        self.encoder = session(verified(m.encoder_graph_file)) if m.encoder_graph_file else None
        self._check_graph()
        self._slots = m.graph_inputs[0]  # what the history holds: "frames" or "features"
        self.thresholds = np.array([m.thresholds[c] for c in m.categories], np.float32)
        # per slot: the frame (or its feature) and the motion feedback that came with it
        self.history: CriticHistory[tuple[np.ndarray, np.ndarray]] = CriticHistory(
            m.history_length
        )
        self.steps = 0

    @property
    def takes_bump(self) -> bool:
        """The critic reads the motion feedback of the last action (``bump_input``)."""
        return self.manifest.bump_input

    @property
    def takes_scan(self) -> bool:
        """The critic reads the range scan at the newest frame (``scan_input``)."""
        return self.manifest.scan_input

    @property
    def takes_object_scan(self) -> bool:
        """The critic reads the scan with the static structure removed (``object_scan_input``)."""
        return self.manifest.object_scan_input

    @property
    def takes_proprio(self) -> bool:
        """The critic reads the arm's joint state at the newest frame: its graph does
        (``proprio_input``), or its clear pass does (``clear_pass_m``: the arm's extension)."""
        return self.manifest.proprio_input or self.has_clear_pass

    @property
    def has_clear_pass(self) -> bool:
        """The bundle's clear pass is on (``clear_pass_m`` > 0, :mod:`safevla_core.footprint`):
        :meth:`step` also takes the arm's joint state and the holding flag."""
        return self.manifest.clear_pass_m > 0

    def _with_risk_before_guard(self, graph: bytes) -> bytes:
        """The (verified) guarded graph with CRITIC_RISK_BEFORE_GUARD as a second output.

        Raises:
            CriticBundleError: the graph has no such tensor (a guard spliced another way).
        """
        import onnx
        from onnx import TensorProto, helper

        m = self.manifest
        model = onnx.load_from_string(graph)
        made = {o for node in model.graph.node for o in node.output}
        if CRITIC_RISK_BEFORE_GUARD not in made:
            raise CriticBundleError(
                f"{self.path / m.graph_file}: critic {self.bundle_id} records a corner guard but "
                f"its graph has no tensor {CRITIC_RISK_BEFORE_GUARD!r}; add the guard with "
                "`safevla train corner-guard` to the critic without it"
            )
        shape = ["batch", len(m.actions), len(m.categories)]
        model.graph.output.append(
            helper.make_tensor_value_info(CRITIC_RISK_BEFORE_GUARD, TensorProto.FLOAT, shape)
        )
        return model.SerializeToString()

    def _check_graph(self) -> None:
        m = self.manifest
        frame = [3, m.image.height, m.image.width]
        slot = [m.feature_dim] if self.encoder is not None else frame
        want = {
            m.graph_inputs[0]: ["batch", m.history_length, *slot],
            "prev_actions": ["batch", m.history_length],
            "risk": ["batch", len(m.actions), len(m.categories)],
        }
        if m.corner_guard:
            want[CRITIC_RISK_BEFORE_GUARD] = want["risk"]
        if m.bump_input:
            want[CRITIC_BUMP_INPUT] = ["batch", m.history_length, len(BUMP_FIELDS)]
        if m.scan_input:
            want[CRITIC_SCAN_INPUT] = ["batch", SCAN_BEAMS]
        if m.object_scan_input:
            want[CRITIC_OBJECT_SCAN_INPUT] = ["batch", SCAN_BEAMS]
        if m.proprio_input:
            want[CRITIC_PROPRIO_INPUT] = ["batch", len(PROPRIO_FIELDS)]
        self._check_tensors(self.session, m.graph_file, want)
        if self.encoder is not None:
            want = {
                ENCODER_INPUTS[0]: ["batch", *frame],
                ENCODER_OUTPUTS[0]: ["batch", m.feature_dim],
            }
            self._check_tensors(self.encoder, m.encoder_graph_file, want)

    def _check_tensors(self, session, graph_file: str, want: dict[str, list]) -> None:
        """The graph's tensor names and shapes against what the manifest implies."""
        where = self.path / graph_file
        got = {t.name: list(t.shape) for t in (*session.get_inputs(), *session.get_outputs())}
        names = sorted(want)
        if sorted(got) != names:
            raise CriticBundleError(
                f"{where}: graph tensors {sorted(got)} are not {names}; re-export the critic"
            )
        for name, shape in want.items():
            g = got[name]
            if len(g) != len(shape) or any(
                isinstance(a, int) and isinstance(b, int) and a != b for a, b in zip(g, shape)
            ):
                raise CriticBundleError(
                    f"{where}: tensor {name!r} has shape {g}, critic.json's image spec, history, "
                    f"feature size and action space need {shape}; re-export the critic"
                )

    def reset(self) -> None:
        """Start a new episode: empty history."""
        self.history.reset()
        self.steps = 0

    def encode(self, frame: np.ndarray) -> EncodedFrame:
        """What the history keeps of ``frame``: preprocessed by the bundle's image spec and,
        for a frozen-encoder critic, its feature (one encoder pass).

        Raises:
            ValueError: a frame that is not an (H, W, 3) uint8 RGB image (naming the value).
        """
        x = preprocess_rgb(frame, self.manifest.image)
        if self.encoder is not None:
            (feat,) = self.encoder.run(list(ENCODER_OUTPUTS), {ENCODER_INPUTS[0]: x[None]})
            x = feat[0]
        return EncodedFrame(x, self.bundle_id)

    def step(
        self,
        frame: np.ndarray | EncodedFrame,
        prev_action: int | None = None,
        bump=None,
        scan=None,
        proprio=None,
        scan_objects=None,
        holding: bool | None = None,
        wrist_yaw: float = 0.0,
        scan_arm=None,
    ) -> CriticVerdict:
        """Risk of every action in the state that ``frame`` shows.

        Args:
            frame: (H, W, 3) uint8 RGB camera frame, any size, or this critic's
                :meth:`encode` of one (made earlier, e.g. when the frame arrived).
            prev_action: the action executed just before this frame (None = none yet).
            bump: the motion feedback of that action, (blocked, collided) as 0/1 (zeros at
                episode start). Required when the critic takes it (:attr:`takes_bump`),
                ignored otherwise.
            scan: the range scan at this frame (SCAN_BEAMS ranges, metres; +inf = no return).
                Required when the critic takes it (:attr:`takes_scan`), ignored otherwise.
            proprio: the arm's joint state at this frame (lift height, arm extension, metres).
                Required when the critic takes it (:attr:`takes_proprio`), ignored otherwise.
            scan_objects: the same scan with the building's static structure removed (a
                scan filtered against a static map). Required when the critic takes it
                (:attr:`takes_object_scan`), ignored otherwise.
            holding: the gripper holds an object (True), is empty (False) or nobody said
                (None). The clear pass (:attr:`has_clear_pass`) sets the risks of the base
                motions that clear the scan to 0 only when it is False (the footprint does
                not cover a held object) and, with ``clear_pass_quiet`` K, no motion
                feedback of the last K frames reported contact.
            wrist_yaw: the wrist's yaw at this frame (rad from its zero, counter-clockwise;
                0 for a robot without one): the clear pass's footprint turns the gripper by
                it (:func:`safevla_core.footprint.clear_pass`).
            scan_arm: the arm scan at this frame (the range scan over the heights the arm
                occupies, as ``scan``), or None: with the bundle's ``clear_pass_arm`` the
                clear pass also takes the telescoping arm's motions whose swept footprint
                clears it (without one, only the lift's motions).

        Raises:
            ValueError: ``prev_action`` out of range, or a critic taking the motion feedback,
                the scan or the joint state and ``bump``, ``scan`` or ``proprio`` missing or
                malformed (naming the value).
        """
        prev = PREV_ACTION_NONE if prev_action is None else int(prev_action)
        if not 0 <= prev <= PREV_ACTION_NONE:
            raise ValueError(f"prev_action {prev_action} out of range 0..{PREV_ACTION_NONE}")
        fb = check_bump(bump, self.bundle_id) if self.takes_bump else None
        ranges = check_scan(scan, self.bundle_id) if self.takes_scan else None
        arm = check_proprio(proprio, self.bundle_id) if self.takes_proprio else None
        things = None
        if self.takes_object_scan:
            things = check_scan(
                scan_objects, self.bundle_id, "object scan (scan_objects)", "scan_objects_topic"
            )
        if not isinstance(frame, EncodedFrame):
            frame = self.encode(frame)
        elif frame.bundle_id != self.bundle_id:
            raise ValueError(
                f"frame encoded by critic {frame.bundle_id}, not by {self.bundle_id}; encode "
                "it with the critic that judges it"
            )
        self.history.push((frame.value, fb), prev)
        items = self.history.items
        feed = {
            self._slots: np.stack([i[0] for i in items])[None],
            "prev_actions": np.array([self.history.actions], np.int64),
        }
        if self.takes_bump:
            feed[CRITIC_BUMP_INPUT] = np.stack([i[1] for i in items])[None]
        if ranges is not None:
            feed[CRITIC_SCAN_INPUT] = ranges[None]
        if things is not None:
            feed[CRITIC_OBJECT_SCAN_INPUT] = things[None]
        if self.manifest.proprio_input:
            feed[CRITIC_PROPRIO_INPUT] = arm[None]
        risk, *before = self.session.run(self._outputs, feed)
        risk = risk[0]
        unguarded = before[0][0] if before else None
        outputs = (risk,) if unguarded is None else (risk, unguarded)
        if not all(np.all(np.isfinite(r)) and r.min() >= 0 and r.max() <= 1 for r in outputs):
            raise CriticOutputError(
                f"critic {self.bundle_id} produced a risk outside [0, 1] (or NaN) at step "
                f"{self.steps}; the model or its input is broken - stop the robot"
            )
        self.steps += 1
        passed = None
        if self.has_clear_pass:
            passed = np.zeros(len(risk), bool)
            quiet = self.manifest.clear_pass_quiet
            touched = quiet and any(np.max(fb) > 0 for _, fb in items[-quiet:])
            if holding is False and not touched:
                ext = arm[PROPRIO_FIELDS.index("arm_extension")]
                arm_pass = self.manifest.clear_pass_arm
                arm_ranges = None
                if arm_pass and scan_arm is not None:
                    arm_ranges = check_scan(scan_arm, self.bundle_id, "arm scan", "scan_arm_topic")
                passed = clear_pass(
                    ranges[None],
                    ext,
                    self.manifest.clear_pass_m,
                    [check_wrist_yaw(wrist_yaw)],
                    arm=arm_pass,
                    arm_ranges=arm_ranges,
                )[0]
                risk = np.where(passed[:, None], np.float32(0.0), risk)
                if unguarded is not None:
                    unguarded = np.where(passed[:, None], np.float32(0.0), unguarded)
        blocked, allowed = allowed_mask(risk, self.thresholds)
        return CriticVerdict(
            risk=risk,
            thresholds=self.thresholds,
            blocked=blocked,
            allowed=allowed,
            action_names=self.manifest.actions,
            categories=self.manifest.categories,
            passed=passed,
            unguarded=unguarded,
        )
