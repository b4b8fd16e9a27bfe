"""Which characters free text may hold, for every form, serializer and roster row.

PostgreSQL refuses NUL in text and psycopg cannot encode a lone surrogate (which JSON's
``"\\ud800"`` escape produces), so either would end a request in a 500 and lose what else was
typed. Other control characters and the bidirectional overrides are refused too: nobody types
them, and in a team name or a comment they can hide or reorder what a reader sees (a name that
shows as "Platform" but sorts and exports as something else). Tabs and line breaks stay allowed
in multi-line text; names are single-line.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

# Explicit (U+202A-U+202E) and isolate (U+2066-U+2069) direction controls, the "Trojan Source" set.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
LINE_BREAKS = frozenset("\t\n\r")


# What forms and CSV cells may trim from either end without a word: spaces (every Unicode space
# separator), tabs, and the line and paragraph separators. A control character at an end is not
# trimmed (str.strip would drop U+001C-U+001F and NEL too): it stays, to be refused.
EDGE_SPACES = (
    " \t\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def spaces_trimmed(value: str) -> str:
    """``value`` without the spaces (EDGE_SPACES) at its ends, and nothing else taken off."""
    return value.strip(EDGE_SPACES)


def text_problem(value: str, *, multiline: bool) -> str | None:
    """What is wrong with ``value`` as typed text, in words that say what to remove, or None.

    Refused: C0 and C1 control characters and DEL (tab, line feed and carriage return only where
    ``multiline``), lone surrogates, and the bidirectional override and isolate characters."""
    for position, char in enumerate(value, start=1):
        if multiline and char in LINE_BREAKS:
            continue
        category = unicodedata.category(char)
        if category == "Cc":
            kind = "line break or tab" if char in LINE_BREAKS else "control character"
            return f"remove the {kind} {_codepoint(char)} at character {position}"
        if category == "Cs":
            return f"remove the broken character {_codepoint(char)} at character {position} (not valid Unicode)"
        if char in BIDI_CONTROLS:
            return f"remove the text-direction character {_codepoint(char)} at character {position}"
    return None


def _codepoint(char: str) -> str:
    return f"U+{ord(char):04X}"


@deconstructible
class PlainTextValidator:
    """A Django validator for ``text_problem``: ``multiline`` for comments and notes, not for
    names and titles. The message names the character and where it is; the form names the field."""

    def __init__(self, *, multiline: bool = False) -> None:
        self.multiline = multiline

    def __call__(self, value: object) -> None:
        if not isinstance(value, str):
            return
        problem = text_problem(value, multiline=self.multiline)
        if problem:
            raise ValidationError(f"This text holds a character that cannot be stored: {problem}.", code="bad_text")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PlainTextValidator) and other.multiline == self.multiline

    def __hash__(self) -> int:
        return hash(self.multiline)


single_line_text = PlainTextValidator(multiline=False)
multiline_text = PlainTextValidator(multiline=True)
