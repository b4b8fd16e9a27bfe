"""What real traffic puts in a browser form's fields, as hypothesis strategies.

Every strategy yields ``str`` the test client can send: no lone surrogates, because no HTTP form
body can carry one (Django decodes the body with ``errors="replace"``); the bytes that would
encode one are sent as raw bodies by the survey tests instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from hypothesis import strategies as st

# Refused by config.text_input.text_problem wherever they appear: C0 controls (NUL first:
# PostgreSQL refuses it in text), DEL, C1 controls, and the bidirectional override and isolate
# characters ("Trojan Source").
REFUSED_CHARS = (
    "\x00\x01\x02\x07\x08\x0b\x0c\x0e\x1b\x1c\x1f\x7f\x80\x85\x9b\x9f"
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Allowed by text_problem but awkward: line breaks and tab (refused in single-line text only),
# zero-width and joiner characters, the byte order mark, the replacement character (what a
# broken UTF-8 byte decodes to), a combining accent, an emoji, no-break and line separators.
AWKWARD_CHARS = "\t\n\r\u200b\u200d\ufeff\ufffd\u0301\U0001f600\u00a0\u2028\u2029"
# Strings that have broken web forms elsewhere: quotes and SQL, markup and template syntax,
# format strings, spreadsheet formulas, path tricks, "null" words, lookalike letters.
CLASSICS = (
    "",
    " ",
    "'",
    '"',
    "' OR '1'='1' --",
    "<script>alert(1)</script>",
    "{{ request }}",
    "{% debug %}",
    "%s%s%n",
    "${jndi:ldap://x}",
    '=HYPERLINK("http://x")',
    "../../etc/passwd",
    "\\",
    "NULL",
    "None",
    "\u202egnp.exe",
    "\uff21\uff22\uff23",
    "\U0001d518\U0001d52b\U0001d526",
)

utf8_char = st.characters(codec="utf-8")  # any code point UTF-8 can carry: no surrogates
# NUL as often as all the other refused characters together: it is the one PostgreSQL refuses,
# so the one that turns a missing check into a 500 rather than a stored oddity.
refused_char = st.one_of(st.just("\x00"), st.sampled_from(REFUSED_CHARS))
hostile_char = st.one_of(refused_char, st.sampled_from(AWKWARD_CHARS))


def hostile_text(max_size: int = 60) -> st.SearchStrategy[str]:
    """Free text: the classics, any Unicode, text salted with refused and awkward characters, and
    values far longer than any field takes (with and without a NUL at the end)."""
    long_values = st.builds(
        lambda length, tail: "a" * length + tail,
        st.sampled_from([255, 1_001, 20_000]),
        st.sampled_from(["", "\x00", "\u202e"]),
    )
    return st.one_of(
        st.sampled_from(CLASSICS),
        st.text(alphabet=utf8_char, max_size=max_size),
        st.text(alphabet=st.one_of(hostile_char, utf8_char), min_size=1, max_size=max_size),
        long_values,
    )


def salted(valid: str) -> st.SearchStrategy[str]:
    """``valid`` with one refused character put somewhere in it: the value a form must refuse
    however plausible the rest is."""
    return st.builds(
        lambda position, char: valid[:position] + char + valid[position:],
        st.integers(min_value=0, max_value=len(valid)),
        refused_char,
    )


def numbers_as_text() -> st.SearchStrategy[str]:
    """What lands in a number field: any integer, float or decimal as text (huge ones, NaN and
    infinity included), notations Python reads but a person may not mean, and free text."""
    return st.one_of(
        st.integers(min_value=-20, max_value=40).map(str),
        st.integers().map(str),
        st.floats().map(repr),
        st.decimals().map(str),
        st.sampled_from(
            ["1e3", "1E+999999", "-0", "0x10", "1_000", "+5", "5.", ".5", "5,5", "\uff15", "\u0663", "9" * 5_000]
        ),
        hostile_text(20),
    )


def dates_as_text() -> st.SearchStrategy[str]:
    """What lands in a date field: any real date, impossible and out-of-range ones, other
    formats, and free text."""
    return st.one_of(
        st.dates().map(dt.date.isoformat),
        st.dates().map(lambda day: day.strftime("%d/%m/%Y")),
        st.sampled_from(
            ["0000-00-00", "2026-02-30", "2026-13-01", "9999-12-31", "10000-01-01", "2026-1-1", "-1-01-01"]
        ),
        hostile_text(20),
    )


def ticks() -> st.SearchStrategy[str]:
    """What lands in a checkbox: what browsers send, what scripts send, and free text."""
    return st.one_of(
        st.sampled_from(["on", "off", "true", "false", "1", "0", "", "on\x00", "\u202eon"]), hostile_text(10)
    )


Pairs = list[tuple[str, str]]


@st.composite
def form_pairs(
    draw: st.DrawFn,
    valid: Mapping[str, str],
    hostile: Mapping[str, st.SearchStrategy[str]],
    focus: Sequence[str] = (),
) -> Pairs:
    """A form body as (name, value) pairs: each field valid, hostile, missing, or sent twice (the
    parser takes the last), and now and then a field the form does not have.

    Mostly one to three fields are spoilt and the rest are valid, so that a hostile value reaches
    the code behind the form's other checks (a NUL in an otherwise valid submission is the one
    that reaches the database); now and then every field is drawn on its own. The ``focus``
    fields (free text, where most of what is refused can only be seen) are spoilt alone as often
    as any set of fields is."""
    names = sorted(valid)
    mode = draw(st.sampled_from(["focus", "few", "few", "every"] if focus else ["few", "few", "few", "every"]))
    if mode == "focus":
        spoilt = draw(st.sets(st.sampled_from(sorted(focus)), min_size=1))
    elif mode == "few":
        spoilt = draw(st.sets(st.sampled_from(names), min_size=1, max_size=min(3, len(names))))
    else:
        spoilt = set(names)
    pairs: Pairs = []
    for name, good in valid.items():
        shapes = ["hostile", "hostile", "missing", "twice"] if name in spoilt else ["valid"]
        if len(spoilt) == len(names):
            shapes.append("valid")
        shape = draw(st.sampled_from(shapes))
        if shape == "valid":
            pairs.append((name, good))
        elif shape == "hostile":
            pairs.append((name, draw(hostile[name])))
        elif shape == "twice":
            pairs.extend(draw(st.permutations([(name, good), (name, draw(hostile[name]))])))
    extras = draw(
        st.lists(st.tuples(st.text(alphabet=utf8_char, min_size=1, max_size=12), hostile_text(20)), max_size=2)
    )
    return pairs + extras
