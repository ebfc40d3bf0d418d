"""What the calling-list endpoints answer: request bodies in, JSON data or a refusal out.

Nothing here knows HTTP machinery; ``app`` turns a ``Refusal`` into a plain-text error answer.
The texts are those of a real server (see the API notes).
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.simulator.calling_list import CallingList
from reconciler.simulator.json_body import read_object
from reconciler.simulator.quirks import QuirkConfig, shuffled_page
from reconciler.simulator.records import Catalog

MAX_PAGE_SIZE = 1000
RECORD_NOT_FOUND = "record is not found"
LIST_NOT_FOUND = "calling list not found"
CAMPAIGN_NOT_FOUND = "campaign is not found"
PATH_NOT_FOUND = "HTTP 404 Not Found"
METHOD_NOT_ALLOWED = "HTTP 405 Method Not Allowed"
NO_PRIVILEGE = "User authenticated but does not have sufficient privileges"
MAX_SIZE_TOO_LARGE = f"maxSize is too large (no more than {MAX_PAGE_SIZE})"
INVALID_PARAMETERS = "invalid parameters"
PAGE_PARAMETERS = frozenset({"fromIndex", "maxSize"})
NO_QUIRKS = QuirkConfig()


@dataclass(frozen=True)
class Refusal:
    """An error answer: its HTTP status and plain-text body."""

    http_status: int
    text: str


def parse_json(body: bytes) -> dict[str, object] | Refusal:
    """The body as a JSON object, or a 400 ``Refusal`` worded as the server's JSON parser words it."""
    read = read_object(body)
    return Refusal(400, read) if isinstance(read, str) else read


def key_values(body: dict[str, object] | Refusal, calling_list: CallingList, *,
               any_case: bool) -> tuple[str, ...] | Refusal:
    """The key-field values a query body names; other fields are ignored."""
    if isinstance(body, Refusal):
        return body
    folded = {str(name).lower(): value for name, value in reversed(body.items())} if any_case else {}
    values: list[str] = []
    for field in calling_list.key_fields:
        value = body.get(field, folded.get(field.lower()))
        if value is None or (isinstance(value, str) and not value.strip()):  # blank is missing, as live
            return Refusal(400, f"missing key: {field.lower()}")
        if isinstance(value, bool) or not isinstance(value, str | int):
            return Refusal(400, f"bad value for key {field}: expected a string")
        values.append(str(value))
    return tuple(values)


def answer_query(
    body: dict[str, object] | Refusal,
    calling_list: CallingList | None,
    key: tuple[str, ...] | Refusal | None,
    campaign: str,
    *,
    lower_names: bool,
    loose_plus: bool = False,
) -> dict[str, object] | Refusal:
    """Query a record: ``{"entry", "status"}``; no ``status`` when the list is not in the campaign.

    ``loose_plus``: a key value may find a stored one that differs by a leading ``+`` (``--loose-phone-keys``).
    """
    if isinstance(body, Refusal):
        return body
    if calling_list is None or key is None:
        return Refusal(404, LIST_NOT_FOUND)
    if isinstance(key, Refusal):
        return key
    index = calling_list.find(key, loose_plus=loose_plus)
    if index is None:
        return Refusal(404, RECORD_NOT_FOUND)
    return calling_list.record(index, campaign, lower_names=lower_names)


def answer_page(
    body: dict[str, object] | Refusal, calling_list: CallingList | None, campaign: str, *, lower_names: bool,
    quirks: QuirkConfig = NO_QUIRKS, seed: int | None = None,
) -> list[dict[str, object]] | Refusal:
    """getAll: the ``maxSize`` records with the lowest indexes from ``fromIndex`` on; ``[]`` past the end.

    In index order, unless ``quirks.unordered_pages`` (then shuffled, repeatably with ``seed``).
    """
    refused = refuse_page(body, calling_list, campaign)
    if refused is not None or calling_list is None or isinstance(body, Refusal):
        return refused or Refusal(404, LIST_NOT_FOUND)
    bounds = page_bounds(body)
    if isinstance(bounds, Refusal):
        return bounds
    page = calling_list.page(*bounds, campaign, lower_names=lower_names)
    if not quirks.unordered_pages:
        return page
    return shuffled_page(page, seed=seed, salt=f"{calling_list.name}|{campaign}|{bounds[0]}|{bounds[1]}")


def refuse_page(body: dict[str, object] | Refusal, calling_list: CallingList | None, campaign: str) -> Refusal | None:
    """Why a request for a page of the list's records in ``campaign`` cannot be answered, if it cannot."""
    if isinstance(body, Refusal):
        return body
    if calling_list is None:
        return Refusal(404, LIST_NOT_FOUND)
    if campaign not in calling_list.campaigns:
        return Refusal(404, CAMPAIGN_NOT_FOUND)
    return None


def page_bounds(body: dict[str, object]) -> tuple[int, int] | Refusal:
    """``(fromIndex, maxSize)`` of a getAll body (numbers or numeric strings), both required, nothing else."""
    if (refused := refuse_parameters(body, PAGE_PARAMETERS)) is not None:
        return refused
    from_index = whole_number(body["fromIndex"])
    if from_index is None or from_index < 0:
        return Refusal(400, "fromIndex must be a whole number from 0 up")
    max_size = page_size(body["maxSize"])
    return max_size if isinstance(max_size, Refusal) else (from_index, max_size)


def refuse_parameters(body: dict[str, object], names: frozenset[str]) -> Refusal | None:
    """A live server's refusal of a page body that lacks one of ``names`` (or has it null) or has another field."""
    if body.keys() != names or any(body[name] is None for name in names):
        return Refusal(400, INVALID_PARAMETERS)
    return None


def page_size(value: object) -> int | Refusal:
    """``maxSize``: a number or a numeric string (the documentation's examples send ``"100"``), at most 1000."""
    max_size = whole_number(value)
    if max_size is None or max_size < 1:
        return Refusal(400, "maxSize must be a whole number from 1 up")
    if max_size > MAX_PAGE_SIZE:
        return Refusal(400, MAX_SIZE_TOO_LARGE)
    return max_size


def whole_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def answer_campaigns(catalog: Catalog) -> list[dict[str, object]]:
    """Get campaigns: every campaign, with its state and the lists bound to it (maybe none)."""
    return [{"name": name, "state": catalog.state(name), "lists": lists} for name, lists in catalog.campaigns().items()]
