"""The vault's cryptography: envelope encryption with AES-GCM and a keyed duplicate index.

Each client has a random 256-bit data key. Their personal details are sealed with it
(AES-GCM, a fresh 96-bit nonce per seal); the data key is itself sealed ("wrapped") with the
key-encryption key from settings. Both seals bind the client id as associated data, so a
ciphertext or wrapped key copied onto another client's row does not open. Destroying the
wrapped key destroys the only way to the data key: the details are erased even where the
ciphertext survives (crypto-shredding).

The duplicate index is HMAC-SHA256, under its own key, over the normalised name and the
birth date: equal for the same person, useless to anyone without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import date

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.intake.domain.client import PersonalDetails, duplicate_key_material
from shared.errors import CaselineError

KEY_BYTES = 32
NONCE_BYTES = 12
_AAD_PREFIX = b"caseline.intake.pii.v1"


class VaultError(CaselineError):
    """Root of the PII vault's errors."""


class SealBroken(VaultError):
    """A sealed value does not open: wrong key, another client's row, or altered bytes."""


def _aad(purpose: bytes, client_id: str) -> bytes:
    return b"|".join((_AAD_PREFIX, purpose, client_id.encode()))


class PiiCipher:
    """Seals and opens clients' personal details; computes their duplicate index."""

    def __init__(self, key_encryption_key: bytes, index_key: bytes) -> None:
        if len(key_encryption_key) != KEY_BYTES or len(index_key) != KEY_BYTES:
            raise ValueError(f"vault keys are {KEY_BYTES} bytes")
        if hmac.compare_digest(key_encryption_key, index_key):
            raise ValueError("the key-encryption key and the index key must differ")
        self._kek = AESGCM(key_encryption_key)
        self._index_key = index_key
        # Names the key-encryption key in each row, so a rotated key can find its rows.
        self.kek_id = hashlib.sha256(b"caseline-kek-id" + key_encryption_key).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"PiiCipher(kek_id={self.kek_id!r})"

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
        return self._seal(self._kek, data_key, _aad(b"data-key", client_id))

    def unwrap_key(self, wrapped_key: bytes, client_id: str) -> bytes:
        """The data key back from its wrapped form; `SealBroken` if it is not this client's."""
        return self._open(self._kek, wrapped_key, _aad(b"data-key", client_id), "wrapped key")

    def seal(self, data_key: bytes, client_id: str, details: PersonalDetails) -> bytes:
        """Nonce and AES-GCM ciphertext of the details as one JSON document."""
        document = details.model_dump_json().encode()
        return self._seal(AESGCM(data_key), document, _aad(b"details", client_id))

    def open(self, data_key: bytes, client_id: str, sealed: bytes) -> PersonalDetails:
        """The details back from their sealed document."""
        document = self._open(AESGCM(data_key), sealed, _aad(b"details", client_id), "document")
        return PersonalDetails.model_validate_json(document)

    def duplicate_index(self, name: str, birth_date: date) -> bytes:
        """HMAC-SHA256 of the normalised name and birth date under the index key."""
        material = duplicate_key_material(name, birth_date)
        return hmac.new(self._index_key, material, hashlib.sha256).digest()
