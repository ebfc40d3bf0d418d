"""What a live Bright Pattern server was seen to answer (see the API notes, "What a live server was seen to
answer"), and the simulator answers alike: blank keys, page parameters, parser messages, doubled slashes,
key order, campaigns without lists or not running, getChanged's fields, v3's blanks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from reconciler.client.client import api_time
from reconciler.errors import InvalidOption
from reconciler.simulator import RunningSimulator, run_simulator
from reconciler.simulator.v3 import campaign_id, instance_id

from .conftest import Ask
from .support import CAMPAIGN, LIST, TENANT, FakeClock, bearer, config_for, digest_session, post, write_csv

pytestmark = pytest.mark.anyio

# The key field has capitals, as the recorded list's `Phone1` had; one record never called.
HEADER = ["Phone1", "First name", "status.completed", "status.totalAttempts", "status.lastDisposition",
          "status.lastDate", "status.custom_score"]
ROWS = [["+1001", "Ann", "", "", "", "", ""],
        ["1002", "Bob", "false", "2", "Busy", "2021-03-01T10:00:00.000", "7"],
        *[[str(1003 + n), f"Name{n}", "false", "1", "No answer", "2021-03-01T10:00:00.000", ""] for n in range(10)]]
SINCE = "2000-01-01T00:00:00.000"
ATTEMPT_ORDER = ["call_attempted", "disposition", "dispositionCode", "date", "phone", "callDuration", "dialingDuration",
                 "callNotes", "agent", "globalInteractionID", "CPADuration"]  # Bright Pattern's getChanged example
EMPTY, STOPPED = "Campaign_Empty", "STOPPED"


@pytest.fixture
def records(tmp_path: Path) -> Path:  # overrides the conftest's: this module's list
    return write_csv(tmp_path / "phones.csv", HEADER, ROWS)


@pytest.fixture
async def sim(records: Path, clock: FakeClock) -> AsyncIterator[RunningSimulator]:
    config = config_for(records, empty_campaigns=(EMPTY,), campaign_states={EMPTY: STOPPED})
    async with run_simulator(config, clock=clock) as running:
        yield running


def ordered(text: str) -> Any:
    """The JSON answer with each object as a list of its (name, value) pairs, in the order sent."""
    return json.loads(text, object_pairs_hook=list)


# -- 1. blank keys -------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [{"Phone1": ""}, {"Phone1": " "}, {"Phone1": "\t "}, {"First name": "Ann"}])
async def test_a_blank_or_absent_key_is_a_missing_key_named_lower_cased(ask: Ask, body: dict[str, str]) -> None:
    assert await ask(body) == (400, "missing key: phone1")


@pytest.mark.parametrize("value", ["", " "])
async def test_v3_query_record_with_a_blank_key_is_a_missing_key(sim: RunningSimulator,
                                                                 session: aiohttp.ClientSession, value: str) -> None:
    headers = await bearer(session, sim.base_url)
    body = {"instanceId": instance_id(CAMPAIGN, LIST), "extractAttempts": False, "fields": {"Phone1": value}}
    status, text = await post(session, f"{sim.base_url}/configapi/v3/campaign/queryRecord/{campaign_id(CAMPAIGN)}",
                              body, headers=headers)
    assert (status, json.loads(text)) == (400, {"error": "bad_request", "error_description": "missing key: phone1"})


# -- 2. page parameters --------------------------------------------------------------------------

@pytest.mark.parametrize(("body", "expected"), [
    ({"maxSize": 10}, (400, "invalid parameters")),
    ({"fromIndex": 0}, (400, "invalid parameters")),
    ({"fromIndex": None, "maxSize": 10}, (400, "invalid parameters")),
    ({"fromIndex": 0, "maxSize": 10, "campaign": CAMPAIGN}, (400, "invalid parameters")),
    ({}, (400, "invalid parameters")),
    ({"fromIndex": 0, "maxSize": "1001"}, (400, "maxSize is too large (no more than 1000)")),
])
async def test_get_all_wants_exactly_from_index_and_max_size(ask: Ask, body: object,
                                                             expected: tuple[int, str]) -> None:
    assert await ask(body, "getAll") == expected


@pytest.mark.parametrize("operation", ["getChanged", "getCompleted"])
@pytest.mark.parametrize(("body", "expected"), [
    ({"maxSize": 10}, (400, "invalid parameters")),
    ({"fromTime": SINCE}, (400, "invalid parameters")),
    ({"fromTime": SINCE, "maxSize": 10, "fromIndex": 0}, (400, "invalid parameters")),
    ({"fromTime": "ab", "maxSize": 10}, (400, 'Unparseable date: "ab"')),
    ({"fromTime": "2003-03-03:15:06.456", "maxSize": 10}, (400, 'Unparseable date: "2003-03-03:15:06.456"')),
    ({"fromTime": "2013-03-01T13:15:06", "maxSize": 10}, (400, 'Unparseable date: "2013-03-01T13:15:06"')),
    ({"fromTime": "2013-03-01 13:15:06.456", "maxSize": 10}, (400, 'Unparseable date: "2013-03-01 13:15:06.456"')),
    ({"fromTime": "2013-13-01T13:15:06.456", "maxSize": 10}, (400, 'Unparseable date: "2013-13-01T13:15:06.456"')),
    ({"fromTime": SINCE, "maxSize": 1001}, (400, "maxSize is too large (no more than 1000)")),
    ({"fromTime": SINCE, "maxSize": "1001"}, (400, "maxSize is too large (no more than 1000)")),
    ({"fromTime": "2013-03-01T13:15:06.456", "maxSize": "100"}, (200, "[]")),  # the documentation's own body
    ({"fromTime": "2013-03-01T13:15:06.456", "maxSize": 1000}, (200, "[]")),
])
async def test_changes_want_exactly_from_time_in_the_documented_form_and_max_size(
        ask: Ask, operation: str, body: object, expected: tuple[int, str]) -> None:
    assert await ask(body, operation) == expected


@pytest.mark.parametrize("operation", ["getChanged", "getCompleted"])
async def test_the_client_writes_from_time_in_the_one_form_the_server_reads(sim: RunningSimulator, ask: Ask,
                                                                            operation: str) -> None:
    sim.move_on(attempts=3, complete=1, seed=2)
    since = api_time(datetime(2021, 3, 1, 10, 0, 0, 7000, tzinfo=UTC))  # as reconciler's client sends it
    assert since == "2021-03-01T10:00:00.007"
    status, text = await ask({"fromTime": since, "maxSize": "1000"}, operation)
    assert status == 200 and len(json.loads(text)) == (3 if operation == "getChanged" else 1)


# -- 3. bodies that are not a JSON object --------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    (b'"abc"', "Expected BEGIN_OBJECT but was STRING at line 1 column 2 path $"),
    (b"ab", "Expected BEGIN_OBJECT but was STRING at line 1 column 1 path $"),  # as recorded
    (b"<html>", "Expected BEGIN_OBJECT but was STRING at line 1 column 1 path $"),
    (b"[]", "Expected BEGIN_OBJECT but was BEGIN_ARRAY at line 1 column 2 path $"),
    (b"42", "Expected BEGIN_OBJECT but was NUMBER at line 1 column 3 path $"),
    (b"true", "Expected BEGIN_OBJECT but was BOOLEAN at line 1 column 5 path $"),
    (b"null", "Expected BEGIN_OBJECT but was NULL at line 1 column 5 path $"),
    (b'\n  "x"', "Expected BEGIN_OBJECT but was STRING at line 2 column 4 path $"),
    (b'{"Phone1": "1002",}', "Expected name at line 1 column 20 path $"),
    (b'{"Phone1": ', "End of input at line 1 column 12 path $"),
    (b'{"Phone1" "1002"}', "Expected ':' at line 1 column 12 path $"),
    (b"", "End of input at line 1 column 1 path $"),
])
@pytest.mark.parametrize("operation", ["get", "getAll", "getChanged"])
async def test_a_body_that_is_not_a_json_object_gets_the_parser_message(ask: Ask, operation: str, raw: bytes,
                                                                        expected: str) -> None:
    assert await ask(None, operation, raw=raw) == (400, expected)


async def test_v3_gets_the_parser_message_in_its_error_body(sim: RunningSimulator,
                                                             session: aiohttp.ClientSession) -> None:
    headers = {**await bearer(session, sim.base_url), "Content-Type": "application/json"}
    url = f"{sim.base_url}/configapi/v3/campaign/getAllRecords/{campaign_id(CAMPAIGN)}"
    status, text = await post(session, url, data=b'"getAllRecords"', headers=headers)
    assert (status, json.loads(text)["error_description"]) == (
        400, "Expected BEGIN_OBJECT but was STRING at line 1 column 2 path $")


# -- 4. doubled slashes --------------------------------------------------------------------------

async def test_doubled_slashes_answer_as_the_single_slash_path_without_a_redirect(
        sim: RunningSimulator, session: aiohttp.ClientSession) -> None:
    headers = await bearer(session, sim.base_url)
    for path in (f"/configapi/v2/callinglist/get/List%201.csv/{CAMPAIGN}",
                 f"//configapi//v2//callinglist//get//List%201.csv//{CAMPAIGN}"):
        async with session.post(sim.base_url + path, json={"Phone1": "1002"}, headers=headers,
                                allow_redirects=False) as response:
            assert (response.status, response.history) == (200, ())
            assert json.loads(await response.text())["entry"]["first name"] == "Bob"
    by_endpoint = sim.stats()["by_endpoint"]
    assert isinstance(by_endpoint, dict) and by_endpoint["query"] == 2  # both counted as the route they are


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("POST", "//configapi//v2//callinglist//getAll//List%201.csv//Campaign_1", 200),
    ("POST", "/configapi/v2/callinglist//getChanged/List%201.csv///Campaign_1", 200),
    ("GET", "//configapi//v2//campaign//getAll//", 200),
    ("GET", "//configapi//v3//campaign//getAll", 200),
    ("POST", "//configapi//v2//oauth//token", 400),  # reached: the token route refuses an empty form
    ("GET", "//configapi//v2//callinglist//get//List%201.csv//Campaign_1", 405),
    ("POST", "//configapi//v2//callinglist//erase//List%201.csv//Campaign_1", 404),
])
async def test_every_route_takes_doubled_slashes(sim: RunningSimulator, session: aiohttp.ClientSession, method: str,
                                                 path: str, expected: int) -> None:
    headers = await bearer(session, sim.base_url)
    body = {"fromIndex": 0, "maxSize": 5} if "getAll" in path else {"fromTime": SINCE, "maxSize": 5}
    async with session.request(method, sim.base_url + path, headers=None if "oauth" in path else headers,
                               json=body if method == "POST" and "oauth" not in path else None,
                               allow_redirects=False) as response:
        assert response.status == expected, await response.text()


async def test_classic_digest_works_over_a_doubled_slash_path(sim: RunningSimulator) -> None:
    url = f"{sim.base_url}//admin//ws//t//{TENANT}//callinglist//get//List%201.csv//{CAMPAIGN}"
    async with digest_session() as session, session.post(url, json={"Phone1": "1002"}) as response:
        assert response.status == 200 and (await response.json())["entry"]["First name"] == "Bob"


# -- 5. key order --------------------------------------------------------------------------------

async def test_answers_keep_the_recorded_key_order(ask: Ask) -> None:
    status, text = await ask({"Phone1": "+1001"})
    assert status == 200 and '"status":{"totalAttempts":0,"completed":false}' in text
    status, text = await ask({"fromIndex": 0, "maxSize": 3}, "getAll")
    items = ordered(text)
    assert status == 200 and [[name for name, _ in item] for item in items] == [["entry", "index", "status"]] * 3
    assert dict(items[0])["status"] == [("totalAttempts", 0), ("completed", False)]


# -- 6. campaigns without lists, states other than RUNNING --------------------------------------

async def test_campaigns_may_have_no_lists_and_other_states(sim: RunningSimulator, ask: Ask, dialect: str) -> None:
    expected = [{"name": CAMPAIGN, "state": "RUNNING", "lists": [LIST]}, {"name": EMPTY, "state": STOPPED, "lists": []}]
    async with digest_session() if dialect == "classic" else aiohttp.ClientSession() as session:
        headers = await bearer(session, sim.base_url) if dialect == "v2" else {}
        prefix = f"/admin/ws/t/{TENANT}" if dialect == "classic" else "/configapi/v2"
        async with session.get(f"{sim.base_url}{prefix}/campaign/getAll/", headers=headers) as response:
            assert (response.status, await response.json()) == (200, expected)
    assert await ask({"fromIndex": 0, "maxSize": 5}, "getAll", campaign=EMPTY) == (404, "campaign is not found")
    status, text = await ask({"Phone1": "1002"}, campaign=EMPTY)
    assert status == 200 and set(json.loads(text)) == {"entry"}  # the list is not bound to it


async def test_v3_campaigns_may_have_no_lists_and_other_states(sim: RunningSimulator,
                                                               session: aiohttp.ClientSession) -> None:
    headers = await bearer(session, sim.base_url)
    async with session.get(f"{sim.base_url}/configapi/v3/campaign/getAll", headers=headers) as response:
        assert await response.json() == [{"id": campaign_id(CAMPAIGN), "name": CAMPAIGN, "state": "RUNNING"},
                                         {"id": campaign_id(EMPTY), "name": EMPTY, "state": STOPPED}]
    async with session.get(f"{sim.base_url}/configapi/v3/campaign/getCampaign/{campaign_id(EMPTY)}",
                           headers=headers) as response:
        answer = await response.json()
        assert (answer["name"], answer["state"], answer["lists"]) == (EMPTY, STOPPED, [])


@pytest.mark.parametrize(("options", "option"), [
    ({"campaign_states": {"Nowhere": "STOPPED"}}, "--campaign-state"),
    ({"empty_campaigns": (CAMPAIGN,)}, "--empty-campaign"),  # a list is bound to it
])
async def test_campaign_declarations_must_name_campaigns_that_fit(records: Path, options: dict[str, object],
                                                                  option: str) -> None:
    with pytest.raises(InvalidOption, match=option):
        async with run_simulator(config_for(records, **options)):
            pass


# -- 7. getChanged's fields ----------------------------------------------------------------------

async def test_changed_items_carry_the_recorded_fields_in_order(sim: RunningSimulator, ask: Ask) -> None:
    sim.move_on(attempts=8, complete=3, seed=4)
    status, text = await ask({"fromTime": SINCE, "maxSize": 100}, "getChanged")
    assert status == 200
    for item in ordered(text):
        assert [name for name, _ in item] == ["entry", "completed", "recordDisposition", "recordDispositionCode",
                                              "totalAttempts", "attempts"]
        newest, *older = dict(item)["attempts"]
        assert [name for name, _ in newest] == [name for name in ATTEMPT_ORDER if name != "agent" or
                                                ("agent", dict(newest).get("agent")) in newest]
        for attempt in older:  # what a loaded status told of an earlier attempt: the fields it has, in order
            names = [name for name, _ in attempt]
            assert names == [name for name in ATTEMPT_ORDER if name in names]
            assert {"call_attempted", "dialingDuration", "callNotes", "CPADuration"} <= set(names)


# -- 9. v3's unset custom fields -----------------------------------------------------------------

async def test_v3_sends_unset_custom_status_fields_as_empty_strings(sim: RunningSimulator,
                                                                    session: aiohttp.ClientSession, ask: Ask) -> None:
    headers = await bearer(session, sim.base_url)
    url = f"{sim.base_url}/configapi/v3/campaign/getAllRecords/{campaign_id(CAMPAIGN)}"
    body = {"instanceId": instance_id(CAMPAIGN, LIST), "limit": 2, "cursor": None, "extractAttempts": False}
    status, text = await post(session, url, body, headers=headers)
    statuses = [record["status"] for record in json.loads(text)["records"]]
    assert status == 200 and [s["custom_score"] for s in statuses] == ["", "7"]
    _, text = await ask({"Phone1": "+1001"})
    assert "custom_score" not in json.loads(text)["status"]  # classic and v2 leave an unset field out
