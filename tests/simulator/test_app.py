from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from reconciler.simulator import RunningSimulator

from .conftest import Ask
from .support import CAMPAIGN, LIST, ROWS, TENANT, bearer, classic_url, digest_session

pytestmark = pytest.mark.anyio



async def test_query_a_record(ask: Ask, dialect: str) -> None:
    status, text = await ask({"account_id": "000123", "phone": "ignored: not a key field"})
    assert status == 200
    answer = json.loads(text)
    assert answer["status"]["totalAttempts"] == 1 and answer["status"]["completed"] is False
    first_name = "firstname" if dialect == "v2" else "firstName"  # v2 lower-cases entry field names
    assert answer["entry"][first_name] == "Mike"


async def test_v2_matches_key_field_names_in_any_case(ask: Ask, dialect: str) -> None:
    status, _ = await ask({"ACCOUNT_ID": "000123"})
    assert status == (200 if dialect == "v2" else 400)


@pytest.mark.parametrize(("body", "options", "expected"), [
    ({"account_id": "000999"}, {}, (404, "record is not found")),
    ({"account_id": "123"}, {}, (404, "record is not found")),
    ({"account_id": "000123"}, {"list_name": "Nope.txt"}, (404, "calling list not found")),
    ({"id": "000123"}, {}, (400, "missing key: account_id")),
    ({"account_id": None}, {}, (400, "missing key: account_id")),
    (["000123"], {}, (400, "Expected BEGIN_OBJECT but was BEGIN_ARRAY at line 1 column 2 path $")),
    ({"account_id": ["000123"]}, {}, (400, "bad value for key account_id: expected a string")),
])
async def test_query_errors_are_plain_texts(ask: Ask, body: object, options: dict[str, str],
                                            expected: tuple[int, str]) -> None:
    assert await ask(body, **options) == expected


async def test_invalid_json_is_a_400_with_the_parser_message(ask: Ask) -> None:
    status, text = await ask(None, raw=b'{"account_id": ')
    assert (status, text) == (400, "End of input at line 1 column 16 path $")  # Gson's words, as a live server's


async def test_an_integer_key_value_is_read_as_its_text(ask: Ask) -> None:
    assert (await ask({"account_id": 125}))[0] == 200


@pytest.mark.parametrize("campaign", ["Unbound_Campaign", "campaign_1"])
async def test_a_campaign_the_list_is_not_bound_to_answers_the_entry_without_status(ask: Ask, campaign: str) -> None:
    status, text = await ask({"account_id": "000123"}, campaign=campaign)
    assert status == 200 and set(json.loads(text)) == {"entry"}


async def test_get_all_pages_through_the_list_in_order(ask: Ask) -> None:
    indexes: list[int] = []
    while True:
        status, text = await ask({"fromIndex": len(indexes), "maxSize": 7}, "getAll")
        assert status == 200
        page: list[dict[str, Any]] = json.loads(text)
        indexes += [item["index"] for item in page]
        assert all(set(item) == {"index", "entry", "status"} for item in page)
        if len(page) < 7:
            break
    assert indexes == list(range(len(ROWS)))
    assert await ask({"fromIndex": len(ROWS) + 10, "maxSize": 7}, "getAll") == (200, "[]")


@pytest.mark.parametrize(("body", "options", "expected"), [
    ({"fromIndex": 0, "maxSize": 1001}, {}, (400, "maxSize is too large (no more than 1000)")),
    ({"fromIndex": -1, "maxSize": 10}, {}, (400, "fromIndex must be a whole number from 0 up")),
    ({"fromIndex": 0, "maxSize": 0}, {}, (400, "maxSize must be a whole number from 1 up")),
    ({"fromIndex": 0, "maxSize": 10}, {"campaign": "Other"}, (404, "campaign is not found")),
    ({"fromIndex": 0, "maxSize": 10}, {"list_name": "Nope.txt"}, (404, "calling list not found")),
])
async def test_get_all_errors(ask: Ask, body: object, options: dict[str, str], expected: tuple[int, str]) -> None:
    assert await ask(body, "getAll", **options) == expected


async def test_get_all_takes_numbers_as_strings(ask: Ask) -> None:
    status, text = await ask({"fromIndex": "1", "maxSize": "1000"}, "getAll")
    assert status == 200 and [item["index"] for item in json.loads(text)][:2] == [1, 2]


async def test_get_campaigns(sim: RunningSimulator) -> None:
    expected = [{"name": CAMPAIGN, "state": "RUNNING", "lists": [LIST]}]
    async with digest_session() as session:
        for path in (f"/admin/ws/t/{TENANT}/campaign/getAll/", f"/admin/ws/t/{TENANT}/campaign/getAll"):
            async with session.get(sim.base_url + path) as response:
                assert (response.status, await response.json()) == (200, expected)
    async with aiohttp.ClientSession() as session:  # the digest middleware would replace the bearer token
        headers = await bearer(session, sim.base_url)
        async with session.get(sim.base_url + "/configapi/v2/campaign/getAll/", headers=headers) as response:
            assert await response.json() == expected


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("POST", "/admin/ws/t/demo.brightpattern.com/callinglist/get/List%201.csv", (404, "HTTP 404 Not Found")),
    ("POST", "/configapi/v3/campaign/eraseRecord/1", (404, "HTTP 404 Not Found")),  # v3 serves reads only
    ("GET", "/", (404, "HTTP 404 Not Found")),
    ("GET", "/configapi/v2/callinglist/get/List%201.csv/Campaign_1", (405, "HTTP 405 Method Not Allowed")),
    ("PUT", "/admin/ws/t/demo.brightpattern.com/campaign/getAll/", (405, "HTTP 405 Method Not Allowed")),
])
async def test_wrong_paths_and_methods(sim: RunningSimulator, session: aiohttp.ClientSession, method: str,
                                       path: str, expected: tuple[int, str]) -> None:
    async with session.request(method, sim.base_url + path) as response:
        assert (response.status, await response.text()) == expected
        assert response.content_type == "text/plain"


async def test_json_answers_are_utf8_json(sim: RunningSimulator) -> None:
    async with digest_session() as session, \
            session.post(classic_url(sim.base_url), json={"account_id": "000124"}) as response:
        assert response.content_type == "application/json" and response.charset == "utf-8"
        assert "Müller" in await response.text()  # not \\u-escaped
