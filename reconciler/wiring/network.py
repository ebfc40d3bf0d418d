"""How the server is reached, from the settings and the environment: part of the settings loader.

Besides ``settings.py`` this is the only module that reads the environment (from the mapping it is
given, never ``os.environ``):

- ``HTTPS_PROXY`` for an https:// base URL, ``HTTP_PROXY`` for an http:// one (each also in lower
  case, which wins, as Python's urllib reads them); a value without a scheme is taken as http://.
  ``NO_PROXY`` (or ``no_proxy``, which wins): comma-separated host names or addresses, domain
  suffixes (``.corp.example`` or ``corp.example`` both cover ``bp.corp.example``), ``host:port``
  entries, or ``*``; a base URL whose host it names is reached directly. Address ranges (CIDR) are
  not matched. ``ALL_PROXY`` and socks proxies are not used.
- ``SSL_CERT_FILE``: the CA bundle, when neither ``--ca-bundle`` nor the configuration file names one
  (a job's own setting beats a variable set for the whole machine) and certificates are verified
  with the default trust (not ``--insecure``, not ``--system-trust-store``).

The run talks to one origin (the token URL and every followed redirect share it), so the proxy is
chosen once, here, and the client is handed the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from yarl import URL

from reconciler.config import PROXY_EXPECTED, is_proxy_url, shown_proxy
from reconciler.errors import InvalidOption


def network_settings(settings: Mapping[str, Any], environ: Mapping[str, str], base_url: str) -> dict[str, Any]:
    """The ``RequestPolicy`` fields that say how the server is reached and whom it is trusted on."""
    insecure, system_store = bool(settings.get("insecure", False)), bool(settings.get("system_trust_store", False))
    bundle = settings.get("ca_bundle")
    if not bundle and not insecure and not system_store:
        bundle = environ.get("SSL_CERT_FILE")
    return {"verify_tls": not insecure, "system_trust_store": system_store,
            "ca_bundle": Path(bundle) if bundle else None, "proxy": proxy_for(base_url, environ)}


def proxy_for(base_url: str, environ: Mapping[str, str]) -> str | None:
    """The forward proxy the environment names for ``base_url``; None to reach it directly."""
    url = URL(base_url)
    variable = next((name for name in (f"{url.scheme}_proxy", f"{url.scheme}_proxy".upper())
                     if environ.get(name, "").strip()), None)
    if variable is None or _bypassed(url, environ.get("no_proxy") or environ.get("NO_PROXY") or ""):
        return None
    proxy = environ[variable].strip()
    proxy = proxy if "://" in proxy else f"http://{proxy}"
    if not is_proxy_url(proxy):
        raise InvalidOption(variable, shown_proxy(proxy), PROXY_EXPECTED)
    return proxy


def _bypassed(url: URL, no_proxy: str) -> bool:
    host = (url.host or "").lower()
    for entry in (part.strip().lower() for part in no_proxy.split(",")):
        if entry == "*":
            return True
        name, port = _host_and_port(entry)
        name = name.removeprefix("*").lstrip(".")
        if name and port in (None, url.port) and (host == name or host.endswith("." + name)):
            return True
    return False


def _host_and_port(entry: str) -> tuple[str, int | None]:
    """``example.com`` / ``example.com:8443`` / ``::1`` / ``[::1]:8443`` split into the host and any port."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest[:1] == ":" and rest[1:].isdigit() else None
    host, colon, port = entry.partition(":")
    if colon and port.isdigit() and ":" not in port:
        return host, int(port)
    return entry, None
