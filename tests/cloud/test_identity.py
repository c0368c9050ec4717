"""Google sign-in: good tokens pass, every kind of forged or unfit token is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from tests.cloud.support import data_of, error_of
from tests.fakes.google import FakeGoogle, rsa_key
from tests.support import FakeClock

#: PostgreSQL only: the core modules (auth, ingest, analytics) also run on SQLite.
pytestmark = pytest.mark.postgresql_only


async def sign_in_with(cloud: httpx.AsyncClient, id_token: str) -> httpx.Response:
    """POST a Google ID token to the sign-in endpoint."""
    return await cloud.post("/api/auth/google", json={"idToken": id_token})


async def test_good_token_signs_in_and_sets_http_only_cookies(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """A good ID token gives a user pair and HttpOnly cookies, refresh one lax and on /api/auth."""
    response = await sign_in_with(cloud, google.token())
    pair = data_of(response)
    assert pair["scope"] == "user"
    assert pair["expiresIn"] == 900
    assert len(pair["refreshToken"]) >= 64
    cookies = response.headers.get_list("set-cookie")
    assert any(c.startswith("studylens_access=") and "HttpOnly" in c for c in cookies)
    refresh = next(c for c in cookies if c.startswith("studylens_refresh="))
    assert "HttpOnly" in refresh
    assert "SameSite=lax" in refresh
    assert "Path=/api/auth" in refresh


async def test_same_google_account_is_one_user(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """Users are matched by Google subject, not email: a new email is still the same user."""
    first = data_of(await sign_in_with(cloud, google.token("sub-a", "a@example.com")))
    again = data_of(await sign_in_with(cloud, google.token("sub-a", "a-new@example.com")))
    other = data_of(await sign_in_with(cloud, google.token("sub-b", "a@example.com")))
    assert first["userId"] == again["userId"] != other["userId"]


async def test_access_token_opens_me(cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """The access token alone opens /api/me with the user's profile."""
    pair = data_of(await sign_in_with(cloud, google.token(email="ada@example.com")))
    cloud.cookies.clear()
    me = data_of(
        await cloud.get("/api/me", headers={"Authorization": f"Bearer {pair['accessToken']}"})
    )
    assert me == {
        "userId": pair["userId"],
        "email": "ada@example.com",
        "name": "Ada",
        "role": "student",
        "scope": "user",
        "deviceId": None,
    }


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"aud": "someone-else.apps.googleusercontent.com"}, "Audience doesn't match"),
        ({"iss": "https://evil.example.com"}, "not issued by Google"),
        ({"email_verified": False}, "email address is not verified"),
        ({"drop": ("email",)}, "carries no email address"),
        ({"drop": ("sub",)}, 'missing the "sub" claim'),
        ({"drop": ("exp",)}, 'missing the "exp" claim'),
    ],
)
async def test_unfit_claims_are_refused(
    cloud: httpx.AsyncClient, google: FakeGoogle, changes: dict[str, Any], why: str
) -> None:
    """A wrong audience or issuer, an unverified email, or no email, sub or exp is refused.

    Each for its own reason: the message names it, so a case refused by another check fails.
    """
    error = error_of(await sign_in_with(cloud, google.token(**changes)), 401)
    assert error["code"] == "invalid_id_token"
    assert why in error["message"]


async def test_expired_token_is_refused(
    cloud: httpx.AsyncClient, google: FakeGoogle, clock: FakeClock
) -> None:
    """An expired ID token is refused with a message saying so."""
    issued = int(clock.now().timestamp()) - 7200
    token = google.token(iat=issued, exp=issued + 3600)
    error = error_of(await sign_in_with(cloud, token), 401)
    assert "expired" in error["message"]


async def test_token_from_an_unpublished_key_is_refused(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """A token signed by a key Google never published is refused, even with a known kid."""
    token = google.token(key=rsa_key("attacker"), kid="key-1")
    assert error_of(await sign_in_with(cloud, token), 401)["code"] == "invalid_id_token"


async def test_unknown_kid_is_refused_after_a_fresh_fetch(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """An unknown kid makes the server fetch Google's keys once more, then refuse."""
    data_of(await sign_in_with(cloud, google.token()))
    fetched = google.fetches
    token = google.token(key=rsa_key("attacker"), kid="never-published")
    assert error_of(await sign_in_with(cloud, token), 401)["code"] == "invalid_id_token"
    assert google.fetches == fetched + 1


async def test_rotated_google_key_is_fetched_on_its_first_use(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """After Google rotates its key, the first token signed with it fetches the keys anew."""
    data_of(await sign_in_with(cloud, google.token()))
    google.rotate()
    data_of(await sign_in_with(cloud, google.token()))
    assert google.fetches == 2


def _unsigned(claims: dict[str, Any], header: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


async def test_alg_none_is_refused(cloud: httpx.AsyncClient, google: FakeGoogle) -> None:
    """An unsigned token with alg none is refused."""
    token = _unsigned(google.claims(), {"alg": "none", "typ": "JWT", "kid": "key-1"})
    assert error_of(await sign_in_with(cloud, token), 401)["code"] == "invalid_id_token"


async def test_hs256_signed_with_the_public_key_is_refused(
    cloud: httpx.AsyncClient, google: FakeGoogle
) -> None:
    """An HS256 token using Google's public key as the HMAC secret is refused."""
    public_pem = (
        rsa_key("key-1")
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    # PyJWT itself refuses PEM keys as HMAC secrets, so forge the signature by hand.
    header = {"alg": "HS256", "typ": "JWT", "kid": "key-1"}
    unsigned = _unsigned(google.claims(), header)[:-1]
    signature = hmac.new(public_pem, unsigned.encode(), hashlib.sha256).digest()
    token = unsigned + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    assert error_of(await sign_in_with(cloud, token), 401)["code"] == "invalid_id_token"


async def test_garbage_token_is_refused(cloud: httpx.AsyncClient) -> None:
    """A string that is not a JWT is refused as invalid_id_token."""
    error = error_of(await sign_in_with(cloud, "not-a-jwt-at-all-but-long-enough"), 401)
    assert error["code"] == "invalid_id_token"


async def test_missing_id_token_is_a_400(cloud: httpx.AsyncClient) -> None:
    """A body without idToken is a 400 naming the body.idToken field."""
    error = error_of(await cloud.post("/api/auth/google", json={}), 400)
    assert error["code"] == "invalid_request"
    assert error["details"][0]["field"] == "body.idToken"


async def test_malformed_json_is_a_400(cloud: httpx.AsyncClient) -> None:
    """A body that is not valid JSON is a 400 invalid_json."""
    response = await cloud.post(
        "/api/auth/google", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert error_of(response, 400)["code"] == "invalid_json"


async def test_unreachable_key_endpoint_is_a_503(start_cloud: object, google: FakeGoogle) -> None:
    """When Google's key endpoint cannot be reached, sign-in is a 503."""
    cloud = await start_cloud(google_jwks_url="http://127.0.0.1:9/certs")  # type: ignore[operator]
    error = error_of(await sign_in_with(cloud, google.token()), 503)
    assert error["code"] == "identity_unavailable"


async def test_no_client_id_configured_is_a_503(start_cloud: object, google: FakeGoogle) -> None:
    """With no Google client id configured, sign-in is a 503."""
    cloud = await start_cloud(google_client_ids=[])  # type: ignore[operator]
    assert error_of(await sign_in_with(cloud, google.token()), 503)["code"] == (
        "identity_unavailable"
    )
