"""The figures of a campaign audit, counted from a run's output table one batch at a time.

Only counts are kept (per status, disposition, day, agent and attempt count), so a table of tens
of millions of rows needs no more memory than its number of distinct dispositions, days and agents,
plus 16 bytes a distinct key when the key columns are known (``distinct``).

Two units are counted: **input rows** (one a row of the table, as the run's summary counts them)
and, when the key columns are known, **records**: each distinct key once, however many input rows
ask for it (rows that repeat a key were asked once and carry the same status). An operations
manager reads "completed" as records, so the campaign figures are counted in records when they can be.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from reconciler.errors import InputError
from reconciler.reporting.audit.distinct import DistinctKeys, key_digests
from reconciler.reporting.audit.tables import STATUS_COLUMNS, batches, column_names, require_status_table

TOP_AGENTS = 20
_WHEN_COLUMNS = ("recon_checked_at", "recon_run_id", "recon_run_date")


@dataclass(kw_only=True)
class Tally:
    """The counts of one unit: input rows, or records (distinct keys)."""

    total: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    attempted: int = 0
    reached_agent: int = 0
    completed: int = 0
    positive: int = 0
    never_attempted: int = 0
    dispositions: Counter[tuple[bool, str]] = field(default_factory=Counter)  # (completed, disposition)
    attempts: Counter[int] = field(default_factory=Counter)  # totalAttempts -> found
    days: Counter[str] = field(default_factory=Counter)  # lastDate's day (UTC) -> found
    agent_records: Counter[str] = field(default_factory=Counter)
    agent_completed: Counter[str] = field(default_factory=Counter)

    @property
    def found(self) -> int:
        return self.by_status["found"]

    @property
    def completion_rate(self) -> float:
        """Completed over found on the list."""
        return self.completed / self.found if self.found else 0.0

    @property
    def most_attempts(self) -> int:
        return max(self.attempts, default=0)

    def top_agents(self) -> list[tuple[str, int, int]]:
        """(agent, found, completed) for the busiest agents; the rest summed as one last row."""
        ranked = sorted(self.agent_records.items(), key=lambda item: (-item[1], item[0]))
        shown = [(name, count, self.agent_completed[name]) for name, count in ranked[:TOP_AGENTS]]
        rest = ranked[TOP_AGENTS:]
        if rest:
            shown.append((f"{len(rest)} other agents", sum(count for _, count in rest),
                          sum(self.agent_completed[name] for name, _ in rest)))
        return shown


@dataclass(kw_only=True)
class AuditFigures:
    """Everything the page shows, as numbers."""

    rows: Tally = field(default_factory=Tally)
    records: Tally | None = None  # None: the key columns are not known
    key_columns: tuple[str, ...] = ()
    unmatched: int | None = None  # list records no input key asked for; None without --unmatched
    checked_from: datetime | None = None
    checked_to: datetime | None = None
    run_ids: set[str] = field(default_factory=set)
    run_dates: set[str] = field(default_factory=set)
    positive_rule: str = ""

    @property
    def campaign(self) -> Tally:
        """The tally the campaign's figures are drawn from: records when known, else input rows."""
        return self.records if self.records is not None else self.rows

    @property
    def unit(self) -> str:
        return "records" if self.records is not None else "input rows"


def count_figures(table: Path, *, positive: frozenset[str] | None = None, unmatched: Path | None = None,
                  key_columns: Sequence[str] = ()) -> AuditFigures:
    """The audit's figures for ``table``; ``positive``: the dispositions that count as a success
    (None: every completed record's disposition); ``key_columns``: the list's key, to count records.
    An unusable or empty table is an ``InputError``."""
    names = require_status_table(table)
    keys = tuple(dict.fromkeys(key_columns))
    absent = [name for name in keys if name not in names]
    if absent:
        raise InputError(table, f"has no key column {', '.join(absent)} (the table's columns: {', '.join(names)})")
    columns = list(dict.fromkeys([*STATUS_COLUMNS, *keys, *(name for name in _WHEN_COLUMNS if name in names)]))
    figures = AuditFigures(records=Tally() if keys else None, key_columns=keys,
                           positive_rule="completed with " + ", ".join(sorted(positive)) if positive
                           else "every completed record (no --positive given)")
    seen = DistinctKeys()
    for batch in batches(table, columns):
        _tally(figures.rows, batch, positive)
        if figures.records is not None:
            _tally(figures.records, _first_of_their_key(batch, keys, seen), positive)
        _when(figures, batch)
    if figures.rows.total == 0:
        raise InputError(table, "the table has no rows: nothing to report")
    if unmatched is not None:
        figures.unmatched = sum(batch.num_rows for batch in batches(unmatched, [_first_column(unmatched)]))
    return figures


def _first_of_their_key(batch: pa.RecordBatch, keys: tuple[str, ...], seen: DistinctKeys) -> pa.RecordBatch:
    # An invalid_input row has no usable key: it is an input row, never a record.
    keyed = batch.filter(pc.not_equal(batch.column("recon_status"), "invalid_input"))
    first = seen.first_seen(*key_digests([keyed.column(name) for name in keys]))
    return keyed.filter(pa.array(first))


def _first_column(path: Path) -> str:
    names = column_names(path)
    if not names:
        raise InputError(path, "has no columns")
    return names[0]


def _tally(tally: Tally, batch: pa.RecordBatch, positive: frozenset[str] | None) -> None:
    tally.total += batch.num_rows
    status = batch.column("recon_status")
    tally.by_status.update(_value_counts(status))
    found = batch.filter(pc.equal(status, "found"))
    if found.num_rows == 0:
        return
    attempts = pc.fill_null(found.column("totalAttempts").cast(pa.int64()), 0)
    done = pc.fill_null(found.column("completed").cast(pa.bool_()), False)
    disposition = pc.fill_null(found.column("lastDisposition").cast(pa.string()), "")
    agent = pc.fill_null(found.column("lastAgent").cast(pa.string()), "")
    attempted = pc.greater(attempts, 0)
    tally.attempted += _true(attempted)
    tally.never_attempted += found.num_rows - _true(attempted)
    tally.reached_agent += _true(pc.not_equal(agent, ""))
    tally.completed += _true(done)
    chosen = pc.is_in(disposition, value_set=pa.array(sorted(positive), pa.string())) if positive else None
    tally.positive += _true(pc.and_(done, chosen) if chosen is not None else done)
    tally.attempts.update({int(k): v for k, v in _value_counts(attempts).items()})
    grouped = pa.table({"done": done, "disposition": disposition}).group_by(
        ["done", "disposition"]).aggregate([([], "count_all")])
    for flag, name, count in zip(*(grouped.column(c).to_pylist() for c in ("done", "disposition", "count_all")),
                                 strict=True):
        tally.dispositions[(bool(flag), name or "(none)")] += count
    tally.days.update(_value_counts(_day(found.column("lastDate"))))
    agents = pa.table({"agent": agent, "done": done.cast(pa.int64())}).filter(pc.not_equal(agent, ""))
    by_agent = agents.group_by("agent").aggregate([("done", "count"), ("done", "sum")])
    for name, count, completed in zip(*(by_agent.column(c).to_pylist() for c in ("agent", "done_count", "done_sum")),
                                      strict=True):
        tally.agent_records[name] += count
        tally.agent_completed[name] += completed or 0


def _when(figures: AuditFigures, batch: pa.RecordBatch) -> None:
    names = batch.schema.names
    if "recon_run_id" in names:
        figures.run_ids.update(value for value in pc.unique(batch.column("recon_run_id")).to_pylist() if value)
    if "recon_run_date" in names:  # a date (Parquet) or its ISO text (CSV)
        figures.run_dates.update(str(value) for value in pc.unique(batch.column("recon_run_date")).to_pylist()
                                 if value)
    if "recon_checked_at" not in names:
        return
    checked = batch.column("recon_checked_at")
    if pa.types.is_string(checked.type):  # a CSV table: ISO text
        text = pc.replace_substring(pc.utf8_slice_codeunits(checked, 0, 19), " ", "T")  # either ISO separator
        checked = pc.strptime(text, format="%Y-%m-%dT%H:%M:%S", unit="ms",
                              error_is_null=True)
    low, high = pc.min_max(checked).values()
    for value, pick in ((low.as_py(), min), (high.as_py(), max)):
        if value is None:
            continue
        value = value.replace(tzinfo=None)
        current = figures.checked_from if pick is min else figures.checked_to
        chosen = value if current is None else pick(current, value)
        if pick is min:
            figures.checked_from = chosen
        else:
            figures.checked_to = chosen


def _day(column: pa.Array) -> pa.Array:
    if pa.types.is_string(column.type):  # CSV: 2021-02-19T19:12:21.000Z
        return pc.utf8_slice_codeunits(column, 0, 10)
    return pc.strftime(column, format="%Y-%m-%d")


def _value_counts(array: pa.Array) -> dict[Any, int]:
    counts = pc.value_counts(array)
    return {value: count for value, count in zip(counts.field("values").to_pylist(),
                                                 counts.field("counts").to_pylist(), strict=True)
            if value is not None}


def _true(mask: pa.Array) -> int:
    return int(pc.sum(mask.cast(pa.int64())).as_py() or 0)
