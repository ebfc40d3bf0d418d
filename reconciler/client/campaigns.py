"""Get Campaigns: which campaigns a tenant has, their state, and the calling lists bound to each.

Classic and v2 answer ``GET .../campaign/getAll/`` with every enabled campaign and its lists
(``[{"name", "state", "lists": ["List_1.txt"]}]``). v3's getAll names campaigns only
(``[{"id", "name", "state"}]``): the lists of each wanted campaign come from Get Campaign
(``getCampaign/{id}``: ``{"lists": [{"name", "instanceId", ...}]}``), asked only for the campaigns
that ``wanted`` keeps. An answer of another shape stops the look-up (``RunAborted``) rather than
guess which lists exist.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
import anyio
from yarl import URL

from reconciler.client.classify import Asked
from reconciler.client.client import ClientCore
from reconciler.client.dialects import campaign_endpoints, campaigns_url
from reconciler.client.pacing import Throttle
from reconciler.client.reply import shown_url
from reconciler.client.session import http_session
from reconciler.config import Credentials, RequestPolicy, Target
from reconciler.errors import RunAborted

CampaignFilter = Callable[[str, str | None], bool]  # (campaign name, state) -> wanted


@dataclass(frozen=True, slots=True)
class CampaignLists:
    """One campaign as Get Campaigns showed it: its name, its state, the names of its lists."""

    name: str
    state: str | None
    lists: tuple[str, ...]


class CampaignCatalog(ClientCore):
    """Reads a tenant's campaigns and their lists (build it with ``open_campaign_catalog``)."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str, tenant: str, dialect: str,
                 credentials: Credentials, policy: RequestPolicy, *, clock: Callable[[], float],
                 sleep: Callable[[float], Awaitable[None]], throttle: Throttle | None = None) -> None:
        self._url, token = campaigns_url(base_url, tenant, dialect)
        super().__init__(session, policy, credentials, token_url=token, scope=tenant, dialect=dialect, clock=clock,
                         sleep=sleep, throttle=throttle)
        self._base_url, self._tenant, self._dialect = base_url, tenant, dialect
        self._asked = Asked(login=credentials.login, dialect=dialect, list_name="", campaign="",
                            max_bytes=policy.max_answer_bytes)

    async def campaigns(self, wanted: CampaignFilter) -> list[CampaignLists]:
        """The campaigns ``wanted`` keeps, each with the lists bound to it, in the server's order."""
        items = await self._read_list(self._url, "the campaign list (Get Campaigns)")
        found = []
        for item in items:
            name, state = _text(item, "name"), item.get("state")
            state_text = state if isinstance(state, str) else None
            if not wanted(name, state_text):
                continue
            lists = await self._v3_lists(item) if self._dialect == "v3" else _list_names(item, "lists")
            found.append(CampaignLists(name=name, state=state_text, lists=lists))
        return found

    async def _v3_lists(self, item: dict[str, object]) -> tuple[str, ...]:
        campaign_id = _text(item, "id")
        target = Target(base_url=self._base_url, tenant=self._tenant, list_name="-", campaign=_text(item, "name"),
                        dialect="v3")
        url = campaign_endpoints(target).campaign(campaign_id)
        settings = await self._read(url, "the campaign's settings (Get Campaign)")
        if not isinstance(settings, dict):
            raise _unreadable("the campaign's settings (Get Campaign)", "not a JSON object", url)
        lists = settings.get("lists", [])
        if not isinstance(lists, list) or not all(isinstance(bound, dict) for bound in lists):
            raise _unreadable("the campaign's settings (Get Campaign)", "its lists are not an array of objects", url)
        return tuple(_text(bound, "name") for bound in lists)

    async def _read_list(self, url: URL, what: str) -> list[dict[str, object]]:
        document = await self._read(url, what)
        if not isinstance(document, list) or not all(isinstance(item, dict) for item in document):
            raise _unreadable(what, "not a JSON array of objects", url)
        return document

    async def _read(self, url: URL, what: str) -> object:
        return await self._get_document(url, what, self._asked)


def _text(item: dict[str, object], name: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value.strip():
        raise RunAborted(f"Get Campaigns answered a campaign or list without a usable {name!r}: {str(item)[:120]}")
    return value


def _list_names(item: dict[str, object], name: str) -> tuple[str, ...]:
    lists = item.get(name, [])
    if not isinstance(lists, list) or not all(isinstance(entry, str) and entry.strip() for entry in lists):
        raise RunAborted(f"Get Campaigns answered campaign {item.get('name')!r} with lists that are not an array "
                         "of names")
    return tuple(lists)


def _unreadable(what: str, why: str, url: URL) -> RunAborted:
    return RunAborted(f"{what} could not be read: {why}").asked_at(shown_url(url))


@asynccontextmanager
async def open_campaign_catalog(base_url: str, tenant: str, dialect: str, credentials: Credentials,
                                policy: RequestPolicy, *, throttle: Throttle | None = None,
                                clock: Callable[[], float] = time.monotonic,
                                sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
                                ) -> AsyncIterator[CampaignCatalog]:
    """A ``CampaignCatalog`` of ``tenant`` whose HTTP session closes when the block ends."""
    async with http_session(dialect, credentials, policy) as session:
        yield CampaignCatalog(session, base_url, tenant, dialect, credentials, policy, clock=clock, sleep=sleep,
                              throttle=throttle)
