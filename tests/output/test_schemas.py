"""The published schemas (docs/schemas, docs/dbt) are the code's columns; real outputs are checked against them
in tests/integration/test_output_schemas.py."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from reconciler.output.join import FIXED_COLUMNS
from reconciler.output.schemas import fixed_fields, json_schema, published

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_published_files_are_the_ones_the_code_builds() -> None:
    for path, text in published(DOCS).items():
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: python -m reconciler.output.schemas docs"


def test_each_schema_is_valid_json_schema_and_names_every_fixed_column_in_order() -> None:
    for kind in ("status", "changes", "unmatched"):
        schema = json.loads((DOCS / "schemas" / f"{kind}.schema.json").read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
        assert list(schema["properties"]) == schema["required"] == [field.name for field in fixed_fields(kind)]
        assert schema["additionalProperties"]["type"] == ["string", "null"]
    status = json_schema("status")
    assert tuple(status["properties"]) == FIXED_COLUMNS
    assert status["properties"]["lastDate"] == {
        "type": ["string", "null"], "format": "date-time", "description": "the last attempt's time (UTC)",
        "x-arrow-type": "timestamp[ms, tz=UTC]", "x-postgres-type": "timestamp with time zone"}
    assert status["properties"]["recon_status"]["enum"] == ["found", "not_found", "invalid_input", "error"]


def test_the_dbt_sources_declare_both_tables_with_their_postgresql_types() -> None:
    sources = yaml.safe_load((DOCS / "dbt" / "sources.yml").read_text(encoding="utf-8"))
    tables = {table["name"]: table for table in sources["sources"][0]["tables"]}
    assert set(tables) == {"recon_status", "recon_changes"}
    status = {column["name"]: column for column in tables["recon_status"]["columns"]}
    assert list(status) == list(FIXED_COLUMNS)
    assert status["totalAttempts"]["data_type"] == "bigint" and status["totalAttempts"]["quote"] is True
    assert status["recon_run_date"]["data_tests"] == ["not_null"]
    changes = [column["name"] for column in tables["recon_changes"]["columns"]]
    assert changes == [field.name for field in fixed_fields("changes")]
