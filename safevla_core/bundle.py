"""The model bundle: one folder that is the unit of deployment (format: docs/bundle.md).

Layout::

    <bundle>/
        bundle.json    # manifest: format version, action space, image spec, instruction encoder,
                       # history/cache spec, cost categories + safety spec, ONNX I/O, training
                       # config, evaluation summary, sha256 + size of every other file
        policy.onnx    # one graph: actor, reward critic, cost critic and per-action,
                       # per-category cost critic Q_c(s, a)

The trainer writes it (:func:`write_bundle`); the policy node, the safety monitor, the evaluator
and the benchmarks read it only through :func:`load_bundle`, which verifies every file so a
missing, truncated or tampered model never runs.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safevla_core.actions import ACTION_NAMES
from safevla_core.safety_spec import SafetySpec

BUNDLE_FORMAT = "safevla-bundle"
FORMAT_VERSION = 1
SUPPORTED_FORMAT_VERSIONS = (1,)
MANIFEST = "bundle.json"
POLICY_GRAPH = "policy.onnx"
REQUIRED_KEYS = (
    "format",
    "format_version",
    "name",
    "actions",
    "image",
    "instruction_encoder",
    "history",
    "cost",
    "graph",
    "files",
)


class BundleError(Exception):
    """A bundle cannot be used; the message names the file and how to fix it."""


@dataclass(frozen=True)
class ImageSpec:
    """How a camera frame becomes the policy's ``image`` input.

    ``x = ((resize(frame, width x height) / 255) - mean) / std``, channels RGB, layout NCHW.
    """

    camera: str
    height: int
    width: int
    channel_order: str
    layout: str
    resize: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


@dataclass(frozen=True)
class Bundle:
    """A verified bundle.

    Attributes:
        path: the bundle folder.
        manifest: the parsed bundle.json.
        name: bundle name.
        bundle_id: ``name@<first 12 hex of sha256(bundle.json)>``, for messages and logs.
        action_names: action space, in logit order.
        cost_categories: cost categories, in the order of the last axis of ``cost_q``.
        safety_spec: the spec the cost critic was trained against.
        image: preprocessing of the camera frame.
        context_length: K, steps each attention layer sees (newest included).
        policy_path: path of the ONNX graph.
    """

    path: Path
    manifest: dict
    name: str
    bundle_id: str
    action_names: tuple[str, ...]
    cost_categories: tuple[str, ...]
    safety_spec: SafetySpec
    image: ImageSpec
    context_length: int
    policy_path: Path

    @property
    def render_size(self) -> tuple[int, int] | None:
        """(H, W) of the camera frames the policy was trained on (before the runtime's resize),
        from ``training.config.env.nav_size``; None when the manifest does not record it.
        Simulators should render at this size so deployment sees what training saw."""
        env = ((self.manifest.get("training") or {}).get("config") or {}).get("env") or {}
        size = env.get("nav_size")
        if isinstance(size, (list, tuple)) and len(size) == 2:
            return int(size[0]), int(size[1])
        return None

    @property
    def instruction_encoder(self) -> dict:
        """Instruction encoder spec: name, package, dim, normalize."""
        return self.manifest["instruction_encoder"]

    @property
    def history(self) -> dict:
        """History/cache spec (see docs/bundle.md)."""
        return self.manifest["history"]

    @property
    def cost_q(self) -> dict:
        """What the per-action cost critic predicts (target, gamma, units)."""
        return self.manifest["cost"]["cost_q"]


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_bundle(folder: str | os.PathLike, manifest: dict) -> Path:
    """Hash every file in ``folder`` (except bundle.json) into ``manifest["files"]`` and write
    bundle.json. The caller has already written the graph(s) into ``folder``.

    Returns:
        path of the written bundle.json.
    """
    folder = Path(folder)
    files = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            rel = p.relative_to(folder).as_posix()
            files[rel] = {"sha256": sha256_file(p), "bytes": p.stat().st_size}
    manifest = dict(manifest, files=files)
    manifest.setdefault("format", BUNDLE_FORMAT)
    manifest.setdefault("format_version", FORMAT_VERSION)
    out = folder / MANIFEST
    out.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return out


def load_bundle(path: str | os.PathLike) -> Bundle:
    """Load and verify a bundle folder.

    Checks: the folder and bundle.json exist; bundle.json is JSON with every required key; the
    format and version are known; every listed file exists with the recorded size and sha256;
    the graph is listed; actions and cost categories are consistent with the manifest's shapes.

    Raises:
        BundleError: naming the offending file/key and the fix.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise BundleError(
            f"model bundle folder {str(folder)!r} does not exist; pass the folder written by "
            "`safevla export` (it holds bundle.json and policy.onnx)"
        )
    manifest = _read_manifest(folder)
    _verify_files(folder, manifest)
    return _build(folder, manifest)


def _read_manifest(folder: Path) -> dict:
    mpath = folder / MANIFEST
    if not mpath.is_file():
        raise BundleError(
            f"{mpath} is missing; this folder is not a model bundle - re-export it with "
            "`safevla export`"
        )
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(
            f"{mpath} is not valid JSON ({exc}); restore it from the exported bundle or "
            "re-export with `safevla export`"
        ) from None
    if not isinstance(manifest, dict):
        raise BundleError(f"{mpath} must hold a JSON object; re-export with `safevla export`")
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(
            f"{mpath}: format {manifest.get('format')!r} is not {BUNDLE_FORMAT!r}; this is not a "
            "safevla model bundle"
        )
    version = manifest.get("format_version")
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise BundleError(
            f"{mpath}: format_version {version!r} is not supported (this runtime reads "
            f"{list(SUPPORTED_FORMAT_VERSIONS)}); upgrade safevla_ros or re-export the bundle "
            "with a matching trainer"
        )
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing:
        raise BundleError(
            f"{mpath} lacks required keys {missing}; re-export the bundle with `safevla export`"
        )
    return manifest


def _verify_files(folder: Path, manifest: dict) -> None:
    files = manifest["files"]
    if not isinstance(files, dict) or not files:
        raise BundleError(f"{folder / MANIFEST}: 'files' must map file names to sha256 entries")
    graph = manifest["graph"].get("file", POLICY_GRAPH)
    if graph not in files:
        raise BundleError(
            f"{folder / MANIFEST}: graph file {graph!r} is not listed under 'files'; re-export"
        )
    for rel, entry in files.items():
        p = folder / rel
        if not p.is_file():
            raise BundleError(
                f"bundle file {p} is missing; copy the complete bundle folder (bundle.json "
                "lists every file) or re-export it with `safevla export`"
            )
        if "bytes" in entry and p.stat().st_size != entry["bytes"]:
            raise BundleError(
                f"bundle file {p} has {p.stat().st_size} bytes, bundle.json records "
                f"{entry['bytes']}: truncated or replaced; restore the original or re-export"
            )
        digest = sha256_file(p)
        if digest != entry.get("sha256"):
            raise BundleError(
                f"bundle file {p} fails its sha256 check (got {digest[:16]}..., bundle.json "
                f"records {str(entry.get('sha256'))[:16]}...): it was modified or corrupted; "
                "restore the original or re-export with `safevla export`"
            )


def _build(folder: Path, manifest: dict) -> Bundle:
    mpath = folder / MANIFEST
    try:
        action_names = tuple(a["name"] for a in manifest["actions"])
        im = manifest["image"]
        image = ImageSpec(
            camera=str(im["camera"]),
            height=int(im["height"]),
            width=int(im["width"]),
            channel_order=str(im["channel_order"]),
            layout=str(im["layout"]),
            resize=str(im.get("resize", "area")),
            mean=tuple(float(v) for v in im["mean"]),
            std=tuple(float(v) for v in im["std"]),
        )
        spec = SafetySpec.from_dict(manifest["cost"]["safety_spec"])
        categories = tuple(manifest["cost"]["categories"])
        context = int(manifest["history"]["context_length"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleError(f"{mpath}: malformed entry ({exc!r}); re-export the bundle") from None
    if image.channel_order != "RGB" or image.layout != "NCHW":
        raise BundleError(
            f"{mpath}: image channel_order/layout {image.channel_order}/{image.layout} "
            "unsupported (need RGB/NCHW); re-export the bundle"
        )
    if action_names != ACTION_NAMES:
        raise BundleError(
            f"{mpath}: action space {list(action_names)} differs from this stack's "
            f"{list(ACTION_NAMES)}; use a bundle trained for the Safety-CHORES action space"
        )
    if categories != spec.categories:
        raise BundleError(
            f"{mpath}: cost categories {list(categories)} differ from the bundle's safety spec "
            f"{list(spec.categories)}; re-export the bundle"
        )
    digest = sha256_file(mpath)
    return Bundle(
        path=folder,
        manifest=manifest,
        name=str(manifest["name"]),
        bundle_id=f"{manifest['name']}@{digest[:12]}",
        action_names=action_names,
        cost_categories=categories,
        safety_spec=spec,
        image=image,
        context_length=context,
        policy_path=folder / manifest["graph"].get("file", POLICY_GRAPH),
    )


def manifest_summary(bundle: Bundle) -> dict[str, Any]:
    """Short human-readable facts about a bundle (for logs and `safevla` output)."""
    return {
        "bundle_id": bundle.bundle_id,
        "actions": len(bundle.action_names),
        "image": f"{bundle.image.width}x{bundle.image.height} {bundle.image.channel_order}",
        "context_length": bundle.context_length,
        "cost_categories": list(bundle.cost_categories),
        "evaluation": bundle.manifest.get("evaluation", {}),
    }
