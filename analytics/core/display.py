"""Display order for rows of units (R4: a sort order is an output too). No Django."""

from __future__ import annotations

# pandas ships no type information and pandas-stubs is not a project dependency.
import pandas as pd  # type: ignore[import-untyped]

__all__ = ["sort_units_for_display"]


def sort_units_for_display(
    rows: pd.DataFrame,
    key: str,
    *,
    descending: bool = False,
    published_column: str = "published",
    label_column: str = "path",
) -> pd.DataFrame:
    """Rows in display order: published cells by ``key``, then hidden cells in a fixed order.

    R4: a sort order is an output too. If hidden cells were sorted by their value, or mixed in
    with published ones, their position would bound the hidden value. So a hidden row's ``key`` is
    never read: hidden rows go last, ordered by ``label_column`` (the unit path) alone. Published
    rows with no value (NaN/None, e.g. a Pilot ratio with no AI users) come after the valued ones,
    by label. Ties between equal values are broken by label, so the order never depends on input
    order. Returns a new frame with the original index.
    """
    published_flags = rows[published_column].tolist()
    labels = [str(label) for label in rows[label_column].tolist()]
    values = rows[key].tolist()

    def sort_key(position: int) -> tuple[int, float, str]:
        if not bool(published_flags[position]):
            return (2, 0.0, labels[position])  # the value is deliberately not looked at
        value = values[position]
        if value is None or pd.isna(value):
            return (1, 0.0, labels[position])
        number = float(value)
        return (0, -number if descending else number, labels[position])

    order = sorted(range(len(labels)), key=sort_key)
    return rows.iloc[order]
