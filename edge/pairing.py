"""Pairing: a short code shown to the student becomes a device token for the phone.

Codes are 6 digits, single use, valid for a few minutes; tokens are 32 random bytes. Both are
stored only as SHA-256, and tokens are compared in constant time. Plain functions on a
sqlite-utils db, shared by the daemon (through its store thread) and the CLI.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils

from edge.errors import EdgeError
from edge.store import transaction
from shared.clock import from_iso, to_iso

CODE_DIGITS = 6


class PairingFailed(EdgeError):
    """The code is wrong, used or expired (one message for all: no oracle)."""

    http_status = 401
    code = "pairing_failed"

    def __init__(self) -> None:
        super().__init__("That pairing code is not valid. Ask for a new one on the laptop.")


class DeviceNotFound(EdgeError):
    """No paired device has this id."""

    http_status = 404
    code = "device_not_found"


def digest(secret: str) -> str:
    """SHA-256 hex of a code or token: what the database keeps."""
    return hashlib.sha256(secret.encode()).hexdigest()


def daemon_id(db: sqlite_utils.Database) -> str:
    """The daemon's stable id (made once, by the pairing migration)."""
    row = db.execute("SELECT value FROM daemon_identity WHERE key = 'device_id'").fetchone()
    return str(row[0])


@dataclass(frozen=True)
class PairingCode:
    """A code to show, and until when it works."""

    code: str
    expires_at: datetime


def new_code(db: sqlite_utils.Database, now: datetime, ttl: timedelta) -> PairingCode:
    """Make a fresh code; any earlier unused code stops working."""
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    expires = now + ttl
    with transaction(db):
        db.execute("DELETE FROM pairing_codes WHERE used_at IS NULL")
        db.table("pairing_codes").insert(
            {
                "code_hash": digest(code),
                "created_at": to_iso(now),
                "expires_at": to_iso(expires),
            }
        )
    return PairingCode(code, expires)


def pairing_open(db: sqlite_utils.Database, now: datetime) -> bool:
    """Whether a code is waiting to be used (advertised over mDNS)."""
    row = db.execute(
        "SELECT 1 FROM pairing_codes WHERE used_at IS NULL AND expires_at > ? LIMIT 1",
        [to_iso(now)],
    ).fetchone()
    return row is not None


@dataclass(frozen=True)
class Paired:
    """A newly paired device and the token it must keep."""

    device_id: str
    token: str


def redeem(db: sqlite_utils.Database, code: str, device_name: str, now: datetime) -> Paired:
    """Exchange a code for a device token, once."""
    with transaction(db):
        row = db.execute(
            "SELECT expires_at, used_at FROM pairing_codes WHERE code_hash = ?", [digest(code)]
        ).fetchone()
        if row is None or row[1] is not None or from_iso(row[0]) <= now:
            raise PairingFailed()
        db.execute(
            "UPDATE pairing_codes SET used_at = ? WHERE code_hash = ?", [to_iso(now), digest(code)]
        )
        token = secrets.token_urlsafe(32)
        device_id = str(uuid.uuid4())
        db.table("devices").insert(
            {
                "id": device_id,
                "name": device_name,
                "token_hash": digest(token),
                "created_at": to_iso(now),
            }
        )
    return Paired(device_id, token)


def authenticate(db: sqlite_utils.Database, token: str) -> str | None:
    """The id of the unrevoked device holding `token`, or None."""
    wanted = digest(token)
    row = db.execute(
        "SELECT id, token_hash FROM devices WHERE token_hash = ? AND revoked_at IS NULL", [wanted]
    ).fetchone()
    if row is None or not hmac.compare_digest(str(row[1]), wanted):
        return None
    return str(row[0])


@dataclass(frozen=True)
class DeviceRecord:
    """A paired device as listed."""

    device_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


def list_devices(db: sqlite_utils.Database) -> list[DeviceRecord]:
    """Every paired device, newest first."""
    rows = db.execute(
        "SELECT id, name, created_at, revoked_at FROM devices ORDER BY created_at DESC"
    )
    return [
        DeviceRecord(r[0], r[1], from_iso(r[2]), from_iso(r[3]) if r[3] else None) for r in rows
    ]


def revoke(db: sqlite_utils.Database, device_id: str, now: datetime) -> None:
    """Withdraw a device's token (its open sockets are closed by the daemon within a second)."""
    with transaction(db):
        found = db.execute("SELECT 1 FROM devices WHERE id = ?", [device_id]).fetchone()
        if found is None:
            raise DeviceNotFound(f"No paired device with id {device_id!r}.")
        db.execute(
            "UPDATE devices SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
            [to_iso(now), device_id],
        )


def revoked_ids(db: sqlite_utils.Database) -> set[str]:
    """Ids of revoked devices."""
    return {r[0] for r in db.execute("SELECT id FROM devices WHERE revoked_at IS NOT NULL")}


def is_revoked(db: sqlite_utils.Database, device_id: str) -> bool:
    """Whether a device's token has been withdrawn."""
    row = db.execute("SELECT revoked_at FROM devices WHERE id = ?", [device_id]).fetchone()
    return row is None or row[0] is not None
