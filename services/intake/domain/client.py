"""A client's personal details: what the PII vault keeps, and how a possible duplicate is matched.

These values never enter an event, a log line or an error message. `repr` hides every field,
so a traceback or a debug print of the model cannot show them either.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from services.intake.domain.rrn import InvalidResidentNumber, parse_resident_number
from services.intake.domain.text import Note, PlainText, fold_digits, fold_digits_of_text

_PHONE = re.compile(r"\+?[0-9][0-9 ()-]{5,22}[0-9]")
_LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")

BirthDate = Annotated[date, BeforeValidator(fold_digits_of_text)]
"""A date; typed as text, its digits may be of any script or width (full-width, Arabic-Indic)."""

# Zero-width space, non-joiner and joiner, byte order mark, word joiner: invisible, so they
# never tell one name from another.
_ZERO_WIDTH = str.maketrans(dict.fromkeys("\u200b\u200c\u200d\ufeff\u2060"))


class NameWithoutLetters(ValueError):
    """A name with no letter once normalised: it would match every other name without one."""


def _a_name_with_letters(name: str) -> str:
    if not has_letters(name):
        raise NameWithoutLetters(
            "a name holds at least one letter: emoji, digits, punctuation and invisible "
            "characters alone name no one"
        )
    return name


PersonName = Annotated[PlainText, AfterValidator(_a_name_with_letters)]
"""A person's name: plain text with at least one letter (R12: the duplicate index needs one)."""


class PersonalDetails(BaseModel):
    """Name, birth date, resident number, contact, language and cultural needs of one client."""

    # hide_input_in_errors: a refusal never repeats the personal data it refused.
    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=True, hide_input_in_errors=True
    )

    name: PersonName = Field(min_length=1, max_length=100, repr=False)
    birth_date: BirthDate = Field(repr=False)
    resident_number: str = Field(
        repr=False, description="주민등록번호, YYMMDD-SXXXXXX; the dash may be left out."
    )
    phone: str = Field(repr=False, description="Digits, spaces, dashes, an optional leading +.")
    address: PlainText = Field(min_length=1, max_length=300, repr=False)
    preferred_language: str = Field(
        repr=False, description="A language tag such as ko, en, vi or zh-Hans (R11)."
    )
    cultural_needs: Note | None = Field(default=None, max_length=1000, repr=False)

    @field_validator("phone")
    @classmethod
    def _a_phone_number(cls, value: str) -> str:
        # Kept with ASCII digits, whichever digits were typed.
        folded = fold_digits(value).strip()
        if not _PHONE.fullmatch(folded):
            raise ValueError("a phone number has 7 to 24 digits, spaces or dashes")
        return folded

    @field_validator("preferred_language")
    @classmethod
    def _a_language_tag(cls, value: str) -> str:
        if not _LANGUAGE_TAG.fullmatch(value):
            raise ValueError("a language tag such as ko, en, vi or zh-Hans")
        return value

    @field_validator("resident_number")
    @classmethod
    def _a_valid_resident_number(cls, value: str) -> str:
        try:
            # Stored one way only (with the dash), so that equal numbers are equal documents.
            return parse_resident_number(value).formatted
        except InvalidResidentNumber as e:
            # The message never names the number; callers also hide inputs in their errors.
            raise ValueError(str(e)) from None

    @model_validator(mode="after")
    def _resident_number_encodes_the_birth_date(self) -> PersonalDetails:
        if parse_resident_number(self.resident_number).birth_date != self.birth_date:
            raise ValueError("the resident registration number does not encode the birth date")
        return self

    @property
    def masked_resident_number(self) -> str:
        """`YYMMDD-S******`, the most a screen shows."""
        return f"{self.resident_number[:8]}******"


def normalised_name(name: str) -> str:
    """A name reduced to what identifies it: compatibility-normalised, case-folded, letters only.

    `Kim Min-jun`, `kim minjun` and `KIM  MIN JUN` match; so do a Hangul name typed with and
    without spaces. Different scripts (김민준 and Kim Minjun) do not: no transliteration.
    Zero-width characters are dropped first, whatever NFKC makes of them.
    """
    folded = unicodedata.normalize("NFKC", name.translate(_ZERO_WIDTH)).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in ("L", "N"))


def has_letters(name: str) -> bool:
    """Whether a name keeps at least one letter once normalised."""
    return any(unicodedata.category(ch)[0] == "L" for ch in normalised_name(name))


def duplicate_key_material(name: str, birth_date: date) -> bytes:
    """The bytes the duplicate index is a keyed hash of: normalised name and birth date.

    Raises `NameWithoutLetters` rather than index every letterless name as the same person.
    """
    key = normalised_name(name)
    if not has_letters(key):
        raise NameWithoutLetters("a name without letters is not indexed")
    return f"{key}\x1f{birth_date.isoformat()}".encode()
