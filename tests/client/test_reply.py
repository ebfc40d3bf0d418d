from __future__ import annotations

from datetime import UTC, datetime

import pytest
from yarl import URL

from reconciler.client.answer import NOT_JSON
from reconciler.client.reply import Reply, parse_retry_after

NOW = datetime(2024, 5, 6, 12, 0, 0, tzinfo=UTC)
URL_ = URL("https://bp.example.com/configapi/v2/callinglist/get/L/C")


@pytest.mark.parametrize(("value", "seconds"), [
    ("7", 7.0),
    (" 120 ", 120.0),
    ("1.5", 1.5),
    ("0", 0.0),
    ("Mon, 06 May 2024 12:02:00 GMT", 120.0),
    ("Mon, 06 May 2024 11:00:00 GMT", 0.0),  # already past
    ("soon", None),
    ("-5", None),
    ("", None),
    (None, None),
])
def test_retry_after_is_read_as_seconds_or_as_a_date(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


@pytest.mark.parametrize(("reply", "description"), [
    (Reply(status=503, url=URL_, body=b"<html>busy</html>", content_type="text/html"), "HTTP 503"),
    (Reply(status=200, url=URL_, body=b"<html>" + b"x" * 1526, size=1532, content_type="text/html"),
     "HTTP 200 with a non-JSON body (text/html, 1532 bytes)"),
    (Reply(status=200, url=URL_, body=b'{"entry": ', size=10),
     "HTTP 200 with a non-JSON body (no content type, 10 bytes)"),
    (Reply(status=200, url=URL_, body=b""), "HTTP 200 with an empty body"),
])
def test_a_reply_is_described_without_its_body_or_headers(reply: Reply, description: str) -> None:
    assert reply.describe() == description


@pytest.mark.parametrize(("reply", "unreadable"), [
    (Reply(status=200, url=URL_, body=b"<html/>"), True),
    (Reply(status=200, url=URL_, body=b""), True),
    (Reply(status=200, url=URL_, body=b"{}", document={}), False),
    (Reply(status=200, url=URL_, body=None), False),  # too large: not worth asking again
    (Reply(status=404, url=URL_, body=b"record is not found", document=NOT_JSON), False),
])
def test_only_a_200_without_json_is_unreadable(reply: Reply, unreadable: bool) -> None:
    assert reply.unreadable is unreadable


@pytest.mark.parametrize(("body", "content_type", "text"), [
    (b"missing key: phone1", "text/plain", "missing key: phone1"),
    (b"  line one\r\n\tline two\x00\x1b[31m ", "text/plain", "line one line two [31m"),
    (b"<html><body>Bad request</body></html>", "text/html", "an HTML page"),
    (b"x" * 300, "text/plain", "x" * 200 + "…"),
    (b"caf\xc3\xa9 \xff", "", "café �"),
    (b"", "text/plain", ""),
    (None, "text/plain", ""),
])
def test_the_servers_text_is_one_short_printable_line(body: bytes | None, content_type: str, text: str) -> None:
    assert Reply(status=400, url=URL_, body=body, content_type=content_type).text() == text
