"""Ed25519 signatures of model bundles: who made the bundle, not only whether it is intact.

``bundle.json`` records the sha256 of every other bundle file, so one signature over the exact
bytes of ``bundle.json`` covers the whole bundle. The signature is detached, in
``bundle.json.sig`` next to it (64 raw bytes), and is itself not listed in ``files``. A
safety-critic bundle (:mod:`safevla_core.critic_bundle`) is signed the same way:
``critic.json.sig`` holds the signature of the exact bytes of ``critic.json``.

Keys are PEM files, the same ones OpenSSL writes, so either tool makes them::

    safevla keygen --out keys/fleet          # keys/fleet.key (private), keys/fleet.pub
    openssl genpkey -algorithm ed25519 -out fleet.key
    openssl pkey -in fleet.key -pubout -out fleet.pub

The trainer signs with the private key (``safevla export --sign-key fleet.key``,
``safevla train critic --sign-key fleet.key``); robots hold only the public key
(``verify_key`` parameter of the nodes, ``--verify-key`` of ``safevla run`` /
``safevla eval``). With a key configured, an unsigned bundle or one whose signature does not
verify is refused; the safety monitor applies the same key to the critic bundle.
"""

from __future__ import annotations

import os
from pathlib import Path

SIGNATURE_SUFFIX = ".sig"
SIGNATURE_FILE = "bundle.json" + SIGNATURE_SUFFIX
SIGNATURE_BYTES = 64  # an Ed25519 signature
EXPORT_SIGN_HINT = "safevla export --sign-key KEY"


class SigningError(ValueError):
    """A key or signature is missing, unreadable or wrong; the message names the file."""


def _crypto():
    """The ``cryptography`` primitives (imported on first use: unsigned runs never need it)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    return ed25519, serialization, InvalidSignature


def generate_keypair(prefix: str | os.PathLike) -> tuple[Path, Path]:
    """Write a new key pair: ``<prefix>.key`` (private, PKCS#8 PEM, mode 0600) and
    ``<prefix>.pub`` (public, SubjectPublicKeyInfo PEM).

    Raises:
        SigningError: either file exists already (keys are never overwritten).
    """
    ed25519, serialization, _ = _crypto()
    prefix = Path(prefix)
    private, public = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    for p in (private, public):
        if p.exists():
            raise SigningError(f"{p} exists; keys are never overwritten, pick another --out")
    private.parent.mkdir(parents=True, exist_ok=True)
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Created with 0600 from the start: the private key is never readable by others.
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def _read_key_file(path: str | os.PathLike, what: str) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise SigningError(
            f"{what} {str(p)!r} does not exist; make a key pair with `safevla keygen --out NAME`"
        )
    try:
        return p.read_bytes()
    except OSError as exc:
        raise SigningError(f"cannot read {what} {p}: {exc.strerror}") from None


def load_private_key(path: str | os.PathLike):
    """The Ed25519 private key in the PEM file ``path``.

    Raises:
        SigningError: missing file, not PEM, encrypted, or not an Ed25519 key.
    """
    ed25519, serialization, _ = _crypto()
    data = _read_key_file(path, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningError(
            f"signing key {path} is not an unencrypted PEM private key ({exc}); "
            "use the .key file written by `safevla keygen`"
        ) from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise SigningError(f"signing key {path} is not an Ed25519 key; use `safevla keygen`")
    return key


def load_public_key(path: str | os.PathLike):
    """The Ed25519 public key in the PEM file ``path``.

    Raises:
        SigningError: missing file, not PEM, or not an Ed25519 public key.
    """
    ed25519, serialization, _ = _crypto()
    data = _read_key_file(path, "verify key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise SigningError(
            f"verify key {path} is not a PEM public key ({exc}); use the .pub file written by "
            "`safevla keygen`"
        ) from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise SigningError(f"verify key {path} is not an Ed25519 public key")
    return key


def signature_file(manifest: str) -> str:
    """The detached signature's file name for the manifest file name ``manifest``."""
    return manifest + SIGNATURE_SUFFIX


def sign_manifest(
    folder: str | os.PathLike, key_path: str | os.PathLike, manifest: str = "bundle.json"
) -> Path:
    """Sign ``<folder>/<manifest>`` (default bundle.json) with the private key in ``key_path``;
    writes and returns ``<folder>/<manifest>.sig``."""
    key = load_private_key(key_path)
    folder = Path(folder)
    out = folder / signature_file(manifest)
    out.write_bytes(key.sign((folder / manifest).read_bytes()))
    return out


def verify_manifest(
    manifest_bytes: bytes,
    signature_path: str | os.PathLike,
    key_path: str | os.PathLike,
    sign_hint: str = EXPORT_SIGN_HINT,
) -> None:
    """Check that ``signature_path`` holds a signature of ``manifest_bytes`` by the holder of
    the private half of the public key in ``key_path``.

    Args:
        manifest_bytes: the exact manifest bytes the caller goes on to parse and hash.
        signature_path: ``<manifest>.sig``; its name (less ``.sig``) names the manifest in
            messages.
        key_path: the PEM public key.
        sign_hint: the command that signs this kind of bundle, for the "not signed" message.

    Raises:
        SigningError: no signature, a malformed one, or one that does not verify.
    """
    _, _, invalid = _crypto()
    key = load_public_key(key_path)
    sig = Path(signature_path)
    manifest = sig.name.removesuffix(SIGNATURE_SUFFIX)
    if not sig.is_file():
        raise SigningError(
            f"bundle is not signed ({sig} is missing) but a verify key is configured "
            f"({key_path}); sign it with `{sign_hint}`"
        )
    signature = sig.read_bytes()
    if len(signature) != SIGNATURE_BYTES:
        raise SigningError(
            f"{sig} holds {len(signature)} bytes, an Ed25519 signature has {SIGNATURE_BYTES}; "
            "re-sign the bundle"
        )
    try:
        key.verify(signature, manifest_bytes)
    except invalid:
        raise SigningError(
            f"{sig} does not verify with {key_path}: {manifest} was changed after signing or "
            "was signed by another key; use a bundle signed by the key this robot trusts"
        ) from None
