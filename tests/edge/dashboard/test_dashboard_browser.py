"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

Screenshots of each page are saved under `test-artifacts/screenshots/`.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import ClientSession
from playwright.async_api import Browser, Page, Request, Route, async_playwright
from pydantic import SecretStr

from edge.memory import records
from edge.memory.port import CardDraft
from edge.store import transaction
from shared.memory import CardKind
from tests.fakes.images import jpeg
from tests.fakes.openai_peer import FakeOpenAI
from tests.support import (
    AppClient,
    FakeClock,
    berlin,
    data_of,
    services_of,
    start_session,
    upload,
)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
PAGES = ("today", "history", "frames", "devices", "privacy", "report", "review")


@pytest.fixture
def chromium() -> str:
    """Debian's Chromium (never a downloaded one), or a clear failure."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: the test command installs Debian's chromium")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    """A headless Chromium for one test."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=chromium, args=ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def dashboard(start_app: Any, openai_peer: FakeOpenAI) -> AppClient:
    """The daemon with a vision model, open to this computer's browser as in production."""
    client: AppClient = await start_app(
        open_on_localhost=True,
        openai_api_key=SecretStr("sk-test-not-a-real-key"),
        openai_base_url=openai_peer.base_url,
    )
    return client


class Console:
    """What the page logged as errors, and uncaught exceptions."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))


async def open_page(browser: Browser, dashboard: AppClient, name: str, **kw: Any) -> Page:
    """A tab showing one dashboard page, loaded."""
    page = await browser.new_page(**kw)
    page.console = Console(page)  # type: ignore[attr-defined]
    await page.goto(str(dashboard.make_url(f"/#{name}")))
    await page.wait_for_selector(f'body[data-loaded="{name}"]', timeout=10_000)
    return page


async def study(dashboard: AppClient, clock: FakeClock, topics: list[tuple[str, int]]) -> str:
    """A running session that spent `seconds` on each topic, in order."""
    from tests.support import ACTIVE

    services = services_of(dashboard)
    started = await services.sessions.start()
    for topic, seconds in topics:
        await services.sessions.track(started.session_id, topic, clock.now(), ACTIVE)
        clock.advance(seconds)
    await services.sessions.track(started.session_id, topics[-1][0], clock.now(), ACTIVE)
    return started.session_id


@pytest.mark.parametrize("name", PAGES)
async def test_each_page_loads_without_console_errors(
    browser: Browser, dashboard: AppClient, clock: FakeClock, name: str
) -> None:
    """Every page renders with real data and logs no error; a screenshot is kept."""
    await study(dashboard, clock, [("Biology", 600), ("Math", 300)])
    await upload(dashboard, jpeg(640, 480))
    page = await open_page(browser, dashboard, name)
    await page.wait_for_timeout(300)  # charts draw on the next frame
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    assert page.console.errors == []  # type: ignore[attr-defined]


async def test_a_new_frame_appears_without_a_reload(browser: Browser, dashboard: AppClient) -> None:
    """A frame posted while the Frames page is open shows up there within seconds."""
    page = await open_page(browser, dashboard, "frames")
    await page.wait_for_selector("#live.on", timeout=5_000)
    frame = await upload(dashboard, jpeg(640, 480, seed=7))
    card = f'li[data-analysis-id="{frame["analysisId"]}"]'
    await page.wait_for_selector(card, timeout=5_000)
    assert "Biology" in await page.inner_text(card)
    assert page.console.errors == []  # type: ignore[attr-defined]


async def test_the_topic_chart_shows_the_days_topics(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """The Today chart has one bar per topic studied, longest first."""
    await study(dashboard, clock, [("Chemistry", 120), ("English", 900), ("Math", 300)])
    page = await open_page(browser, dashboard, "today")
    labels = await page.evaluate('Chart.getChart("topic-chart").data.labels')
    assert labels == ["English", "Math", "Chemistry"]
    timeline = await page.inner_text("#timeline")
    assert timeline.split() == ["Chemistry", "English", "Math"]


async def test_the_session_ends_live(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """Ending the session elsewhere empties the timeline without a reload."""
    session_id = await study(dashboard, clock, [("Art", 60)])
    page = await open_page(browser, dashboard, "today")
    await page.wait_for_selector("#live.on", timeout=5_000)
    assert await page.is_hidden("#no-session")
    await data_of(await dashboard.post(f"/api/session/{session_id}/end"))
    await page.wait_for_selector("#no-session", state="visible", timeout=5_000)


async def test_the_pairing_code_shown_pairs_a_phone(browser: Browser, dashboard: AppClient) -> None:
    """The code on the Devices page is one that POST /api/pair accepts."""
    page = await open_page(browser, dashboard, "devices")
    await page.click("#new-code")
    await page.wait_for_selector("#offer-qr svg", timeout=5_000)
    code = await page.get_attribute("#offer-code", "data-code")
    assert code is not None
    async with ClientSession() as phone:
        body = {"code": code, "deviceName": "Pixel"}
        async with phone.post(dashboard.make_url("/api/pair"), json=body) as response:
            assert response.status == 201


async def test_readable_on_a_phone_width_screen(browser: Browser, dashboard: AppClient) -> None:
    """At 390 px wide nothing runs off the side of the page."""
    page = await open_page(browser, dashboard, "today", viewport={"width": 390, "height": 844})
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390


async def test_pages_are_reachable_by_keyboard(browser: Browser, dashboard: AppClient) -> None:
    """Tabbing to a page link and pressing Enter opens that page."""
    page = await open_page(browser, dashboard, "today")
    for _ in range(10):
        await page.keyboard.press("Tab")
        focused = await page.evaluate("document.activeElement.dataset.page || ''")
        if focused == "history":
            break
    await page.keyboard.press("Enter")
    await page.wait_for_selector('body[data-loaded="history"]', timeout=5_000)
    assert await page.get_attribute('nav a[data-page="history"]', "aria-current") == "page"


async def test_a_phones_browser_is_told_devices_are_the_owners(
    browser: Browser, dashboard: AppClient, settings: Any
) -> None:
    """A browser paired as a phone sees why the Devices page holds no controls, and no error."""
    from tests.support import pair_device

    token = pair_device(settings, "tablet browser")
    page = await browser.new_page()
    page.console = Console(page)  # type: ignore[attr-defined]
    await page.goto(str(dashboard.make_url(f"/?token={token}#devices")))
    await page.wait_for_selector('body[data-loaded="devices"]', timeout=10_000)

    assert await page.is_visible("#owner-only")
    assert await page.is_hidden("#owner-controls")
    assert page.console.errors == []  # type: ignore[attr-defined]


async def test_the_owner_sees_when_guessing_killed_the_code(
    browser: Browser, dashboard: AppClient
) -> None:
    """When the daemon withdraws the shown code, the Devices page says so and hides it."""
    page = await open_page(browser, dashboard, "devices")
    await page.click("#new-code")
    await page.wait_for_selector("#offer-qr svg", timeout=5_000)
    await page.wait_for_selector("#live.on", timeout=5_000)

    services_of(dashboard).events.publish("pairing", {"state": "withdrawn"})

    await page.wait_for_selector("#offer-withdrawn", state="visible", timeout=5_000)
    assert await page.is_hidden("#offer")


async def test_the_pause_button_pauses_and_resumes_capture(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """Pause for the chosen minutes shows the end and pauses the daemon; Resume ends it."""
    page = await open_page(browser, dashboard, "today")
    assert await page.inner_text("#pause-state") == "Capture on"
    await page.select_option("#pause-minutes", "60")

    await page.click("#pause-toggle")

    await page.wait_for_selector('body[data-paused="yes"]', timeout=5_000)
    assert (await page.inner_text("#pause-state")).startswith("Paused until ")
    assert await page.inner_text("#pause-toggle") == "Resume"
    state = await services_of(dashboard).pause.state()
    assert state.paused
    assert state.ends_at == clock.now() + timedelta(minutes=60)

    await page.click("#pause-toggle")

    await page.wait_for_selector('body[data-paused="no"]', timeout=5_000)
    assert await page.inner_text("#pause-state") == "Capture on"
    assert not (await services_of(dashboard).pause.state()).paused
    assert page.console.errors == []  # type: ignore[attr-defined]


async def test_a_pause_made_elsewhere_shows_without_a_reload(
    browser: Browser, dashboard: AppClient
) -> None:
    """A pause from the phone (or the CLI) reaches an open page through the live events."""
    page = await open_page(browser, dashboard, "frames")
    await page.wait_for_selector("#live.on", timeout=5_000)

    await data_of(await dashboard.post("/api/privacy/pause", json={"minutes": None}))

    await page.wait_for_selector('body[data-paused="yes"]', timeout=5_000)
    assert await page.inner_text("#pause-state") == "Paused until you resume"
    assert await page.is_hidden("#pause-minutes")


async def test_a_page_opened_while_paused_says_so(browser: Browser, dashboard: AppClient) -> None:
    """The state comes with the page, not only with events."""
    await data_of(await dashboard.post("/api/privacy/pause", json={"minutes": 30}))

    page = await open_page(browser, dashboard, "history")

    assert (await page.inner_text("#pause-state")).startswith("Paused until ")
    assert await page.get_attribute("#pause-toggle", "aria-pressed") == "true"


# --- the Privacy page ---------------------------------------------------------------------------


async def studied_yesterday(dashboard: AppClient, clock: FakeClock, frames: int = 3) -> str:
    """A session of `frames` distinct frames on 24 November, ended; the clock then on the 25th."""
    clock.current = berlin("2026-11-24 16:00")
    session = await start_session(dashboard)
    for seed in range(frames):
        await upload(dashboard, jpeg(640, 480, seed=seed + 1), session)
        clock.advance(60)
    await data_of(await dashboard.post(f"/api/session/{session}/end"))
    clock.current = berlin("2026-11-25 10:00")
    return session


async def shown_count(page: Page, kind: str) -> str:
    """The number the Privacy page shows for one kind of thing stored."""
    return await page.inner_text(f'#stored-counts dd[data-count="{kind}"]')


async def stored_sessions(dashboard: AppClient) -> int:
    """Sessions in the daemon's database."""
    row = await services_of(dashboard).store.run(
        lambda db: db.execute("SELECT count(*) AS n FROM sessions").fetchone()
    )
    return int(row["n"])


async def test_the_privacy_page_shows_what_is_stored(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """Three frames of one session: their counts, their images' size, and since when."""
    await studied_yesterday(dashboard, clock)
    await services_of(dashboard).card_worker.idle()  # the cards made once it ended
    cards = await services_of(dashboard).store.run(
        lambda db: db.execute("SELECT count(*) AS n FROM cards").fetchone()["n"]
    )

    page = await open_page(browser, dashboard, "privacy", locale="en-US")

    assert await shown_count(page, "sessions") == "1"
    assert await shown_count(page, "learningEvents") == "3"
    assert await shown_count(page, "cards") == str(cards)
    assert await shown_count(page, "reviewLogs") == "0"
    assert await shown_count(page, "originals") == "3"
    assert await shown_count(page, "recordings") == "0"
    assert (await page.inner_text('#stored-bytes dd[data-bytes="originals"]')).endswith(" kB")
    assert (await page.inner_text("#stored-span")).startswith("Since Tue, Nov 24, 2026")
    assert page.console.errors == []  # type: ignore[attr-defined]


async def test_the_privacy_page_shows_the_retention_in_force(
    browser: Browser, start_app: Any, openai_peer: FakeOpenAI
) -> None:
    """Keep-less modes and retention days, as the daemon runs with them."""
    client = await start_app(
        open_on_localhost=True,
        keep_originals=False,
        store_extracted_text=False,
        voice_record=True,
        voice_recording_retention_days=3,
    )

    page = await open_page(browser, client, "privacy")

    retention = '#retention dd[data-retention="{}"]'
    assert (await page.inner_text(retention.format("keepOriginals"))).startswith("not kept")
    assert await page.inner_text(retention.format("storeExtractedText")) == "not kept"
    assert "after 3 days" in await page.inner_text(retention.format("voiceRecording"))


async def test_the_privacy_page_pauses_and_resumes(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """The page's own switch pauses for its chosen minutes and resumes; the header follows."""
    page = await open_page(browser, dashboard, "privacy")
    switch = "#page-privacy .pause-control"
    await page.select_option(f'{switch} [data-pause="minutes"]', "240")

    await page.click(f'{switch} [data-pause="toggle"]')

    await page.wait_for_selector('body[data-paused="yes"]', timeout=5_000)
    state = await services_of(dashboard).pause.state()
    assert state.ends_at == clock.now() + timedelta(minutes=240)
    assert (await page.inner_text(f'{switch} [data-pause="state"]')).startswith("Paused until ")
    assert await page.inner_text("#pause-toggle") == "Resume"

    await page.click(f'{switch} [data-pause="toggle"]')

    await page.wait_for_selector('body[data-paused="no"]', timeout=5_000)
    assert not (await services_of(dashboard).pause.state()).paused
    assert await page.inner_text(f'{switch} [data-pause="state"]') == "Capture on"
    assert page.console.errors == []  # type: ignore[attr-defined]


async def test_export_downloads_a_zip_that_opens(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """The button saves the archive; it opens, and its manifest counts the three frames."""
    await studied_yesterday(dashboard, clock)
    page = await open_page(browser, dashboard, "privacy")

    async with page.expect_download(timeout=10_000) as started:
        await page.click("#export")
    download = await started.value

    assert download.suggested_filename == "studylens-export-2026-11-25.zip"
    saved = await download.path()
    with zipfile.ZipFile(saved) as zf:
        assert zf.testzip() is None
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["counts"]["learning_events"] == 3
    assert len(manifest["originals"]) == 3
    assert page.console.errors == []  # type: ignore[attr-defined]


async def review_forget_before(page: Page, day: str) -> None:
    """Choose "everything before `day`" and ask what it would delete."""
    await page.fill("#forget-before", day)
    await page.click("#forget-review")
    await page.wait_for_selector("#forget-dialog[open]", timeout=5_000)


async def test_forget_asks_first_naming_what_goes_and_cancel_keeps_it(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """The confirmation names the day and the counts; Cancel deletes nothing."""
    await studied_yesterday(dashboard, clock)
    page = await open_page(browser, dashboard, "privacy", locale="en-US")

    await review_forget_before(page, "2026-11-25")

    assert await page.inner_text("#forget-title") == "Delete 1 session?"
    assert "everything from before Wed, Nov 25, 2026" in await page.inner_text("#forget-what")
    listed = await page.inner_text("#forget-counts")
    assert "3 frames" in listed
    assert "3 images" in listed
    assert "0 review grades" in listed

    await page.click("#forget-cancel")

    await page.wait_for_selector("#forget-dialog", state="hidden", timeout=5_000)
    assert await stored_sessions(dashboard) == 1
    assert await shown_count(page, "sessions") == "1"
    assert page.console.errors == []  # type: ignore[attr-defined]


async def test_forget_deletes_and_the_summary_follows(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """Delete removes what was named, says what went, and the counts drop to zero."""
    await studied_yesterday(dashboard, clock)
    page = await open_page(browser, dashboard, "privacy")
    await review_forget_before(page, "2026-11-25")

    await page.click("#forget-delete")

    await page.wait_for_selector('body[data-forgets="1"]', timeout=10_000)
    assert await stored_sessions(dashboard) == 0
    assert (await page.inner_text("#forget-status")).startswith("Deleted everything from before")
    assert "3 frames" in await page.inner_text("#forget-status")
    assert await shown_count(page, "sessions") == "0"
    assert await shown_count(page, "originals") == "0"
    assert await page.inner_text("#stored-span") == "Nothing is stored yet."
    assert page.console.errors == []  # type: ignore[attr-defined]


async def test_forget_one_session_chosen_from_the_list(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """Of two sessions, the one picked goes; the other stays."""
    first = await studied_yesterday(dashboard, clock, frames=1)
    second = await start_session(dashboard)
    await upload(dashboard, jpeg(640, 480, seed=9), second)
    page = await open_page(browser, dashboard, "privacy")

    await page.select_option("#forget-session", first)
    assert await page.is_checked("#forget-kind-session")  # picking a session chooses the kind
    await page.click("#forget-review")
    await page.wait_for_selector("#forget-dialog[open]", timeout=5_000)
    assert "the session of " in await page.inner_text("#forget-what")
    await page.click("#forget-delete")

    await page.wait_for_selector('body[data-forgets="1"]', timeout=10_000)
    sessions = await data_of(await dashboard.get("/api/sessions"))
    assert [s["sessionId"] for s in sessions["sessions"]] == [second]
    assert await shown_count(page, "sessions") == "1"


async def test_a_date_after_today_is_refused_on_the_page(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """The daemon's refusal is shown; no dialog opens, nothing goes."""
    await studied_yesterday(dashboard, clock)
    page = await open_page(browser, dashboard, "privacy")
    await page.evaluate('document.getElementById("forget-before").removeAttribute("max")')

    await page.fill("#forget-before", "2026-11-30")
    await page.click("#forget-review")

    await page.wait_for_function(
        'document.getElementById("forget-status").textContent.length > 0', timeout=5_000
    )
    assert "after today" in await page.inner_text("#forget-status")
    assert await page.is_hidden("#forget-dialog")
    assert await stored_sessions(dashboard) == 1


async def test_the_privacy_page_works_by_keyboard_alone(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """Tab to Privacy, Enter; tab to the day, type it, on to Review, Enter; Escape cancels."""
    await studied_yesterday(dashboard, clock)
    page = await open_page(browser, dashboard, "today")
    await tab_to(page, 'document.activeElement.dataset.page === "privacy"')
    await page.keyboard.press("Enter")
    await page.wait_for_selector('body[data-loaded="privacy"]', timeout=5_000)

    await tab_to(page, 'document.activeElement.id === "forget-before"')
    await page.keyboard.type("11252026")  # month, day, year: the en-US date field's order
    await tab_to(page, 'document.activeElement.id === "forget-review"')
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#forget-dialog[open]", timeout=5_000)
    assert await page.evaluate("document.activeElement.id") == "forget-cancel"  # the safe one

    await page.keyboard.press("Escape")

    await page.wait_for_selector("#forget-dialog", state="hidden", timeout=5_000)
    assert await stored_sessions(dashboard) == 1


async def tab_to(page: Page, focused: str, most: int = 40) -> None:
    """Press Tab until the script `focused` is true of the focused element."""
    for _ in range(most):
        await page.keyboard.press("Tab")
        if await page.evaluate(focused):
            return
    raise AssertionError(f"never reached by Tab: {focused}")


async def test_the_privacy_page_fits_a_phone_width_screen(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """At 390 px wide nothing runs off the side, the session list included; a screenshot."""
    await studied_yesterday(dashboard, clock)

    page = await open_page(browser, dashboard, "privacy", viewport={"width": 390, "height": 844})

    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "privacy-phone.png"), full_page=True)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390


async def test_a_phones_browser_may_pause_but_sees_no_store(
    browser: Browser, dashboard: AppClient, settings: Any
) -> None:
    """A browser paired as a phone gets the pause switch and why the rest is the owner's."""
    from tests.support import pair_device

    token = pair_device(settings, "tablet browser")
    page = await browser.new_page()
    page.console = Console(page)  # type: ignore[attr-defined]
    await page.goto(str(dashboard.make_url(f"/?token={token}#privacy")))
    await page.wait_for_selector('body[data-loaded="privacy"]', timeout=10_000)

    assert await page.is_visible("#privacy-owner-only")
    assert await page.is_hidden("#export")
    assert await page.is_visible('#page-privacy [data-pause="toggle"]')
    assert page.console.errors == []  # type: ignore[attr-defined]


async def test_escape_after_an_earlier_delete_deletes_nothing(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """The dialog's answer is not remembered: Escape on the next one is a Cancel."""
    first = await studied_yesterday(dashboard, clock, frames=1)
    second = await start_session(dashboard)
    await upload(dashboard, jpeg(640, 480, seed=9), second)
    page = await open_page(browser, dashboard, "privacy")
    await page.select_option("#forget-session", first)
    await page.click("#forget-review")
    await page.wait_for_selector("#forget-dialog[open]", timeout=5_000)
    await page.click("#forget-delete")
    await page.wait_for_selector('body[data-forgets="1"]', timeout=10_000)

    await page.check("#forget-kind-all")
    await page.click("#forget-review")
    await page.wait_for_selector("#forget-dialog[open]", timeout=5_000)
    await page.keyboard.press("Escape")

    await page.wait_for_selector("#forget-dialog", state="hidden", timeout=5_000)
    assert await page.evaluate("document.body.dataset.forgets") == "1"
    assert await stored_sessions(dashboard) == 1


# --- the Report page ----------------------------------------------------------------------------


async def studied_at(
    dashboard: AppClient, clock: FakeClock, at: str, topic: str, seconds: int
) -> None:
    """An ended session at Berlin time `at`, `seconds` on `topic`; then the clock is on the 25th."""
    from tests.support import ACTIVE

    clock.current = berlin(at)
    sessions = services_of(dashboard).sessions
    session_id = (await sessions.start()).session_id
    await sessions.track(session_id, topic, clock.now(), ACTIVE)
    clock.advance(seconds)
    await sessions.end(session_id)
    clock.current = berlin("2026-11-25 10:00")


async def two_weeks_studied(dashboard: AppClient, clock: FakeClock) -> None:
    """Math and History the week before (2026-W47), Math and Biology this week (W48)."""
    await studied_at(dashboard, clock, "2026-11-17 18:00", "Math", 900)
    await studied_at(dashboard, clock, "2026-11-18 18:00", "History", 1290)
    await studied_at(dashboard, clock, "2026-11-23 18:00", "Math", 3630)
    await studied_at(dashboard, clock, "2026-11-24 18:00", "Biology", 1750)


def shown_minutes(seconds: int) -> str:
    """Whole minutes as the page and the CLI show them, half a minute up."""
    return str((seconds + 30) // 60)


async def cells(page: Page, row: str) -> list[str]:
    """The minutes, previous and change cells of one row of the report's topic table."""
    return [
        await page.inner_text(f'{row} td[data-cell="{name}"]')
        for name in ("minutes", "previous", "change")
    ]


async def test_the_report_shows_the_numbers_the_api_reports(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """Every topic row, the total, the goal days, the streak and recall are the API's."""
    await two_weeks_studied(dashboard, clock)
    async with ClientSession() as this_computer:  # no token: the owner, as the page is
        api = await data_of(await this_computer.get(dashboard.make_url("/api/report/weekly")))

    page = await open_page(browser, dashboard, "report")

    assert len(api["topics"]) == 3
    for topic in api["topics"]:
        now, before = shown_minutes(topic["seconds"]), shown_minutes(topic["previousSeconds"])
        change = int(now) - int(before)
        assert await cells(page, f'#report-topics tr[data-topic="{topic["topic"]}"]') == [
            now,
            before,
            f"+{change}" if change > 0 else str(change),
        ]
    assert await cells(page, "#report-total") == ["90", "37", "+53"]
    assert await page.inner_text("#report-goal-days") == str(api["goalDaysMet"]) == "1"
    met = await page.inner_text('#report-days tr[data-date="2026-11-23"] td[data-cell="goal"]')
    assert met == "met"
    assert await page.inner_text("#report-streak") == f"{api['streakDays']} days" == "2 days"
    assert await page.inner_text('#report-recall dd[data-recall="reviewed"]') == "0"
    assert await page.inner_text('#report-recall dd[data-recall="recalled"]') == "—"
    assert page.console.errors == []  # type: ignore[attr-defined]


async def test_the_report_pages_through_weeks_by_keyboard_alone(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """Tab to Report, Enter; Previous week, Enter shows W47; Next, Enter is back at W48."""
    await two_weeks_studied(dashboard, clock)
    page = await open_page(browser, dashboard, "today")
    await tab_to(page, 'document.activeElement.dataset.page === "report"')
    await page.keyboard.press("Enter")
    await page.wait_for_selector('body[data-report-week="2026-W48"]', timeout=5_000)
    assert await page.is_disabled("#report-next")  # no report of a week to come

    await tab_to(page, 'document.activeElement.id === "report-previous"')
    await page.keyboard.press("Enter")

    await page.wait_for_selector('body[data-report-week="2026-W47"]', timeout=5_000)
    history = '#report-topics tr[data-topic="History"] td[data-cell="minutes"]'
    assert await page.inner_text(history) == "22"
    await tab_to(page, 'document.activeElement.id === "report-next"')
    await page.keyboard.press("Enter")
    await page.wait_for_selector('body[data-report-week="2026-W48"]', timeout=5_000)
    assert await page.evaluate("document.activeElement.id") == "report-previous"
    assert page.console.errors == []  # type: ignore[attr-defined]


async def test_the_report_fits_a_phone_width_screen(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """At 390 px wide nothing runs off the side; a screenshot."""
    await two_weeks_studied(dashboard, clock)

    page = await open_page(browser, dashboard, "report", viewport={"width": 390, "height": 844})

    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "report-phone.png"), full_page=True)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390


async def test_the_printed_report_leaves_out_navigation_and_controls(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """In print media the header, its pages and the week picker are hidden, the table is not."""
    await two_weeks_studied(dashboard, clock)
    page = await open_page(browser, dashboard, "report")
    assert await page.is_visible("nav")

    await page.emulate_media(media="print")

    assert await page.is_hidden("nav")
    assert await page.is_hidden("#pause-toggle")
    assert await page.is_hidden("#report-previous")
    assert await page.is_visible('#report-topics tr[data-topic="Math"]')
    await page.pdf(path=str(SHOTS / "report.pdf"))


async def test_a_phones_browser_is_told_the_report_is_the_owners(
    browser: Browser, dashboard: AppClient, settings: Any
) -> None:
    """A browser paired as a phone sees why there is no report, and no error."""
    from tests.support import pair_device

    token = pair_device(settings, "tablet browser")
    page = await browser.new_page()
    page.console = Console(page)  # type: ignore[attr-defined]
    await page.goto(str(dashboard.make_url(f"/?token={token}#report")))
    await page.wait_for_selector('body[data-loaded="report"]', timeout=10_000)

    assert await page.is_visible("#report-owner-only")
    assert await page.is_hidden("#report-body")
    assert page.console.errors == []  # type: ignore[attr-defined]


# --- the Review page ----------------------------------------------------------------------------

#: Chromium's own console line for a request answered with an error status or not answered:
#: the failing-grade tests make those on purpose; the page itself must log nothing.
FAILED_LOAD = "Failed to load resource"


class Requests:
    """The review API requests a tab made, in order."""

    def __init__(self, page: Page) -> None:
        self.made: list[tuple[str, str, str | None]] = []
        page.on("request", self._seen)

    def _seen(self, request: Request) -> None:
        path = urlsplit(request.url).path
        if path.startswith("/api/review/"):
            self.made.append((request.method, path, request.post_data))

    @property
    def due_reads(self) -> int:
        """GETs of the due queue."""
        return sum(1 for method, path, _ in self.made if (method, path) == ("GET", DUE))

    @property
    def grades(self) -> list[tuple[str, str]]:
        """Each grade posted: the card's id and the rating."""
        return [
            (path.split("/")[3], json.loads(body or "{}")["rating"])
            for method, path, body in self.made
            if method == "POST"
        ]


DUE = "/api/review/due"


async def cards_due(
    dashboard: AppClient,
    clock: FakeClock,
    cards: list[tuple[CardKind, str, str]],
    topic: str = "Biology",
    subtopic: str | None = "Cell division",
) -> list[str]:
    """Cards (kind, question, answer) of an ended session, due a minute apart in this order."""
    from tests.edge.memory.conftest import MITOSIS, PageSpec, add_session

    def insert(db: Any) -> list[str]:
        session_id, [event] = add_session(db, [PageSpec(MITOSIS, topic, subtopic)])
        made = []
        for n, (kind, question, answer) in enumerate(cards):
            at = clock.now() - timedelta(minutes=len(cards) - n)
            draft = CardDraft(event, topic, subtopic, kind, question, answer)
            with transaction(db):
                card_id = records.insert_card(db, session_id, draft, "test", at)
            assert card_id is not None
            made.append(card_id)
        return made

    return await services_of(dashboard).store.run(insert)


def questions(n: int) -> list[tuple[CardKind, str, str]]:
    """`n` question-and-answer cards."""
    return [("qa", f"Question {i}?", f"Answer {i}") for i in range(n)]


async def stored_card(dashboard: AppClient, card_id: str) -> Any:
    """A card as the database holds it, None once deleted."""
    return await services_of(dashboard).store.run(lambda db: records.get_card(db, card_id))


async def review_logs(dashboard: AppClient) -> list[str]:
    """The card of each review-log row."""
    rows = await services_of(dashboard).store.run(
        lambda db: db.execute("SELECT card_id FROM review_logs ORDER BY reviewed_at").fetchall()
    )
    return [row["card_id"] for row in rows]


async def open_review(browser: Browser, dashboard: AppClient, **kw: Any) -> tuple[Page, Requests]:
    """The Review page in a new tab, with its review requests counted from the start."""
    page = await browser.new_page(**kw)
    page.console = Console(page)  # type: ignore[attr-defined]
    made = Requests(page)
    await page.goto(str(dashboard.make_url("/#review")))
    await page.wait_for_selector('body[data-loaded="review"]', timeout=10_000)
    return page, made


async def on_show(page: Page, card_id: str) -> None:
    """Wait until this card is the one shown."""
    await page.wait_for_selector(f'body[data-review-card="{card_id}"]', timeout=5_000)


async def focused(page: Page) -> str:
    """The focused element: its id, else its rating, else its tag."""
    return str(
        await page.evaluate("(e => e.id || e.dataset.rating || e.tagName)(document.activeElement)")
    )


async def test_the_review_page_shows_the_count_and_the_first_card_after_one_read(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """Due count, today's progress, topic and question of the soonest card; the answer hidden."""
    mitosis: list[tuple[CardKind, str, str]] = [
        ("qa", "What does mitosis make?", "Two identical nuclei")
    ]
    first, _, _ = await cards_due(dashboard, clock, mitosis + questions(2))

    page, made = await open_review(browser, dashboard)

    await on_show(page, first)
    assert await page.inner_text("#review-due") == "3"
    assert await page.inner_text("#review-done") == "0"
    assert await page.inner_text("#review-topic") == "Biology · Cell division"
    assert await page.inner_text("#review-question") == "What does mitosis make?"
    assert await page.is_hidden("#review-answer-box")
    assert await page.is_hidden("#review-grades")
    assert await page.is_visible("#review-reveal")
    assert made.made == [("GET", DUE, None)]  # the page asked once, and for nothing else
    assert await page.evaluate("typeof Chart") == "undefined"  # no chart library to run first
    assert page.console.errors == []  # type: ignore[attr-defined]


async def test_a_cloze_shows_its_blank_and_the_answer_fills_it(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """The blank is drawn (and named for screen readers); revealed, the term stands in it."""
    [card] = await cards_due(
        dashboard, clock, [("cloze", "Mitosis is the division of a _____.", "nucleus")]
    )
    page, _ = await open_review(browser, dashboard)
    await on_show(page, card)
    blank = "#review-question .blank"
    assert await page.inner_text(blank) == "blank"
    assert await page.is_visible(blank)

    await page.click("#review-reveal")

    assert await page.inner_text(f"{blank}.filled") == "nucleus"
    assert await page.inner_text("#review-question") == "Mitosis is the division of a nucleus."
    assert await page.inner_text("#review-answer") == "nucleus"
    assert await page.is_visible('#review-grades [data-rating="again"]')


async def test_live_frames_and_sessions_leave_an_open_review_alone(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """A frame or session event refreshes the other pages; the card being answered stays."""
    [card, _] = await cards_due(dashboard, clock, questions(2))
    page = await browser.new_page()
    page.console = Console(page)  # type: ignore[attr-defined]
    made = Requests(page)
    await page.clock.install()  # timers run when the test says: a refresh would be due in 250 ms
    await page.goto(str(dashboard.make_url("/#review")))
    await page.wait_for_selector('body[data-loaded="review"]', timeout=10_000)
    await page.wait_for_selector("#live.on", timeout=5_000)
    await on_show(page, card)
    await page.click("#review-reveal")
    events = services_of(dashboard).events

    events.publish("frame", {"sessionId": "s", "analysisId": "a"})
    events.publish("session", {"sessionId": "s", "change": "started"})
    # Events come in order on one stream: once the pause shows, both were handled.
    events.publish("pause", {"paused": True, "since": None, "endsAt": None})
    await page.wait_for_selector('body[data-paused="yes"]', timeout=5_000)
    await page.clock.run_for(5_000)  # any refresh they scheduled has run now
    events.publish("pause", {"paused": False, "since": None, "endsAt": None})
    await page.wait_for_selector('body[data-paused="no"]', timeout=5_000)

    assert made.due_reads == 1
    assert await page.is_visible("#review-answer-box")
    assert await page.inner_text("#review-answer") == "Answer 0"
    assert page.console.errors == []  # type: ignore[attr-defined]


async def test_reviewing_by_keyboard_alone(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """Review, Enter, then keys only: one POST per grade, one GET in all, every due moved.

    Space on Reveal, 3; Enter on Reveal, the four grades by Tab, 1; Space anywhere, 4.
    """
    ids = await cards_due(dashboard, clock, questions(3))
    before = [(await stored_card(dashboard, card_id)).due for card_id in ids]
    page = await open_page(browser, dashboard, "today")
    made = Requests(page)
    await tab_to(page, 'document.activeElement.dataset.page === "review"')
    await page.keyboard.press("Enter")
    await on_show(page, ids[0])

    await tab_to(page, 'document.activeElement.id === "review-reveal"')
    await page.keyboard.press("Space")
    await page.wait_for_selector("#review-answer-box", state="visible", timeout=5_000)
    assert await focused(page) == "good"  # not lost with the hidden Reveal button
    await page.keyboard.press("3")

    await on_show(page, ids[1])
    assert await focused(page) == "review-reveal"
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#review-answer-box", state="visible", timeout=5_000)
    await page.keyboard.press("Shift+Tab")
    assert await focused(page) == "hard"
    await page.keyboard.press("Shift+Tab")
    assert await focused(page) == "again"
    for rating in ("hard", "good", "easy"):
        await page.keyboard.press("Tab")
        assert await focused(page) == rating
    await page.keyboard.press("1")

    await on_show(page, ids[2])
    await page.evaluate("document.activeElement.blur()")
    await page.keyboard.press("Space")  # focus on no control: the page's own key
    await page.wait_for_selector("#review-answer-box", state="visible", timeout=5_000)
    await page.keyboard.press("4")

    await page.wait_for_selector("#review-empty", state="visible", timeout=5_000)
    assert made.grades == [(ids[0], "good"), (ids[1], "again"), (ids[2], "easy")]
    assert made.due_reads == 1  # the queue held all three: no read between grades
    assert await review_logs(dashboard) == ids
    for card_id, due in zip(ids, before, strict=True):
        assert (await stored_card(dashboard, card_id)).due > due
    assert await page.inner_text("#review-done") == "3"
    assert await page.inner_text("#review-due") == "0"
    assert page.console.errors == []  # type: ignore[attr-defined]


async def test_a_key_pressed_twice_grades_once(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """A second 3 while the first grade is on its way posts nothing more."""
    ids = await cards_due(dashboard, clock, questions(2))
    page, made = await open_review(browser, dashboard)
    await on_show(page, ids[0])
    await page.keyboard.press("Space")
    await page.wait_for_selector("#review-answer-box", state="visible", timeout=5_000)

    await page.keyboard.press("3")
    await page.keyboard.press("3")

    await on_show(page, ids[1])
    assert await page.is_hidden("#review-answer-box")  # the next card waits for its reveal
    await page.keyboard.press("Space")
    await page.keyboard.press("2")
    await page.wait_for_selector("#review-empty", state="visible", timeout=5_000)
    assert made.grades == [(ids[0], "good"), (ids[1], "hard")]
    assert await review_logs(dashboard) == ids


async def test_the_queue_is_read_again_only_when_it_runs_out(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """21 due, 20 a read: grading the twentieth card reads the rest; the 21st is shown."""
    ids = await cards_due(dashboard, clock, questions(21))
    page, made = await open_review(browser, dashboard)

    for n, card_id in enumerate(ids[:20]):
        await on_show(page, card_id)
        assert made.due_reads == 1
        assert await page.inner_text("#review-due") == str(21 - n)
        await page.keyboard.press("Space")
        await page.keyboard.press("3")

    await on_show(page, ids[20])
    assert made.due_reads == 2
    assert len(made.grades) == 20
    assert await page.inner_text("#review-done") == "20"
    assert page.console.errors == []  # type: ignore[attr-defined]


async def test_nothing_due_says_so_and_check_again_finds_new_cards(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """No cards: the empty state, no error; cards made meanwhile come with Check again."""
    page, made = await open_review(browser, dashboard)

    assert await page.is_visible("#review-empty")
    assert await page.inner_text("#review-empty-title") == "Nothing due"
    assert await page.is_hidden("#review-card")
    assert await page.is_hidden("#review-error")
    assert await page.inner_text("#review-due") == "0"

    [card] = await cards_due(dashboard, clock, questions(1))
    await tab_to(page, 'document.activeElement.id === "review-check"')
    await page.keyboard.press("Enter")

    await on_show(page, card)
    assert await focused(page) == "review-reveal"
    assert made.due_reads == 2
    assert page.console.errors == []  # type: ignore[attr-defined]


async def test_a_card_deleted_meanwhile_is_said_and_the_next_one_follows(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """Its grade answers 404: the page says why, shows the next card, and grading goes on."""
    ids = await cards_due(dashboard, clock, questions(2))
    page, made = await open_review(browser, dashboard)
    await on_show(page, ids[0])
    await services_of(dashboard).review.delete(ids[0])
    await page.keyboard.press("Space")

    await page.keyboard.press("3")

    await on_show(page, ids[1])
    error = await page.inner_text("#review-error")
    assert "deleted" in error
    assert await page.get_attribute("#review-error", "role") == "alert"
    await page.keyboard.press("Space")
    await page.keyboard.press("3")
    await page.wait_for_selector("#review-empty", state="visible", timeout=5_000)
    assert await page.is_hidden("#review-error")  # a grade that worked clears the old news
    assert made.grades == [(ids[0], "good"), (ids[1], "good")]
    assert await review_logs(dashboard) == [ids[1]]
    errors = page.console.errors  # type: ignore[attr-defined]
    assert [e for e in errors if not e.startswith(FAILED_LOAD)] == []


async def test_a_grade_that_fails_keeps_the_card_for_a_retry(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """The daemon unreachable for one grade: the card and its answer stay; 3 again saves it."""
    ids = await cards_due(dashboard, clock, questions(2))
    page, made = await open_review(browser, dashboard)
    failures = 0

    async def fail_once(route: Route) -> None:
        nonlocal failures
        if failures == 0:
            failures += 1
            await route.abort("connectionrefused")
        else:
            await route.continue_()

    await page.route("**/api/review/*/grade", fail_once)
    await on_show(page, ids[0])
    await page.keyboard.press("Space")

    await page.keyboard.press("3")

    await page.wait_for_selector("#review-error", state="visible", timeout=5_000)
    assert "not saved" in await page.inner_text("#review-error")
    assert await page.evaluate("document.body.dataset.reviewCard") == ids[0]
    assert await page.is_visible("#review-grades")
    assert await review_logs(dashboard) == []

    await page.keyboard.press("3")

    await on_show(page, ids[1])
    assert await page.is_hidden("#review-error")
    assert made.grades == [(ids[0], "good"), (ids[0], "good")]
    assert await review_logs(dashboard) == [ids[0]]
    errors = page.console.errors  # type: ignore[attr-defined]
    assert [e for e in errors if not e.startswith(FAILED_LOAD)] == []


async def test_the_review_page_fits_a_phone_width_screen(
    browser: Browser, dashboard: AppClient, clock: FakeClock
) -> None:
    """At 390 px wide a long cloze and the four grade buttons stay on the page; screenshots."""
    long = "Pneumonoultramicroscopicsilicovolcanoconiosis, one word; " * 2 + "the _____ holds them."
    [card] = await cards_due(dashboard, clock, [("cloze", long, "nucleus")])
    phone = {"width": 390, "height": 844}

    page, _ = await open_review(browser, dashboard, viewport=phone)
    await on_show(page, card)
    await page.keyboard.press("Space")
    await page.wait_for_selector("#review-grades", state="visible", timeout=5_000)

    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "review-phone.png"), full_page=True)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    for rating in ("again", "hard", "good", "easy"):
        box = await page.locator(f'#review-grades [data-rating="{rating}"]').bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 390


async def test_a_phones_browser_is_told_reviewing_is_the_owners(
    browser: Browser, dashboard: AppClient, clock: FakeClock, settings: Any
) -> None:
    """A browser paired as a phone sees why there are no cards, asks for none, logs no error."""
    from tests.support import pair_device

    await cards_due(dashboard, clock, questions(1))
    token = pair_device(settings, "tablet browser")
    page = await browser.new_page()
    page.console = Console(page)  # type: ignore[attr-defined]
    made = Requests(page)
    await page.goto(str(dashboard.make_url(f"/?token={token}#review")))
    await page.wait_for_selector('body[data-loaded="review"]', timeout=10_000)

    assert await page.is_visible("#review-owner-only")
    assert await page.is_hidden("#review-card")
    assert await page.is_hidden("#review-empty")
    assert made.made == []
    assert page.console.errors == []  # type: ignore[attr-defined]
