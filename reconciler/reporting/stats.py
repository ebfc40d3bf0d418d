"""What a run did: the figures behind the summary, the run report and the exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from reconciler.config import MAX_PAGE_SIZE, Destination
from reconciler.lookup import LookupStatus


@dataclass(frozen=True, kw_only=True)
class SyncFigures:
    """How an incremental run brought its state up to date."""

    full_read: bool
    reason: str  # why the list was read whole, when it was
    pages: int
    changed: int  # items of getChanged and getCompleted pages
    records_read_twice: int = 0  # full read: records that came again (stored once, the later read kept)
    pages_out_of_order: int = 0  # full read: pages whose indexes did not ascend from their fromIndex on


@dataclass(frozen=True, kw_only=True)
class ScanFigures:
    """What a scan's pages met (over the whole scan, an interrupted run's pages included)."""

    records_read_twice: int = 0  # records that came again (stored once, the later read kept)
    pages_out_of_order: int = 0  # pages whose indexes did not ascend from their fromIndex on
    keys_asked: int = 0  # keys the scan did not find, asked one by one because pages came out of order
    keys_found_by_asking: int = 0  # of those, the ones the server found


@dataclass(frozen=True, kw_only=True)
class ThrottleFigures:
    """How the server slowed a run down: its overload answers, the rate cuts and Retry-After pauses."""

    overload_answers: int = 0  # 429 and 503 answers
    rate_cuts: int = 0
    lowest_rate: float | None = None  # requests per second after the deepest cut; None: never cut
    retry_after_pauses: int = 0  # pauses that held every request (an extended one counts once)
    retry_after_seconds: float = 0.0  # how long those pauses held the requests in all

    @property
    def throttled(self) -> bool:
        return bool(self.rate_cuts or self.retry_after_pauses)


@dataclass(frozen=True, kw_only=True)
class RunStats:
    """The figures of one finished run."""

    output_path: Destination  # a file, or a PostgreSQL table
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
    page_size: int = MAX_PAGE_SIZE  # records a page of the list asked for (--page-size)
    unmatched_records: int | None = None  # with --unmatched
    journal_kept: Path | None = None  # when error rows remain, for --retry-errors
    run_id: str = ""  # recon_run_id of every row
    run_date: date | None = None  # recon_run_date
    sync: SyncFigures | None = None  # incremental: how the state was brought up to date
    scan: ScanFigures | None = None  # scan: what its pages met
    asked_one_by_one: int = 0  # incremental: keys asked with Query a record
    changes_path: Destination | None = None  # with --changes
    changed_rows: int = 0
    earlier_change_rows: int = 0  # rows other runs of the same date published in the change feed, kept
    # Retries by what the attempt before each got: "429", "503", "unreadable", "no_answer", ...
    retries_by_status: dict[str, int] = field(default_factory=dict)
    throttle: ThrottleFigures = field(default_factory=ThrottleFigures)

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
