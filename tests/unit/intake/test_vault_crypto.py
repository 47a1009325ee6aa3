"""The vault's cryptography without a database: sealing, key wrapping, binding, the index."""

from __future__ import annotations

import os
from datetime import date

import pytest

from services.intake.domain.client import PersonalDetails, normalised_name
from services.intake.vault.crypto import PiiCipher, SealBroken
from shared.settings import decode_key, load_settings

DETAILS = PersonalDetails(
    name="Tăng Thị Ngọc Bích",
    birth_date=date(1987, 9, 14),
    resident_number="870914-6123454",
    phone="+82 10-9876-5432",
    address="부산광역시 해운대구 센텀중앙로 79, 1203호",
    preferred_language="vi",
    cultural_needs="halal meals; a female case manager",
)


# Full-width Latin letters, as some Korean input methods type them.
FULL_WIDTH_KIM = "\uff2b\uff49\uff4d \uff2d\uff49\uff4e\uff4a\uff55\uff4e"


@pytest.fixture
def cipher() -> PiiCipher:
    return PiiCipher(os.urandom(32), os.urandom(32))


def test_details_round_trip_through_the_clients_data_key(cipher: PiiCipher) -> None:
    data_key = cipher.new_data_key()
    wrapped = cipher.wrap_key(data_key, "client-1")
    sealed = cipher.seal(data_key, "client-1", DETAILS)
    assert cipher.open(cipher.unwrap_key(wrapped, "client-1"), "client-1", sealed) == DETAILS


def test_nothing_personal_is_readable_in_the_sealed_bytes(cipher: PiiCipher) -> None:
    data_key = cipher.new_data_key()
    stored = cipher.seal(data_key, "client-1", DETAILS) + cipher.wrap_key(data_key, "client-1")
    for secret in ("Bích", "Tăng", "870914", "8709146123453", "9876", "해운대", "halal"):
        assert secret.encode() not in stored
    assert data_key not in stored


def test_each_seal_uses_a_fresh_nonce(cipher: PiiCipher) -> None:
    data_key = cipher.new_data_key()
    assert cipher.seal(data_key, "c", DETAILS) != cipher.seal(data_key, "c", DETAILS)


def test_a_row_copied_to_another_client_does_not_open(cipher: PiiCipher) -> None:
    data_key = cipher.new_data_key()
    wrapped = cipher.wrap_key(data_key, "client-1")
    sealed = cipher.seal(data_key, "client-1", DETAILS)
    with pytest.raises(SealBroken):
        cipher.unwrap_key(wrapped, "client-2")
    with pytest.raises(SealBroken):
        cipher.open(data_key, "client-2", sealed)


def test_altered_bytes_do_not_open(cipher: PiiCipher) -> None:
    data_key = cipher.new_data_key()
    sealed = bytearray(cipher.seal(data_key, "client-1", DETAILS))
    sealed[20] ^= 1
    with pytest.raises(SealBroken):
        cipher.open(data_key, "client-1", bytes(sealed))


def test_another_key_encryption_key_cannot_unwrap(cipher: PiiCipher) -> None:
    wrapped = cipher.wrap_key(cipher.new_data_key(), "client-1")
    stranger = PiiCipher(os.urandom(32), os.urandom(32))
    with pytest.raises(SealBroken):
        stranger.unwrap_key(wrapped, "client-1")
    assert stranger.kek_id != cipher.kek_id


def test_the_duplicate_index_matches_spellings_of_one_name_and_birth_date(
    cipher: PiiCipher,
) -> None:
    born = date(1990, 1, 1)
    same = {
        cipher.duplicate_index(name, born)
        for name in ("Kim Min-jun", "kim minjun", "KIM  MIN JUN", FULL_WIDTH_KIM)
    }
    assert len(same) == 1
    assert cipher.duplicate_index("김 민준", born) == cipher.duplicate_index("김민준", born)
    assert cipher.duplicate_index("김민준", born) != cipher.duplicate_index("Kim Minjun", born)
    assert cipher.duplicate_index("김민준", born) != cipher.duplicate_index(
        "김민준", date(1990, 1, 2)
    )


def test_the_duplicate_index_depends_on_its_key(cipher: PiiCipher) -> None:
    other = PiiCipher(os.urandom(32), os.urandom(32))
    born = date(1990, 1, 1)
    assert cipher.duplicate_index("김민준", born) != other.duplicate_index("김민준", born)
    assert normalised_name("Tăng Thị") == "tăngthị"


def test_the_two_keys_must_differ_and_be_32_bytes() -> None:
    key = os.urandom(32)
    with pytest.raises(ValueError, match="differ"):
        PiiCipher(key, key)
    with pytest.raises(ValueError, match="32 bytes"):
        PiiCipher(os.urandom(16), os.urandom(32))


def test_the_development_keys_load_from_settings() -> None:
    settings = load_settings()
    cipher = PiiCipher(decode_key(settings.pii_kek), decode_key(settings.pii_index_key))
    assert "caseline" not in repr(cipher)
    with pytest.raises(ValueError, match="32 bytes"):
        load_settings(pii_kek="c2hvcnQ=")
