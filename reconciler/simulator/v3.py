"""The v3 dialect of the simulator: campaigns and list instances addressed by id.

Routes (``{campaign_id}`` as Get Campaigns lists it; bearer tokens as v2, shared with it):

    POST /configapi/v3/oauth/token                              form-encoded, as v2
    GET  /configapi/v3/campaign/getAll                          [{"id", "name", "state"}]
    GET  /configapi/v3/campaign/getCampaign/{campaign_id}       {"name", ..., "lists": [{"instanceId", ...}]}
    POST /configapi/v3/campaign/queryRecord/{campaign_id}       {"instanceId", "extractAttempts", "fields"}
    POST /configapi/v3/campaign/getAllRecords/{campaign_id}     {"instanceId", "limit", "cursor"}
    POST /configapi/v3/campaign/getUpdatedRecords/{campaign_id}   ... "startTime", "endTime" (see v3_changes)
    POST /configapi/v3/campaign/getCompletedRecords/{campaign_id} the same, completions only

Ids are derived from names (UUID 5), so they are the same on every start: ``campaign_id("Campaign_1")``
and ``instance_id("Campaign_1", "records.csv")`` give what the server answers. Errors come as
``{"error", "error_description"}``: 404 unknown campaign or record, 409 an instance not bound to the
campaign, 415 a body not sent as ``application/json``. Unset status strings and times are sent as
``""``, as a real v3 server does. Statuses are the same as the other dialects answer (a
``completedTime`` only where the records file has one), so that all three write the same table.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from reconciler.simulator import answers
from reconciler.simulator.answers import Refusal
from reconciler.simulator.calling_list import CallingList
from reconciler.simulator.quirks import QuirkConfig, shuffled_page
from reconciler.simulator.records import Catalog
from reconciler.simulator.stats import SimulatorStats
from reconciler.simulator.v3_changes import changed_page

V3 = "/configapi/v3"
_NAMESPACE = uuid.UUID("6f1c3a52-4d0e-5b8a-9c7e-2f4b8d1e0a63")  # fixed: the ids must not change between starts
_ERROR_NAMES = {400: "bad_request", 404: "not_found", 409: "conflict", 415: "unsupported_media_type"}
NOT_BOUND = "Specified instance is not bound to the selected campaign"
NOT_JSON_MEDIA = "Content type is not application/json"
# Status fields a v3 server sends as "" when they have no value.
_TEXT_STATUS_FIELDS = ("lastDisposition", "lastDate", "lastPhone", "lastAgent", "globalInteractionID",
                       "completedTime")
_CUSTOM_PREFIX = "custom_"  # a list's custom status fields, sent as "" when unset
_CURSOR_DIGITS = 24  # the width of a MongoDB _id, which a real server's cursors are

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Gate = Callable[[web.Request], web.Response | None]
FaultHook = Callable[[web.Request], Awaitable[web.StreamResponse | None]]
_dumps = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


def campaign_id(campaign: str) -> str:
    """The id the simulator gives the campaign named ``campaign``."""
    return str(uuid.uuid5(_NAMESPACE, f"campaign:{campaign}")).upper()


def list_id(list_name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"list:{list_name}")).upper()


def instance_id(campaign: str, list_name: str) -> str:
    """The id of the instance of list ``list_name`` bound to ``campaign``."""
    return str(uuid.uuid5(_NAMESPACE, f"instance:{campaign}/{list_name}")).upper()


def error_response(refusal: Refusal) -> web.Response:
    """A refusal in v3's error envelope."""
    body = {"error": _ERROR_NAMES.get(refusal.http_status, "error"), "error_description": refusal.text}
    return web.json_response(body, status=refusal.http_status, dumps=_dumps)


@dataclass(frozen=True)
class V3Routes:
    """The v3 handlers over the simulator's catalog; authentication and faults are the simulator's."""

    catalog: Catalog
    stats: SimulatorStats
    gate: Gate
    inject_fault: FaultHook
    token: Handler
    quirks: QuirkConfig = answers.NO_QUIRKS
    seed: int | None = None  # shuffles pages repeatably (with quirks.unordered_pages)

    def add_to(self, app: web.Application) -> None:
        app.router.add_post(V3 + "/oauth/token", self.token, name="v3:token")
        for suffix, variant in (("", ""), ("/", ".slash")):
            app.router.add_get(V3 + "/campaign/getAll" + suffix, self._campaigns, name=f"v3:campaigns{variant}")
        app.router.add_get(V3 + "/campaign/getCampaign/{campaign_id}", self._campaign, name="v3:campaigns.one")
        app.router.add_post(V3 + "/campaign/queryRecord/{campaign_id}", self._query, name="v3:query")
        app.router.add_post(V3 + "/campaign/getAllRecords/{campaign_id}", self._records, name="v3:getAll")
        # Counted as getChanged and getCompleted, the classic reads they stand for.
        app.router.add_post(V3 + "/campaign/getUpdatedRecords/{campaign_id}", self._updated, name="v3:getChanged")
        app.router.add_post(V3 + "/campaign/getCompletedRecords/{campaign_id}", self._completed,
                            name="v3:getCompleted")

    async def _campaigns(self, request: web.Request) -> web.StreamResponse:
        if (denied := self.gate(request)) is not None:
            return denied
        return _json([{"id": campaign_id(name), "name": name, "state": self.catalog.state(name)}
                      for name in self.catalog.campaigns()])

    async def _campaign(self, request: web.Request) -> web.StreamResponse:
        if (denied := self.gate(request)) is not None:
            return denied
        campaign = self._campaign_named(request)
        if isinstance(campaign, Refusal):
            return error_response(campaign)
        lists = [{"id": list_id(name), "name": name, "instanceId": instance_id(campaign, name), "instanceName": "",
                  "enabled": True, "order": order, "dialingRatio": 1, "totalRecords": len(self.catalog.lists[name])}
                 for order, name in enumerate(self.catalog.campaigns()[campaign], start=1)]
        return _json({"name": campaign, "enabled": True, "state": self.catalog.state(campaign),
                      "direction": "OUTBOUND_VOICE", "lists": lists})

    async def _query(self, request: web.Request) -> web.StreamResponse:
        bound = await self._bound_request(request)
        if isinstance(bound, web.StreamResponse):
            return bound
        campaign, calling_list, body = bound
        fields = body.get("fields")
        fields = fields if isinstance(fields, dict) else {}
        key = answers.key_values(fields, calling_list, any_case=True)
        if isinstance(key, tuple):
            self.stats.key_queried("|".join(key))
        if (faulted := await self.inject_fault(request)) is not None:
            return faulted
        result = answers.answer_query(fields, calling_list, key, campaign, lower_names=True,
                                      loose_plus=self.quirks.loose_phone_keys)
        if isinstance(result, Refusal):
            return error_response(result)
        return _json(_with_blanks(result, calling_list))

    async def _records(self, request: web.Request) -> web.StreamResponse:
        bound = await self._page_request(request)
        if isinstance(bound, web.StreamResponse):
            return bound
        campaign, calling_list, body = bound
        bounds = _cursor_bounds(body)
        if isinstance(bounds, Refusal):
            return error_response(bounds)
        start, limit = bounds
        page = calling_list.page(start, limit, campaign, lower_names=True)  # in index order
        after = int(page[-1]["index"]) + 1 if page else start  # type: ignore[call-overload]
        next_cursor = _cursor(after) if len(page) == limit and after < calling_list.end_index else None
        if self.quirks.unordered_pages:
            page = shuffled_page(page, seed=self.seed, salt=f"v3|{calling_list.name}|{campaign}|{start}|{limit}")
        return _json({"next_cursor": next_cursor, "records": _v3_records(page, calling_list)})

    async def _updated(self, request: web.Request) -> web.StreamResponse:
        return await self._changes(request, completed=False)

    async def _completed(self, request: web.Request) -> web.StreamResponse:
        return await self._changes(request, completed=True)

    async def _changes(self, request: web.Request, *, completed: bool) -> web.StreamResponse:
        bound = await self._page_request(request)
        if isinstance(bound, web.StreamResponse):
            return bound
        campaign, calling_list, body = bound
        page = changed_page(body, calling_list, campaign, completed=completed)
        if isinstance(page, Refusal):
            return error_response(page)
        indices, next_cursor = page
        rows = calling_list.records(indices, campaign, lower_names=True)
        return _json({"next_cursor": next_cursor, "records": _v3_records(rows, calling_list)})

    # -- shared steps --------------------------------------------------------------------------

    async def _page_request(self, request: web.Request) -> tuple[str, CallingList, dict[str, object]] | (
            web.StreamResponse):
        """What a page request names (see ``_bound_request``), unless a fault answers it instead."""
        bound = await self._bound_request(request)
        if isinstance(bound, web.StreamResponse):
            return bound
        if (faulted := await self.inject_fault(request)) is not None:
            return faulted
        return bound

    async def _bound_request(self, request: web.Request) -> tuple[str, CallingList, dict[str, object]] | web.Response:
        """The campaign, the list instance and the body a record request names, or the answer refusing it."""
        if (denied := self.gate(request)) is not None:
            return denied
        if request.content_type != "application/json":
            return error_response(Refusal(415, NOT_JSON_MEDIA))
        campaign = self._campaign_named(request)
        if isinstance(campaign, Refusal):
            return error_response(campaign)
        body = answers.parse_json(await request.read())
        if isinstance(body, Refusal):
            return error_response(body)
        bound = {instance_id(campaign, name): name for name in self.catalog.campaigns()[campaign]}
        list_name = bound.get(str(body.get("instanceId")))
        if list_name is None:
            return error_response(Refusal(409, NOT_BOUND))
        return campaign, self.catalog.lists[list_name], body

    def _campaign_named(self, request: web.Request) -> str | Refusal:
        wanted = request.match_info["campaign_id"].upper()
        for name in self.catalog.campaigns():
            if campaign_id(name) == wanted:
                return name
        return Refusal(404, answers.CAMPAIGN_NOT_FOUND)


def _json(data: object) -> web.Response:
    return web.json_response(data, dumps=_dumps)


def _v3_records(rows: list[dict[str, object]], calling_list: CallingList) -> list[dict[str, object]]:
    """Records as v3 pages send them: entry, status with blanks, no attempts (none asked for)."""
    return [_with_blanks({"entry": row["entry"], "status": row.get("status", {}), "attempts": []}, calling_list)
            for row in rows]


def _with_blanks(record: dict[str, object], calling_list: CallingList) -> dict[str, object]:
    """The record with its unset status strings and times, and its list's unset ``custom_*`` fields, as ``""``."""
    status = record.get("status")
    if isinstance(status, dict):
        custom = (name for name in calling_list.status_fields if name.startswith(_CUSTOM_PREFIX))
        blanks = {name: "" for name in (*_TEXT_STATUS_FIELDS, *custom)}
        record["status"] = {**blanks, **status}
    return record


def _cursor(index: int) -> str:
    return f"{index:0{_CURSOR_DIGITS}x}"


def _cursor_bounds(body: dict[str, object]) -> tuple[int, int] | Refusal:
    """``(first index, limit)`` of a getAllRecords body."""
    limit = body.get("limit")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= answers.MAX_PAGE_SIZE:
        return Refusal(400, f"'limit' has unsupported value {limit!r}: an integer from 1 to "
                            f"{answers.MAX_PAGE_SIZE} is expected")
    cursor = body.get("cursor")
    if cursor is None or cursor == "":
        return 0, limit
    if not isinstance(cursor, str) or len(cursor) != _CURSOR_DIGITS:
        return Refusal(400, f"'cursor' has unsupported value {cursor!r}")
    try:
        return int(cursor, 16), limit
    except ValueError:
        return Refusal(400, f"'cursor' has unsupported value {cursor!r}")
