"""Spaced repetition: the `fsrs` package's scheduler behind one seam, and a card's FSRS state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import fsrs

from shared.memory import Rating, StateName

RATINGS: dict[Rating, fsrs.Rating] = {
    "again": fsrs.Rating.Again,
    "hard": fsrs.Rating.Hard,
    "good": fsrs.Rating.Good,
    "easy": fsrs.Rating.Easy,
}
#: The rating of each `fsrs.Rating` number, as review logs store them.
RATING_BY_NUMBER: dict[int, Rating] = {number.value: name for name, number in RATINGS.items()}
STATE_NAMES: dict[int, StateName] = {
    fsrs.State.Learning.value: "learning",
    fsrs.State.Review.value: "review",
    fsrs.State.Relearning.value: "relearning",
}
#: The number each state name is stored as.
STATE_NUMBERS: dict[StateName, int] = {name: number for number, name in STATE_NAMES.items()}


def to_millis(moment: datetime) -> datetime:
    """`moment` in UTC cut to whole milliseconds, the precision `shared.clock.to_iso` stores."""
    utc = moment.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class Memory:
    """How well a card is known: the columns of `fsrs.Card` as the tables keep them."""

    state: int
    step: int | None
    stability: float | None
    difficulty: float | None
    due: datetime
    last_review: datetime | None

    @classmethod
    def new(cls, at: datetime) -> Memory:
        """A card never reviewed: learning, at its first step, due at once."""
        return cls.from_fsrs(fsrs.Card(card_id=0, due=to_millis(at)))

    @classmethod
    def from_fsrs(cls, card: fsrs.Card) -> Memory:
        """The state of an `fsrs.Card`."""
        return cls(
            state=card.state.value,
            step=card.step,
            stability=card.stability,
            difficulty=card.difficulty,
            due=card.due,
            last_review=card.last_review,
        )

    def to_fsrs(self) -> fsrs.Card:
        """The state as an `fsrs.Card` (its id is ours to keep, not the package's)."""
        # card_id given: without one, fsrs.Card sleeps a millisecond to make a unique id.
        return fsrs.Card(
            card_id=0,
            state=fsrs.State(self.state),
            step=self.step,
            stability=self.stability,
            difficulty=self.difficulty,
            due=self.due,
            last_review=self.last_review,
        )

    @property
    def state_name(self) -> StateName:
        """`learning`, `review` or `relearning`."""
        return STATE_NAMES[self.state]


class Scheduler:
    """When each card is due next: one review at a time through `fsrs.Scheduler`."""

    def __init__(self, engine: fsrs.Scheduler | None = None) -> None:
        self._engine = engine or fsrs.Scheduler()

    def review(self, memory: Memory, rating: Rating, at: datetime) -> Memory:
        """The card's state after being graded `rating` at `at`.

        `at` is cut to the stored millisecond first, so what is kept is exactly what FSRS
        computed from what is kept.
        """
        card, _log = self._engine.review_card(
            memory.to_fsrs(), RATINGS[rating], review_datetime=to_millis(at)
        )
        return Memory.from_fsrs(card)
