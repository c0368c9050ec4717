"""Benchmark of the dashboard's Review page in real Chromium, with 5,000 cards stored.

The daemon runs as its own process (`studylens-edge serve`) on a data dir seeded with 5,000
cards, all due (the due count then counts every card: the worst case), as 50 ended sessions of
100 pages each, the pages marked carded so the card worker makes nothing meanwhile. Debian's
Chromium (/usr/bin/chromium, never a downloaded one), headless through Playwright, is this
computer's own browser, the owner. Times are read inside the page (`performance.now()`), where
the card is drawn, so Playwright's own round trips are not in them:

- open: a new tab loads `/#review` until the first card is drawn, from the navigation's start
  (HTML, CSS, app.js, the one GET of the due queue; the chart library is not loaded there);
- switch: on an open dashboard, from the hash change to `#review` until the first card is drawn;
- grade: from the key `3` (its keydown) on a revealed card until the next card is drawn: the
  POST's round trip, plus, once every 20 cards, the GET that refills the queue.

Run: .venv/bin/python scripts/bench/review_page.py [--cards 5000] [--runs 20] [--grades 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import ClientSession
from playwright.async_api import Page, async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from edge.memory import records
from edge.memory.port import CardDraft
from edge.sessions import records as session_records
from edge.store import open_database, transaction
from scripts.bench.frames import free_port, wait_until_up
from shared.analysis import FrameAnalysis
from shared.clock import to_iso
from shared.memory import CardKind

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SESSIONS = 50
TOPICS = ("Biology", "Chemistry", "Math", "English")

# In the page before its own script: when each card is drawn (the page marks it on <body>),
# and when the key 3 went down, both on the page's clock.
WATCH = """
window.__shown = [];
window.__keyAt = null;
new MutationObserver(() => {
  const card = document.body.dataset.reviewCard;
  if (card) window.__shown.push({ card, at: performance.now(), keyAt: window.__keyAt });
}).observe(document, { subtree: true, attributeFilter: ["data-review-card"] });
addEventListener("keydown", (e) => {
  if (e.key === "3") window.__keyAt = performance.now();
}, true);
"""


# Where an open's time goes: the page's scripts run (DOMContentLoaded), the due queue asked
# for and answered, from the navigation's start.
PARTS = """(() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const due = performance.getEntriesByType("resource").find((r) => r.name.includes("/review/due"));
  const scripts = nav.domContentLoadedEventStart;
  return { scripts, asked: due.startTime, answered: due.responseEnd };
})()"""


def seed(data_dir: Path, cards: int) -> None:
    """`cards` due cards in `SESSIONS` ended sessions of carded pages, made over 30 days."""
    db = open_database(data_dir / "studylens.db")
    now = datetime.now(UTC)
    per_session = cards // SESSIONS
    try:
        user = session_records.local_user_id(db)
        for s in range(SESSIONS):
            topic = TOPICS[s % len(TOPICS)]
            started = now - timedelta(days=30) + timedelta(hours=14 * s)
            session_id = str(uuid.uuid4())
            with transaction(db):
                day = session_records.ensure_day(db, user, started.date(), started)
                session_records.insert_session(db, session_id, day, started)
                events = []
                for n in range(per_session):
                    text = f"Page {s}-{n}: a page of {topic} notes, read once."
                    analysis = FrameAnalysis(
                        is_studying=True,
                        is_active=False,
                        is_distracted=False,
                        topic=topic,
                        subtopic="Revision",
                        extracted_text=text,
                    )
                    event_id = str(uuid.uuid4())
                    db.table("learning_events").insert(
                        {
                            "id": event_id,
                            "session_id": session_id,
                            "captured_at": to_iso(started + timedelta(seconds=20 * n)),
                            "outcome": "analysed",
                            "source": "on-device",
                            "analysis_json": analysis.model_dump_json(by_alias=True),
                            "topic_id": session_records.topic_id(db, topic),
                            "is_studying": True,
                            "is_active": False,
                            "is_distracted": False,
                        }
                    )
                    events.append(event_id)
                    kind: CardKind = "cloze" if n % 2 else "qa"
                    question = (
                        f"In session {s}, page {n}, the _____ is the term to recall."
                        if kind == "cloze"
                        else f"What does page {n} of session {s} define?"
                    )
                    draft = CardDraft(event_id, topic, "Revision", kind, question, f"term {s}.{n}")
                    made = started + timedelta(seconds=20 * n + 10)
                    if records.insert_card(db, session_id, draft, "bench", made) is None:
                        raise RuntimeError(f"a seeded question was not new: {question}")
                end = started + timedelta(seconds=20 * per_session + 60)
                session_records.finish_session(db, session_id, end, "ended")
                records.mark_carded(db, session_id, events, "bench", end)
        stored = db.execute("SELECT count(*) AS n FROM cards").fetchone()["n"]
        if stored != cards:
            raise RuntimeError(f"seeded {stored} cards, not {cards}")
    finally:
        db.close()


def summary(values: list[float]) -> str:
    """Median, p95 and max of times in ms."""
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"median {statistics.median(ordered):.1f} / p95 {p95:.1f} / max {ordered[-1]:.1f}"


async def first_shown(page: Page, after: int) -> float:
    """When (page clock, ms) the card drawn after the first `after` draws appeared."""
    await page.wait_for_function(f"window.__shown.length > {after}", timeout=10_000)
    return float(await page.evaluate(f"window.__shown[{after}].at"))


async def measure(base: str, runs: int, grades: int) -> None:
    """Open, switch and grade times; printed as markdown."""
    async with ClientSession() as http:  # the API alone, as a floor for the page's times
        api = []
        for _ in range(runs):
            started = time.perf_counter()
            async with http.get(f"{base}/api/review/due?limit=20") as response:
                body = await response.json()
            api.append((time.perf_counter() - started) * 1000)
        due_count = body["data"]["dueCount"]
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = await browser.new_context()
        await context.add_init_script(WATCH)
        opens: list[float] = []
        parts: dict[str, list[float]] = {"scripts": [], "asked": [], "answered": []}
        for _ in range(runs):
            page = await context.new_page()
            await page.goto(f"{base}/#review")
            opens.append(await first_shown(page, 0))
            for name, value in (await page.evaluate(PARTS)).items():
                parts[name].append(float(value))
            await page.close()

        page = await context.new_page()
        await page.goto(f"{base}/#today")
        await page.wait_for_selector('body[data-loaded="today"]')
        switches: list[float] = []
        for _ in range(runs):
            drawn = int(await page.evaluate("window.__shown.length"))
            hashed = float(
                await page.evaluate('performance.now() + (location.hash = "#review", 0)')
            )
            switches.append(await first_shown(page, drawn) - hashed)
            await page.evaluate('location.hash = "#today"')
            await page.wait_for_selector('body[data-loaded="today"]')

        await page.evaluate('location.hash = "#review"')
        await page.wait_for_selector('body[data-loaded="review"]')
        graded: list[float] = []
        for _ in range(grades):
            drawn = int(await page.evaluate("window.__shown.length"))
            await page.keyboard.press("Space")
            await page.wait_for_selector("#review-grades:not([hidden])")
            await page.keyboard.press("3")
            shown = await first_shown(page, drawn)
            key_at = float(await page.evaluate(f"window.__shown[{drawn}].keyAt"))
            graded.append(shown - key_at)
        errors = await page.evaluate('document.getElementById("review-error").textContent')
        await browser.close()
    if errors:
        raise RuntimeError(f"the page showed an error: {errors}")
    print(f"cards stored {due_count} (all due); {runs} runs, {grades} grades")
    print(f"| GET /api/review/due?limit=20 alone (aiohttp) | {summary(api)} ms |")
    print(f"| open `/#review` in a new tab, first card drawn | {summary(opens)} ms |")
    for name, label in (
        ("scripts", "of which: the page's scripts have run (DOMContentLoaded)"),
        ("asked", "of which: the due queue asked for"),
        ("answered", "of which: the due queue answered"),
    ):
        print(f"| {label} | {summary(parts[name])} ms |")
    print(f"| switch to `#review`, first card drawn | {summary(switches)} ms |")
    print(f"| grade (key 3) until the next card is drawn | {summary(graded)} ms |")


async def run(cards: int, runs: int, grades: int) -> None:
    """Seed, start the daemon, measure, stop."""
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        seed(data_dir, cards)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "STUDYLENS_LOG_LEVEL": "WARNING",
            "STUDYLENS_CONFIG": "",
            "STUDYLENS_VISION_BACKEND": "openai",  # no model is asked: no frames are sent
        }
        command = [str(Path(sys.executable).parent / "studylens-edge"), "serve"]
        listen = ("--host", "127.0.0.1", "--port", str(port), "--no-mdns", "--data-dir", tmp)
        daemon = subprocess.Popen([*command, *listen], env=env)  # noqa: S603, ASYNC220 - once
        try:
            await wait_until_up(base, daemon)
            await measure(base, runs, grades)
        finally:
            daemon.terminate()
            daemon.wait(timeout=20)
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=5000, help="cards stored (all due)")
    parser.add_argument("--runs", type=int, default=20, help="page opens and switches timed")
    parser.add_argument("--grades", type=int, default=60, help="grades timed")
    args = parser.parse_args()
    if args.cards % SESSIONS:
        parser.error(f"--cards must be a multiple of {SESSIONS}")
    asyncio.run(run(args.cards, args.runs, args.grades))


if __name__ == "__main__":
    main()
