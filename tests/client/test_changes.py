"""getChanged and getCompleted: the request the client sends and what it reads from the answers."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest
from aioresponses import aioresponses

from reconciler.client import open_record_source
from reconciler.client.changes import derive_status, read_changed_page, read_completed_page
from reconciler.client.dialects import endpoints_for
from reconciler.config import Credentials, RequestPolicy
from reconciler.errors import PageUnreadable
from reconciler.lookup import ChangedRecord, RecordStatus

from .scripted import FakeTime
from .test_mocked_answers import mocked, target

assert mocked  # the fixture, used by name
FEB_19 = datetime(2021, 2, 19, 19, 12, 21, tzinfo=UTC)
SINCE = datetime(2021, 2, 19, 0, 0, 0, 456_000, tzinfo=UTC)


def attempt(**fields: Any) -> dict[str, Any]:
    return {"call_attempted": True, "disposition": "No Answer", "date": "2021-02-19T19:12:21.000",
            "phone": "16505555555", "callDuration": 0, **fields}


def item(*attempts: dict[str, Any], completed: bool = False, total: int = 1) -> dict[str, Any]:
    return {"entry": {"id": "2"}, "completed": completed, "recordDisposition": "Sale", "recordDispositionCode": 99,
            "totalAttempts": total, "attempts": list(attempts)}


@pytest.mark.parametrize(("changed", "expected"), [
    (item(attempt()), RecordStatus(completed=False, total_attempts=1, last_disposition="No Answer",
                                   last_date=FEB_19, last_phone="16505555555", last_call_duration=0)),
    (item(attempt(agent="bob", callDuration=35), attempt(date="2021-02-18T10:00:00.000"), total=2),
     RecordStatus(completed=False, total_attempts=2, last_disposition="No Answer", last_date=FEB_19,
                  last_phone="16505555555", last_call_duration=35, last_agent="bob")),
    # call_attempted was seen false on an attempt with an agent and a final disposition (API notes): it
    # cannot tell which attempt the server's status follows, so the record is asked, never derived.
    (item({"call_attempted": False, "disposition": "DNC", "date": "2021-02-20T00:00:00.000"}, attempt()), None),
    (item(attempt(call_attempted=False, agent="bob", callDuration=35), attempt(), total=2), None),
    (item(total=0), RecordStatus(completed=False, total_attempts=0)),
    (item(attempt(), completed=True), None),  # completedTime is not in the item: ask (or getCompleted)
    (item(attempt(), attempt(agent="bob"), total=2), None),  # the agent of an older attempt only: ambiguous
    (item(attempt(callDuration=None)), None),  # no duration: lastCallDuration cannot be told
    (item(attempt(date="yesterday")), None),
    (item(total=3), None),  # attempts counted but none listed
    ({**item(attempt()), "totalAttempts": "1"}, None),
])
def test_a_status_is_derived_only_where_every_field_is_exact(changed: dict[str, Any],
                                                             expected: RecordStatus | None) -> None:
    assert derive_status(changed, changed["attempts"]) == expected


def test_a_changed_page_reads_the_newest_attempt_time_as_the_change_time() -> None:
    page = read_changed_page([item(attempt(), attempt(date="2021-02-18T10:00:00.000"), total=2)])
    assert isinstance(page, list) and page[0].changed_at == FEB_19 and page[0].entry == {"id": "2"}


def test_a_completed_page_carries_the_whole_status_and_its_time() -> None:
    page = read_completed_page([{"completedTime": "2021-02-19T19:12:21.000", "entry": {"id": "2"},
                                 "status": {"completed": True, "lastDisposition": "Sale", "totalAttempts": 3}}])
    # The time orders the change; the completedTime column stays what the status says (none here),
    # so that the incremental table equals a scan's.
    assert page == [ChangedRecord(entry={"id": "2"}, changed_at=FEB_19, record=RecordStatus(
        completed=True, last_disposition="Sale", total_attempts=3, completed_time=None))]


@pytest.mark.anyio
async def test_the_client_asks_from_a_time_in_the_api_format_and_stops_on_an_unreadable_page(
        mocked: aioresponses) -> None:
    url = str(endpoints_for(target()).changed)
    mocked.post(url, payload=[item(attempt())])
    mocked.post(url, body="<html>oops</html>", status=200)
    time = FakeTime()
    async with open_record_source(target(), Credentials(login="jane", secret="s3cret"),
                                  RequestPolicy(rate=math.inf, max_attempts=1), clock=time.clock,
                                  sleep=time.sleep) as client:
        page = await client.fetch_changes(SINCE, 1000)
        with pytest.raises(PageUnreadable, match=r"the getChanged page from time 2021-02-19T00:00:00\.456"):
            await client.fetch_changes(SINCE, 1000)
    assert len(page) == 1 and page[0].record is not None
    sent = next(iter(mocked.requests.values()))[0]
    assert sent.kwargs["json"] == {"fromTime": "2021-02-19T00:00:00.456", "maxSize": "1000"}
    assert url.endswith("/admin/ws/t/acme/callinglist/getChanged/List_1.txt/Camp%201")
