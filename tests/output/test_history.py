"""History: run identity on every row, partition folders from {date}/{run_id}, one schema every night."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from fakes import config
from stages.campaign import MovingCampaign

from reconciler.errors import InputError
from reconciler.output.history import RunIdentity
from reconciler.wiring.identity import identify_run
from reconciler.wiring.pipeline import run


def write_keys(tmp_path: Path, keys: list[str]) -> None:
    (tmp_path / "keys.csv").write_text("account_id\n" + "".join(f"{k}\n" for k in keys))


def test_a_date_template_makes_hive_partitions_that_pandas_reads_as_one_table(tmp_path: Path) -> None:
    write_keys(tmp_path, ["000001", "000002"])
    (tmp_path / "out").mkdir()
    campaign = MovingCampaign(5)
    template = tmp_path / "out" / "run_date={date}" / "run={run_id}" / "status.parquet"
    first = run(_templated(tmp_path, template), source_factory=campaign.factory())
    second = run(_templated(tmp_path, template), source_factory=campaign.factory())
    assert first.run_id != second.run_id
    files = sorted((tmp_path / "out").rglob("status.parquet"))
    assert len(files) == 2 and all(f"run_date={first.run_date}" in str(f) for f in files)
    table = pd.read_parquet(tmp_path / "out")
    assert len(table) == 4
    assert set(table["recon_run_id"]) == {first.run_id, second.run_id}
    assert set(table["run_date"].astype(str)) == {str(first.run_date)}
    one = pq.read_table(files[0])
    assert str(one.schema.field("recon_run_date").type) == "date32[day]"
    assert not list((tmp_path / "out").glob("**/*.reconciler-journal"))  # a finished run leaves none


def _templated(tmp_path: Path, template: Path) -> object:
    from dataclasses import replace

    return replace(config(tmp_path, key_columns=("account_id",)), output_path=template)


@pytest.mark.parametrize(("template", "message"), [
    ("out/{dat}/t.parquet", "unknown placeholders {dat}; use {date} or {run_id}"),
    ("out/{tenant}/{list}/t.parquet", r"unknown placeholders {list}, {tenant}; .* belong in a fleet file"),
    ("out/{date/t.parquet", "is not a usable path template"),
    ("out/}/t.parquet", "is not a usable path template"),
])
def test_a_template_that_is_not_a_path_is_one_line_naming_it(tmp_path: Path, template: str, message: str) -> None:
    from dataclasses import replace

    write_keys(tmp_path, ["000001"])
    campaign = MovingCampaign(2)
    cfg = replace(config(tmp_path, key_columns=("account_id",)), output_path=tmp_path / template)
    with pytest.raises(InputError, match=message) as raised:
        run(cfg, source_factory=campaign.factory())
    assert "\n" not in str(raised.value) and not campaign.asked


def test_a_resumed_run_keeps_its_identity_and_a_fresh_one_gets_a_new(tmp_path: Path) -> None:
    from dataclasses import replace

    from reconciler.journal.store import Journal

    cfg = replace(config(tmp_path), output_path=tmp_path / "run_date={date}" / "t.parquet")
    _, noted = identify_run(cfg, now=datetime(2026, 12, 4, 23, 59, tzinfo=UTC))
    journal = Journal.open(cfg.journal, {"input": "x"}, fresh=True)
    journal.set_note("run", noted.to_note())
    journal.close()
    resumed, identity = identify_run(cfg, now=datetime(2026, 12, 5, 0, 5, tzinfo=UTC))
    assert identity == noted and resumed.output_path == tmp_path / "run_date=2026-12-04" / "t.parquet"
    _, fresh = identify_run(replace(cfg, fresh=True), now=datetime(2026, 12, 5, 0, 5, tzinfo=UTC))
    assert fresh != noted and fresh.run_date.isoformat() == "2026-12-05"
    assert RunIdentity.from_note(noted.to_note()) == noted


def test_run_ids_sort_by_their_start_to_the_millisecond() -> None:
    # The SCD views order a table's runs by id: two runs in one second (a script that reruns at once) too.
    second = datetime(2026, 12, 5, 1, 30, tzinfo=UTC)
    runs = [RunIdentity.new(second.replace(microsecond=1000 * n)) for n in range(0, 1000, 37)]
    assert sorted(runs, key=lambda run: run.run_id) == runs
    assert runs[1].run_id.startswith("20261205T013000.037Z-")


def test_every_night_writes_the_same_columns_whatever_the_answers(tmp_path: Path) -> None:
    campaign = MovingCampaign(5)
    write_keys(tmp_path, ["000001", "000002"])
    run(config(tmp_path, output_name="one.parquet", key_columns=("account_id",), strategy="incremental",
               state_path=tmp_path / "s.state"), source_factory=campaign.factory())
    write_keys(tmp_path, ["999998", "999999"])  # tonight no key is on the list, and no status comes back
    run(config(tmp_path, output_name="two.parquet", key_columns=("account_id",), strategy="incremental",
               state_path=tmp_path / "s.state"), source_factory=campaign.factory())
    one, two = pq.read_schema(tmp_path / "one.parquet"), pq.read_schema(tmp_path / "two.parquet")
    assert one == two
    assert {"name", "globalInteractionID", "completedTime", "extraStatus"} <= set(two.names)
    assert str(two.field("completedTime").type) == "timestamp[ms, tz=UTC]"
