"""Korean resident registration numbers (주민등록번호): format, encoded birth date, check digit.

A number reads `YYMMDD-SXXXXXX`. The first six digits are the holder's birth date; the
seventh (S) gives the century (1, 2, 5, 6: 1900s; 3, 4, 7, 8: 2000s; 9, 0: 1800s) and the
last digit is a check digit over the first twelve. Digits of other scripts and widths
(full-width, Arabic-Indic) and other dashes read as their ASCII forms. Nothing here
keeps or logs a number, and no error message repeats one: the number is personal data
(docs/domain.md R11).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from services.intake.domain.text import fold_digits

_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
_FORMAT = re.compile(r"([0-9]{6})-?([0-9]{7})")
_TWELVE_DIGITS = re.compile(r"[0-9]{12}")
_SIX_DIGITS = re.compile(r"[0-9]{6}")
_CENTURY_BY_DIGIT = {
    "1": 1900,
    "2": 1900,
    "5": 1900,
    "6": 1900,
    "3": 2000,
    "4": 2000,
    "7": 2000,
    "8": 2000,
    "9": 1800,
    "0": 1800,
}


class InvalidResidentNumber(ValueError):
    """A resident registration number that is malformed, names no real date, or fails its check."""


@dataclass(frozen=True, repr=False)
class ResidentNumber:
    """A validated resident registration number; its repr never shows the digits."""

    digits: str
    birth_date: date

    @property
    def formatted(self) -> str:
        """`YYMMDD-SXXXXXX`, the way it is stored and shown."""
        return f"{self.digits[:6]}-{self.digits[6:]}"

    @property
    def masked(self) -> str:
        """`YYMMDD-S******`: enough to tell two numbers apart on screen, not to use one."""
        return f"{self.digits[:6]}-{self.digits[6]}******"

    def __repr__(self) -> str:
        return "ResidentNumber(<redacted>)"


def check_digit(first_twelve: str) -> int:
    """The check digit of a number whose first twelve digits are given."""
    if not _TWELVE_DIGITS.fullmatch(first_twelve):
        raise InvalidResidentNumber("a check digit is computed over exactly twelve digits")
    total = sum(int(d) * w for d, w in zip(first_twelve, _WEIGHTS, strict=True))
    return (11 - total % 11) % 10


def parse_resident_number(text: str, *, today: date | None = None) -> ResidentNumber:
    """Validate `YYMMDD-SXXXXXX` (the dash may be left out) and return the number.

    Digits of any script or width count as their ASCII digits. Raises `InvalidResidentNumber`
    naming what is wrong, never the number itself, and nothing else.
    """
    match = _FORMAT.fullmatch(fold_digits(text).strip())
    if match is None:
        raise InvalidResidentNumber("a resident registration number reads YYMMDD-SXXXXXX")
    front, back = match.groups()
    century = _CENTURY_BY_DIGIT[back[0]]
    try:
        born = date(century + int(front[:2]), int(front[2:4]), int(front[4:6]))
    except ValueError:
        raise InvalidResidentNumber(
            "the first six digits of the resident registration number are not a real date"
        ) from None
    if today is not None and born > today:
        raise InvalidResidentNumber("the resident registration number encodes a future birth date")
    digits = front + back
    if check_digit(digits[:12]) != int(digits[12]):
        raise InvalidResidentNumber("the resident registration number's check digit is wrong")
    return ResidentNumber(digits=digits, birth_date=born)


def validate_resident_number(
    text: str, *, birth_date: date | None = None, today: date | None = None
) -> ResidentNumber:
    """Parse a number and, when a birth date is given, require the number to encode it."""
    number = parse_resident_number(text, today=today)
    if birth_date is not None and number.birth_date != birth_date:
        raise InvalidResidentNumber(
            "the resident registration number does not encode the given birth date"
        )
    return number


def make_resident_number(birth_date: date, serial: str) -> str:
    """Build a valid number for a birth date from its seventh to twelfth digits (tests, demos)."""
    serial = fold_digits(serial)
    if not _SIX_DIGITS.fullmatch(serial):
        raise InvalidResidentNumber("the serial is the six digits after the birth date")
    expected_century = _CENTURY_BY_DIGIT[serial[0]]
    if birth_date.year // 100 * 100 != expected_century:
        raise InvalidResidentNumber("the seventh digit names another century than the birth date")
    first_twelve = birth_date.strftime("%y%m%d") + serial
    return f"{first_twelve[:6]}-{first_twelve[6:]}{check_digit(first_twelve)}"
