"""PostgreSQL outputs (the ``[postgres]`` extra): the status table and the change feed, one table each of every night.

``columns`` (Arrow to PostgreSQL types, batches as CSV for ``COPY``), ``shape`` (a table's columns and
what a night replaces), ``connect`` (psycopg, imported only when a PostgreSQL output is named), ``tables``
(the table checked and prepared in the database),
``preflight`` (every check before a request), ``load`` (tonight's rows in one transaction).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from types import TracebackType
from typing import TYPE_CHECKING

import pyarrow as pa

from reconciler.config import DatabaseTable
from reconciler.errors import DatabaseUnusable
from reconciler.output.postgres.columns import table_columns
from reconciler.output.postgres.shape import Layout, Replace

if TYPE_CHECKING:
    from reconciler.output.postgres.load import DatabaseLoad, TableLoad

__all__ = ["DatabaseLoads", "Layout", "Replace", "feed_layout", "status_layout"]


def status_layout(schema: pa.Schema, key_columns: Sequence[str], entry_columns: Sequence[str] = ()) -> Layout:
    """The status table's columns; entry fields may be new to the table (added as text)."""
    return Layout(_typed(schema, key_columns), addable=tuple(entry_columns), others_may_be_text=True)


def feed_layout(schema: pa.Schema, key_columns: Sequence[str]) -> Layout:
    """The change feed's columns: all known before any request, so the table must have exactly these."""
    return Layout(_typed(schema, key_columns))


def _typed(schema: pa.Schema, key_columns: Sequence[str]) -> dict[str, str]:
    try:
        return table_columns(schema, key_columns)
    except ValueError as exc:
        raise DatabaseUnusable("PostgreSQL output", str(exc)) from None


class DatabaseLoads:
    """Tonight's tables by database: one connection and transaction each, committed on a clean exit."""

    def __init__(self, run_date: date) -> None:
        self.run_date = run_date
        self._loads: dict[str, DatabaseLoad] = {}

    def open(self, table: DatabaseTable, layout: Layout, key_columns: Sequence[str], *, by_run: str | None = None
             ) -> TableLoad:
        """A table that replaces tonight's date (or, ``by_run``, the rows of that run id only)."""
        from reconciler.output.postgres.load import DatabaseLoad

        if table.url not in self._loads:
            self._loads[table.url] = DatabaseLoad(table)
        replace = Replace("recon_run_id", by_run, self.run_date) if by_run is not None \
            else Replace("recon_run_date", self.run_date, self.run_date)
        return self._loads[table.url].open(table, layout, key_columns, replace)

    def __enter__(self) -> DatabaseLoads:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        pending, self._loads = list(self._loads.values()), {}
        while pending:
            load = pending.pop(0)
            if kind is not None:
                load.abort()
                continue
            try:
                load.commit()  # a second database commits after the first: each is atomic on its own
            except BaseException:
                for rest in pending:
                    rest.abort()
                raise
