"""What getChanged and getCompleted answer: the records with activity (or completed) since a time.

Only activity made on the simulator counts (``activity.move_on``): the loaded records files are a
snapshot of the past, and loading them is no activity. Items come oldest activity first, records
with the same time in index order; ``fromTime`` is inclusive. So a client that pages on from the
latest time of the page before (its records at that time come again) misses none. With the
``changes_in_index_order`` quirk the answer is the records changed since ``fromTime`` in list-index
order, the first ``maxSize`` of them: paging by time then misses some, as it may on a live server.

A body is ``{"fromTime": "2013-03-01T13:15:06.456", "maxSize": "100"}``, both required and nothing
else (``invalid parameters``); ``fromTime`` only in that form (else ``Unparseable date: "..."``).
"""

from __future__ import annotations

import json
import re

from reconciler.simulator.activity import api_time
from reconciler.simulator.answers import LIST_NOT_FOUND, Refusal, page_size, refuse_page, refuse_parameters
from reconciler.simulator.calling_list import CallingList, api_moment

CHANGES_PARAMETERS = frozenset({"fromTime", "maxSize"})
# The one form the documentation gives (SimpleDateFormat "yyyy-MM-dd'T'HH:mm:ss.SSS"), UTC.
API_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}")


def answer_changes(body: dict[str, object] | Refusal, calling_list: CallingList | None, campaign: str, *,
                   completed: bool, lower_names: bool,
                   in_index_order: bool = False) -> list[dict[str, object]] | Refusal:
    """getChanged (``completed=False``) or getCompleted: up to ``maxSize`` items from ``fromTime`` on."""
    refused = refuse_page(body, calling_list, campaign)
    if refused is not None or calling_list is None or isinstance(body, Refusal):
        return refused or Refusal(404, LIST_NOT_FOUND)
    bounds = _time_bounds(body)
    if isinstance(bounds, Refusal):
        return bounds
    since_ms, max_size = bounds
    indices = calling_list.overlay.changed_since(campaign, since_ms, completed=completed)
    if in_index_order:
        indices.sort()
    item = _completed_item if completed else _changed_item
    return [item(calling_list, campaign, index, lower_names) for index in indices[:max_size]]


def _changed_item(calling_list: CallingList, campaign: str, index: int, lower_names: bool) -> dict[str, object]:
    status = calling_list.status(index, campaign) or {}
    attempts = calling_list.overlay.attempts(campaign, index)
    completed = status.get("completed") is True
    # The record's disposition is its final one: "" while it is open, as Bright Pattern's own example has it.
    final = attempts[0] if completed and attempts else {}
    return {"entry": calling_list.entry(index, lower_names=lower_names),
            "completed": completed,
            "recordDisposition": str(status.get("lastDisposition", "")) if completed else "",
            "recordDispositionCode": str(final.get("dispositionCode", "")),
            "totalAttempts": status.get("totalAttempts", 0),
            "attempts": attempts}


def _completed_item(calling_list: CallingList, campaign: str, index: int, lower_names: bool) -> dict[str, object]:
    at_ms = calling_list.overlay.time_of(campaign, index, completed=True)
    return {"completedTime": api_time(at_ms), "entry": calling_list.entry(index, lower_names=lower_names),
            "status": calling_list.status(index, campaign) or {}}


def _time_bounds(body: dict[str, object]) -> tuple[int, int] | Refusal:
    """``(fromTime in epoch ms, maxSize)`` of a getChanged or getCompleted body."""
    if (refused := refuse_parameters(body, CHANGES_PARAMETERS)) is not None:
        return refused
    from_time = body["fromTime"]
    text = from_time if isinstance(from_time, str) else json.dumps(from_time)
    since_ms = api_moment(text) if API_TIME.fullmatch(text) else None
    if since_ms is None:
        return Refusal(400, f'Unparseable date: "{text}"')
    max_size = page_size(body["maxSize"])
    return max_size if isinstance(max_size, Refusal) else (since_ms, max_size)
