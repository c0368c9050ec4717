"""A stand-in for Google's sign-in keys: an RSA key pair of our own, its JWKS served on loopback.

Tokens are minted exactly as Google shapes them (RS256, `kid` header, iss/aud/sub/email claims),
so the cloud verifies them through its real code path.
"""

from __future__ import annotations

import json
import uuid
from functools import cache
from typing import Any

import jwt
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from jwt.algorithms import RSAAlgorithm

from shared.clock import Clock

CLIENT_ID = "studylens-test.apps.googleusercontent.com"
ISSUER = "https://accounts.google.com"


@cache
def rsa_key(name: str) -> RSAPrivateKey:
    """One RSA key per name for the whole run (generating keys is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: RSAPrivateKey, kid: str) -> dict[str, Any]:
    """The public half of `key` as Google publishes it."""
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update(kid=kid, use="sig", alg="RS256")
    return jwk


class FakeGoogle:
    """Serves `/oauth2/v3/certs` and mints ID tokens with the keys it publishes."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.kid = "key-1"
        self.published: dict[str, RSAPrivateKey] = {self.kid: rsa_key("key-1")}
        self.fetches = 0
        self._server: TestServer | None = None

    async def start(self) -> None:
        """Listen on a loopback port."""
        app = web.Application()
        app.router.add_get("/oauth2/v3/certs", self._certs)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()

    async def close(self) -> None:
        """Stop listening."""
        if self._server is not None:
            await self._server.close()

    @property
    def jwks_url(self) -> str:
        """Where the keys are served."""
        assert self._server is not None
        return str(self._server.make_url("/oauth2/v3/certs"))

    async def _certs(self, _request: web.Request) -> web.Response:
        self.fetches += 1
        keys = [public_jwk(key, kid) for kid, key in self.published.items()]
        return web.json_response({"keys": keys})

    def rotate(self) -> str:
        """Publish a new key and sign with it from now on; return its kid."""
        self.kid = f"key-{len(self.published) + 1}"
        self.published[self.kid] = rsa_key(self.kid)
        return self.kid

    def claims(self, sub: str = "google-sub-1", email: str = "ada@example.com") -> dict[str, Any]:
        """Claims of a good token for `sub`."""
        now = int(self.clock.now().timestamp())
        return {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "azp": CLIENT_ID,
            "sub": sub,
            "email": email,
            "email_verified": True,
            "name": email.split("@")[0].title(),
            "iat": now,
            "exp": now + 3600,
            "jti": uuid.uuid4().hex,
        }

    def token(
        self,
        sub: str = "google-sub-1",
        email: str = "ada@example.com",
        *,
        key: RSAPrivateKey | None = None,
        kid: str | None = None,
        drop: tuple[str, ...] = (),
        **changes: Any,
    ) -> str:
        """A signed ID token; `changes` override claims, `drop` removes some."""
        claims = self.claims(sub, email) | changes
        for name in drop:
            claims.pop(name)
        signing_kid = kid or self.kid
        signer = key or self.published[self.kid]
        return jwt.encode(claims, signer, algorithm="RS256", headers={"kid": signing_kid})
