"""OAuth2 client-credentials tokens for the v2 API: issue, look up, expire.

Tokens are 64 hex digits and live ``lifetime`` seconds; there is no refresh token. The token
answer's ``expires_in`` is a string, as a real 5.x server sends it (the lifetime rounded up to
whole seconds).
"""

from __future__ import annotations

import math
import secrets
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from reconciler.simulator.config import Account


@dataclass(frozen=True)
class TokenRefused:
    """Why no token was issued: an HTTP status and a plain-text body."""

    http_status: int
    text: str


NOT_AUTHENTICATED = "Session is not authenticated"


class TokenIssuer:
    """Issues bearer tokens to known clients for one tenant (the ``scope``)."""

    def __init__(
        self,
        *,
        clients: Mapping[str, Account],
        tenant: str,
        lifetime: float,
        clock: Callable[[], float],
    ) -> None:
        self._clients = clients
        self._tenant = tenant
        self._lifetime = lifetime
        self._clock = clock
        # Insertion order is expiry order (one lifetime for all), so expired tokens sit in front.
        self._tokens: OrderedDict[str, tuple[Account, float]] = OrderedDict()

    def issue(self, form: Mapping[str, str]) -> dict[str, str] | TokenRefused:
        """The token answer for a ``client_credentials`` form, or why it is refused."""
        if form.get("grant_type") != "client_credentials":
            return TokenRefused(400, "unsupported grant_type: expected client_credentials")
        client = self._clients.get(form.get("client_id", ""))
        secret = form.get("client_secret", "")
        if client is None or not secrets.compare_digest(client.secret.encode(), secret.encode()):
            return TokenRefused(401, NOT_AUTHENTICATED)
        if form.get("scope") != self._tenant:
            return TokenRefused(401, NOT_AUTHENTICATED)
        return self._grant(client)

    def holder(self, authorization: str | None) -> Account | None:
        """The client a ``Bearer`` Authorization header belongs to, if its token is alive."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        if scheme.lower() != "bearer":
            return None
        self._forget_expired()
        found = self._tokens.get(token.strip())
        return found[0] if found is not None else None

    def _grant(self, client: Account) -> dict[str, str]:
        self._forget_expired()
        token = secrets.token_hex(32)
        self._tokens[token] = (client, self._clock() + self._lifetime)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": str(math.ceil(self._lifetime)),
            "scope": self._tenant,
        }

    def _forget_expired(self) -> None:
        now = self._clock()
        while self._tokens:
            _, (_, expires_at) = next(iter(self._tokens.items()))
            if expires_at > now:
                return
            self._tokens.popitem(last=False)
