"""What v3's getUpdatedRecords and getCompletedRecords answer: records with activity (or completed) in a window.

Body: ``{"instanceId", "limit", "cursor", "extractAttempts", "startTime", "endTime"}``. ``startTime``
is required and inclusive; ``endTime`` is optional (absent, null or ``""``: up to now) and
exclusive. Records come oldest activity first, ties in list order, each as getAllRecords sends it.
A cursor names the last record sent by its time and id (a keyset), in a live server's form
``2023-01-10T12:13:59.001_590e9abd4abbf1165862d342`` (the id: 24 hex digits, here the record's
position), so a record whose activity moves on while a client pages comes again later instead of
pushing another out of sight. As for getChanged, only activity made on the simulator counts.
"""

from __future__ import annotations

import re

from reconciler.simulator.activity import api_time
from reconciler.simulator.answers import MAX_PAGE_SIZE, Refusal
from reconciler.simulator.calling_list import CallingList, api_moment
from reconciler.simulator.changes import API_TIME

_ID_DIGITS = 24  # the width of a MongoDB _id, which a live server's cursor ids are
_CURSOR = re.compile(rf"({API_TIME.pattern})_([0-9a-f]{{{_ID_DIGITS}}})")


def changed_page(body: dict[str, object], calling_list: CallingList, campaign: str, *,
                 completed: bool) -> tuple[list[int], str | None] | Refusal:
    """The indices of the page the body asks for, and the cursor of the next (None: this is the last)."""
    window = _window(body)
    if isinstance(window, Refusal):
        return window
    start_ms, end_ms, after, limit = window
    activity = calling_list.overlay.campaigns.get(campaign)
    times = {} if activity is None else activity.completed_at if completed else activity.changed_at
    hits = sorted((at, index) for index, at in times.items()
                  if start_ms <= at and (end_ms is None or at < end_ms) and (after is None or (at, index) > after))
    page = hits[:limit]
    next_cursor = _cursor(*page[-1]) if len(hits) > limit else None
    return [index for _, index in page], next_cursor


def _window(body: dict[str, object]) -> tuple[int, int | None, tuple[int, int] | None, int] | Refusal:
    """``(start ms, end ms or None, the cursor's (time, index) or None, limit)`` of a body."""
    limit = body.get("limit")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        return Refusal(400, f"'limit' has unsupported value {limit!r}: an integer from 1 to {MAX_PAGE_SIZE} "
                            "is expected")
    start = body.get("startTime")
    start_ms = api_moment(start) if isinstance(start, str) else None
    if start_ms is None:
        return Refusal(400, f"'startTime' has unsupported value {start!r}: a time like 2024-03-01T13:15:06.456 "
                            "is expected")
    end = body.get("endTime")
    end_ms = api_moment(end) if isinstance(end, str) and end else None
    if end not in (None, "") and end_ms is None:
        return Refusal(400, f"'endTime' has unsupported value {end!r}")
    cursor = body.get("cursor")
    if cursor is None or cursor == "":
        return start_ms, end_ms, None, limit
    parts = _CURSOR.fullmatch(cursor) if isinstance(cursor, str) else None
    at_ms = api_moment(parts.group(1)) if parts is not None else None
    if parts is None or at_ms is None:
        return Refusal(400, f"'cursor' has unsupported value {cursor!r}")
    return start_ms, end_ms, (at_ms, int(parts.group(2), 16)), limit


def _cursor(at_ms: int, index: int) -> str:
    """The cursor after the record at ``index`` whose activity was at ``at_ms``."""
    return f"{api_time(at_ms)}_{index:0{_ID_DIGITS}x}"
