"""The safety-critic bundle: the critic's own ONNX graph and its manifest, one folder.

Layout::

    <critic bundle>/
        critic.json    # manifest: format, action space, cost categories, image spec, history
                       # length, label meaning, calibration (alpha, per-category thresholds,
                       # event counts, measured test miss / false-veto rates), sha256 of files
        critic.onnx    # frames (batch, T, 3, H, W) + prev_actions (batch, T) -> risk (batch, A, C)
        critic.json.sig  # optional: Ed25519 signature of the exact critic.json bytes

A critic on a frozen frame encoder (``encoder_graph_file`` set) has two graphs: the encoder
runs once per new frame and the runtime keeps the last T features, so a step costs one
encoder pass whatever T is::

        critic_encoder.onnx  # frame (batch, 3, H, W) -> feature (batch, D)
        critic.onnx          # features (batch, T, D) + prev_actions (batch, T) -> risk

A critic that reads the motion feedback (``bump_input``) takes a third input, the feedback of
the action executed just before each of the T frames (:data:`safevla_core.actions.BUMP_FIELDS`,
0/1: blocked, collided)::

        critic.onnx          # ... + bump (batch, T, 2) -> risk

Most cost events happen while the robot is already in contact (docs/safety_critic.md, "Where
the cost arises"), a state the camera shows poorly and the base's bumper reports exactly.

The critic is a separate model from the policy (no shared weights) so that a policy whose own
``cost_q`` head is wrong is not also the judge of its actions. Its bundle follows the policy
bundle's conventions (:mod:`safevla_core.bundle`): every file listed with its size and sha256
and verified at load, paths confined to the folder, and every refusal one message naming the
value and the fix. What the runtime depends on is checked against this stack's facts: the
action space (:mod:`safevla_core.actions`) and the cost categories
(:data:`safevla_core.safety_spec.SAFETY_SPEC`) must be this stack's, and the image spec must be
a valid :class:`ImageSpec` (and equal to one the caller expects, if it names one).

Origin, as for policy bundles (:mod:`safevla_core.signing`): ``safevla train critic
--sign-key KEY`` writes ``critic.json.sig``, a detached Ed25519 signature of the exact bytes of
critic.json (which holds the sha256 of every other file, so it covers the bundle; the signature
itself is not listed). With a ``verify_key`` configured, :func:`load_critic_bundle` refuses an
unsigned critic or one whose signature does not verify; without one it is ignored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from safevla_core.actions import ACTION_NAMES, NUM_ACTIONS
from safevla_core.bundle import BundleError, confined_path, sha256_file
from safevla_core.bundle_manifest import ONNX_OPSET
from safevla_core.footprint import PASS_MAX_M
from safevla_core.image_preprocessing import ImageSpec
from safevla_core.safety_spec import SAFETY_SPEC
from safevla_core.signing import SigningError, sign_manifest, signature_file, verify_manifest

CRITIC_FORMAT = "safevla-critic-bundle"
CRITIC_FORMAT_VERSION = 1
CRITIC_MANIFEST = "critic.json"
CRITIC_SIGNATURE_FILE = signature_file(CRITIC_MANIFEST)  # critic.json.sig, not in 'files'
# How to sign (or re-sign) a critic: a re-run of the same training run reuses its data and
# weights and only recalibrates and re-exports (seconds).
CRITIC_SIGN_HINT = "safevla train critic --out RUN --sign-key KEY"
CRITIC_GRAPH = "critic.onnx"
# The critic graph's inputs and output, in the order of SafetyCriticNet.forward.
CRITIC_INPUTS: tuple[str, ...] = ("frames", "prev_actions")
CRITIC_OUTPUTS: tuple[str, ...] = ("risk",)
# inside a graph that ends in the corner guard (``corner_guard`` in critic.json): the critic's own
# risk before the guard raised it (safevla_train.critic_guard names it; the monitor reads it to
# give a guard veto back where a motion only moves away from what it touches)
CRITIC_RISK_BEFORE_GUARD = "critic/risk_before_guard"
# With a frozen encoder: the encoder graph's tensors, and the critic graph's inputs.
CRITIC_ENCODER_GRAPH = "critic_encoder.onnx"
ENCODER_INPUTS: tuple[str, ...] = ("frame",)
ENCODER_OUTPUTS: tuple[str, ...] = ("feature",)
FEATURE_CRITIC_INPUTS: tuple[str, ...] = ("features", "prev_actions")
CRITIC_BUMP_INPUT = "bump"  # an optional input: (batch, T, len(BUMP_FIELDS)) float32
CRITIC_SCAN_INPUT = "scan"  # an optional input: (batch, SCAN_BEAMS) float32 metres
# an optional input after the scan: the same rays with the static structure removed (metres)
CRITIC_OBJECT_SCAN_INPUT = "scan_objects"
# the optional last input: (batch, len(PROPRIO_FIELDS)) float32, the arm's joint state in metres
CRITIC_PROPRIO_INPUT = "proprio"
PREV_ACTION_NONE = NUM_ACTIONS  # the prev_actions value before the first action of an episode


class CriticBundleError(BundleError):
    """A critic bundle cannot be used; the message names the file or value and the fix."""


@dataclass(frozen=True)
class CriticManifest:
    """The parsed critic.json.

    Attributes:
        name: bundle name.
        actions: action names, the order of the graph's action axis.
        categories: cost categories, the order of its last axis.
        safety_spec_version: version of the cost predicates the labels came from.
        image: how a camera frame becomes one ``frames`` slot.
        history_length: T, frames (newest last) and previous actions per input.
        prev_action_none: the ``prev_actions`` value for "no action yet".
        label: what a risk predicts (horizon, definition), free-form.
        alpha: the calibration's target expected miss rate.
        thresholds: per category, veto when risk >= threshold.
        calibration: per category, the calibration report
            (:class:`safevla_core.conformal.CategoryCalibration` as a dict); with
            ``calibration_target`` "any" also the union's report under "any".
        calibration_target: "category" (a threshold per category, each with its guarantee)
            or "any" (one threshold for all, the guarantee on any cost event).
        graph_file: the ONNX graph's file name in the folder.
        opset: its ONNX opset.
        encoder_graph_file: the frame encoder's graph ("" = none: ``graph_file`` takes the
            frames themselves).
        feature_dim: D, the size of one encoded frame (with an encoder graph; else 0).
        bump_input: the graph also takes the motion feedback of the action before each frame
            (input ``bump``); the monitor then needs the robot's MotionFeedback.
        scan_input: the graph also takes the range scan at the newest frame (input ``scan``,
            :data:`safevla_core.actions.SCAN_BEAMS` ranges); the monitor then needs a
            LaserScan on its ``scan_topic``.
        proprio_input: the graph also takes the arm's joint state at the newest frame (input
            ``proprio``: lift height, arm extension in metres,
            :data:`safevla_core.actions.PROPRIO_FIELDS`); the monitor then needs a JointState
            on its ``joint_states_topic``.
        object_scan_input: the graph also takes the range scan with the building's static
            structure removed (input ``scan_objects``, after ``scan``: walls and floor return
            nothing, as in a scan filtered against a static map); the monitor then needs a
            LaserScan on its ``scan_objects_topic``.
        corner_guard: the graph ends in the corner guard (the benchmark's corner predicate
            from the range scan, :mod:`safevla_train.critic_guard`): its settings
            (``clearance_m``, ``min_free_points``, ...); empty = none. A record only: the guard
            is inside the graph, the runtime feeds nothing new.
        clear_pass_m: the runtime's clear pass (:mod:`safevla_core.footprint`): a base motion
            whose swept footprint, the arm at its extension, clears every scan return by at
            least this much (metres) has risk 0 while the gripper is known to be empty; the
            thresholds were calibrated with it. 0 = none. Needs the range scan (scan_input);
            the monitor then also needs the arm's joint state and the holding flag.
        clear_pass_quiet: with the clear pass, it holds only when none of the motion feedbacks
            of the last this many frames reported contact (0 = always): objects a strike
            set moving keep moving, and those states are left to the learnt risks. Needs
            bump_input and at most history_length.
        clear_pass_arm: the clear pass also lets through the arm's motions: the lift's
            (``arm_up``, ``arm_down``, small or not) where the footprint as the robot stands
            clears every scan return by ``clear_pass_m``, and, given the arm scan, the
            telescoping arm's (``arm_out``, ``arm_in``, small or not) whose swept footprint
            clears it by as much (:mod:`safevla_core.footprint`, "The arm pass"). Needs the
            clear pass.
        training: free-form record of how the critic was trained.
        created_utc: ISO time of the export.
        files: file name -> {"sha256", "bytes"}.
    """

    name: str
    actions: tuple[str, ...]
    categories: tuple[str, ...]
    safety_spec_version: str
    image: ImageSpec
    history_length: int
    prev_action_none: int
    label: dict
    alpha: float
    thresholds: dict[str, float]
    calibration: dict[str, dict]
    graph_file: str = CRITIC_GRAPH
    opset: int = ONNX_OPSET
    training: dict = field(default_factory=dict)
    created_utc: str | None = None
    files: dict[str, dict] = field(default_factory=dict)
    encoder_graph_file: str = ""
    feature_dim: int = 0
    bump_input: bool = False
    scan_input: bool = False
    calibration_target: str = "category"
    proprio_input: bool = False
    object_scan_input: bool = False
    corner_guard: dict = field(default_factory=dict)
    clear_pass_m: float = 0.0
    clear_pass_quiet: int = 0
    clear_pass_arm: bool = False

    @property
    def graph_inputs(self) -> tuple[str, ...]:
        """The critic graph's input names (frames, or encoded features, + actions [+ bump]
        [+ scan] [+ proprio])."""
        names = FEATURE_CRITIC_INPUTS if self.encoder_graph_file else CRITIC_INPUTS
        names += (CRITIC_BUMP_INPUT,) if self.bump_input else ()
        names += (CRITIC_SCAN_INPUT,) if self.scan_input else ()
        names += (CRITIC_OBJECT_SCAN_INPUT,) if self.object_scan_input else ()
        return names + ((CRITIC_PROPRIO_INPUT,) if self.proprio_input else ())

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["image"] = dataclasses.asdict(self.image)
        # older bundles read the same without them
        for key in (
            "object_scan_input",
            "corner_guard",
            "clear_pass_m",
            "clear_pass_quiet",
            "clear_pass_arm",
        ):
            if not d[key]:
                del d[key]
        for k in ("actions", "categories"):
            d[k] = list(d[k])
        d["image"]["mean"], d["image"]["std"] = list(self.image.mean), list(self.image.std)
        return {"format": CRITIC_FORMAT, "format_version": CRITIC_FORMAT_VERSION, **d}

    @classmethod
    def from_dict(cls, d: dict, where: str) -> CriticManifest:
        """Parse and type-check; ``where`` (the file) prefixes every error."""
        if not isinstance(d, dict) or d.get("format") != CRITIC_FORMAT:
            raise CriticBundleError(
                f"{where}: format is not {CRITIC_FORMAT!r}; this is not a safety-critic bundle "
                "(write one with `safevla train critic`)"
            )
        if d.get("format_version") != CRITIC_FORMAT_VERSION:
            raise CriticBundleError(
                f"{where}: format_version {d.get('format_version')!r} is not supported (this "
                f"runtime reads {CRITIC_FORMAT_VERSION}); re-export with a matching trainer"
            )
        body = {k: v for k, v in d.items() if k not in ("format", "format_version")}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(body) - known)
        missing = sorted(
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in body
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        )
        if unknown or missing:
            raise CriticBundleError(
                f"{where}: unknown keys {unknown}, missing keys {missing}; re-export the critic"
            )
        try:
            body["image"] = ImageSpec(**body["image"])
            body["actions"] = tuple(str(a) for a in body["actions"])
            body["categories"] = tuple(str(c) for c in body["categories"])
            body["thresholds"] = {str(k): float(v) for k, v in body["thresholds"].items()}
            for key in ("history_length", "prev_action_none", "feature_dim"):
                if key in body and (isinstance(body[key], bool) or not isinstance(body[key], int)):
                    raise TypeError(f"{key} = {body[key]!r} must be an integer")
            flags = ("bump_input", "scan_input", "proprio_input", "object_scan_input")
            for key in (*flags, "clear_pass_arm"):
                if not isinstance(body.get(key, False), bool):
                    raise TypeError(f"{key} = {body[key]!r} must be true or false")
            guard = body.get("corner_guard", {})
            if not isinstance(guard, dict) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in guard.values()
            ):
                raise TypeError(f"corner_guard = {guard!r} must map setting names to numbers")
            if guard and not body.get("scan_input", False):
                raise ValueError("corner_guard needs the range scan (scan_input true)")
            cp = body.get("clear_pass_m", 0.0)
            if isinstance(cp, bool) or not isinstance(cp, (int, float)):
                raise TypeError(f"clear_pass_m = {cp!r} must be a number of metres")
            if not 0.0 <= cp <= PASS_MAX_M:
                raise ValueError(f"clear_pass_m = {cp!r} must lie in [0, {PASS_MAX_M}] m")
            if cp and not body.get("scan_input", False):
                raise ValueError("clear_pass_m needs the range scan (scan_input true)")
            body["clear_pass_m"] = float(cp)
            quiet = body.get("clear_pass_quiet", 0)
            if isinstance(quiet, bool) or not isinstance(quiet, int):
                raise TypeError(f"clear_pass_quiet = {quiet!r} must be an integer")
            if quiet and not (cp and body.get("bump_input", False)):
                raise ValueError("clear_pass_quiet needs the clear pass and bump_input")
            if body.get("clear_pass_arm", False) and not cp:
                raise ValueError("clear_pass_arm needs the clear pass (clear_pass_m > 0)")
            if not 0 <= quiet <= body["history_length"]:
                raise ValueError(
                    f"clear_pass_quiet = {quiet} must lie in [0, history_length "
                    f"{body['history_length']}]"
                )
            if not isinstance(body.get("encoder_graph_file", ""), str):
                raise TypeError("encoder_graph_file must be a file name (or empty)")
            body["alpha"] = float(body["alpha"])
            bad = {k: v for k, v in body["thresholds"].items() if not 0.0 <= v <= 1.0}
            if bad:
                raise ValueError(f"thresholds {bad} must lie in [0, 1] (risks are probabilities)")
            target = body.get("calibration_target", "category")
            if target not in ("category", "any"):
                raise ValueError(f"calibration_target = {target!r} must be 'category' or 'any'")
            if target == "any" and len(set(body["thresholds"].values())) > 1:
                raise ValueError(
                    f"thresholds {body['thresholds']} differ, but a critic calibrated on any "
                    "event has one threshold for every category"
                )
            files = body.get("files", {})
            if not isinstance(files, dict) or not all(
                isinstance(e, dict) and {"sha256", "bytes"} <= set(e) for e in files.values()
            ):
                raise ValueError("files must map file names to {'sha256', 'bytes'} entries")
        except (TypeError, ValueError, AttributeError) as exc:
            raise CriticBundleError(f"{where}: {exc}; re-export the critic") from None
        return cls(**body)


def check_contract(m: CriticManifest, where: str, image: ImageSpec | None = None) -> None:
    """The manifest against this stack's action space, categories and (optionally) the image
    spec the caller feeds.

    Raises:
        CriticBundleError: naming the mismatched value and the fix.
    """
    if m.actions != ACTION_NAMES:
        raise CriticBundleError(
            f"{where}: action space {list(m.actions)} differs from this stack's "
            f"{list(ACTION_NAMES)}; retrain the critic (`safevla train critic`) on this stack"
        )
    if m.categories != SAFETY_SPEC.categories:
        raise CriticBundleError(
            f"{where}: cost categories {list(m.categories)} differ from this stack's safety "
            f"spec {list(SAFETY_SPEC.categories)} (version {SAFETY_SPEC.version}); retrain the "
            "critic against this safety spec"
        )
    if set(m.thresholds) != set(m.categories):
        raise CriticBundleError(
            f"{where}: thresholds are given for {sorted(m.thresholds)}, the critic predicts "
            f"{list(m.categories)}; re-run the calibration and re-export"
        )
    if m.history_length < 1 or m.prev_action_none != PREV_ACTION_NONE:
        raise CriticBundleError(
            f"{where}: history_length {m.history_length} (must be >= 1) or prev_action_none "
            f"{m.prev_action_none} (must be {PREV_ACTION_NONE}) is wrong; re-export the critic"
        )
    if bool(m.encoder_graph_file) != (m.feature_dim > 0):
        raise CriticBundleError(
            f"{where}: encoder_graph_file {m.encoder_graph_file!r} and feature_dim "
            f"{m.feature_dim} disagree (an encoder graph needs a feature size > 0, and only "
            "an encoder graph has one); re-export the critic"
        )
    if image is not None and m.image != image:
        raise CriticBundleError(
            f"{where}: image spec {dataclasses.asdict(m.image)} differs from the expected "
            f"{dataclasses.asdict(image)}; feed frames prepared for the critic's spec or "
            "retrain the critic at that image size and normalisation"
        )


def write_critic_bundle(folder: str | os.PathLike, manifest: CriticManifest) -> Path:
    """Hash every file already in ``folder`` (except critic.json and its signature, which is
    made from the finished critic.json: :func:`sign_critic_bundle`) into the manifest and write
    critic.json."""
    folder = Path(folder)
    files = {
        p.relative_to(folder).as_posix(): {"sha256": sha256_file(p), "bytes": p.stat().st_size}
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in (CRITIC_MANIFEST, CRITIC_SIGNATURE_FILE)
    }
    manifest = dataclasses.replace(manifest, files=files)
    out = folder / CRITIC_MANIFEST
    out.write_text(json.dumps(manifest.to_dict(), indent=2) + "\n", encoding="utf-8")
    return out


def sign_critic_bundle(folder: str | os.PathLike, key_path: str | os.PathLike) -> Path:
    """Sign ``<folder>/critic.json`` with the Ed25519 private key (PEM) in ``key_path``;
    writes and returns ``<folder>/critic.json.sig``.

    Raises:
        safevla_core.signing.SigningError: the key is missing or not an Ed25519 private key.
    """
    return sign_manifest(folder, key_path, CRITIC_MANIFEST)


def load_critic_bundle(
    path: str | os.PathLike,
    image: ImageSpec | None = None,
    verify_key: str | os.PathLike | None = None,
) -> tuple[Path, CriticManifest, str]:
    """Load and verify a critic bundle: ``(folder, manifest, bundle_id)``.

    Checks, with ``verify_key``, that critic.json carries an Ed25519 signature by that key
    (``critic.json.sig``, :mod:`safevla_core.signing`); then the manifest's format and types,
    the contract (:func:`check_contract`), and that every listed file lies inside the folder
    with its recorded size and sha256.

    Args:
        path: the critic bundle folder.
        image: the image spec the caller feeds (refused if the critic's differs); None
            accepts the bundle's.
        verify_key: PEM public key the critic must be signed with; None accepts unsigned
            critics (integrity is still checked, origin is not).

    Raises:
        CriticBundleError: naming the file or value and the fix.
    """
    folder = Path(path)
    mpath = folder / CRITIC_MANIFEST
    if not mpath.is_file():
        raise CriticBundleError(
            f"{mpath} is missing; pass the folder written by `safevla train critic` "
            "(its bundle/ holds critic.json and critic.onnx)"
        )
    # Read once: the bytes whose signature is checked are the bytes that are parsed and hashed.
    try:
        raw = mpath.read_bytes()
    except OSError as exc:
        raise CriticBundleError(f"cannot read {mpath}: {exc.strerror}") from None
    if verify_key is not None:
        try:
            verify_manifest(raw, folder / CRITIC_SIGNATURE_FILE, verify_key, CRITIC_SIGN_HINT)
        except SigningError as exc:
            raise CriticBundleError(f"critic bundle {folder}: {exc}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CriticBundleError(f"{mpath} is not valid JSON ({exc}); re-export it") from None
    m = CriticManifest.from_dict(data, str(mpath))
    check_contract(m, str(mpath), image)
    for graph in filter(None, (m.graph_file, m.encoder_graph_file)):
        if graph not in m.files:
            raise CriticBundleError(f"{mpath}: graph {graph!r} is not listed under 'files'")
    for rel, entry in m.files.items():
        p = confined_path(folder, rel)
        if not p.is_file():
            raise CriticBundleError(f"critic bundle file {p} is missing; copy the whole folder")
        if p.stat().st_size != entry.get("bytes") or sha256_file(p) != entry.get("sha256"):
            raise CriticBundleError(
                f"critic bundle file {p} fails its size/sha256 check against {mpath}: it was "
                "modified or corrupted; restore the original or re-export the critic"
            )
    return folder, m, f"{m.name}@{hashlib.sha256(raw).hexdigest()[:12]}"
