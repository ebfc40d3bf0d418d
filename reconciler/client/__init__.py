"""The Bright Pattern client: the ``RecordSource`` the pipeline queries, behind one narrow seam.

    async with open_record_source(target, credentials, policy) as source:
        result = await source.query({"account_id": "000123"})

Modules, in the order a request passes them: ``v3`` (the v3 client and its id look-up), ``campaigns``
(Get Campaigns, for a fleet's discovery),
``dialects`` (URLs), ``token`` (v2 and v3 bearer token),
``pacing`` (the run's ``Throttle``), ``retry`` (the retry policy), ``transport`` (the aiohttp
boundary), ``classify`` and ``answer`` (what an answer means).
"""

from __future__ import annotations

from reconciler.client.client import BrightPatternClient, ClientStats
from reconciler.client.pacing import Throttle
from reconciler.client.session import open_record_source
from reconciler.client.v3 import CampaignClient, Located
from reconciler.errors import PageUnreadable

__all__ = ["BrightPatternClient", "CampaignClient", "ClientStats", "Located", "PageUnreadable", "Throttle",
           "open_record_source"]
