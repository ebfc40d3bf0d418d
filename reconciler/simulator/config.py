"""The simulator's configuration: frozen, keyword-only dataclasses validated when built."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.errors import InvalidOption
from reconciler.simulator.faults import FaultConfig
from reconciler.simulator.quirks import QuirkConfig

DEFAULT_TENANT = "demo.brightpattern.com"
DEFAULT_CAMPAIGN = "Campaign_1"
DEFAULT_REALM = "ServicePattern"


def _require(ok: bool, option: str, value: object, expected: str) -> None:
    if not ok:
        raise InvalidOption(option, value, expected)


@dataclass(frozen=True, kw_only=True)
class ListSource:
    """A records file and how to serve it (see ``reconciler.simulator.records`` for the format)."""

    path: Path
    list_name: str | None = None  # None: the file's name, e.g. "records.csv" (or its `_list` column)
    campaigns: tuple[str, ...] = (DEFAULT_CAMPAIGN,)  # for rows with no `_campaign` value
    key_fields: tuple[str, ...] = ()  # empty: the first entry column

    def __post_init__(self) -> None:
        _require(self.list_name is None or bool(self.list_name.strip()), "--list", self.list_name,
                 "a non-empty list name")
        _require(all(c.strip() for c in self.campaigns), "--campaign", list(self.campaigns),
                 "non-empty campaign names")
        _require(len(set(self.key_fields)) == len(self.key_fields), "--key-fields", list(self.key_fields),
                 "each key field once")


@dataclass(frozen=True, kw_only=True)
class Account:
    """A digest user (classic) or an API client (v2); ``privileged`` means it has Manage lists."""

    login: str
    secret: str = field(repr=False)
    privileged: bool = True

    def __post_init__(self) -> None:
        _require(bool(self.login) and ":" not in self.login, "account", self.login,
                 "a non-empty login without ':'")

    def __repr__(self) -> str:
        return f"Account(login={self.login!r}, secret='***', privileged={self.privileged})"


@dataclass(frozen=True, kw_only=True)
class SimulatorConfig:
    """Everything a simulated Bright Pattern tenant needs: its data, accounts, timings and faults."""

    lists: tuple[ListSource, ...]
    tenant: str = DEFAULT_TENANT
    users: tuple[Account, ...] = (Account(login="demo", secret="demo-password"),)
    clients: tuple[Account, ...] = (Account(login="demo-client", secret="demo-secret"),)
    realm: str = DEFAULT_REALM
    nonce_lifetime: float | None = None  # seconds; None: digest nonces never go stale
    token_lifetime: float = 3600.0  # seconds
    faults: FaultConfig = field(default_factory=FaultConfig)
    quirks: QuirkConfig = field(default_factory=QuirkConfig)  # a live server's departures from the docs; off
    empty_campaigns: tuple[str, ...] = ()  # campaigns with no list bound ("lists": [])
    campaign_states: Mapping[str, str] = field(default_factory=dict)  # campaign -> state; default RUNNING
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port
    # Serve HTTPS with this certificate (PEM, the chain from the server's own up) and its private key.
    tls_cert: Path | None = None
    tls_key: Path | None = None

    def __post_init__(self) -> None:
        _require(bool(self.lists), "--records", [], "at least one records file")
        _require(bool(self.tenant.strip()), "--tenant", self.tenant, "a non-empty tenant name")
        _require('"' not in self.realm and "\\" not in self.realm, "realm", self.realm,
                 "a realm without quotes or backslashes")
        for option, accounts in (("--user", self.users), ("--client", self.clients)):
            logins = [account.login for account in accounts]
            _require(len(set(logins)) == len(logins), option, logins, "each login once")
        _require(self.nonce_lifetime is None or _positive(self.nonce_lifetime), "--nonce-lifetime",
                 self.nonce_lifetime, "seconds above 0")
        _require(_positive(self.token_lifetime), "--token-lifetime", self.token_lifetime, "seconds above 0")
        _require(0 <= self.port <= 65535, "--port", self.port, "a port number from 0 to 65535")
        _require((self.tls_cert is None) == (self.tls_key is None), "--tls-cert/--tls-key",
                 f"{self.tls_cert}/{self.tls_key}", "both, or neither")
        _require(all(c.strip() for c in self.empty_campaigns), "--empty-campaign", list(self.empty_campaigns),
                 "non-empty campaign names")
        for campaign, state in self.campaign_states.items():
            _require(bool(campaign.strip()) and bool(state) and not any(c.isspace() for c in state),
                     "--campaign-state", f"{campaign}={state}", "NAME=STATE, e.g. Campaign_2=STOPPED")


def _positive(seconds: float) -> bool:
    return seconds > 0 and math.isfinite(seconds)
