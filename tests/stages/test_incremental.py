"""The incremental strategy with an in-memory campaign: full read, changes, ties, new keys, the invariant."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fakes import TARGET, config

from reconciler.config import RequestPolicy
from reconciler.errors import InvalidOption, RunAborted
from reconciler.journal.state import StateMismatch
from reconciler.wiring.pipeline import run
from stages.campaign import CursorCampaign, MovingCampaign

HOW_ASKED = ["recon_status", "recon_http_status", "recon_error", "recon_attempts", "recon_checked_at", "recon_source",
             "recon_run_id", "recon_run_date"]


def write_keys(tmp_path: Path, keys: list[str]) -> None:
    (tmp_path / "keys.csv").write_text("account_id\n" + "".join(f"{k}\n" for k in keys))


def nightly(tmp_path: Path, campaign: MovingCampaign, output: str = "night.parquet", **options: object) -> pa.Table:
    cfg = config(tmp_path, output_name=output, key_columns=("account_id",), strategy="incremental",
                 state_path=tmp_path / "list.state", **options)
    run(cfg, source_factory=campaign.factory())
    return pq.read_table(tmp_path / output)


def scanned(tmp_path: Path, campaign: MovingCampaign) -> pa.Table:
    fresh = MovingCampaign(0)
    fresh.records = dict(campaign.records)
    run(config(tmp_path, output_name="scan.parquet", key_columns=("account_id",), strategy="scan"),
        source_factory=fresh.factory())
    return pq.read_table(tmp_path / "scan.parquet")


def same_but_lookup(one: pa.Table, other: pa.Table) -> bool:
    return bool(one.drop_columns(HOW_ASKED).equals(other.drop_columns(HOW_ASKED)))


KEYS = [f"{i:06d}" for i in range(0, 2500, 7)] + ["999999"]


def test_the_first_night_reads_the_list_whole_and_equals_a_scan(tmp_path: Path) -> None:
    write_keys(tmp_path, KEYS)
    campaign = MovingCampaign(2500)
    campaign.call("000007")
    table = nightly(tmp_path, campaign)
    assert campaign.pages["getAll"] == 3 and sum(campaign.asked.values()) == 0
    assert same_but_lookup(table, scanned(tmp_path, campaign))
    assert table.column("recon_status").to_pylist()[-1] == "not_found"


def test_the_next_night_asks_only_what_changed_and_still_equals_a_scan(tmp_path: Path) -> None:
    write_keys(tmp_path, KEYS)
    campaign = MovingCampaign(2500)
    nightly(tmp_path, campaign)
    campaign.call("000000", "Sale", agent="bob")
    campaign.call("000014")
    campaign.call("000014", "Busy")
    campaign.complete("000021")
    campaign.call("000003")  # on the list, asked by no key
    campaign.pages.clear()

    table = nightly(tmp_path, campaign, "night2.parquet")
    assert campaign.pages == {"getChanged": 1, "getCompleted": 1}
    # Keys on the list are answered from the state; one it lacks may have joined the list since: asked.
    assert campaign.asked == {("999999",): 1}
    assert same_but_lookup(table, scanned(tmp_path, campaign))
    rows = {r["account_id"]: r for r in table.to_pylist()}
    assert rows["000014"]["totalAttempts"] == 2 and rows["000014"]["lastDisposition"] == "Busy"
    assert rows["000021"]["completed"] is True and rows["000021"]["completedTime"] is not None


def test_keys_the_state_lacks_are_asked_one_by_one_and_join_it(tmp_path: Path) -> None:
    write_keys(tmp_path, ["000001"])
    campaign = MovingCampaign(2500)  # 3 pages: asking two keys costs less than reading it whole
    nightly(tmp_path, campaign)
    campaign.add("777777")
    write_keys(tmp_path, ["000001", "777777", "888888"])
    campaign.asked.clear()
    table = nightly(tmp_path, campaign, "night2.parquet")
    assert campaign.asked == {("777777",): 1, ("888888",): 1}
    assert table.column("recon_status").to_pylist() == ["found", "found", "not_found"]
    campaign.asked.clear()
    nightly(tmp_path, campaign, "night3.parquet")
    assert campaign.asked == {("888888",): 1}  # 777777 is in the state now


def test_a_full_page_of_changes_at_one_time_falls_back_to_a_full_read(tmp_path: Path) -> None:
    write_keys(tmp_path, KEYS)
    campaign = MovingCampaign(2500)
    nightly(tmp_path, campaign)
    at = campaign.tick()
    for i in range(1200):  # a bulk action stamps them all alike
        campaign.call(f"{i:06d}", "Busy", at=at)
    campaign.pages.clear()
    table = nightly(tmp_path, campaign, "night2.parquet")
    assert campaign.pages["getAll"] == 3  # paging by time could not go past the tie
    assert same_but_lookup(table, scanned(tmp_path, campaign))


def test_changes_spread_over_pages_are_all_seen(tmp_path: Path) -> None:
    write_keys(tmp_path, KEYS)
    campaign = MovingCampaign(2500)
    nightly(tmp_path, campaign)
    for i in range(2400):
        campaign.call(f"{i:06d}", "No Answer" if i % 2 else "Busy", at=campaign.tick(1) if i % 3 == 0 else None)
    campaign.pages.clear()
    table = nightly(tmp_path, campaign, "night2.parquet")
    assert campaign.pages["getAll"] == 0 and campaign.pages["getChanged"] == 3
    assert same_but_lookup(table, scanned(tmp_path, campaign))


def test_a_full_page_of_changes_out_of_time_order_falls_back_to_a_full_read(tmp_path: Path) -> None:
    write_keys(tmp_path, KEYS)
    campaign = MovingCampaign(2500)
    nightly(tmp_path, campaign)
    for i in range(2400, 0, -1):  # called from the list's end to its start: index order is not time order
        campaign.call(f"{i:06d}", "Busy")
    campaign.in_index_order = True
    campaign.pages.clear()
    table = nightly(tmp_path, campaign, "night2.parquet")
    # Paging on from the first page's latest time would have skipped every change made before it.
    assert campaign.pages["getChanged"] == 1 and campaign.pages["getAll"] == 3
    assert same_but_lookup(table, scanned(tmp_path, campaign))


def test_a_short_page_of_changes_in_any_order_is_whole_and_needs_no_full_read(tmp_path: Path) -> None:
    write_keys(tmp_path, KEYS)
    campaign = MovingCampaign(2500)
    nightly(tmp_path, campaign)
    for i in range(700, 0, -7):
        campaign.call(f"{i:06d}", "Busy")
    campaign.in_index_order = True
    campaign.pages.clear()
    table = nightly(tmp_path, campaign, "night2.parquet")
    assert campaign.pages == {"getChanged": 1, "getCompleted": 1}
    assert same_but_lookup(table, scanned(tmp_path, campaign))


def test_asking_more_keys_than_a_full_read_costs_reads_the_list_whole_instead(tmp_path: Path) -> None:
    write_keys(tmp_path, [*KEYS, *(f"9{i:05d}" for i in range(5))])  # six keys off a list of 3 pages
    campaign = MovingCampaign(2500)
    nightly(tmp_path, campaign)
    campaign.call("000007", "Busy")
    campaign.delete("000014")
    campaign.pages.clear()
    campaign.asked.clear()
    table = nightly(tmp_path, campaign, "night2.parquet")
    assert campaign.asked == {}
    assert campaign.pages == {"getChanged": 1, "getCompleted": 1, "getAll": 3}
    rows = {r["account_id"]: r for r in table.to_pylist()}
    assert rows["000014"]["recon_status"] == "not_found"  # the full read saw the deletion too
    assert same_but_lookup(table, scanned(tmp_path, campaign))


def test_pages_of_the_page_size_set_what_a_full_read_costs_and_how_changes_are_paged(tmp_path: Path) -> None:
    write_keys(tmp_path, [*KEYS, *(f"9{i:05d}" for i in range(5))])  # the six keys off the list again
    campaign, smaller = MovingCampaign(2500), RequestPolicy(page_size=100)
    nightly(tmp_path, campaign, policy=smaller)
    assert campaign.pages["getAll"] == 26
    for i in range(250):
        campaign.call(f"{i * 10:06d}", "Busy", at=campaign.tick(1))
    campaign.pages.clear()
    campaign.asked.clear()
    table = nightly(tmp_path, campaign, "night2.parquet", policy=smaller)
    # A full read is 26 pages of 100 now: asking the six keys is cheaper (in pages of 1,000 it was not).
    assert campaign.asked == {(f"9{i:05d}",): 1 for i in range(5)} | {("999999",): 1}
    # 250 changes at 250 times: 3 pages of 100, each after the first from the last one's latest time.
    assert campaign.pages == {"getChanged": 3, "getCompleted": 1}
    assert same_but_lookup(table, scanned(tmp_path, campaign))


def test_deleted_records_are_seen_at_the_next_full_read(tmp_path: Path) -> None:
    write_keys(tmp_path, ["000001", "000002"])
    campaign = MovingCampaign(5)
    nightly(tmp_path, campaign)
    campaign.delete("000002")
    table = nightly(tmp_path, campaign, "night2.parquet", full_refresh_after=0.0)
    assert table.column("recon_status").to_pylist() == ["found", "not_found"]


def test_a_state_of_another_list_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    write_keys(tmp_path, ["000001"])
    campaign = MovingCampaign(5)
    nightly(tmp_path, campaign)
    campaign.pages.clear()
    other = type(TARGET)(base_url=TARGET.base_url, tenant=TARGET.tenant, list_name="Other.txt",
                         campaign=TARGET.campaign)
    with pytest.raises(StateMismatch, match=r"list: was 'List_1\.txt', now 'Other\.txt'"):
        nightly(tmp_path, campaign, "night2.parquet", target=other)
    assert not campaign.pages and not campaign.asked


def test_incremental_needs_a_state() -> None:
    with pytest.raises(InvalidOption, match="incremental together with --state"):
        config(Path(), strategy="incremental")


def test_a_change_to_a_record_with_an_interaction_id_is_asked_rather_than_derived(tmp_path: Path) -> None:
    write_keys(tmp_path, ["000001", "000002"])
    campaign = MovingCampaign(2500)  # 3 pages: asking one key costs less than reading it whole
    entry, record = campaign.records[("000001",)]
    campaign.records[("000001",)] = (entry, replace(record, global_interaction_id="3F4F2ACD"))
    nightly(tmp_path, campaign)
    campaign.call("000001")  # a getChanged item cannot tell the new interaction's id
    campaign.call("000002")
    entry, record = campaign.records[("000001",)]
    campaign.records[("000001",)] = (entry, replace(record, global_interaction_id="77AA"))
    campaign.asked.clear()
    table = nightly(tmp_path, campaign, "night2.parquet")
    assert campaign.asked == {("000001",): 1}
    assert table.column("globalInteractionID").to_pylist() == ["77AA", None]
    assert same_but_lookup(table, scanned(tmp_path, campaign))


# -- v3: the list and its changes by cursor ----------------------------------------------------------------


def v3_nightly(tmp_path: Path, campaign: CursorCampaign, output: str = "night.parquet", **options: object) -> pa.Table:
    return nightly(tmp_path, campaign, output, target=replace(TARGET, dialect="v3"), **options)


def v3_scanned(tmp_path: Path, campaign: CursorCampaign) -> pa.Table:
    fresh = CursorCampaign(0)
    fresh.records = dict(campaign.records)
    run(config(tmp_path, output_name="scan.parquet", key_columns=("account_id",), strategy="scan",
               target=replace(TARGET, dialect="v3")), source_factory=fresh.factory())
    return pq.read_table(tmp_path / "scan.parquet")


def test_v3_nights_read_the_list_and_then_its_changes_by_cursor_and_equal_a_scan(tmp_path: Path) -> None:
    write_keys(tmp_path, [*KEYS, "777777"])
    campaign = CursorCampaign(2500)
    campaign.call("000007", "Busy", agent="bob")
    first = v3_nightly(tmp_path, campaign)
    assert campaign.pages == {"getAllRecords": 3}
    assert same_but_lookup(first, v3_scanned(tmp_path, campaign))

    campaign.call("000000", "Sale", agent="bob")
    campaign.call("000014")
    campaign.call("000014", "Busy")
    campaign.complete("000021")
    campaign.pages.clear()
    campaign.asked.clear()
    second = v3_nightly(tmp_path, campaign, "night2.parquet")
    assert campaign.pages == {"getUpdatedRecords": 1, "getCompletedRecords": 1}
    # v3's changes carry the whole status: nothing is asked but the keys the state lacks.
    assert campaign.asked == {("777777",): 1, ("999999",): 1}
    assert same_but_lookup(second, v3_scanned(tmp_path, campaign))
    rows = {r["account_id"]: r for r in second.to_pylist()}
    assert rows["000014"]["totalAttempts"] == 2 and rows["000014"]["lastDisposition"] == "Busy"
    assert rows["000021"]["completed"] is True and rows["000021"]["completedTime"] is not None

    campaign.add("777777")  # never called: no change tells it, but Get Campaign's count moves
    campaign.delete("000028")
    campaign.delete("000035")
    campaign.pages.clear()
    campaign.asked.clear()
    third = v3_nightly(tmp_path, campaign, "night3.parquet")
    assert campaign.pages == {"getUpdatedRecords": 1, "getCompletedRecords": 1, "getAllRecords": 3}
    assert campaign.asked == {}  # read whole: a key it lacks is not on the list
    rows = {r["account_id"]: r for r in third.to_pylist()}
    assert rows["777777"]["recon_status"] == "found" and rows["000028"]["recon_status"] == "not_found"
    assert same_but_lookup(third, v3_scanned(tmp_path, campaign))


def test_v3_changes_at_one_time_over_several_pages_are_paged_by_cursor_not_read_whole(tmp_path: Path) -> None:
    write_keys(tmp_path, KEYS)
    campaign = CursorCampaign(2500)
    v3_nightly(tmp_path, campaign)
    at = campaign.tick()
    for i in range(2200):  # a bulk action stamps them all alike: paging by time alone could not go on
        campaign.call(f"{i:06d}", "Busy", at=at)
    campaign.pages.clear()
    table = v3_nightly(tmp_path, campaign, "night2.parquet")
    assert campaign.pages == {"getUpdatedRecords": 3, "getCompletedRecords": 1}
    assert same_but_lookup(table, v3_scanned(tmp_path, campaign))


def test_a_v3_sync_killed_mid_way_goes_on_from_the_stored_cursor(tmp_path: Path) -> None:
    write_keys(tmp_path, KEYS)
    campaign = CursorCampaign(2500)
    campaign.fail_at = ("getAllRecords", 2)
    with pytest.raises(RunAborted):
        v3_nightly(tmp_path, campaign)
    campaign.fail_at, campaign.cursors = None, []
    v3_nightly(tmp_path, campaign)
    assert campaign.cursors == [("getAllRecords", "after-1000"), ("getAllRecords", "after-2000")]

    for i in range(2400):
        campaign.call(f"{i:06d}", "No Answer", at=campaign.tick(1) if i % 3 == 0 else None)
    campaign.fail_at, campaign.cursors = ("getUpdatedRecords", 2), []
    with pytest.raises(RunAborted):
        v3_nightly(tmp_path, campaign, "night2.parquet")
    first_cursor = campaign.cursors[1][1]
    campaign.fail_at, campaign.cursors = None, []
    table = v3_nightly(tmp_path, campaign, "night2.parquet")
    assert campaign.cursors[0] == ("getUpdatedRecords", first_cursor)  # not from the window's start again
    assert [endpoint for endpoint, _ in campaign.cursors] == ["getUpdatedRecords"] * 2 + ["getCompletedRecords"]
    assert same_but_lookup(table, v3_scanned(tmp_path, campaign))


def test_a_v3_state_of_another_list_instance_is_refused_before_any_record_is_read(tmp_path: Path) -> None:
    write_keys(tmp_path, ["000001"])
    campaign = CursorCampaign(5)
    v3_nightly(tmp_path, campaign)
    rebound = CursorCampaign(5, instance="instance-2")  # the list bound to the campaign anew
    with pytest.raises(StateMismatch, match="list instance: was 'instance-1', now 'instance-2'"):
        v3_nightly(tmp_path, rebound, "night2.parquet")
    assert not rebound.pages and not rebound.asked


def test_every_row_says_which_read_set_its_values_and_when(tmp_path: Path) -> None:
    write_keys(tmp_path, ["000001", "000002", "000003", "777777"])
    campaign = MovingCampaign(2500)
    first = {r["account_id"]: r for r in nightly(tmp_path, campaign).to_pylist()}
    assert {k: r["recon_source"] for k, r in first.items()} == {
        "000001": "full_read", "000002": "full_read", "000003": "full_read", "777777": "full_read"}
    campaign.call("000002", "Busy")
    campaign.add("777777")

    second = {r["account_id"]: r for r in nightly(tmp_path, campaign, "night2.parquet").to_pylist()}

    assert second["000001"]["recon_source"] == "full_read"  # unchanged: last confirmed by the first night's read
    assert second["000001"]["recon_checked_at"] == first["000001"]["recon_checked_at"]
    assert second["000002"]["recon_source"] == "changes"  # a getChanged item told it
    assert second["000002"]["recon_checked_at"] > first["000002"]["recon_checked_at"]
    assert second["777777"]["recon_source"] == "query"  # the state lacked it: asked
    # Answered from the state, a found row keeps the 200 of the read that set it: a filter on
    # recon_http_status = 200 keeps it; recon_attempts counts this run's requests for it (none).
    assert [second[k]["recon_http_status"] for k in ("000001", "000002", "777777")] == [200, 200, 200]
    assert second["000001"]["recon_attempts"] == 0


def test_a_night_killed_while_writing_resumes_to_the_same_table_without_asking_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import reconciler.wiring.pipeline as pipeline

    write_keys(tmp_path, [*KEYS[:50], "777777", "888888"])
    campaign = MovingCampaign(2500)
    nightly(tmp_path, campaign)
    campaign.call("000007", "Sale")
    campaign.add("777777")
    shutil.copytree(tmp_path, tmp_path / "uninterrupted", ignore=shutil.ignore_patterns("uninterrupted"))
    writes = pipeline.write_output

    def killed(*args: object, **kwargs: object) -> object:
        raise RuntimeError("killed while writing")  # the keys are answered, the state's answers noted

    monkeypatch.setattr(pipeline, "write_output", killed)
    with pytest.raises(RuntimeError, match="killed while writing"):
        nightly(tmp_path, campaign, "night2.parquet")
    monkeypatch.setattr(pipeline, "write_output", writes)
    campaign.pages.clear()
    campaign.asked.clear()
    resumed = nightly(tmp_path, campaign, "night2.parquet")

    assert not campaign.pages and not campaign.asked  # nothing asked again: the state still answers
    uninterrupted = nightly(tmp_path / "uninterrupted", campaign, "night2.parquet")
    # The same rows, and the same times of the state's answers; the run id is the resumed run's own.
    same = [name for name in resumed.column_names if name not in ("recon_run_id", "recon_checked_at")]
    assert resumed.select(same).equals(uninterrupted.select(same))
    rows = {r["account_id"]: r for r in resumed.to_pylist()}
    assert rows["000007"]["lastDisposition"] == "Sale" and rows["777777"]["recon_source"] == "query"
    assert rows["888888"]["recon_status"] == "not_found"
