"""No careplan event can carry words about a person (R11): every text field of every event
it publishes, nested values included, is an id or a code with a pattern that admits no
spaces; goals' wording, helpers' names and notes have nowhere to go but the vault."""

from __future__ import annotations

import re
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel

from services.careplan.contract import PUBLISHED

WORDS = "안정된 주거를 찾는다 Kim Young-hee"


def _text_patterns(annotation: Any) -> list[str | None]:
    """The pattern of every `str` reachable in an annotation (None for an unconstrained one)."""
    found: list[str | None] = []
    if annotation is str:
        return [None]
    if get_origin(annotation) is Annotated:
        inner, *metadata = get_args(annotation)
        return _field_patterns(inner, metadata)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for field in annotation.model_fields.values():
            found += _field_patterns(field.annotation, field.metadata)
        return found
    if get_origin(annotation) is not None or get_args(annotation):
        for arg in get_args(annotation):
            found += _text_patterns(arg)
    return found


def _field_patterns(annotation: Any, metadata: list[Any]) -> list[str | None]:
    pattern = next((m.pattern for m in metadata if getattr(m, "pattern", None)), None)
    if annotation is str:
        return [pattern]
    if get_origin(annotation) is not None and str in get_args(annotation) and pattern:
        return [pattern]
    return _text_patterns(annotation)


def test_every_text_field_of_every_careplan_event_is_an_id_or_a_code_r11() -> None:
    for event_class in PUBLISHED:
        patterns = _text_patterns(event_class)
        assert None not in patterns, f"{event_class.__name__} has a free text field"
        for pattern in patterns:
            assert pattern is not None
            assert not re.fullmatch(pattern, WORDS), (event_class.__name__, pattern)
