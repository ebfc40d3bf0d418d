"""What the code writes matches the published schemas: every row of a real status table, change feed and
unmatched table validates against docs/schemas, and a PostgreSQL table has the types they publish."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow.parquet as pq
import pytest
from conftest import SAMPLES, SimulatorFactory, credentials, run_args, run_cli
from postgres_server import PASSWORD, Database

pytestmark = pytest.mark.anyio
SCHEMAS = SAMPLES.parent / "docs" / "schemas"


def as_json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value.isoformat() if isinstance(value, date) else value


def validate(path: Path, kind: str) -> int:
    schema = json.loads((SCHEMAS / f"{kind}.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    table = pq.read_table(path)
    for name, spec in schema["properties"].items():
        assert str(table.schema.field(name).type) == spec["x-arrow-type"], (kind, name)
    rows = table.to_pylist()
    for row in rows:
        validator.validate({name: as_json(value) for name, value in row.items()})
    return len(rows)


async def test_real_outputs_match_the_published_schemas(tmp_path: Path, simulator: SimulatorFactory,
                                                        postgres: Database) -> None:
    async with simulator() as sim:
        nightly = run_args(sim.base_url, SAMPLES / "keys.csv", tmp_path / "status.parquet", "--rate", "inf",
                           "--strategy", "incremental", "--state", str(tmp_path / "list.state"),
                           "--changes", str(tmp_path / "changes.parquet"))
        scan = run_args(sim.base_url, SAMPLES / "keys.csv", tmp_path / "scan.parquet", "--rate", "inf",
                        "--strategy", "scan", "--unmatched", str(tmp_path / "unmatched.parquet"))
        into_table = run_args(sim.base_url, SAMPLES / "keys.csv", tmp_path, "--rate", "inf",
                              "--journal", str(tmp_path / "pg.journal"))
        into_table[into_table.index("--output") + 1] = postgres.url("recon_status")
        for args in (nightly, scan, into_table):
            done = await run_cli(args, {**credentials(), "PGPASSWORD": PASSWORD})
            assert done.code == 0, done.stderr

    assert validate(tmp_path / "status.parquet", "status") == validate(tmp_path / "scan.parquet", "status") == 2002
    assert validate(tmp_path / "changes.parquet", "changes") > 1000  # the first night: every record is new
    assert validate(tmp_path / "unmatched.parquet", "unmatched") > 1000
    published = json.loads((SCHEMAS / "status.schema.json").read_text(encoding="utf-8"))["properties"]
    columns = postgres.columns("recon_status")
    assert {name: columns[name] for name in published} == {
        name: spec["x-postgres-type"] for name, spec in published.items()}
