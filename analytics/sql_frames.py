"""Query results straight into pandas through PostgreSQL's COPY.

The job reads millions of answers and hundreds of thousands of cells: row by row through a cursor
(or worse, model instances) that costs seconds; COPY streams text that pandas' C parser reads at
the speed of the wire.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import pandas as pd
from django.db import connection
from psycopg import sql


def copy_to_frame(query: sql.Composable, dtypes: Mapping[str, object]) -> pd.DataFrame:
    """Runs ``COPY (query) TO STDOUT`` in CSV format and parses it into columns named and typed
    by ``dtypes`` (in the query's column order). CSV, not COPY's text format: its quoting is what
    read_csv undoes, so text with tabs, quotes or newlines comes back as it was stored. NULL is
    an unquoted empty field; an empty string would come back as NaN too, so read no column where
    the two must differ. COPY takes no server-side parameters: compose ``query`` with
    psycopg.sql, whose Identifier and Literal quote on the client."""
    buffer = io.BytesIO()
    statement = sql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv)").format(query)
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    return pd.read_csv(
        buffer,
        header=None,
        names=list(dtypes),
        dtype=dict(dtypes),
        na_values=[""],
        keep_default_na=False,
        engine="c",
    )
