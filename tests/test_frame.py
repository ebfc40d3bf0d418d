"""``reconcile_frame``: a DataFrame in, the typed table out as pandas nullable dtypes, even inside a running loop."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

import anyio.from_thread
import pandas as pd
import pyarrow.csv as pacsv
import pytest
from fakes import WHEN, FakeSource, status

from reconciler import reconcile_frame
from reconciler.config import Credentials, RequestPolicy, Target
from reconciler.errors import InputColumnMissing, InputError, KeyColumnsRequired
from reconciler.lookup import LookupResult
from reconciler.simulator import Account, ListSource, SimulatorConfig, run_simulator

RECORDS = Path(__file__).resolve().parents[1] / "sample_inputs" / "records.csv"
TARGET = Target(base_url="http://127.0.0.1:9", tenant="t", list_name="List_1.txt", campaign="Camp")
CREDENTIALS = Credentials(login="user", secret="pw-frame")
KEYS = pd.DataFrame({"account_id": ["000123", "000007", "000123", "  ", "999"], "owner": ["a", "b", "c", "d", "e"],
                     "score": pd.array([1, None, 3, 4, 5], dtype="Int64")})


def fake_source() -> tuple[FakeSource, list[int]]:
    """A source that knows two records and notes the thread each query ran on."""
    threads: list[int] = []

    def note_thread(key: Mapping[str, str]) -> LookupResult | None:
        threads.append(threading.get_ident())
        return None

    fake = FakeSource(records={
        ("000123",): ({"account_id": "000123", "firstName": "Mike"},
                      status(completed=True, last_disposition="Sale", last_date=WHEN, total_attempts=2)),
        ("000007",): ({"account_id": "000007", "firstName": "Zoë"}, status(completed=False, total_attempts=0)),
    }, key_columns=("account_id",), fail=note_thread)
    return fake, threads


def assert_nullable_and_typed(table: pd.DataFrame, *, integers: str, strings: tuple[str, ...]) -> None:
    dtypes = table.dtypes
    assert isinstance(dtypes["completed"], pd.BooleanDtype)
    for column in ("totalAttempts", integers):
        assert isinstance(dtypes[column], pd.Int64Dtype), column
    for column in ("account_id", "firstName", "lastDisposition", "recon_status", *strings):
        assert isinstance(dtypes[column], pd.StringDtype), column
    assert str(dtypes["lastDate"]) == "datetime64[ms, UTC]"


def check_fake_table(table: pd.DataFrame) -> None:
    assert_nullable_and_typed(table, integers="score", strings=("owner",))
    assert table["account_id"].tolist() == ["000123", "000007", "000123", "  ", "999"]
    assert table["recon_status"].tolist() == ["found", "found", "found", "invalid_input", "not_found"]
    assert table["completed"].tolist() == [True, False, True, pd.NA, pd.NA]
    assert table["lastDate"].iloc[0] == pd.Timestamp(WHEN)
    assert table["lastDate"].isna().tolist() == [False, True, False, True, True]
    assert table["score"].isna().tolist() == [False, True, False, False, False]


def test_without_an_event_loop() -> None:
    fake, threads = fake_source()
    table = reconcile_frame(KEYS, target=TARGET, credentials=CREDENTIALS, key_columns=("account_id",),
                            source_factory=fake.factory())  # type: ignore[arg-type]
    check_fake_table(table)
    assert set(threads) == {threading.get_ident()}


@pytest.mark.anyio
async def test_inside_a_running_event_loop_the_run_gets_a_thread_of_its_own() -> None:
    fake, threads = fake_source()
    table = reconcile_frame(KEYS, target=TARGET, credentials=CREDENTIALS, key_columns=("account_id",),
                            source_factory=fake.factory())  # type: ignore[arg-type]
    check_fake_table(table)
    assert threads and threading.get_ident() not in threads
    assert fake.asked == {("000123",): 1, ("000007",): 1, ("999",): 1}


@pytest.mark.anyio
async def test_inside_a_running_event_loop_against_the_simulator_over_http() -> None:
    password = "pw-Frame!sim-5531"
    config = SimulatorConfig(lists=(ListSource(path=RECORDS, list_name="records.csv", key_fields=("account_id",)),),
                             users=(Account(login="demo", secret=password),))
    records = pacsv.read_csv(RECORDS, convert_options=pacsv.ConvertOptions(
        column_types={"account_id": "string"})).to_pandas()
    known = records["account_id"].head(20).tolist()
    keys = pd.DataFrame({"account_id": [*known, "no-such-key"], "row": range(21)})
    # The simulator runs on a loop of its own: this test's loop is blocked for as long as reconcile_frame runs,
    # exactly as a notebook's is.
    with anyio.from_thread.start_blocking_portal("asyncio") as portal, \
            portal.wrap_async_context_manager(run_simulator(config)) as simulator:
        target = Target(base_url=simulator.base_url, tenant=config.tenant, list_name="records.csv",
                        campaign="Campaign_1")
        table = reconcile_frame(keys, target=target, credentials=Credentials(login="demo", secret=password),
                                key_columns=("account_id",), policy=RequestPolicy(rate=float("inf")))
        counters = simulator.stats()

    assert table["recon_status"].tolist() == ["found"] * 20 + ["not_found"]
    assert table["account_id"].tolist() == keys["account_id"].tolist()
    assert_nullable_and_typed(table, integers="row", strings=("lastName", "city"))
    found = records.set_index("account_id").loc[known]
    assert table["totalAttempts"].head(20).tolist() == found["status.totalAttempts"].tolist()
    assert counters["by_endpoint"]["query"] - counters["digest_challenges"] == 21  # type: ignore[index]


def test_a_column_arrow_cannot_type_is_an_input_error() -> None:
    fake, _ = fake_source()
    mixed = pd.DataFrame({"account_id": ["1", "2"], "odd": pd.Series(["text", 3.5], dtype=object)})
    with pytest.raises(InputError, match="<DataFrame>: a column cannot be converted"):
        reconcile_frame(mixed, target=TARGET, credentials=CREDENTIALS, key_columns=("account_id",),
                        source_factory=fake.factory())  # type: ignore[arg-type]


def test_a_frame_of_several_columns_must_name_its_key_columns_and_nothing_is_asked() -> None:
    fake, _ = fake_source()
    with pytest.raises(KeyColumnsRequired) as caught:
        reconcile_frame(KEYS, target=TARGET, credentials=CREDENTIALS,
                        source_factory=fake.factory())  # type: ignore[arg-type]
    assert str(caught.value) == ("the input DataFrame has 3 columns (account_id, owner, score): "
                                 "name the list's key field(s) with key_columns")
    assert not fake.asked


@pytest.mark.parametrize("key_columns", [("acct",), ("account_id", "acct")])
def test_a_key_column_the_frame_lacks_is_named_with_the_frame_s_columns_not_a_temporary_file(
        key_columns: tuple[str, ...]) -> None:
    fake, _ = fake_source()
    with pytest.raises(InputColumnMissing) as caught:
        reconcile_frame(KEYS, target=TARGET, credentials=CREDENTIALS, key_columns=key_columns,
                        source_factory=fake.factory())  # type: ignore[arg-type]
    assert str(caught.value) == ("<DataFrame>: key column 'acct' is not in the DataFrame; "
                                 "columns present: account_id, owner, score")
    assert caught.value.column == "acct" and not fake.asked


def test_a_key_column_of_another_type_names_the_frame_and_key_columns() -> None:
    fake, _ = fake_source()
    with pytest.raises(InputError) as caught:
        reconcile_frame(KEYS.assign(score=[1.5, 2.0, 3.0, 4.0, 5.0]), target=TARGET, credentials=CREDENTIALS,
                        key_columns=("score",), source_factory=fake.factory())  # type: ignore[arg-type]
    assert str(caught.value) == ("<DataFrame>: key column 'score' holds double values; a key must be text or "
                                 "integers: store it as text, or choose other key_columns")
    assert not fake.asked


def test_two_columns_of_one_name_are_an_input_error() -> None:
    fake, _ = fake_source()
    twice = pd.DataFrame([["1", "2"]], columns=["account_id", "account_id"])
    with pytest.raises(InputError, match=r"<DataFrame>: a column cannot be converted .*Duplicate column names"):
        reconcile_frame(twice, target=TARGET, credentials=CREDENTIALS, key_columns=("account_id",),
                        source_factory=fake.factory())  # type: ignore[arg-type]


def test_the_only_column_of_a_frame_is_its_key() -> None:
    fake, _ = fake_source()
    table = reconcile_frame(KEYS[["account_id"]], target=TARGET, credentials=CREDENTIALS,
                            source_factory=fake.factory())  # type: ignore[arg-type]
    assert table["recon_status"].tolist() == ["found", "found", "found", "invalid_input", "not_found"]
