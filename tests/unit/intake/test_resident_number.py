"""Korean resident registration numbers: format, encoded birth date and century, check digit."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from services.intake.domain.client import PersonalDetails
from services.intake.domain.rrn import (
    InvalidResidentNumber,
    check_digit,
    make_resident_number,
    parse_resident_number,
    validate_resident_number,
)

# Worked by hand: 9*2+0*3+0*4+1*5+0*6+1*7+1*8+2*9+3*2+4*3+5*4+6*5 = 124; 124 % 11 = 3;
# (11 - 3) % 10 = 8.
WORKED_EXAMPLE = "900101-1234568"


def test_the_check_digit_follows_the_published_weights() -> None:
    assert check_digit("900101123456") == 8
    assert parse_resident_number(WORKED_EXAMPLE).birth_date == date(1990, 1, 1)


def test_a_number_with_a_wrong_check_digit_is_refused() -> None:
    with pytest.raises(InvalidResidentNumber, match="check digit"):
        parse_resident_number("900101-1234567")


@pytest.mark.parametrize("digit", "0123456789")
def test_every_wrong_last_digit_is_caught(digit: str) -> None:
    number = WORKED_EXAMPLE[:-1] + digit
    if digit == "8":
        assert parse_resident_number(number)
    else:
        with pytest.raises(InvalidResidentNumber):
            parse_resident_number(number)


@pytest.mark.parametrize(
    ("seventh", "year"),
    [
        *(("1", 1990), ("2", 1990), ("5", 1990), ("6", 1990)),
        *(("3", 2090), ("4", 2090), ("7", 2090), ("8", 2090)),
        *(("9", 1890), ("0", 1890)),
    ],
)
def test_the_seventh_digit_gives_the_century(seventh: str, year: int) -> None:
    number = make_resident_number(date(year, 3, 1), seventh + "23456")
    assert parse_resident_number(number).birth_date == date(year, 3, 1)


def test_a_number_of_this_century_encodes_a_2000s_birth() -> None:
    number = make_resident_number(date(2005, 12, 31), "412345")
    assert number.startswith("051231-4")
    assert parse_resident_number(number).birth_date == date(2005, 12, 31)


@pytest.mark.parametrize(
    "front",
    ["901301", "900230", "900431", "000229"],  # month 13; 30 Feb; 31 April; 1900 not leap
)
def test_a_number_that_names_no_real_date_is_refused(front: str) -> None:
    first_twelve = front + "123456"
    number = f"{front}-123456{check_digit(first_twelve)}"
    with pytest.raises(InvalidResidentNumber, match="not a real date"):
        parse_resident_number(number)


def test_29_february_of_a_leap_year_is_a_real_date() -> None:
    number = make_resident_number(date(2000, 2, 29), "312345")
    assert parse_resident_number(number).birth_date == date(2000, 2, 29)


@pytest.mark.parametrize(
    "text",
    [
        *("", "900101", "900101-123456", "900101-12345678", "90o101-1234568"),
        *("900101_1234568", "900101--1234568", "9001011-234568"),
    ],
)
def test_malformed_numbers_are_refused(text: str) -> None:
    with pytest.raises(InvalidResidentNumber, match="YYMMDD-SXXXXXX"):
        parse_resident_number(text)


def test_the_dash_may_be_left_out_and_is_put_back() -> None:
    assert parse_resident_number("9001011234568").formatted == WORKED_EXAMPLE


def test_a_future_birth_date_is_refused_when_today_is_known() -> None:
    number = make_resident_number(date(2090, 1, 1), "312345")
    with pytest.raises(InvalidResidentNumber, match="future"):
        parse_resident_number(number, today=date(2026, 1, 1))


def test_the_number_must_encode_the_given_birth_date() -> None:
    assert validate_resident_number(WORKED_EXAMPLE, birth_date=date(1990, 1, 1))
    with pytest.raises(InvalidResidentNumber, match="does not encode"):
        validate_resident_number(WORKED_EXAMPLE, birth_date=date(1990, 1, 2))


def test_no_error_and_no_repr_ever_shows_the_number() -> None:
    wrong = "900101-1234567"
    with pytest.raises(InvalidResidentNumber) as refused:
        parse_resident_number(wrong)
    assert "900101" not in str(refused.value)
    number = parse_resident_number(WORKED_EXAMPLE)
    assert "900101" not in repr(number)
    assert number.masked == "900101-1******"


def _details(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "홍길동",
        "birth_date": "1990-01-01",
        "resident_number": "9001011234568",
        "phone": "010-1234-5678",
        "address": "서울특별시 마포구 월드컵로 1",
        "preferred_language": "ko",
    }
    return {**base, **changes}


def test_personal_details_store_the_number_with_its_dash_and_hide_everything_in_repr() -> None:
    details = PersonalDetails.model_validate(_details())
    assert details.resident_number == WORKED_EXAMPLE
    assert details.masked_resident_number == "900101-1******"
    shown = repr(details) + str(details)
    for secret in ("홍길동", "900101", "010-1234", "마포구"):
        assert secret not in shown


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"resident_number": "900101-1234567"}, "resident_number"),
        ({"birth_date": "1991-01-01"}, None),
        ({"phone": "call me"}, "phone"),
        ({"preferred_language": "Korean!"}, "preferred_language"),
        ({"name": "  "}, "name"),
    ],
)
def test_invalid_personal_details_are_refused_by_field(
    changes: dict[str, object], field: str | None
) -> None:
    with pytest.raises(ValidationError) as refused:
        PersonalDetails.model_validate(_details(**changes))
    locations = [error["loc"] for error in refused.value.errors()]
    assert locations == [(field,)] if field else [()]


# Built from code points, not typed, so that the source stays plain ASCII.
FULL_WIDTH = {ord(c): ord(c) + 0xFEE0 for c in "0123456789-"}
FULL_WIDTH_DIGITS = {ord(c): ord(c) + 0xFEE0 for c in "0123456789"}
ARABIC_INDIC = {ord(str(d)): 0x0660 + d for d in range(10)}
EXTENDED_ARABIC_INDIC = {ord(str(d)): 0x06F0 + d for d in range(10)}


@pytest.mark.parametrize(
    "typed",
    [
        WORKED_EXAMPLE.translate(FULL_WIDTH),
        WORKED_EXAMPLE.translate(ARABIC_INDIC),
        WORKED_EXAMPLE.translate(EXTENDED_ARABIC_INDIC),
        WORKED_EXAMPLE.replace("-", "\u2010"),
        WORKED_EXAMPLE.replace("-", "\u2212"),
        WORKED_EXAMPLE.replace("-", "").translate(FULL_WIDTH),
    ],
)
def test_digits_and_dashes_of_other_scripts_and_widths_read_as_the_ascii_number(
    typed: str,
) -> None:
    number = parse_resident_number(typed)
    assert number.formatted == WORKED_EXAMPLE
    assert number.masked == "900101-1******"


@pytest.mark.parametrize(
    "typed",
    [
        "710909-1234567".translate(FULL_WIDTH_DIGITS),
        "710909-1234567".translate(ARABIC_INDIC),
        "900101-\u00b9234568",
        "900101-x234568",
        "900101-\x00234568",
        "\ud800" * 14,
    ],
)
def test_any_text_is_either_a_number_or_an_invalid_resident_number_that_never_repeats_it(
    typed: str,
) -> None:
    try:
        parse_resident_number(typed)
    except InvalidResidentNumber as refused:
        assert typed not in str(refused) and typed[:6] not in str(refused)
        assert refused.__cause__ is None and refused.__context__ is None


def test_number_phone_and_birth_date_are_kept_in_ascii_digits_whatever_digits_are_typed() -> None:
    details = PersonalDetails.model_validate(
        _details(
            resident_number=WORKED_EXAMPLE.translate(FULL_WIDTH),
            phone="010-1234-5678".translate(FULL_WIDTH),
            birth_date="1990-01-01".translate(ARABIC_INDIC),
        )
    )
    assert details.resident_number == WORKED_EXAMPLE
    assert details.masked_resident_number == "900101-1******"
    assert details.phone == "010-1234-5678"
    assert details.birth_date == date(1990, 1, 1)
