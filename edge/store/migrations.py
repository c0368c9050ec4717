"""Schema migrations: named, ordered, each applied once in its own transaction and recorded."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import sqlite_utils

from edge.errors import EdgeError
from edge.store.transaction import transaction
from shared.clock import to_iso
from shared.topics import KNOWN_TOPICS

Migration = Callable[[sqlite_utils.Database], None]

LOCAL_USER_NAME = "local"


def _initial_schema(db: sqlite_utils.Database) -> None:
    # Times are UTC text from shared.clock.to_iso (fixed width, so they sort as text); local
    # dates are YYYY-MM-DD in the student's zone at the time of the fact.
    statements = [
        """CREATE TABLE users (
            id TEXT PRIMARY KEY,
            display_name TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE session_days (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id),
            local_date TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (user_id, local_date)
        )""",
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            day_id TEXT NOT NULL REFERENCES session_days(id),
            started_at TEXT NOT NULL,
            last_activity_at TEXT NOT NULL,
            ended_at TEXT,
            end_reason TEXT CHECK (end_reason IN ('ended', 'idle', 'superseded')),
            CHECK ((ended_at IS NULL) = (end_reason IS NULL)),
            CHECK (ended_at IS NULL OR ended_at >= started_at)
        )""",
        "CREATE INDEX sessions_running ON sessions(id) WHERE ended_at IS NULL",
        "CREATE INDEX sessions_day ON sessions(day_id, started_at)",
        """CREATE TABLE topics (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE COLLATE NOCASE
        )""",
        """CREATE TABLE subtopics (
            id INTEGER PRIMARY KEY,
            topic_id INTEGER NOT NULL REFERENCES topics(id),
            name TEXT NOT NULL COLLATE NOCASE,
            UNIQUE (topic_id, name)
        )""",
        # One row per frame received, analysed or not: a failed analysis keeps its frame and
        # says why (outcome 'failed', error_code), so nothing the phone sent is dropped silently.
        """CREATE TABLE learning_events (
            id TEXT PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id),
            captured_at TEXT NOT NULL,
            image_key TEXT,
            outcome TEXT NOT NULL CHECK (outcome IN ('analysed', 'reused', 'failed')),
            error_code TEXT,
            source TEXT,
            analysis_json TEXT,
            topic_id INTEGER REFERENCES topics(id),
            subtopic_id INTEGER REFERENCES subtopics(id),
            is_studying INTEGER CHECK (is_studying IN (0, 1)),
            is_active INTEGER CHECK (is_active IN (0, 1)),
            is_distracted INTEGER CHECK (is_distracted IN (0, 1)),
            CHECK ((outcome = 'failed') = (analysis_json IS NULL))
        )""",
        "CREATE INDEX learning_events_session ON learning_events(session_id, captured_at)",
        # One row per stretch of one topic within one local day. The running stretch of an active
        # session has ended_at NULL, so a restart can rebuild it; at most one per session.
        """CREATE TABLE topic_segments (
            id TEXT PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id),
            topic_id INTEGER NOT NULL REFERENCES topics(id),
            local_date TEXT NOT NULL,
            started_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            ended_at TEXT,
            duration_seconds REAL,
            active_count INTEGER NOT NULL DEFAULT 0,
            passive_count INTEGER NOT NULL DEFAULT 0,
            distracted_count INTEGER NOT NULL DEFAULT 0,
            CHECK ((ended_at IS NULL) = (duration_seconds IS NULL)),
            CHECK (duration_seconds IS NULL OR duration_seconds >= 0)
        )""",
        "CREATE INDEX topic_segments_session ON topic_segments(session_id, started_at)",
        "CREATE INDEX topic_segments_day ON topic_segments(local_date)",
        """CREATE UNIQUE INDEX topic_segments_one_running
            ON topic_segments(session_id) WHERE ended_at IS NULL""",
        # Derived, never written: the per-day totals are whatever the closed segments add up to.
        """CREATE VIEW daily_topic_stats AS
            SELECT d.user_id AS user_id,
                   g.local_date AS local_date,
                   t.name AS topic,
                   SUM(g.duration_seconds) AS duration_seconds,
                   SUM(g.active_count) AS active_count,
                   SUM(g.passive_count) AS passive_count,
                   SUM(g.distracted_count) AS distracted_count,
                   COUNT(*) AS segment_count
            FROM topic_segments g
            JOIN sessions s ON s.id = g.session_id
            JOIN session_days d ON d.id = s.day_id
            JOIN topics t ON t.id = g.topic_id
            WHERE g.ended_at IS NOT NULL
            GROUP BY d.user_id, g.local_date, t.name""",
        """CREATE TABLE bookmarks (
            id TEXT PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id),
            learning_event_id TEXT REFERENCES learning_events(id),
            note TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX bookmarks_session ON bookmarks(session_id, created_at)",
        """CREATE TABLE help_requests (
            id TEXT PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id),
            local_date TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX help_requests_day ON help_requests(local_date, session_id)",
    ]
    for statement in statements:
        db.execute(statement)


def _seed(db: sqlite_utils.Database) -> None:
    db.table("users").insert(
        {
            "id": str(uuid.uuid4()),
            "display_name": LOCAL_USER_NAME,
            "created_at": to_iso(datetime.now(UTC)),
        }
    )
    db.table("topics").insert_all(({"name": name} for name in KNOWN_TOPICS), ignore=True)


def _pairing(db: sqlite_utils.Database) -> None:
    # Tokens and codes are stored only as SHA-256 hex: a copied database opens nothing.
    for statement in [
        """CREATE TABLE daemon_identity (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        )""",
        """CREATE TABLE devices (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            last_seen_at TEXT,
            revoked_at TEXT
        )""",
        """CREATE TABLE pairing_codes (
            code_hash TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_at TEXT
        )""",
    ]:
        db.execute(statement)
    db.table("daemon_identity").insert({"key": "device_id", "value": str(uuid.uuid4())})


#: Tables whose rows are facts the cloud receives, and the kind each is sent as.
SYNCED_TABLES = {
    "sessions": "session",
    "learning_events": "learning_event",
    "topic_segments": "topic_segment",
    "bookmarks": "bookmark",
    "help_requests": "help_request",
}


def _sync_outbox(db: sqlite_utils.Database) -> None:
    # Triggers put every insert and update of a fact into the outbox inside the same
    # transaction as the write itself, whichever code path made it: no fact can be committed
    # without its outbox row. `revision` grows with each change; the cloud keeps the highest.
    statements = [
        """CREATE TABLE sync_outbox (
            kind TEXT NOT NULL,
            fact_id TEXT NOT NULL,
            revision INTEGER NOT NULL DEFAULT 1,
            delivered_revision INTEGER NOT NULL DEFAULT 0,
            rejected_code TEXT,
            PRIMARY KEY (kind, fact_id)
        )""",
        """CREATE INDEX sync_outbox_pending ON sync_outbox(kind, fact_id)
            WHERE revision > delivered_revision""",
        # Originals the cloud has confirmed (or that vanished locally, so events go without).
        """CREATE TABLE sync_images (
            image_key TEXT PRIMARY KEY,
            uploaded_at TEXT,
            missing_at TEXT,
            pruned_at TEXT
        )""",
        """CREATE TABLE sync_state (
            key TEXT PRIMARY KEY,
            value TEXT
        )""",
    ]
    for table, kind in SYNCED_TABLES.items():
        enqueue = (
            f"INSERT INTO sync_outbox (kind, fact_id) VALUES ('{kind}', NEW.id)"
            " ON CONFLICT (kind, fact_id) DO UPDATE SET revision = revision + 1,"
            " rejected_code = NULL"
        )
        statements += [
            f"CREATE TRIGGER sync_{table}_insert AFTER INSERT ON {table} BEGIN {enqueue}; END",
            f"CREATE TRIGGER sync_{table}_update AFTER UPDATE ON {table} BEGIN {enqueue}; END",
            # Facts recorded before sync existed are sent too.
            f"INSERT INTO sync_outbox (kind, fact_id) SELECT '{kind}', id FROM {table}",
        ]
    for statement in statements:
        db.execute(statement)


def _pairing_roles(db: sqlite_utils.Database) -> None:
    # Who made each code and who paired each device, so that revoking a device revokes what
    # it let in; wrong guesses per code, so that a code dies before it can be guessed.
    for statement in [
        "ALTER TABLE pairing_codes ADD COLUMN made_by TEXT",
        "ALTER TABLE pairing_codes ADD COLUMN failed_guesses INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE pairing_codes ADD COLUMN withdrawn_at TEXT",
        "ALTER TABLE devices ADD COLUMN paired_by TEXT",
        "CREATE INDEX devices_paired_by ON devices(paired_by)",
    ]:
        db.execute(statement)


def _privacy_pause(db: sqlite_utils.Database) -> None:
    # At most one row: present while a pause is on (or until it is overwritten after its end);
    # ends_at NULL is a pause until the student resumes. Kept here so a restart stays paused.
    db.execute(
        """CREATE TABLE privacy_pause (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            started_at TEXT NOT NULL,
            ends_at TEXT,
            CHECK (ends_at IS NULL OR ends_at > started_at)
        )"""
    )


#: A fact's deletion time as the triggers write it: `shared.clock.to_iso`'s form, in UTC.
_NOW_ISO = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"


def _fact_triggers(table: str, kind: str) -> list[str]:
    """The triggers that keep one fact table's outbox rows: queued on write, buried on delete."""
    enqueue = (
        f"INSERT INTO sync_outbox (kind, fact_id) VALUES ('{kind}', NEW.id)"
        " ON CONFLICT (kind, fact_id) DO UPDATE SET revision = revision + 1,"
        " rejected_code = NULL, deleted_at = NULL"
    )
    bury = (
        f"UPDATE sync_outbox SET revision = revision + 1, rejected_code = NULL,"
        f" deleted_at = {_NOW_ISO} WHERE kind = '{kind}' AND fact_id = OLD.id"
    )
    return [
        f"CREATE TRIGGER sync_{table}_insert AFTER INSERT ON {table} BEGIN {enqueue}; END",
        f"CREATE TRIGGER sync_{table}_update AFTER UPDATE ON {table} BEGIN {enqueue}; END",
        f"CREATE TRIGGER sync_{table}_delete AFTER DELETE ON {table} BEGIN {bury}; END",
    ]


def _tombstones(db: sqlite_utils.Database) -> None:
    # A deleted fact's outbox row stays, as a tombstone: `deleted_at` set and its revision one
    # past the fact's last, so the deletion is sent like any change, whichever code path made
    # it. Originals the cloud holds get tombstones of kind 'image' (made by forget, keyed by
    # their SHA-256). A fact written again under the same id (an import) is live again.
    statements = ["ALTER TABLE sync_outbox ADD COLUMN deleted_at TEXT"]
    for table, kind in SYNCED_TABLES.items():
        statements += [f"DROP TRIGGER sync_{table}_insert", f"DROP TRIGGER sync_{table}_update"]
        statements += _fact_triggers(table, kind)
    for statement in statements:
        db.execute(statement)


def _study_memory(db: sqlite_utils.Database) -> None:
    # Review cards made from the pages of a session, each with its FSRS state (the `fsrs`
    # package's Card: state 1 learning, 2 review, 3 relearning; step NULL in review), and one
    # review log row per grade with the state it left. `question_key` is the question folded
    # (case, spacing, punctuation) so no two cards ask the same. A card lives and dies with its
    # session and page, so forgetting a session takes its cards and their reviews along.
    fsrs_state = """
            state INTEGER NOT NULL CHECK (state IN (1, 2, 3)),
            step INTEGER CHECK (step IS NULL OR step >= 0),
            stability REAL CHECK (stability IS NULL OR stability > 0),
            difficulty REAL CHECK (difficulty IS NULL OR difficulty BETWEEN 1 AND 10),
            due TEXT NOT NULL,
            last_review TEXT,
            CHECK ((stability IS NULL) = (difficulty IS NULL)),
            CHECK ((state = 2) = (step IS NULL))"""
    for statement in [
        f"""CREATE TABLE cards (
            id TEXT PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            learning_event_id TEXT REFERENCES learning_events(id) ON DELETE CASCADE,
            topic_id INTEGER NOT NULL REFERENCES topics(id),
            subtopic_id INTEGER REFERENCES subtopics(id),
            kind TEXT NOT NULL CHECK (kind IN ('qa', 'cloze')),
            question TEXT NOT NULL CHECK (length(question) BETWEEN 1 AND 1000),
            question_key TEXT NOT NULL UNIQUE CHECK (length(question_key) >= 1),
            answer TEXT NOT NULL CHECK (length(answer) BETWEEN 1 AND 1000),
            maker TEXT NOT NULL,
            created_at TEXT NOT NULL,{fsrs_state}
        )""",
        # The due queue: cards due by now, soonest first, read straight off this index.
        "CREATE INDEX cards_due ON cards(due, id)",
        "CREATE INDEX cards_topic ON cards(topic_id, created_at)",
        "CREATE INDEX cards_session ON cards(session_id)",
        "CREATE INDEX cards_event ON cards(learning_event_id)",
        f"""CREATE TABLE review_logs (
            id TEXT PRIMARY KEY,
            card_id TEXT NOT NULL REFERENCES cards(id) ON DELETE CASCADE,
            rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 4),
            reviewed_at TEXT NOT NULL,
            review_duration_ms INTEGER CHECK (review_duration_ms >= 0),{fsrs_state}
        )""",
        "CREATE INDEX review_logs_card ON review_logs(card_id, reviewed_at)",
        "CREATE INDEX review_logs_time ON review_logs(reviewed_at)",
        # Pages (learning events) already turned into cards, or found to hold none: never
        # carded again. A table of its own: a column on learning_events would re-sync every
        # carded frame through the outbox triggers.
        """CREATE TABLE carded_pages (
            learning_event_id TEXT PRIMARY KEY
                REFERENCES learning_events(id) ON DELETE CASCADE,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            maker TEXT NOT NULL,
            carded_at TEXT NOT NULL
        )""",
        "CREATE INDEX carded_pages_session ON carded_pages(session_id)",
    ]:
        db.execute(statement)


def _event_confidence(db: sqlite_utils.Database) -> None:
    # How sure the analyser was of each frame, kept with the event (not only in the response)
    # so that answers can be judged afterwards; NULL for rows from before and for analysers
    # that cannot say (the OpenAI model). typeof() refuses text and blobs, which REAL affinity
    # would otherwise keep as they came.
    db.execute(
        """ALTER TABLE learning_events ADD COLUMN confidence REAL
            CHECK (confidence IS NULL
                   OR (typeof(confidence) = 'real' AND confidence BETWEEN 0 AND 1))"""
    )


#: The study-memory tables whose rows are facts too (since 0010), and the kind of each.
MEMORY_TABLES = {"cards": "card", "review_logs": "review_log"}


def _sync_study_memory(db: sqlite_utils.Database) -> None:
    # Cards (a grade changes one: a new revision) and review logs go to the cloud like every
    # fact, with tombstones when a card is deleted or forgotten (its logs cascade, and
    # SQLite fires their delete triggers too). Those made before this are sent as well.
    for table, kind in MEMORY_TABLES.items():
        for statement in [
            *_fact_triggers(table, kind),
            f"INSERT INTO sync_outbox (kind, fact_id) SELECT '{kind}', id FROM {table}",
        ]:
            db.execute(statement)


#: Append only: a released migration is never edited, renamed or reordered.
MIGRATIONS: list[tuple[str, Migration]] = [
    ("0001_initial_schema", _initial_schema),
    ("0002_seed_local_user_and_topics", _seed),
    ("0003_pairing", _pairing),
    ("0004_sync_outbox", _sync_outbox),
    ("0005_pairing_roles", _pairing_roles),
    ("0006_privacy_pause", _privacy_pause),
    ("0007_tombstones", _tombstones),
    ("0008_study_memory", _study_memory),
    ("0009_event_confidence", _event_confidence),
    ("0010_sync_study_memory", _sync_study_memory),
]


class SchemaTooNew(EdgeError):
    """The database was migrated by a newer StudyLens than this one."""

    http_status = 503
    code = "schema_too_new"


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply every migration not yet recorded, in order; return the names applied."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)"
    )
    applied = {row["name"] for row in db.query("SELECT name FROM schema_migrations")}
    known = {name for name, _ in MIGRATIONS}
    if unknown := sorted(applied - known):
        raise SchemaTooNew(
            f"database has migrations this version does not know: {', '.join(unknown)}"
        )
    done: list[str] = []
    for name, step in MIGRATIONS:
        if name in applied:
            continue
        with transaction(db):
            step(db)
            db.execute(
                "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                [name, to_iso(datetime.now(UTC))],
            )
        done.append(name)
    return done
