"""Linking an edge to an account with the device code flow (RFC 8628), and managing the links.

The edge asks for a code pair, shows the short user code, and polls with the long device code;
the student approves the user code while signed in; the next poll gets a token pair scoped to sync.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.auth import AuthService, Principal
from cloud.db.models import ApprovalAttempts, DeviceCodeRow, DeviceRow, RefreshToken
from cloud.errors import (
    AccessDenied,
    AuthorizationPending,
    CloudError,
    DeviceFlowError,
    ExpiredToken,
    NotFound,
    RateLimited,
    SlowDown,
    TooManyPendingCodes,
    UnknownDeviceCode,
)
from cloud.settings import CloudSettings
from cloud.throttle import RequestThrottle, insert_missing
from cloud.tokens import (
    format_user_code,
    hash_token,
    new_device_code,
    new_user_code,
    normalise_user_code,
)
from shared.auth import DeviceCode, TokenPair
from shared.clock import Clock

#: RFC 8628, 3.5: each slow_down adds five seconds to the interval the client must keep.
SLOW_DOWN_STEP = 5
#: Longest lock-out of a student who keeps entering wrong user codes.
MAX_LOCKOUT = timedelta(days=1)


@dataclass(frozen=True)
class PendingLink:
    """A device code as the student checks it before approving: what asks to be linked."""

    user_code: str
    name: str
    requested_at: datetime
    expires_at: datetime
    approved: bool


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
        self._throttle = RequestThrottle(sessions, clock)

    async def start(self, name: str, verification_uri: str, address: str) -> DeviceCode:
        """Issue a device code and a user code to a client at `address`.

        Limited per address, and in all: codes need no sign-in, so each one is a stranger's row.
        """
        settings = self._settings
        await self._throttle.hit(
            f"device_code:{address}",
            settings.device_code_rate_limit,
            timedelta(seconds=settings.device_code_rate_window_seconds),
            "device codes",
        )
        now = self._clock.now()
        ttl = settings.device_code_ttl_seconds
        device_code = new_device_code()
        for attempt in range(5):
            user_code = new_user_code()
            try:
                async with self._sessions.begin() as db:
                    await self._check_room(db, now)
                    db.add(
                        DeviceCodeRow(
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
        return DeviceCode(
            device_code=device_code,
            user_code=shown,
            verification_uri=verification_uri,
            verification_uri_complete=f"{verification_uri}?user_code={shown}",
            expires_in=ttl,
            interval=self._settings.device_poll_interval_seconds,
        )

    async def _check_room(self, db: AsyncSession, now: datetime) -> None:
        # Counted in the inserting transaction; racing requests may pass the cap by a few.
        pending = (
            select(
                func.count().label("pending"), func.min(DeviceCodeRow.expires_at).label("soonest")
            )
            .where(DeviceCodeRow.expires_at > now, DeviceCodeRow.consumed_at.is_(None))
            .select_from(DeviceCodeRow)
        )
        found = (await db.execute(pending)).mappings().one()
        count, soonest = found["pending"], found["soonest"]
        if count >= self._settings.device_code_max_pending:
            wait = (soonest - now).total_seconds() if soonest is not None else 1
            raise TooManyPendingCodes(
                "Too many devices are waiting to be linked right now; try again later.", wait
            )

    async def lookup(self, principal: Principal, user_code: str) -> PendingLink:
        """What a pending code would link, for the student to confirm; wrong codes count."""
        return await self._checked(principal, user_code, approve=False)

    async def approve(self, principal: Principal, user_code: str) -> PendingLink:
        """Approve a pending code for the signed-in user; wrong codes count toward a lock-out."""
        return await self._checked(principal, user_code, approve=True)

    async def _checked(self, principal: Principal, user_code: str, *, approve: bool) -> PendingLink:
        if principal.scope != "user":
            raise AccessDenied("Only a signed-in student can approve a device, not a device.")
        now = self._clock.now()
        error: CloudError | None = None
        found: PendingLink | None = None
        async with self._sessions.begin() as db:
            # The student's attempts row stays locked until this code is settled, so guesses
            # sent in parallel (to any process) are counted one after another.
            attempts = await self._attempts(db, principal.user_id, now)
            row = await db.scalar(
                select(DeviceCodeRow)
                .where(DeviceCodeRow.user_code == normalise_user_code(user_code))
                .with_for_update()
            )
            unknown = row is None or row.consumed_at is not None
            if row is None or unknown or row.approved_by not in (None, principal.user_id):
                error = self._wrong_code(attempts, now)
            elif row.expires_at <= now:
                error = ExpiredToken("This code has expired; start linking again on the device.")
            else:
                if approve:
                    row.approved_by = principal.user_id
                    row.approved_at = now
                found = PendingLink(
                    user_code=format_user_code(row.user_code),
                    name=row.name,
                    requested_at=row.created_at,
                    expires_at=row.expires_at,
                    approved=row.approved_by is not None,
                )
        # Raised after the commit: the wrong guess must stay counted.
        if error is not None or found is None:
            raise error or AssertionError("neither found nor refused")
        return found

    async def _attempts(self, db: AsyncSession, user_id: str, now: datetime) -> ApprovalAttempts:
        """The student's locked attempts row; `RateLimited` while a lock-out lasts."""
        await insert_missing(db, ApprovalAttempts, user_id=user_id, failures=0, last_failure_at=now)
        attempts = await db.get(
            ApprovalAttempts, user_id, with_for_update=True, populate_existing=True
        )
        assert attempts is not None  # noqa: S101 - inserted above
        if attempts.locked_until is not None and now < attempts.locked_until:
            raise self._locked(attempts.locked_until, now)
        reset = timedelta(seconds=self._settings.device_approve_failure_reset_seconds)
        if now - attempts.last_failure_at >= reset:
            attempts.failures = 0
        return attempts

    def _wrong_code(self, attempts: ApprovalAttempts, now: datetime) -> CloudError:
        attempts.failures += 1
        attempts.last_failure_at = now
        over = attempts.failures - self._settings.device_approve_max_failures
        if over < 0:
            return NotFound("No pending device has this code; check the code on the device.")
        first = timedelta(seconds=self._settings.device_approve_lockout_seconds)
        # Doubling, capped: `2 ** over` alone would overflow timedelta after enough guesses.
        attempts.locked_until = now + min(first * 2 ** min(over, 20), MAX_LOCKOUT)
        return self._locked(attempts.locked_until, now)

    @staticmethod
    def _locked(until: datetime, now: datetime) -> RateLimited:
        return RateLimited(
            "Too many wrong codes: wait before entering another one.",
            (until - now).total_seconds(),
        )

    async def poll(self, device_code: str) -> TokenPair:
        """The edge's poll: pending, slow down, expired, or its token pair (once)."""
        now = self._clock.now()
        async with self._sessions.begin() as db:
            row = await db.scalar(
                select(DeviceCodeRow)
                .where(DeviceCodeRow.device_code_hash == hash_token(device_code))
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
                device = DeviceRow(
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
            query = select(DeviceRow).order_by(DeviceRow.created_at.desc())
            if user_id is not None:
                query = query.where(DeviceRow.user_id == user_id)
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
            device = await db.get(DeviceRow, device_id, with_for_update=True)
            if device is None or (owner is not None and device.user_id != owner):
                raise NotFound(f"No device {device_id!r} is linked to this account.")
            if device.revoked_at is None:
                device.revoked_at = now
            await db.execute(
                update(RefreshToken)
                .where(RefreshToken.device_id == device_id, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=now)
            )
