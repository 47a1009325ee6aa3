"""Free text the directory takes in request bodies and query parameters.

Names, regions and reasons end up in PostgreSQL text and JSON columns and in events every
service reads: NUL cannot be stored there at all (a 500 instead of an answer), a lone
surrogate cannot be encoded, and other control characters (terminal escapes, DEL) belong in
no name. They are refused with a 422 before anything is read or written.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

# Cc: C0 and C1 control characters, NUL and DEL among them; Cs: lone surrogates.
_UNKEEPABLE = frozenset({"Cc", "Cs"})


def refuse_control_characters(value: str) -> str:
    """`value` as it is; a ValueError (never repeating it) if it holds a control character."""
    if any(unicodedata.category(ch) in _UNKEEPABLE for ch in value):
        raise ValueError("text may not hold control characters (such as NUL) or lone surrogates")
    return value


PlainText = Annotated[str, AfterValidator(refuse_control_characters)]
"""Text of one line with no control characters; length limits are the field's own."""

Text = Annotated[PlainText, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
"""A name, region or reason: 1 to 200 characters of plain text."""
