"""The first pass over the input: every distinct usable key into the journal.

Keys are de-duplicated by the journal, not in memory, so that tens of millions of rows cost no
more memory than one batch. Loading is idempotent: a run killed half-way loads again from the start.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow.compute as pc

from reconciler.input.keys import key_texts
from reconciler.input.read import BadRows, InputSpec, read_batches
from reconciler.journal.store import Journal
from reconciler.reporting.progress import Progress


def load_keys(journal: Journal, spec: InputSpec, bad_rows: BadRows, progress: Progress | None = None,
              check_stop: Callable[[], None] = lambda: None) -> None:
    """Read ``spec`` and add its keys to ``journal``; ``check_stop`` raises to stop between batches."""
    progress = progress or Progress()
    rows = invalid = 0

    def bytes_read(position: int) -> None:
        progress.done = position

    loading = journal.key_load()
    for batch in read_batches(spec, bad_rows, on_bytes=bytes_read):
        check_stop()
        texts = key_texts(batch, spec.key_columns)
        rows += batch.num_rows
        if spec.total_rows is not None:
            progress.done = rows
        invalid += texts.null_count
        loading.add(pc.unique(texts.drop_null()).to_pylist())
    loading.finish({"rows": rows, "invalid_rows": invalid, "bad_rows": bad_rows.count,
                    "bad_row_lines": bad_rows.lines})
