"""Tonight's rows into PostgreSQL: one connection and one transaction for every table of one database.

The first table a load opens streams its rows with ``COPY`` batch by batch as they are joined, so
memory stays flat; a connection carries one ``COPY`` at a time, so a second table (the change feed,
written in the same pass) is spooled to a temporary file and copied after the first, before the one
``COMMIT``. Readers see last night's rows or tonight's, in both tables together, never a mix; on
any failure the transaction is rolled back and nothing of tonight is left.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from typing import IO, Any, TypeVar

import pyarrow as pa

from reconciler.config import DatabaseTable
from reconciler.errors import DatabaseWriteFailed
from reconciler.output.postgres.columns import csv_chunk
from reconciler.output.postgres.connect import Connection, DatabaseError, connect, one_line
from reconciler.output.postgres.shape import Layout, Replace
from reconciler.output.postgres.tables import copy_statement, count_rows, prepare

_REPLAY_CHUNK = 1 << 20
T = TypeVar("T")


class TableLoad:
    """Rows for one table; ``rows`` counts them. Streamed, or spooled until the connection is free."""

    def __init__(self, load: DatabaseLoad, table: DatabaseTable, layout: Layout, text_columns: Collection[str],
                 *, streamed: bool, kept_rows: int) -> None:
        self._load, self.table, self.layout, self._text = load, table, layout, frozenset(text_columns)
        self.kept_rows = kept_rows  # rows of other runs of tonight's date that stay (the change feed)
        self.rows = 0
        self._copy: AbstractContextManager[Any] | None = None
        self._stream: Any = None
        # Closed by finish or discard: it lives across calls, so no with block can hold it.
        self._spool: IO[bytes] | None = None if streamed else tempfile.TemporaryFile(prefix="reconciler-")  # noqa: SIM115

    def write(self, batch: pa.RecordBatch) -> None:
        chunk = csv_chunk(batch.select(list(self.layout.columns)), self._text)
        if self._spool is not None:
            self._spool.write(chunk)
        else:
            self._load.guarded(str(self.table), lambda: self._streaming().write(chunk))
        self.rows += batch.num_rows

    def _streaming(self) -> Any:
        if self._stream is None:
            self._copy = self._load.connection.cursor().copy(copy_statement(self.table, self.layout.columns))
            self._stream = self._copy.__enter__()
        return self._stream

    def finish(self) -> None:
        """End the stream, or copy the spool now that the connection is free."""
        if self._spool is not None:
            self._spool.seek(0)
            with self._load.connection.cursor().copy(copy_statement(self.table, self.layout.columns)) as copy:
                while chunk := self._spool.read(_REPLAY_CHUNK):
                    copy.write(chunk)
            self._spool.close()
        elif self._copy is not None:
            self._copy.__exit__(None, None, None)

    def discard(self) -> None:
        if self._spool is not None:
            self._spool.close()


class DatabaseLoad:
    """One database's tables for tonight, committed together by ``commit``, or rolled back by ``abort``."""

    def __init__(self, first: DatabaseTable) -> None:
        self.connection: Connection = connect(first)
        self._tables: list[TableLoad] = []

    def open(self, table: DatabaseTable, layout: Layout, text_columns: Collection[str], replace: Replace) -> TableLoad:
        """Create or check the table and remove the rows tonight replaces; then it takes rows."""
        def ready() -> int:
            with self.connection.cursor() as cursor:
                problem = prepare(cursor, table, layout, replace)
                if problem is not None:
                    raise DatabaseWriteFailed(str(table), f"the table's columns differ from this run's: {problem}")
                # The change feed: other runs of tonight's date keep their rows (a rerun adds to the day).
                return count_rows(cursor, table, "recon_run_date", replace.run_date) \
                    if replace.column == "recon_run_id" else 0

        kept = self.guarded(str(table), ready)
        load = TableLoad(self, table, layout, text_columns, streamed=not self._tables, kept_rows=kept)
        self._tables.append(load)
        return load

    def guarded(self, label: str, step: Callable[[], T]) -> T:
        """``step()``, with a database error as ``DatabaseWriteFailed`` naming the table."""
        try:
            return step()
        except DatabaseError as exc:
            raise DatabaseWriteFailed(label, one_line(exc)) from None

    def commit(self) -> None:
        try:
            for load in self._tables:
                self.guarded(str(load.table), load.finish)
            self.guarded(", ".join(str(load.table) for load in self._tables), self.connection.commit)
        except BaseException:
            self.abort()
            raise
        self.connection.close()

    def abort(self) -> None:
        for load in self._tables:
            load.discard()
        self.connection.close()  # the server rolls the open transaction back
