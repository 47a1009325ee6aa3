"""Intake's duplicate index without a database; its details are sealed by the kit's vault."""

from __future__ import annotations

import os
from datetime import date

import pytest

from services.intake.adapters.vault import DuplicateIndex, PiiVault
from services.intake.domain.client import normalised_name
from shared.settings import load_settings

# Full-width Latin letters, as some Korean input methods type them.
FULL_WIDTH_KIM = "\uff2b\uff49\uff4d \uff2d\uff49\uff4e\uff4a\uff55\uff4e"


@pytest.fixture
def index() -> DuplicateIndex:
    return DuplicateIndex(os.urandom(32), key_encryption_key=os.urandom(32))


def test_the_duplicate_index_matches_spellings_of_one_name_and_birth_date(
    index: DuplicateIndex,
) -> None:
    born = date(1990, 1, 1)
    spellings = ("Kim Min-jun", "kim minjun", "KIM  MIN JUN", FULL_WIDTH_KIM)
    same = {index(name, born) for name in spellings}
    assert len(same) == 1
    assert index("김 민준", born) == index("김민준", born)
    assert index("김민준", born) != index("Kim Minjun", born)
    assert index("김민준", born) != index("김민준", date(1990, 1, 2))


def test_the_duplicate_index_depends_on_its_key(index: DuplicateIndex) -> None:
    other = DuplicateIndex(os.urandom(32), key_encryption_key=os.urandom(32))
    born = date(1990, 1, 1)
    assert index("김민준", born) != other("김민준", born)
    assert normalised_name("Tăng Thị") == "tăngthị"


def test_the_index_key_must_differ_from_the_key_encryption_key_and_be_32_bytes() -> None:
    key = os.urandom(32)
    with pytest.raises(ValueError, match="differ"):
        DuplicateIndex(key, key_encryption_key=key)
    with pytest.raises(ValueError, match="32 bytes"):
        DuplicateIndex(os.urandom(16), key_encryption_key=os.urandom(32))


def test_the_development_keys_load_from_settings() -> None:
    settings = load_settings()
    vault = PiiVault.from_settings(settings)
    assert "caseline" not in repr(vault.index) + repr(vault.vault)
    assert vault.vault.service == "intake"
    with pytest.raises(ValueError, match="32 bytes"):
        load_settings(pii_kek="c2hvcnQ=")
