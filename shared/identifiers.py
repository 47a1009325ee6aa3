"""Ids never hold a resident registration number or a phone number (every service's id types).

Ids travel in URLs, Kafka keys, `ce_source`, logs and answers (`no case '...'`): an id made
of a resident number or a phone number would carry it everywhere, so such an id is refused
with a 422 that does not repeat it. A number counts when it stands on its own in the id,
between its ends and the separators `._:-` (`900101-1234567`, `case-010-1234-5678`); digits
run together with letters, as in the hex of the uuids in the ids services issue, do not.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, StringConstraints

PERSONAL_NUMBER = re.compile(
    r"(?<![A-Za-z0-9])(?:[0-9]{6}-?[0-9]{7}|01[0-9]-?[0-9]{3,4}-?[0-9]{4})(?![A-Za-z0-9])"
)
"""A resident registration number (`YYMMDD-SXXXXXX`) or a mobile number (`010-1234-5678`)."""


def refuse_personal_numbers(value: str) -> str:
    """`value` as it is; a ValueError (never repeating it) if it holds a personal number."""
    if PERSONAL_NUMBER.search(value):
        raise ValueError("an id may not hold a resident registration number or a phone number")
    return value


NoPersonalNumber = AfterValidator(refuse_personal_numbers)
"""Annotate an id type with this to refuse ids that hold a personal number."""

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
"""Ids travel in URLs, Kafka keys and `ce_source`: letters, digits and `._:-` only."""

ID_MAX_LENGTH = 64

Identifier = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN
    ),
    NoPersonalNumber,
]
"""An id in a request body: one that can travel everywhere and holds no personal number."""

PathId = Annotated[
    str, Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN), NoPersonalNumber
]
"""An id in a route's path, checked the same way (a 422 that does not repeat it)."""

QueryId = Annotated[
    str, Query(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN), NoPersonalNumber
]
"""An id in a query string, checked the same way."""
