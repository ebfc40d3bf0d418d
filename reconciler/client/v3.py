"""The v3 dialect (List Management API 3.x): a campaign and a list instance addressed by id.

Users name the campaign and the list as the admin UI shows them. Before any record is asked,
``CampaignClient.locate`` finds their ids: the campaign's in Get Campaigns
(``GET /configapi/v3/campaign/getAll``: ``[{"id", "name", "state"}]``), the list instance's in Get
Campaign (``GET /configapi/v3/campaign/getCampaign/{id}``: ``{"lists": [{"id", "name", "instanceId",
"instanceName", "totalRecords", ...}]}``). A name that matches nothing, or more than one, stops the
run naming the candidates: reading another campaign's or another instance's records would put wrong
statuses in the table. ``--campaign-id`` and ``--instance-id`` skip each look-up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import aiohttp
from yarl import URL

from reconciler.client.changes import read_changes_by_cursor
from reconciler.client.classify import Asked, cursor_page_result, pages_result, record_result
from reconciler.client.client import ClientCore, api_time
from reconciler.client.dialects import campaign_endpoints
from reconciler.client.pacing import Throttle
from reconciler.client.reply import shown_url
from reconciler.config import Credentials, RequestPolicy, Target
from reconciler.errors import RunAborted, TargetAmbiguous, TargetNotFound
from reconciler.lookup import ChangedRecord, ChangesPage, CursorPage, ListedPage, LookupResult

_NAMED_AT_MOST = 10  # candidates a message names


@dataclass(frozen=True, slots=True, kw_only=True)
class Located:
    """The ids a v3 run asks by, and what the look-up learned on the way."""

    campaign_id: str
    instance_id: str
    looked_up: tuple[str, ...] = ()  # which of "campaign", "instance" were found by name
    total_records: int | None = None  # the instance's size, from Get Campaign


class CampaignClient(ClientCore):
    """Asks a 5.x server through the v3 campaign API; a ``CursorRecordSource``.

    Build it with ``open_record_source``, which calls ``locate`` before handing it out.
    """

    def __init__(self, session: aiohttp.ClientSession, target: Target, credentials: Credentials,
                 policy: RequestPolicy, *, clock: Callable[[], float],
                 sleep: Callable[[float], Awaitable[None]], throttle: Throttle | None = None) -> None:
        self._endpoints = campaign_endpoints(target)
        super().__init__(session, policy, credentials, token_url=self._endpoints.token, scope=target.tenant,
                         dialect="v3", clock=clock, sleep=sleep, throttle=throttle)
        self._target = target
        self._asked = Asked(login=credentials.login, dialect="v3", list_name=target.list_name,
                            campaign=target.campaign, max_bytes=policy.max_answer_bytes)
        self._located: Located | None = None

    @property
    def located(self) -> Located:
        if self._located is None:
            raise RuntimeError("CampaignClient.locate() has not run")  # open_record_source always runs it
        return self._located

    async def locate(self) -> Located:
        """Find the campaign's and the list instance's ids, unless both were given."""
        target, looked_up = self._target, []
        campaign_id = target.campaign_id
        if campaign_id is None:
            campaign_id = await self._campaign_id()
            looked_up.append("campaign")
        instance_id, total = target.instance_id, None
        if instance_id is None:
            instance_id, total = await self._instance(campaign_id)
            looked_up.append("instance")
        self._located = Located(campaign_id=campaign_id, instance_id=instance_id, looked_up=tuple(looked_up),
                                total_records=total)
        return self._located

    async def query(self, key: Mapping[str, str]) -> LookupResult:
        """Query a record by its key fields in the located campaign and instance."""
        located = self.located
        body = {"instanceId": located.instance_id, "extractAttempts": False,
                "fields": {name: str(value) for name, value in key.items()}}
        return record_result(await self._tried(self._endpoints.query(located.campaign_id), body), self._asked,
                             sent=tuple(key))

    async def fetch_records(self, cursor: str | None, limit: int, first_index: int) -> CursorPage:
        """One getAllRecords page after ``cursor`` (None: the first), its records numbered from ``first_index``."""
        located = self.located
        body = {"instanceId": located.instance_id, "limit": limit, "cursor": cursor, "extractAttempts": False}
        tried = await self._tried(self._endpoints.records(located.campaign_id), body)
        return cursor_page_result(tried, self._asked, first_index, limit)

    async def fetch_page(self, from_index: int, max_size: int) -> ListedPage:
        """Not offered: v3 lists are read by cursor (``fetch_records``), never from an index."""
        raise TypeError("the v3 dialect reads lists by cursor: use fetch_records")

    async def fetch_updated_records(self, since: datetime, cursor: str | None, limit: int) -> ChangesPage:
        """One getUpdatedRecords page: records with activity at or after ``since``, after ``cursor``."""
        return await self._changes(self._endpoints.updated, "getUpdatedRecords", since, cursor, limit)

    async def fetch_completed_records(self, since: datetime, cursor: str | None, limit: int) -> ChangesPage:
        """One getCompletedRecords page: records completed at or after ``since``, after ``cursor``."""
        return await self._changes(self._endpoints.completed, "getCompletedRecords", since, cursor, limit)

    async def _changes(self, url_of: Callable[[str], URL], endpoint: str, since: datetime, cursor: str | None,
                       limit: int) -> ChangesPage:
        located = self.located
        # No endTime: the window stays open up to the server's own now. An endTime from this machine's
        # clock would make the result depend on how far the two clocks differ.
        body = {"instanceId": located.instance_id, "limit": limit, "cursor": cursor, "extractAttempts": False,
                "startTime": api_time(since)}
        tried = await self._tried(url_of(located.campaign_id), body)
        position = f"time {body['startTime']}, cursor {cursor}" if cursor else f"time {body['startTime']}"
        return pages_result(tried, self._asked, lambda document: read_changes_by_cursor(document, limit), position,
                            endpoint)

    async def fetch_changes(self, since: datetime, max_size: int) -> list[ChangedRecord]:
        """Not offered: v3 pages its changes by cursor (``fetch_updated_records``)."""
        raise TypeError("the v3 dialect pages changes by cursor: use fetch_updated_records")

    async def fetch_completed(self, since: datetime, max_size: int) -> list[ChangedRecord]:
        """Not offered: as ``fetch_changes`` (``fetch_completed_records``)."""
        raise TypeError("the v3 dialect pages completions by cursor: use fetch_completed_records")

    def list_location(self) -> tuple[str, str]:
        """The calling list's name, and the URL its pages are read from (as a message may show it)."""
        return self._target.list_name, shown_url(self._endpoints.records(self.located.campaign_id))

    def list_instance(self) -> str:
        return self.located.instance_id

    async def record_count(self) -> int | None:
        """The instance's size as Get Campaign reported it; None when --instance-id skipped that look-up."""
        return self.located.total_records

    # -- the look-up ---------------------------------------------------------------------------

    async def _campaign_id(self) -> str:
        campaigns = await self._read_list(self._endpoints.campaigns, "the campaign list (Get Campaigns)")
        name = self._target.campaign
        matches = [item for item in campaigns if item.get("name") == name and isinstance(item.get("id"), str)]
        if not matches:
            known = [str(item.get("name")) for item in campaigns]
            raise TargetNotFound("campaign", f"{name!r} is not among the enabled campaigns this user sees: "
                                             f"{_names(known)}").asked_at(shown_url(self._endpoints.campaigns))
        if len(matches) > 1:
            raise TargetAmbiguous("campaign", name, [f"id {item['id']} ({item.get('state', 'state unknown')})"
                                                     for item in matches[:_NAMED_AT_MOST]], "--campaign-id"
                                  ).asked_at(shown_url(self._endpoints.campaigns))
        return str(matches[0]["id"])

    async def _instance(self, campaign_id: str) -> tuple[str, int | None]:
        settings = await self._read_object(self._endpoints.campaign(campaign_id), "the campaign's settings "
                                                                                   "(Get Campaign)")
        lists = settings.get("lists")
        bound = [item for item in lists if isinstance(item, dict)] if isinstance(lists, list) else []
        name = self._target.list_name
        matches = [item for item in bound if item.get("name") == name and isinstance(item.get("instanceId"), str)]
        if not matches:
            raise TargetNotFound("calling list", f"{name!r} is not bound to campaign {self._target.campaign!r}; "
                                                 f"bound lists: {_names([str(i.get('name')) for i in bound])}"
                                 ).asked_at(shown_url(self._endpoints.campaign(campaign_id)))
        if len(matches) > 1:
            raise TargetAmbiguous("calling list", name, [_instance_text(item) for item in matches[:_NAMED_AT_MOST]],
                                  "--instance-id").asked_at(shown_url(self._endpoints.campaign(campaign_id)))
        total = matches[0].get("totalRecords")
        size = total if isinstance(total, int) and not isinstance(total, bool) and total >= 0 else None
        return str(matches[0]["instanceId"]), size

    async def _read_list(self, url: URL, what: str) -> list[dict[str, object]]:
        document = await self._read(url, what)
        if not isinstance(document, list):
            raise RunAborted(f"{what} could not be read: the answer is not a JSON array").asked_at(shown_url(url))
        return [item for item in document if isinstance(item, dict)]

    async def _read_object(self, url: URL, what: str) -> dict[str, object]:
        document = await self._read(url, what)
        if not isinstance(document, dict):
            raise RunAborted(f"{what} could not be read: the answer is not a JSON object").asked_at(shown_url(url))
        return document

    async def _read(self, url: URL, what: str) -> object:
        return await self._get_document(url, what, self._asked)


def _instance_text(item: Mapping[str, object]) -> str:
    name = item.get("instanceName") or "no instance name"
    enabled = "enabled" if item.get("enabled") else "disabled"
    return f"instance {item['instanceId']} ({name}, {enabled}, {item.get('totalRecords', '?')} records)"


def _names(names: list[str]) -> str:
    if not names:
        return "none"
    shown = ", ".join(repr(name) for name in names[:_NAMED_AT_MOST])
    return shown if len(names) <= _NAMED_AT_MOST else f"{shown} and {len(names) - _NAMED_AT_MOST} more"
