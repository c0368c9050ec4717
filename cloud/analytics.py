"""Study time across all of a user's edges, summed in the database from the synced facts."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.models import LearningEvent, StudySession, TopicSegment
from cloud.errors import BadRequest
from shared.schemas import DayTopicStats, SessionSummary, TopicStat, WeeklyTopicStats
from shared.sync import MAX_COUNT, MAX_DAY_SECONDS

#: Longest range `sessions` lists in one request.
MAX_RANGE_DAYS = 366


def _bounded(column: Any, most: float) -> ColumnElement[Any]:
    """`column` clamped to 0..`most`, to be summed."""
    # Rows stored before the sync schema had bounds must not overflow a sum (SQLite's integers,
    # PostgreSQL's floats) and so fail every later call for their day.
    return case((column < 0, 0), (column > most, most), else_=column)


SECONDS = _bounded(TopicSegment.seconds, MAX_DAY_SECONDS)


def _stat(topic: str, seconds: float, active: int, passive: int, distracted: int) -> TopicStat:
    return TopicStat(
        topic=topic,
        duration_seconds=round(seconds),
        active_count=int(active),
        passive_count=int(passive),
        distracted_count=int(distracted),
    )


def _ordered(stats: list[TopicStat]) -> list[TopicStat]:
    return sorted(stats, key=lambda s: (-s.duration_seconds, s.topic))


class Analytics:
    """Daily, weekly and per-session figures."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def _by_day_topic(
        self, db: AsyncSession, user_id: str, first: date, last: date
    ) -> dict[date, list[TopicStat]]:
        rows = await db.execute(
            select(
                TopicSegment.local_date,
                TopicSegment.topic,
                func.sum(SECONDS).label("seconds"),
                func.sum(_bounded(TopicSegment.active_count, MAX_COUNT)).label("active"),
                func.sum(_bounded(TopicSegment.passive_count, MAX_COUNT)).label("passive"),
                func.sum(_bounded(TopicSegment.distracted_count, MAX_COUNT)).label("distracted"),
            )
            .where(
                TopicSegment.user_id == user_id,
                TopicSegment.local_date >= first,
                TopicSegment.local_date <= last,
            )
            .group_by(TopicSegment.local_date, TopicSegment.topic)
        )
        days: dict[date, list[TopicStat]] = {}
        for row in rows.mappings():
            days.setdefault(row["local_date"], []).append(
                _stat(
                    row["topic"],
                    row["seconds"] or 0,
                    row["active"],
                    row["passive"],
                    row["distracted"],
                )
            )
        return days

    async def _analyses_by_day(
        self, db: AsyncSession, user_id: str, first: date, last: date
    ) -> dict[date, int]:
        rows = await db.execute(
            select(LearningEvent.local_date, func.count().label("analyses"))
            .where(
                LearningEvent.user_id == user_id,
                LearningEvent.local_date >= first,
                LearningEvent.local_date <= last,
                LearningEvent.outcome != "failed",
            )
            .group_by(LearningEvent.local_date)
        )
        return {row["local_date"]: int(row["analyses"]) for row in rows.mappings()}

    async def daily(self, user_id: str, day: date) -> DayTopicStats:
        """Topic totals of one local day."""
        async with self._sessions() as db:
            stats = (await self._by_day_topic(db, user_id, day, day)).get(day, [])
            analyses = (await self._analyses_by_day(db, user_id, day, day)).get(day, 0)
        return DayTopicStats(
            date=day,
            total_seconds=sum(s.duration_seconds for s in stats),
            total_analyses=analyses,
            topic_stats=_ordered(stats),
        )

    async def weekly(self, user_id: str, last: date) -> WeeklyTopicStats:
        """The seven days ending with `last`, oldest first, and their totals per topic."""
        first = last - timedelta(days=6)
        async with self._sessions() as db:
            by_day = await self._by_day_topic(db, user_id, first, last)
            analyses = await self._analyses_by_day(db, user_id, first, last)
        days = []
        totals: dict[str, list[float]] = {}
        for offset in range(7):
            day = first + timedelta(days=offset)
            stats = by_day.get(day, [])
            for s in stats:
                acc = totals.setdefault(s.topic, [0.0, 0, 0, 0])
                for i, value in enumerate(
                    (s.duration_seconds, s.active_count, s.passive_count, s.distracted_count)
                ):
                    acc[i] += value
            days.append(
                DayTopicStats(
                    date=day,
                    total_seconds=sum(s.duration_seconds for s in stats),
                    total_analyses=analyses.get(day, 0),
                    topic_stats=_ordered(stats),
                )
            )
        week = [_stat(t, a[0], int(a[1]), int(a[2]), int(a[3])) for t, a in totals.items()]
        return WeeklyTopicStats(
            from_date=first,
            to_date=last,
            total_seconds=sum(d.total_seconds for d in days),
            topic_stats=_ordered(week),
            days=days,
        )

    async def sessions(self, user_id: str, first: date, last: date) -> list[SessionSummary]:
        """The sessions whose local day falls in `first..last`, newest first, with totals."""
        if last < first:
            raise BadRequest("`to` is before `from`.")
        if (last - first).days >= MAX_RANGE_DAYS:
            raise BadRequest(f"Ask for at most {MAX_RANGE_DAYS} days at a time.")
        seconds = (
            select(TopicSegment.session_id, func.sum(SECONDS).label("seconds"))
            .where(TopicSegment.user_id == user_id)
            .group_by(TopicSegment.session_id)
            .subquery()
        )
        analyses = (
            select(LearningEvent.session_id, func.count().label("analyses"))
            .where(LearningEvent.user_id == user_id, LearningEvent.outcome != "failed")
            .group_by(LearningEvent.session_id)
            .subquery()
        )
        query = (
            select(
                StudySession.id,
                StudySession.local_date,
                StudySession.started_at,
                StudySession.ended_at,
                StudySession.end_reason,
                seconds.c.seconds.label("total_seconds"),
                analyses.c.analyses.label("total_analyses"),
            )
            .outerjoin(seconds, seconds.c.session_id == StudySession.id)
            .outerjoin(analyses, analyses.c.session_id == StudySession.id)
            .where(
                StudySession.user_id == user_id,
                StudySession.local_date >= first,
                StudySession.local_date <= last,
            )
            .order_by(StudySession.started_at.desc())
        )
        async with self._sessions() as db:
            rows = (await db.execute(query)).mappings().all()
        return [
            SessionSummary(
                session_id=row["id"],
                date=row["local_date"],
                started_at=row["started_at"],
                ended_at=row["ended_at"],
                end_reason=row["end_reason"],
                total_seconds=round(row["total_seconds"] or 0),
                total_analyses=int(row["total_analyses"] or 0),
            )
            for row in rows
        ]
