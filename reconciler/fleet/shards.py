"""Shards: a fixed slice of a fleet's tenants for each of N processes, a tenant never split.

Tenants are sorted by name and dealt round-robin: shard ``I`` of ``N`` (0-based, as Kubernetes'
``JOB_COMPLETION_INDEX``) runs the tenants at positions ``I``, ``I + N``, ``I + 2N``, ... So the
same file always gives the same partition, every tenant is in exactly one shard, and a tenant's
targets (listed or discovered) all run in the process that owns its rate budget. Adding a tenant
may move others to another shard; their journals and states stay where their paths put them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from reconciler.errors import UsageError
from reconciler.fleet.file import Fleet, TenantSpec

INDEX_VARIABLE = "JOB_COMPLETION_INDEX"
_SHARD = re.compile(r"(\d+)/(\d+)")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``, 0-based."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.count <= 10_000 or not 0 <= self.index < self.count:
            raise UsageError(f"shard {self.index}/{self.count}: expected I/N with N from 1 to 10000 and I from 0 "
                             "to N-1 (0-based, as JOB_COMPLETION_INDEX)")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``--shard I/N``."""
    match = _SHARD.fullmatch(text.strip())
    if match is None:
        raise UsageError(f"--shard: {text!r} is not I/N, e.g. 0/4 (0-based)")
    return Shard(int(match[1]), int(match[2]))


def shard_from_environment(count: int, environ: Mapping[str, str]) -> Shard:
    """``--shards N``: the index from ``JOB_COMPLETION_INDEX`` (a Kubernetes Indexed Job sets it)."""
    index = environ.get(INDEX_VARIABLE, "")
    if not index.strip().isdigit():
        raise UsageError(f"--shards {count}: the environment variable {INDEX_VARIABLE} is "
                         f"{'not set' if not index else repr(index)}; pass --shard I/N instead")
    return Shard(int(index), count)


def tenants_of(fleet: Fleet, shard: Shard | None) -> tuple[TenantSpec, ...]:
    """The tenants ``shard`` runs (all of them without a shard), sorted by name."""
    ordered = sorted(fleet.tenants, key=lambda tenant: tenant.tenant)
    return tuple(ordered if shard is None else ordered[shard.index::shard.count])


def partition(fleet: Fleet, count: int) -> list[Sequence[TenantSpec]]:
    """Every shard's tenants, shard 0 first: what ``--plan`` shows."""
    return [tenants_of(fleet, Shard(index, count)) for index in range(count)]
