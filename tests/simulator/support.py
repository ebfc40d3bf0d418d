"""Shared pieces of the simulator's tests: a small records file, a fake clock, URLs and clients."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import aiohttp

from reconciler.simulator import Account, ListSource, SimulatorConfig

TENANT = "demo.brightpattern.com"
LIST = "List 1.csv"  # a space and an extension, as real list names have
CAMPAIGN = "Campaign_1"
USER, PASSWORD = "demo", "demo-password"
CLIENT, SECRET = "demo-client", "demo-secret"

HEADER = ["account_id", "firstName", "lastName", "phone", "status.completed", "status.lastDisposition",
          "status.lastDate", "status.lastPhone", "status.lastCallDuration", "status.lastAgent",
          "status.totalAttempts", "status.globalInteractionID"]
ROWS = [
    ["000123", "Mike", "Miller", "16505555555", "false", "Try again later", "2021-02-19T19:12:21.000",
     "16505555555", "0", "elizabeth", "1", "3F4F2ACD-1233-42E3-8092-3A9F7D9D84BC"],
    ["000124", "Zoë", "Müller", "16505550124", "", "", "", "", "", "", "", ""],  # never called
    ["000125", "Sean", "O'Brien", "16505550125", "true", "Sale", "2021-02-20T08:00:00.000", "16505550125",
     "184", "maria", "3", ""],
    ["125", "John", "Smith, Jr.", "16505550999", "false", "No answer", "2021-02-21T09:30:00.000", "16505550999",
     "", "", "2", ""],
]
for number in range(126, 146):  # enough records to page through
    ROWS.append([f"000{number}", f"First{number}", f"Last{number}", f"1650555{number:04d}", "false", "Busy",
                 "2021-03-01T10:00:00.000", f"1650555{number:04d}", "0", "", "1", ""])


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_records(path: Path) -> Path:
    return write_csv(path, HEADER, ROWS)


def config_for(records: Path, **options: object) -> SimulatorConfig:
    """A config serving ``records`` as LIST in CAMPAIGN, plus an unprivileged user and client."""
    defaults: dict[str, object] = {
        "lists": (ListSource(path=records, list_name=LIST),),
        "users": (Account(login=USER, secret=PASSWORD), Account(login="bob", secret="pw", privileged=False)),
        "clients": (Account(login=CLIENT, secret=SECRET), Account(login="viewer", secret="pw", privileged=False)),
    }
    return SimulatorConfig(**{**defaults, **options})  # type: ignore[arg-type]


@dataclass
class FakeClock:
    """Epoch seconds that move only when told to."""

    now: float = 1_700_000_000.25

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def classic_url(base_url: str, operation: str = "get", list_name: str = LIST, campaign: str = CAMPAIGN,
                tenant: str = TENANT) -> str:
    return f"{base_url}/admin/ws/t/{quote(tenant)}/callinglist/{operation}/{quote(list_name)}/{quote(campaign)}"


def v2_url(base_url: str, operation: str = "get", list_name: str = LIST, campaign: str = CAMPAIGN) -> str:
    return f"{base_url}/configapi/v2/callinglist/{operation}/{quote(list_name)}/{quote(campaign)}"


def digest_session(login: str = USER, password: str = PASSWORD) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(middlewares=(aiohttp.DigestAuthMiddleware(login, password, preemptive=True),))


async def token_answer(session: aiohttp.ClientSession, base_url: str, *, client: str = CLIENT,
                       secret: str = SECRET, scope: str = TENANT) -> tuple[int, object]:
    form = {"grant_type": "client_credentials", "client_id": client, "client_secret": secret, "scope": scope}
    async with session.post(f"{base_url}/configapi/v2/oauth/token", data=form) as response:
        body = await response.json() if response.status == 200 else await response.text()
        return response.status, body


async def bearer(session: aiohttp.ClientSession, base_url: str, **credentials: str) -> dict[str, str]:
    status, body = await token_answer(session, base_url, **credentials)
    assert status == 200 and isinstance(body, dict), body
    return {"Authorization": f"Bearer {body['access_token']}"}


async def post(session: aiohttp.ClientSession, url: str, body: object = None, *, data: bytes | None = None,
               headers: dict[str, str] | None = None) -> tuple[int, str]:
    async with session.post(url, json=body if data is None else None, data=data, headers=headers) as response:
        return response.status, await response.text()
