"""Review across all of a student's edges: a week's grades, counted on the student's local days.

Unlike the study facts, a review log carries only the instant of its grade (UTC), no local date.
So the week is turned into its UTC range in the zone asked for, its grades are read (a week is at
most a few thousand rows) and each is counted on its local day here, where `zoneinfo` knows the
clock changes (SQLite knows no zones).

A grade's topic is that of its card. A grade whose card the cloud does not hold (not synced yet,
or forgotten on the edge while its log is still on the way) counts under topic null, so the
topics always add up to the week's totals.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloud.db.models import CardRow, ReviewLogRow
from cloud.schemas import DayRecall, TopicRecall, WeeklyRecall
from shared.memory import RECALLED

WEEK_DAYS = 7


@dataclass(frozen=True)
class Grade:
    """One grade, as the week's figures need it."""

    reviewed_at: datetime
    rating: str
    #: Its card's topic; None when the cloud does not hold the card.
    topic: str | None


def first_day(last: date) -> date:
    """The first of the seven days ending with `last`."""
    return last - timedelta(days=WEEK_DAYS - 1)


def local_midnight(day: date, zone: tzinfo) -> datetime:
    """The first instant of `day` in `zone`, in UTC."""
    # A midnight skipped by a clock change (America/Santiago, September) is read with the offset
    # before the change (fold 0): that is the instant the day begins, at 01:00 local.
    return datetime.combine(day, time(), zone).astimezone(UTC)


def week_span(last: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """The UTC instants [start, end) of the seven local days of `zone` ending with `last`."""
    return local_midnight(first_day(last), zone), local_midnight(last + timedelta(days=1), zone)


def share(reviewed: int, recalled: int) -> float | None:
    """Recalled / reviewed; None when nothing was graded."""
    return recalled / reviewed if reviewed else None


def in_week(grades: Iterable[Grade], last: date, zone: tzinfo) -> list[tuple[date, Grade]]:
    """The grades whose local day in `zone` is one of the week's, each with that day."""
    first = first_day(last)
    dated = ((g.reviewed_at.astimezone(zone).date(), g) for g in grades)
    return [(day, g) for day, g in dated if first <= day <= last]


def by_day(dated: Iterable[tuple[date, Grade]], last: date) -> list[DayRecall]:
    """Every day of the week, oldest first, with its grades counted (zeros included)."""
    first = first_day(last)
    days = {first + timedelta(days=n): [0, 0] for n in range(WEEK_DAYS)}
    for day, grade in dated:
        days[day][0] += 1
        days[day][1] += grade.rating in RECALLED
    return [DayRecall(date=d, reviewed=n, recalled=r) for d, (n, r) in days.items()]


def by_topic(grades: Iterable[Grade]) -> list[TopicRecall]:
    """Grades per topic: the most graded first; on a tie by name, topic null after the named."""
    counts: dict[str | None, list[int]] = {}
    for grade in grades:
        held = counts.setdefault(grade.topic, [0, 0])
        held[0] += 1
        held[1] += grade.rating in RECALLED
    rows = [
        TopicRecall(topic=topic, reviewed=n, recalled=r, share=r / n)
        for topic, (n, r) in counts.items()
    ]
    return sorted(rows, key=lambda t: (-t.reviewed, t.topic is None, t.topic or ""))


def weekly_recall(
    grades: Iterable[Grade], last: date, zone: ZoneInfo, *, cards_made: int, cards: int
) -> WeeklyRecall:
    """The week ending with `last` in `zone`, from its grades (others are left out)."""
    dated = in_week(grades, last, zone)
    days = by_day(dated, last)
    reviewed = sum(d.reviewed for d in days)
    recalled = sum(d.recalled for d in days)
    return WeeklyRecall(
        from_date=first_day(last),
        to_date=last,
        time_zone=zone.key,
        reviewed=reviewed,
        recalled=recalled,
        share=share(reviewed, recalled),
        topics=by_topic(g for _, g in dated),
        days=days,
        cards_made=cards_made,
        cards=cards,
    )


class ReviewStats:
    """Weekly review figures from the synced cards and review logs."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def weekly(self, user_id: str, last: date, zone: ZoneInfo) -> WeeklyRecall:
        """The seven local days of `zone` ending with `last`."""
        start, end = week_span(last, zone)
        grades = (
            select(ReviewLogRow.reviewed_at, ReviewLogRow.rating, CardRow.topic)
            .outerjoin(
                CardRow,
                (CardRow.id == ReviewLogRow.card_id) & (CardRow.user_id == ReviewLogRow.user_id),
            )
            .where(
                ReviewLogRow.user_id == user_id,
                ReviewLogRow.reviewed_at >= start,
                ReviewLogRow.reviewed_at < end,
            )
        )
        made = (
            select(func.count())
            .select_from(CardRow)
            .where(
                CardRow.user_id == user_id, CardRow.created_at >= start, CardRow.created_at < end
            )
        )
        held = select(func.count()).select_from(CardRow).where(CardRow.user_id == user_id)
        async with self._sessions() as db:
            rows = (await db.execute(grades)).mappings().all()
            cards_made = await db.scalar(made)
            cards = await db.scalar(held)
        return weekly_recall(
            (Grade(r["reviewed_at"], r["rating"], r["topic"]) for r in rows),
            last,
            zone,
            cards_made=int(cards_made or 0),
            cards=int(cards or 0),
        )
