"""The change feed: one row per input row whose status moved since the previous run, typed and fixed."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fakes import config
from stages.campaign import MovingCampaign

from reconciler.errors import InputError
from reconciler.output.changes import CHANGE_TYPES
from reconciler.wiring.pipeline import run


def write_keys(tmp_path: Path, keys: list[str]) -> None:
    (tmp_path / "keys.csv").write_text("account_id\n" + "".join(f"{k}\n" for k in keys))


def night(tmp_path: Path, campaign: MovingCampaign, name: str, **options: object) -> None:
    settings: dict[str, object] = {"strategy": "incremental", "state_path": tmp_path / "list.state",
                                   "changes_path": tmp_path / f"{name}-changes.parquet"}
    settings.update(options)
    run(config(tmp_path, output_name=f"{name}.parquet", key_columns=("account_id",), **settings),
        source_factory=campaign.factory())


def test_every_kind_of_change_is_named_and_unchanged_rows_are_left_out(tmp_path: Path) -> None:
    write_keys(tmp_path, ["000001", "000002", "000003", "000004", "000005", "000006"])
    campaign = MovingCampaign(6)
    campaign.call("000004", "Busy")
    night(tmp_path, campaign, "one")
    first = pq.read_table(tmp_path / "one-changes.parquet").to_pylist()
    assert [r["change_type"] for r in first] == ["new"] * 5 + ["new"]  # 000006 not on the list: new too
    assert first[0]["previous_recon_status"] is None and first[0]["recon_status"] == "found"

    campaign.call("000001")  # attempted
    campaign.complete("000002")  # completed
    campaign.call("000004", "Busy", at=campaign.tick())  # another attempt with the same disposition
    campaign.delete("000003")  # left the list, seen by a full read
    campaign.add("000006")  # joined the list
    night(tmp_path, campaign, "two", full_refresh_after=0.0)
    rows = {r["account_id"]: r for r in pq.read_table(tmp_path / "two-changes.parquet").to_pylist()}
    assert {k: r["change_type"] for k, r in rows.items()} == {
        "000001": "attempted", "000002": "completed", "000003": "left_list", "000004": "attempted",
        "000006": "new"}
    assert rows["000001"]["previous_totalAttempts"] == 0 and rows["000001"]["totalAttempts"] == 1
    assert rows["000002"]["previous_completed"] is False and rows["000002"]["completed"] is True
    assert rows["000003"]["previous_recon_status"] == "found" and rows["000003"]["recon_status"] == "not_found"
    assert set(r["change_type"] for r in rows.values()) <= set(CHANGE_TYPES)


def test_a_night_without_changes_writes_an_empty_feed_with_the_same_schema(tmp_path: Path) -> None:
    write_keys(tmp_path, ["000001"])
    campaign = MovingCampaign(3)
    night(tmp_path, campaign, "one")
    night(tmp_path, campaign, "two")
    one, two = pq.read_table(tmp_path / "one-changes.parquet"), pq.read_table(tmp_path / "two-changes.parquet")
    assert two.num_rows == 0 and one.schema == two.schema
    assert one.schema.field("previous_lastDate").type == one.schema.field("lastDate").type


def test_a_previous_table_serves_any_strategy(tmp_path: Path) -> None:
    write_keys(tmp_path, ["000001", "000002"])
    campaign = MovingCampaign(3)
    run(config(tmp_path, output_name="yesterday.csv", key_columns=("account_id",)),
        source_factory=campaign.factory())
    campaign.call("000002", "Busy")
    run(config(tmp_path, output_name="today.parquet", key_columns=("account_id",), strategy="query",
               changes_path=tmp_path / "changes.csv", previous_path=tmp_path / "yesterday.csv"),
        source_factory=campaign.factory())
    text = (tmp_path / "changes.csv").read_text().splitlines()
    assert len(text) == 2 and text[1].startswith('"000002","attempted"')


def test_a_previous_table_that_is_no_reconciler_table_is_refused_before_any_request(tmp_path: Path) -> None:
    write_keys(tmp_path, ["000001"])
    (tmp_path / "other.csv").write_text("account_id,score\n000001,3\n")
    campaign = MovingCampaign(3)
    with pytest.raises(InputError, match=r"other\.csv: --previous is not a reconciler output table: columns "
                                         "recon_status, completed"):
        run(config(tmp_path, key_columns=("account_id",), changes_path=tmp_path / "c.csv",
                   previous_path=tmp_path / "other.csv"), source_factory=campaign.factory())
    assert not campaign.asked and not (tmp_path / "c.csv").exists()
