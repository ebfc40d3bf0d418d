"""A found row built by ``found_result`` (slots set directly) is the row the keyword constructor builds."""

from __future__ import annotations

import dataclasses
import json

import pytest
from yarl import URL

from reconciler.client.answer import FoundRecord, parse_document, read_record
from reconciler.client.classify import Asked, record_result
from reconciler.client.reply import Reply
from reconciler.client.retry import Tried
from reconciler.lookup import LookupResult, LookupStatus, RecordStatus, found_result

ASKED = Asked(login="u", dialect="classic", list_name="L", campaign="C", max_bytes=10_000)


@pytest.mark.parametrize("attempts", [1, 3])
@pytest.mark.parametrize("answer", [
    {"entry": {"id": "007", "n": 1.5, "x": None}, "status": {"completed": True, "totalAttempts": 2, "odd": [1]}},
    {"entry": {}, "status": {}},
    [{"campaignName": "other", "entry": {"id": "1"}, "status": {}},
     {"campaignName": "C", "entry": {"id": "2"}, "status": {"lastDate": "never"}}],
])
def test_a_found_answer_gives_the_row_the_keyword_constructor_gives(answer: object, attempts: int) -> None:
    body = json.dumps(answer).encode()
    tried = Tried(Reply(status=200, url=URL("http://h/q"), body=body, size=len(body), document=parse_document(body)),
                  attempts)
    found = read_record(parse_document(body), "C")
    assert isinstance(found, FoundRecord)
    expected = LookupResult(status=LookupStatus.FOUND, attempts=attempts, http_status=200, entry=found.entry,
                            record=found.record)
    got = record_result(tried, ASKED)
    assert got == expected and repr(got) == repr(expected)


def test_found_result_sets_every_field_and_stays_frozen() -> None:
    result = found_result(2, {"id": "1"}, RecordStatus(total_attempts=2))
    assert dataclasses.asdict(result) == dataclasses.asdict(LookupResult(
        status=LookupStatus.FOUND, attempts=2, http_status=200, error=None, entry={"id": "1"},
        record=RecordStatus(total_attempts=2)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.attempts = 3  # type: ignore[misc]
