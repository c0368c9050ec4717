"""The cloud's own access tokens: signed with the right secret, yet refused for a wrong claim.

Each attack starts from a real token's claims, re-signed with the cloud's own secret: the
untouched copy is accepted, so the one changed claim (or header) is why the other is refused.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import jwt
import pytest

from cloud.settings import CloudSettings
from tests.cloud.support import bearer, data_of, error_of, sign_in
from tests.fakes.google import FakeGoogle
from tests.support import FakeClock

#: PostgreSQL only: token checks happen before the database is asked anything.
pytestmark = pytest.mark.postgresql_only

#: Marks a claim to leave out of the re-signed token.
DROP = object()


def claims_of(token: str) -> dict[str, Any]:
    """The claims of a token, unverified (the attacker can read them too)."""
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def resign(claims: dict[str, Any], secret: str, algorithm: str = "HS256", **changes: Any) -> str:
    """`claims` with `changes` applied (`DROP` removes one), signed with `secret`."""
    changed = {**claims, **changes}
    return jwt.encode(
        {name: value for name, value in changed.items() if value is not DROP},
        secret,
        algorithm=algorithm,
    )


async def me(cloud: httpx.AsyncClient, token: str) -> httpx.Response:
    """GET /api/me with `token`."""
    return await cloud.get("/api/me", headers=bearer(token))


@pytest.fixture
def secret(cloud_settings: CloudSettings) -> str:
    """The HMAC key the cloud under test signs its access tokens with."""
    assert cloud_settings.jwt_secret is not None
    return cloud_settings.jwt_secret.get_secret_value()


@pytest.fixture
async def genuine(cloud: httpx.AsyncClient, google: FakeGoogle, secret: str) -> dict[str, Any]:
    """A signed-in student's access token claims, shown to pass when re-signed unchanged."""
    claims = claims_of((await sign_in(cloud, google))["accessToken"])
    data_of(await me(cloud, resign(claims, secret)))
    return claims


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"iss": "https://evil.example"}, id="foreign-issuer"),
        pytest.param({"iss": DROP}, id="no-issuer"),
        pytest.param({"aud": "another-api"}, id="foreign-audience"),
        pytest.param({"aud": ["another-api"]}, id="foreign-audience-list"),
        pytest.param({"aud": DROP}, id="no-audience"),
        pytest.param({"exp": DROP}, id="no-expiry"),
    ],
)
async def test_a_token_with_a_wrong_claim_is_refused(
    cloud: httpx.AsyncClient, genuine: dict[str, Any], secret: str, changes: dict[str, Any]
) -> None:
    """The right signature does not make up for a foreign or missing iss, aud or exp."""
    forged = resign(genuine, secret, **changes)
    assert error_of(await me(cloud, forged), 401)["code"] == "invalid_token"


@pytest.mark.parametrize(
    "expiry", [pytest.param("4102444800", id="text"), pytest.param(10**20, id="past-9999")]
)
async def test_an_expiry_that_is_not_a_time_is_refused(
    cloud: httpx.AsyncClient, genuine: dict[str, Any], secret: str, expiry: object
) -> None:
    """An `exp` that is text or beyond any datetime is refused as 401, not read or a 500."""
    forged = resign(genuine, secret, exp=expiry)
    assert error_of(await me(cloud, forged), 401)["code"] == "invalid_token"


async def test_a_token_not_valid_before_a_later_time_is_refused(
    cloud: httpx.AsyncClient, genuine: dict[str, Any], secret: str, clock: FakeClock
) -> None:
    """An `nbf` a minute ahead of the cloud's clock is refused (401 invalid_token)."""
    early = resign(genuine, secret, nbf=int(clock.now().timestamp()) + 60)
    assert error_of(await me(cloud, early), 401)["code"] == "invalid_token"


async def test_not_before_is_judged_by_the_clouds_clock(
    cloud: httpx.AsyncClient, genuine: dict[str, Any], secret: str, clock: FakeClock
) -> None:
    """Once the cloud's clock passes `nbf`, the same token is accepted."""
    early = resign(genuine, secret, nbf=int(clock.now().timestamp()) + 60)
    error_of(await me(cloud, early), 401)
    clock.advance(61)
    data_of(await me(cloud, early))


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
# The test secret is shorter than these algorithms want; it only has to be the cloud's own.
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_a_token_signed_with_another_hmac_algorithm_is_refused(
    cloud: httpx.AsyncClient, genuine: dict[str, Any], secret: str, algorithm: str
) -> None:
    """The algorithm is pinned to HS256: the same secret under another HMAC is refused."""
    forged = resign(genuine, secret, algorithm=algorithm)
    assert error_of(await me(cloud, forged), 401)["code"] == "invalid_token"


async def test_an_unsigned_token_is_refused(
    cloud: httpx.AsyncClient, genuine: dict[str, Any]
) -> None:
    """`alg: none` with the genuine claims and no signature is refused."""

    def part(value: dict[str, Any]) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    unsigned = f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(genuine)}."
    assert error_of(await me(cloud, unsigned), 401)["code"] == "invalid_token"
