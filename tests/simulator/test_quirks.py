"""A live server's recorded departures from the documentation, each off unless asked for: unordered getAll
pages with holes in the indexes, loose matching of a leading +, and changes in index order."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from reconciler.simulator import FaultConfig, RunningSimulator, run_simulator
from reconciler.simulator.quirks import QuirkConfig
from reconciler.simulator.v3 import campaign_id, instance_id

from .support import CAMPAIGN, LIST, ROWS, FakeClock, bearer, config_for, post, v2_url, write_csv

pytestmark = pytest.mark.anyio

HEADER = ["phone", "name", "status.completed", "status.totalAttempts"]
COUNT = 40
PHONES = ["+1001", "1002", *[f"+1{n:03d}" for n in range(3, COUNT + 1)]]
RECORDS = [[phone, f"Name{n}", "false", "0"] for n, phone in enumerate(PHONES)]
EXPECTED_INDEXES = [n + n // 6 for n in range(COUNT)]  # every 7th index (6, 13, 20, ...) unused
SINCE = {"fromTime": "2000-01-01T00:00:00.000", "maxSize": 1000}

Send = Callable[..., Awaitable[tuple[int, Any]]]


@asynccontextmanager
async def serving(tmp_path: Path, quirks: QuirkConfig, *, seed: int | None = 5, rows: list[list[str]] | None = None,
                  header: list[str] | None = None) -> AsyncIterator[tuple[Send, RunningSimulator]]:
    """A simulator with ``quirks``, and a sender for it: (operation, body) -> (status, JSON answer or text)."""
    records = write_csv(tmp_path / f"records-{seed}.csv", header or HEADER, rows or RECORDS)
    config = config_for(records, quirks=quirks, faults=FaultConfig(seed=seed))
    async with run_simulator(config, clock=FakeClock()) as sim, aiohttp.ClientSession() as session:
        headers = await bearer(session, sim.base_url)

        async def send(operation: str, body: object, *, v3: bool = False) -> tuple[int, Any]:
            url = f"{sim.base_url}/configapi/v3/campaign/{operation}/{campaign_id(CAMPAIGN)}" if v3 else \
                v2_url(sim.base_url, operation)
            status, text = await post(session, url, body, headers=headers)
            return status, json.loads(text) if status == 200 else text

        yield send, sim


# -- --unordered-pages ---------------------------------------------------------------------------

async def test_unordered_pages_hold_the_lowest_indexes_from_from_index_shuffled(tmp_path: Path) -> None:
    async with serving(tmp_path, QuirkConfig(unordered_pages=True)) as (send, _):
        read: list[int] = []
        from_index, shuffled_pages = 0, 0
        while True:
            status, page = await send("getAll", {"fromIndex": from_index, "maxSize": 7})
            assert status == 200
            indexes = [item["index"] for item in page]
            lowest = [i for i in EXPECTED_INDEXES if i >= from_index][:7]
            assert sorted(indexes) == lowest  # none of the range left out, only the order moved
            if len(indexes) > 1:
                assert indexes[-1] != max(indexes)  # the last item is not the highest, as recorded
                shuffled_pages += indexes != sorted(indexes)
            read += indexes
            if len(page) < 7:
                break
            from_index = max(indexes) + 1  # a client that pages past the highest index read misses none
        assert read and sorted(read) == EXPECTED_INDEXES and shuffled_pages >= 5
        assert [item["index"] for item in (await send("getAll", {"fromIndex": 6, "maxSize": 1}))[1]] == [7]  # a hole


async def test_unordered_pages_repeat_with_the_seed(tmp_path: Path) -> None:
    orders: list[list[int]] = []
    for seed in (5, 5, 6):
        async with serving(tmp_path, QuirkConfig(unordered_pages=True), seed=seed) as (send, _):
            page = (await send("getAll", {"fromIndex": 0, "maxSize": 30}))[1]
            again = (await send("getAll", {"fromIndex": 0, "maxSize": 30}))[1]
            assert page == again
            orders.append([item["index"] for item in page])
    assert orders[0] == orders[1] != orders[2]


async def test_v3_unordered_record_pages_still_cover_the_list_once_by_cursor(tmp_path: Path) -> None:
    async with serving(tmp_path, QuirkConfig(unordered_pages=True)) as (send, _):
        cursor, names, pages = None, [], []
        while True:
            body = {"instanceId": instance_id(CAMPAIGN, LIST), "limit": 8, "cursor": cursor, "extractAttempts": False}
            status, answer = await send("getAllRecords", body, v3=True)
            assert status == 200
            pages.append([int(record["entry"]["name"][4:]) for record in answer["records"]])
            names += pages[-1]
            cursor = answer["next_cursor"]
            if cursor is None:
                break
        assert sorted(names) == list(range(COUNT)) and len(pages) == 5
        assert all(sorted(page) == list(range(8 * n, 8 * n + 8)) for n, page in enumerate(pages))
        assert any(page != sorted(page) for page in pages)


async def test_pages_are_in_order_and_without_holes_by_default(tmp_path: Path) -> None:
    async with serving(tmp_path, QuirkConfig()) as (send, _):
        page = (await send("getAll", {"fromIndex": 0, "maxSize": 1000}))[1]
        assert [item["index"] for item in page] == list(range(COUNT))


# -- --loose-phone-keys --------------------------------------------------------------------------

@pytest.mark.parametrize(("asked", "stored"), [("1001", "+1001"), ("+1001", "+1001"), ("+1002", "1002"),
                                               ("1002", "1002")])
async def test_loose_phone_keys_match_a_leading_plus_and_answer_the_stored_value(
        tmp_path: Path, asked: str, stored: str) -> None:
    async with serving(tmp_path, QuirkConfig(loose_phone_keys=True)) as (send, _):
        status, answer = await send("get", {"phone": asked})
        assert (status, answer["entry"]["phone"]) == (200, stored)
        body = {"instanceId": instance_id(CAMPAIGN, LIST), "extractAttempts": False, "fields": {"phone": asked}}
        status, answer = await send("queryRecord", body, v3=True)
        assert (status, answer["entry"]["phone"]) == (200, stored)


@pytest.mark.parametrize("asked", ["1001", "01001", " 1001", "1001 "])
async def test_keys_match_exactly_by_default_and_loosely_only_by_a_plus(tmp_path: Path, asked: str) -> None:
    for quirks in (QuirkConfig(), QuirkConfig(loose_phone_keys=True)):
        async with serving(tmp_path, quirks) as (send, _):
            found = (await send("get", {"phone": asked}))[0] == 200
            assert found is (quirks.loose_phone_keys and asked == "1001")


# -- --changes-in-index-order --------------------------------------------------------------------

def key_rows() -> list[list[str]]:
    return [row[:2] + row[4:6] for row in ROWS]  # the shared rows' keys, names and open statuses


async def page_by_latest_time(send: Send, operation: str, max_size: int) -> set[str]:
    """Read changes as a client that assumes time order does: each page from the latest time of the one before."""
    since, seen = SINCE["fromTime"], set()
    while True:
        status, page = await send(operation, {"fromTime": since, "maxSize": max_size})
        assert status == 200
        seen |= {item["entry"]["account_id"] for item in page}
        if len(page) < max_size:
            return seen
        dates = [item["attempts"][0]["date"] if "attempts" in item else item["completedTime"] for item in page]
        since = max(dates)


@pytest.mark.parametrize("operation", ["getChanged", "getCompleted"])
async def test_changes_in_index_order_come_by_index_and_a_client_paging_by_time_misses_some(
        tmp_path: Path, operation: str) -> None:
    header = ["account_id", "firstName", "status.completed", "status.lastDisposition"]
    for quirks in (QuirkConfig(), QuirkConfig(changes_in_index_order=True)):
        async with serving(tmp_path, quirks, rows=key_rows(), header=header) as (send, sim):
            sim.move_on(attempts=16, complete=16 if operation == "getCompleted" else 4, seed=9)
            every = (await send(operation, SINCE))[1]
            keys = [item["entry"]["account_id"] for item in every]
            positions = [[row[0] for row in ROWS].index(key) for key in keys]
            times = [item["attempts"][0]["date"] if "attempts" in item else item["completedTime"] for item in every]
            first_five = (await send(operation, {**SINCE, "maxSize": 5}))[1]
            seen = await page_by_latest_time(send, operation, 5)
            if quirks.changes_in_index_order:
                assert positions == sorted(positions) and times != sorted(times)
                assert first_five == every[:5]  # the first maxSize by index, of all changed since fromTime
                assert seen < set(keys)  # that is the point: paging by time misses records
            else:
                assert times == sorted(times) and positions != sorted(positions)
                assert seen == set(keys) and len(keys) == 16
