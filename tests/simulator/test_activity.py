"""Moving a campaign on: call attempts, completions, added and deleted records, and what getChanged,
getCompleted, Query a record and getAll then answer (classic and v2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import aiohttp
import anyio
import pytest

from reconciler.client.answer import read_status
from reconciler.client.changes import derive_status
from reconciler.simulator import RunningSimulator
from reconciler.simulator.activity import FINAL, RETRY, ActivityRefused
from reconciler.simulator.activity_cli import main as activity_main

from .conftest import Ask
from .support import ROWS, FakeClock

pytestmark = pytest.mark.anyio

SINCE_EVER = {"fromTime": "2000-01-01T00:00:00.000", "maxSize": 1000}
NOT_COMPLETED = {row[0] for row in ROWS if row[4] != "true"}


async def items(ask: Ask, operation: str, body: object = SINCE_EVER) -> list[dict[str, Any]]:
    status, text = await ask(body, operation)
    assert status == 200, text
    answer = json.loads(text)
    assert isinstance(answer, list)
    return answer


def key_of(item: dict[str, Any]) -> str:
    return str(item["entry"]["account_id"])


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def test_a_fresh_list_has_no_changes_loading_is_no_activity(ask: Ask) -> None:
    assert await items(ask, "getChanged") == []
    assert await items(ask, "getCompleted") == []


async def test_attempts_land_on_distinct_open_records_at_increasing_times_before_the_clock(
        sim: RunningSimulator, ask: Ask, clock: FakeClock) -> None:
    did = sim.move_on(attempts=12, complete=4, seed=3)
    changed = await items(ask, "getChanged")
    assert did["attempts"] == 12 and did["completed"] == 4
    assert len({key_of(item) for item in changed}) == 12 and {key_of(i) for i in changed} <= NOT_COMPLETED
    times = [moment(item["attempts"][0]["date"]) for item in changed]
    assert times == sorted(times) and len(set(times)) == 12  # oldest first, no two at one time
    assert moment("2021-03-01T10:00:00.000") < times[0] and times[-1] <= datetime.fromtimestamp(clock.now, UTC)
    assert sum(item["completed"] for item in changed) == 4
    for item in changed:
        newest = item["attempts"][0]
        names = {d.name for d in (FINAL if item["completed"] else RETRY)}
        assert newest["disposition"] in names
        # The record's disposition is its final one, "" while open (as in Bright Pattern's own example).
        final = (newest["disposition"], str(newest["dispositionCode"])) if item["completed"] else ("", "")
        assert (item["recordDisposition"], item["recordDispositionCode"]) == final
        # call_attempted false on the completing attempt (with an agent and a final disposition), as recorded.
        assert newest["call_attempted"] is not item["completed"] and isinstance(newest["callDuration"], int)
        assert isinstance(newest["dialingDuration"], int) and isinstance(newest["CPADuration"], int)
        assert isinstance(newest["callNotes"], str) and (newest["callNotes"] == "" or "agent" in newest)


async def test_each_change_tells_exactly_what_query_a_record_answers_or_says_ask(
        sim: RunningSimulator, ask: Ask) -> None:
    sim.move_on(attempts=15, complete=3, seed=1)
    sim.move_on(attempts=15, seed=2)  # records called twice keep both attempts, newest first
    derived = 0
    for item in await items(ask, "getChanged"):
        _, text = await ask({"account_id": key_of(item)})
        queried = read_status(json.loads(text)["status"])
        told = derive_status(item, item["attempts"])
        assert told is None or told == queried, key_of(item)
        derived += told is not None
        assert item["totalAttempts"] == queried.total_attempts  # type: ignore[union-attr]
    assert derived >= 10  # most changes are told whole; the rest are asked


async def test_a_loaded_status_shows_as_the_oldest_attempt_of_a_record_called_again(
        sim: RunningSimulator, ask: Ask) -> None:
    sim.move_on(attempts=len(NOT_COMPLETED), seed=4)  # every open record once
    mike = next(item for item in await items(ask, "getChanged") if key_of(item) == "000123")
    assert mike["totalAttempts"] == 2
    assert mike["attempts"][1] == {"call_attempted": True, "disposition": "Try again later",
                                   "date": "2021-02-19T19:12:21.000", "phone": "16505555555", "agent": "elizabeth",
                                   "callDuration": 0, "globalInteractionID": "3F4F2ACD-1233-42E3-8092-3A9F7D9D84BC",
                                   "dispositionCode": "", "dialingDuration": 0, "callNotes": "", "CPADuration": 0}


async def test_get_completed_answers_the_whole_status_with_the_completion_time(
        sim: RunningSimulator, ask: Ask) -> None:
    sim.move_on(attempts=10, complete=5, seed=6)
    completed = await items(ask, "getCompleted")
    assert len(completed) == 5
    for item in completed:
        _, text = await ask({"account_id": key_of(item)})
        assert item["status"] == json.loads(text)["status"] and item["status"]["completed"] is True
        assert item["completedTime"] == item["status"]["lastDate"]


async def test_from_time_is_inclusive_and_max_size_pages(sim: RunningSimulator, ask: Ask) -> None:
    sim.move_on(attempts=9, seed=8)
    every = await items(ask, "getChanged")
    third = every[2]["attempts"][0]["date"]
    assert await items(ask, "getChanged", {"fromTime": third, "maxSize": "3"}) == every[2:5]
    assert await items(ask, "getChanged", {"fromTime": "2099-01-01T00:00:00.000", "maxSize": 10}) == []


@pytest.mark.parametrize(("body", "expected"), [  # the texts a live server answered (more in test_live_answers)
    ({"maxSize": 10}, (400, "invalid parameters")),
    ({"fromTime": "yesterday", "maxSize": 10}, (400, 'Unparseable date: "yesterday"')),
    ({"fromTime": "2021-01-01T00:00:00.000", "maxSize": 1001}, (400, "maxSize is too large (no more than 1000)")),
    ([], (400, "Expected BEGIN_OBJECT but was BEGIN_ARRAY at line 1 column 2 path $")),
])
async def test_a_bad_changes_body_is_refused(ask: Ask, body: object, expected: tuple[int, str]) -> None:
    assert await ask(body, "getChanged") == expected


async def test_changes_of_an_unknown_list_or_unbound_campaign_are_refused(ask: Ask) -> None:
    assert await ask(SINCE_EVER, "getChanged", list_name="Nope.txt") == (404, "calling list not found")
    assert await ask(SINCE_EVER, "getCompleted", campaign="Other") == (404, "campaign is not found")


async def test_added_records_are_found_never_called_and_listed_last(sim: RunningSimulator, ask: Ask) -> None:
    did = sim.move_on(add=2, seed=1)
    added = [key["account_id"] for key in did["added"]]  # type: ignore[union-attr, index]
    assert added == ["000146", "000147"]  # like the list's own keys: digits as wide as its largest
    status, text = await ask({"account_id": added[0]})
    assert status == 200 and json.loads(text)["status"] == {"totalAttempts": 0, "completed": False}
    status, text = await ask({"fromIndex": len(ROWS), "maxSize": 10}, "getAll")
    assert [row["index"] for row in json.loads(text)] == [len(ROWS), len(ROWS) + 1]


async def test_deleted_records_are_not_found_and_pages_stay_full_past_them(sim: RunningSimulator, ask: Ask) -> None:
    did = sim.move_on(delete=5, seed=2)
    deleted = {key["account_id"] for key in did["deleted"]}  # type: ignore[union-attr, index]
    for key in deleted:
        assert await ask({"account_id": key}) == (404, "record is not found")
    _, text = await ask({"fromIndex": 0, "maxSize": 10}, "getAll")
    page = json.loads(text)
    assert len(page) == 10 and not deleted & {row["entry"]["account_id"] for row in page}
    listed: list[str] = []
    start = 0
    while True:
        _, text = await ask({"fromIndex": start, "maxSize": 7}, "getAll")
        rows = json.loads(text)
        listed += [row["entry"]["account_id"] for row in rows]
        if len(rows) < 7:
            break
        start = rows[-1]["index"] + 1
    assert sorted(listed) == sorted({row[0] for row in ROWS} - deleted)


@pytest.mark.parametrize(("plan", "message"), [
    ({"attempts": 2, "complete": 3}, "complete (3) cannot exceed attempts (2)"),
    ({"attempts": 1000}, "records of list 'List 1.csv' can be called, not 1000"),
    ({"attempts": -1}, "attempts must be a whole number from 0 up, not -1"),
])
async def test_activity_the_list_cannot_take_is_refused(sim: RunningSimulator, plan: dict[str, int],
                                                        message: str) -> None:
    with pytest.raises(ActivityRefused, match=message.replace("(", r"\(").replace(")", r"\)")):
        sim.move_on(**plan)


async def test_the_admin_endpoint_moves_on_and_is_not_counted_as_api_traffic(
        sim: RunningSimulator, session: aiohttp.ClientSession) -> None:
    body = {"list": "List 1.csv", "campaign": "Campaign_1", "attempts": 3, "complete": 1, "add": 1, "seed": 9}
    async with session.post(f"{sim.base_url}/__activity", json=body) as response:
        assert response.status == 200
        done = await response.json()
    assert done["attempts"] == 3 and done["completed"] == 1 and len(done["added"]) == 1
    async with session.post(f"{sim.base_url}/__activity", json={"list": "Nope"}) as response:
        assert response.status == 404 and "lists: List 1.csv" in await response.text()
    assert sim.stats()["requests_total"] == 0


async def test_the_activity_verb_prints_one_line_and_exits_by_outcome(
        sim: RunningSimulator, capsys: pytest.CaptureFixture[str]) -> None:
    code = await anyio.to_thread.run_sync(activity_main, ["--url", sim.base_url, "--attempts", "4",
                                                          "--complete", "1", "--add", "1", "--seed", "3"])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("list 'List 1.csv' in Campaign_1: 4 call attempts between ")
    assert "(1 completed their record), 1 records added (000146), 0 deleted" in out
    code = await anyio.to_thread.run_sync(activity_main, ["--url", sim.base_url, "--campaign", "Nope"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 3 and len(err) == 1 and "campaign is not found: 'Nope'" in err[0]
    code = await anyio.to_thread.run_sync(activity_main, ["--url", sim.base_url, "--attempts", "1", "--complete", "2"])
    assert code == 2 and "cannot exceed attempts" in capsys.readouterr().err
