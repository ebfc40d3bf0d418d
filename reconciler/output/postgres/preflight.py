"""Every check of the PostgreSQL outputs that can fail before a request is sent; nothing is written.

The server is reached and logged in to (an unreachable one fails within ``connect.CONNECT_TIMEOUT``),
each existing table is compared with the columns the run knows it will write, and the user's right
to write it (or to create it) is checked. Any failure is one line naming the table (exit 2).
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.config import DatabaseTable
from reconciler.errors import DatabaseUnusable
from reconciler.output.postgres.connect import Cursor, DatabaseError, connect, one_line
from reconciler.output.postgres.shape import Layout, column_difference
from reconciler.output.postgres.tables import check_privileges, existing_columns


def check_tables(tables: Sequence[tuple[DatabaseTable, Layout]]) -> None:
    """Fail with ``DatabaseUnusable`` when any table could not take tonight's rows."""
    for table, layout in tables:
        connection = connect(table)
        try:
            with connection.cursor() as cursor:
                problem = _problem(cursor, table, layout)
        except DatabaseError as exc:
            raise DatabaseUnusable(str(table), one_line(exc)) from None
        finally:
            connection.close()
        if problem is not None:
            raise DatabaseUnusable(str(table), problem)


def _problem(cursor: Cursor, table: DatabaseTable, layout: Layout) -> str | None:
    try:
        existing = existing_columns(cursor, table)
    except ValueError as exc:
        return str(exc)
    if existing is not None:
        difference, _ = column_difference(existing, layout)
        if difference is not None:
            return (f"the table's columns differ from this run's: {difference}; move the table away or name "
                    "another ?table=")
    return check_privileges(cursor, table, existing is not None)
