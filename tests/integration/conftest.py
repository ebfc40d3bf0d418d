"""End-to-end fixtures: the real simulator on 127.0.0.1 and the real CLI in a subprocess."""

from __future__ import annotations

import functools
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.abc
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from forked_cli import SPAWN_ONLY, Launcher

from reconciler.simulator import Account, FaultConfig, ListSource, RunningSimulator, SimulatorConfig, run_simulator

SAMPLES = Path(__file__).resolve().parents[2] / "sample_inputs"
RECORDS = SAMPLES / "records.csv"
PASSWORD = "pw-Zq8!distinctive-secret-7731"
CLIENT_SECRET = "cs-Hk2#distinctive-secret-9902"
TENANT = "demo.brightpattern.com"


@dataclass(frozen=True)
class Finished:
    code: int
    stdout: str
    stderr: str


# A progress line (away from a terminal, at a phase's start and every --progress-interval): a run that
# fails or ends within a second prints one or none, depending on how fast the machine is.
PROGRESS_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d (starting$|[a-z][a-z ]*: )")


def said(stderr: str) -> list[str]:
    """The lines a run wrote to stderr, but its progress lines: what it said whatever the machine's speed."""
    return [line for line in stderr.strip().splitlines() if not PROGRESS_LINE.match(line)]


SimulatorFactory = Callable[..., AbstractAsyncContextManager[RunningSimulator]]


@pytest.fixture
def simulator() -> SimulatorFactory:
    """Start a simulator serving the sample calling list as ``records.csv`` in ``Campaign_1``."""

    @asynccontextmanager
    async def start(records: Path = RECORDS, faults: FaultConfig | None = None,
                    key_fields: tuple[str, ...] = ("account_id",),
                    **settings: object) -> AsyncIterator[RunningSimulator]:
        config = SimulatorConfig(
            lists=(ListSource(path=records, list_name="records.csv", key_fields=key_fields),),
            users=(Account(login="demo", secret=PASSWORD), Account(login="nobody", secret=PASSWORD, privileged=False)),
            clients=(Account(login="demo-client", secret=CLIENT_SECRET),),
            faults=faults or FaultConfig(), **settings)  # type: ignore[arg-type]
        async with run_simulator(config) as running:
            yield running

    return start


def run_args(base_url: str, input_path: Path, output: Path, *extra: str, dialect: str = "classic") -> list[str]:
    return ["run", str(input_path), "--output", str(output), "--base-url", base_url, "--tenant", TENANT,
            "--list", "records.csv", "--campaign", "Campaign_1", "--key", "account_id", "--dialect", dialect,
            *extra]


def credentials(dialect: str = "classic", *, user: str = "demo", password: str = PASSWORD) -> dict[str, str]:
    if dialect == "classic":
        return {"BP_USERNAME": user, "BP_PASSWORD": password}
    return {"BP_CLIENT_ID": "demo-client", "BP_CLIENT_SECRET": CLIENT_SECRET}


# The machine's proxy and CA settings would steer the command's traffic to 127.0.0.1: a test names its own.
NETWORK_VARIABLES = frozenset({"HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "ALL_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR"})


def _base_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("BP_") and k.upper() not in NETWORK_VARIABLES}


_LAUNCHER = Launcher()


@pytest.fixture(scope="session", autouse=True)
def _stop_the_cli_launcher() -> Iterator[None]:
    yield
    _LAUNCHER.close()


async def run_cli(args: Sequence[str], environment: dict[str, str]) -> Finished:
    """The real command, as a user runs it, in a process of its own (forked from one that has imported it,
    when the environment allows: see forked_cli.py)."""
    full_environment = {**_base_environment(), **environment}
    if os.environ.get(SPAWN_ONLY) != "1" and _LAUNCHER.serves(full_environment):
        code, stdout, stderr = await anyio.to_thread.run_sync(
            functools.partial(_LAUNCHER.run, args, full_environment, timeout=120))
        return Finished(code, stdout.decode(), stderr.decode())
    with anyio.fail_after(120):
        done = await anyio.run_process([sys.executable, "-m", "reconciler", *args], check=False,
                                       env=full_environment)
    return Finished(done.returncode, done.stdout.decode(), done.stderr.decode())


class CliProcess:
    """A ``reconciler`` subprocess that a test can signal while it runs; its output goes to files."""

    def __init__(self, process: anyio.abc.Process, stdout: Path, stderr: Path) -> None:
        self.process, self._stdout, self._stderr = process, stdout, stderr

    @property
    def running(self) -> bool:
        return self.process.returncode is None

    def send(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    def stderr(self) -> str:
        return self._stderr.read_text(encoding="utf-8", errors="replace")

    async def finish(self, within: float = 60) -> Finished:
        """Wait (at most ``within`` seconds) for the command to exit."""
        with anyio.fail_after(within):
            code = await self.process.wait()
        return Finished(code, self._stdout.read_text(encoding="utf-8", errors="replace"), self.stderr())


def _next_log_files(logs: Path) -> tuple[Path, Path]:
    logs.mkdir(parents=True, exist_ok=True)
    count = len(list(logs.glob("*.stderr")))
    return logs / f"{count}.stdout", logs / f"{count}.stderr"


@asynccontextmanager
async def started_cli(args: Sequence[str], environment: dict[str, str], logs: Path) -> AsyncIterator[CliProcess]:
    """The real command in a subprocess that keeps running while the block does; killed if still alive at the end.

    stdout and stderr go to files under ``logs`` (a pipe nobody reads could fill and stall the command).
    """
    base = _base_environment()
    stdout, stderr = _next_log_files(logs)
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = await anyio.open_process([sys.executable, "-m", "reconciler", *args], stdin=subprocess.DEVNULL,
                                           stdout=out, stderr=err, env={**base, **environment})
    try:
        yield CliProcess(process, stdout, stderr)
    finally:
        if process.returncode is None:
            process.kill()
        with anyio.CancelScope(shield=True):
            await process.wait()
            await process.aclose()


async def wait_until(condition: Callable[[], object], *, within: float, what: str) -> None:
    """Poll: what is awaited happens in another process (a file appears, the simulator counts a request)."""
    with anyio.move_on_after(within) as waited:
        while not condition():  # noqa: ASYNC110 (nothing here could set an Event)
            await anyio.sleep(0.003)
    if waited.cancelled_caught:
        pytest.fail(f"waited {within} s for {what}")


async def stop_when(cli: CliProcess, condition: Callable[[], object], signum: signal.Signals, *, what: str,
                    within: float = 30) -> Finished:
    """Send ``signum`` once ``condition`` holds, and wait for the command to exit."""
    await wait_until(lambda: condition() or not cli.running, within=within, what=what)
    assert cli.running, f"the run ended before {what}: {cli.stderr()}"
    cli.send(signum)
    return await cli.finish(30)


def write_list(path: Path, size: int) -> Path:
    """A list of ``size`` records, ``000000000``.., a third called before, a tenth of those completed."""
    numbers = range(size)
    called = [n % 3 == 0 for n in numbers]
    table = pa.table({
        "account_id": [f"{n:09d}" for n in numbers],
        "firstName": [f"First {n}" for n in numbers],
        "phone": [f"1650555{n % 10_000:04d}" for n in numbers],
        "status.completed": ["true" if n % 30 == 0 else "false" for n in numbers],
        "status.lastDisposition": ["No answer" if c else "" for c in called],
        "status.lastDate": [f"2026-11-{1 + n % 28:02d}T10:00:{n % 60:02d}.000" if c else "" for n, c in
                            zip(numbers, called, strict=True)],
        "status.lastAgent": ["maria" if n % 6 == 0 else "" for n in numbers],
        "status.totalAttempts": ["2" if c else "0" for c in called],
    })
    pacsv.write_csv(table, path)
    return path
