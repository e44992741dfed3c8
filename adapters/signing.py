"""The programme's signing key: Ed25519 (``cryptography``), the private key in a file.

``create_key`` writes a new private key (PEM, PKCS#8, readable by its owner only) and refuses to
overwrite one: a lost key cannot sign again, but a replaced one would silently start a second
history. ``FileSigner`` signs checkpoints with it (engine.ports.Signer). ``public_pem`` and
``key_id`` are what a verifier needs: the public key (PEM, SubjectPublicKeyInfo) and the
sha256 of its 32 raw bytes, hex, which every checkpoint names.

A bad or missing file is an InvalidValue naming the file and what to do.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from engine.errors import InvalidValue

__all__ = ["FileSigner", "create_key", "key_id", "load_key", "public_pem"]


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def create_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """A new private key, written to ``path`` (mode 0600); InvalidValue if a file is there."""
    target = Path(path)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InvalidValue(
            "signing key file",
            str(target),
            "a path where no file is yet (a key is never overwritten: checkpoints signed with "
            "it must stay verifiable)",
        ) from None
    except OSError as exc:
        raise InvalidValue("signing key file", str(target), exc.strerror or str(exc)) from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key


def load_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    target = Path(path)
    try:
        data = target.read_bytes()
    except FileNotFoundError:
        raise InvalidValue(
            "signing key file (setting signing_key)",
            str(target),
            "an existing file: make one with `wijkkompas keys create`",
        ) from None
    except OSError as exc:
        raise InvalidValue("signing key file", str(target), exc.strerror or str(exc)) from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidValue(
            "signing key file", str(target), "an unencrypted Ed25519 private key in PEM"
        )
    return key


class FileSigner:
    """Signs with the Ed25519 private key in a file (implements engine.ports.Signer)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._key = load_key(path)
        self.public = self._key.public_key()
        self.key_id = key_id(self.public)

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)
