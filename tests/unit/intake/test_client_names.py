"""Client names as the duplicate index sees them: letters count, invisible characters do not."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from services.intake.domain.client import (
    NameWithoutLetters,
    PersonalDetails,
    duplicate_key_material,
    normalised_name,
)

BORN = date(1990, 1, 1)
ZERO_WIDTH = "\u200b\u200c\u200d\ufeff\u2060"


def _details(name: str) -> dict[str, object]:
    return {
        "name": name,
        "birth_date": "1990-01-01",
        "resident_number": "9001011234568",
        "phone": "010-1234-5678",
        "address": "서울특별시 마포구 월드컵로 1",
        "preferred_language": "ko",
    }


NO_LETTERS = [
    "\U0001f600\U0001f600",  # emoji only
    ZERO_WIDTH,
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # a family emoji joined by ZWJ
    "1234",
    "- . ,",
    "\u3000",  # an ideographic space
]


@pytest.mark.parametrize(
    "name", NO_LETTERS, ids=["emoji", "zero-width", "zwj", "digits", "punct", "space"]
)
def test_r12_a_name_with_no_letters_is_refused_and_the_refusal_never_repeats_it(name: str) -> None:
    """R12: one person, one shared history; letterless names would all be one person."""
    with pytest.raises(ValidationError) as refused:
        PersonalDetails.model_validate(_details(name))
    assert [e["loc"] for e in refused.value.errors()] == [("name",)]
    assert name.strip() not in str(refused.value) or not name.strip()


@pytest.mark.parametrize(
    "name", NO_LETTERS, ids=["emoji", "zero-width", "zwj", "digits", "punct", "space"]
)
def test_r12_the_duplicate_index_is_never_made_of_a_name_without_letters(name: str) -> None:
    with pytest.raises(NameWithoutLetters):
        duplicate_key_material(name, BORN)


def test_zero_width_characters_do_not_change_the_duplicate_index() -> None:
    hidden = "Kim\u200b Min\u2060jun\ufeff\u200c\u200d"
    assert normalised_name(hidden) == normalised_name("Kim Minjun") == "kimminjun"
    assert duplicate_key_material(hidden, BORN) == duplicate_key_material("kim minjun", BORN)


def test_a_name_with_letters_and_emoji_is_kept_as_typed_and_indexed_by_its_letters() -> None:
    details = PersonalDetails.model_validate(_details("김민준 \U0001f600"))
    assert details.name == "김민준 \U0001f600"
    assert normalised_name(details.name) == "김민준"
