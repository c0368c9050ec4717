"""Linking an edge to an account with the device code flow (RFC 8628), and managing the links.

The edge asks for a code pair, shows the short user code, and polls with the long device code;
the student approves the user code while signed in; the next poll gets a token pair scoped to sync.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.auth import AuthService, Principal
from cloud.db.models import Device, DeviceCode, RefreshToken
from cloud.errors import (
    AuthorizationPending,
    DeviceFlowError,
    ExpiredToken,
    Forbidden,
    NotFound,
    SlowDown,
)
from cloud.settings import CloudSettings
from cloud.tokens import (
    format_user_code,
    hash_token,
    new_device_code,
    new_user_code,
    normalise_user_code,
)
from shared.auth import DeviceCode as DeviceCodeWire
from shared.auth import TokenPair
from shared.clock import Clock

#: RFC 8628, 3.5: each slow_down adds five seconds to the interval the client must keep.
SLOW_DOWN_STEP = 5


class UnknownDeviceCode(DeviceFlowError):
    """The device code was never issued (RFC 6749's `invalid_grant`)."""

    code = "invalid_grant"


@dataclass(frozen=True)
class LinkedDevice:
    """A device as its owner sees it."""

    id: str
    user_id: str
    name: str
    created_at: datetime
    last_seen_at: datetime | None
    revoked_at: datetime | None


class DeviceLinks:
    """The device code flow and the list of linked devices."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        auth: AuthService,
        settings: CloudSettings,
        clock: Clock,
    ) -> None:
        self._sessions = sessions
        self._auth = auth
        self._settings = settings
        self._clock = clock

    async def start(self, name: str, verification_uri: str) -> DeviceCodeWire:
        """Issue a device code and a user code."""
        now = self._clock.now()
        ttl = self._settings.device_code_ttl_seconds
        device_code = new_device_code()
        for attempt in range(5):
            user_code = new_user_code()
            try:
                async with self._sessions.begin() as db:
                    db.add(
                        DeviceCode(
                            id=str(uuid.uuid4()),
                            device_code_hash=hash_token(device_code),
                            user_code=user_code,
                            name=name,
                            created_at=now,
                            expires_at=now + timedelta(seconds=ttl),
                            interval=self._settings.device_poll_interval_seconds,
                        )
                    )
                break
            except IntegrityError:
                # 20^8 codes; a clash with a live one is rare but must not fail the request.
                if attempt == 4:
                    raise
        shown = format_user_code(user_code)
        return DeviceCodeWire(
            device_code=device_code,
            user_code=shown,
            verification_uri=verification_uri,
            verification_uri_complete=f"{verification_uri}?user_code={shown}",
            expires_in=ttl,
            interval=self._settings.device_poll_interval_seconds,
        )

    async def approve(self, principal: Principal, user_code: str) -> str:
        """Approve a pending code for the signed-in user; return the name the edge gave."""
        if principal.scope != "user":
            raise Forbidden("Only a signed-in student can approve a device, not a device.")
        now = self._clock.now()
        async with self._sessions.begin() as db:
            row = await db.scalar(
                select(DeviceCode)
                .where(DeviceCode.user_code == normalise_user_code(user_code))
                .with_for_update()
            )
            if row is None or row.consumed_at is not None:
                raise NotFound("No pending device has this code; check the code on the device.")
            if row.expires_at <= now:
                raise ExpiredToken("This code has expired; start linking again on the device.")
            if row.approved_by is not None and row.approved_by != principal.user_id:
                raise NotFound("No pending device has this code; check the code on the device.")
            row.approved_by = principal.user_id
            row.approved_at = now
            return row.name

    async def poll(self, device_code: str) -> TokenPair:
        """The edge's poll: pending, slow down, expired, or its token pair (once)."""
        now = self._clock.now()
        async with self._sessions.begin() as db:
            row = await db.scalar(
                select(DeviceCode)
                .where(DeviceCode.device_code_hash == hash_token(device_code))
                .with_for_update()
            )
            if row is None:
                raise UnknownDeviceCode("This device code was never issued.")
            if row.consumed_at is not None or row.expires_at <= now:
                raise ExpiredToken("The device code has expired; start linking again.")
            too_soon = row.last_polled_at is not None and now - row.last_polled_at < timedelta(
                seconds=row.interval
            )
            row.last_polled_at = now
            if too_soon:
                row.interval += SLOW_DOWN_STEP
                error: DeviceFlowError = SlowDown(
                    f"Polling too fast: wait at least {row.interval} seconds between polls."
                )
            elif row.approved_by is None:
                error = AuthorizationPending("The student has not approved this device yet.")
            else:
                device = Device(
                    id=str(uuid.uuid4()),
                    user_id=row.approved_by,
                    name=row.name,
                    created_at=now,
                    last_seen_at=now,
                )
                db.add(device)
                row.consumed_at = now
                await db.flush()
                return await self._auth.start_family(db, device.user_id, "sync", device.id, now)
        # The poll time (and a longer interval) must be kept even though the answer is an error.
        raise error

    async def list(self, user_id: str | None) -> list[LinkedDevice]:
        """The devices of one user, or of everyone (`None`), newest first."""
        async with self._sessions() as db:
            query = select(Device).order_by(Device.created_at.desc())
            if user_id is not None:
                query = query.where(Device.user_id == user_id)
            rows = (await db.scalars(query)).all()
        return [
            LinkedDevice(
                id=d.id,
                user_id=d.user_id,
                name=d.name,
                created_at=d.created_at,
                last_seen_at=d.last_seen_at,
                revoked_at=d.revoked_at,
            )
            for d in rows
        ]

    async def revoke(self, device_id: str, *, owner: str | None) -> None:
        """Unlink a device: its tokens stop working at once. `owner=None` is an admin."""
        now = self._clock.now()
        async with self._sessions.begin() as db:
            device = await db.get(Device, device_id, with_for_update=True)
            if device is None or (owner is not None and device.user_id != owner):
                raise NotFound(f"No device {device_id!r} is linked to this account.")
            if device.revoked_at is None:
                device.revoked_at = now
            await db.execute(
                update(RefreshToken)
                .where(RefreshToken.device_id == device_id, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
