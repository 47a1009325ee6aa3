"""Monitoring's request bodies take the kit's ids and text (`shared.identifiers`,
`shared.text`): a note of blanks, a control character or an id holding a resident number is
refused before any rule is asked (R11: nothing about a person is kept by mistake)."""

from __future__ import annotations

import pydantic
import pytest

from services.monitoring.entrypoints.schemas import FollowUpBody, ReturnFormBody, VisitBody


@pytest.mark.parametrize("observations", ["   ", "seen\x00", "\x1b[2J", "x" * 4001])
def test_r11_a_visit_note_of_blanks_control_characters_or_too_long_is_refused(
    observations: str,
) -> None:
    with pytest.raises(pydantic.ValidationError) as refused:
        VisitBody.model_validate({"visited_on": "2026-03-09", "observations": observations})
    if observations.strip():
        assert observations not in str(refused.value)


def test_r11_a_note_keeps_its_line_breaks_and_loses_its_outer_blanks() -> None:
    body = VisitBody.model_validate(
        {"visited_on": "2026-03-09", "observations": "  kitchen cold\n\theating fixed  "}
    )
    assert body.observations == "kitchen cold\n\theating fixed"


def test_r11_a_review_id_holding_a_resident_number_is_refused_without_repeating_it() -> None:
    with pytest.raises(pydantic.ValidationError) as refused:
        FollowUpBody.model_validate({"kind": "review", "review_id": "review-900101-1234567"})
    assert "1234567" not in str(refused.value)


def test_a_form_answer_code_stays_a_lowercase_word_stricter_than_an_id() -> None:
    with pytest.raises(pydantic.ValidationError):
        ReturnFormBody.model_validate(
            {"answers": [{"question": "Contact-OK", "answer": "yes", "negative": False}]}
        )
