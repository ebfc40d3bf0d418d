"""The fleet file: which targets ``reconciler fleet`` reconciles, read and validated in this one place.

::

    parallel = 4                        # targets reconciled at once by one process [4]
    ledger = "out/acme.fleet-ledger"    # where a killed fleet's rerun learns what had finished

    [defaults]                          # run settings every target starts from
    key = ["account_id"]
    input = "crm/{tenant}/{campaign}/{list}.csv"
    output = "status/{tenant}/{campaign}/{list}/run_date={date}/status.parquet"

    [[tenants]]
    tenant = "acme.brightpattern.com"
    base_url = "https://acme.brightpattern.com"
    dialect = "classic"
    login_env = "ACME_BP_USERNAME"      # the names of the environment variables, never the values
    secret_env = "ACME_BP_PASSWORD"
    rate = 20                           # the tenant's budget: every target of it shares this rate
    discover = true                     # every list of every campaign Get Campaigns shows, filtered:
    campaigns = ["Outbound_*"]          #   fnmatch patterns, case-sensitive
    states = ["RUNNING"]

    [[tenants.targets]]                 # and/or targets named one by one
    campaign = "Outbound_Q4"
    list = "List_1.txt"
    strategy = "scan"

A run setting (any key of ``reconciler run --config`` but the server's, the credentials and the
presentation) set on a target overrides its tenant's, which overrides ``[defaults]``. Paths may hold
``{tenant}``, ``{campaign}`` and ``{list}`` (filled in here, each name made one safe path segment),
and ``{date}`` and ``{run_id}`` where ``reconciler run`` takes them. Every error names the file, the
table (the tenant, the target) and the key.
"""

from __future__ import annotations

import hashlib
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.config import DIALECTS, Target
from reconciler.errors import ReconcilerError, UsageError
from reconciler.wiring.settings import checked_setting
from reconciler.wiring.toml_file import read_toml

RUN_KEYS = frozenset({"input", "output", "key", "strategy", "unmatched", "changes", "state", "journal", "concurrency",
                      "max_attempts", "timeout", "max_backoff", "failure_span", "input_format", "output_format",
                      "input_encoding", "skip_bad_rows", "full_refresh_after", "overlap", "insecure"})
TARGET_ONLY_KEYS = frozenset({"campaign_id", "instance_id"})  # v3 ids name one campaign: never a default
TENANT_KEYS = frozenset({"tenant", "base_url", "dialect", "login_env", "secret_env", "secret_file", "rate",
                         "discover", "campaigns", "lists", "states", "targets"})
DEFAULTABLE_TENANT_KEYS = frozenset({"dialect", "rate"})
TOP_KEYS = frozenset({"parallel", "ledger", "defaults", "tenants"})
PATH_KEYS = ("input", "output", "unmatched", "changes", "state", "journal")
HISTORY_KEYS = frozenset({"output", "unmatched", "changes"})  # where {date} and {run_id} also work
FLEET_PLACEHOLDERS = ("tenant", "campaign", "list")
PER_TARGET_KEYS = ("output", "state", "journal", "unmatched", "changes")  # one file per target
DEFAULT_PARALLEL = 4
DEFAULT_RATE = 20.0
CREDENTIAL_VARIABLES = {"classic": ("BP_USERNAME", "BP_PASSWORD"), "v2": ("BP_CLIENT_ID", "BP_CLIENT_SECRET"),
                        "v3": ("BP_CLIENT_ID", "BP_CLIENT_SECRET")}


class FleetFileError(UsageError):
    """The fleet file cannot be used: its message names the file, the table and the key."""


@dataclass(frozen=True, kw_only=True)
class Discovery:
    """Which of Get Campaigns' lists become targets: fnmatch patterns and campaign states (empty: any)."""

    campaigns: tuple[str, ...] = ("*",)
    lists: tuple[str, ...] = ("*",)
    states: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class TargetSpec:
    """One (list, campaign) of a tenant, with its run settings merged and its paths still templates."""

    tenant: str
    campaign: str
    list_name: str
    settings: Mapping[str, Any]
    discovered: bool = False

    @property
    def name(self) -> str:
        """How messages and the report name the target: ``tenant/campaign/list``."""
        return f"{self.tenant}/{self.campaign}/{self.list_name}"


@dataclass(frozen=True, kw_only=True)
class TenantSpec:
    """One tenant: its server, where its credentials are, its rate budget, and its targets."""

    tenant: str
    base_url: str
    dialect: str
    login_env: str
    secret_env: str
    secret_file: str | None
    rate: float
    settings: Mapping[str, Any]  # run settings its discovered targets start from
    targets: tuple[TargetSpec, ...]
    discovery: Discovery | None = None


@dataclass(frozen=True, kw_only=True)
class Fleet:
    """A validated fleet file; its tenants sorted by name."""

    path: Path
    digest: str  # of the file's bytes: a rerun resumes a ledger only of the same file
    parallel: int = DEFAULT_PARALLEL
    ledger: Path | None = None
    tenants: tuple[TenantSpec, ...] = field(default_factory=tuple)

    @property
    def explicit_targets(self) -> tuple[TargetSpec, ...]:
        return tuple(target for tenant in self.tenants for target in tenant.targets)


def load_fleet(path: Path) -> Fleet:
    """Read and validate ``path``; ``FleetFileError`` (exit 2) names the file, the table and the key."""
    raw, data = read_toml(path, "fleet file")
    return _Reader(path).fleet(data, hashlib.sha256(raw).hexdigest())


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, key: str | None, problem: str) -> FleetFileError:
        named = f"key {key!r}: " if key is not None else ""
        return FleetFileError(f"{self.path}: {where}: {named}{problem}")

    def fleet(self, data: dict[str, Any], digest: str) -> Fleet:
        self.unknown(data, TOP_KEYS, "top level")
        parallel = data.get("parallel", DEFAULT_PARALLEL)
        if not _is_int(parallel) or not 1 <= parallel <= 64:
            raise self.fail("top level", "parallel", f"must be an integer from 1 to 64, not {parallel!r}")
        ledger = data.get("ledger")
        if ledger is not None and (not isinstance(ledger, str) or not ledger.strip()):
            raise self.fail("top level", "ledger", f"must be a path, not {ledger!r}")
        defaults = self.table(data.get("defaults", {}), "[defaults]", "defaults")
        self.unknown(defaults, RUN_KEYS | DEFAULTABLE_TENANT_KEYS, "[defaults]")
        tenants_data = data.get("tenants")
        if not isinstance(tenants_data, list) or not tenants_data:
            raise self.fail("top level", "tenants", "at least one [[tenants]] table is required")
        tenants = [self.tenant(self.table(item, f"tenants[{n}]", None), n, defaults)
                   for n, item in enumerate(tenants_data, 1)]
        self.distinct_tenants(tenants)
        fleet = Fleet(path=self.path, digest=digest, parallel=parallel, ledger=Path(ledger) if ledger else None,
                      tenants=tuple(sorted(tenants, key=lambda tenant: tenant.tenant)))
        clashes = clashing_paths(fleet.explicit_targets)
        if clashes:
            raise self.fail(clashes[0], clashes[1], clashes[2])
        return fleet

    def table(self, value: object, where: str, key: str | None) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, key, f"must be a table, not {type(value).__name__}")
        return {name.replace("-", "_"): item for name, item in value.items()}

    def unknown(self, data: Mapping[str, Any], known: frozenset[str], where: str) -> None:
        for key in data:
            if key not in known:
                secret = any(word in key.lower() for word in ("password", "passwd", "secret", "token"))
                hint = ("secrets are never read from the fleet file; name the environment variable that holds "
                        "one with secret_env, or a file with secret_file") if secret else \
                    f"unknown here; known keys: {', '.join(sorted(known))}"
                raise self.fail(where, key, hint)

    def tenant(self, data: dict[str, Any], number: int, defaults: Mapping[str, Any]) -> TenantSpec:
        name = data.get("tenant")
        where = f"tenant {name!r}" if isinstance(name, str) and name.strip() else f"tenants[{number}]"
        self.unknown(data, TENANT_KEYS | RUN_KEYS, where)
        for key in ("tenant", "base_url"):
            if not isinstance(data.get(key), str) or not data[key].strip():
                raise self.fail(where, key, "is required: a non-empty string")
        dialect = data.get("dialect", defaults.get("dialect", "classic"))
        if dialect not in DIALECTS:
            raise self.fail(where, "dialect", f"must be one of {', '.join(DIALECTS)}, not {dialect!r}")
        try:
            Target(base_url=data["base_url"], tenant=data["tenant"], list_name="-", campaign="-", dialect=dialect)
        except ReconcilerError as exc:
            raise self.fail(where, "base_url", str(exc)) from None
        rate = self.rate(data.get("rate", defaults.get("rate", DEFAULT_RATE)), where)
        login_env, secret_env = CREDENTIAL_VARIABLES[dialect]
        names = {key: data.get(key, fallback) for key, fallback in (("login_env", login_env),
                                                                   ("secret_env", secret_env))}
        for key, value in [*names.items(), ("secret_file", data.get("secret_file", ""))]:
            if not isinstance(value, str) or (key != "secret_file" and not value.strip()):
                raise self.fail(where, key, f"must be {'a path' if key == 'secret_file' else 'a variable name'}")
        settings = {**{k: v for k, v in defaults.items() if k in RUN_KEYS},
                    **self.run_settings(data, where, RUN_KEYS)}
        discovery = self.discovery(data, where)
        targets = tuple(self.target(self.table(item, where, "targets"), data["tenant"], where, n, settings)
                        for n, item in enumerate(self.array(data.get("targets", []), where, "targets"), 1))
        if discovery is None and not targets:
            raise self.fail(where, "targets", "a tenant needs [[tenants.targets]] or discover = true")
        if discovery is not None:
            self.per_target_templates(settings, where)
        return TenantSpec(tenant=data["tenant"], base_url=data["base_url"], dialect=dialect,
                          login_env=names["login_env"], secret_env=names["secret_env"],
                          secret_file=data.get("secret_file") or None, rate=rate, settings=settings,
                          targets=targets, discovery=discovery)

    def rate(self, value: object, where: str) -> float:
        try:
            rate = checked_setting("", "rate", value)
        except ReconcilerError:
            rate = None
        if not isinstance(rate, int | float) or isinstance(rate, bool) or not rate > 0:
            raise self.fail(where, "rate", f"must be requests per second above 0 (or \"inf\"), not {value!r}")
        return float(rate)

    def array(self, value: object, where: str, key: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(where, key, f"must be an array, not {type(value).__name__}")
        return value

    def discovery(self, data: Mapping[str, Any], where: str) -> Discovery | None:
        discover = data.get("discover", False)
        if not isinstance(discover, bool):
            raise self.fail(where, "discover", f"must be true or false, not {discover!r}")
        patterns = {}
        for key in ("campaigns", "lists", "states"):
            if key not in data:
                continue
            if not discover:
                raise self.fail(where, key, "is used with discover = true only")
            value = data[key]
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
                raise self.fail(where, key, "must be a non-empty array of non-empty strings")
            patterns[key] = tuple(value)
        return Discovery(**patterns) if discover else None

    def target(self, data: dict[str, Any], tenant: str, tenant_where: str, number: int,
               inherited: Mapping[str, Any]) -> TargetSpec:
        campaign, list_name = data.get("campaign"), data.get("list")
        where = f"{tenant_where}, target {number}"
        if isinstance(campaign, str) and isinstance(list_name, str):
            where = f"{tenant_where}, target {campaign!r} / {list_name!r}"
        self.unknown(data, RUN_KEYS | TARGET_ONLY_KEYS | {"campaign", "list"}, where)
        for key, value in (("campaign", campaign), ("list", list_name)):
            if not isinstance(value, str) or not value.strip():
                raise self.fail(where, key, "is required: a non-empty string")
        assert isinstance(campaign, str) and isinstance(list_name, str)
        settings = {**inherited, **self.run_settings(data, where, RUN_KEYS | TARGET_ONLY_KEYS)}
        return TargetSpec(tenant=tenant, campaign=campaign, list_name=list_name, settings=settings)

    def run_settings(self, data: Mapping[str, Any], where: str, allowed: frozenset[str]) -> dict[str, Any]:
        settings = {}
        for key, value in data.items():
            if key not in allowed:
                continue
            try:
                settings[key] = checked_setting(f"{self.path}: {where}", key, value)
            except ReconcilerError as exc:
                raise FleetFileError(str(exc)) from None
            if key in PATH_KEYS:
                self.template(value, where, key)
        return settings

    def template(self, value: str, where: str, key: str) -> None:
        allowed = (*FLEET_PLACEHOLDERS, *(("date", "run_id") if key in HISTORY_KEYS else ()))
        try:
            parts = list(string.Formatter().parse(value))
        except ValueError as exc:
            raise self.fail(where, key, f"is not a usable path template ({exc})") from None
        for _, name, spec, conversion in parts:
            if name is None:
                continue
            if name not in allowed or spec or conversion:
                raise self.fail(where, key, f"names the placeholder {{{name}}}; use "
                                            f"{', '.join('{' + n + '}' for n in allowed)}")

    def per_target_templates(self, settings: Mapping[str, Any], where: str) -> None:
        """Discovered targets must not share an output, a state or a journal: their paths name both."""
        if "output" not in settings:
            raise self.fail(where, "output", "is required (here or in [defaults]) for discover = true")
        for key in PER_TARGET_KEYS:
            value = settings.get(key)
            if value is not None and not all(f"{{{name}}}" in value for name in ("campaign", "list")):
                raise self.fail(where, key, "must hold {campaign} and {list} with discover = true, so that each "
                                            "discovered list gets a file of its own")

    def distinct_tenants(self, tenants: list[TenantSpec]) -> None:
        seen: set[str] = set()
        for tenant in tenants:
            if tenant.tenant in seen:
                raise self.fail(f"tenant {tenant.tenant!r}", "tenant", "is named twice; one [[tenants]] table holds "
                                                                       "all of a tenant's targets and its one budget")
            seen.add(tenant.tenant)


def target_files(target: TargetSpec) -> dict[str, str]:
    """The files the target writes, by key: rendered, resolved (templates of {date} and {run_id} kept)."""
    return {key: str(Path(render(str(target.settings[key]), target)).resolve())
            for key in PER_TARGET_KEYS if target.settings.get(key) is not None}


def clashing_paths(targets: tuple[TargetSpec, ...] | list[TargetSpec]) -> tuple[str, str, str] | None:
    """The first target that would write another's file, or name its pair again: (where, key, problem)."""
    owners: dict[str, TargetSpec] = {}
    pairs: set[tuple[str, str, str]] = set()
    for target in targets:
        where = f"tenant {target.tenant!r}, target {target.campaign!r} / {target.list_name!r}"
        pair = (target.tenant, target.campaign, target.list_name)
        if pair in pairs:
            return where, "list", "names this campaign and list a second time"
        pairs.add(pair)
        for key, path in target_files(target).items():
            other = owners.setdefault(path, target)
            if other is not target:
                return where, key, (f"names {path}, as target {other.name!r} does; give each target files of its own "
                                    "(use {tenant}, {campaign} and {list})")
    return None


class _KeepOthers(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"  # {date} and {run_id}: the run fills them in


def render(template: str, target: TargetSpec) -> str:
    """``template`` with ``{tenant}``, ``{campaign}`` and ``{list}`` filled in, each as one safe path segment."""
    names = _KeepOthers(tenant=path_segment(target.tenant), campaign=path_segment(target.campaign),
                        list=path_segment(target.list_name))
    return template.format_map(names)


_SAFE = frozenset(" _-+=,@().")


def path_segment(name: str) -> str:
    """``name`` as one path segment: ``/``, ``\\``, braces, ``%`` and control characters percent-encoded.

    Distinct names stay distinct (``%`` is encoded too), and a leading dot is encoded, so that no
    name becomes ``..``, a hidden file or a placeholder.
    """
    text = "".join(char if char.isalnum() or char in _SAFE else "".join(f"%{b:02X}" for b in char.encode())
                   for char in name)
    return "%2E" + text[1:] if text.startswith(".") else text


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
