"""``reconciler fleet`` end to end: the real CLI against one real simulator per tenant, over loopback with digest auth.

The simulator serves one tenant a process (a tenant is a server of its own in production too), so
a fleet of two tenants is two simulators.
"""

from __future__ import annotations

import json
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from conftest import CLIENT_SECRET, PASSWORD, run_cli, started_cli, wait_until, write_list

from reconciler.simulator import Account, FaultConfig, ListSource, RunningSimulator, SimulatorConfig, run_simulator

pytestmark = pytest.mark.anyio
ACME, BETA = "acme.example.com", "beta.example.com"
CREDENTIALS = {"ACME_USER": "demo", "ACME_PASS": PASSWORD, "BETA_ID": "demo-client", "BETA_SECRET": CLIENT_SECRET}


@asynccontextmanager
async def tenant(tmp: Path, name: str, lists: dict[str, tuple[str, ...]], *, size: int = 300,
                 faults: FaultConfig | None = None, **settings: Any) -> AsyncIterator[RunningSimulator]:
    """A simulator of tenant ``name`` serving each list (``size`` records) in its campaigns."""
    records = write_list(tmp / f"{name}-records.csv", size)
    config = SimulatorConfig(
        tenant=name,
        lists=tuple(ListSource(path=records, list_name=list_name, campaigns=campaigns, key_fields=("account_id",))
                    for list_name, campaigns in lists.items()),
        users=(Account(login="demo", secret=PASSWORD),), clients=(Account(login="demo-client", secret=CLIENT_SECRET),),
        faults=faults or FaultConfig(), **settings)
    async with run_simulator(config) as running:
        yield running


def keys_file(path: Path, count: int, missing: int = 0) -> Path:
    """``count`` keys of the list (``000000000``...), then ``missing`` keys it lacks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = [f"{n:09d}" for n in range(count)] + [f"9{n:08d}" for n in range(missing)]
    pacsv.write_csv(pa.table({"account_id": keys, "note": [f"n{n}" for n in range(len(keys))]}), path)
    return path


def fleet_file(path: Path, *tenants: str, head: str = "") -> Path:
    path.write_text(head + '\n[defaults]\nkey = ["account_id"]\ninput = "crm/{tenant}/{campaign}/{list}.csv"\n'
                    'output = "out/{tenant}/{campaign}/{list}/status.parquet"\n' + "\n".join(tenants), encoding="utf-8")
    return path


UNPACED = 'rate = "inf"\n'  # a tenant's setting, for the tests that are not about pace


def acme(sim: RunningSimulator, extra: str = "") -> str:
    return (f'[[tenants]]\ntenant = "{ACME}"\nbase_url = "{sim.base_url}"\nlogin_env = "ACME_USER"\n'
            f'secret_env = "ACME_PASS"\n{extra}\n')


def beta(sim: RunningSimulator, extra: str = "") -> str:
    return (f'[[tenants]]\ntenant = "{BETA}"\nbase_url = "{sim.base_url}"\ndialect = "v3"\nlogin_env = "BETA_ID"\n'
            f'secret_env = "BETA_SECRET"\n{extra}\n')


def target(campaign: str, list_name: str, extra: str = "") -> str:
    return f'[[tenants.targets]]\ncampaign = "{campaign}"\nlist = "{list_name}"\n{extra}\n'


async def fleet(tmp: Path, *args: str, report: str = "report.json") -> tuple[int, str, dict[str, Any]]:
    done = await run_cli(["fleet", *args, "--report", str(tmp / report)], CREDENTIALS)
    return done.code, done.stderr, json.loads((tmp / report).read_text(encoding="utf-8"))


def outcomes(report: dict[str, Any]) -> dict[str, str]:
    return {record["target"]: record["outcome"] for record in report["targets"]}


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path)  # the fleet file's relative paths, as a job's working folder
    return tmp_path


async def test_discovery_takes_every_list_of_the_running_campaigns_the_patterns_keep(work: Path) -> None:
    for campaign, list_name in (("Outbound_Q4", "List_A.txt"), ("Outbound_Q4", "List_B.txt"),
                                ("Retention", "List_B.txt")):
        keys_file(work / "crm" / ACME / campaign / f"{list_name}.csv", 40, missing=5)
    keys_file(work / "crm" / BETA / "Camp_V3" / "List_V.txt.csv", 30)
    lists = {"List_A.txt": ("Outbound_Q4",), "List_B.txt": ("Outbound_Q4", "Retention", "Paused_1"),
             "Skip_me.txt": ("Outbound_Q4",)}
    async with tenant(work, ACME, lists, campaign_states={"Paused_1": "PAUSED"}, empty_campaigns=("Empty",)) as a, \
            tenant(work, BETA, {"List_V.txt": ("Camp_V3", "Other")}) as b:
        # As fast as the servers answer: this test is about which targets discovery finds, not about pace.
        toml = fleet_file(work / "fleet.toml",
                          acme(a, 'discover = true\ncampaigns = ["Outbound_*", "Retention", "Paused_*", "Empty"]\n'
                                  'lists = ["List_*"]\nstates = ["RUNNING"]\nrate = "inf"'),
                          beta(b, 'discover = true\ncampaigns = ["Camp_V3"]\nrate = "inf"'))
        code, stderr, report = await fleet(work, str(toml))
        per_endpoint = a.stats()["by_endpoint"]

    assert code == 0, stderr
    assert outcomes(report) == {f"{ACME}/Outbound_Q4/List_A.txt": "complete",
                                f"{ACME}/Outbound_Q4/List_B.txt": "complete",
                                f"{ACME}/Retention/List_B.txt": "complete", f"{BETA}/Camp_V3/List_V.txt": "complete"}
    assert all(record["discovered"] for record in report["targets"])
    # One Get Campaigns for the tenant: its digest challenge, then the answer.
    assert isinstance(per_endpoint, dict) and per_endpoint["campaigns"] == 2
    table = pq.read_table(work / "out" / ACME / "Retention" / "List_B.txt" / "status.parquet")
    assert table.num_rows == 45 and table.column("recon_status").to_pylist().count("found") == 40
    assert pq.read_table(work / "out" / BETA / "Camp_V3" / "List_V.txt" / "status.parquet").num_rows == 30
    assert {t["tenant"]: t["discovery"]["discovered"] for t in report["tenants"]} == {ACME: 3, BETA: 1}


async def test_two_targets_of_one_tenant_share_its_rate(work: Path) -> None:
    rate, keys = 25, 75
    for list_name in ("List_A.txt", "List_B.txt"):
        keys_file(work / "crm" / ACME / "Camp_1" / f"{list_name}.csv", keys)
    # The gateway answers 429 past rate + 3 a second: two targets at the full rate each would meet it.
    async with tenant(work, ACME, {"List_A.txt": ("Camp_1",), "List_B.txt": ("Camp_1",)},
                      faults=FaultConfig(rate_ceiling=rate + 3)) as a:
        toml = fleet_file(work / "fleet.toml", acme(a, f'rate = {rate}\nstrategy = "query"\n' +
                                                    target("Camp_1", "List_A.txt") + target("Camp_1", "List_B.txt")))
        code, stderr, report = await fleet(work, str(toml))
        stats = a.stats()

    assert code == 0, stderr
    per_second = stats["per_second"]
    assert isinstance(per_second, dict)
    busiest = max(per_second.values())
    # Pacing spaces starts 1/rate apart: a second holds at most rate + 1 of them. The simulator also counts
    # each digest challenge's 401 (the auth layer's round trip before a request's paced send is answered).
    assert busiest <= rate + 1 + stats["digest_challenges"], (per_second, stats["digest_challenges"])
    assert busiest >= rate * 0.6, per_second  # and the budget was used, not idle
    assert "429" not in stats["by_status"], stats["by_status"]
    first, second = sorted(report["targets"], key=lambda record: record["started_at"])
    assert second["started_at"] < first["ended_at"]  # the two ran at once, on one budget
    assert sum(record["requests_sent"] for record in report["targets"]) >= 2 * keys
    assert report["tenants"][0]["rate"] == rate


async def test_a_targets_warnings_name_the_target_among_the_fleets_lines(work: Path) -> None:
    keys_file(work / "crm" / ACME / "Camp_1" / "List_A.txt.csv", 40)
    keys_file(work / "crm" / BETA / "Camp_V3" / "List_V.txt.csv", 40)
    refusing = FaultConfig(fail_429=0.3, retry_after=0.1)
    async with tenant(work, ACME, {"List_A.txt": ("Camp_1",)}, faults=refusing) as a, \
            tenant(work, BETA, {"List_V.txt": ("Camp_V3",)}) as b:
        query = UNPACED + 'strategy = "query"\n'
        toml = fleet_file(work / "fleet.toml", acme(a, query + target("Camp_1", "List_A.txt")),
                          beta(b, query + target("Camp_V3", "List_V.txt")))
        code, stderr, _ = await fleet(work, str(toml))

    assert code == 0, stderr
    warnings = [line for line in stderr.splitlines() if " WARNING " in line]
    assert warnings, stderr  # the 429s' Retry-After
    assert all(f" WARNING reconciler.throttle: {ACME}/Camp_1/List_A.txt: " in line for line in warnings), warnings


async def test_a_failing_target_does_not_stop_the_others(work: Path) -> None:
    keys_file(work / "crm" / ACME / "Camp_1" / "List_A.txt.csv", 30)
    keys_file(work / "crm" / ACME / "Camp_1" / "Not_There.txt.csv", 30)
    keys_file(work / "crm" / BETA / "Camp_V3" / "List_V.txt.csv", 30)
    async with tenant(work, ACME, {"List_A.txt": ("Camp_1",)}) as a, \
            tenant(work, BETA, {"List_V.txt": ("Camp_V3",)}) as b:
        toml = fleet_file(work / "fleet.toml",  # as fast as the servers answer: the outcomes are what counts
                          acme(a, UNPACED + target("Camp_1", "List_A.txt") + target("Camp_1", "Not_There.txt")
                               + target("Camp_1", "No_Input.txt")),
                          beta(b, UNPACED + target("Camp_V3", "List_V.txt")))
        code, stderr, report = await fleet(work, str(toml))

    assert code == 1, stderr
    assert outcomes(report) == {f"{ACME}/Camp_1/List_A.txt": "complete", f"{ACME}/Camp_1/Not_There.txt": "refused",
                                f"{ACME}/Camp_1/No_Input.txt": "invalid", f"{BETA}/Camp_V3/List_V.txt": "complete"}
    by_target = {record["target"]: record for record in report["targets"]}
    assert "No_Input.txt.csv" in by_target[f"{ACME}/Camp_1/No_Input.txt"]["error"]
    assert by_target[f"{ACME}/Camp_1/Not_There.txt"]["exit_code"] == 3
    assert report["outcome"] == "partial" and report["counts"]["complete"] == 2
    assert (work / "out" / BETA / "Camp_V3" / "List_V.txt" / "status.parquet").exists()
    # A target that wrote nothing leaves no folder behind.
    assert not (work / "out" / ACME / "Camp_1" / "No_Input.txt").exists()
    assert PASSWORD not in stderr and CLIENT_SECRET not in json.dumps(report)


async def test_every_target_refused_exits_3(work: Path) -> None:
    keys_file(work / "crm" / ACME / "Camp_1" / "List_A.txt.csv", 10)
    async with tenant(work, ACME, {"List_A.txt": ("Camp_1",)}) as a:
        toml = fleet_file(work / "fleet.toml", acme(a, target("Camp_1", "List_A.txt")))
        done = await run_cli(["fleet", str(toml)], {**CREDENTIALS, "ACME_PASS": "wrong"})

    assert done.code == 3, done.stderr
    assert "authentication failed" in done.stderr and "exit 3" in done.stderr


async def test_a_bad_fleet_file_sends_nothing_and_names_the_file_the_target_and_the_key(work: Path) -> None:
    async with tenant(work, ACME, {"List_A.txt": ("Camp_1",)}) as a:
        toml = fleet_file(work / "fleet.toml", acme(a, target("Camp_1", "List_A.txt", 'strategy = "fastest"')))
        done = await run_cli(["fleet", str(toml)], CREDENTIALS)
        sent = a.stats()["requests_total"]

    assert done.code == 2, done.stderr
    assert f"fleet.toml: tenant '{ACME}', target 'Camp_1' / 'List_A.txt': key 'strategy'" in done.stderr
    assert sent == 0


async def test_shards_partition_the_targets_without_splitting_a_tenant(work: Path) -> None:
    tenants = [f"t{n}.example.com" for n in range(5)]
    blocks = [f'[[tenants]]\ntenant = "{name}"\nbase_url = "http://127.0.0.1:1"\n'
              + "".join(target(f"C{c}", f"L{n}.txt") for c in range(n + 1)) for n, name in enumerate(tenants)]
    toml = fleet_file(work / "fleet.toml", *reversed(blocks))
    every = {f"{name}/C{c}/L{n}.txt" for n, name in enumerate(tenants) for c in range(n + 1)}
    plans = []
    for index in range(3):
        done = await run_cli(["fleet", str(toml), "--shard", f"{index}/3", "--plan"], {})
        assert done.code == 0, done.stderr
        plans.append(json.loads(done.stdout)["shards"][index])
    again = await run_cli(["fleet", str(toml), "--shards", "3", "--plan"], {})

    shard_targets = [{t for tenant in plan["tenants"] for t in tenant["targets"]} for plan in plans]
    assert set().union(*shard_targets) == every
    assert sum(len(targets) for targets in shard_targets) == len(every)  # each target in exactly one shard
    owners = {tenant["tenant"]: n for n, plan in enumerate(plans) for tenant in plan["tenants"]}
    assert sorted(owners) == tenants  # each tenant in one shard, all its targets with it
    assert owners == {"t0.example.com": 0, "t1.example.com": 1, "t2.example.com": 2, "t3.example.com": 0,
                      "t4.example.com": 1}  # sorted by name, dealt round-robin: the same file, the same partition
    assert json.loads(again.stdout)["shards"] == plans


async def test_two_shards_run_by_index_cover_the_fleet(work: Path) -> None:
    keys_file(work / "crm" / ACME / "Camp_1" / "List_A.txt.csv", 20)
    keys_file(work / "crm" / BETA / "Camp_V3" / "List_V.txt.csv", 20)
    async with tenant(work, ACME, {"List_A.txt": ("Camp_1",)}) as a, \
            tenant(work, BETA, {"List_V.txt": ("Camp_V3",)}) as b:
        toml = fleet_file(work / "fleet.toml", acme(a, UNPACED + target("Camp_1", "List_A.txt")),
                          beta(b, UNPACED + target("Camp_V3", "List_V.txt")))
        runs = []
        for index in range(2):
            done = await run_cli(["fleet", str(toml), "--shards", "2", "--report", str(work / f"r{index}.json")],
                                 {**CREDENTIALS, "JOB_COMPLETION_INDEX": str(index)})
            assert done.code == 0, done.stderr
            runs.append(json.loads((work / f"r{index}.json").read_text(encoding="utf-8")))

    assert [list(outcomes(run)) for run in runs] == [[f"{ACME}/Camp_1/List_A.txt"], [f"{BETA}/Camp_V3/List_V.txt"]]
    assert [run["shard"] for run in runs] == ["0/2", "1/2"]


async def test_a_fleet_killed_mid_run_resumes_without_redoing_finished_targets(work: Path) -> None:
    names = ["List_A.txt", "List_B.txt", "List_C.txt"]
    for list_name in names:
        keys_file(work / "crm" / ACME / "Camp_1" / f"{list_name}.csv", 60, missing=6)
    async with tenant(work, ACME, dict.fromkeys(names, ("Camp_1",)), faults=FaultConfig(latency_ms=2)) as a:
        settings = 'rate = 40\nstrategy = "query"\n' + "".join(target("Camp_1", name) for name in names)
        # The tables to compare with, as fast as the server answers: the killed fleet's rate of 40/s is only
        # there to land the kill in the second target's queries.
        baseline = fleet_file(work / "baseline.toml", acme(a, settings).replace(
            'strategy', 'output = "base/{list}/status.parquet"\nstrategy').replace("rate = 40", 'rate = "inf"'),
            head="parallel = 1")
        (work / "base").mkdir()
        code, stderr, _ = await fleet(work, str(baseline), report="baseline.json")
        assert code == 0, stderr
        toml = fleet_file(work / "fleet.toml", acme(a, settings), head="parallel = 1")
        a.reset_stats()
        ledger = work / ".fleet.fleet-ledger"
        async with started_cli(["fleet", str(toml)], CREDENTIALS, work / "logs") as cli:
            await wait_until(lambda: ledger.exists() and '"complete"' in ledger.read_text(encoding="utf-8"),
                             within=30, what="the first target to finish")
            await anyio.sleep(0.3)  # into the second target's queries
            cli.send(signal.SIGKILL)
            killed = await cli.finish(10)
        asked_before = a.stats()["requests_per_key"]
        a.reset_stats()
        code, stderr, report = await fleet(work, str(toml))
        asked_after = a.stats()["requests_total"]

    assert killed.code == -signal.SIGKILL
    assert code == 0, stderr
    skipped = [record["target"] for record in report["targets"] if record["skipped"]]
    assert skipped == [f"{ACME}/Camp_1/List_A.txt"] and report["resumed"]
    assert "not run again" in stderr
    assert isinstance(asked_before, dict) and asked_before
    assert isinstance(asked_after, int) and asked_after < 2 * 66 + 10  # List_A was not asked again
    for name in names:
        got = pq.read_table(work / "out" / ACME / "Camp_1" / name / "status.parquet")
        want = pq.read_table(work / "base" / name / "status.parquet")
        volatile = ["recon_checked_at", "recon_run_id", "recon_run_date", "recon_attempts"]
        assert got.drop_columns(volatile).equals(want.drop_columns(volatile)), name
    assert not ledger.exists()  # the fleet ran to its end: the next run starts afresh
