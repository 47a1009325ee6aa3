"""The vault's cryptography: envelope encryption with AES-GCM, one data key per client.

Each client has a random 256-bit data key per service. Every document kept about them is
sealed with it (AES-GCM, a fresh 96-bit nonce per seal); the data key is itself sealed
("wrapped") under the service's key-encryption key (`CASELINE_PII_KEK`). Every seal binds the
service, the client id and (for a document) the document id as associated data, so a
ciphertext or wrapped key copied onto another client's row, another document or another
service's vault does not open. Destroying the wrapped key destroys the only way to the data
key: every document is erased even where its ciphertext survives (crypto-shredding).
"""

from __future__ import annotations

import hashlib
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.errors import CaselineError

KEY_BYTES = 32
NONCE_BYTES = 12
WRAPPED_KEY_PURPOSE = "data-key"

DOCUMENT_ID = re.compile(r"[a-z][a-z0-9_]{0,39}(:[A-Za-z0-9_.-]{1,80})?")
"""`kind` or `kind:id` (`details`, `goal:g-17`): ids and codes only, never words about a person."""


class VaultError(CaselineError):
    """Root of the vault's errors."""


class SealBroken(VaultError):
    """A sealed value does not open: wrong key, another client's row, or altered bytes."""


def document_kind(document_id: str) -> str:
    """The kind of a document (`goal` of `goal:g-17`); `ValueError` for a malformed id."""
    if not DOCUMENT_ID.fullmatch(document_id) or document_id == WRAPPED_KEY_PURPOSE:
        raise ValueError(
            "a document id is `kind` or `kind:id`: lower-case kind, then an id of letters, "
            "digits, `_`, `.` or `-`"
        )
    return document_id.split(":", 1)[0]


def kek_id_of(key_encryption_key: bytes) -> str:
    """A short public name of a key-encryption key, kept in each row so a rotation finds them."""
    return hashlib.sha256(b"caseline-kek-id" + key_encryption_key).hexdigest()[:16]


class VaultCipher:
    """Seals and opens one service's documents about clients, and wraps their data keys."""

    def __init__(self, key_encryption_key: bytes, *, service: str) -> None:
        if len(key_encryption_key) != KEY_BYTES:
            raise ValueError(f"the key-encryption key is {KEY_BYTES} bytes")
        if not service or "|" in service:
            raise ValueError("a vault names its service (no `|`)")
        self._kek = AESGCM(key_encryption_key)
        # The prefix intake's vault has always used: its rows open unchanged in the kit's vault.
        self._aad_prefix = f"caseline.{service}.pii.v1".encode()
        self.kek_id = kek_id_of(key_encryption_key)

    def __repr__(self) -> str:
        return f"VaultCipher(kek_id={self.kek_id!r})"

    def _aad(self, purpose: str, client_id: str) -> bytes:
        return b"|".join((self._aad_prefix, purpose.encode(), client_id.encode()))

    @staticmethod
    def new_data_key() -> bytes:
        """A fresh random data key for one client."""
        return AESGCM.generate_key(bit_length=KEY_BYTES * 8)

    @staticmethod
    def _seal(key: AESGCM, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + key.encrypt(nonce, plaintext, aad)

    @staticmethod
    def _open(key: AESGCM, sealed: bytes, aad: bytes, what: str) -> bytes:
        try:
            return key.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
        except InvalidTag:
            raise SealBroken(f"the {what} does not open for this client") from None

    def wrap_key(self, data_key: bytes, client_id: str) -> bytes:
        """The data key sealed under the key-encryption key, bound to the client id."""
        return self._seal(self._kek, data_key, self._aad(WRAPPED_KEY_PURPOSE, client_id))

    def unwrap_key(self, wrapped_key: bytes, client_id: str) -> bytes:
        """The data key back from its wrapped form; `SealBroken` if it is not this client's."""
        return self._open(
            self._kek, wrapped_key, self._aad(WRAPPED_KEY_PURPOSE, client_id), "wrapped key"
        )

    def seal(self, data_key: bytes, client_id: str, document_id: str, document: bytes) -> bytes:
        """Nonce and AES-GCM ciphertext of one document, bound to its client and id."""
        document_kind(document_id)
        return self._seal(AESGCM(data_key), document, self._aad(document_id, client_id))

    def open(self, data_key: bytes, client_id: str, document_id: str, sealed: bytes) -> bytes:
        """A document's bytes back from their seal; `SealBroken` if moved or altered."""
        return self._open(AESGCM(data_key), sealed, self._aad(document_id, client_id), "document")
