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

import pytest
from aiohttp import ClientSession
from playwright.async_api import Browser, Page, async_playwright
from pydantic import SecretStr

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
PAGES = ("today", "history", "frames", "devices", "privacy", "report")


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

    page = await open_page(browser, dashboard, "privacy", locale="en-US")

    assert await shown_count(page, "sessions") == "1"
    assert await shown_count(page, "learningEvents") == "3"
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
