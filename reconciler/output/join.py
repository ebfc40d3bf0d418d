"""Join each input batch with the journalled results: one output row per input row, in order.

The output's columns: the input's, unchanged; every entry field the server sends, with the
server's value (a field named like an input column, case-insensitively since 5.x lower-cases
names, or like a status column, is written as ``entry_<field>``); the status columns, every field
the API documents, always present and always of the same types, and ``extraStatus`` for any other
status field (``custom_*``), as one JSON object; then the lookup's own ``recon_*`` (with
``recon_differing_columns``, see ``reconciler.output.compare``) and the run's identity. A night
whose answers lack a field still writes its column (null), so BI loads see one schema.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from reconciler.journal.columns import results_table
from reconciler.lookup import LookupStatus
from reconciler.output.compare import comparable_columns, differing_columns
from reconciler.output.history import RunIdentity

UTC_MS = pa.timestamp("ms", tz="UTC")
STATUS_FIELDS = (
    pa.field("completed", pa.bool_()),
    pa.field("lastDisposition", pa.string()),
    pa.field("lastDate", UTC_MS),
    pa.field("lastPhone", pa.string()),
    pa.field("lastCallDuration", pa.int64()),
    pa.field("lastAgent", pa.string()),
    pa.field("totalAttempts", pa.int64()),
    pa.field("globalInteractionID", pa.string()),
    pa.field("completedTime", UTC_MS),
    pa.field("extraStatus", pa.string()),  # JSON object of undocumented status fields; null when none
)
RECON_FIELDS = (
    pa.field("recon_status", pa.string()),
    pa.field("recon_http_status", pa.int32()),
    pa.field("recon_error", pa.string()),
    pa.field("recon_attempts", pa.int32()),
    pa.field("recon_checked_at", UTC_MS),  # when the server last confirmed the row's values
    pa.field("recon_source", pa.string()),  # which read set them: query, scan, full_read or changes
    pa.field("recon_differing_columns", pa.string()),  # found rows: JSON array of input columns unlike the record's
)
RUN_FIELDS = (
    pa.field("recon_run_id", pa.string()),
    pa.field("recon_run_date", pa.date32()),
)
FIXED_COLUMNS = tuple(f.name for f in STATUS_FIELDS + RECON_FIELDS + RUN_FIELDS)
_RESERVED = frozenset(name.casefold() for name in FIXED_COLUMNS)
# Journal column -> status output column.
_STATUS_SOURCES = ("completed", "last_disposition", "last_date", "last_phone", "last_call_duration",
                   "last_agent", "total_attempts", "global_interaction_id", "completed_time", "extra")
# ``Journal.lookup_columns``'s table, or ``Journal.lookup``'s rows ``(key, *RESULT_COLUMNS)``.
Lookup = Callable[[Sequence[str]], pa.Table | list[tuple[Any, ...]]]


def colliding_input_columns(input_schema: pa.Schema) -> list[str]:
    """Input columns whose names the output reserves for status and ``recon_*`` columns."""
    return [name for name in input_schema.names if name.casefold() in _RESERVED]


@dataclass(frozen=True)
class OutputLayout:
    """The output schema, and where each added column's values come from."""

    schema: pa.Schema
    input_names: tuple[str, ...]
    entry_columns: tuple[tuple[str, str], ...]  # (output column, folded entry field name)
    entry_names: tuple[str, ...] = ()  # every entry field name the list has shown, as it spelled it
    compared: tuple[str, ...] = ()  # input columns compared with the record's same-named entry field


def plan_output(input_schema: pa.Schema, entry_names: Sequence[str]) -> OutputLayout:
    """The output's columns for this input and the entry field names the server sent."""
    taken = {name.casefold() for name in input_schema.names}
    entry = entry_columns_named(entry_names, taken)
    fields = [pa.field(f.name, f.type) for f in input_schema]
    fields += [pa.field(column, pa.string()) for column, _ in entry]
    fields += [*STATUS_FIELDS, *RECON_FIELDS, *RUN_FIELDS]
    compared = comparable_columns(input_schema, {folded for _, folded in entry})
    return OutputLayout(pa.schema(fields), tuple(input_schema.names), tuple(entry), tuple(entry_names), compared)


def entry_columns_named(names: Sequence[str], taken: set[str]) -> list[tuple[str, str]]:
    """``(output column, folded field name)`` for each entry field, in first-seen order, one per folded name.

    A field keeps its own name unless an input column (``taken``, folded) or a status or ``recon_*``
    column has it; then it is ``entry_<field>``, and while that is taken too (by an input column or
    by another field's own name), ``entry_`` is added again. Own names are given out first, so a
    field that keeps its name is never moved by one seen before it; prefixed names go in first-seen order.
    """
    first: dict[str, str] = {}
    for name in names:
        first.setdefault(name.casefold(), name)  # one column per field, spelled as first seen
    fields = list(first.values())
    used = taken | _RESERVED
    own = {name for name in fields if name.casefold() not in used}
    used |= {name.casefold() for name in own}
    columns: list[tuple[str, str]] = []
    for name in fields:
        column = name
        if name not in own:
            column = "entry_" + name
            while column.casefold() in used:
                column = "entry_" + column
            used.add(column.casefold())
        columns.append((column, name.casefold()))
    return columns


def join_batch(batch: pa.RecordBatch, key_texts: pa.Array, lookup: Lookup, layout: OutputLayout,
               run: RunIdentity) -> pa.RecordBatch:
    """The output rows for ``batch``, whose rows have the key texts ``key_texts`` (null: unusable)."""
    wanted = pc.unique(key_texts.drop_null()).to_pylist()
    found = lookup(wanted)
    results = found if isinstance(found, pa.Table) else results_table(found)
    positions = pc.index_in(key_texts, value_set=results.column("key").combine_chunks())
    entries = _entry_values(results, positions, layout)
    columns = [batch.column(name) for name in layout.input_names]
    columns += [entries[folded] for _, folded in layout.entry_columns]
    columns += _status_columns(results, positions)
    recon = _recon_columns(results, positions, key_texts)
    found_rows = pc.equal(recon[0], LookupStatus.FOUND.value)
    columns += [*recon, differing_columns(batch, layout.compared, entries, found_rows)]
    columns += _run_columns(run, batch.num_rows)
    return pa.RecordBatch.from_arrays(columns, schema=layout.schema)


def unmatched_layout(entry_names: Sequence[str]) -> OutputLayout:
    """Columns of the table of listed records that no input key matched: index, entry, status."""
    entry = entry_columns_named(entry_names, {"list_index"})
    fields = [pa.field("list_index", pa.int64()), *(pa.field(column, pa.string()) for column, _ in entry),
              *STATUS_FIELDS]
    return OutputLayout(pa.schema(fields), ("list_index",), tuple(entry), tuple(entry_names))


def unmatched_batch(rows: list[tuple[Any, ...]], layout: OutputLayout) -> pa.RecordBatch:
    """Rows ``(list_index, *RESULT_COLUMNS)`` from the journal, as a batch of ``unmatched_layout``."""
    results = results_table(rows, pa.field("list_index", pa.int64()))
    positions = pa.array(range(len(rows)), pa.int64())
    entries = _entry_values(results, positions, layout)
    columns = [results.column("list_index").combine_chunks()]
    columns += [entries[folded] for _, folded in layout.entry_columns]
    columns += _status_columns(results, positions)
    return pa.RecordBatch.from_arrays(columns, schema=layout.schema)


def _spread(results: pa.Table, source: str, positions: pa.Array) -> pa.Array:
    """The journal column ``source`` (int64 or string) on the output's rows: null where no result."""
    return results.column(source).combine_chunks().take(positions)


def _status_columns(results: pa.Table, positions: pa.Array) -> list[pa.Array]:
    # INTEGER journal columns: epoch ms for the times, 0/1 (any non-zero true, as bool() had it) for completed
    return [_spread(results, source, positions).cast(field.type)
            for field, source in zip(STATUS_FIELDS, _STATUS_SOURCES, strict=True)]


INVALID_KEY_ERROR = "a key value is empty or blank; not sent"


def _recon_columns(results: pa.Table, positions: pa.Array, key_texts: pa.Array) -> list[pa.Array]:
    status = _spread(results, "status", positions)
    invalid = pc.is_null(key_texts)
    unanswered = pc.and_(pc.invert(invalid), pc.is_null(positions))
    status = pc.if_else(invalid, LookupStatus.INVALID_INPUT.value, status)
    status = pc.if_else(unanswered, LookupStatus.ERROR.value, status)
    error = _spread(results, "error", positions)
    error = pc.if_else(unanswered, "no result was recorded for this key", error)
    error = pc.if_else(invalid, INVALID_KEY_ERROR, error)
    attempts = pc.fill_null(_spread(results, "attempts", positions).cast(pa.int32()), 0)
    return [
        status,
        _spread(results, "http_status", positions).cast(pa.int32()),
        error,
        attempts,
        _spread(results, "checked_at", positions).cast(UTC_MS),
        _spread(results, "source", positions),
    ]


def _entry_values(results: pa.Table, positions: pa.Array, layout: OutputLayout) -> dict[str, pa.Array]:
    """Each entry column's values by folded field name, aligned with the output's rows."""
    if not layout.entry_columns:
        return {}
    texts = results.column("entry").combine_chunks()
    decoded = _read_entries(texts, layout.entry_names)
    if decoded is None:  # a name spelled otherwise than the known ones: the exact way
        decoded = _load_entries(texts.to_pylist())
    missing = pa.nulls(len(texts), pa.string())
    return {folded: decoded.get(folded, missing).take(positions) for _, folded in layout.entry_columns}


def _run_columns(run: RunIdentity, rows: int) -> list[pa.Array]:
    return [pa.repeat(pa.scalar(run.run_id, pa.string()), rows), pa.repeat(pa.scalar(run.run_date, pa.date32()), rows)]


def _read_entries(texts: pa.Array, names: Sequence[str]) -> dict[str, pa.Array] | None:
    """Each entry field's values by folded name, read by pyarrow's JSON reader (about 5× json.loads).

    Every field is read as the text it is: with a schema of every name the list has shown, as
    strings, so that no value is inferred into another type (a date-like text into a timestamp).
    """
    if not len(texts):
        return {}
    lines = _lines(texts)
    schema = pa.schema([(name, pa.string()) for name in dict.fromkeys(names)])
    try:
        table = pa_json.read_json(
            pa.BufferReader(lines),
            read_options=pa_json.ReadOptions(use_threads=False, block_size=max(len(lines) + 1, 1 << 20)),
            parse_options=pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error"))
    except pa.ArrowInvalid:
        return None
    values: dict[str, pa.Array] = {}
    for name in table.column_names:  # two spellings of one field (a list read by v2, then v3) fill one column
        column, folded = table.column(name).combine_chunks(), name.casefold()
        values[folded] = pc.coalesce(values[folded], column) if folded in values else column
    return values


def _lines(texts: pa.Array) -> pa.Buffer:
    """The entries' JSON texts one a line (none or empty: ``{}``), joined by Arrow, not a Python string."""
    texts = pc.fill_null(texts, "")
    texts = pc.if_else(pc.equal(texts, ""), "{}", texts)
    lines = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(texts)], pa.int32()), texts), "\n")
    return lines[0].as_buffer()


def _load_entries(texts: Sequence[str | None]) -> dict[str, pa.Array]:
    folded_maps = [_folded(text) for text in texts]
    names = dict.fromkeys(name for values in folded_maps for name in values)
    return {name: pa.array([values.get(name) for values in folded_maps], pa.string()) for name in names}


def _folded(text: str | None) -> dict[str, str | None]:
    if not text:
        return {}
    return {name.casefold(): value for name, value in json.loads(text).items()}
