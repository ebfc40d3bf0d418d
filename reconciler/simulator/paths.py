"""Doubled slashes in a path: a live server answered ``//configapi//v2//callinglist//get//List_1.txt//Camp_1``
as the single-slash path, without a redirect, and so does the simulator, on every route.

aiohttp matches routes on the path as sent (its ``normalize_path_middleware`` would redirect), so a
last-resort resource, tried after every other, resolves a copy of the request whose slashes are
merged and lends the original request that route. The handler sees the original path (a digest
answer is computed over the path as the client sent it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from aiohttp.web_urldispatcher import AbstractRoute, UrlDispatcher, UrlMappingMatchInfo, _InfoDict
from yarl import URL

_SLASHES = re.compile(r"/{2,}")


class MergedSlashes(web.AbstractResource):
    """Matches a path with doubled slashes to the route its single-slash form matches, if any."""

    def __init__(self, router: UrlDispatcher) -> None:
        super().__init__()
        self._router = router

    @property
    def canonical(self) -> str:
        return "/"  # indexed at the root, which the router tries last

    async def resolve(self, request: web.Request) -> tuple[UrlMappingMatchInfo | None, set[str]]:
        raw_path = request.rel_url.raw_path
        if "//" not in raw_path:
            return None, set()
        merged = URL.build(path=_SLASHES.sub("/", raw_path), query_string=request.rel_url.raw_query_string,
                           encoded=True)
        match = await self._router.resolve(request.clone(rel_url=merged))
        error = match.http_exception
        if isinstance(error, web.HTTPMethodNotAllowed):
            return None, set(error.allowed_methods)
        return (None, set()) if error is not None else (match, set())

    def url_for(self, **kwargs: Any) -> URL:
        raise NotImplementedError("a path with doubled slashes is answered, never built")

    def add_prefix(self, prefix: str) -> None:
        raise NotImplementedError("the simulator has no sub-applications")

    def get_info(self) -> _InfoDict:
        return {"path": "//"}

    def raw_match(self, path: str) -> bool:
        return False

    def __len__(self) -> int:
        return 0

    def __iter__(self) -> Iterator[AbstractRoute]:
        return iter(())


def accept_doubled_slashes(app: web.Application) -> None:
    """Register the last-resort resource; call after every route is added."""
    app.router.register_resource(MergedSlashes(app.router))
