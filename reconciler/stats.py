"""What a run did: the figures behind the summary, the run report and the exit code."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

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


@dataclass(frozen=True, kw_only=True)
class RunStats:
    """The figures of one finished run."""

    output_path: Path
    rows: int
    distinct_keys: int
    by_status: dict[str, int]
    top_dispositions: list[tuple[str, int]]
    requests_sent: int
    retries: int
    duration_seconds: float
    resumed: bool = False
    bad_rows_skipped: int = 0
    bad_row_lines: tuple[int, ...] = ()
    warnings: int = 0
    queried_this_run: int = 0
    completed_rows: int = 0
    first_errors: tuple[dict[str, object], ...] = ()
    strategy: str = "query"
    list_size: int | None = None  # when auto learned it
    unmatched_records: int | None = None  # with --unmatched
    journal_kept: Path | None = None  # when error rows remain, for --retry-errors

    @property
    def errors(self) -> int:
        return self.by_status.get(LookupStatus.ERROR.value, 0)

    @property
    def exit_code(self) -> int:
        """0 when every row resolved (found, not_found or invalid_input), 1 when some ended in error."""
        return 1 if self.errors else 0

    @property
    def completion_rate(self) -> float | None:
        """Share of found records whose status says completed (None when nothing was found)."""
        found = self.by_status.get(LookupStatus.FOUND.value, 0)
        return None if not found else self.completed_rows / found
