"""What the edge and the cloud both know of review cards: grades, FSRS states, recall."""

from __future__ import annotations

from typing import Final, Literal

#: A grade, as the API, the CLI, the tutor and the sync speak of it (the `fsrs` package's four).
Rating = Literal["again", "hard", "good", "easy"]
RATING_NAMES: Final[tuple[Rating, ...]] = ("again", "hard", "good", "easy")
#: A card's FSRS state by name (the package numbers them 1, 2, 3).
StateName = Literal["learning", "review", "relearning"]
#: Grades that count as recalled: everything but "again".
RECALLED: Final = frozenset({"hard", "good", "easy"})
CardKind = Literal["qa", "cloze"]
#: Longest question or answer a card holds.
MAX_CARD_TEXT = 1000
#: Longest review time one grade may carry: an hour (a card left open is not a review).
MAX_REVIEW_MS = 3_600_000
