"""The tutor's study tools: what "quiz me", "how did I do this week" and "bookmark this" run.

Each tool is a thin call into the domain (bookmarks, analytics, the review desk), bound to the
voice session's study session; their outputs are small JSON objects the model reads aloud.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import Annotated, Literal

import sqlite_utils
from pydantic import BaseModel, ConfigDict, Field

from edge import analytics
from edge.bookmarks import MAX_NOTE_LENGTH, add_bookmark
from edge.memory.models import MAX_DUE_LIMIT
from edge.memory.review import ReviewService
from edge.metrics import Metrics
from edge.store import Store
from edge.voice.tools import Tool, Toolbox
from shared.clock import Clock
from shared.memory import Rating
from shared.schemas import TopicStat


class _Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SummaryArguments(_Arguments):
    """Arguments of `study_summary`."""

    period: Literal["today", "week"] = Field(
        "today", description="today, or the last seven days (today included)."
    )


class NextCardArguments(_Arguments):
    """Arguments of `next_review_card`."""

    topic: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="Only cards of this topic (for example Biology); any topic if left out."
    )


class GradeArguments(_Arguments):
    """Arguments of `grade_review_card`."""

    card_id: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        description="The cardId next_review_card gave."
    )
    rating: Rating = Field(
        description="again (forgot), hard (recalled with effort), good (recalled), easy."
    )


class BookmarkArguments(_Arguments):
    """Arguments of `bookmark_this_page`."""

    note: Annotated[str, Field(max_length=MAX_NOTE_LENGTH)] = Field(
        "", description="What the student wants to remember about the page, in their words."
    )


def _minutes(stats: list[TopicStat]) -> list[dict[str, object]]:
    return [
        {"topic": s.topic, "minutes": round(s.duration_seconds / 60)}
        for s in stats
        if s.duration_seconds > 0
    ]


def _latest_page(db: sqlite_utils.Database, session_id: str) -> str | None:
    row = db.execute(
        """SELECT id FROM learning_events
           WHERE session_id = ? AND outcome != 'failed'
           ORDER BY captured_at DESC LIMIT 1""",
        [session_id],
    ).fetchone()
    return None if row is None else str(row["id"])


def study_toolbox(
    session_id: str,
    *,
    store: Store,
    clock: Clock,
    zone: tzinfo,
    review: ReviewService,
    metrics: Metrics | None = None,
) -> Toolbox:
    """The tools of one voice session, for study session `session_id`."""

    async def study_summary(args: SummaryArguments) -> dict[str, object]:
        now = clock.now()
        if args.period == "today":
            day = await store.run(lambda db: analytics.today_stats(db, now, zone))
            return {
                "period": "today",
                "totalMinutes": round(day.total_seconds / 60),
                "topics": _minutes(day.topic_stats),
            }
        week = await store.run(lambda db: analytics.week_stats(db, now, zone))
        return {
            "period": "week",
            "from": week.from_date.isoformat(),
            "to": week.to_date.isoformat(),
            "totalMinutes": round(week.total_seconds / 60),
            "topics": _minutes(week.topic_stats),
        }

    async def next_review_card(args: NextCardArguments) -> dict[str, object]:
        queue = await review.due(MAX_DUE_LIMIT)
        wanted = args.topic.casefold() if args.topic else None
        for card in queue.cards:
            if wanted is None or card.topic.casefold() == wanted:
                return {
                    "cardId": card.card_id,
                    "topic": card.topic,
                    "question": card.question,
                    "answer": card.answer,
                    "dueLeft": queue.due_count,
                }
        return {"cardId": None, "topic": args.topic, "dueLeft": queue.due_count}

    async def grade_review_card(args: GradeArguments) -> dict[str, object]:
        graded = await review.grade(args.card_id, args.rating)
        return {
            "cardId": graded.card.card_id,
            "rating": graded.rating,
            "nextDue": graded.card.due.isoformat(),
            "reviewedToday": graded.progress.reviewed_today,
            "dueLeft": graded.progress.due_now,
        }

    async def bookmark_this_page(args: BookmarkArguments) -> dict[str, object]:
        now = clock.now()

        def mark(db: sqlite_utils.Database) -> dict[str, object]:
            page = _latest_page(db, session_id)
            saved = add_bookmark(db, session_id, page, args.note, now)
            return {"bookmarkId": saved.bookmark_id, "page": page is not None, "note": saved.note}

        return await store.run(mark)

    tools = (
        Tool(
            "next_review_card",
            "The next review card due (question and answer), optionally of one topic. Ask the "
            "question, let the student answer before you say the answer, then grade it. A null "
            "cardId means nothing of that topic is due.",
            NextCardArguments,
            next_review_card,
        ),
        Tool(
            "grade_review_card",
            "Record how well the student recalled the card you asked: again, hard, good or easy.",
            GradeArguments,
            grade_review_card,
        ),
        Tool(
            "study_summary",
            "How long the student studied, per topic, today or over the last seven days.",
            SummaryArguments,
            study_summary,
        ),
        Tool(
            "bookmark_this_page",
            "Bookmark the page the student is looking at now (the latest frame of the session), "
            "with an optional note. Say briefly that it is saved.",
            BookmarkArguments,
            bookmark_this_page,
        ),
    )
    return Toolbox(tools, metrics)
