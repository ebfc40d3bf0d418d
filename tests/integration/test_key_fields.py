"""--key that is not the list's key: the real CLI stops at once (exit 3) instead of asking every row in vain.

Querying, the simulator answers ``400 missing key: <field>`` (as a live server does; v3 inside its
error body) when the body lacks a key field of the list. Scanning, no record has the --key field.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SAMPLES, TENANT, SimulatorFactory, credentials, run_args, run_cli, said

from reconciler.simulator import RunningSimulator

pytestmark = pytest.mark.anyio


def by_endpoint(sim: RunningSimulator) -> dict[str, int]:
    counts = sim.stats()["by_endpoint"]
    assert isinstance(counts, dict)
    return {name: int(count) for name, count in counts.items()}


@pytest.mark.parametrize("dialect", ["classic", "v2", "v3"])
async def test_a_query_run_whose_key_is_not_the_lists_stops_after_one_request(
        tmp_path: Path, simulator: SimulatorFactory, dialect: str) -> None:
    output = tmp_path / "status.parquet"
    # The list's key is (account_id, phone); the run sends account_id alone.
    async with simulator(key_fields=("account_id", "phone")) as sim:
        done = await run_cli(run_args(sim.base_url, SAMPLES / "keys.csv", output, "--strategy", "query",
                                      "--rate", "inf", dialect=dialect), credentials(dialect))
        counts, challenges = by_endpoint(sim), int(sim.stats()["digest_challenges"])  # type: ignore[call-overload]

    assert done.code == 3, done.stderr
    lines = said(done.stderr)
    assert len(lines) == 1, done.stderr
    assert "the calling list 'records.csv' has a key field 'phone' that the request lacks (--key sent: account_id)" \
        in lines[0] and "name the list's key fields with --key" in lines[0]
    asked = {"classic": f"/admin/ws/t/{TENANT}/callinglist/get/records.csv/Campaign_1",
             "v2": "/configapi/v2/callinglist/get/records.csv/Campaign_1",
             "v3": "/configapi/v3/campaign/queryRecord/"}[dialect]
    assert f"; asked {sim.base_url}{asked}" in lines[0]
    # Of 1,949 distinct keys, one was asked (classic: plus its digest challenge): the first request goes alone.
    assert counts["query"] - challenges == 1 and challenges <= 1
    assert not output.exists()
    # Nothing was answered: no journal is kept, so that the rerun with the list's keys is not refused as another run's.
    assert not (tmp_path / "status.parquet.reconciler-journal").exists()


@pytest.mark.parametrize("dialect", ["classic", "v3"])
async def test_a_scan_whose_key_no_record_has_stops_after_the_first_page(
        tmp_path: Path, simulator: SimulatorFactory, dialect: str) -> None:
    keys, output = tmp_path / "keys.csv", tmp_path / "status.parquet"
    keys.write_text("phone1,account_id\n14155556758,000032\n12125554013,000048\n")
    async with simulator() as sim:
        args = run_args(sim.base_url, keys, output, "--strategy", "scan", dialect=dialect)
        args[args.index("--key") + 1] = "phone1"
        done = await run_cli(args, credentials(dialect))
        counts, challenges = by_endpoint(sim), int(sim.stats()["digest_challenges"])  # type: ignore[call-overload]

    assert done.code == 3, done.stderr
    lines = said(done.stderr)
    assert len(lines) == 1, done.stderr
    fields = "account_id, firstName, lastName, phone, city" if dialect == "classic" else \
        "account_id, firstname, lastname, phone, city"  # 5.x sends entry names lower-cased
    assert f"no record of the calling list 'records.csv' has the key field(s) phone1 (--key); " \
           f"its entries have: {fields}; asked {sim.base_url}/" in lines[0]
    # The list has 3,000 records: 4 pages, of which the first was read (classic: plus its digest challenge).
    assert counts["getAll"] - challenges == 1 and challenges <= 1 and counts["query"] == 0
    assert not output.exists()
    assert not (tmp_path / "status.parquet.reconciler-journal").exists()
