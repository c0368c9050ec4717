"""Pairing: a short code shown to the student becomes a device token for the phone.

Codes are 6 digits, single use, valid for a few minutes; tokens are 32 random bytes. Both are
stored only as SHA-256, and tokens are compared in constant time. Only the owner makes codes,
and each device records who paired it. Plain functions on a sqlite-utils db, shared by the
daemon (through its store thread) and the CLI.

Brute force: the pending code dies after `GUESS_BUDGET` wrong guesses from anyone, so whatever
the number of guessers, one code is guessed with a chance of at most 20 in a million
(`GUESS_BUDGET / 10**CODE_DIGITS`); the owner then makes a new one.
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
#: Wrong guesses (from anyone) after which the pending code stops working.
GUESS_BUDGET = 20
#: `made_by` / `paired_by` of what the owner did (a phone's would be its device id).
OWNER = "owner"


class PairingFailed(EdgeError):
    """The code is wrong, used or expired (one message for all: no oracle)."""

    http_status = 401
    code = "pairing_failed"

    def __init__(self, *, withdrew_code: bool = False) -> None:
        super().__init__("That pairing code is not valid. Ask for a new one on the laptop.")
        #: This guess used up the pending code's budget: the owner must make a new one.
        self.withdrew_code = withdrew_code


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
    return str(row["value"])


@dataclass(frozen=True)
class PairingCode:
    """A code to show, and until when it works."""

    code: str
    expires_at: datetime


def new_code(
    db: sqlite_utils.Database, now: datetime, ttl: timedelta, *, made_by: str = OWNER
) -> PairingCode:
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
                "made_by": made_by,
            }
        )
    return PairingCode(code, expires)


def pairing_open(db: sqlite_utils.Database, now: datetime) -> bool:
    """Whether a code is waiting to be used (advertised over mDNS)."""
    row = db.execute(
        "SELECT 1 FROM pairing_codes"
        " WHERE used_at IS NULL AND withdrawn_at IS NULL AND expires_at > :now LIMIT 1",
        {"now": to_iso(now)},
    ).fetchone()
    return row is not None


@dataclass(frozen=True)
class Paired:
    """A newly paired device and the token it must keep."""

    device_id: str
    token: str


def redeem(
    db: sqlite_utils.Database,
    code: str,
    device_name: str,
    now: datetime,
    *,
    guess_budget: int = GUESS_BUDGET,
) -> Paired:
    """Exchange a code for a device token, once; a wrong code spends the pending code's budget."""
    params = {"hash": digest(code), "now": to_iso(now)}
    with transaction(db):
        rows = list(
            db.query(
                "SELECT made_by FROM pairing_codes WHERE code_hash = :hash"
                " AND used_at IS NULL AND withdrawn_at IS NULL AND expires_at > :now",
                params,
            )
        )
        if rows:
            db.execute("UPDATE pairing_codes SET used_at = :now WHERE code_hash = :hash", params)
            token = secrets.token_urlsafe(32)
            device_id = str(uuid.uuid4())
            db.table("devices").insert(
                {
                    "id": device_id,
                    "name": device_name,
                    "token_hash": digest(token),
                    "created_at": to_iso(now),
                    "paired_by": rows[0]["made_by"],
                }
            )
            return Paired(device_id, token)
        withdrew = _spend_guess(db, now, guess_budget)
    raise PairingFailed(withdrew_code=withdrew)


def _spend_guess(db: sqlite_utils.Database, now: datetime, budget: int) -> bool:
    """Count a wrong guess against the pending code; True if that withdrew it."""
    params = {"now": to_iso(now), "budget": budget}
    db.execute(
        "UPDATE pairing_codes SET failed_guesses = failed_guesses + 1"
        " WHERE used_at IS NULL AND withdrawn_at IS NULL AND expires_at > :now",
        params,
    )
    withdrawn = db.execute(
        "UPDATE pairing_codes SET withdrawn_at = :now"
        " WHERE used_at IS NULL AND withdrawn_at IS NULL AND expires_at > :now"
        " AND failed_guesses >= :budget",
        params,
    )
    return withdrawn.rowcount > 0


def authenticate(db: sqlite_utils.Database, token: str) -> str | None:
    """The id of the unrevoked device holding `token`, or None."""
    wanted = digest(token)
    row = db.execute(
        "SELECT id, token_hash FROM devices WHERE token_hash = ? AND revoked_at IS NULL", [wanted]
    ).fetchone()
    if row is None or not hmac.compare_digest(str(row["token_hash"]), wanted):
        return None
    return str(row["id"])


@dataclass(frozen=True)
class DeviceRecord:
    """A paired device as listed."""

    device_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None
    #: `OWNER`, or the id of the device whose code let this one in (None: paired before roles).
    paired_by: str | None = None


def _record(row: dict[str, str]) -> DeviceRecord:
    return DeviceRecord(
        device_id=row["id"],
        name=row["name"],
        created_at=from_iso(row["created_at"]),
        revoked_at=from_iso(row["revoked_at"]) if row["revoked_at"] else None,
        paired_by=row["paired_by"],
    )


def list_devices(db: sqlite_utils.Database) -> list[DeviceRecord]:
    """Every paired device, newest first."""
    rows = db.query(
        "SELECT id, name, created_at, revoked_at, paired_by FROM devices ORDER BY created_at DESC"
    )
    return [_record(row) for row in rows]


def find_device(db: sqlite_utils.Database, device_id: str) -> DeviceRecord:
    """One paired device."""
    for row in db.query(
        "SELECT id, name, created_at, revoked_at, paired_by FROM devices WHERE id = ?",
        [device_id],
    ):
        return _record(row)
    raise DeviceNotFound(f"No paired device with id {device_id!r}.")


def revoke(db: sqlite_utils.Database, device_id: str, now: datetime) -> list[str]:
    """Withdraw a device's token, and those of every device it paired, and theirs in turn.

    Returns the ids revoked; the daemon closes their open sockets within a second.
    """
    with transaction(db):
        found = db.execute("SELECT 1 FROM devices WHERE id = ?", [device_id]).fetchone()
        if found is None:
            raise DeviceNotFound(f"No paired device with id {device_id!r}.")
        reached = [
            row["id"]
            for row in db.query(
                """WITH RECURSIVE reach(id) AS (
                    SELECT :id UNION SELECT d.id FROM devices d JOIN reach r ON d.paired_by = r.id
                ) SELECT id FROM reach""",
                {"id": device_id},
            )
        ]
        for reached_id in reached:
            db.execute(
                "UPDATE devices SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?",
                [to_iso(now), reached_id],
            )
    return reached


def revoked_ids(db: sqlite_utils.Database) -> set[str]:
    """Ids of revoked devices."""
    rows = db.execute("SELECT id FROM devices WHERE revoked_at IS NOT NULL")
    return {row["id"] for row in rows}


def is_revoked(db: sqlite_utils.Database, device_id: str) -> bool:
    """Whether a device's token has been withdrawn."""
    row = db.execute("SELECT revoked_at FROM devices WHERE id = ?", [device_id]).fetchone()
    return row is None or row["revoked_at"] is not None
