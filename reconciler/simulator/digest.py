"""Server-side HTTP Digest authentication (RFC 7616, MD5, qop=auth), as the classic API asks for it.

Nonces are stateless: each carries its issue time and an HMAC, so no table of nonces grows with
the traffic. A nonce may be reused with any nonce count, in any order (concurrent requests arrive
out of order); replays are not detected, since the simulator guards nothing. With a nonce lifetime,
an older nonce earns a fresh challenge with ``stale=true`` when the digest itself is right.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from urllib.parse import unquote

_PAIR = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_ISSUED_DIGITS = 12  # hex digits of the issue time in milliseconds


class Verdict(Enum):
    """How a request's Authorization header fared."""

    OK = "ok"
    MISSING = "missing"  # no Digest credentials: challenge
    INVALID = "invalid"  # wrong user, password, realm or URI: challenge, not stale
    STALE = "stale"  # right digest, but an expired or foreign nonce: challenge with stale=true


@dataclass(frozen=True)
class DigestResult:
    verdict: Verdict
    login: str | None = None


def parse_credentials(header: str) -> dict[str, str] | None:
    """The parameters of a ``Digest ...`` Authorization header, or ``None`` for another scheme."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "digest":
        return None
    params: dict[str, str] = {}
    for match in _PAIR.finditer(rest):
        quoted, bare = match.group(2), match.group(3)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        params[match.group(1).lower()] = value
    return params


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


class DigestAuthority:
    """Issues digest challenges and checks the answers for one realm and its users."""

    def __init__(
        self,
        *,
        realm: str,
        passwords: Mapping[str, str],
        nonce_lifetime: float | None,
        clock: Callable[[], float],
    ) -> None:
        self.realm = realm
        self._passwords = passwords
        self._lifetime = nonce_lifetime
        self._clock = clock
        self._secret = secrets.token_bytes(32)
        self._opaque = secrets.token_hex(16)

    def challenge(self, *, stale: bool = False) -> str:
        """A ``WWW-Authenticate`` value with a fresh nonce."""
        parts = [f'realm="{self.realm}"', 'qop="auth"', "algorithm=MD5",
                 f'nonce="{self._new_nonce()}"', f'opaque="{self._opaque}"']
        if stale:
            parts.append("stale=true")
        return "Digest " + ", ".join(parts)

    def verify(self, method: str, raw_path: str, header: str | None) -> DigestResult:
        """Check an Authorization header against the request's method and raw request-target."""
        params = parse_credentials(header) if header else None
        if params is None:
            return DigestResult(Verdict.MISSING)
        login = params.get("username", "")
        if not self._digest_matches(method, raw_path, params):
            return DigestResult(Verdict.INVALID, login)
        if not self._nonce_is_fresh(params["nonce"]):
            return DigestResult(Verdict.STALE, login)
        return DigestResult(Verdict.OK, login)

    def _digest_matches(self, method: str, raw_path: str, params: Mapping[str, str]) -> bool:
        required = ("username", "realm", "nonce", "uri", "response", "nc", "cnonce", "qop")
        if any(name not in params for name in required):
            return False
        password = self._passwords.get(params["username"])
        if password is None or params["realm"] != self.realm or params["qop"] != "auth":
            return False
        if params.get("algorithm", "MD5").upper() != "MD5" or not _same_target(params["uri"], raw_path):
            return False
        ha1 = _md5(f"{params['username']}:{self.realm}:{password}")
        ha2 = _md5(f"{method.upper()}:{params['uri']}")
        expected = _md5(f"{ha1}:{params['nonce']}:{params['nc']}:{params['cnonce']}:auth:{ha2}")
        return hmac.compare_digest(expected, params["response"].lower())

    def _new_nonce(self) -> str:
        issued = f"{int(self._clock() * 1000):0{_ISSUED_DIGITS}x}{secrets.token_hex(8)}"
        return issued + self._sign(issued)

    def _sign(self, issued: str) -> str:
        return hmac.new(self._secret, issued.encode("utf-8"), hashlib.sha256).hexdigest()[:24]

    def _nonce_is_fresh(self, nonce: str) -> bool:
        issued, mac = nonce[:-24], nonce[-24:]
        if len(nonce) <= 24 or not hmac.compare_digest(self._sign(issued), mac):
            return False  # not one of ours (e.g. from before a restart)
        if self._lifetime is None:
            return True
        try:
            issued_at = int(issued[:_ISSUED_DIGITS], 16) / 1000
        except ValueError:  # pragma: no cover - signed by us, so well formed
            return False
        return self._clock() - issued_at < self._lifetime


def _same_target(uri: str, raw_path: str) -> bool:
    """The digest's URI names the request-target (clients differ in percent-encoding)."""
    return uri == raw_path or unquote(uri) == unquote(raw_path)
