"""The end-of-run summary, printed on stderr: readable at a glance."""

from __future__ import annotations

from reconciler.lookup import LookupStatus
from reconciler.stats import RunStats

_ORDER = (LookupStatus.FOUND, LookupStatus.NOT_FOUND, LookupStatus.INVALID_INPUT, LookupStatus.ERROR)


def format_summary(stats: RunStats) -> str:
    """A short block of aligned lines describing the finished run."""
    rate = stats.requests_sent / stats.duration_seconds if stats.duration_seconds > 0 else 0.0
    lines = [
        f"reconciler: {'resumed run' if stats.resumed else 'run'} finished in {_duration(stats.duration_seconds)}",
        f"  rows in          {stats.rows:,}",
        f"  distinct keys    {stats.distinct_keys:,}",
        f"  strategy         {_strategy(stats)}",
        f"  requests sent    {stats.requests_sent:,} ({stats.retries:,} retries, {rate:,.1f}/s achieved)",
    ]
    for status in _ORDER:
        count = stats.by_status.get(status.value, 0)
        lines.append(f"  {status.value:<16} {count:,}{_share(count, stats.rows)}")
    if stats.completion_rate is not None:
        lines.append(f"  completed        {stats.completed_rows:,} of the found rows ({stats.completion_rate:.1%})")
    if stats.top_dispositions:
        tops = ", ".join(f"{name} {count:,}" for name, count in stats.top_dispositions[:5])
        lines.append(f"  top dispositions {tops}")
    if stats.bad_rows_skipped:
        lines.append(f"  bad rows skipped {stats.bad_rows_skipped:,} (lines {_lines(stats.bad_row_lines)})")
    if stats.warnings:
        lines.append(f"  warnings         {stats.warnings:,} values could not be read and were left null")
    if stats.unmatched_records is not None:
        lines.append(f"  unmatched        {stats.unmatched_records:,} records of the list no input key asked for")
    lines.append(f"  output           {stats.output_path}")
    return "\n".join(lines)


def _strategy(stats: RunStats) -> str:
    if stats.strategy == "scan":
        size = f", a list of {stats.list_size:,} records" if stats.list_size is not None else ""
        return f"scan (the list read in pages of 1,000{size})"
    return "query (one request per distinct key)"


def _share(count: int, total: int) -> str:
    return f" ({count / total:.1%})" if total else ""


def _lines(numbers: tuple[int, ...]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10])
    return shown + (", ..." if len(numbers) > 10 else "")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{rest:02d}s" if hours else f"{minutes}m{rest:02d}s"
