"""The kit vault's cryptography without a database: sealing, key wrapping, binding."""

from __future__ import annotations

import json
import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.vault_crypto import SealBroken, VaultCipher, document_kind

DOCUMENT = json.dumps(
    {
        "name": "Tăng Thị Ngọc Bích",
        "resident_number": "870914-6123454",
        "phone": "+82 10-9876-5432",
        "goal": "다시 혼자 장을 볼 수 있게 되기",
    },
    ensure_ascii=False,
).encode()


@pytest.fixture
def cipher() -> VaultCipher:
    return VaultCipher(os.urandom(32), service="careplan")


def test_a_document_round_trips_through_the_clients_data_key(cipher: VaultCipher) -> None:
    data_key = cipher.new_data_key()
    wrapped = cipher.wrap_key(data_key, "client-1")
    sealed = cipher.seal(data_key, "client-1", "goal:g-1", DOCUMENT)
    assert cipher.open(cipher.unwrap_key(wrapped, "client-1"), "client-1", "goal:g-1", sealed) == (
        DOCUMENT
    )


def test_nothing_personal_is_readable_in_the_sealed_bytes(cipher: VaultCipher) -> None:
    data_key = cipher.new_data_key()
    stored = cipher.seal(data_key, "client-1", "details", DOCUMENT) + cipher.wrap_key(
        data_key, "client-1"
    )
    for secret in ("Bích", "Tăng", "870914", "9876", "혼자", "장을"):
        assert secret.encode() not in stored
    assert data_key not in stored


def test_each_seal_uses_a_fresh_nonce(cipher: VaultCipher) -> None:
    data_key = cipher.new_data_key()
    assert cipher.seal(data_key, "c", "details", DOCUMENT) != cipher.seal(
        data_key, "c", "details", DOCUMENT
    )


def test_a_seal_moved_to_another_client_document_or_service_does_not_open(
    cipher: VaultCipher,
) -> None:
    kek = os.urandom(32)
    mine = VaultCipher(kek, service="careplan")
    data_key = mine.new_data_key()
    wrapped = mine.wrap_key(data_key, "client-1")
    sealed = mine.seal(data_key, "client-1", "note:n-1", DOCUMENT)
    with pytest.raises(SealBroken):
        mine.unwrap_key(wrapped, "client-2")
    with pytest.raises(SealBroken):
        mine.open(data_key, "client-2", "note:n-1", sealed)
    with pytest.raises(SealBroken):
        mine.open(data_key, "client-1", "note:n-2", sealed)
    other_service = VaultCipher(kek, service="monitoring")
    with pytest.raises(SealBroken):
        other_service.unwrap_key(wrapped, "client-1")
    with pytest.raises(SealBroken):
        other_service.open(data_key, "client-1", "note:n-1", sealed)


def test_altered_bytes_do_not_open(cipher: VaultCipher) -> None:
    data_key = cipher.new_data_key()
    sealed = bytearray(cipher.seal(data_key, "client-1", "details", DOCUMENT))
    sealed[20] ^= 1
    with pytest.raises(SealBroken):
        cipher.open(data_key, "client-1", "details", bytes(sealed))


def test_another_key_encryption_key_cannot_unwrap(cipher: VaultCipher) -> None:
    wrapped = cipher.wrap_key(cipher.new_data_key(), "client-1")
    stranger = VaultCipher(os.urandom(32), service="careplan")
    with pytest.raises(SealBroken):
        stranger.unwrap_key(wrapped, "client-1")
    assert stranger.kek_id != cipher.kek_id
    assert "careplan" not in repr(cipher) and len(cipher.kek_id) == 16


def test_what_intakes_vault_sealed_before_the_kit_opens_unchanged() -> None:
    # Intake's own vault (before the kit's) bound "caseline.intake.pii.v1|<purpose>|<client>".
    kek, data_key, nonce = os.urandom(32), os.urandom(32), os.urandom(12)
    prefix = b"caseline.intake.pii.v1"
    wrapped = nonce + AESGCM(kek).encrypt(nonce, data_key, prefix + b"|data-key|client-7")
    sealed = nonce + AESGCM(data_key).encrypt(nonce, DOCUMENT, prefix + b"|details|client-7")
    kit = VaultCipher(kek, service="intake")
    assert kit.open(kit.unwrap_key(wrapped, "client-7"), "client-7", "details", sealed) == DOCUMENT


@pytest.mark.parametrize("document_id", ["details", "goal:g-17", "form_answer:f.3-b"])
def test_a_document_id_is_a_kind_and_an_optional_id(document_id: str) -> None:
    assert document_kind(document_id) == document_id.split(":")[0]


@pytest.mark.parametrize(
    "document_id", ["", "Goal", "goal:", "goal:kim min-jun", "data-key", "a|b", "note:x|y", "노트"]
)
def test_a_document_id_holds_no_free_text(document_id: str) -> None:
    with pytest.raises(ValueError):
        document_kind(document_id)


def test_the_key_encryption_key_is_32_bytes() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        VaultCipher(os.urandom(16), service="intake")
