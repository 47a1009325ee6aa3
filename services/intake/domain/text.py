"""Text as people type it: digits of any script or width as ASCII; no control characters.

A resident number typed on a Korean keyboard in full-width mode (digits U+FF10..U+FF19, the
hyphen U+FF0D), or on an Arabic one (digits U+0660..U+0669), is the same number as the one
typed in ASCII: it is folded to ASCII before it is validated, so it is stored, indexed and
masked one way only, and never trips over a digit the rules do not know.

Names, addresses and notes refuse control characters: NUL cannot be stored in PostgreSQL
text or JSON, a lone surrogate cannot be encoded, and terminal escapes belong in no record.
The refusals never repeat the text they refuse (it is personal data, R11).
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

# Dashes people type between digit groups (hyphen, non-breaking hyphen, figure dash, en and
# em dash, minus sign, small and full-width hyphen-minus): all read as the ASCII hyphen.
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212\ufe63\uff0d", "-"))


def fold_digits(text: str) -> str:
    """`text` with every decimal digit as its ASCII digit and every dash as `-` (NFKC first)."""
    folded = unicodedata.normalize("NFKC", text).translate(_DASHES)
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in folded)


def fold_digits_of_text(value: object) -> object:
    """A `BeforeValidator`: text with its digits folded to ASCII, anything else as it is."""
    return fold_digits(value).strip() if isinstance(value, str) else value


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
"""Text of one line with no control characters (a name, an address); limits are the field's."""

Note = Annotated[str, AfterValidator(refuse_control_characters_but_line_breaks)]
"""Free text over several lines (cultural needs) with no other control characters."""
