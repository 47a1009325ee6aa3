"""Ids that hold a resident number or a phone number standing on its own are refused."""

from __future__ import annotations

import pytest

from shared.identifiers import refuse_personal_numbers

REFUSED = [
    "900101-1234567",
    "9001011234567",
    "case-900101-1234567",
    "010-1234-5678",
    "01012345678",
    "011-123-4567",
    "ag.010-1234-5678.x",
    "client:9001011234567",
]
TAKEN = [
    "case-5ca700c8a4f04f86b53bc161007b5f14",
    "case-9001011234567abc",
    "client-f01012345678e",
    "90010112345678",
    "ag-95c7d62a",
    "cm-a-66a88ace",
    "2024-01-02",
    "staff-1234567",
]


@pytest.mark.parametrize("value", REFUSED)
def test_an_id_holding_a_resident_or_phone_number_is_refused_without_repeating_it(
    value: str,
) -> None:
    with pytest.raises(ValueError) as refused:
        refuse_personal_numbers(value)
    assert value not in str(refused.value)


@pytest.mark.parametrize("value", TAKEN)
def test_digits_run_together_with_letters_or_more_digits_are_no_personal_number(
    value: str,
) -> None:
    assert refuse_personal_numbers(value) == value
