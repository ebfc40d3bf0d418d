"""What getChanged and getCompleted answer: the records with activity (or completed) since a time.

Only activity made on the simulator counts (``activity.move_on``): the loaded records files are a
snapshot of the past, and loading them is no activity. Items come oldest activity first, records
with the same time in index order; ``fromTime`` is inclusive.
"""

from __future__ import annotations

from reconciler.simulator.activity import api_time
from reconciler.simulator.answers import (
    LIST_NOT_FOUND,
    MAX_PAGE_SIZE,
    MAX_SIZE_TOO_LARGE,
    NOT_AN_OBJECT,
    Refusal,
    refuse_page,
    whole_number,
)
from reconciler.simulator.calling_list import CallingList, api_moment


def answer_changes(body: object, calling_list: CallingList | None, campaign: str, *, completed: bool,
                   lower_names: bool) -> list[dict[str, object]] | Refusal:
    """getChanged (``completed=False``) or getCompleted: up to ``maxSize`` items from ``fromTime`` on."""
    refused = refuse_page(body, calling_list, campaign)
    if refused is not None or calling_list is None:
        return refused or Refusal(404, LIST_NOT_FOUND)
    bounds = _time_bounds(body)
    if isinstance(bounds, Refusal):
        return bounds
    since_ms, max_size = bounds
    indices = calling_list.overlay.changed_since(campaign, since_ms, completed=completed)[:max_size]
    item = _completed_item if completed else _changed_item
    return [item(calling_list, campaign, index, lower_names) for index in indices]


def _changed_item(calling_list: CallingList, campaign: str, index: int, lower_names: bool) -> dict[str, object]:
    status = calling_list.status(index, campaign) or {}
    return {"entry": calling_list.entry(index, lower_names=lower_names),
            "completed": status.get("completed") is True,
            "recordDisposition": status.get("lastDisposition", ""),
            "totalAttempts": status.get("totalAttempts", 0),
            "attempts": calling_list.overlay.attempts(campaign, index)}


def _completed_item(calling_list: CallingList, campaign: str, index: int, lower_names: bool) -> dict[str, object]:
    at_ms = calling_list.overlay.time_of(campaign, index, completed=True)
    return {"completedTime": api_time(at_ms), "entry": calling_list.entry(index, lower_names=lower_names),
            "status": calling_list.status(index, campaign) or {}}


def _time_bounds(body: object) -> tuple[int, int] | Refusal:
    """``(fromTime in epoch ms, maxSize)`` of a getChanged or getCompleted body."""
    if not isinstance(body, dict):
        return Refusal(400, NOT_AN_OBJECT)
    from_time = body.get("fromTime")
    if not isinstance(from_time, str):
        return Refusal(400, "fromTime is required (e.g. 2013-03-01T13:15:06.456)")
    since_ms = api_moment(from_time)
    if since_ms is None:
        return Refusal(400, f"fromTime {from_time!r} is not a time like 2013-03-01T13:15:06.456")
    max_size = whole_number(body.get("maxSize", MAX_PAGE_SIZE))
    if max_size is None or max_size < 1:
        return Refusal(400, "maxSize must be a whole number from 1 up")
    if max_size > MAX_PAGE_SIZE:
        return Refusal(400, MAX_SIZE_TOO_LARGE)
    return since_ms, max_size
