"""Fuzzing the answer parser: whatever bytes or JSON a server or proxy sends, no crash.

Every answer ends as a row's result (found, not found, error) or as one of the run's fatal errors;
never as another exception, and never as a value the answer did not say.
"""

from __future__ import annotations

import contextlib
import json

from hypothesis import given, settings
from hypothesis import strategies as st
from yarl import URL

from reconciler.client.answer import parse_document
from reconciler.client.classify import Asked, page_result, record_result
from reconciler.client.reply import Reply
from reconciler.client.retry import Tried
from reconciler.errors import RunAborted
from reconciler.lookup import LookupResult, LookupStatus

ASKED = Asked(login="user", dialect="classic", list_name="List_1.txt", campaign="Camp", max_bytes=1_000_000)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8),
                                                                                          inner, max_size=4),
                    max_leaves=20)
STATUS_FIELDS = ["completed", "lastDisposition", "lastDate", "lastPhone", "lastCallDuration", "lastAgent",
                 "totalAttempts", "globalInteractionID"]
RECORDS = st.fixed_dictionaries({"entry": st.dictionaries(st.text(max_size=8), SCALARS, max_size=4),
                                 "status": st.dictionaries(st.sampled_from(STATUS_FIELDS), JSON, max_size=8)})
STATUSES = st.sampled_from([200, 200, 200, 400, 404, 409, 418, 500])


def reply(status: int, body: bytes) -> Reply:
    return Reply(status=status, url=URL("http://127.0.0.1/x"), content_type="application/json", body=body,
                 size=len(body), document=parse_document(body) if status == 200 else parse_document(b""))


def outcome(status: int, body: bytes) -> LookupResult | RunAborted:
    try:
        return record_result(Tried(outcome=reply(status, body), attempts=1), ASKED)
    except RunAborted as fatal:
        return fatal


@settings(max_examples=150, deadline=None)
@given(STATUSES, st.binary(max_size=200))
def test_random_bytes_never_crash_the_parser(status: int, body: bytes) -> None:
    assert isinstance(outcome(status, body), LookupResult | RunAborted)


@settings(max_examples=150, deadline=None)
@given(STATUSES, JSON)
def test_random_json_never_crashes_the_parser(status: int, document: object) -> None:
    body = json.dumps(document).encode()
    assert isinstance(outcome(status, body), LookupResult | RunAborted)
    with contextlib.suppress(RunAborted):  # a page either reads or stops the run
        page_result(Tried(outcome=reply(status, body), attempts=1), ASKED, 0)


@settings(max_examples=150, deadline=None)
@given(RECORDS)
def test_a_record_is_found_only_with_values_the_answer_held(document: dict[str, object]) -> None:
    result = outcome(200, json.dumps(document).encode())
    assert isinstance(result, LookupResult)
    if result.status is LookupStatus.FOUND:
        assert result.record is not None
        status = document["status"]
        assert isinstance(status, dict)
        attempts = status.get("totalAttempts")
        if result.record.total_attempts is not None:
            assert str(result.record.total_attempts) == str(attempts).removesuffix(".0").strip()
        if result.record.completed is not None:
            assert str(result.record.completed).lower() == str(status.get("completed")).lower()
    else:
        assert result.status is LookupStatus.ERROR and result.error


ANY_CODE_POINTS = st.text(st.characters(codec=None, exclude_categories=()), max_size=6)  # lone surrogates too


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(ANY_CODE_POINTS, ANY_CODE_POINTS, max_size=3), ANY_CODE_POINTS)
def test_a_found_record_holds_only_text_a_table_can_store(entry: dict[str, str], agent: str) -> None:
    document = {"entry": entry, "status": {"lastAgent": agent, "totalAttempts": 1}}
    result = outcome(200, json.dumps(document).encode())  # ensure_ascii: a lone surrogate travels as "\udxxx"
    assert isinstance(result, LookupResult)
    if result.status is LookupStatus.FOUND:
        assert result.entry is not None and result.record is not None
        for text in [*result.entry, *result.entry.values(), result.record.last_agent]:
            (text or "").encode()  # raises UnicodeEncodeError for a lone surrogate
    else:
        assert result.error is not None and "lone surrogate" in result.error
