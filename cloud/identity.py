"""Google sign-in: verify an ID token against Google's published keys (JWKS).

Keys are cached and fetched again when a token names a key id we do not hold (Google rotates its
keys), at most once per `refetch_seconds` so a flood of forged key ids cannot make us hammer Google.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
from jwt import PyJWK, PyJWKSet

from cloud.errors import IdentityUnavailable, InvalidIdToken

ISSUERS = ("accounts.google.com", "https://accounts.google.com")
#: Google signs ID tokens with RS256 only; pinning it rules out `none` and HS256-with-public-key.
ALGORITHMS = ["RS256"]


@dataclass(frozen=True)
class GoogleIdentity:
    """The verified facts of one ID token."""

    sub: str
    email: str
    name: str | None


class GoogleVerifier:
    """Verifies Google ID tokens; one per process, shared by all requests."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        jwks_url: str,
        client_ids: Sequence[str],
        refetch_seconds: float = 10.0,
        leeway_seconds: float = 30.0,
    ) -> None:
        self._http = http
        self._jwks_url = jwks_url
        self._client_ids = list(client_ids)
        self._refetch_seconds = refetch_seconds
        self._leeway = leeway_seconds
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def verify(self, id_token: str, *, now: datetime) -> GoogleIdentity:
        """Check signature, issuer, audience, expiry and a verified email; raise on any fault."""
        if not self._client_ids:
            raise IdentityUnavailable(
                "Google sign-in is not configured on this server (no client id set)."
            )
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as exc:
            raise InvalidIdToken("The ID token is not a JWT.") from exc
        if header.get("alg") not in ALGORITHMS:
            raise InvalidIdToken("The ID token is not signed with RS256.")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidIdToken("The ID token names no signing key.")
        key = await self._key(kid)
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key.key,
                algorithms=ALGORITHMS,
                audience=self._client_ids,
                options={
                    "require": ["iss", "aud", "sub", "exp", "iat"],
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_iss": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise InvalidIdToken(f"The ID token was refused: {exc}.") from exc
        if claims["iss"] not in ISSUERS:
            raise InvalidIdToken("The ID token was not issued by Google.")
        if float(claims["exp"]) + self._leeway <= now.astimezone(UTC).timestamp():
            raise InvalidIdToken("The ID token has expired.")
        if claims.get("email_verified") not in (True, "true"):
            raise InvalidIdToken("The Google account's email address is not verified.")
        email = claims.get("email")
        if not isinstance(email, str) or not email:
            raise InvalidIdToken("The ID token carries no email address.")
        name = claims.get("name")
        return GoogleIdentity(
            sub=str(claims["sub"]), email=email, name=name if isinstance(name, str) else None
        )

    async def _key(self, kid: str) -> PyJWK:
        if kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            if kid not in self._keys and self._may_refetch():
                await self._fetch()
        if kid not in self._keys:
            raise InvalidIdToken("The ID token is signed with a key Google does not publish.")
        return self._keys[kid]

    def _may_refetch(self) -> bool:
        return (
            self._fetched_at is None or time.monotonic() - self._fetched_at >= self._refetch_seconds
        )

    async def _fetch(self) -> None:
        try:
            response = await self._http.get(self._jwks_url, timeout=10.0)
            response.raise_for_status()
            keys = PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, ValueError, jwt.PyJWTError) as exc:
            raise IdentityUnavailable("Google's signing keys could not be fetched.") from exc
        self._fetched_at = time.monotonic()
        self._keys = {key.key_id: key for key in keys.keys if key.key_id}
