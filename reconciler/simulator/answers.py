"""What the calling-list endpoints answer: request bodies in, JSON data or a refusal out.

Nothing here knows HTTP machinery; ``app`` turns a ``Refusal`` into a plain-text error answer.
The texts are those of a real server (see the API notes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from reconciler.simulator.calling_list import CallingList
from reconciler.simulator.records import Catalog

MAX_PAGE_SIZE = 1000
RECORD_NOT_FOUND = "record is not found"
LIST_NOT_FOUND = "calling list not found"
CAMPAIGN_NOT_FOUND = "campaign is not found"
PATH_NOT_FOUND = "HTTP 404 Not Found"
METHOD_NOT_ALLOWED = "HTTP 405 Method Not Allowed"
NO_PRIVILEGE = "User authenticated but does not have sufficient privileges"
MAX_SIZE_TOO_LARGE = f"maxSize is too large (no more than {MAX_PAGE_SIZE})"
NOT_AN_OBJECT = "request body must be a JSON object"


@dataclass(frozen=True)
class Refusal:
    """An error answer: its HTTP status and plain-text body."""

    http_status: int
    text: str


def parse_json(body: bytes) -> object:
    """The decoded body, or a 400 ``Refusal`` worded like a JSON parser's message."""
    try:
        return json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return Refusal(400, f"JSON parse error: the body is not UTF-8 ({exc.reason} at byte {exc.start})")
    except json.JSONDecodeError as exc:
        return Refusal(400, f"JSON parse error: {exc.msg} at line {exc.lineno}, column {exc.colno}")


def key_values(body: object, calling_list: CallingList, *, any_case: bool) -> tuple[str, ...] | Refusal:
    """The key-field values a query body names; other fields are ignored."""
    if isinstance(body, Refusal):
        return body
    if not isinstance(body, dict):
        return Refusal(400, NOT_AN_OBJECT)
    folded = {str(name).lower(): value for name, value in reversed(body.items())} if any_case else {}
    values: list[str] = []
    for field in calling_list.key_fields:
        value = body.get(field, folded.get(field.lower()))
        if value is None:
            return Refusal(400, f"missing key: {field}")
        if isinstance(value, bool) or not isinstance(value, str | int):
            return Refusal(400, f"bad value for key {field}: expected a string")
        values.append(str(value))
    return tuple(values)


def answer_query(
    body: object,
    calling_list: CallingList | None,
    key: tuple[str, ...] | Refusal | None,
    campaign: str,
    *,
    lower_names: bool,
) -> dict[str, object] | Refusal:
    """Query a record: ``{"entry", "status"}``; no ``status`` when the list is not in the campaign."""
    if isinstance(body, Refusal):
        return body
    if calling_list is None or key is None:
        return Refusal(404, LIST_NOT_FOUND)
    if isinstance(key, Refusal):
        return key
    index = calling_list.find(key)
    if index is None:
        return Refusal(404, RECORD_NOT_FOUND)
    return calling_list.record(index, campaign, lower_names=lower_names)


def answer_page(
    body: object, calling_list: CallingList | None, campaign: str, *, lower_names: bool
) -> list[dict[str, object]] | Refusal:
    """getAll: up to ``maxSize`` records from ``fromIndex`` on; ``[]`` past the end."""
    refused = refuse_page(body, calling_list, campaign)
    if refused is not None or calling_list is None:
        return refused or Refusal(404, LIST_NOT_FOUND)
    bounds = page_bounds(body)
    if isinstance(bounds, Refusal):
        return bounds
    return calling_list.page(*bounds, campaign, lower_names=lower_names)


def refuse_page(body: object, calling_list: CallingList | None, campaign: str) -> Refusal | None:
    """Why a request for a page of the list's records in ``campaign`` cannot be answered, if it cannot."""
    if isinstance(body, Refusal):
        return body
    if calling_list is None:
        return Refusal(404, LIST_NOT_FOUND)
    if campaign not in calling_list.campaigns:
        return Refusal(404, CAMPAIGN_NOT_FOUND)
    return None


def page_bounds(body: object) -> tuple[int, int] | Refusal:
    """``(fromIndex, maxSize)`` of a getAll body (numbers or numeric strings)."""
    if not isinstance(body, dict):
        return Refusal(400, NOT_AN_OBJECT)
    from_index = whole_number(body.get("fromIndex", 0))
    max_size = whole_number(body.get("maxSize", MAX_PAGE_SIZE))
    if from_index is None or from_index < 0:
        return Refusal(400, "fromIndex must be a whole number from 0 up")
    if max_size is None or max_size < 1:
        return Refusal(400, "maxSize must be a whole number from 1 up")
    if max_size > MAX_PAGE_SIZE:
        return Refusal(400, MAX_SIZE_TOO_LARGE)
    return from_index, max_size


def whole_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def answer_campaigns(catalog: Catalog) -> list[dict[str, object]]:
    """Get campaigns: every campaign some list is bound to, running."""
    return [{"name": name, "state": "RUNNING", "lists": lists} for name, lists in catalog.campaigns().items()]
