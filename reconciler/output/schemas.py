"""The published schemas of every output, built from the columns the code writes, so that they cannot drift.

``docs/schemas/{status,changes,unmatched}.schema.json`` describe one row of each table as JSON
(times as RFC 3339 text, dates as ``YYYY-MM-DD``), with each column's Arrow and PostgreSQL type;
``docs/dbt/sources.yml`` declares the PostgreSQL tables for dbt. Columns that vary (the input's,
and the list's entry fields) are ``additionalProperties`` of type string. Regenerate them with
``python -m reconciler.output.schemas docs``; tests/output/test_schemas.py fails when they differ.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa

from reconciler.lookup import LookupStatus
from reconciler.output.changes import CHANGE_TYPES, changes_schema
from reconciler.output.join import RECON_FIELDS, RUN_FIELDS, STATUS_FIELDS, unmatched_layout
from reconciler.output.postgres.columns import postgres_type

DESCRIPTIONS = {
    "completed": "whether the record is completed",
    "lastDisposition": "final disposition if completed, else the last attempt's",
    "lastDate": "the last attempt's time (UTC)",
    "lastPhone": "the number last dialled",
    "lastCallDuration": "the last call's duration, in seconds",
    "lastAgent": "the agent of the last attempt that reached one",
    "totalAttempts": "call attempts so far",
    "globalInteractionID": "5.x: the last interaction's id",
    "completedTime": "when the record was completed (UTC; getCompleted, v3)",
    "extraStatus": "any other status field the server sent (custom_*), as one JSON object; null when none",
    "recon_status": "found, not_found, invalid_input or error",
    "recon_http_status": "the status of the answer that set the row's values; null when there was none",
    "recon_error": "why, for not_found, invalid_input and error rows",
    "recon_attempts": "requests this run made for this key",
    "recon_checked_at": "when the server last confirmed the row's values (UTC)",
    "recon_source": "which read set the values: query, scan, full_read or changes",
    "recon_differing_columns": "found rows: a JSON array of the input columns whose value is not the record's",
    "recon_run_id": "the run that wrote the row, e.g. 20261205T021500.482Z-3f9a1c",
    "recon_run_date": "the day (UTC) that run started",
    "change_type": "the first that holds of new, left_list, completed, attempted, disposition_changed",
    "previous_run_id": "the run whose values the row is compared with",
    "list_index": "the record's index in the calling list",
}
_NEVER_NULL = {"recon_status", "recon_attempts", "recon_run_id", "recon_run_date", "change_type", "list_index"}
_VALUES = {"recon_status": [status.value for status in LookupStatus], "change_type": list(CHANGE_TYPES),
           "recon_source": ["query", "scan", "full_read", "changes"]}
_VARYING = {
    "status": "the input's columns (as read; text from a CSV input) and the record's entry fields (text)",
    "changes": "the input's columns (as read; text from a CSV input)",
    "unmatched": "the record's entry fields (text)",
}
_TITLES = {
    "status": "reconciler status table: one row per input row",
    "changes": "reconciler change feed: one row per input row whose status changed since the previous run",
    "unmatched": "reconciler unmatched records: the list's records that no input key matched",
}


def fixed_fields(kind: str) -> list[pa.Field]:
    """The columns every table of ``kind`` has, in order, as the code writes them."""
    if kind == "status":
        return [*STATUS_FIELDS, *RECON_FIELDS, *RUN_FIELDS]
    if kind == "changes":
        return list(changes_schema(pa.schema([])))
    if kind == "unmatched":
        return list(unmatched_layout(()).schema)
    raise ValueError(kind)


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema (2020-12) of one row of the ``kind`` table."""
    fields = fixed_fields(kind)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"reconciler/schemas/{kind}.schema.json",
        "title": _TITLES[kind],
        "type": "object",
        "properties": {field.name: _property(field) for field in fields},
        "required": [field.name for field in fields],
        "additionalProperties": {"type": ["string", "null"], "description": _VARYING[kind]},
    }


def _property(field: pa.Field) -> dict[str, Any]:
    json_type, text_format = _json_type(field.type)
    nullable = field.name not in _NEVER_NULL
    spec: dict[str, Any] = {"type": [json_type, "null"] if nullable else json_type}
    if text_format:
        spec["format"] = text_format
    if field.name in _VALUES:
        spec["enum"] = _VALUES[field.name] + ([None] if nullable else [])
    spec["description"] = _description(field.name)
    spec["x-arrow-type"], spec["x-postgres-type"] = str(field.type), postgres_type(field.type)
    return spec


def _json_type(type_: pa.DataType) -> tuple[str, str | None]:
    if pa.types.is_timestamp(type_):
        return "string", "date-time"
    if pa.types.is_date(type_):
        return "string", "date"
    if pa.types.is_boolean(type_):
        return "boolean", None
    if pa.types.is_integer(type_):
        return "integer", None
    return "string", None


def _description(name: str) -> str:
    if name.startswith("previous_") and name != "previous_run_id":
        return f"{name.removeprefix('previous_')} as the previous run reported it"
    return DESCRIPTIONS[name]


def dbt_sources() -> str:
    """A dbt ``sources.yml`` for the PostgreSQL status table and change feed (``--output``/``--changes``)."""
    lines = ["# Generated by `python -m reconciler.output.schemas docs`; do not edit by hand.",
             "# The tables that `--output` and `--changes postgresql://...?table=NAME` write: every night's rows.",
             "version: 2", "", "sources:", "  - name: reconciler", "    schema: public  # the ?table= schema",
             "    tables:"]
    for kind, table in (("status", "recon_status"), ("changes", "recon_changes")):
        description = json.dumps(f"{_TITLES[kind]}; plus {_VARYING[kind]}")
        lines += [f"      - name: {table}", f"        description: {description}", "        columns:"]
        for field in fixed_fields(kind):
            lines += _dbt_column(field)
    return "\n".join(lines) + "\n"


def _dbt_column(field: pa.Field) -> list[str]:
    lines = [f"          - name: {json.dumps(field.name)}", f"            data_type: {postgres_type(field.type)}",
             f"            description: {json.dumps(_description(field.name))}"]
    if field.name != field.name.lower():  # PostgreSQL folds unquoted names: "lastDate" must stay quoted
        lines.append("            quote: true")
    tests = ["not_null"] if field.name in _NEVER_NULL else []
    if field.name in _VALUES:
        tests.append(f"accepted_values: {{values: {json.dumps(_VALUES[field.name])}}}")
    if tests:
        lines += ["            data_tests:", *(f"              - {test}" for test in tests)]
    return lines


def published(folder: Path) -> dict[Path, str]:
    """Each published file under ``folder`` (``docs``) and its text."""
    files = {folder / "schemas" / f"{kind}.schema.json": json.dumps(json_schema(kind), indent=2) + "\n"
             for kind in _TITLES}
    files[folder / "dbt" / "sources.yml"] = dbt_sources()
    return files


if __name__ == "__main__":  # python -m reconciler.output.schemas docs
    for path, text in published(Path(sys.argv[1] if len(sys.argv) > 1 else "docs")).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(path)
