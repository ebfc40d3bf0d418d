"""The history of nightly status tables as a slowly changing dimension: shipped SQL views, filled in.

``sql/scd_duckdb.sql`` (over the Parquet history) and ``sql/scd_postgres.sql`` (over the table a
PostgreSQL ``--output`` keeps) say what the view gives; ``reconciler sql scd`` prints one with the
key columns, the source and the view's name put in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources

from reconciler.errors import UsageError

SQL_DIALECTS = ("duckdb", "postgres")
DEFAULT_VIEW = "recon_status_history"
DEFAULT_SOURCE = {
    "duckdb": "read_parquet('status/**/*.parquet', hive_partitioning = true, union_by_name = true)",
    "postgres": "recon_status",
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?")


def scd_template(dialect: str) -> str:
    """The shipped SQL file, placeholders and all."""
    if dialect not in SQL_DIALECTS:
        raise UsageError(f"--dialect must be one of {', '.join(SQL_DIALECTS)}, not {dialect!r}")
    return (resources.files("reconciler.output") / "sql" / f"scd_{dialect}.sql").read_text(encoding="utf-8")


def scd_view(dialect: str, key_columns: Sequence[str], *, source: str | None = None,
             view: str = DEFAULT_VIEW) -> str:
    """The view's SQL for these key columns; ``source`` is SQL (a table name, or DuckDB's ``read_parquet``)."""
    if not key_columns or not all(key_columns):
        raise UsageError("name the list's key column(s) with --key, as the output table spells them")
    if not _NAME.fullmatch(view):
        raise UsageError(f"--view must be a name (letters, digits and _, optionally schema.name), not {view!r}")
    values = {"{view}": view, "{keys}": ", ".join(_quoted(name) for name in key_columns),
              "{source}": source or DEFAULT_SOURCE[dialect]}
    lines = scd_template(dialect).splitlines(keepends=True)
    return "".join(line if line.startswith("--") else _filled(line, values) for line in lines)


def _filled(line: str, values: dict[str, str]) -> str:
    for placeholder, value in values.items():
        line = line.replace(placeholder, value)
    return line


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
