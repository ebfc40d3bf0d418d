"""What a PostgreSQL output table holds, checked before any request and again inside the night's transaction.

A table keeps every night: its rows carry ``recon_run_id`` and ``recon_run_date``, and a run replaces
only its own night (``Replace``). It is created when missing, with an index on ``recon_run_date``.
An existing table must have every column the run knows before asking the server (the input's and
the fixed ones) with the same type; the status table may hold other ``text`` columns (entry fields
that earlier nights saw: null tonight), and gains, in the night's transaction, a ``text`` column for
an entry field it has not seen. Any other difference is refused.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date

from psycopg import sql

from reconciler.config import DatabaseTable
from reconciler.output.postgres.connect import Cursor, qualified
from reconciler.output.postgres.shape import Layout, Replace, column_difference


def existing_columns(cursor: Cursor, table: DatabaseTable) -> dict[str, str] | None:
    """The table's columns and types (as ``format_type`` spells them); None when there is no such table."""
    cursor.execute("SELECT c.oid, c.relkind FROM pg_class c WHERE c.oid = to_regclass(%s)",
                   [qualified(table).as_string(cursor)])
    found = cursor.fetchone()
    if found is None:
        return None
    oid, kind = found
    if kind not in ("r", "p"):
        raise ValueError("it is a view or another kind of relation, not a table; name a table")
    cursor.execute("SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                   "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped ORDER BY attnum", [oid])
    return {name: kind for name, kind in cursor.fetchall()}


def check_privileges(cursor: Cursor, table: DatabaseTable, exists: bool) -> str | None:
    """Why the connected user could not write tonight's rows (None when it can)."""
    if exists:
        cursor.execute("SELECT has_table_privilege(to_regclass(%s), 'INSERT'), "
                       "has_table_privilege(to_regclass(%s), 'DELETE')", [qualified(table).as_string(cursor)] * 2)
        allowed = cursor.fetchone()
        return None if allowed == (True, True) else "the user may not INSERT into and DELETE from the table"
    cursor.execute("SELECT n.nspname, has_schema_privilege(n.oid, 'CREATE') FROM pg_namespace n "
                   "WHERE n.nspname = coalesce(%s, current_schema())", [table.schema])
    schema = cursor.fetchone()
    if schema is None:
        return f"the schema {table.schema or '(current_schema)'!r} does not exist; create it first"
    return None if schema[1] else f"the table is missing and the user may not create tables in schema {schema[0]!r}"


def prepare(cursor: Cursor, table: DatabaseTable, layout: Layout, replace: Replace) -> str | None:
    """In the night's transaction: the table as ``layout`` needs it, locked, without the rows ``replace`` names.

    Returns why the table cannot take the rows (nothing was changed then), or None.
    """
    name = qualified(table)
    if existing_columns(cursor, table) is None:
        cursor.execute(sql.SQL("CREATE TABLE {} ({})").format(name, _definitions(layout.columns)))
        cursor.execute(sql.SQL("CREATE INDEX ON {} (recon_run_date)").format(name))
    # Readers keep reading last night's rows; another run writing this table waits for this one.
    cursor.execute(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(name))
    problem, added = column_difference(existing_columns(cursor, table) or {}, layout)
    if problem is not None:
        return problem
    for column in added:
        cursor.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {} text").format(name, sql.Identifier(column)))
    cursor.execute(sql.SQL("DELETE FROM {} WHERE {} = %s").format(name, sql.Identifier(replace.column)),
                   [replace.value])
    return None


def count_rows(cursor: Cursor, table: DatabaseTable, column: str, value: str | date) -> int:
    cursor.execute(sql.SQL("SELECT count(*) FROM {} WHERE {} = %s").format(qualified(table), sql.Identifier(column)),
                   [value])
    found = cursor.fetchone()
    return int(found[0]) if found else 0


def copy_statement(table: DatabaseTable, columns: Collection[str]) -> sql.Composed:
    names = sql.SQL(", ").join(sql.Identifier(column) for column in columns)
    return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(qualified(table), names)


def _definitions(columns: Mapping[str, str]) -> sql.Composed:
    # The types come from columns.postgres_type, never from the input: safe to splice in.
    return sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind))
                              for name, kind in columns.items())
