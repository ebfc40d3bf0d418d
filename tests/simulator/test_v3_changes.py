"""v3's getUpdatedRecords and getCompletedRecords on the simulator: the window, the keyset cursor, refusals."""

from __future__ import annotations

import json
import re

import aiohttp
import pytest

from reconciler.simulator import RunningSimulator
from reconciler.simulator.v3 import campaign_id, instance_id

from .support import CAMPAIGN, LIST, bearer, post, v2_url

pytestmark = pytest.mark.anyio
EPOCH_TEXT = "1970-01-01T00:00:00.000"


def url(sim: RunningSimulator, operation: str) -> str:
    return f"{sim.base_url}/configapi/v3/campaign/{operation}/{campaign_id(CAMPAIGN)}"


def body(**fields: object) -> dict[str, object]:
    return {"instanceId": instance_id(CAMPAIGN, LIST), "limit": 1000, "cursor": None, "extractAttempts": False,
            "startTime": EPOCH_TEXT, **fields}


async def read_all(session: aiohttp.ClientSession, sim: RunningSimulator, operation: str, headers: dict[str, str],
                   cursor: str | None = None, **fields: object) -> tuple[list[dict[str, object]], int]:
    """Every record of a window from ``cursor`` on, paging by cursor; and how many pages that took."""
    records: list[dict[str, object]] = []
    pages = 0
    while True:
        status, text = await post(session, url(sim, operation), body(cursor=cursor, **fields), headers=headers)
        assert status == 200, text
        answer = json.loads(text)
        records += answer["records"]
        pages += 1
        cursor = answer["next_cursor"]
        if cursor is None:
            return records, pages


async def test_updated_records_are_those_with_activity_in_the_window_oldest_first(
        sim: RunningSimulator, session: aiohttp.ClientSession) -> None:
    headers = await bearer(session, sim.base_url)
    nothing, _ = await read_all(session, sim, "getUpdatedRecords", headers)
    assert nothing == []  # loading the records file is no activity
    sim.move_on(attempts=12, complete=4, seed=3)
    status, text = await post(session, v2_url(sim.base_url, "getChanged"), {"fromTime": EPOCH_TEXT, "maxSize": 100},
                              headers=headers)
    called = {item["entry"]["account_id"] for item in json.loads(text)}  # as v2's getChanged tells them
    assert status == 200 and len(called) == 12

    updated, pages = await read_all(session, sim, "getUpdatedRecords", headers, limit=5)
    assert pages == 3 and len(updated) == 12  # 5 + 5 + 2, each record once
    assert {r["entry"]["account_id"] for r in updated} == called  # type: ignore[index]
    dates = [r["status"]["lastDate"] for r in updated]  # type: ignore[index]
    assert dates == sorted(dates)
    assert all(set(r) == {"entry", "status", "attempts"} for r in updated)  # as getAllRecords sends them

    completed, _ = await read_all(session, sim, "getCompletedRecords", headers)
    assert len(completed) == 4 and all(r["status"]["completed"] is True for r in completed)  # type: ignore[index]

    # startTime inclusive, endTime exclusive: the window from the 4th change up to the 8th.
    window, _ = await read_all(session, sim, "getUpdatedRecords", headers, startTime=dates[3], endTime=dates[7])
    assert [r["status"]["lastDate"] for r in window] == dates[3:7]  # type: ignore[index]


async def test_a_record_called_again_while_a_client_pages_comes_later_and_none_is_skipped(
        sim: RunningSimulator, session: aiohttp.ClientSession) -> None:
    headers = await bearer(session, sim.base_url)
    sim.move_on(attempts=10, seed=5)
    status, text = await post(session, url(sim, "getUpdatedRecords"), body(limit=4), headers=headers)
    first = json.loads(text)
    assert status == 200 and len(first["records"]) == 4 and first["next_cursor"]
    sim.move_on(attempts=3, seed=6)  # later activity, some of it perhaps on records already sent
    rest, _ = await read_all(session, sim, "getUpdatedRecords", headers, limit=4, cursor=first["next_cursor"])
    everything, _ = await read_all(session, sim, "getUpdatedRecords", headers)
    seen = {r["entry"]["account_id"] for r in first["records"] + rest}  # type: ignore[index]
    assert seen == {r["entry"]["account_id"] for r in everything}  # type: ignore[index]


async def test_cursors_have_a_live_servers_form(sim: RunningSimulator, session: aiohttp.ClientSession) -> None:
    headers = await bearer(session, sim.base_url)
    sim.move_on(attempts=6, complete=6, seed=2)
    for operation in ("getUpdatedRecords", "getCompletedRecords"):  # <time>_<24 hex>, as recorded
        status, text = await post(session, url(sim, operation), body(limit=2), headers=headers)
        cursor = json.loads(text)["next_cursor"]
        assert status == 200 and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}_[0-9a-f]{24}", cursor), cursor
        records, pages = await read_all(session, sim, operation, headers, limit=2)
        assert (len(records), pages) == (6, 3)
    status, text = await post(session, url(sim, "getAllRecords"), body(limit=2), headers=headers)
    assert status == 200 and re.fullmatch(r"[0-9a-f]{24}", json.loads(text)["next_cursor"])  # the id alone


@pytest.mark.parametrize(("fields", "expected"), [
    ({"startTime": None}, (400, "'startTime' has unsupported value None")),
    ({"startTime": "yesterday"}, (400, "'startTime' has unsupported value 'yesterday'")),
    ({"endTime": "soon"}, (400, "'endTime' has unsupported value 'soon'")),
    ({"cursor": "not-a-cursor"}, (400, "'cursor' has unsupported value 'not-a-cursor'")),
    ({"cursor": "2023-01-10T12:13:59.001_590e9abd4abbf1165862d34"},
     (400, "'cursor' has unsupported value '2023-01-10T12:13:59.001_590e9abd4abbf1165862d34'")),
    ({"cursor": "2023-13-10T12:13:59.001_590e9abd4abbf1165862d342"},
     (400, "'cursor' has unsupported value '2023-13-10T12:13:59.001_590e9abd4abbf1165862d342'")),
    ({"limit": 1001}, (400, "'limit' has unsupported value 1001")),
    ({"instanceId": "0000"}, (409, "Specified instance is not bound to the selected campaign")),
])
async def test_bad_window_bodies_are_refused_in_v3_error_bodies(sim: RunningSimulator, session: aiohttp.ClientSession,
                                                               fields: dict[str, object],
                                                               expected: tuple[int, str]) -> None:
    headers = await bearer(session, sim.base_url)
    for operation in ("getUpdatedRecords", "getCompletedRecords"):
        status, text = await post(session, url(sim, operation), body(**fields), headers=headers)
        assert status == expected[0]
        assert expected[1] in json.loads(text)["error_description"]


async def test_a_window_body_not_sent_as_json_is_a_415(sim: RunningSimulator, session: aiohttp.ClientSession) -> None:
    headers = {**await bearer(session, sim.base_url), "Content-Type": "text/plain"}
    status, text = await post(session, url(sim, "getUpdatedRecords"), data=json.dumps(body()).encode(),
                              headers=headers)
    assert status == 415 and json.loads(text)["error"] == "unsupported_media_type"
