"""The second pass over the input: join each batch with the journalled results and write the table.

One joined batch is alive at a time, so memory stays flat whatever the input's size. The table is
published only when whole (``TableWriter``); its counts are taken from the rows as written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reconciler.config import ReconcileConfig
from reconciler.input.keys import key_texts
from reconciler.input.read import BadRows, InputSpec, read_batches
from reconciler.journal.store import Journal
from reconciler.output.join import join_batch, plan_output, unmatched_batch, unmatched_layout
from reconciler.output.tally import OutputTally
from reconciler.output.writer import TableWriter, output_format_for
from reconciler.reporting.progress import Progress

_UNMATCHED_CHUNK = 10_000


def write_output(config: ReconcileConfig, journal: Journal, spec: InputSpec,
                 progress: Progress | None = None, check_stop: Callable[[], None] = lambda: None) -> OutputTally:
    """One output row per input row, in order; ``check_stop`` raises to stop between batches."""
    progress = progress or Progress()
    fmt, gzipped = output_format_for(config.output_path, config.output_format)
    layout = plan_output(spec.schema, journal.field_names("entry"), journal.field_names("extra"))
    tally = OutputTally()
    with TableWriter(config.output_path, layout.schema, fmt, gzipped=gzipped) as writer:
        for batch in read_batches(spec, BadRows(skip=config.skip_bad_rows)):
            check_stop()
            joined = join_batch(batch, key_texts(batch, spec.key_columns), journal.lookup, layout)
            tally.add(joined)
            writer.write(joined)
            progress.done = tally.rows
            del joined  # not alive beside the next batch's while that one is read and joined
    return tally


def write_unmatched(path: Path, journal: Journal) -> None:
    """The scanned list's records that no input key matched, in list order."""
    fmt, gzipped = output_format_for(path, None)
    layout = unmatched_layout(journal.field_names("entry"), journal.field_names("extra"))
    with TableWriter(path, layout.schema, fmt, gzipped=gzipped) as writer:
        after = -1
        while rows := journal.listed.unmatched(after, _UNMATCHED_CHUNK):
            writer.write(unmatched_batch(rows, layout))
            after = rows[-1][0]
