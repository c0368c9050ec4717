"""Administration: users, roles, token revocation, statistics and purging of dead rows.

Used by the admin routes and by `studylens-cloud admin`, so both do exactly the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.auth import AuthService
from cloud.db.models import (
    FACT_TABLES,
    DeviceCodeRow,
    DeviceRow,
    Image,
    RateWindow,
    RefreshToken,
    RevokedAccessToken,
    User,
)
from cloud.errors import NotFound
from cloud.throttle import MAX_WINDOW
from shared.clock import Clock

ROLES = ("student", "admin")


@dataclass(frozen=True)
class UserRow:
    """A user as an admin sees it."""

    id: str
    email: str
    name: str | None
    role: str
    created_at: datetime
    last_sign_in_at: datetime
    devices: int


@dataclass(frozen=True)
class Purged:
    """Rows removed by a purge."""

    revoked_access_tokens: int
    refresh_tokens: int
    device_codes: int
    rate_windows: int


class Admin:
    """What an admin may do."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], auth: AuthService, clock: Clock
    ) -> None:
        self._sessions = sessions
        self._auth = auth
        self._clock = clock

    async def _find(self, db: AsyncSession, who: str) -> User:
        user = await db.scalar(select(User).where(or_(User.id == who, User.email == who)))
        if user is None:
            raise NotFound(f"No user with id or email {who!r}.")
        return user

    async def users(self) -> list[UserRow]:
        """Every user with a count of linked (unrevoked) devices, oldest first."""
        devices = (
            select(DeviceRow.user_id, func.count().label("n"))
            .where(DeviceRow.revoked_at.is_(None))
            .group_by(DeviceRow.user_id)
            .subquery()
        )
        async with self._sessions() as db:
            rows = await db.execute(
                select(User, devices.c.n.label("devices"))
                .outerjoin(devices, devices.c.user_id == User.id)
                .order_by(User.created_at, User.email)
            )
            return [
                UserRow(
                    id=row["User"].id,
                    email=row["User"].email,
                    name=row["User"].name,
                    role=row["User"].role,
                    created_at=row["User"].created_at,
                    last_sign_in_at=row["User"].last_sign_in_at,
                    devices=int(row["devices"] or 0),
                )
                for row in rows.mappings()
            ]

    async def set_role(self, who: str, role: str) -> UserRow:
        """Give a user (by id or email) a role."""
        if role not in ROLES:
            raise NotFound(f"No role {role!r}; roles are {', '.join(ROLES)}.")
        async with self._sessions.begin() as db:
            user = await self._find(db, who)
            user.role = role
            user_id = user.id
        return next(u for u in await self.users() if u.id == user_id)

    async def revoke_tokens(self, who: str) -> int:
        """Sign a user out everywhere: refresh tokens revoked, access tokens refused."""
        async with self._sessions.begin() as db:
            user = await self._find(db, who)
            return await self._auth.revoke_user(db, user.id)

    async def stats(self) -> dict[str, int]:
        """Counts of users, devices, live tokens, facts per kind and images."""
        now = self._clock.now()
        async with self._sessions() as db:
            figures = {
                "users": await db.scalar(select(func.count()).select_from(User)),
                "admins": await db.scalar(
                    select(func.count()).select_from(User).where(User.role == "admin")
                ),
                "devices": await db.scalar(
                    select(func.count())
                    .select_from(DeviceRow)
                    .where(DeviceRow.revoked_at.is_(None))
                ),
                "live_refresh_tokens": await db.scalar(
                    select(func.count())
                    .select_from(RefreshToken)
                    .where(
                        RefreshToken.revoked_at.is_(None),
                        RefreshToken.rotated_at.is_(None),
                        RefreshToken.expires_at > now,
                    )
                ),
                "images": await db.scalar(select(func.count()).select_from(Image)),
            }
            for kind, table in FACT_TABLES.items():
                figures[f"{kind}s"] = await db.scalar(select(func.count()).select_from(table))
        return {name: int(value or 0) for name, value in figures.items()}

    async def purge(self) -> Purged:
        """Delete blacklist entries and tokens and codes that can no longer matter."""
        now = self._clock.now()
        async with self._sessions.begin() as db:
            access = await db.execute(
                delete(RevokedAccessToken).where(RevokedAccessToken.expires_at <= now)
            )
            refresh = await db.execute(delete(RefreshToken).where(RefreshToken.expires_at <= now))
            codes = await db.execute(delete(DeviceCodeRow).where(DeviceCodeRow.expires_at <= now))
            windows = await db.execute(
                delete(RateWindow).where(RateWindow.window_start < now - MAX_WINDOW)
            )
        return Purged(
            revoked_access_tokens=int(access.rowcount),  # type: ignore[attr-defined]
            refresh_tokens=int(refresh.rowcount),  # type: ignore[attr-defined]
            device_codes=int(codes.rowcount),  # type: ignore[attr-defined]
            rate_windows=int(windows.rowcount),  # type: ignore[attr-defined]
        )
