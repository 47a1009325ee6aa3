"""Text as people type it: digits of any script or width as ASCII; no control characters.

The control-character refusals are the kit's (`shared.text`), the same in every service.

A resident number typed on a Korean keyboard in full-width mode (digits U+FF10..U+FF19, the
hyphen U+FF0D), or on an Arabic one (digits U+0660..U+0669), is the same number as the one
typed in ASCII: it is folded to ASCII before it is validated, so it is stored, indexed and
masked one way only, and never trips over a digit the rules do not know.
"""

from __future__ import annotations

import unicodedata

from shared.text import Note, PlainText

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


__all__ = ["Note", "PlainText", "fold_digits", "fold_digits_of_text"]
