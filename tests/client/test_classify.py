from __future__ import annotations

import json

import pytest
from yarl import URL

from reconciler.client.answer import parse_document
from reconciler.client.classify import Asked, followable_redirect, page_result, record_result
from reconciler.client.reply import AttemptFailed, Reply
from reconciler.client.retry import Tried
from reconciler.errors import (
    AuthenticationFailed,
    KeyFieldMissing,
    PageUnreadable,
    PermissionDenied,
    ProxyRefused,
    RunAborted,
    TargetNotFound,
)
from reconciler.lookup import ListedRecord, LookupResult, LookupStatus, RecordStatus

QUERY_URL = URL("https://bp.example.com/configapi/v2/callinglist/get/List_1.txt/Camp%201", encoded=True)
ASKED = Asked(login="jane", dialect="v2", list_name="List_1.txt", campaign="Camp 1", max_bytes=1_000_000)


def answer(status: int, body: bytes | str | object = b"", *, content_type: str = "text/plain",
           location: str | None = None, url: URL = QUERY_URL) -> Reply:
    if not isinstance(body, bytes | str):
        body, content_type = json.dumps(body), "application/json"
    data = body.encode() if isinstance(body, str) else body
    return Reply(status=status, url=url, body=data, size=len(data), content_type=content_type, location=location,
                 document=parse_document(data) if status == 200 else parse_document(b""))


def error(http_status: int | None, text: str, attempts: int = 1) -> LookupResult:
    return LookupResult(status=LookupStatus.ERROR, attempts=attempts, http_status=http_status, error=text)


FOUND_DOC = {"entry": {"id": "2"}, "status": {"completed": True, "totalAttempts": 3}}


@pytest.mark.parametrize(("reply", "expected"), [
    (answer(200, FOUND_DOC), LookupResult(status=LookupStatus.FOUND, attempts=1, http_status=200, entry={"id": "2"},
                                          record=RecordStatus(completed=True, total_attempts=3))),
    (answer(404, "record is not found"),
     LookupResult(status=LookupStatus.NOT_FOUND, attempts=1, http_status=404, error="record is not found")),
    (answer(404, "Record is NOT found"),
     LookupResult(status=LookupStatus.NOT_FOUND, attempts=1, http_status=404, error="record is not found")),
    (answer(400, "invalid parameters"), error(400, "HTTP 400: invalid parameters")),
    (answer(400, "x" * 500), error(400, "HTTP 400: " + "x" * 200 + "…")),
    (answer(400, "<html><body>Bad Request</body></html>", content_type="text/html"),
     error(400, "HTTP 400: an HTML page")),
    (answer(409, '{"error": "conflict"}'), error(409, 'HTTP 409: {"error": "conflict"}')),
    (answer(415), error(415, "HTTP 415")),
    (answer(501, "Not Implemented"), error(501, "HTTP 501: Not Implemented")),
    (answer(200, {"status": {}}), error(200, "HTTP 200 with a JSON object without an entry")),
    (answer(200, [FOUND_DOC, FOUND_DOC]), error(200, "ambiguous answer: 2 bindings")),
    (Reply(status=200, url=QUERY_URL, body=None, size=5_000_000), error(200, "answer larger than 1000000 bytes")),
    (answer(302, location="https://login.example.net/sso?next=/x"),
     error(302, "redirected to another host login.example.net; set --base-url to the final address")),
    (answer(308, location="http://bp.example.com/configapi/v2/x"),
     error(308, "redirected to http://bp.example.com:80; set --base-url to the final address")),
    (answer(307, location="https://bp.example.com:8443/configapi/v2/x"),
     error(307, "redirected to https://bp.example.com:8443; set --base-url to the final address")),
    (answer(301, location="/bp/configapi/v2/callinglist/get/List_1.txt/Camp%201"),
     error(301, "HTTP 301 redirect to /bp/configapi/v2/callinglist/get/List_1.txt/Camp%201; "
                "set --base-url to the final address")),
    (answer(307, location="/again"), error(307, "HTTP 307: too many redirects")),
    (answer(302), error(302, "HTTP 302 redirect without a usable Location")),
    (answer(307, location="http://[::1"), error(307, "HTTP 307 redirect without a usable Location")),
])
def test_a_final_answer_becomes_the_rows_result(reply: Reply, expected: LookupResult) -> None:
    assert record_result(Tried(reply, 1), ASKED) == expected


@pytest.mark.parametrize(("outcome", "expected"), [
    (answer(503, "<html>busy</html>", content_type="text/html"), error(503, "HTTP 503 after 8 attempts", 8)),
    (answer(429), error(429, "HTTP 429 after 8 attempts", 8)),
    (AttemptFailed("timeout"), error(None, "timeout after 8 attempts", 8)),
    (AttemptFailed("connection closed by the server"),
     error(None, "connection closed by the server after 8 attempts", 8)),
    (answer(200, "<html>" + "x" * 1526, content_type="text/html"),
     error(200, "HTTP 200 with a non-JSON body (text/html, 1532 bytes) after 8 attempts", 8)),
    (answer(200, '{"entry": {"id"'),
     error(200, "HTTP 200 with a non-JSON body (text/plain, 15 bytes) after 8 attempts", 8)),
])
def test_a_request_still_failing_at_its_last_attempt_is_an_error_row(outcome: Reply | AttemptFailed,
                                                                    expected: LookupResult) -> None:
    assert record_result(Tried(outcome, 8), ASKED) == expected


@pytest.mark.parametrize(("reply", "error_type", "words"), [
    (answer(401, "Session is not authenticated"), AuthenticationFailed,
     ["'jane'", "v2 dialect", "HTTP 401: Session is not authenticated"]),
    (answer(401), AuthenticationFailed, ["HTTP 401: no detail given"]),
    (answer(403, "User authenticated but does not have sufficient privileges"), PermissionDenied,
     ["'jane'", "Manage lists", "does not have sufficient privileges"]),
    (answer(404, "calling list not found"), TargetNotFound, ["calling list not found", "'List_1.txt'"]),
    (answer(404, "campaign is not found"), TargetNotFound, ["campaign not found", "'Camp 1'"]),
    (answer(404, "HTTP 404 Not Found"), TargetNotFound,
     ["endpoint not found", "/configapi/v2/callinglist/get/List_1.txt/Camp%201", "--base-url"]),
    (answer(404), TargetNotFound, ["endpoint not found", "no detail given"]),
    (answer(404, "<html>Not Found</html>", content_type="text/html"), TargetNotFound, ["endpoint not found"]),
    (answer(405, "Method Not Allowed"), TargetNotFound, ["endpoint not found", "HTTP 405", f"POST {QUERY_URL}"]),
    (answer(200, {"entry": {"id": "2"}}), TargetNotFound, ["campaign not found", "'Camp 1'", "not bound"]),
    # an http:// server behind a proxy that wants credentials: no server answers 407, so it is the proxy's
    (answer(407, "Proxy Authentication Required"), ProxyRefused,
     ["the proxy on the way refused to reach bp.example.com:443 (HTTP 407", "HTTPS_PROXY or HTTP_PROXY"]),
])
def test_answers_no_other_row_could_survive_stop_the_run(reply: Reply, error_type: type[RunAborted],
                                                        words: list[str]) -> None:
    with pytest.raises(error_type) as raised:
        record_result(Tried(reply, 1), ASKED)
    for word in words:
        assert word in str(raised.value)
    # The whole URL asked, once: with several tenants, the user sees which server answered.
    assert str(raised.value).count(str(QUERY_URL)) == 1 and raised.value.url == str(QUERY_URL)


def test_a_fatal_message_names_scheme_host_port_and_path_but_never_a_password_or_query() -> None:
    asked_at = URL("https://jane:s3cret@bp.example.com:8443/configapi/v2/callinglist/get/L/C?token=abc",
                   encoded=True)
    with pytest.raises(AuthenticationFailed) as raised:
        record_result(Tried(answer(401, url=asked_at), 1), ASKED)
    message = str(raised.value)
    assert message.endswith("; asked https://bp.example.com:8443/configapi/v2/callinglist/get/L/C")
    assert "s3cret" not in message and "token=" not in message and "jane@" not in message


def test_which_404_is_which_is_exposed_for_the_cli() -> None:
    kinds = {}
    for text in ("calling list not found", "campaign is not found", "HTTP 404 Not Found"):
        with pytest.raises(TargetNotFound) as raised:
            record_result(Tried(answer(404, text), 1), ASKED)
        kinds[text] = raised.value.what
    assert kinds == {"calling list not found": "calling list", "campaign is not found": "campaign",
                     "HTTP 404 Not Found": "endpoint"}


V3_MISSING = {"error": "bad_request", "error_description": "missing key: phone1"}


@pytest.mark.parametrize(("reply", "field"), [
    (answer(400, "missing key: phone1"), "phone1"),
    (answer(400, "Missing key: first name\n"), "first name"),  # a field name may hold a space
    (answer(400, json.dumps(V3_MISSING), content_type="application/json"), "phone1"),  # v3's error body
    (answer(400, json.dumps({"error_description": "missing key: phone1"}), content_type="application/json"),
     "phone1"),
])
def test_a_missing_key_answer_stops_the_run_naming_the_field_and_the_key_sent(reply: Reply, field: str) -> None:
    with pytest.raises(KeyFieldMissing) as raised:
        record_result(Tried(reply, 1), ASKED, sent=("region", "account_id"))
    error = raised.value
    assert (error.field, error.key_columns, error.list_name, error.exit_code) == (
        field, ("region", "account_id"), "List_1.txt", 3)
    assert str(error) == (f"the calling list 'List_1.txt' has a key field {field!r} that the request lacks "
                          f"(--key sent: region, account_id); name the list's key fields with --key; "
                          f"asked {QUERY_URL}")


@pytest.mark.parametrize("reply", [
    answer(400, "invalid parameters"),
    answer(400, "bad value for key phone1: expected a string"),
    answer(400, json.dumps({"error": "bad_request", "error_description": "'limit' has unsupported value"}),
           content_type="application/json"),
    answer(400, "<html><body>missing key: phone1</body></html>", content_type="text/html"),  # a proxy's page
    answer(422, "missing key: phone1"),  # only a 400 says it
])
def test_other_refusals_stay_the_rows_answer(reply: Reply) -> None:
    result = record_result(Tried(reply, 1), ASKED, sent=("account_id",))
    assert result.status is LookupStatus.ERROR and result.http_status == reply.status


PAGE = [{"index": 4, "entry": {"id": "5"}, "status": {"completed": False}}]


def test_a_page_gives_its_records() -> None:
    assert page_result(Tried(answer(200, PAGE), 1), ASKED, 4) == [
        ListedRecord(index=4, entry={"id": "5"}, record=RecordStatus(completed=False))]


@pytest.mark.parametrize(("outcome", "reason"), [
    (answer(503), "HTTP 503 after 3 attempts"),
    (AttemptFailed("timeout"), "timeout after 3 attempts"),
    (answer(200, "<html/>", content_type="text/html"),
     "HTTP 200 with a non-JSON body (text/html, 7 bytes) after 3 attempts"),
])
def test_a_page_still_failing_at_its_last_attempt_stops_the_run(outcome: Reply | AttemptFailed, reason: str) -> None:
    with pytest.raises(PageUnreadable) as raised:
        page_result(Tried(outcome, 3), ASKED, 2000)
    assert (raised.value.from_index, raised.value.reason) == (2000, reason)
    # Exit 1, not 3: nothing the server answered says the run is wrong, and a rerun resumes from this page.
    assert isinstance(raised.value, RunAborted) and raised.value.exit_code == 1


@pytest.mark.parametrize(("reply", "reason"), [
    (answer(400, "maxSize is too large (no more than 1000)"), "HTTP 400: maxSize is too large (no more than 1000)"),
    (answer(200, {"records": []}), "HTTP 200 with a JSON object instead of an array"),
    (Reply(status=200, url=QUERY_URL, body=None), "answer larger than 1000000 bytes"),
])
def test_an_unusable_page_stops_the_run_at_once(reply: Reply, reason: str) -> None:
    with pytest.raises(PageUnreadable) as raised:
        page_result(Tried(reply, 1), ASKED, 0)
    assert raised.value.reason == reason
    assert raised.value.exit_code == 3  # the server's answer itself: a rerun would get it again


@pytest.mark.parametrize(("text", "what"), [("campaign is not found", "campaign"),
                                            ("calling list not found", "calling list"),
                                            ("record is not found", "endpoint")])
def test_a_404_on_a_page_stops_the_run(text: str, what: str) -> None:
    with pytest.raises(TargetNotFound) as raised:
        page_result(Tried(answer(404, text), 1), ASKED, 0)
    assert raised.value.what == what


BASE = URL("https://bp.example.com:8443/bp/get/L/C", encoded=True)


@pytest.mark.parametrize(("status", "location", "onward"), [
    (307, "/bp/get/L2/C", "https://bp.example.com:8443/bp/get/L2/C"),
    (308, "https://bp.example.com:8443/other", "https://bp.example.com:8443/other"),
    (307, "C2", "https://bp.example.com:8443/bp/get/L/C2"),
    (307, "https://bp.example.com/bp/get/L/C", None),  # another port
    (307, "http://bp.example.com:8443/bp/get/L/C", None),  # down to plain http
    (308, "https://evil.example.net/collect", None),
    (302, "/bp/get/L2/C", None),  # would turn the POST into a GET
    (301, "/bp/get/L2/C", None),
    (303, "/bp/get/L2/C", None),
    (307, None, None),
    (307, "http://[::1", None),
])
def test_only_same_origin_307_and_308_are_followed(status: int, location: str | None, onward: str | None) -> None:
    target = followable_redirect(answer(status, location=location, url=BASE))
    assert (str(target) if target is not None else None) == onward


class _Speechless(Reply):
    """A reply whose message must not be needed."""

    def text(self, limit: int = 200) -> str:
        raise AssertionError("the text of this answer was computed")


@pytest.mark.parametrize(("status", "body"), [
    (200, json.dumps(FOUND_DOC)), (404, "record is not found"), (503, "busy"),
])
def test_the_message_of_an_answer_is_read_only_when_an_error_needs_it(status: int, body: str) -> None:
    data = body.encode()
    reply = _Speechless(status=status, url=QUERY_URL, body=data, size=len(data),
                        document=parse_document(data) if status == 200 else parse_document(b""))
    record_result(Tried(reply, 1), ASKED)
