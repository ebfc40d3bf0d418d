"""The pipeline end to end with a plain in-memory source: order, de-duplication, schema, resume."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from fakes import WHEN, FakeSource, config, status

from reconciler.config import Target
from reconciler.lookup import LookupResult, LookupStatus
from reconciler.output.join import RECON_FIELDS, STATUS_FIELDS
from reconciler.wiring.pipeline import run


def source(**records: tuple[dict[str, str | None], object]) -> FakeSource:
    return FakeSource(records={(k,): v for k, v in records.items()},  # type: ignore[misc]
                      key_columns=("account_id",))


def read_csv_strings(path: Path) -> pa.Table:
    names = pacsv.read_csv(path).column_names
    return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=True,
        quoted_strings_can_be_null=False))


def test_one_output_row_per_input_row_in_input_order_with_duplicates_queried_once(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text("account_id,owner\n000123,ann\n000007,bob\n000123,cy\n555,dee\n")
    fake = source(**{"000123": ({"account_id": "000123", "firstName": "Mike"}, status(completed=True)),
                     "000007": ({"account_id": "000007", "firstName": "Zoë"}, status(completed=False))})
    stats = run(config(tmp_path, key_columns=("account_id",)), source_factory=fake.factory())

    table = pq.read_table(tmp_path / "out.parquet").to_pydict()
    assert table["account_id"] == ["000123", "000007", "000123", "555"]
    assert table["owner"] == ["ann", "bob", "cy", "dee"]
    assert table["firstName"] == ["Mike", "Zoë", "Mike", None]
    assert table["recon_status"] == ["found", "found", "found", "not_found"]
    assert fake.asked == {("000123",): 1, ("000007",): 1, ("555",): 1}
    assert stats.rows == 4 and stats.distinct_keys == 3
    assert stats.by_status == {"found": 3, "not_found": 1}
    assert stats.exit_code == 0


def test_entry_fields_named_like_input_columns_keep_the_servers_value_beside_the_inputs(tmp_path: Path) -> None:
    # Named case-insensitively (5.x lower-cases): the input's value stays, the server's goes under entry_<name>.
    (tmp_path / "keys.csv").write_text("Account_ID,FirstName\n1,Input value\n")
    fake = FakeSource(records={("1",): ({"account_id": "1", "firstname": "Server", "city": "Köln"},
                                        status(completed=False))}, key_columns=("Account_ID",))
    run(config(tmp_path, key_columns=("Account_ID",)), source_factory=fake.factory())

    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column_names[:5] == ["Account_ID", "FirstName", "entry_account_id", "entry_firstname", "city"]
    row = table.to_pylist()[0]
    assert (row["FirstName"], row["entry_firstname"], row["entry_account_id"], row["city"]) == (
        "Input value", "Server", "1", "Köln")
    assert row["recon_differing_columns"] == '["FirstName"]'


def test_status_columns_keep_their_types_when_every_value_is_null(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text("account_id\n1\n2\n")
    fake = source(**{"1": ({"account_id": "1"}, status(completed=False, total_attempts=0))})
    run(config(tmp_path), source_factory=fake.factory())

    schema = pq.read_schema(tmp_path / "out.parquet")
    for field in (*STATUS_FIELDS, *RECON_FIELDS):
        assert schema.field(field.name).type == field.type
    assert schema.field("lastDate").type == pa.timestamp("ms", tz="UTC")
    table = pq.read_table(tmp_path / "out.parquet").to_pydict()
    assert table["lastDisposition"] == [None, None]
    assert table["totalAttempts"] == [0, None]


def test_composite_keys_and_invalid_rows_are_not_sent(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text('phone,region,note\n+1650,"a,b",x\n+1650,,y\n  ,west,z\n+1650,"a,b",w\n')
    fake = FakeSource(records={("+1650", "a,b"): ({"phone": "+1650", "region": "a,b"}, status(completed=True))},
                      key_columns=("phone", "region"))
    stats = run(config(tmp_path, key_columns=("phone", "region")), source_factory=fake.factory())

    table = pq.read_table(tmp_path / "out.parquet").to_pydict()
    assert table["recon_status"] == ["found", "invalid_input", "invalid_input", "found"]
    assert table["recon_attempts"] == [1, 0, 0, 1]
    assert table["recon_error"] == [None, "a key value is empty or blank; not sent",
                                    "a key value is empty or blank; not sent", None]
    assert table["region"] == ["a,b", "", "west", "a,b"]
    assert fake.asked == {("+1650", "a,b"): 1}
    assert stats.by_status == {"found": 2, "invalid_input": 2}


def test_csv_output_keeps_strings_and_writes_iso_times_with_zone(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text("account_id\n000123\n")
    fake = source(**{"000123": ({"account_id": "000123", "note": ""},
                                status(completed=True, last_date=WHEN, last_call_duration=12))})
    run(config(tmp_path, output_name="out.csv"), source_factory=fake.factory())

    row = read_csv_strings(tmp_path / "out.csv").to_pylist()[0]
    assert row["account_id"] == "000123"
    assert row["note"] == ""
    assert row["lastDate"] == "2021-02-19T19:12:21.000Z"
    assert row["lastCallDuration"] == "12"
    assert row["completed"] == "true"


def test_parquet_input_to_gzipped_csv_output(tmp_path: Path) -> None:
    pq.write_table(pa.table({"account_id": ["000123", "9"], "score": [1.5, None]}), tmp_path / "keys.parquet")
    fake = source(**{"000123": ({"account_id": "000123"}, status(completed=False))})
    run(config(tmp_path, input_name="keys.parquet", output_name="out.csv.gz", key_columns=("account_id",)),
        source_factory=fake.factory())

    table = read_csv_strings(tmp_path / "out.csv.gz").to_pydict()
    assert table["account_id"] == ["000123", "9"]
    assert table["score"] == ["1.5", None]
    assert table["recon_status"] == ["found", "not_found"]


def test_error_rows_make_exit_code_one_and_carry_the_reason(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text("account_id\n1\n2\n")
    fake = source(**{"1": ({"account_id": "1"}, status(completed=True))})
    fake.fail = lambda key: LookupResult(status=LookupStatus.ERROR, attempts=8, http_status=503,
                                         error="HTTP 503 after 8 attempts") if key["account_id"] == "2" else None
    stats = run(config(tmp_path), source_factory=fake.factory())

    table = pq.read_table(tmp_path / "out.parquet").to_pydict()
    assert table["recon_status"] == ["found", "error"]
    assert table["recon_error"] == [None, "HTTP 503 after 8 attempts"]
    assert table["recon_http_status"] == [200, 503]
    assert table["recon_attempts"] == [1, 8]
    assert stats.exit_code == 1


def test_a_finished_run_removes_its_journal_and_replaces_the_previous_table(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text("account_id\n1\n")
    (tmp_path / "out.parquet").write_text("last night's table")
    fake = source(**{"1": ({"account_id": "1"}, status(completed=True))})
    cfg = config(tmp_path)
    run(cfg, source_factory=fake.factory())

    assert not cfg.journal.exists()
    assert pq.read_table(tmp_path / "out.parquet").num_rows == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys.csv", "out.parquet"]


@pytest.mark.parametrize("collision", ["completed", "recon_status", "LASTDATE"])
def test_entry_field_named_like_a_status_column_gets_a_prefix(tmp_path: Path, collision: str) -> None:
    (tmp_path / "keys.csv").write_text("account_id\n1\n")
    fake = source(**{"1": ({"account_id": "1", collision: "x"}, status(completed=True))})
    run(config(tmp_path), source_factory=fake.factory())

    table = pq.read_table(tmp_path / "out.parquet").to_pydict()
    assert table[f"entry_{collision}"] == ["x"]
    assert table["completed"] == [True]


def _aborting_after(limit: int, fake: FakeSource) -> FakeSource:
    from reconciler.errors import TargetNotFound

    def fail(key: object) -> None:
        if sum(fake.asked.values()) > limit:
            raise TargetNotFound("campaign", "campaign is not found")

    fake.fail = fail  # type: ignore[assignment]
    return fake


def test_rerun_after_an_aborted_run_asks_only_what_was_left(tmp_path: Path) -> None:
    from reconciler.errors import TargetNotFound

    keys = [f"{i:06d}" for i in range(300)]
    (tmp_path / "keys.csv").write_text("account_id\n" + "\n".join(keys) + "\n")
    records = {k: ({"account_id": k}, status(completed=True)) for k in keys[::2]}
    cfg = config(tmp_path)
    with pytest.raises(TargetNotFound):
        run(cfg, source_factory=_aborting_after(100, source(**records)).factory())
    assert cfg.journal.exists() and not (tmp_path / "out.parquet").exists()

    second = source(**records)
    stats = run(cfg, source_factory=second.factory())
    table = pq.read_table(tmp_path / "out.parquet").to_pydict()

    assert stats.resumed
    assert 190 <= sum(second.asked.values()) <= 200  # the first run's answers were kept
    assert table["recon_status"] == ["found" if i % 2 == 0 else "not_found" for i in range(300)]
    assert not cfg.journal.exists()


def test_a_journal_bound_to_other_inputs_is_refused_until_fresh(tmp_path: Path) -> None:
    from reconciler.errors import TargetNotFound
    from reconciler.journal.store import JournalMismatch

    (tmp_path / "keys.csv").write_text("account_id\n" + "\n".join(str(i) for i in range(50)) + "\n")
    cfg = config(tmp_path)
    with pytest.raises(TargetNotFound):
        run(cfg, source_factory=_aborting_after(5, source()).factory())
    other = config(tmp_path, target=Target(base_url="http://127.0.0.1:9", tenant="t", list_name="List_2.txt",
                                           campaign="Camp"))
    with pytest.raises(JournalMismatch, match=r"list: was 'List_1\.txt', now 'List_2\.txt'.*--fresh"):
        run(other, source_factory=source().factory())

    fresh_source = source()
    run(config(tmp_path, target=other.target, fresh=True), source_factory=fresh_source.factory())
    assert sum(fresh_source.asked.values()) == 50


def test_retry_errors_asks_again_only_for_the_rows_that_ended_in_error(tmp_path: Path) -> None:
    from reconciler.input.read import BadRows
    from reconciler.journal.store import Journal
    from reconciler.stages.load_keys import load_keys
    from reconciler.wiring.pipeline import binding, prepare

    (tmp_path / "keys.csv").write_text("account_id\n1\n2\n3\n")
    cfg = config(tmp_path, retry_errors=True)
    spec = prepare(cfg)
    journal = Journal.open(cfg.journal, binding(cfg, spec), fresh=False)  # as a crashed run left it
    load_keys(journal, spec, BadRows(skip=False))
    answers = {"1": LookupStatus.FOUND, "2": LookupStatus.ERROR, "3": LookupStatus.NOT_FOUND}
    journal.record([(key_id, LookupResult(status=answers[key], attempts=8), WHEN)
                    for key_id, key in journal.pending(0, 10)])
    journal.close()

    again = source(**{k: ({"account_id": k}, status(completed=True)) for k in "123"})
    run(cfg, source_factory=again.factory())
    assert again.asked == {("2",): 1}
    assert pq.read_table(tmp_path / "out.parquet").to_pydict()["recon_status"] == ["found", "found", "not_found"]


def test_an_input_error_found_while_reading_leaves_no_journal_behind(tmp_path: Path) -> None:
    from reconciler.errors import InputError

    (tmp_path / "keys.csv").write_text("account_id,note\n1,a\n2,b,extra\n")
    cfg = config(tmp_path, key_columns=("account_id",))
    with pytest.raises(InputError, match="line 3"):
        run(cfg, source_factory=source().factory())
    assert not cfg.journal.exists()
    (tmp_path / "keys.csv").write_text("account_id,note\n1,a\n2,b\n")
    assert run(cfg, source_factory=source().factory()).rows == 2


@pytest.mark.parametrize("journal_name", ["keys.csv", "out.parquet"])
def test_a_journal_path_on_the_input_or_output_is_refused(tmp_path: Path, journal_name: str) -> None:
    from reconciler.errors import InputError

    (tmp_path / "keys.csv").write_text("account_id\n1\n")
    with pytest.raises(InputError, match="--journal must name a file of its own"):
        run(config(tmp_path, journal_path=tmp_path / journal_name, fresh=True), source_factory=source().factory())
    assert (tmp_path / "keys.csv").read_text() == "account_id\n1\n"


def test_a_library_run_over_several_columns_without_key_columns_is_refused_before_asking(tmp_path: Path) -> None:
    from reconciler.errors import KeyColumnsRequired

    (tmp_path / "keys.csv").write_text("account_id,note\n1,a\n")
    fake = source()
    with pytest.raises(KeyColumnsRequired, match=r"has 2 columns \(account_id, note\): name the list's key "
                                                 r"field\(s\) with key_columns$"):
        run(config(tmp_path), source_factory=fake.factory())
    assert not fake.asked
    assert not (tmp_path / "out.parquet").exists()


def test_a_row_with_an_empty_non_key_cell_is_asked_and_found(tmp_path: Path) -> None:
    (tmp_path / "keys.csv").write_text("account_id,note\n1,\n2,x\n")
    fake = source(**{"1": ({"account_id": "1"}, status(completed=False)),
                     "2": ({"account_id": "2"}, status(completed=False))})
    run(config(tmp_path, key_columns=("account_id",)), source_factory=fake.factory())
    assert pq.read_table(tmp_path / "out.parquet").column("recon_status").to_pylist() == ["found", "found"]
    assert fake.asked == {("1",): 1, ("2",): 1}
