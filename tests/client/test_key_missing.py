"""``400 missing key: <field>`` to a query stops the run after that one request, in every dialect (aioresponses).

The body lacked a key field of the list: every row sent with the same columns would get the same
answer, so asking them all and writing an error row each is what must not happen.
"""

from __future__ import annotations

import json
import math

import pytest
from aioresponses import aioresponses
from yarl import URL

from reconciler.client import open_record_source
from reconciler.config import Credentials, Dialect, RequestPolicy
from reconciler.errors import KeyFieldMissing

from .scripted import FakeTime
from .test_mocked_answers import FOUND, TOKEN_URL, mocked, query_url, target  # noqa: F401 - mocked: the fixture
from .test_v3 import QUERY_URL as V3_QUERY_URL
from .test_v3 import open_v3, serve_lookup

KEY = {"region": "EU", "account_id": "000123"}  # a composite --key: the message names both columns
TOKEN = {"access_token": "t" * 64, "token_type": "Bearer", "expires_in": "3600"}


def expected_message(url: str) -> str:
    return ("the calling list 'List_1.txt' has a key field 'phone1' that the request lacks "
            f"(--key sent: region, account_id); name the list's key fields with --key; asked {url}")


def requests_to(mock: aioresponses, url: str) -> int:
    return len(mock.requests.get(("POST", URL(url)), []))


@pytest.mark.anyio
@pytest.mark.parametrize("dialect", ["classic", "v2"])
async def test_a_missing_key_answer_stops_the_run_after_one_request(
        mocked: aioresponses, dialect: Dialect) -> None:  # noqa: F811
    mocked.post(TOKEN_URL, payload=TOKEN, repeat=True)
    mocked.post(query_url(dialect), status=400, body="missing key: phone1", content_type="text/plain")
    mocked.post(query_url(dialect), status=200, payload=FOUND, repeat=True)  # what a next request would get
    time = FakeTime()
    policy = RequestPolicy(rate=math.inf, max_attempts=3, max_backoff=0.0)
    with pytest.raises(KeyFieldMissing) as raised:
        async with open_record_source(target(dialect), Credentials(login="jane", secret="s3cret"), policy,
                                      clock=time.clock, sleep=time.sleep) as client:
            await client.query(KEY)
            await client.query(KEY)
    error = raised.value
    assert (error.field, error.key_columns, error.exit_code) == ("phone1", ("region", "account_id"), 3)
    assert str(error) == expected_message(query_url(dialect))
    assert requests_to(mocked, query_url(dialect)) == 1  # not retried, and nothing asked after it


@pytest.mark.anyio
@pytest.mark.parametrize(("body", "content_type"), [
    (json.dumps({"error": "bad_request", "error_description": "missing key: phone1"}), "application/json"),
    ("missing key: phone1", "text/plain"),
], ids=["error body", "plain text"])
async def test_v3_missing_key_stops_the_run_whether_in_its_error_body_or_plain(
        mocked: aioresponses, body: str, content_type: str) -> None:  # noqa: F811
    serve_lookup(mocked)
    mocked.post(V3_QUERY_URL, status=400, body=body, content_type=content_type)
    with pytest.raises(KeyFieldMissing) as raised:
        await open_v3(lambda client: client.query(KEY))
    assert (raised.value.field, raised.value.key_columns) == ("phone1", ("region", "account_id"))
    assert str(raised.value) == expected_message(V3_QUERY_URL)
    assert requests_to(mocked, V3_QUERY_URL) == 1
