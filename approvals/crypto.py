"""Encryption at rest for stored credentials (webhook secrets), keyed by APPROVALS_SECRET_KEY.

Each Fernet key is derived from one secret key with HKDF, so rotating ``APPROVALS_SECRET_KEY``
(old key moved to ``APPROVALS_SECRET_KEY_FALLBACKS``) keeps every stored value readable, and
values are re-encrypted under the newest key whenever they are written again.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from approvals.errors import CredentialDecryptError

_INFO = b"approvals stored-credential encryption v1"
PREFIX = "enc1:"
MAX_CACHED = 10_000


def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


class SecretBox:
    def __init__(self, secret_key: str, fallbacks: tuple[str, ...] = ()) -> None:
        self._fernet = MultiFernet([_fernet(secret_key), *(_fernet(k) for k in fallbacks)])
        # Every callback needs its client's secret; decrypting costs more than the signing.
        self._clear: dict[str, str] = {}

    def encrypt(self, value: str) -> str:
        return PREFIX + self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, stored: str) -> str:
        cached = self._clear.get(stored)
        if cached is not None:
            return cached
        if not stored.startswith(PREFIX):
            raise CredentialDecryptError("stored value is not encrypted")
        try:
            clear = self._fernet.decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken as exc:
            raise CredentialDecryptError(
                "cannot decrypt a stored credential: was APPROVALS_SECRET_KEY changed without "
                "keeping the old one in APPROVALS_SECRET_KEY_FALLBACKS?"
            ) from exc
        if len(self._clear) > MAX_CACHED:
            self._clear.clear()
        self._clear[stored] = clear
        return clear
