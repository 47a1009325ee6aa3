"""Intake's duplicate index: a keyed hash of the normalised name and the birth date.

HMAC-SHA256 under its own key (`CASELINE_PII_INDEX_KEY`): equal for the same person, useless
to anyone without the key. The details themselves are sealed by the kit's vault
(`shared/vault_crypto.py`) under the key-encryption key, which must differ from this one.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

from services.intake.domain.client import duplicate_key_material
from shared.vault_crypto import KEY_BYTES


class DuplicateIndex:
    """Computes the keyed hash registration compares clients by."""

    def __init__(self, index_key: bytes, *, key_encryption_key: bytes) -> None:
        if len(index_key) != KEY_BYTES:
            raise ValueError(f"the index key is {KEY_BYTES} bytes")
        if hmac.compare_digest(key_encryption_key, index_key):
            raise ValueError("the key-encryption key and the index key must differ")
        self._index_key = index_key

    def __repr__(self) -> str:
        return "DuplicateIndex()"

    def __call__(self, name: str, birth_date: date) -> bytes:
        """HMAC-SHA256 of the normalised name and birth date under the index key."""
        material = duplicate_key_material(name, birth_date)
        return hmac.new(self._index_key, material, hashlib.sha256).digest()
