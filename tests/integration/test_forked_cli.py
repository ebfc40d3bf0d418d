"""The tests' forked command gives what a fresh ``python -m reconciler`` gives: code, streams, environment, cwd."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from conftest import RECORDS, credentials, run_args, wait_until
from forked_cli import Launcher

pytestmark = pytest.mark.anyio


@pytest.fixture
def launcher() -> Iterator[Launcher]:
    started = Launcher()
    yield started
    started.close()


def keys_file(folder: Path) -> Path:
    path = folder / "keys.csv"
    path.write_text("account_id\n001\n002\n")
    return path


async def spawned(args: list[str], environment: dict[str, str]) -> tuple[int, str, str]:
    done = await anyio.run_process([sys.executable, "-m", "reconciler", *args], check=False, env=environment)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


async def forked(launcher: Launcher, args: list[str], environment: dict[str, str]) -> tuple[int, str, str]:
    assert launcher.serves(environment)
    code, stdout, stderr = await anyio.to_thread.run_sync(lambda: launcher.run(args, environment, timeout=60))
    return code, stdout.decode(), stderr.decode()


async def test_a_forked_run_answers_as_a_fresh_interpreter_does(tmp_path: Path, launcher: Launcher) -> None:
    environment = dict(os.environ)
    cases = [
        ["--help"],
        ["run"],  # exit 2, argparse's usage on stderr
        run_args("http://127.0.0.1:9", keys_file(tmp_path), tmp_path / "out.parquet", "--dry-run", "--offline"),
        run_args("http://127.0.0.1:9", tmp_path / "missing.csv", tmp_path / "out.parquet", "--dry-run", "--offline"),
    ]
    for args in cases:
        assert await forked(launcher, args, environment) == await spawned(args, environment), args


async def test_each_forked_run_has_exactly_its_own_environment_and_working_folder(
        tmp_path: Path, launcher: Launcher, monkeypatch: pytest.MonkeyPatch) -> None:
    keys_file(tmp_path)
    monkeypatch.chdir(tmp_path)
    args = run_args("http://127.0.0.1:9", Path("keys.csv"), Path("out.parquet"), "--dry-run", "--offline")
    base = {k: v for k, v in os.environ.items() if not k.startswith("BP_")}
    with_secret = await forked(launcher, args, {**base, **credentials()})
    without = await forked(launcher, args, base)  # forked from the same launcher after a run that had them

    assert (with_secret[0], without[0]) == (0, 0), (with_secret, without)
    assert "  input            keys.csv (2 rows)\n" in with_secret[2]  # found from this test's folder
    assert "  credentials      not read (--offline): BP_USERNAME set, BP_PASSWORD set\n" in with_secret[2]
    assert "  credentials      not read (--offline): BP_USERNAME not set, BP_PASSWORD not set" in without[2]


async def test_a_run_killed_by_a_signal_reports_it_as_a_negative_code(tmp_path: Path, launcher: Launcher) -> None:
    port_file = tmp_path / "port"
    args = ["simulate", "--records", str(RECORDS), "--port", "0", "--port-file", str(port_file)]
    pids: list[int] = []

    def kill_once_serving(pid: int) -> None:
        pids.append(pid)

    async with anyio.create_task_group() as runs:
        finished: list[tuple[int, bytes, bytes]] = []

        async def serve() -> None:
            finished.append(await anyio.to_thread.run_sync(
                lambda: launcher.run(args, dict(os.environ), timeout=60, started=kill_once_serving)))

        runs.start_soon(serve)
        await wait_until(lambda: port_file.exists() and port_file.read_text().strip(), within=30,
                         what="the simulator's port")
        os.kill(pids[0], signal.SIGKILL)
    assert finished[0][0] == -signal.SIGKILL


def test_variables_read_while_python_starts_take_a_fresh_interpreter(launcher: Launcher) -> None:
    environment = {k: v for k, v in os.environ.items() if k not in {"TZ", "LANG"}}
    launcher.start(environment)
    assert launcher.serves({**environment, "BP_PASSWORD": "x", "HTTPS_PROXY": "http://127.0.0.1:1"})
    # pytest names the running test in the environment: a launcher started by one test serves the next.
    assert launcher.serves({**environment, "PYTEST_CURRENT_TEST": "tests/integration/test_x.py::test_y (call)"})
    assert not launcher.serves({**environment, "TZ": "America/New_York"})
    assert not launcher.serves({**environment, "LANG": "C"})
    assert not launcher.serves({**environment, "SSL_CERT_DIR": "/nowhere"})
