"""The change feed (``--changes``): one row per input row whose status differs from the previous run's.

``change_type`` says how, checked in this order: ``new`` (no previous row, or the record was not
on the list before), ``left_list`` (found before, not found now), ``completed`` (completed now,
not before), ``attempted`` (more attempts, still not completed), ``disposition_changed`` (any other
status field differs). Rows that ended in error or had an unusable key say nothing about a change
and are left out. The schema is fixed: the input's columns, ``change_type``, then each status
column twice, ``previous_<name>`` and ``<name>``, and the run's identity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from reconciler.output.join import RUN_FIELDS, STATUS_FIELDS, UTC_MS

CHANGE_TYPES = ("new", "left_list", "completed", "attempted", "disposition_changed")
# The previous run's values, in this order after the key text (state ``reported`` or a ``--previous`` table).
PREVIOUS_COLUMNS = ("run_id", "status", "completed", "last_disposition", "last_date", "last_phone",
                    "last_call_duration", "last_agent", "total_attempts", "global_interaction_id", "completed_time")
_COMPARED = tuple(f for f in STATUS_FIELDS if f.name != "extraStatus")
PreviousLookup = Callable[[Sequence[str]], list[tuple[Any, ...]]]


def changes_schema(input_schema: pa.Schema) -> pa.Schema:
    fields = [pa.field(f.name, f.type) for f in input_schema]
    fields += [pa.field("change_type", pa.string()), pa.field("previous_recon_status", pa.string()),
               pa.field("recon_status", pa.string())]
    for status in _COMPARED:
        fields += [pa.field("previous_" + status.name, status.type), status]
    fields += [pa.field("previous_run_id", pa.string()), *RUN_FIELDS]
    return pa.schema(fields)


def change_batch(joined: pa.RecordBatch, key_texts: pa.Array, previous: PreviousLookup,
                 schema: pa.Schema) -> pa.RecordBatch:
    """The rows of ``joined`` (an output batch) that changed, with their previous values beside."""
    rows = previous(pc.unique(key_texts.drop_null()).to_pylist())
    positions = pc.index_in(key_texts, value_set=pa.array([row[0] for row in rows], pa.string()))
    before = {name: _previous_column(rows, positions, name) for name in PREVIOUS_COLUMNS}
    kind = _change_type(joined, before)
    values = {"change_type": kind, "previous_recon_status": before["status"], "previous_run_id": before["run_id"]}
    values |= {"previous_" + status.name: before[_SOURCE[status.name]] for status in _COMPARED}
    columns = [values[f.name] if f.name in values else joined.column(f.name) for f in schema]
    batch = pa.RecordBatch.from_arrays(columns, schema=schema)
    return batch.filter(pc.fill_null(pc.is_valid(kind), False))


_SOURCE = {"completed": "completed", "lastDisposition": "last_disposition", "lastDate": "last_date",
           "lastPhone": "last_phone", "lastCallDuration": "last_call_duration", "lastAgent": "last_agent",
           "totalAttempts": "total_attempts", "globalInteractionID": "global_interaction_id",
           "completedTime": "completed_time"}
_TYPES = {_SOURCE[f.name]: f.type for f in _COMPARED} | {"run_id": pa.string(), "status": pa.string()}


def _previous_column(rows: list[tuple[Any, ...]], positions: pa.Array, name: str) -> pa.Array:
    at = PREVIOUS_COLUMNS.index(name) + 1
    values = [row[at] for row in rows]
    kind = _TYPES[name]
    if kind == UTC_MS:
        return pa.array(values, pa.int64()).take(positions).cast(UTC_MS)
    if kind == pa.bool_():
        return pa.array([None if v is None else bool(v) for v in values], pa.bool_()).take(positions)
    return pa.array(values, kind).take(positions)


def _change_type(joined: pa.RecordBatch, before: dict[str, pa.Array]) -> pa.Array:
    now, was = joined.column("recon_status"), before["status"]
    found_now, found_before = pc.equal(now, "found"), pc.fill_null(pc.equal(was, "found"), False)
    resolved = pc.is_in(now, value_set=pa.array(["found", "not_found"]))
    completed_now = pc.fill_null(joined.column("completed"), False)
    completed_before = pc.fill_null(before["completed"], False)
    more_attempts = pc.fill_null(pc.greater(pc.fill_null(joined.column("totalAttempts"), 0),
                                            pc.fill_null(before["total_attempts"], 0)), False)
    differs = _any_differs(joined, before)
    kind = pa.nulls(len(now), pa.string())
    # Checked from the last rule to the first, so that the first that holds is the one kept.
    kind = pc.if_else(pc.and_(found_now, differs), "disposition_changed", kind)
    kind = pc.if_else(pc.and_(found_now, pc.and_(more_attempts, pc.invert(completed_now))), "attempted", kind)
    kind = pc.if_else(pc.and_(found_now, pc.and_(completed_now, pc.invert(completed_before))), "completed", kind)
    kind = pc.if_else(pc.and_(pc.equal(now, "not_found"), found_before), "left_list", kind)
    kind = pc.if_else(pc.and_(found_now, pc.invert(found_before)), "new", kind)
    kind = pc.if_else(pc.and_(pc.is_null(was), resolved), "new", kind)
    return pc.if_else(resolved, kind, pa.nulls(len(now), pa.string()))


def _any_differs(joined: pa.RecordBatch, before: dict[str, pa.Array]) -> pa.Array:
    differs = pa.array([False] * joined.num_rows, pa.bool_())
    for status in _COMPARED:
        new, old = joined.column(status.name), before[_SOURCE[status.name]]
        unequal = pc.fill_null(pc.not_equal(new, old), False)
        one_missing = pc.not_equal(pc.is_null(new), pc.is_null(old))
        differs = pc.or_(differs, pc.or_(unequal, one_missing))
    return differs
