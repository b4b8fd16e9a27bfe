"""COPY into pandas: text, numbers and NULLs come back as PostgreSQL holds them."""

import math

import pytest
from psycopg import sql

from analytics.sql_frames import copy_to_frame

pytestmark = pytest.mark.django_db


def test_copy_to_frame_round_trips_awkward_text_and_numbers(require_postgres):
    awkward = 'a "quoted", tabbed\there\nand a new line \\N'
    query = sql.SQL("SELECT * FROM (VALUES ({text}, 0.1::float8 + 0.2::float8, 7), ('plain', NULL, 8)) AS t").format(
        text=sql.Literal(awkward)
    )
    frame = copy_to_frame(query, {"text": str, "value": "float64", "n": "int64"})
    assert frame["text"].tolist() == [awkward, "plain"]
    assert frame["value"].iloc[0] == 0.1 + 0.2  # the same double, to the last bit
    assert math.isnan(frame["value"].iloc[1])
    assert frame["n"].tolist() == [7, 8]
