"""Where each dialect's endpoints live: URLs built segment by segment, never by pasting strings.

Every name (tenant, list, campaign) becomes exactly one percent-encoded path segment, so a ``/``,
``?``, ``#``, ``..`` or space in a name cannot reach another path. The URL is marked as already
encoded so that neither yarl nor aiohttp decodes or normalises it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from yarl import URL

from reconciler.config import Target
from reconciler.errors import InvalidOption


@dataclass(frozen=True, slots=True)
class Endpoints:
    """The URLs one run talks to; ``token`` is None for a dialect without a token endpoint."""

    query: URL
    page: URL
    token: URL | None
    changed: URL  # getChanged
    completed: URL  # getCompleted


@dataclass(frozen=True, slots=True)
class CampaignEndpoints:
    """The v3 URLs: everything past the token and the campaign list is addressed by campaign id."""

    token: URL
    campaigns: URL
    base: str

    def campaign(self, campaign_id: str) -> URL:
        """Get Campaign: its settings, the bound lists' instances among them."""
        return self._by_id("getCampaign", campaign_id)

    def query(self, campaign_id: str) -> URL:
        return self._by_id("queryRecord", campaign_id)

    def records(self, campaign_id: str) -> URL:
        """getAllRecords: the instance's records, by cursor."""
        return self._by_id("getAllRecords", campaign_id)

    def updated(self, campaign_id: str) -> URL:
        """getUpdatedRecords: records with activity in a time window, by cursor."""
        return self._by_id("getUpdatedRecords", campaign_id)

    def completed(self, campaign_id: str) -> URL:
        """getCompletedRecords: records completed in a time window, by cursor."""
        return self._by_id("getCompletedRecords", campaign_id)

    def _by_id(self, operation: str, campaign_id: str) -> URL:
        if campaign_id in (".", ".."):
            raise InvalidOption("--campaign-id", campaign_id, "an id other than . or ..")
        return _url(self.base, ("configapi", "v3", "campaign", operation, campaign_id))


def campaign_endpoints(target: Target) -> CampaignEndpoints:
    """The v3 dialect's URLs on ``target``'s server."""
    base = _base(target.base_url)
    return CampaignEndpoints(token=_url(base, ("configapi", "v3", "oauth", "token")),
                             campaigns=_url(base, ("configapi", "v3", "campaign", "getAll")), base=base)


def endpoints_for(target: Target) -> Endpoints:
    """The query, getAll and token URLs of ``target`` in its dialect (classic or v2; v3: ``campaign_endpoints``)."""
    base = _base(target.base_url)
    names = {"--tenant": target.tenant, "--list": target.list_name, "--campaign": target.campaign}
    for option, name in names.items():
        if name in (".", ".."):  # a dot segment would be removed by any proxy on the way
            raise InvalidOption(option, name, "a name other than . or ..")
    if target.dialect == "classic":
        prefix: tuple[str, ...] = ("admin", "ws", "t", target.tenant, "callinglist")
        token = None
    else:
        prefix = ("configapi", "v2", "callinglist")
        token = _url(base, ("configapi", "v2", "oauth", "token"))
    return Endpoints(
        query=_url(base, (*prefix, "get", target.list_name, target.campaign)),
        page=_url(base, (*prefix, "getAll", target.list_name, target.campaign)),
        token=token,
        changed=_url(base, (*prefix, "getChanged", target.list_name, target.campaign)),
        completed=_url(base, (*prefix, "getCompleted", target.list_name, target.campaign)),
    )


def campaigns_url(base_url: str, tenant: str, dialect: str) -> tuple[URL, URL | None]:
    """Get Campaigns (``campaign/getAll``) in ``dialect``, and its token endpoint (None for classic)."""
    base = _base(base_url)
    if dialect == "classic":
        if tenant in (".", ".."):
            raise InvalidOption("--tenant", tenant, "a name other than . or ..")
        # The trailing slash as the API documentation writes the classic and v2 path.
        return URL(str(_url(base, ("admin", "ws", "t", tenant, "campaign", "getAll"))) + "/", encoded=True), None
    if dialect == "v2":
        return (URL(str(_url(base, ("configapi", "v2", "campaign", "getAll"))) + "/", encoded=True),
                _url(base, ("configapi", "v2", "oauth", "token")))
    return _url(base, ("configapi", "v3", "campaign", "getAll")), _url(base, ("configapi", "v3", "oauth", "token"))


def _base(base_url: str) -> str:
    """The base URL in encoded form without a trailing slash; a path prefix is kept."""
    url = URL(base_url)
    if not url.host or url.query_string or url.fragment:
        raise InvalidOption("--base-url", base_url, "an http:// or https:// URL with a host and no query")
    return str(url).rstrip("/")


def _url(base: str, segments: Sequence[str]) -> URL:
    return URL(base + "/" + "/".join(quote(segment, safe="") for segment in segments), encoded=True)
