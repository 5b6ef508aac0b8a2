"""The model bundle: one folder that is the unit of deployment (format: docs/bundle.md).

Layout::

    <bundle>/
        bundle.json    # manifest: format version, action space, image spec, instruction encoder,
                       # history/cache spec, cost categories + safety spec, ONNX I/O, training
                       # config, evaluation summary, sha256 + size of every other file
        policy.onnx    # one graph: actor, reward critic, cost critic and per-action,
                       # per-category cost critic Q_c(s, a)

bundle.json is typed (:class:`safevla_core.bundle_manifest.BundleManifest`). The trainer's
export writes it (:func:`write_bundle`); the policy runtime, the nodes, the evaluator and the
benchmarks read it only through :func:`load_bundle`, which type-checks the manifest and verifies
every file so a missing, truncated or tampered model never runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safevla_core.actions import ACTION_NAMES
from safevla_core.bundle_manifest import (
    BUNDLE_FORMAT,
    GRAPH_INPUTS,
    GRAPH_OUTPUTS,
    POLICY_GRAPH,
    SUPPORTED_FORMAT_VERSIONS,
    BundleManifest,
    EncoderSpec,
    FileEntry,
    GraphSpec,
    HistorySpec,
    ManifestError,
)
from safevla_core.image_preprocessing import ImageSpec
from safevla_core.safety_spec import SafetySpec
from safevla_core.signing import SIGNATURE_FILE, SigningError, verify_manifest

__all__ = [
    "GRAPH_INPUTS",
    "GRAPH_OUTPUTS",
    "MANIFEST",
    "POLICY_GRAPH",
    "SIGNATURE_FILE",
    "Bundle",
    "BundleError",
    "BundleManifest",
    "ImageSpec",
    "load_bundle",
    "manifest_summary",
    "sha256_file",
    "write_bundle",
]

MANIFEST = "bundle.json"
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
class Bundle:
    """A verified bundle: its folder, its typed manifest and its id.

    Attributes:
        path: the bundle folder.
        manifest: the parsed, type-checked bundle.json.
        bundle_id: ``name@<first 12 hex of sha256(bundle.json)>``, for messages and logs.
    """

    path: Path
    manifest: BundleManifest
    bundle_id: str

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def action_names(self) -> tuple[str, ...]:
        """The action space, in logit order."""
        return tuple(a.name for a in self.manifest.actions)

    @property
    def cost_categories(self) -> tuple[str, ...]:
        """Cost categories, in the order of the last axis of ``cost_q``."""
        return self.manifest.cost.categories

    @property
    def safety_spec(self) -> SafetySpec:
        """The spec the cost critic was trained against."""
        return self.manifest.cost.safety_spec

    @property
    def image(self) -> ImageSpec:
        """How a camera frame becomes the graph's ``image`` input."""
        return self.manifest.image

    @property
    def render_size(self) -> tuple[int, int] | None:
        """(H, W) of the camera frames the policy was trained on (before the image resize);
        simulators render at this size so deployment sees what training saw. None when the
        manifest does not record it."""
        return self.manifest.render_size

    @property
    def instruction_encoder(self) -> EncoderSpec:
        return self.manifest.instruction_encoder

    @property
    def history(self) -> HistorySpec:
        return self.manifest.history

    @property
    def context_length(self) -> int:
        """K, steps each attention layer sees (newest included)."""
        return self.manifest.history.context_length

    @property
    def graph(self) -> GraphSpec:
        return self.manifest.graph

    @property
    def policy_path(self) -> Path:
        """The ONNX graph the manifest names."""
        return self.path / self.manifest.graph.file

    def policy_bytes(self) -> bytes:
        """The graph's bytes, read once and checked against bundle.json's size and sha256
        (:func:`read_verified`)."""
        entry = self.manifest.files[self.manifest.graph.file]
        return read_verified(self.policy_path, entry.bytes, entry.sha256)


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_verified(path: Path, size: int, sha256: str, error=None) -> bytes:
    """The bytes of ``path``, read once and checked against the ``size`` and ``sha256`` its
    manifest records: what a runtime hands ONNX Runtime is the file as verified, not a second
    read of a file that may have changed since (replaced while the node started).

    Raises:
        BundleError (or ``error``, a subclass): unreadable, or another size or digest.
    """
    error = error or BundleError
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"cannot read bundle file {path}: {exc.strerror}") from None
    if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
        raise error(
            f"bundle file {path} no longer matches the size/sha256 its manifest records (it "
            "changed after the bundle was verified): restore the original or re-export it"
        )
    return data


def write_bundle(folder: str | os.PathLike, manifest: BundleManifest) -> Path:
    """Hash every file in ``folder`` (except bundle.json) into the manifest's ``files`` and write
    bundle.json. The caller has already written the graph(s) into ``folder``.

    Returns:
        path of the written bundle.json.
    """
    folder = Path(folder)
    files = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name not in (MANIFEST, SIGNATURE_FILE):
            rel = p.relative_to(folder).as_posix()
            files[rel] = FileEntry(sha256=sha256_file(p), bytes=p.stat().st_size)
    manifest = dataclasses.replace(manifest, files=files)
    out = folder / MANIFEST
    out.write_text(json.dumps(manifest.to_dict(), indent=2) + "\n", encoding="utf-8")
    return out


def load_bundle(path: str | os.PathLike, verify_key: str | os.PathLike | None = None) -> Bundle:
    """Load and verify a bundle folder.

    Checks: the folder and bundle.json exist; with ``verify_key``, bundle.json carries an
    Ed25519 signature by that key (``bundle.json.sig``, :mod:`safevla_core.signing`); bundle.json
    is JSON with every required key; the format and version are known; every field has its type
    (:class:`BundleManifest`); every listed file lies inside the folder (no ``..``, absolute
    paths or symlinks out of it) and exists with the recorded size and sha256; the graph is
    listed; the action space is this stack's.

    Args:
        path: the bundle folder.
        verify_key: PEM public key the bundle must be signed with; None accepts unsigned
            bundles (integrity is still checked, origin is not).

    Raises:
        BundleError: naming the offending file/key and the fix.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise BundleError(
            f"model bundle folder {str(folder)!r} does not exist; pass the folder written by "
            "`safevla export` (it holds bundle.json and policy.onnx)"
        )
    mpath = folder / MANIFEST
    # Read once: the bytes whose signature is checked are the bytes that are parsed and hashed.
    raw = _read_manifest_bytes(mpath)
    if verify_key is not None:
        try:
            verify_manifest(raw, folder / SIGNATURE_FILE, verify_key)
        except SigningError as exc:
            raise BundleError(f"{folder}: {exc}") from None
    try:
        manifest = BundleManifest.from_dict(_parse_manifest(mpath, raw))
    except ManifestError as exc:
        raise BundleError(f"{mpath}: {exc}; re-export the bundle with `safevla export`") from None
    _verify_files(folder, manifest)
    action_names = tuple(a.name for a in manifest.actions)
    if action_names != ACTION_NAMES:
        raise BundleError(
            f"{mpath}: action space {list(action_names)} differs from this stack's "
            f"{list(ACTION_NAMES)}; use a bundle trained for the Safety-CHORES action space"
        )
    digest = hashlib.sha256(raw).hexdigest()
    return Bundle(path=folder, manifest=manifest, bundle_id=f"{manifest.name}@{digest[:12]}")


def _read_manifest_bytes(mpath: Path) -> bytes:
    if not mpath.is_file():
        raise BundleError(
            f"{mpath} is missing; this folder is not a model bundle - re-export it with "
            "`safevla export`"
        )
    try:
        return mpath.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read {mpath}: {exc.strerror}") from None


def _parse_manifest(mpath: Path, raw: bytes) -> dict:
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise BundleError(
            f"{mpath} is not valid JSON ({str(exc)[:200]}); restore it from the exported bundle "
            "or re-export with `safevla export`"
        ) from None
    if not isinstance(manifest, dict):
        raise BundleError(f"{mpath} must hold a JSON object; re-export with `safevla export`")
    if manifest.get("format") != BUNDLE_FORMAT:
        raise BundleError(
            f"{mpath}: format {str(manifest.get('format'))[:80]!r} is not {BUNDLE_FORMAT!r}; "
            "this is not a safevla model bundle"
        )
    version = manifest.get("format_version")
    if isinstance(version, bool) or version not in SUPPORTED_FORMAT_VERSIONS:
        raise BundleError(
            f"{mpath}: format_version {str(version)[:80]} is not supported (this runtime reads "
            f"{list(SUPPORTED_FORMAT_VERSIONS)}); upgrade safevla_ros or re-export the bundle "
            "with a matching trainer"
        )
    missing = [k for k in REQUIRED_KEYS if k not in manifest]
    if missing:
        raise BundleError(
            f"{mpath} lacks required keys {missing}; re-export the bundle with `safevla export`"
        )
    return manifest


def confined_path(folder: Path, rel: str) -> Path:
    """``folder / rel`` if ``rel`` names a file inside ``folder``.

    Raises:
        BundleError: ``rel`` is empty, absolute, has a ``..`` part, or resolves (through a
            symlink) to somewhere outside the folder.
    """
    pure = Path(rel)
    if not rel or pure.is_absolute() or ".." in pure.parts or "\\" in rel or "\0" in rel:
        raise BundleError(
            f"{folder / MANIFEST}: file name {rel[:120]!r} is not a relative path inside the "
            "bundle folder; a bundle may only name its own files - re-export it"
        )
    target = folder / pure
    try:
        inside = target.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        inside = False
    if not inside:
        raise BundleError(
            f"bundle file {target} resolves outside the bundle folder (a symlink out of it); "
            "copy the real file into the bundle or re-export it"
        )
    return target


def _verify_files(folder: Path, manifest: BundleManifest) -> None:
    files = manifest.files
    if not files:
        raise BundleError(f"{folder / MANIFEST}: 'files' must map file names to sha256 entries")
    if manifest.graph.file not in files:
        raise BundleError(
            f"{folder / MANIFEST}: graph file {manifest.graph.file!r} is not listed under "
            "'files'; re-export"
        )
    for rel, entry in files.items():
        p = confined_path(folder, rel)
        if not p.is_file():
            raise BundleError(
                f"bundle file {p} is missing; copy the complete bundle folder (bundle.json "
                "lists every file) or re-export it with `safevla export`"
            )
        if p.stat().st_size != entry.bytes:
            raise BundleError(
                f"bundle file {p} has {p.stat().st_size} bytes, bundle.json records "
                f"{entry.bytes}: truncated or replaced; restore the original or re-export"
            )
        digest = sha256_file(p)
        if digest != entry.sha256:
            raise BundleError(
                f"bundle file {p} fails its sha256 check (got {digest[:16]}..., bundle.json "
                f"records {entry.sha256[:16]}...): it was modified or corrupted; "
                "restore the original or re-export with `safevla export`"
            )


def manifest_summary(bundle: Bundle) -> dict[str, Any]:
    """Short human-readable facts about a bundle (for logs and `safevla` output)."""
    return {
        "bundle_id": bundle.bundle_id,
        "actions": len(bundle.action_names),
        "image": f"{bundle.image.width}x{bundle.image.height} {bundle.image.channel_order}",
        "context_length": bundle.context_length,
        "cost_categories": list(bundle.cost_categories),
        "evaluation": bundle.manifest.evaluation,
    }
