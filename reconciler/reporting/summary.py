"""The end-of-run summary, printed on stderr: readable at a glance, and equal to the table.

Every count comes from the output table as it was written (``OutputTally``), so that a reader who
counts the table's ``recon_status`` or ``lastDisposition`` values finds the same numbers. Statuses
are named as in the table's ``recon_status`` column; counts share one right-aligned column.
"""

from __future__ import annotations

from reconciler.config import shown
from reconciler.lookup import LookupStatus
from reconciler.reporting.stats import RunStats

_ORDER = (LookupStatus.FOUND, LookupStatus.NOT_FOUND, LookupStatus.INVALID_INPUT, LookupStatus.ERROR)
TOP_DISPOSITIONS_SHOWN = 5
_LABEL = 17  # "top dispositions" and a space


def format_summary(stats: RunStats) -> str:
    """A short block of aligned lines describing the finished run."""
    tops = stats.top_dispositions[:TOP_DISPOSITIONS_SHOWN]
    label = max([_LABEL, *(len(name) + 3 for name, _ in tops)])  # a disposition is indented 2 more
    width = len(f"{stats.rows:,}")  # no count exceeds the rows

    def row(name: str, count: int, note: str = "") -> str:
        return f"  {name:<{label}}{count:>{width},}{note}"

    lines = [headline(stats), row("rows", stats.rows, f"  ({stats.distinct_keys:,} distinct keys)")]
    lines += [row(status.value, _count(stats, status), _share(_count(stats, status), stats.rows))
              for status in _ORDER]
    if stats.completion_rate is not None:
        lines.append(row("completed", stats.completed_rows, f"{_percent(stats.completion_rate)} of found"))
    if tops:
        lines.append("  top dispositions")
        lines += [row(f"  {name}", count) for name, count in tops]
    lines += _details(stats, label)
    return "\n".join(lines)


def headline(stats: RunStats) -> str:
    """The summary's first line: how long the run took, and whether every row resolved."""
    run = "resumed run" if stats.resumed else "run"
    outcome = "every row resolved" if not stats.errors else \
        f"{rows(stats.errors)} ended in error, see recon_error (exit 1)"
    return f"reconciler: {run} finished in {_duration(stats.duration_seconds)}; {outcome}"


def _details(stats: RunStats, label: int) -> list[str]:
    rate = stats.requests_sent / stats.duration_seconds if stats.duration_seconds > 0 else 0.0
    details = [("strategy", _strategy(stats)),
               ("requests", f"{stats.requests_sent:,} sent, {stats.retries:,} retries, {rate:,.1f}/s")]
    if stats.throttle.throttled:
        details.append(("throttled", _throttled(stats)))
    if stats.bad_rows_skipped:
        details.append(("bad rows skipped", f"{stats.bad_rows_skipped:,} (lines {_lines(stats.bad_row_lines)})"))
    if stats.warnings:
        details.append(("warnings", f"{stats.warnings:,} values could not be read and were left null"))
    if stats.changes_path is not None:
        earlier = (f" (and {rows(stats.earlier_change_rows)} of earlier runs today, kept)"
                   if stats.earlier_change_rows else "")
        details.append(("changes", f"{rows(stats.changed_rows)} changed since the previous run{earlier}: "
                                   f"{shown(stats.changes_path)}"))
    if stats.unmatched_records is not None:
        details.append(("unmatched", f"{stats.unmatched_records:,} records of the list no input key asked for"))
    details.append(("output", shown(stats.output_path)))
    if stats.journal_kept is not None:
        details.append(("journal", f"{stats.journal_kept} kept: add --retry-errors to the same command "
                                   "to ask again for the error rows only"))
    return [f"  {name:<{label}}{text}" for name, text in details]


def _throttled(stats: RunStats) -> str:
    throttle, parts = stats.throttle, []
    if throttle.rate_cuts:
        lowest = f" (lowest {throttle.lowest_rate:,.1f}/s)" if throttle.lowest_rate is not None else ""
        parts.append(f"rate cut {_times(throttle.rate_cuts)}{lowest}")
    if throttle.retry_after_pauses:
        pauses = "pause" if throttle.retry_after_pauses == 1 else "pauses"
        parts.append(f"{throttle.retry_after_pauses:,} Retry-After {pauses}, "
                     f"{_duration(throttle.retry_after_seconds)} in all")
    return "; ".join(parts)


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count:,} times"


def rows(count: int) -> str:
    """``1 row``, ``2,002 rows``."""
    return f"{count:,} row{'' if count == 1 else 's'}"


def _count(stats: RunStats, status: LookupStatus) -> int:
    return stats.by_status.get(status.value, 0)


def _strategy(stats: RunStats) -> str:
    if stats.strategy == "incremental" and stats.sync is not None:
        sync = stats.sync
        read_whole = "the whole list read again: " + sync.reason + _paging(sync.pages_out_of_order,
                                                                           sync.records_read_twice)
        how = read_whole if sync.full_read else f"{sync.changed:,} changed records in {sync.pages:,} pages"
        return f"incremental ({how}; {stats.asked_one_by_one:,} keys asked one by one)"
    if stats.strategy == "scan":
        size = f", a list of {stats.list_size:,} records" if stats.list_size is not None else ""
        scan = stats.scan
        met = "" if scan is None else _paging(scan.pages_out_of_order, scan.records_read_twice)
        if scan is not None and scan.pages_out_of_order:
            met += (f"; {scan.keys_asked:,} keys it did not find asked one by one, "
                    f"{scan.keys_found_by_asking:,} found")
        return f"scan (the list read in pages of {stats.page_size:,}{size}{met})"
    return "query (one request per distinct key)"


def _paging(out_of_order: int, read_twice: int) -> str:
    """What a read of the list met that its pages should not hold, when it met any: ``; 2 pages out of ...``."""
    parts = []
    if out_of_order:
        parts.append(f"{out_of_order:,} page{'' if out_of_order == 1 else 's'} out of index order")
    if read_twice:
        parts.append(f"{read_twice:,} record{'' if read_twice == 1 else 's'} read twice")
    return "".join(f"; {part}" for part in parts)


def _share(count: int, total: int) -> str:
    return _percent(count / total) if total else ""


def _percent(fraction: float) -> str:
    return f"{fraction:>9.1%}"


def _lines(numbers: tuple[int, ...]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10])
    return shown + (", ..." if len(numbers) > 10 else "")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{rest:02d}s" if hours else f"{minutes}m{rest:02d}s"
