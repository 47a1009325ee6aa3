"""Text every service keeps: no control characters, refused without repeating the text.

Names, regions, reasons and notes end up in PostgreSQL text and JSON columns and in events
every service reads: NUL cannot be stored there at all (a 500 instead of an answer), a lone
surrogate cannot be encoded, and other control characters (terminal escapes, DEL) belong in
no record. The refusals never repeat the text they refuse (it may be personal data, R11).
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

# Cc: C0 and C1 control characters, NUL and DEL among them; Cs: lone surrogates.
_UNKEEPABLE = frozenset({"Cc", "Cs"})
_LINE_BREAKS = frozenset("\n\r\t")


def refuse_control_characters(value: str) -> str:
    """`value` as it is; a ValueError (never repeating it) if it holds a control character."""
    if any(unicodedata.category(ch) in _UNKEEPABLE for ch in value):
        raise ValueError("text may not hold control characters (such as NUL) or lone surrogates")
    return value


def refuse_control_characters_but_line_breaks(value: str) -> str:
    """Like `refuse_control_characters`, but a note may hold line breaks and tabs."""
    if any(ch not in _LINE_BREAKS and unicodedata.category(ch) in _UNKEEPABLE for ch in value):
        raise ValueError(
            "a note may hold line breaks and tabs, but no other control characters "
            "(such as NUL) and no lone surrogates"
        )
    return value


PlainText = Annotated[str, AfterValidator(refuse_control_characters)]
"""Text of one line with no control characters (a name, a region); limits are the field's."""

Note = Annotated[str, AfterValidator(refuse_control_characters_but_line_breaks)]
"""Free text over several lines with no other control characters."""

Line = Annotated[
    str,
    # Stripped and measured first, then checked: constraints placed after a validator's
    # Annotated would measure the text before stripping, and let "   " through as "".
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(refuse_control_characters),
]
"""A name, region or reason: 1 to 200 characters of plain text once blanks are stripped."""
