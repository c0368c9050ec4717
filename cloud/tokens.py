"""Token mechanics with no I/O: access JWTs, opaque refresh tokens, sealed successors, codes.

Access tokens are HS256 JWTs whose algorithm is pinned on decode (no `alg: none`, no algorithm
confusion). Refresh tokens are 48 random bytes; only their SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cloud.errors import TokenInvalid
from shared.auth import Scope

ALGORITHM = "HS256"
AUDIENCE = "studylens-api"
REFRESH_BYTES = 48
#: RFC 8628 section 6.1: letters that cannot be mistaken for one another, no vowels.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
USER_CODE_LENGTH = 8
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
#: `iatus` past 9999 would not make a datetime; no honest token comes near it.
MAX_MICROS = (datetime(9999, 1, 1, tzinfo=UTC) - EPOCH) // MICROSECOND


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says."""

    user_id: str
    scope: Scope
    jti: str
    #: To the microsecond (the `iatus` claim): JWT's `iat` has whole seconds only.
    issued_at: datetime
    expires_at: datetime
    #: The refresh token issued beside it: revoking its family stops this token too.
    refresh_id: str
    device_id: str | None = None


def issue_access(
    secret: str,
    *,
    issuer: str,
    user_id: str,
    scope: Scope,
    now: datetime,
    ttl: timedelta,
    refresh_id: str,
    device_id: str | None = None,
) -> tuple[str, AccessClaims]:
    """Sign a new access token; return it with its claims."""
    claims = AccessClaims(
        user_id=user_id,
        scope=scope,
        jti=uuid.uuid4().hex,
        issued_at=now,
        expires_at=(now + ttl).replace(microsecond=0),
        refresh_id=refresh_id,
        device_id=device_id,
    )
    payload: dict[str, object] = {
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": user_id,
        "scope": scope,
        "jti": claims.jti,
        "iat": int(claims.issued_at.timestamp()),
        "iatus": (claims.issued_at - EPOCH) // MICROSECOND,
        "exp": int(claims.expires_at.timestamp()),
        "rid": refresh_id,
    }
    if device_id is not None:
        payload["did"] = device_id
    return jwt.encode(payload, secret, algorithm=ALGORITHM), claims


def decode_access(token: str, secret: str, *, issuer: str, now: datetime) -> AccessClaims:
    """Verify signature, issuer, audience, expiry and `nbf` at `now`; raise `TokenInvalid`."""
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=issuer,
            options={
                "require": ["exp", "iat", "sub", "jti", "iss", "aud", "iatus", "rid"],
                "verify_exp": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise TokenInvalid(str(exc)) from exc
    # Expiry and "not before" are checked against our clock rather than the wall clock, so
    # they mean the same as every other time the cloud judges (and are testable).
    expires_at = _instant(payload, "exp")
    if expires_at <= now:
        raise TokenInvalid("token expired")
    if "nbf" in payload and _instant(payload, "nbf") > now:
        raise TokenInvalid("token not valid yet")
    scope = payload.get("scope")
    if scope not in ("user", "sync"):
        raise TokenInvalid("unknown scope")
    device_id = payload.get("did")
    micros = payload["iatus"]
    if not isinstance(micros, int) or not 0 <= micros < MAX_MICROS:
        raise TokenInvalid("bad iatus")
    return AccessClaims(
        user_id=str(payload["sub"]),
        scope=scope,
        jti=str(payload["jti"]),
        issued_at=EPOCH + micros * MICROSECOND,
        expires_at=expires_at,
        refresh_id=str(payload["rid"]),
        device_id=str(device_id) if device_id is not None else None,
    )


def _instant(payload: dict[str, object], claim: str) -> datetime:
    """A NumericDate claim as an instant; `TokenInvalid` unless whole seconds before 9999."""
    value = payload[claim]
    # Not `int(value)`: that would take "12", 1e3 or true, and a huge number would not convert.
    if type(value) is not int or not 0 <= value < MAX_MICROS // 1_000_000:
        raise TokenInvalid(f"bad {claim}")
    return datetime.fromtimestamp(value, UTC)


def new_refresh_token() -> str:
    """48 random bytes, URL-safe base64 (64 characters)."""
    return secrets.token_urlsafe(REFRESH_BYTES)


def hash_token(token: str) -> str:
    """The SHA-256 hex a token is stored and looked up by."""
    return hashlib.sha256(token.encode()).hexdigest()


def _seal_key(token: str) -> bytes:
    # A different derivation from the stored hash: knowing the hash gives no key.
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"studylens successor v1"
    ).derive(token.encode())


def seal_successor(token: str, successor: str) -> bytes:
    """Encrypt `successor` so that only a holder of `token` can open it."""
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(_seal_key(token)).encrypt(nonce, successor.encode(), None)


def open_successor(token: str, sealed: bytes) -> str:
    """Decrypt what `seal_successor` made for `token`."""
    return AESGCM(_seal_key(token)).decrypt(sealed[:12], sealed[12:], None).decode()


def new_user_code() -> str:
    """A code the student types: eight unambiguous letters, shown as XXXX-XXXX."""
    return "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(USER_CODE_LENGTH))


def normalise_user_code(raw: str) -> str:
    """Accept the code as typed: any case, with or without the dash or spaces."""
    return "".join(ch for ch in raw.upper() if ch.isalnum())


def format_user_code(code: str) -> str:
    """The code as shown: XXXX-XXXX."""
    return f"{code[:4]}-{code[4:]}"


def new_device_code() -> str:
    """The secret the edge polls with."""
    return secrets.token_urlsafe(32)
