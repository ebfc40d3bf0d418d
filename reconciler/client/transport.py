"""The aiohttp boundary: one POST in, one plain ``Reply`` out; aiohttp's errors are translated here.

No answer at all (timeout, refused or reset connection, cut-off body) becomes ``AttemptFailed``,
which the retry policy retries (marked when no connection was made at all, naming host:port and
why); a rejected TLS certificate, and a forward proxy that refuses to carry the request (407, 403),
stop the run. Nothing else in the client imports aiohttp except the session factory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime

import aiohttp
from aiohttp import hdrs
from yarl import URL

from reconciler.client.answer import NOT_JSON, parse_document
from reconciler.client.reply import AttemptFailed, Reply, parse_retry_after
from reconciler.errors import ProxyRefused, TlsCertificateInvalid


async def post(session: aiohttp.ClientSession, url: URL, *, max_bytes: int, json_body: object = None,
               form: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None) -> Reply:
    """POST ``json_body`` (or ``form``) to ``url`` once, without following redirects."""
    return await send(session, "POST", url, max_bytes=max_bytes, json_body=json_body, form=form, headers=headers)


async def send(session: aiohttp.ClientSession, method: str, url: URL, *, max_bytes: int, json_body: object = None,
               form: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None) -> Reply:
    """Send one GET or POST (a GET carries no body), without following redirects."""
    try:
        opener = session.get if method == "GET" else session.post  # the only two the API uses
        async with opener(url, json=json_body, data=form, headers=headers, allow_redirects=False) as response:
            return await _reply(response, url, max_bytes)
    except aiohttp.ClientSSLError as exc:
        raise TlsCertificateInvalid(str(url.origin()), _tls_detail(exc)) from exc
    except aiohttp.ClientHttpProxyError as exc:  # the proxy's answer to CONNECT, for an https:// server
        raise _proxy_error(exc, url) from exc
    except aiohttp.ConnectionTimeoutError as exc:  # a TimeoutError too: before it
        raise AttemptFailed(f"cannot connect to {url.host}:{url.port} (connection timed out)",
                            connected=False) from exc
    except TimeoutError as exc:
        raise AttemptFailed("timeout") from exc
    except aiohttp.ClientConnectorError as exc:
        raise AttemptFailed(f"cannot connect to {exc.host}:{exc.port} ({_connect_cause(exc)})",
                            connected=False) from exc
    except aiohttp.ClientError as exc:
        raise AttemptFailed(_failure(exc)) from exc


async def _reply(response: aiohttp.ClientResponse, url: URL, max_bytes: int) -> Reply:
    headers = response.headers
    announced = response.content_length
    body: bytes | None
    if announced is not None and announced > max_bytes:
        body = None
    elif announced is not None and hdrs.CONTENT_ENCODING not in headers:
        # The body is exactly the announced bytes (aiohttp stops there; fewer is a cut-off answer),
        # so it cannot pass the limit: read whole, without the capped loop's chunks and copy.
        # A compressed body may inflate past its Content-Length: it takes the capped read.
        body = await response.read()
    else:
        body = await _read_capped(response, max_bytes)
    retry_after = headers.get(hdrs.RETRY_AFTER)
    return Reply(
        status=response.status,
        url=url,
        content_type=headers.get(hdrs.CONTENT_TYPE, "").partition(";")[0].strip().lower(),
        body=body,
        size=len(body) if body is not None else (announced or max_bytes + 1),
        retry_after=None if retry_after is None else parse_retry_after(retry_after, datetime.now(UTC)),
        location=headers.get(hdrs.LOCATION),
        document=parse_document(body) if response.status == 200 and body is not None else NOT_JSON,
    )


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes | None:
    """The whole body, or None as soon as it grows past ``max_bytes`` (the rest is never read)."""
    body = bytearray()
    while len(body) <= max_bytes:
        chunk = await response.content.read(max_bytes + 1 - len(body))
        if not chunk:
            return bytes(body)
        body += chunk
    return None


def _failure(exc: aiohttp.ClientError) -> str:
    # Class names only: messages of some aiohttp errors quote the request, and a short, stable
    # text groups well in the output table.
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "connection closed by the server"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "answer cut off"
    if isinstance(exc, aiohttp.ClientConnectionError):
        return f"connection failed ({type(exc).__name__})"
    return f"request failed ({type(exc).__name__})"


def _proxy_error(exc: aiohttp.ClientHttpProxyError, url: URL) -> ProxyRefused | AttemptFailed:
    # An answer to CONNECT is the proxy's own. 407 (tinyproxy: 401) and 403 stay what they are on every
    # retry; a 502 or 504 (the server unreachable from the proxy) may pass, as a server's would.
    if exc.status in (401, 403, 407):
        # The proxy's URL as aiohttp holds it may carry the proxy's password: only its origin is named.
        return ProxyRefused(str(exc.request_info.real_url.origin()), exc.status, exc.message,
                            f"{url.host}:{url.port}")
    return AttemptFailed(f"the proxy answered HTTP {exc.status}")


def _connect_cause(exc: aiohttp.ClientConnectorError) -> str:
    """Why no connection was made, as an operator reads it: ``connection refused``, ``DNS lookup failed: ...``."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"DNS lookup failed: {exc.strerror}" if exc.strerror else "DNS lookup failed"
    if exc.errno and exc.errno > 0:  # asyncio's own text ("Connect call failed (...)") does not say why
        return os.strerror(exc.errno).lower()
    return exc.strerror or type(exc).__name__


def _tls_detail(exc: aiohttp.ClientSSLError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return str(exc.certificate_error)
    return exc.strerror or type(exc).__name__
