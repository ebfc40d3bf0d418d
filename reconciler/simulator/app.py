"""The simulator's aiohttp application: routes, authentication gates, faults and counters.

Routes (``{list}`` and ``{campaign}`` are percent-decoded names):

    POST /admin/ws/t/{tenant}/callinglist/get/{list}/{campaign}      classic, HTTP Digest
    POST /admin/ws/t/{tenant}/callinglist/getAll/{list}/{campaign}
    POST /admin/ws/t/{tenant}/callinglist/getChanged/{list}/{campaign}  (and getCompleted)
    GET  /admin/ws/t/{tenant}/campaign/getAll/
    POST /configapi/v2/oauth/token                                    v2, form-encoded
    POST /configapi/v2/callinglist/get/{list}/{campaign}              v2, Bearer token
    POST /configapi/v2/callinglist/getAll/{list}/{campaign}
    POST /configapi/v2/callinglist/getChanged/{list}/{campaign}       (and getCompleted)
    GET  /configapi/v2/campaign/getAll/
    ...  /configapi/v3/...  (oauth/token, campaign/getAll, getCampaign, queryRecord, getAllRecords): see ``v3``
    Any of them with doubled slashes (``//configapi//v2//...``) answers as the single-slash path: see ``paths``
    GET  /__stats[?keys=1]    POST /__stats/reset                     simulator only, no auth
    POST /__activity  {"list", "campaign", "attempts", "complete", "add", "delete", "seed"}: a day of calling
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import hdrs, web
from aiohttp.typedefs import LooseHeaders

from reconciler.simulator import answers
from reconciler.simulator.activity import ActivityPlan, ActivityRefused, move_on
from reconciler.simulator.answers import Refusal
from reconciler.simulator.changes import answer_changes
from reconciler.simulator.config import SimulatorConfig
from reconciler.simulator.digest import DigestAuthority, Verdict
from reconciler.simulator.faults import Fault, FaultInjector
from reconciler.simulator.paths import accept_doubled_slashes
from reconciler.simulator.records import Catalog
from reconciler.simulator.stats import SimulatorStats
from reconciler.simulator.tokens import NOT_AUTHENTICATED, TokenIssuer, TokenRefused
from reconciler.simulator.v3 import V3Routes

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Gate = Callable[[web.Request], web.Response | None]
PageAnswer = Callable[..., list[dict[str, object]] | Refusal]  # (body, list, campaign, *, lower_names)

CLASSIC = "/admin/ws/t/{tenant}"
V2 = "/configapi/v2"
CLASSIC_UNAUTHORIZED = "HTTP 401 Unauthorized"
PROXY_ERROR_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_dumps = functools.partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


class DroppedConnection(web.Response):
    """Stands for the answer of a request whose connection was closed instead: it is never sent."""


def text_response(http_status: int, text: str, headers: LooseHeaders | None = None) -> web.Response:
    return web.Response(status=http_status, text=text, content_type="text/plain", headers=headers)


def json_response(data: object) -> web.Response:
    return web.json_response(data, dumps=_dumps)


def refusal_or_json(result: object) -> web.Response:
    if isinstance(result, Refusal):
        return text_response(result.http_status, result.text)
    return json_response(result)


@dataclass(frozen=True)
class Dialect:
    gate: Gate  # None to go on, or the 401/403/404 answer
    lower_names: bool  # 5.x answers entry field names lower-cased
    any_case_keys: bool  # and matches key field names case-insensitively


class Simulator:
    """The state behind the routes: the lists, the authorities, the fault injector and counters."""

    def __init__(self, config: SimulatorConfig, catalog: Catalog, clock: Callable[[], float]) -> None:
        self.config, self.catalog, self.clock = config, catalog, clock
        self.stats = SimulatorStats()
        self.faults = FaultInjector(config.faults)
        self.users = {user.login: user for user in config.users}
        self.digest = DigestAuthority(
            realm=config.realm,
            passwords={user.login: user.secret for user in config.users},
            nonce_lifetime=config.nonce_lifetime,
            clock=clock,
        )
        self.tokens = TokenIssuer(
            clients={client.login: client for client in config.clients},
            tenant=config.tenant,
            lifetime=config.token_lifetime,
            clock=clock,
        )
        self.classic = Dialect(self._classic_gate, lower_names=False, any_case_keys=False)
        self.v2 = Dialect(self._v2_gate, lower_names=True, any_case_keys=True)

    def application(self) -> web.Application:
        app = web.Application(middlewares=[self._count, self._routing_errors])
        for prefix, dialect, name in ((CLASSIC, self.classic, "classic"), (V2, self.v2, "v2")):
            app.router.add_post(prefix + "/callinglist/get/{list}/{campaign}",
                                self._bind(self._query, dialect), name=f"{name}:query")
            app.router.add_post(prefix + "/callinglist/getAll/{list}/{campaign}",
                                self._bind(self._get_all, dialect), name=f"{name}:getAll")
            for endpoint, completed in (("getChanged", False), ("getCompleted", True)):
                app.router.add_post(prefix + f"/callinglist/{endpoint}/{{list}}/{{campaign}}",
                                    self._bind(functools.partial(self._changes, completed=completed), dialect),
                                    name=f"{name}:{endpoint}")
            for suffix, variant in (("/", ""), ("", ".bare")):
                app.router.add_get(prefix + "/campaign/getAll" + suffix, self._bind(self._campaigns, dialect),
                                   name=f"{name}:campaigns{variant}")
        app.router.add_post(V2 + "/oauth/token", self._token, name="v2:token")
        V3Routes(self.catalog, self.stats, self._v2_gate, self._inject_fault, self._token, self.config.quirks,
                 self.config.faults.seed).add_to(app)
        app.router.add_get("/__stats", self._stats, name="stats:read")
        app.router.add_post("/__stats/reset", self._reset_stats, name="stats:reset")
        app.router.add_post("/__activity", self._activity, name="admin:activity")
        accept_doubled_slashes(app)
        return app

    @staticmethod
    def _bind(handler: Callable[[web.Request, Dialect], Awaitable[web.StreamResponse]],
              dialect: Dialect) -> Handler:
        async def bound(request: web.Request) -> web.StreamResponse:
            return await handler(request, dialect)
        return bound

    # -- middlewares ---------------------------------------------------------------------------

    @web.middleware
    async def _count(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        name = request.match_info.route.name or "other:other"
        if name.startswith(("stats:", "admin:")):  # the simulator's own controls are not API traffic
            return await handler(request)
        self.stats.request_started(name.split(":")[1].split(".")[0], self.clock())
        http_status: int | None = None
        try:
            response = await handler(request)
            http_status = None if isinstance(response, DroppedConnection) else response.status
            return response
        finally:
            self.stats.request_finished(http_status)

    @web.middleware
    async def _routing_errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        error = request.match_info.http_exception
        if isinstance(error, web.HTTPMethodNotAllowed):
            allow = ",".join(sorted(error.allowed_methods))
            return text_response(405, answers.METHOD_NOT_ALLOWED, {hdrs.ALLOW: allow})
        if error is not None:
            return text_response(404, answers.PATH_NOT_FOUND)
        return await handler(request)

    # -- authentication gates ------------------------------------------------------------------

    def _classic_gate(self, request: web.Request) -> web.Response | None:
        if request.match_info["tenant"] != self.config.tenant:
            return text_response(404, answers.PATH_NOT_FOUND)
        result = self.digest.verify(request.method, request.raw_path, request.headers.get(hdrs.AUTHORIZATION))
        if result.verdict is Verdict.OK and result.login is not None:
            return None if self.users[result.login].privileged else text_response(403, answers.NO_PRIVILEGE)
        stale = result.verdict is Verdict.STALE
        self.stats.challenged(stale=stale)
        challenge = {hdrs.WWW_AUTHENTICATE: self.digest.challenge(stale=stale)}
        return text_response(401, CLASSIC_UNAUTHORIZED, challenge)

    def _v2_gate(self, request: web.Request) -> web.Response | None:
        holder = self.tokens.holder(request.headers.get(hdrs.AUTHORIZATION))
        if holder is None:
            return text_response(401, NOT_AUTHENTICATED)
        return None if holder.privileged else text_response(403, answers.NO_PRIVILEGE)

    # -- handlers ------------------------------------------------------------------------------

    async def _query(self, request: web.Request, dialect: Dialect) -> web.StreamResponse:
        if (denied := dialect.gate(request)) is not None:
            return denied
        body = answers.parse_json(await request.read())
        calling_list = self.catalog.lists.get(request.match_info["list"])
        key = answers.key_values(body, calling_list, any_case=dialect.any_case_keys) if calling_list else None
        if isinstance(key, tuple):
            self.stats.key_queried("|".join(key))
        if (faulted := await self._inject_fault(request)) is not None:
            return faulted
        campaign = request.match_info["campaign"]
        return refusal_or_json(answers.answer_query(body, calling_list, key, campaign, lower_names=dialect.lower_names,
                                                    loose_plus=self.config.quirks.loose_phone_keys))

    async def _get_all(self, request: web.Request, dialect: Dialect) -> web.StreamResponse:
        return await self._page(request, dialect, functools.partial(
            answers.answer_page, quirks=self.config.quirks, seed=self.config.faults.seed))

    async def _changes(self, request: web.Request, dialect: Dialect, *, completed: bool) -> web.StreamResponse:
        return await self._page(request, dialect, functools.partial(
            answer_changes, completed=completed, in_index_order=self.config.quirks.changes_in_index_order))

    async def _page(self, request: web.Request, dialect: Dialect, answer: PageAnswer) -> web.StreamResponse:
        """A page of records (getAll, getChanged, getCompleted): authenticated, maybe faulted, then answered."""
        if (denied := dialect.gate(request)) is not None:
            return denied
        body = answers.parse_json(await request.read())
        if (faulted := await self._inject_fault(request)) is not None:
            return faulted
        calling_list = self.catalog.lists.get(request.match_info["list"])
        return refusal_or_json(answer(body, calling_list, request.match_info["campaign"],
                                      lower_names=dialect.lower_names))

    async def _activity(self, request: web.Request) -> web.StreamResponse:
        body = answers.parse_json(await request.read())
        if isinstance(body, Refusal):
            return refusal_or_json(body)
        fields: dict[str, Any] = {name: body[name] for name in ("attempts", "complete", "add", "delete", "seed")
                                  if name in body}
        list_name, campaign = body.get("list"), body.get("campaign")
        try:
            plan = ActivityPlan(**fields)
        except TypeError as exc:  # pragma: no cover - the names are filtered above
            return text_response(400, str(exc))
        return refusal_or_json(self.move_on(plan, list_name=list_name, campaign=campaign))

    def move_on(self, plan: ActivityPlan, *, list_name: object = None, campaign: object = None) -> (
            dict[str, object] | Refusal):
        """Make a round of calling activity; the list may go unnamed when there is one, the campaign too."""
        if list_name is None and len(self.catalog.lists) == 1:
            list_name = next(iter(self.catalog.lists))
        calling_list = self.catalog.lists.get(list_name) if isinstance(list_name, str) else None
        if calling_list is None:
            return Refusal(404, f"{answers.LIST_NOT_FOUND}: {list_name!r}; lists: {', '.join(self.catalog.lists)}")
        if campaign is None and calling_list.campaigns:
            campaign = calling_list.campaigns[0]
        if not isinstance(campaign, str) or campaign not in calling_list.campaigns:
            return Refusal(404, f"{answers.CAMPAIGN_NOT_FOUND}: {campaign!r}; list {calling_list.name!r} is in "
                                f"{', '.join(calling_list.campaigns) or 'no campaign'}")
        try:
            return move_on(calling_list, campaign, plan, self.clock)
        except ActivityRefused as exc:
            return Refusal(400, str(exc))

    async def _campaigns(self, request: web.Request, dialect: Dialect) -> web.StreamResponse:
        if (denied := dialect.gate(request)) is not None:
            return denied
        return json_response(answers.answer_campaigns(self.catalog))

    async def _token(self, request: web.Request) -> web.StreamResponse:
        form = {name: value for name, value in (await request.post()).items() if isinstance(value, str)}
        result = self.tokens.issue(form)
        if isinstance(result, TokenRefused):
            return text_response(result.http_status, result.text)
        self.stats.token_issued()
        return json_response(result)

    async def _stats(self, request: web.Request) -> web.StreamResponse:
        include_keys = request.query.get("keys", "") not in ("", "0", "false")
        return json_response(self.stats.snapshot(include_keys=include_keys))

    async def _reset_stats(self, request: web.Request) -> web.StreamResponse:
        self.stats.reset()
        return web.Response(status=204)

    # -- faults --------------------------------------------------------------------------------

    async def _inject_fault(self, request: web.Request) -> web.StreamResponse | None:
        """An injected answer (or a dropped connection), or ``None`` to answer normally."""
        plan = self.faults.plan(self.clock())
        if plan.fault is not None:
            self.stats.fault_injected(plan.fault.value)
        if plan.fault is Fault.RATE_CEILING:
            return text_response(429, "HTTP 429 Too Many Requests", {hdrs.RETRY_AFTER: "1"})
        if plan.delay:
            await asyncio.sleep(plan.delay)
        if plan.fault is Fault.STALL:
            await asyncio.sleep(self.config.faults.stall_seconds)
        return self._fault_answer(request, plan.fault)

    def _fault_answer(self, request: web.Request, fault: Fault | None) -> web.StreamResponse | None:
        if fault is Fault.FAIL_503:
            return text_response(503, "HTTP 503 Service Unavailable")
        if fault is Fault.FAIL_429:
            retry_after = self.config.faults.retry_after
            headers = {hdrs.RETRY_AFTER: f"{retry_after:g}"} if retry_after is not None else None
            return text_response(429, "HTTP 429 Too Many Requests", headers)
        if fault is Fault.HTML:
            return web.Response(status=200, text=PROXY_ERROR_PAGE, content_type="text/html")
        if fault is Fault.RESET:
            if request.transport is not None:
                request.transport.abort()
            return DroppedConnection()
        return None


def build_app(config: SimulatorConfig, catalog: Catalog, clock: Callable[[], float]) -> tuple[
        web.Application, Simulator]:
    """The application serving ``catalog``, and the simulator state behind it."""
    simulator = Simulator(config, catalog, clock)
    return simulator.application(), simulator
