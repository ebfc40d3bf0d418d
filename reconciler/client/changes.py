"""Reading getChanged and getCompleted answers (v3: getUpdatedRecords, getCompletedRecords): which records had
activity, and their status when it is exact.

getCompleted items carry the whole ``status`` and ``completedTime``. getChanged items carry no
``status``: ``completed``, ``recordDisposition``, ``totalAttempts`` and ``attempts`` (newest first,
each ``{"call_attempted", "disposition", "date", "phone", "agent", ...}``). The status columns are
derived from them only where the derivation is exact (see ``derive_status``); otherwise the item
says "ask this record", and the incremental stage asks it with Query a record rather than guess.

v3's two are read as getAllRecords pages (``{"next_cursor", "records": [{"entry", "status"}]}``; the
API notes give no other shape): each record's whole status, placed in time by the later of its
``lastDate`` and ``completedTime``. A record sent without a status is asked, as above.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.client.answer import Unusable, as_text, parse_last_date, read_cursor_page, read_entry, read_status
from reconciler.lookup import ChangedRecord, ChangesPage, ListedRecord, RecordStatus

# The attempt field that holds the call's duration in seconds, in our reading of the API notes (the
# documentation lists dialing and CPA durations but names no field equal to lastCallDuration).
ATTEMPT_DURATION = "callDuration"


def read_changed_page(document: object) -> list[ChangedRecord] | Unusable:
    """The items of a getChanged answer, in the order sent."""
    return _read_items(document, _read_changed)


def read_completed_page(document: object) -> list[ChangedRecord] | Unusable:
    """The items of a getCompleted answer, in the order sent."""
    return _read_items(document, _read_completed)


def read_changes_by_cursor(document: object, limit: int) -> ChangesPage | Unusable:
    """A v3 getUpdatedRecords or getCompletedRecords page."""
    page = read_cursor_page(document, 0, limit)
    if isinstance(page, Unusable):
        return page
    return ChangesPage(records=[_placed_in_time(record) for record in page.records], next_cursor=page.next_cursor)


def _placed_in_time(listed: ListedRecord) -> ChangedRecord:
    status = listed.record
    times = [] if status is None else [t for t in (status.last_date, status.completed_time) if t is not None]
    return ChangedRecord(entry=listed.entry, record=status, changed_at=max(times, default=None))


def _read_items(document: object, read: Any) -> list[ChangedRecord] | Unusable:
    if isinstance(document, Unusable):
        return document
    if not isinstance(document, list):
        return Unusable("HTTP 200 with a JSON value that is not an array")
    items: list[ChangedRecord] = []
    try:
        for position, item in enumerate(document):
            read_item = read(item) if isinstance(item, dict) else Unusable("not a JSON object")
            if isinstance(read_item, Unusable):
                return Unusable(f"item {position}: {read_item.reason}")
            items.append(read_item)
    except RecursionError:
        return Unusable("the answer is nested too deeply to read")
    return items


def _read_completed(item: Mapping[str, object]) -> ChangedRecord | Unusable:
    entry = read_entry(item)
    if isinstance(entry, Unusable):
        return entry
    status = read_status(item.get("status") if item.get("status") is not None else {})
    if isinstance(status, Unusable):
        return status
    raw_time = item.get("completedTime")
    completed_at = parse_last_date(raw_time) if isinstance(raw_time, str) else None
    if completed_at is None:
        return Unusable(f"completedTime {item.get('completedTime')!r} is not a time")
    # The item's completedTime places the change in time; the status columns stay what the status
    # says, as a scan would read them (classic and v2 statuses carry no completedTime).
    return ChangedRecord(entry=entry, record=status, changed_at=completed_at)


def _read_changed(item: Mapping[str, object]) -> ChangedRecord | Unusable:
    entry = read_entry(item)
    if isinstance(entry, Unusable):
        return entry
    attempts = item.get("attempts") or []
    if not isinstance(attempts, list) or not all(isinstance(a, dict) for a in attempts):
        return Unusable("attempts is not an array of objects")
    dates = [parse_last_date(a["date"]) for a in attempts if isinstance(a.get("date"), str)]
    changed_at = max((d for d in dates if d is not None), default=None)
    return ChangedRecord(entry=entry, record=derive_status(item, attempts), changed_at=changed_at)


def derive_status(item: Mapping[str, object], attempts: list[dict[str, Any]]) -> RecordStatus | None:
    """The status a getChanged item implies, or None where any field of it cannot be told exactly.

    A completed record is always asked (or read from getCompleted): its completedTime is not in the
    item. For the others: ``totalAttempts`` as sent; the newest attempt gives lastDisposition,
    lastDate, lastPhone, the duration and lastAgent. An agent on an older attempt only (the API notes
    read both "the agent of the last attempt" and "of the last successful one"), any attempt whose
    ``call_attempted`` is false (seen on attempts that reached an agent, so it cannot tell which
    attempt the server's status follows), or any value that does not read cleanly, means: ask.
    """
    total = item.get("totalAttempts")
    completed = item.get("completed")
    if completed is not False or isinstance(total, bool) or not isinstance(total, int):
        return None
    if any(a.get("call_attempted") is False for a in attempts):
        return None
    calls = attempts
    if not calls:
        return RecordStatus(completed=False, total_attempts=total) if total == 0 else None
    last = calls[0]
    agents = [a.get("agent") for a in calls if a.get("agent") not in (None, "")]
    if agents and last.get("agent") in (None, ""):
        return None
    values = _attempt_values(last)
    if values is None:
        return None
    return RecordStatus(completed=False, total_attempts=total, **values)


def _attempt_values(attempt: Mapping[str, Any]) -> dict[str, Any] | None:
    date = parse_last_date(attempt["date"]) if isinstance(attempt.get("date"), str) else None
    duration = attempt.get(ATTEMPT_DURATION)
    disposition, phone = as_text(attempt.get("disposition")), as_text(attempt.get("phone"))
    if date is None or isinstance(duration, bool) or not isinstance(duration, int) or not disposition or not phone:
        return None
    return {"last_disposition": disposition, "last_date": date, "last_phone": phone,
            "last_call_duration": duration, "last_agent": as_text(attempt.get("agent")) or None,
            "global_interaction_id": as_text(attempt.get("globalInteractionID")) or None}

