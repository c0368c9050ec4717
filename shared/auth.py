"""Wire models of cloud sign-in and of linking an edge to an account (device code flow)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from shared.schemas import RequestModel, Timestamp, WireModel

Scope = Literal["user", "sync"]
#: Refresh tokens are 48 random bytes, URL-safe base64: 64 characters.
RefreshToken = Annotated[str, Field(min_length=16, max_length=128)]


class TokenPair(WireModel):
    """A fresh access JWT and its refresh token."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int
    expires_at: Timestamp
    refresh_token: str
    refresh_expires_at: Timestamp
    scope: Scope
    user_id: str
    device_id: str | None = None


class RefreshRequest(RequestModel):
    """Body of `POST /api/auth/refresh` and `/api/auth/logout` (the cookie may stand in)."""

    refresh_token: RefreshToken | None = None


class DeviceCodeRequest(RequestModel):
    """Body of `POST /api/devices/code`: how the edge names itself."""

    name: Annotated[str, Field(min_length=1, max_length=80)] = "StudyLens edge"


class DeviceCode(WireModel):
    """What the edge shows the student, and what it polls with (RFC 8628, section 3.2)."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str
    expires_in: int
    interval: int


class DeviceApproval(RequestModel):
    """Body of `POST /api/devices/approve`."""

    user_code: Annotated[str, Field(min_length=4, max_length=16)]


class DeviceTokenRequest(RequestModel):
    """Body of `POST /api/devices/token`."""

    device_code: Annotated[str, Field(min_length=16, max_length=128)]
