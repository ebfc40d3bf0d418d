"""The second pass over the input: join each batch with the journalled results and write the table.

One joined batch is alive at a time, so memory stays flat whatever the input's size. The table is
published only when whole (a file by ``TableWriter``; a PostgreSQL table in one transaction by
``postgres.DatabaseLoads``, committed after the files); its counts are taken from the rows as written.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from reconciler.config import DatabaseTable, ReconcileConfig, delta_table
from reconciler.input.keys import OVERSIZED_KEY_ERROR, key_texts, oversized_keys
from reconciler.input.read import BadRows, InputSpec, read_batches
from reconciler.journal.store import Journal
from reconciler.output.changes import PreviousLookup, change_batch, changes_schema
from reconciler.output.feed import earlier_runs_of_the_day
from reconciler.output.history import RunIdentity
from reconciler.output.join import OutputLayout, join_batch, plan_output, unmatched_batch, unmatched_layout
from reconciler.output.postgres import DatabaseLoads, feed_layout, status_layout
from reconciler.output.tally import OutputTally
from reconciler.output.writer import TableWriter, output_format_for
from reconciler.reporting.progress import Progress

if TYPE_CHECKING:
    from reconciler.output.postgres.load import TableLoad

_UNMATCHED_CHUNK = 10_000


def write_output(config: ReconcileConfig, journal: Journal, spec: InputSpec, run: RunIdentity,
                 progress: Progress | None = None, check_stop: Callable[[], None] = lambda: None, *,
                 entry_names: Sequence[str] | None = None, previous: PreviousLookup | None = None) -> OutputTally:
    """One output row per input row, in order; ``check_stop`` raises to stop between batches.

    ``entry_names``: the entry columns to write (default: those the journal saw); ``previous``: the
    previous run's values, to write the change feed at ``config.changes_path`` in the same pass.
    """
    progress = progress or Progress()
    layout = plan_output(spec.schema, journal.field_names("entry") if entry_names is None else entry_names)
    tally = OutputTally()
    with contextlib.ExitStack() as files:
        databases = files.enter_context(DatabaseLoads(run.run_date))  # entered first: committed last
        writer = _status_sink(files, databases, config, spec, layout, run)
        feed, feed_schema = _feed(files, databases, config, spec, previous, run), changes_schema(spec.schema)
        if isinstance(feed, TableWriter):
            if delta_table(feed.path) is None:  # a Delta feed keeps the date's other runs itself
                tally.carried_change_rows = _carry_earlier_runs(feed, run)
        elif feed is not None:
            tally.carried_change_rows = feed.kept_rows
        for batch in read_batches(spec, BadRows(skip=config.skip_bad_rows)):
            check_stop()
            texts = key_texts(batch, spec.key_columns)
            joined = _say_why_oversized(join_batch(batch, texts, journal.lookup_columns, layout, run), batch,
                                        spec.key_columns)
            tally.add(joined)
            writer.write(joined)
            if feed is not None and previous is not None:
                changed = change_batch(joined, texts, previous, feed_schema)
                feed.write(changed)
                tally.changed_rows += changed.num_rows
            progress.done = tally.rows
            del joined  # not alive beside the next batch's while that one is read and joined
    return tally


def _say_why_oversized(joined: pa.RecordBatch, batch: pa.RecordBatch,
                       key_columns: Sequence[str]) -> pa.RecordBatch:
    """A row whose key is too long to send says so: the join names every unusable key empty or blank."""
    oversized = oversized_keys(batch, key_columns)
    if not pc.any(oversized).as_py():
        return joined
    at = joined.schema.get_field_index("recon_error")
    error = pc.if_else(oversized, OVERSIZED_KEY_ERROR, joined.column(at))
    return joined.set_column(at, joined.schema.field(at), error)


def _status_sink(files: contextlib.ExitStack, databases: DatabaseLoads, config: ReconcileConfig, spec: InputSpec,
                 layout: OutputLayout, run: RunIdentity) -> TableWriter | TableLoad:
    if isinstance(config.output_path, DatabaseTable):
        columns = status_layout(layout.schema, spec.key_columns, [column for column, _ in layout.entry_columns])
        return databases.open(config.output_path, columns, spec.key_columns)
    fmt, gzipped = output_format_for(config.output_path, config.output_format)
    return files.enter_context(TableWriter(config.output_path, layout.schema, fmt, gzipped=gzipped,
                                           staging=config.journal.parent,
                                           replacing=f"recon_run_date = '{run.run_date.isoformat()}'"))


def _feed(files: contextlib.ExitStack, databases: DatabaseLoads, config: ReconcileConfig, spec: InputSpec,
          previous: PreviousLookup | None, run: RunIdentity) -> TableWriter | TableLoad | None:
    if config.changes_path is None or previous is None:
        return None
    if isinstance(config.changes_path, DatabaseTable):  # a table of every night: this run replaces its own rows
        columns = feed_layout(changes_schema(spec.schema), spec.key_columns)
        return databases.open(config.changes_path, columns, spec.key_columns, by_run=run.run_id)
    fmt, gzipped = output_format_for(config.changes_path, None)
    return files.enter_context(TableWriter(config.changes_path, changes_schema(spec.schema), fmt, gzipped=gzipped,
                                           staging=config.journal.parent,
                                           replacing=f"recon_run_id = '{run.run_id}'"))


def _carry_earlier_runs(feed: TableWriter, run: RunIdentity) -> int:
    """The feed's rows that other runs of the same date published go first: a rerun never loses them."""
    for batch in earlier_runs_of_the_day(feed.path, feed.schema, run):
        feed.write(batch)
    return feed.rows


def write_unmatched(path: Path, journal: Journal) -> None:
    """The scanned list's records that no input key matched, in list order."""
    fmt, gzipped = output_format_for(path, None)
    layout = unmatched_layout(journal.field_names("entry"))
    with TableWriter(path, layout.schema, fmt, gzipped=gzipped, staging=journal.path.parent) as writer:
        after = -1
        while rows := journal.listed.unmatched(after, _UNMATCHED_CHUNK):
            writer.write(unmatched_batch(rows, layout))
            after = rows[-1][0]
