"""reconciler.output.postgres against a real server: typed columns, one transaction a night, rows streamed."""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from decimal import Decimal

import psycopg
import pyarrow as pa
import pytest
from postgres_server import Database

from reconciler.config import DatabaseTable
from reconciler.errors import DatabaseUnusable, DatabaseWriteFailed, UsageError
from reconciler.output.postgres import DatabaseLoads, feed_layout, status_layout
from reconciler.output.postgres.preflight import check_tables

TONIGHT, LAST_NIGHT = date(2026, 12, 6), date(2026, 12, 5)
SCHEMA = pa.schema([("account_id", pa.string()), ("completed", pa.bool_()), ("totalAttempts", pa.int64()),
                    ("lastDate", pa.timestamp("ms", tz="UTC")), ("recon_run_id", pa.string()),
                    ("recon_run_date", pa.date32())])


def table(postgres: Database, name: str = "recon_status") -> DatabaseTable:
    return DatabaseTable.parse(postgres.url(name), "--output")


def batch(keys: list[str | None], run_id: str, day: date = TONIGHT, schema: pa.Schema = SCHEMA) -> pa.RecordBatch:
    rows = len(keys)
    return pa.record_batch({
        "account_id": pa.array(keys, pa.string()), "completed": pa.array([True, None, False][:rows] * (rows // 3 + 1))
        .slice(0, rows), "totalAttempts": pa.array(range(rows), pa.int64()),
        "lastDate": pa.array([1_600_000_000_000] * rows, pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
        "recon_run_id": pa.array([run_id] * rows), "recon_run_date": pa.array([day] * rows, pa.date32())},
        schema=schema)


@pytest.fixture(autouse=True)
def password(monkeypatch: pytest.MonkeyPatch, postgres: Database) -> None:
    monkeypatch.setenv("PGPASSWORD", postgres.server.password)


def write_night(postgres: Database, batches: list[pa.RecordBatch], day: date = TONIGHT) -> None:
    with DatabaseLoads(day) as loads:
        load = loads.open(table(postgres), status_layout(SCHEMA, ["account_id"]), ["account_id"])
        for each in batches:
            load.write(each)


def test_a_missing_table_is_created_with_typed_columns_and_a_night_keeps_the_values_and_the_nulls(
        postgres: Database) -> None:
    write_night(postgres, [batch(["000123", "", None], "run-1")])
    assert postgres.columns("recon_status") == {
        "account_id": "text", "completed": "boolean", "totalAttempts": "bigint",
        "lastDate": "timestamp with time zone", "recon_run_id": "text", "recon_run_date": "date"}
    rows = postgres.query('SELECT account_id, completed, "totalAttempts", "lastDate", recon_run_date '
                          'FROM recon_status ORDER BY "totalAttempts"')
    when = datetime.fromtimestamp(1_600_000_000, UTC)
    assert rows == [("000123", True, 0, when, TONIGHT), ("", None, 1, when, TONIGHT), (None, False, 2, when, TONIGHT)]
    indexes = postgres.query("SELECT indexdef FROM pg_indexes WHERE tablename = 'recon_status'")
    assert any("(recon_run_date)" in str(definition) for (definition,) in indexes)


def test_a_failure_while_writing_leaves_last_nights_rows_and_nothing_of_tonight(postgres: Database) -> None:
    write_night(postgres, [batch(["1", "2"], "last", LAST_NIGHT)], LAST_NIGHT)
    write_night(postgres, [batch(["1", "2"], "first-try")])
    with pytest.raises(RuntimeError), DatabaseLoads(TONIGHT) as loads:
        load = loads.open(table(postgres), status_layout(SCHEMA, ["account_id"]), ["account_id"])
        load.write(batch(["1", "2", "3"], "rerun"))
        raise RuntimeError("the run stopped")
    nights = postgres.query("SELECT recon_run_id, count(*) FROM recon_status GROUP BY 1 ORDER BY 1")
    assert nights == [("first-try", 2), ("last", 2)]


def test_a_value_the_server_refuses_rolls_back_the_status_table_and_the_feed_together(postgres: Database) -> None:
    write_night(postgres, [batch(["1"], "last", LAST_NIGHT)], LAST_NIGHT)
    feed_schema = pa.schema([("account_id", pa.string()), ("change_type", pa.string()), ("recon_run_id", pa.string()),
                             ("recon_run_date", pa.date32())])
    feed_rows = pa.record_batch({"account_id": ["1"], "change_type": ["new"], "recon_run_id": ["tonight"],
                                 "recon_run_date": pa.array([TONIGHT], pa.date32())}, schema=feed_schema)
    with pytest.raises(DatabaseWriteFailed) as failed, DatabaseLoads(TONIGHT) as loads:
        status = loads.open(table(postgres), status_layout(SCHEMA, ["account_id"]), ["account_id"])
        feed = loads.open(table(postgres, "recon_changes"), feed_layout(feed_schema, ["account_id"]), ["account_id"],
                          by_run="tonight")
        feed.write(feed_rows)
        status.write(batch(["2", "nul\x00byte"], "tonight"))  # PostgreSQL text cannot hold a NUL
    assert failed.value.exit_code == 1 and "\n" not in str(failed.value)
    assert "nothing was written" in str(failed.value) and "recon_status" in str(failed.value)
    assert postgres.query("SELECT recon_run_id, count(*) FROM recon_status GROUP BY 1") == [("last", 1)]
    assert postgres.query("SELECT to_regclass('recon_changes') IS NULL") == [(True,)], "its creation rolled back"


def test_rows_reach_the_server_batch_by_batch_while_readers_still_see_last_night(postgres: Database) -> None:
    write_night(postgres, [batch(["1"], "last", LAST_NIGHT)], LAST_NIGHT)
    with DatabaseLoads(TONIGHT) as loads:
        load = loads.open(table(postgres), status_layout(SCHEMA, ["account_id"]), ["account_id"])
        for number in range(20):
            load.write(batch([f"{number}-{n}" for n in range(5_000)], "tonight"))
        # COPY sends as it goes (libpq flushes its buffer): the server counts rows before the commit. On a
        # loaded machine the server may still be working through what was sent: it gets a while to catch up.
        deadline, copied = time.monotonic() + 30, 0
        while copied <= 50_000 and time.monotonic() < deadline:
            progress = postgres.query("SELECT tuples_processed FROM pg_stat_progress_copy WHERE relid = "
                                      "'recon_status'::regclass")
            copied = int(progress[0][0]) if progress else 0  # type: ignore[call-overload]
            time.sleep(0.01)
        assert copied > 50_000
        assert postgres.query("SELECT recon_run_id, count(*) FROM recon_status GROUP BY 1") == [("last", 1)]
    assert dict(postgres.query("SELECT recon_run_id, count(*) FROM recon_status GROUP BY 1")) == {
        "last": 1, "tonight": 100_000}


def test_an_entry_field_new_to_the_table_becomes_a_text_column_and_an_old_one_is_null_tonight(
        postgres: Database) -> None:
    with_phone = SCHEMA.insert(1, pa.field("phone", pa.string()))
    with DatabaseLoads(LAST_NIGHT) as loads:
        load = loads.open(table(postgres), status_layout(with_phone, ["account_id"], ["phone"]), ["account_id"])
        load.write(batch(["1"], "last", LAST_NIGHT).add_column(1, "phone", pa.array(["555"])))
    with_city = SCHEMA.insert(1, pa.field("city", pa.string()))
    with DatabaseLoads(TONIGHT) as loads:
        load = loads.open(table(postgres), status_layout(with_city, ["account_id"], ["city"]), ["account_id"])
        load.write(batch(["1"], "tonight").add_column(1, "city", pa.array(["Oslo"])))
    assert postgres.columns("recon_status")["city"] == "text"
    assert postgres.query("SELECT recon_run_id, phone, city FROM recon_status ORDER BY 1") == [
        ("last", "555", None), ("tonight", None, "Oslo")]


def test_input_columns_keep_their_types_and_an_integer_key_is_its_text(postgres: Database) -> None:
    schema = pa.schema([("account_id", pa.int64()), ("segment", pa.dictionary(pa.int8(), pa.string())),
                        ("score", pa.int32()), ("balance", pa.decimal128(10, 2)), ("ratio", pa.float64()),
                        ("opened", pa.date32()), ("seen", pa.timestamp("us")), ("recon_run_date", pa.date32())])
    rows = pa.record_batch({"account_id": [123, None], "segment": pa.array(["gold", None]).dictionary_encode()
                            .cast(pa.dictionary(pa.int8(), pa.string())), "score": pa.array([7, None], pa.int32()),
                            "balance": pa.array([Decimal("12.50"), None], pa.decimal128(10, 2)),
                            "ratio": [0.5, None], "opened": pa.array([TONIGHT, None], pa.date32()),
                            "seen": pa.array([datetime(2026, 1, 2, 3, 4, 5), None], pa.timestamp("us")),
                            "recon_run_date": pa.array([TONIGHT] * 2, pa.date32())}, schema=schema)
    with DatabaseLoads(TONIGHT) as loads:
        loads.open(table(postgres), status_layout(schema, ["account_id"]), ["account_id"]).write(rows)
    assert list(postgres.columns("recon_status").values()) == [
        "text", "text", "integer", "numeric(10,2)", "double precision", "date", "timestamp without time zone", "date"]
    assert postgres.query("SELECT * FROM recon_status ORDER BY account_id") == [
        ("123", "gold", 7, Decimal("12.50"), 0.5, TONIGHT, datetime(2026, 1, 2, 3, 4, 5), TONIGHT),
        (None, None, None, None, None, None, None, TONIGHT)]


def test_a_column_type_postgresql_cannot_take_is_refused_before_anything_is_sent() -> None:
    schema = pa.schema([("account_id", pa.string()), ("photo", pa.binary())])
    with pytest.raises(DatabaseUnusable, match="column 'photo' is of type binary, which has no PostgreSQL"):
        status_layout(schema, ["account_id"])


def test_a_view_where_the_table_should_be_is_refused(postgres: Database) -> None:
    postgres.query("CREATE VIEW recon_status AS SELECT 1 AS one")
    with pytest.raises(DatabaseUnusable, match="is a view or another kind of relation, not a table"):
        check_tables([(table(postgres), status_layout(SCHEMA, ["account_id"]))])


def test_a_user_who_may_not_create_the_table_is_told_before_anything_is_sent(postgres: Database) -> None:
    postgres.query("CREATE ROLE reader LOGIN PASSWORD 'reader-pw-1'")
    postgres.query("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    reader = DatabaseTable.parse(postgres.url("recon_status", user="reader"), "--output")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PGPASSWORD", "reader-pw-1")
        with pytest.raises(DatabaseUnusable, match="the table is missing and the user may not create tables in "
                                                   "schema 'public'"):
            check_tables([(reader, status_layout(SCHEMA, ["account_id"]))])


@pytest.mark.parametrize(("url", "message"), [
    ("postgresql://u:s3cr3t-Zz9@h/db?table=t", "holds a password"),
    ("postgresql://u@h/db?table=t&password=s3cr3t-Zz9", "holds a password"),
    ("postgresql://u@h/db", "naming one table"),
    ("postgresql://u@h/db?table=t&table=u", "naming one table"),
    ("postgresql://u@h/db?table=t;drop", "naming one table"),
])
def test_a_url_with_a_password_or_without_one_plain_table_is_refused_without_echoing_the_secret(
        url: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as refused:
        DatabaseTable.parse(url, "--output")
    assert "s3cr3t" not in str(refused.value)


def test_a_url_names_its_schema_and_table_and_keeps_libpq_parameters() -> None:
    parsed = DatabaseTable.parse("postgres://recon@db:6432/bi?sslmode=require&table=analytics.recon_status", "--x")
    assert (parsed.schema, parsed.name, parsed.database) == ("analytics", "recon_status", "bi")
    assert psycopg.conninfo.conninfo_to_dict(parsed.url)["sslmode"] == "require"
    assert str(parsed) == "postgres://recon@db:6432/bi?sslmode=require&table=analytics.recon_status"


def test_without_psycopg_a_postgresql_output_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    monkeypatch.delitem(sys.modules, "reconciler.output.postgres.connect")
    with pytest.raises(UsageError, match=r"pip install 'brightpattern-reconciler\[postgres\]'"):
        importlib.import_module("reconciler.output.postgres.connect")


def test_the_core_install_without_psycopg_imports_everything_a_file_output_uses() -> None:
    script = """
import sys
sys.modules["psycopg"] = None  # as in an install without the [postgres] extra
import reconciler.cli, reconciler.wiring.pipeline, reconciler.output.write, reconciler.output.schemas
from reconciler.cli import main
sys.exit(main(["sql", "scd", "--dialect", "duckdb", "--key", "account_id"]))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "CREATE OR REPLACE VIEW recon_status_history" in done.stdout
    assert "psycopg" not in done.stderr
