"""Counts taken from the output table itself as it is written, so that the summary equals the table."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from reconciler.lookup import LookupStatus

FIRST_ERRORS_KEPT = 10


@dataclass
class OutputTally:
    """Counts taken from the output table itself as it is written, so the summary equals the table."""

    rows: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    dispositions: Counter[str] = field(default_factory=Counter)
    completed: int = 0
    first_errors: list[dict[str, object]] = field(default_factory=list)
    changed_rows: int = 0  # this run's rows of the change feed, when one is written
    carried_change_rows: int = 0  # rows of earlier runs of the same date kept in the feed

    def add(self, batch: pa.RecordBatch) -> None:
        if len(self.first_errors) < FIRST_ERRORS_KEPT:
            self._keep_errors(batch)
        self.rows += batch.num_rows
        self.completed += int(pc.sum(batch.column("completed")).as_py() or 0)
        self.by_status.update(_value_counts(batch.column("recon_status")))
        self.dispositions.update(_value_counts(batch.column("lastDisposition")))


    def _keep_errors(self, batch: pa.RecordBatch) -> None:
        positions = pc.indices_nonzero(pc.equal(batch.column("recon_status"), LookupStatus.ERROR.value))
        for position in positions.to_pylist()[:FIRST_ERRORS_KEPT - len(self.first_errors)]:
            row = batch.slice(position, 1).to_pylist()[0]
            self.first_errors.append({"row": self.rows + position + 1, "recon_error": row["recon_error"],
                                      "recon_http_status": row["recon_http_status"],
                                      "recon_attempts": row["recon_attempts"]})


def _value_counts(column: pa.Array) -> dict[str, int]:
    counts = pc.value_counts(column.drop_null())
    return {str(v): int(n) for v, n in zip(counts.field("values").to_pylist(),
                                              counts.field("counts").to_pylist(), strict=True)}
