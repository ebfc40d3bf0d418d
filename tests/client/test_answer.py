from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import pytest

from reconciler.client.answer import (
    NOT_JSON,
    FoundRecord,
    Unusable,
    parse_document,
    parse_last_date,
    read_page,
    read_record,
    read_status,
)
from reconciler.errors import TargetNotFound
from reconciler.lookup import ListedRecord, RecordStatus

CAMPAIGN = "Camp 1"
FEB_19 = datetime(2021, 2, 19, 19, 12, 21, tzinfo=UTC)


@pytest.mark.parametrize(("body", "expected"), [
    (b'{"entry": {}}', {"entry": {}}),
    (b"[1, 2]", [1, 2]),
    (b"null", None),
    (b"", NOT_JSON),
    (b'{"entry": {"id": "2"', NOT_JSON),  # cut off
    (b"<html><body>502 Bad Gateway</body></html>", NOT_JSON),
    (b"\xff\xfe\x00garbage", NOT_JSON),
    (b"[" * 100_000, NOT_JSON),  # too deep to parse
])
def test_parse_document_tells_json_from_anything_else(body: bytes, expected: object) -> None:
    assert parse_document(body) == expected


@pytest.mark.parametrize(("value", "text"), [
    ("000123", "000123"),
    ("", ""),
    (None, None),
    (5, "5"),
    (1.5, "1.5"),
    (True, "true"),
    (False, "false"),
    ({"a": [1, "é"]}, '{"a":[1,"é"]}'),
])
def test_entry_values_are_kept_as_the_text_sent(value: object, text: str | None) -> None:
    found = read_record({"entry": {"Field": value}, "status": {"completed": False}}, CAMPAIGN)
    assert isinstance(found, FoundRecord)
    assert found.entry == {"Field": text}  # the name is kept as sent, too


def test_a_full_answer_reads_every_documented_status_field() -> None:
    document = json.loads("""
        {"entry": {"firstname": "Mike", "phone": "16505555555", "id": "2", "lastname": "Miller"},
         "status": {"completed": false, "lastDisposition": "Try again later",
                    "lastDate": "2021-02-19T19:12:21.000", "lastPhone": "16505555555", "lastCallDuration": 0,
                    "lastAgent": "elizabeth", "totalAttempts": 1,
                    "globalInteractionID": "3F4F2ACD-1233-42E3-8092-3A9F7D9D84BC"}}
    """)
    found = read_record(document, CAMPAIGN)
    assert found == FoundRecord(
        entry={"firstname": "Mike", "phone": "16505555555", "id": "2", "lastname": "Miller"},
        record=RecordStatus(completed=False, last_disposition="Try again later", last_date=FEB_19,
                            last_phone="16505555555", last_call_duration=0, last_agent="elizabeth",
                            total_attempts=1, global_interaction_id="3F4F2ACD-1233-42E3-8092-3A9F7D9D84BC"),
    )


def test_a_never_called_record_has_only_attempts_and_completed() -> None:
    found = read_record({"entry": {"id": "7"}, "status": {"totalAttempts": 0, "completed": False}}, CAMPAIGN)
    assert isinstance(found, FoundRecord)
    assert found.record == RecordStatus(completed=False, total_attempts=0)


@pytest.mark.parametrize(("status", "expected"), [
    ({"completed": True}, RecordStatus(completed=True)),
    ({"completed": "TRUE"}, RecordStatus(completed=True)),
    ({"completed": "false"}, RecordStatus(completed=False)),
    ({"completed": ""}, RecordStatus()),
    ({"completed": None}, RecordStatus()),
    ({"lastPhone": 16505555555}, RecordStatus(last_phone="16505555555")),
    ({"lastDisposition": ""}, RecordStatus()),
    ({"lastAgent": None}, RecordStatus()),
    ({"totalAttempts": 3}, RecordStatus(total_attempts=3)),
    ({"totalAttempts": 12.0}, RecordStatus(total_attempts=12)),
    # Up to 2**53 every whole number is exactly one double.
    ({"totalAttempts": 2.0**53}, RecordStatus(total_attempts=2**53)),
    ({"totalAttempts": "3"}, RecordStatus(total_attempts=3)),
    ({"lastCallDuration": "-1"}, RecordStatus(last_call_duration=-1)),
    ({"lastCallDuration": ""}, RecordStatus()),
    ({"totalattempts": 2, "LASTAGENT": "bob"}, RecordStatus(total_attempts=2, last_agent="bob")),
    ({"completedTime": "2021-02-19T19:12:21.000", "custom_score": 7, "custom_note": ""},
     RecordStatus(completed_time=FEB_19, extra={"custom_score": "7"})),
    ({"completedTime": "yesterday"},
     RecordStatus(warnings=('completedTime "yesterday" is not a date reconciler can read; left empty',))),
])
def test_status_values_are_read_or_left_absent(status: dict[str, object], expected: RecordStatus) -> None:
    assert read_status(status) == expected


@pytest.mark.parametrize(("status", "reason"), [
    ({"completed": "yes"}, 'status field completed is not a boolean: "yes"'),
    ({"completed": 1}, "status field completed is not a boolean: 1"),
    ({"totalAttempts": 12.5}, "status field totalAttempts is not a whole number: 12.5"),
    ({"totalAttempts": "abc"}, 'status field totalAttempts is not a whole number: "abc"'),
    ({"totalAttempts": True}, "status field totalAttempts is not a whole number: true"),
    ({"totalAttempts": 1e16}, "status field totalAttempts is not a whole number reconciler can read exactly: 1e+16"),
    ({"lastCallDuration": -(2.0**53 + 2)},
     "status field lastCallDuration is not a whole number reconciler can read exactly: -9007199254740994.0"),
    ({"lastCallDuration": "1.0"}, 'status field lastCallDuration is not a whole number: "1.0"'),
    ({"lastAgent": {"login": "bob"}}, 'status field lastAgent is not a text: {"login": "bob"}'),
    ({"lastDisposition": True}, "status field lastDisposition is not a text: true"),
])
def test_a_status_value_that_cannot_be_read_exactly_fails_the_row(status: dict[str, object], reason: str) -> None:
    assert read_status(status) == Unusable(reason)


@pytest.mark.parametrize(("text", "expected"), [
    ("2021-02-19T19:12:21.000", FEB_19),
    ("2021-02-19T19:12:21", FEB_19),
    ("2021-02-19T19:12:21Z", FEB_19),
    ("2021-02-19T19:12:21.000Z", FEB_19),
    ("2021-02-19T23:12:21.000+0400", FEB_19),
    ("2021-02-19T23:12:21+04:00", FEB_19),
    ("2021-02-19T14:12:21-05:00", FEB_19),
    ("2021-02-19 19:12:21.000", FEB_19),
    ("2021-02-19T19:12:21.250", FEB_19.replace(microsecond=250_000)),
    ("2021-02-19", None),
    ("19/02/2021 19:12", None),
    ("2021-13-19T19:12:21", None),
    ("2021-02-19T19:12:21+4", None),
])
def test_last_date_formats(text: str, expected: datetime | None) -> None:
    parsed = parse_last_date(text)
    assert parsed == expected
    if parsed is not None:
        assert parsed.utcoffset() is not None and parsed.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


@pytest.mark.parametrize("value", ["yesterday", "19/02/2021", 1613762541000])
def test_an_unreadable_last_date_is_left_empty_with_a_warning_not_an_error(value: object) -> None:
    record = read_status({"completed": True, "lastDate": value, "totalAttempts": 2})
    assert isinstance(record, RecordStatus)
    assert (record.completed, record.last_date, record.total_attempts) == (True, None, 2)
    assert len(record.warnings) == 1 and "lastDate" in record.warnings[0] and str(value) in record.warnings[0]


def test_an_answer_without_status_means_the_campaign_is_missing_and_stops_the_run() -> None:
    with pytest.raises(TargetNotFound) as raised:
        read_record({"entry": {"id": "2"}}, CAMPAIGN)
    assert raised.value.what == "campaign" and "'Camp 1'" in str(raised.value)


def test_a_null_status_means_the_same() -> None:
    with pytest.raises(TargetNotFound):
        read_record({"entry": {"id": "2"}, "status": None}, CAMPAIGN)


ENTRY = {"id": "2"}
BOUND = {"entry": ENTRY, "status": {"completed": True}}


@pytest.mark.parametrize(("document", "expected"), [
    ([{**BOUND, "campaign": "Other"}, {**BOUND, "campaign": CAMPAIGN, "status": {"completed": False}}],
     RecordStatus(completed=False)),
    ([{**BOUND, "campaignName": CAMPAIGN}, {**BOUND, "campaignName": "Other", "status": {"completed": False}}],
     RecordStatus(completed=True)),
    ([BOUND], RecordStatus(completed=True)),
])
def test_a_deprecated_array_answer_gives_the_requested_campaigns_element(document: object,
                                                                         expected: RecordStatus) -> None:
    found = read_record(document, CAMPAIGN)
    assert isinstance(found, FoundRecord) and found.record == expected


@pytest.mark.parametrize(("document", "reason"), [
    ([{**BOUND, "campaign": "A"}, {**BOUND, "campaign": "B"}], "ambiguous answer: 2 bindings"),
    ([BOUND, BOUND, BOUND], "ambiguous answer: 3 bindings"),
    ([], "HTTP 200 with an empty JSON array"),
    ("found", "HTTP 200 with a JSON string instead of an object"),
    (42, "HTTP 200 with a JSON number instead of an object"),
    (None, "HTTP 200 with a JSON null instead of an object"),
    ({"status": {"completed": True}}, "HTTP 200 with a JSON object without an entry"),
    ({"entry": ["id", "2"], "status": {}}, "entry is a JSON array, not an object"),
    ({"entry": ENTRY, "status": "done"}, "status is a JSON string, not an object"),
    ({"entry": ENTRY, "status": {"totalAttempts": 1.5}}, "status field totalAttempts is not a whole number: 1.5"),
])
def test_json_answers_that_give_no_record_are_described(document: object, reason: str) -> None:
    assert read_record(document, CAMPAIGN) == Unusable(reason)


def test_a_page_lists_records_in_order_with_or_without_status() -> None:
    document = [
        {"index": 0, "entry": {"id": "1", "n": 5}, "status": {"completed": True, "totalAttempts": "2"}},
        {"index": "1", "entry": {"id": "2"}},
    ]
    assert read_page(document) == [
        ListedRecord(index=0, entry={"id": "1", "n": "5"}, record=RecordStatus(completed=True, total_attempts=2)),
        ListedRecord(index=1, entry={"id": "2"}, record=None),
    ]


@pytest.mark.parametrize(("document", "reason"), [
    ({"records": []}, "HTTP 200 with a JSON object instead of an array"),
    ([{"entry": {}}], "item 0: index is not a whole number: null"),
    ([{"index": 0, "entry": {}}, "x"], "item 1: a JSON string instead of an object"),
    ([{"index": 0}], "item 0: HTTP 200 with a JSON object without an entry"),
    ([{"index": 0, "entry": {}, "status": {"completed": "maybe"}}],
     'item 0: status field completed is not a boolean: "maybe"'),
])
def test_a_page_that_cannot_be_read_says_why(document: object, reason: str) -> None:
    assert read_page(document) == Unusable(reason)


def test_a_page_with_a_lone_surrogate_escape_cannot_be_read() -> None:
    page = read_page(parse_document(b'[{"index": 0, "entry": {"name": "\\udfff"}}]'))
    assert isinstance(page, Unusable)
    assert "lone surrogate" in page.reason


def test_an_empty_page_is_past_the_end() -> None:
    assert read_page([]) == []


def test_an_answer_nested_almost_too_deeply_to_parse_is_an_error_row_not_a_crash() -> None:
    # json.loads accepts nesting up to about the recursion limit; copying such a value into the row
    # recurses again from deeper in the stack, and must not raise out of the reading.
    limit = sys.getrecursionlimit()
    outcomes = set()
    for depth in range(limit - 60, limit + 10):
        for inner in (b"", b'"\\u00e9"'):
            nested = b"[" * depth + inner + b"]" * depth
            document = parse_document(b'{"entry": {"x": ' + nested + b'}, "status": {"totalAttempts": 1}}')
            if document is NOT_JSON:
                continue
            record = read_record(document, CAMPAIGN)
            outcomes.add(record.reason if isinstance(record, Unusable) else "found")
            listed = parse_document(b'[{"index": 0, "entry": {"x": ' + nested + b"}}]")
            if listed is not NOT_JSON:
                page = read_page(listed)
                outcomes.add(page.reason if isinstance(page, Unusable) else "read")
    assert outcomes <= {"found", "read", "the answer is nested too deeply to read"}
    assert "the answer is nested too deeply to read" in outcomes  # the band was reached
