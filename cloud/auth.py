"""Accounts and tokens: sign-in, refresh rotation with reuse detection, logout, authentication.

Every decision is settled in the database (row locks, unique keys), never in process memory, so
any number of API processes can share the work.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.models import DeviceRow, RefreshToken, RevokedAccessToken, User
from cloud.errors import InvalidGrant, InvalidToken, TokenInvalid
from cloud.identity import GoogleIdentity
from cloud.settings import CloudSettings
from cloud.tokens import (
    AccessClaims,
    decode_access,
    hash_token,
    issue_access,
    new_refresh_token,
    open_successor,
    seal_successor,
)
from shared.auth import Scope, TokenPair
from shared.clock import Clock


@dataclass(frozen=True)
class Principal:
    """Who is calling: the verified access token and the account behind it."""

    user_id: str
    role: str
    scope: Scope
    jti: str
    expires_at: datetime
    device_id: str | None

    @property
    def is_admin(self) -> bool:
        """Admin rights need the role and a user (not a device) token."""
        return self.role == "admin" and self.scope == "user"


class AuthService:
    """Issues, rotates, revokes and checks tokens."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: CloudSettings,
        clock: Clock,
        secret: str,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._clock = clock
        self._secret = secret
        self._access_ttl = timedelta(seconds=settings.access_token_ttl_seconds)
        self._refresh_ttl = timedelta(days=settings.refresh_token_ttl_days)
        self._grace = timedelta(seconds=settings.refresh_grace_seconds)

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """The session factory (for read-only lookups of routes)."""
        return self._sessions

    # --- sign-in ----------------------------------------------------------------------------

    async def sign_in(self, identity: GoogleIdentity) -> TokenPair:
        """Find or create the user of a verified Google identity and start a token family."""
        now = self._clock.now()
        for attempt in range(2):
            try:
                async with self._sessions.begin() as db:
                    user = await self._upsert_user(db, identity, now)
                    return await self.start_family(db, user.id, "user", None, now)
            except IntegrityError:
                # Two first sign-ins of one account raced on the unique `google_sub`; the
                # second attempt finds the row the other one made.
                if attempt:
                    raise
        raise AssertionError("unreachable")

    async def _upsert_user(self, db: AsyncSession, identity: GoogleIdentity, now: datetime) -> User:
        user = await db.scalar(select(User).where(User.google_sub == identity.sub))
        if user is None:
            user = User(
                id=str(uuid.uuid4()),
                google_sub=identity.sub,
                email=identity.email,
                name=identity.name,
                role="student",
                created_at=now,
                last_sign_in_at=now,
            )
            db.add(user)
            await db.flush()
        else:
            user.email = identity.email
            user.name = identity.name or user.name
            user.last_sign_in_at = now
        return user

    async def start_family(
        self, db: AsyncSession, user_id: str, scope: Scope, device_id: str | None, now: datetime
    ) -> TokenPair:
        """A first refresh token of a new family, and an access token beside it."""
        raw = new_refresh_token()
        row = self._refresh_row(raw, str(uuid.uuid4()), user_id, scope, device_id, now)
        db.add(row)
        await db.flush()
        return self._pair(row, raw, now)

    # --- refresh ----------------------------------------------------------------------------

    async def refresh(self, raw: str) -> TokenPair:
        """Rotate `raw` (RFC 9700, 4.14.2): the old token dies, a successor is issued.

        A token already rotated within the grace period yields the same successor again (its
        holder lost our answer); any other reuse revokes the whole family.
        """
        now = self._clock.now()
        reused_family: str | None = None
        async with self._sessions.begin() as db:
            row = await db.scalar(
                select(RefreshToken)
                .where(RefreshToken.token_hash == hash_token(raw))
                .with_for_update()
            )
            if row is None or row.revoked_at is not None or row.expires_at <= now:
                raise InvalidGrant("The refresh token is unknown, expired or revoked.")
            await self._check_account(db, row)
            if row.rotated_at is None:
                return await self._rotate(db, row, raw, now)
            replay = await self._replay(db, row, raw, now)
            if replay is not None:
                return replay
            reused_family = row.family_id
            await self._revoke_family(db, row.family_id, now)
        raise InvalidGrant(
            f"The refresh token was already used; its family {reused_family} is now revoked."
        )

    async def _check_account(self, db: AsyncSession, row: RefreshToken) -> None:
        if await db.get(User, row.user_id) is None:
            raise InvalidGrant("The account of this refresh token no longer exists.")
        if row.device_id is not None:
            device = await db.get(DeviceRow, row.device_id)
            if device is None or device.revoked_at is not None:
                raise InvalidGrant("This device's link was revoked.")

    async def _rotate(
        self, db: AsyncSession, row: RefreshToken, raw: str, now: datetime
    ) -> TokenPair:
        successor_raw = new_refresh_token()
        successor = self._refresh_row(
            successor_raw, row.family_id, row.user_id, row.scope, row.device_id, now
        )
        db.add(successor)
        await db.flush()
        # Compare-and-set: on SQLite (no row locks) a racing rotation finds nothing to update.
        claimed = await db.execute(
            update(RefreshToken)
            .where(RefreshToken.id == row.id, RefreshToken.rotated_at.is_(None))
            .values(
                rotated_at=now,
                successor_id=successor.id,
                successor_sealed=seal_successor(raw, successor_raw),
            )
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise InvalidGrant("The refresh token was used by another request at the same time.")
        return self._pair(successor, successor_raw, now)

    async def _replay(
        self, db: AsyncSession, row: RefreshToken, raw: str, now: datetime
    ) -> TokenPair | None:
        if row.rotated_at is None or row.successor_id is None or row.successor_sealed is None:
            return None
        # `now` may lie before `rotated_at`: it is read before waiting on the row lock, and
        # other processes' clocks differ. Zero grace must still mean no replay at all.
        if self._grace <= timedelta(0) or now - row.rotated_at >= self._grace:
            return None
        successor = await db.get(RefreshToken, row.successor_id, with_for_update=True)
        if successor is None or successor.rotated_at is not None or successor.revoked_at:
            return None
        return self._pair(successor, open_successor(raw, row.successor_sealed), now)

    async def _revoke_family(self, db: AsyncSession, family_id: str, now: datetime) -> None:
        await db.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    # --- logout and revocation --------------------------------------------------------------

    async def logout(self, principal: Principal | None, raw_refresh: str | None) -> bool:
        """Revoke the refresh token's family and blacklist the access token; True if any."""
        now = self._clock.now()
        done = False
        async with self._sessions.begin() as db:
            if raw_refresh:
                row = await db.scalar(
                    select(RefreshToken).where(RefreshToken.token_hash == hash_token(raw_refresh))
                )
                if row is not None and (principal is None or row.user_id == principal.user_id):
                    await self._revoke_family(db, row.family_id, now)
                    done = True
            if principal is not None:
                exists = await db.get(RevokedAccessToken, principal.jti)
                if exists is None:
                    db.add(RevokedAccessToken(jti=principal.jti, expires_at=principal.expires_at))
                done = True
        return done

    async def revoke_user(self, db: AsyncSession, user_id: str) -> int:
        """Revoke every refresh token of a user and every access token issued so far."""
        now = self._clock.now()
        user = await db.get(User, user_id)
        if user is not None:
            user.tokens_revoked_at = now
        result = await db.execute(
            update(RefreshToken)
            .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    # --- authentication ---------------------------------------------------------------------

    async def authenticate(self, token: str) -> Principal:
        """The principal of a valid access token; `InvalidToken` for anything else."""
        now = self._clock.now()
        try:
            claims = decode_access(token, self._secret, issuer=self._settings.jwt_issuer, now=now)
        except TokenInvalid as exc:
            raise InvalidToken() from exc
        async with self._sessions() as db:
            if await db.get(RevokedAccessToken, claims.jti) is not None:
                raise InvalidToken("This access token was signed out.")
            # Logout, reuse detection and unlinking revoke every row of a family, this one too.
            issued_with = await db.get(RefreshToken, claims.refresh_id)
            if issued_with is None or issued_with.revoked_at is not None:
                raise InvalidToken("This access token's sign-in was revoked.")
            user = await db.get(User, claims.user_id)
            if user is None or issued_with.user_id != user.id:
                raise InvalidToken("The account of this token no longer exists.")
            revoked_at = user.tokens_revoked_at
            # Both to the microsecond: a sign-in right after the revocation must work.
            if revoked_at is not None and claims.issued_at < revoked_at:
                raise InvalidToken("This account's tokens were revoked.")
            if claims.device_id is not None:
                device = await db.get(DeviceRow, claims.device_id)
                if device is None or device.revoked_at is not None or device.user_id != user.id:
                    raise InvalidToken("This device's link was revoked.")
        return Principal(
            user_id=user.id,
            role=user.role,
            scope=claims.scope,
            jti=claims.jti,
            expires_at=claims.expires_at,
            device_id=claims.device_id,
        )

    # --- helpers ----------------------------------------------------------------------------

    def _refresh_row(
        self,
        raw: str,
        family_id: str,
        user_id: str,
        scope: str,
        device_id: str | None,
        now: datetime,
    ) -> RefreshToken:
        return RefreshToken(
            id=str(uuid.uuid4()),
            token_hash=hash_token(raw),
            family_id=family_id,
            user_id=user_id,
            device_id=device_id,
            scope=scope,
            created_at=now,
            expires_at=now + self._refresh_ttl,
        )

    def _pair(self, row: RefreshToken, raw: str, now: datetime) -> TokenPair:
        scope: Scope = "sync" if row.scope == "sync" else "user"
        access, claims = self._access(row.user_id, scope, row.id, row.device_id, now)
        return TokenPair(
            access_token=access,
            expires_in=int(self._access_ttl.total_seconds()),
            expires_at=claims.expires_at,
            refresh_token=raw,
            refresh_expires_at=row.expires_at,
            scope=scope,
            user_id=row.user_id,
            device_id=row.device_id,
        )

    def _access(
        self, user_id: str, scope: Scope, refresh_id: str, device_id: str | None, now: datetime
    ) -> tuple[str, AccessClaims]:
        return issue_access(
            self._secret,
            issuer=self._settings.jwt_issuer,
            user_id=user_id,
            scope=scope,
            now=now,
            ttl=self._access_ttl,
            refresh_id=refresh_id,
            device_id=device_id,
        )
