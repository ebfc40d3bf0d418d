"""The v3 client: the id look-up, queryRecord, getAllRecords by cursor, and v3's fatal answers (aioresponses)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from aioresponses import aioresponses
from yarl import URL

from reconciler.client import BrightPatternClient, CampaignClient, open_record_source
from reconciler.config import Credentials, RequestPolicy, Target
from reconciler.errors import PageUnreadable, RequestRefused, TargetAmbiguous, TargetNotFound
from reconciler.lookup import CursorRecordSource, LookupStatus

from .scripted import FakeTime
from .test_mocked_answers import mocked  # noqa: F401 - the fixture

BASE = "http://bp.example"
V3 = f"{BASE}/configapi/v3"
TOKEN = {"access_token": "a" * 64, "token_type": "Bearer", "expires_in": "3600", "scope": "acme"}
CAMPAIGN_ID = "85389D39-E05C-4CE7-B36D-4401BEA52E14"
INSTANCE_ID = "DBA3A9B0-6CC4-11EE-807C-0800200C9A66"
CAMPAIGNS = [{"id": CAMPAIGN_ID, "name": "Camp 1", "state": "RUNNING"},
             {"id": "48B91DC5-A8CD-4FCA-9AF8-EC20A4ACC14B", "name": "Camp 2", "state": "STOPPED"}]
SETTINGS = {"name": "Camp 1", "enabled": True, "state": "RUNNING", "lists": [
    {"id": "635DB66C", "name": "List_1.txt", "instanceId": INSTANCE_ID, "instanceName": "", "enabled": True,
     "totalRecords": 2500},
    {"id": "92A7FE1C", "name": "List 2.csv", "instanceId": "99B6B870", "instanceName": "", "enabled": False,
     "totalRecords": 50}]}
QUERY_URL = f"{V3}/campaign/queryRecord/{CAMPAIGN_ID}"
RECORDS_URL = f"{V3}/campaign/getAllRecords/{CAMPAIGN_ID}"


def target(**ids: str) -> Target:
    return Target(base_url=BASE, tenant="acme", list_name="List_1.txt", campaign="Camp 1", dialect="v3", **ids)


def serve_lookup(mock: aioresponses, campaigns: object = CAMPAIGNS, settings: object = SETTINGS) -> None:
    mock.post(f"{V3}/oauth/token", payload=TOKEN, repeat=True)
    mock.get(f"{V3}/campaign/getAll", payload=campaigns)
    mock.get(f"{V3}/campaign/getCampaign/{CAMPAIGN_ID}", payload=settings)


async def open_v3(action: Any, **ids: str) -> Any:
    time = FakeTime()
    policy = RequestPolicy(rate=math.inf, max_attempts=2, max_backoff=0.0)
    async with open_record_source(target(**ids), Credentials(login="jane", secret="s3cret"), policy,
                                  clock=time.clock, sleep=time.sleep) as client:
        assert isinstance(client, CampaignClient)
        return await action(client)


def sent(mock: aioresponses, method: str, url: str) -> list[Any]:
    return [call.kwargs for call in mock.requests.get((method, URL(url)), [])]


async def nothing(client: CampaignClient) -> CampaignClient:
    return client


@pytest.mark.anyio
async def test_the_campaign_and_instance_ids_are_found_by_name(mocked: aioresponses) -> None:  # noqa: F811
    serve_lookup(mocked)
    client = await open_v3(nothing)
    assert (client.located.campaign_id, client.located.instance_id) == (CAMPAIGN_ID, INSTANCE_ID)
    assert client.located.looked_up == ("campaign", "instance")
    assert await client.record_count() == 2500
    token_form = sent(mocked, "POST", f"{V3}/oauth/token")[0]["data"]
    assert token_form["grant_type"] == "client_credentials" and token_form["scope"] == "acme"
    bearer = sent(mocked, "GET", f"{V3}/campaign/getAll")[0]["headers"]["Authorization"]
    assert bearer == "Bearer " + "a" * 64


@pytest.mark.anyio
async def test_given_ids_skip_the_look_up(mocked: aioresponses) -> None:  # noqa: F811
    mocked.post(f"{V3}/oauth/token", payload=TOKEN, repeat=True)
    mocked.post(QUERY_URL, payload={"entry": {"account_id": "1"}, "status": {"completed": False,
                                                                               "totalAttempts": 0}})
    result = await open_v3(lambda c: c.query({"account_id": "1"}), campaign_id=CAMPAIGN_ID,
                           instance_id=INSTANCE_ID)
    assert result.status is LookupStatus.FOUND
    assert not sent(mocked, "GET", f"{V3}/campaign/getAll")  # an unregistered URL would have raised anyway
    assert sent(mocked, "POST", QUERY_URL)[0]["json"] == {
        "instanceId": INSTANCE_ID, "extractAttempts": False, "fields": {"account_id": "1"}}


@pytest.mark.anyio
@pytest.mark.parametrize(("campaigns", "settings", "error", "words"), [
    ([*CAMPAIGNS, {"id": "C0FFEE", "name": "Camp 1", "state": "STOPPED"}], SETTINGS, TargetAmbiguous,
     [f"id {CAMPAIGN_ID} (RUNNING)", "id C0FFEE (STOPPED)", "--campaign-id"]),
    (CAMPAIGNS[1:], SETTINGS, TargetNotFound, ["'Camp 1' is not among", "'Camp 2'"]),
    (CAMPAIGNS, {**SETTINGS, "lists": [*SETTINGS["lists"], {  # type: ignore[list-item]
        "id": "635DB66C", "name": "List_1.txt", "instanceId": "FILTERED-1", "instanceName": "filtered",
        "enabled": False, "totalRecords": 10}]}, TargetAmbiguous,
     [f"instance {INSTANCE_ID} (no instance name, enabled, 2500 records)",
      "instance FILTERED-1 (filtered, disabled, 10 records)", "--instance-id"]),
    (CAMPAIGNS, {**SETTINGS, "lists": SETTINGS["lists"][1:]}, TargetNotFound,  # type: ignore[index]
     ["'List_1.txt' is not bound to campaign 'Camp 1'", "'List 2.csv'"]),
])
async def test_a_missing_or_ambiguous_name_stops_before_any_record_is_asked(
        mocked: aioresponses, campaigns: object, settings: object, error: type[Exception],  # noqa: F811
        words: list[str]) -> None:
    serve_lookup(mocked, campaigns, settings)
    with pytest.raises(error) as raised:
        await open_v3(nothing)
    assert getattr(raised.value, "exit_code", None) == 3
    message = str(raised.value)
    assert "\n" not in message
    for word in words:
        assert word in message
    assert not any(method == "POST" and "queryRecord" in str(url) for method, url in mocked.requests)


@pytest.mark.anyio
async def test_a_found_record_reads_blank_strings_as_absent_and_keeps_v3_status_fields(
        mocked: aioresponses) -> None:  # noqa: F811
    serve_lookup(mocked)
    mocked.post(QUERY_URL, payload={"entry": {"account_id": "1", "note": ""}, "status": {
        "completed": True, "completedTime": "2023-01-19T20:46:35.000", "custom_score": "7", "lastAgent": "",
        "lastDate": "", "lastDisposition": "Sale", "totalAttempts": 1, "globalInteractionID": ""}})
    result = await open_v3(lambda c: c.query({"account_id": "1"}))
    assert result.status is LookupStatus.FOUND
    assert result.entry == {"account_id": "1", "note": ""}  # entry values stay exactly as sent
    record = result.record
    assert (record.completed, record.last_disposition, record.total_attempts) == (True, "Sale", 1)
    assert (record.last_agent, record.last_date) == (None, None)
    # completedTime is a typed status column of the fixed schema; custom fields go to extraStatus
    assert record.completed_time == datetime(2023, 1, 19, 20, 46, 35, tzinfo=UTC)
    assert dict(record.extra) == {"custom_score": "7"}


@pytest.mark.anyio
async def test_a_missing_record_is_a_row_result_even_in_the_error_envelope(mocked: aioresponses) -> None:  # noqa: F811
    serve_lookup(mocked)
    mocked.post(QUERY_URL, status=404, body=json.dumps({"error": "not_found", "error_description":
                                                        "record is not found"}), content_type="application/json")
    result = await open_v3(lambda c: c.query({"account_id": "1"}))
    assert (result.status, result.http_status) == (LookupStatus.NOT_FOUND, 404)


@pytest.mark.anyio
@pytest.mark.parametrize(("status", "description", "words"), [
    (409, "Specified instance is not bound to the selected campaign",
     ["HTTP 409: conflict: Specified instance is not bound", "check --instance-id"]),
    (415, "Content type is text/plain but JSON is expected", ["HTTP 415", "JSON is expected"]),
])
async def test_409_and_415_stop_the_run_showing_the_error_description(
        mocked: aioresponses, status: int, description: str, words: list[str]) -> None:  # noqa: F811
    serve_lookup(mocked)
    error = "conflict" if status == 409 else "unsupported_media_type"
    mocked.post(QUERY_URL, status=status, body=json.dumps({"error": error, "error_description": description}),
                content_type="application/json")
    with pytest.raises(RequestRefused) as raised:
        await open_v3(lambda c: c.query({"account_id": "1"}))
    assert raised.value.exit_code == 3
    for word in words:
        assert word in str(raised.value)
    assert len(sent(mocked, "POST", QUERY_URL)) == 1  # not retried


def listed(account: str) -> dict[str, object]:
    return {"entry": {"account_id": account}, "status": {"completed": False, "totalAttempts": 0, "lastDate": ""},
            "attempts": []}


@pytest.mark.anyio
async def test_get_all_records_pages_by_cursor_and_numbers_the_records(mocked: aioresponses) -> None:  # noqa: F811
    serve_lookup(mocked)
    mocked.post(RECORDS_URL, payload={"next_cursor": "c2", "records": [listed("1"), listed("2")]})
    mocked.post(RECORDS_URL, payload={"next_cursor": "c3", "records": [listed("3")]})

    async def two_pages(client: CampaignClient) -> Any:
        return await client.fetch_records(None, 2, 0), await client.fetch_records("c2", 2, 2)

    first, last = await open_v3(two_pages)
    assert [(r.index, r.entry["account_id"]) for r in first.records] == [(0, "1"), (1, "2")]
    assert first.next_cursor == "c2"
    assert [(r.index, r.entry["account_id"]) for r in last.records] == [(2, "3")]
    assert last.next_cursor is None  # a short page is the last, whatever cursor came with it
    bodies = [call["json"] for call in sent(mocked, "POST", RECORDS_URL)]
    assert bodies == [{"instanceId": INSTANCE_ID, "limit": 2, "cursor": None, "extractAttempts": False},
                      {"instanceId": INSTANCE_ID, "limit": 2, "cursor": "c2", "extractAttempts": False}]


@pytest.mark.anyio
@pytest.mark.parametrize(("answer", "reason"), [
    ({"next_cursor": "c", "records": [listed("1"), listed("2"), listed("3")]}, "3 records in a page of at most 2"),
    ([listed("1")], "instead of an object with records"),
    ({"next_cursor": 7, "records": []}, "next_cursor is a JSON number"),
])
async def test_an_unreadable_cursor_page_stops_the_scan(mocked: aioresponses, answer: object,  # noqa: F811
                                                        reason: str) -> None:
    serve_lookup(mocked)
    mocked.post(RECORDS_URL, payload=answer)
    with pytest.raises(PageUnreadable, match=reason):
        await open_v3(lambda c: c.fetch_records(None, 2, 0))


def test_only_the_v3_client_reads_by_cursor() -> None:
    assert issubclass(CampaignClient, CursorRecordSource)
    assert not issubclass(BrightPatternClient, CursorRecordSource)


UPDATED_URL = f"{V3}/campaign/getUpdatedRecords/{CAMPAIGN_ID}"
COMPLETED_URL = f"{V3}/campaign/getCompletedRecords/{CAMPAIGN_ID}"
SINCE = datetime(2026, 12, 5, 1, 50, 0, 125000, tzinfo=UTC)


def changed(account: str, **status: object) -> dict[str, object]:
    blanks = {"lastDisposition": "", "lastDate": "", "lastPhone": "", "lastAgent": "", "globalInteractionID": "",
              "completedTime": ""}
    return {"entry": {"account_id": account}, "status": {**blanks, "completed": False, **status}, "attempts": []}


@pytest.mark.anyio
async def test_updated_records_page_by_cursor_from_a_fixed_start_and_carry_the_whole_status(
        mocked: aioresponses) -> None:  # noqa: F811
    serve_lookup(mocked)
    called = changed("1", totalAttempts=2, lastDisposition="Busy", lastDate="2026-12-05T01:55:00.000",
                     lastPhone="16505550101", lastCallDuration=0, globalInteractionID="3F4F2ACD")
    mocked.post(UPDATED_URL, payload={"next_cursor": "c2", "records": [called, changed("2", totalAttempts=0)]})
    mocked.post(UPDATED_URL, payload={"next_cursor": None, "records": [{"entry": {"account_id": "3"}}]})

    async def two_pages(client: CampaignClient) -> Any:
        return (await client.fetch_updated_records(SINCE, None, 2),
                await client.fetch_updated_records(SINCE, "c2", 2))

    first, last = await open_v3(two_pages)
    assert first.next_cursor == "c2" and last.next_cursor is None
    one, two = first.records
    assert one.record is not None and one.record.last_disposition == "Busy"
    assert one.record.global_interaction_id == "3F4F2ACD" and one.record.last_agent is None  # "" is absent
    assert one.changed_at == datetime(2026, 12, 5, 1, 55, tzinfo=UTC)
    assert two.record is not None and two.record.total_attempts == 0 and two.changed_at is None
    assert last.records[0].record is None  # sent without a status: the record is asked, not guessed
    bodies = [call["json"] for call in sent(mocked, "POST", UPDATED_URL)]
    # The window's start stays while the cursor pages on; no endTime from this machine's clock.
    assert bodies == [{"instanceId": INSTANCE_ID, "limit": 2, "cursor": cursor, "extractAttempts": False,
                       "startTime": "2026-12-05T01:50:00.125"} for cursor in (None, "c2")]


@pytest.mark.anyio
async def test_a_completed_record_is_placed_in_time_by_its_completed_time(mocked: aioresponses) -> None:  # noqa: F811
    serve_lookup(mocked)
    done = changed("1", completed=True, totalAttempts=3, lastDisposition="Sale", lastDate="2026-12-05T02:00:00.000",
                   completedTime="2026-12-05T02:00:01.500", lastAgent="maria")
    mocked.post(COMPLETED_URL, payload={"next_cursor": None, "records": [done]})
    page = await open_v3(lambda c: c.fetch_completed_records(SINCE, None, 1000))
    (record,) = page.records
    assert record.record is not None and record.record.completed is True
    assert record.record.completed_time == record.changed_at == datetime(2026, 12, 5, 2, 0, 1, 500000, tzinfo=UTC)


@pytest.mark.anyio
async def test_a_refused_changes_page_stops_the_run_naming_the_endpoint_and_window(
        mocked: aioresponses) -> None:  # noqa: F811
    serve_lookup(mocked)
    mocked.post(UPDATED_URL, status=400, payload={"error": "bad_request",
                                                  "error_description": "'cursor' has unsupported value 'x'"})
    with pytest.raises(PageUnreadable) as raised:
        await open_v3(lambda c: c.fetch_updated_records(SINCE, "x", 1000))
    message = str(raised.value)
    assert "getUpdatedRecords page from time 2026-12-05T01:50:00.125, cursor x" in message
    assert "'cursor' has unsupported value 'x'" in message and UPDATED_URL in message
