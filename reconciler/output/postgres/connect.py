"""A connection to the PostgreSQL server of an output table, and libpq's errors as one line.

Importing this module needs psycopg (the ``[postgres]`` extra); without it the import itself is the
one-line error that says which extra to install, so the core install stays light. The password
comes from libpq's own sources only: ``PGPASSWORD``, ``PGPASSFILE`` or ``?passfile=PATH`` (a URL
holding one is refused when the options are read).
"""

from __future__ import annotations

from typing import Any

from reconciler.config import DatabaseTable
from reconciler.errors import DatabaseUnusable, UsageError

try:
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict
except ImportError as missing:  # the [postgres] extra is not installed
    raise UsageError("a PostgreSQL output needs psycopg: pip install 'brightpattern-reconciler[postgres]'") \
        from missing

Connection = psycopg.Connection[Any]
Cursor = psycopg.Cursor[Any]
DatabaseError = psycopg.Error
CONNECT_TIMEOUT = "10"  # seconds: an unreachable server fails the run before any request, not after minutes


def connect(table: DatabaseTable) -> Connection:
    """A connection in a transaction of its own (not autocommit); ``DatabaseUnusable`` when there is none."""
    params: dict[str, Any] = conninfo_to_dict(table.url)
    params.setdefault("connect_timeout", CONNECT_TIMEOUT)
    params.setdefault("application_name", "reconciler")
    try:
        return psycopg.connect(**params, autocommit=False)
    except psycopg.Error as exc:
        raise DatabaseUnusable(str(table), f"cannot connect: {one_line(exc)}{_hint(exc)}") from None


def qualified(table: DatabaseTable) -> sql.Identifier:
    """The table's name, quoted (``"analytics"."recon_status"``): case and odd names kept."""
    return sql.Identifier(*table.table.split("."))


def one_line(error: BaseException) -> str:
    """libpq's message (several lines, tabs) as one line."""
    return " ".join(str(error).split()) or type(error).__name__


def _hint(error: BaseException) -> str:
    text = str(error)
    if "no password supplied" in text or "password authentication failed" in text:
        return "; the password comes from PGPASSWORD, PGPASSFILE or ?passfile=PATH in the URL"
    return ""
