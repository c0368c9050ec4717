"""The study context the tutor sees: the last few topics the camera saw. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from string import Template

from shared.topics import OTHER, UNKNOWN

#: How many recent topics the tutor is told about.
WINDOW = 5
#: Characters of extracted text kept per entry: enough to name the page, short for the prompt.
SNIPPET_CHARS = 160


@dataclass(frozen=True)
class Seen:
    """One analysed topic in the window."""

    topic: str
    subtopic: str | None
    snippet: str


class StudyContext:
    """The last WINDOW analysed topics of one study session, from the allowed topics only."""

    def __init__(self, allowed_topics: Sequence[str]) -> None:
        self._allowed = {t.lower() for t in allowed_topics}
        self._seen: list[Seen] = []

    def add(self, topic: str, subtopic: str | None, text: str) -> bool:
        """Note an analysis; return whether the window of topics changed.

        Other, Unknown and anything outside the configured list never enter: the tutor should
        not be steered by what the student merely glanced at.
        """
        if topic.lower() not in self._allowed or topic in (OTHER, UNKNOWN):
            return False
        seen = Seen(topic, subtopic, " ".join(text.split())[:SNIPPET_CHARS])
        if self._seen and (self._seen[-1].topic, self._seen[-1].subtopic) == (topic, subtopic):
            self._seen[-1] = seen  # same page still: fresher text, same window
            return False
        self._seen = [*self._seen, seen][-WINDOW:]
        return True

    @property
    def window(self) -> list[Seen]:
        """Oldest first."""
        return list(self._seen)

    def describe(self) -> str:
        """The window as lines for the instructions."""
        if not self._seen:
            return "Nothing yet: the camera has not seen study material in this session."
        lines = []
        for n, seen in enumerate(reversed(self._seen)):
            when = "now" if n == 0 else f"{n} topic(s) ago"
            sub = f" / {seen.subtopic}" if seen.subtopic else ""
            text = f': "{seen.snippet}"' if seen.snippet else ""
            lines.append(f"- {when}: {seen.topic}{sub}{text}")
        return "\n".join(lines)


def tutor_instructions(context: StudyContext) -> str:
    """The tutor's instructions (`tutor.md`) with the study context filled in."""
    template = Template(files("edge.voice").joinpath("tutor.md").read_text(encoding="utf-8"))
    return template.substitute(context=context.describe())


class Throttle:
    """At most one send per `interval` seconds; a change inside the interval is sent at its end."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._last: float | None = None

    def delay(self, now: float) -> float:
        """Seconds to wait before sending now (0: send at once)."""
        if self._last is None:
            return 0.0
        return max(0.0, self._last + self.interval - now)

    def sent(self, now: float) -> None:
        """Note a send."""
        self._last = now
