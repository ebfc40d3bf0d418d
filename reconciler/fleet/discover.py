"""Discovery: a tenant's targets from Get Campaigns, every list of every campaign the patterns keep.

Names are matched with ``fnmatch.fnmatchcase`` (``*``, ``?``, ``[...]``; case counts, as the API's
names are compared exactly); a campaign is kept when its name matches one of ``campaigns`` and,
when ``states`` is given, its state is one of them (case-insensitively: ``running`` is
``RUNNING``); a list when its name matches one of ``lists``. A campaign with no list adds nothing.
A pair the tenant also names in ``[[tenants.targets]]`` keeps that table's settings. A pair seen
twice (two campaigns of one name) is one target: the run addresses it by name, and in v3 its own
look-up refuses a name that matches two campaigns.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from reconciler.client.campaigns import CampaignLists, open_campaign_catalog
from reconciler.client.pacing import Throttle
from reconciler.config import Credentials, RequestPolicy
from reconciler.fleet.file import Discovery, TargetSpec, TenantSpec

POLICY_KEYS = ("concurrency", "max_attempts", "timeout", "max_backoff", "failure_span")


def tenant_policy(tenant: TenantSpec) -> RequestPolicy:
    """The request policy of the tenant's own requests (Get Campaigns), from its settings."""
    given = {key: tenant.settings[key] for key in POLICY_KEYS if key in tenant.settings}
    return RequestPolicy(**given, rate=tenant.rate, verify_tls=not tenant.settings.get("insecure", False))


def wanted_campaign(discovery: Discovery, name: str, state: str | None) -> bool:
    if not any(fnmatchcase(name, pattern) for pattern in discovery.campaigns):
        return False
    if not discovery.states:
        return True
    return state is not None and state.casefold() in {wanted.casefold() for wanted in discovery.states}


def targets_from(tenant: TenantSpec, campaigns: list[CampaignLists]) -> list[TargetSpec]:
    """The tenant's targets: those it names, then every discovered pair it does not, in the server's order."""
    assert tenant.discovery is not None
    named = {(target.campaign, target.list_name) for target in tenant.targets}
    found = list(tenant.targets)
    for campaign in campaigns:
        for list_name in campaign.lists:
            pair = (campaign.name, list_name)
            if pair in named or not any(fnmatchcase(list_name, pattern) for pattern in tenant.discovery.lists):
                continue
            named.add(pair)
            found.append(TargetSpec(tenant=tenant.tenant, campaign=campaign.name, list_name=list_name,
                                    settings=tenant.settings, discovered=True))
    return found


async def discover(tenant: TenantSpec, credentials: Credentials, throttle: Throttle) -> list[TargetSpec]:
    """Ask Get Campaigns (v3: and Get Campaign for each campaign kept) and return the tenant's targets."""
    discovery = tenant.discovery
    if discovery is None:
        return list(tenant.targets)
    async with open_campaign_catalog(tenant.base_url, tenant.tenant, tenant.dialect, credentials,
                                     tenant_policy(tenant), throttle=throttle) as catalog:
        campaigns = await catalog.campaigns(lambda name, state: wanted_campaign(discovery, name, state))
    return targets_from(tenant, campaigns)
