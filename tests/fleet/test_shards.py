"""Shards: whole tenants, sorted by name and dealt round-robin; the same file, the same partition."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.errors import UsageError
from reconciler.fleet.file import load_fleet
from reconciler.fleet.run import fleet_exit_code
from reconciler.fleet.shards import Shard, parse_shard, partition, shard_from_environment, tenants_of


def fleet_of(tmp_path: Path, names: list[str]) -> Path:
    text = '[defaults]\ninput = "k.csv"\noutput = "out/{tenant}/{campaign}/{list}.parquet"\n'
    for name in names:
        text += (f'[[tenants]]\ntenant = "{name}"\nbase_url = "https://{name}"\n'
                 '[[tenants.targets]]\ncampaign = "C1"\nlist = "L"\n[[tenants.targets]]\ncampaign = "C2"\nlist = "L"\n')
    path = tmp_path / "fleet.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("count", [1, 2, 3, 7, 12])
def test_every_tenant_is_in_exactly_one_shard_with_all_its_targets(tmp_path: Path, count: int) -> None:
    names = [f"tenant-{n:02d}.example.com" for n in (5, 3, 9, 1, 7, 2, 8)]
    fleet = load_fleet(fleet_of(tmp_path, names))
    shards = partition(fleet, count)
    placed = [tenant.tenant for shard in shards for tenant in shard]
    assert sorted(placed) == sorted(names) and len(placed) == len(names)
    targets = [target.name for shard in shards for tenant in shard for target in tenant.targets]
    assert len(targets) == len(set(targets)) == 2 * len(names)
    assert max(map(len, shards)) - min(map(len, shards)) <= 1  # dealt evenly
    assert [list(tenants_of(fleet, Shard(index, count))) for index in range(count)] == [list(s) for s in shards]


def test_the_partition_depends_on_the_names_not_on_their_order_in_the_file(tmp_path: Path) -> None:
    names = ["c.example.com", "a.example.com", "b.example.com"]
    first = [[t.tenant for t in shard] for shard in partition(load_fleet(fleet_of(tmp_path, names)), 2)]
    second = [[t.tenant for t in shard] for shard in partition(load_fleet(fleet_of(tmp_path, names[::-1])), 2)]
    assert first == second == [["a.example.com", "c.example.com"], ["b.example.com"]]


@pytest.mark.parametrize("text", ["3/3", "1", "-1/2", "a/b", "0/0"])
def test_a_bad_shard_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="shard"):
        parse_shard(text)


def test_the_index_comes_from_job_completion_index() -> None:
    assert shard_from_environment(4, {"JOB_COMPLETION_INDEX": "2"}) == Shard(2, 4)
    with pytest.raises(UsageError, match="JOB_COMPLETION_INDEX is not set"):
        shard_from_environment(4, {})
    with pytest.raises(UsageError, match="0-based"):
        shard_from_environment(4, {"JOB_COMPLETION_INDEX": "4"})


@pytest.mark.parametrize(("codes", "stopped", "expected"), [
    ([], None, 0), ([0, 0], None, 0), ([0, 1], None, 1), ([0, 3], None, 1), ([2, 0], None, 1), ([3, 3], None, 3),
    ([0, 130], 130, 130), ([0, 0], 143, 143),
])
def test_the_fleet_exit_code(codes: list[int], stopped: int | None, expected: int) -> None:
    assert fleet_exit_code(codes, stopped) == expected
