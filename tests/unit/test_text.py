"""Text every service keeps: stripped before it is measured, control characters refused."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from services.directory.entrypoints.schemas import AgencyRegistration
from shared.text import Line, Note

LINE = TypeAdapter(Line)


@pytest.mark.parametrize("blank", ["", "   ", "\u3000 "])
def test_a_line_of_only_blanks_is_refused_not_kept_as_empty_text(blank: str) -> None:
    with pytest.raises(ValidationError):
        LINE.validate_python(blank)


def test_a_line_is_stripped_and_bounded_and_refuses_control_characters() -> None:
    assert LINE.validate_python("  Mapo Welfare Center ") == "Mapo Welfare Center"
    with pytest.raises(ValidationError):
        LINE.validate_python("x" * 201)
    with pytest.raises(ValidationError) as refused:
        LINE.validate_python("a\x00b")
    assert "a\x00b" not in str(refused.value.errors(include_input=False))


def test_a_note_keeps_line_breaks_but_no_other_control_character() -> None:
    notes = TypeAdapter(Note)
    assert notes.validate_python("first\nsecond\tthird") == "first\nsecond\tthird"
    with pytest.raises(ValidationError):
        notes.validate_python("first\x1b[2Jsecond")


def test_an_agency_registered_with_a_blank_name_is_refused() -> None:
    with pytest.raises(ValidationError):
        AgencyRegistration.model_validate({"agency_id": "ag-1", "name": "   ", "region": "Mapo"})
