"""COPY into pandas: text, numbers and NULLs come back as PostgreSQL holds them."""

import math

import pytest
from psycopg import sql

from analytics.job.storage import copy_to_frame

pytestmark = pytest.mark.django_db


AWKWARD = 'a "quoted", tabbed\there\nand a new line \\N'


def rows(text: str) -> sql.Composed:
    return sql.SQL("SELECT * FROM (VALUES ({text}, 0.1::float8 + 0.2::float8, 7), ('plain', NULL, 8)) AS t").format(
        text=sql.Literal(text)
    )


@pytest.mark.parametrize("free_text", [False, True])
def test_copy_to_frame_returns_ids_numbers_and_nulls_as_stored(require_postgres, free_text):
    frame = copy_to_frame(rows("4f1c-team_id"), {"text": str, "value": "float64", "n": "int64"}, free_text=free_text)
    assert frame["text"].tolist() == ["4f1c-team_id", "plain"]
    assert frame["value"].iloc[0] == 0.1 + 0.2  # the same double, to the last bit
    assert math.isnan(frame["value"].iloc[1])
    assert frame["n"].tolist() == [7, 8]


def test_free_text_round_trips_quotes_tabs_newlines_and_backslashes(require_postgres):
    frame = copy_to_frame(rows(AWKWARD), {"text": str, "value": "float64", "n": "int64"}, free_text=True)
    assert frame["text"].tolist() == [AWKWARD, "plain"]
